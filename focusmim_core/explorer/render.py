"""Everything the explorer shows for an image: one call from settings to panels and metrics.

``render`` handles one image and one view; ``render_batch`` many views of one or more
images in a single forward pass (all modes side by side, a sweep of ratios, the glimpses
of a scanpath). Tensors in ``Panels`` are on the CPU, single images without batch axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ..fixations import as_points
from ..inpainting import harmonic_inpaint
from ..losses import error_map, per_sample_masked_mse
from ..masking import MODES, check_mode, mask_images, visible_pixels
from ..metrics import psnr
from ..model import model_device, reconstruct
from ..objectives.latent_mim import cell_similarity
from .viewstate import ViewState


@dataclass
class Panels:
    """The panels of one view: tensors ``(3, H, W)`` or ``(H, W)`` on the CPU, and scalar metrics.

    ``pasted`` is the reconstruction with the visible pixels pasted back from the input
    (the MAE demo's fourth panel). ``metrics``: ``masked_mse`` (over the loss mask), ``foreground_mse`` (loss mask times
    foreground confidence; ``None`` without a foreground map), ``psnr_hidden`` (dB over the
    loss mask), ``mse`` (whole image), ``hidden_fraction``.
    """

    settings: ViewState
    image: torch.Tensor
    masked_input: torch.Tensor
    reconstruction: torch.Tensor
    pasted: torch.Tensor
    loss_mask: torch.Tensor
    error_map: torch.Tensor
    weighted_error_map: torch.Tensor | None
    foreground: torch.Tensor | None
    latent: torch.Tensor
    metrics: dict[str, float | None] = field(default_factory=dict)
    latent_similarity: torch.Tensor | None = None  # (12, 12) for a latent-objective network, NaN off its targets


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def paste_visible(reconstruction: torch.Tensor, inputs: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """The reconstruction where the loss mask is 1, the network's input elsewhere: ``(N, 3, H, W)``.

    ``loss_mask`` ``(N, 1, H, W)`` in [0, 1] broadcasts over channels (a soft mask blends).
    """
    return torch.lerp(inputs, reconstruction, loss_mask.to(reconstruction.dtype))


@torch.no_grad()
def mask_views(
    images: torch.Tensor, views: Sequence[ViewState], fixations: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked inputs and loss masks for ``views[i]`` of ``images[i]``: ``(N, 3, H, W)``, ``(N, 1, H, W)``.

    Views with the same mode, fill and seed are masked together in one batched call.
    ``fixations`` ``(N, K, 2)`` overrides the views' fixations (several points per view).
    """
    n, _, height, width = images.shape
    inputs = torch.empty_like(images)
    loss_mask = torch.empty((n, 1, height, width), dtype=images.dtype, device=images.device)
    groups: dict[tuple, list[int]] = {}
    for i, view in enumerate(views):
        groups.setdefault((view.mode, view.fill, view.seed, view.antialias), []).append(i)
    for (mode, fill, seed, antialias), members in groups.items():
        index = torch.tensor(members, device=images.device)
        group_views = [views[i] for i in members]
        points = (
            fixations[index]
            if fixations is not None
            else torch.stack([as_points(v.fixation, 1, height, width, images.device)[0] for v in group_views])
        )
        spec = MODES[check_mode(mode).name]
        attention = None
        if spec.supports_attention and any(v.attention is not None for v in group_views):
            attention = torch.stack(
                [
                    as_points(v.attention if v.attention is not None else v.fixation, 1, height, width, images.device)[
                        0, 0
                    ]
                    for v in group_views
                ]
            )
        generator = torch.Generator(device=images.device).manual_seed(seed)
        group_inputs, group_mask = mask_images(
            images[index],
            mode,
            [v.ratio for v in group_views],
            points if spec.uses_fixation else None,
            fill=fill,
            attention=attention,
            generator=generator,
            antialias=antialias,
        )
        inputs[index], loss_mask[index] = group_inputs, group_mask
    return inputs, loss_mask


def _broadcast(
    images: torch.Tensor, foreground: torch.Tensor | None, n_views: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``images`` as ``(n_views, 3, H, W)`` and ``foreground`` as ``(n_views, 1, H, W)``, one image shared by all."""
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.shape[0] == 1 and n_views > 1:
        images = images.expand(n_views, *images.shape[1:])
    if foreground is not None:
        foreground = foreground.reshape(-1, 1, *images.shape[-2:])
        foreground = foreground.expand(n_views, *foreground.shape[1:]) if foreground.shape[0] == 1 else foreground
    return images.contiguous(), foreground


def _run_networks(
    networks: Mapping[str, nn.Module],
    views: Sequence[ViewState],
    images: torch.Tensor,
    inputs: torch.Tensor,
    loss_mask: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor | None], list[torch.Tensor | None]]:
    """Reconstructions ``(N, 3, H, W)``, latents and latent-similarity maps, one forward pass per network.

    A latent-objective network predicts no pixels: its "reconstruction" is its input, and
    its view gets a ``(12, 12)`` cosine map instead.
    """
    visible = visible_pixels(loss_mask, [view.mode for view in views])
    reconstruction = torch.empty_like(images)
    latents: list[torch.Tensor | None] = [None] * len(views)
    similarities: list[torch.Tensor | None] = [None] * len(views)
    by_network: dict[int, list[int]] = {}
    for i, view in enumerate(views):
        if view.mode not in networks:
            raise KeyError(f"no model given for mode {view.mode!r}")
        by_network.setdefault(id(networks[view.mode]), []).append(i)
    for members in by_network.values():
        network = networks[views[members[0]].mode]
        index, device = torch.tensor(members), model_device(network)
        if getattr(network, "objective", "pixel") == "latent":
            out, latent = inputs[index], network.encode(inputs[index].to(device)).detach()
            cosine = cell_similarity(network, *(t[index].to(device) for t in (inputs, visible, images, loss_mask)))
            for row, i in enumerate(members):
                similarities[i] = cosine[row].cpu()
        else:
            out, latent = reconstruct(network, inputs[index], visible[index])
        reconstruction[index] = out.to(images.device, images.dtype)
        for row, i in enumerate(members):
            latents[i] = latent[row].cpu()
    return reconstruction, latents, similarities


def _view_metrics(
    reconstruction: torch.Tensor, images: torch.Tensor, loss_mask: torch.Tensor, foreground: torch.Tensor | None
) -> list[dict[str, float | None]]:
    """``Panels.metrics`` of each view (``(N, 3, H, W)`` tensors, ``(N, 1, H, W)`` masks); ``None`` where not finite."""
    masked = per_sample_masked_mse(reconstruction, images, loss_mask)
    whole = per_sample_masked_mse(reconstruction, images, torch.ones_like(loss_mask))
    fg_mse = per_sample_masked_mse(reconstruction, images, loss_mask, foreground) if foreground is not None else None
    peak = psnr(reconstruction, images, loss_mask)
    return [
        {
            "masked_mse": _finite(float(masked[i])),
            "foreground_mse": _finite(float(fg_mse[i])) if fg_mse is not None else None,
            "psnr_hidden": _finite(float(peak[i])),
            "mse": float(whole[i]),
            "hidden_fraction": float(loss_mask[i].mean()),
        }
        for i in range(images.shape[0])
    ]


def _latent_metrics(metrics: dict[str, float | None], similarity: torch.Tensor) -> dict[str, float | None]:
    """A latent network's metrics: its pixel errors would be those of its input, so only the mean cosine."""
    finite = similarity[torch.isfinite(similarity)]
    return metrics | {
        "masked_mse": None, "foreground_mse": None, "psnr_hidden": None, "mse": None,
        "latent_similarity": float(finite.mean()) if finite.numel() else None,
    }  # fmt: skip


@torch.no_grad()
def render_batch(
    images: torch.Tensor,
    views: Sequence[ViewState],
    model: nn.Module | Mapping[str, nn.Module],
    foreground: torch.Tensor | None = None,
    fixations: torch.Tensor | None = None,
) -> list[Panels]:
    """Render ``views[i]`` of ``images[i]`` (``(N, 3, H, W)``, or one image for all views).

    ``model`` is one network, or a mapping from mode name to network (each mode its own
    checkpoint): views sharing a network run in one batched forward pass. ``foreground``
    ``(N or 1, 1, H, W)`` adds the foreground-weighted error. ``fixations`` ``(N, K, 2)``
    reveals several points per view (a scanpath).
    """
    images, foreground = _broadcast(images, foreground, len(views))
    inputs, loss_mask = mask_views(images, views, fixations)
    networks = model if isinstance(model, Mapping) else {v.mode: model for v in views}
    reconstruction, latents, similarities = _run_networks(networks, views, images, inputs, loss_mask)
    errors = error_map(reconstruction, images)
    pasted = paste_visible(reconstruction, inputs, loss_mask)
    weighted = errors * foreground if foreground is not None else None
    metrics = _view_metrics(reconstruction, images, loss_mask, foreground)
    return [
        Panels(
            settings=view,
            image=images[i].cpu(),
            masked_input=inputs[i].cpu(),
            reconstruction=reconstruction[i].cpu(),
            pasted=pasted[i].cpu(),
            loss_mask=loss_mask[i, 0].cpu(),
            error_map=errors[i, 0].cpu(),
            weighted_error_map=weighted[i, 0].cpu() if weighted is not None else None,
            foreground=foreground[i, 0].cpu() if foreground is not None else None,
            latent=latents[i],
            metrics=metrics[i] if similarities[i] is None else _latent_metrics(metrics[i], similarities[i]),
            latent_similarity=similarities[i],
        )
        for i, view in enumerate(views)
    ]


def harmonic_reference(panels: Panels) -> tuple[torch.Tensor, float | None] | None:
    """Harmonic inpainting of a view's masked input, ``(3, H, W)``, and its hidden-region PSNR in dB.

    The learning-free reference beside the reconstruction (``inpainting.harmonic_inpaint``):
    the visible pixels kept, every hidden one the average of its neighbours. ``None`` for a
    mode that hides nothing (no mask, the foveal filter); the PSNR is ``None`` if exact.
    """
    if not check_mode(panels.settings.mode).uses_fill:
        return None
    shown = 1.0 - panels.loss_mask[None, None]
    filled = harmonic_inpaint(panels.masked_input[None], shown)
    peak = float(psnr(filled, panels.image[None], panels.loss_mask[None, None])[0])
    return filled[0], _finite(peak)


def harmonic_caption(network_psnr: float | None, reference_psnr: float | None) -> str | None:
    """One Markdown sentence comparing the network's hidden-region PSNR with harmonic inpainting's (both dB)."""
    if network_psnr is None or reference_psnr is None:
        return None
    side = "above" if network_psnr >= reference_psnr else "below"
    return (f"Harmonic inpainting: {reference_psnr:.1f} dB on the hidden region; the network is "
            f"**{network_psnr - reference_psnr:+.1f} dB** {side} it.")  # fmt: skip


def render(
    image: torch.Tensor, view: ViewState, model: nn.Module, foreground: torch.Tensor | None = None
) -> Panels:
    """All panels of one view of one image ``(3, H, W)``; ``foreground`` ``(H, W)`` or ``(1, H, W)``."""
    return render_batch(image, [view], model, foreground)[0]


def render_modes(
    image: torch.Tensor,
    base: ViewState,
    model: nn.Module | Mapping[str, nn.Module],
    modes: Sequence[str] | None = None,
    foreground: torch.Tensor | None = None,
    ratios: Mapping[str, float] | None = None,
) -> list[Panels]:
    """The same image and fixation under every mode (each at ``ratios[mode]``, default its
    registered ratio), in one batched pass per network."""
    names = list(modes or MODES)
    views = [replace(base, mode=m, ratio=(ratios or {}).get(m, MODES[m].default_ratio)) for m in names]
    return render_batch(image, views, model, foreground)


def render_ratio_sweep(
    image: torch.Tensor,
    base: ViewState,
    model: nn.Module,
    ratios: Sequence[float],
    foreground: torch.Tensor | None = None,
) -> list[Panels]:
    """One view per masking ratio (same mode, fixation, fill, seed), in one forward pass."""
    return render_batch(image, [replace(base, ratio=float(r)) for r in ratios], model, foreground)
