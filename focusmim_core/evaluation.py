"""How good a checkpoint's reconstructions are on held-out photos, against doing nothing.

One evaluation for every checkpoint, used by ``train.evaluate``, the shipped-checkpoint
table, the Checkpoints page and the app's demo notice: the 8 gallery photos (never
trained on) at 5 fixations each, every view masked as the checkpoint was trained
(random patches from a fixed seed), then PSNR (peak 1) of the pooled squared error over

- the *hidden* region (the loss mask) for the reconstruction and for the masked input
  itself (what the network was given: "doing nothing"), and their difference (the gain);
- the hidden region again for *harmonic inpainting* of the same views
  (``inpainting.harmonic_inpaint``: the smoothest fill through the visible pixels, no
  learning), for the modes that hide pixels: the bar a network must clear to be doing more
  than smoothing what it was shown;
- the *visible* region (the rest; none for the autoencoder);
- the whole image.

Pooled means one MSE over every pixel of the region in all 40 views, then one PSNR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .data import gallery_images
from .inpainting import harmonic_inpaint
from .masking import mask_images, visible_pixels
from .metrics import finite_or_none, psnr
from .model import reconstruct
from .objectives.latent_mim import cell_similarity

EVAL_FIXATIONS = ((48, 48), (30, 30), (66, 30), (30, 66), (66, 66))  # (x, y) pixels
EVAL_SEED = 0  # random patches of every view are drawn from this seed
METRICS_KEY = "gallery"  # where the report lives in a checkpoint's metadata metrics
# How closely a stored report is measured again from the same file on any machine: float16 weights and
# another CPU's kernels move a pooled PSNR by far less than REMEASURED_DB, a latent cosine than REMEASURED_COSINE.
REMEASURED_DB = 0.05
REMEASURED_COSINE = 5e-3


@dataclass(frozen=True)
class ReconstructionReport:
    """PSNRs in dB on the held-out gallery; ``None`` where a region is empty or the input is exact there."""

    psnr_hidden: float | None
    psnr_input_hidden: float | None
    gain: float | None
    psnr_visible: float | None
    psnr_whole: float
    views: int
    psnr_inpainted_hidden: float | None = None  # harmonic inpainting of the same views; None: nothing hidden

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain JSON-able values, rounded to 0.01 dB."""
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @property
    def gain_over_inpainting(self) -> float | None:
        """Hidden-region PSNR above harmonic inpainting of the same views, dB; None where either is missing."""
        if self.psnr_hidden is None or self.psnr_inpainted_hidden is None:
            return None
        return self.psnr_hidden - self.psnr_inpainted_hidden

    def summary(self) -> str:
        """One line for a notice: the gain over the input, or the whole-image PSNR for an autoencoder."""
        if self.gain is None:
            return f"{self.psnr_whole:.1f} dB PSNR on held-out photos"
        return f"{self.gain:+.1f} dB over its input on held-out photos"


def stored_report(metrics: object) -> ReconstructionReport | None:
    """The report stored in a checkpoint's ``metrics`` (under ``METRICS_KEY``); None when absent or malformed."""
    stored = metrics.get(METRICS_KEY) if isinstance(metrics, dict) else None
    if not isinstance(stored, dict):
        return None
    values = {}
    for name in ReconstructionReport.__dataclass_fields__:
        value = stored.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None
        values[name] = value
    if values["psnr_whole"] is None or values["views"] is None:
        return None
    return ReconstructionReport(**values)


def _pooled(reconstruction: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> float | None:
    """``metrics.psnr`` pooled over ``region`` ``(N, 1, H, W)``, in dB; None where it is empty or exact."""
    return finite_or_none(float(psnr(reconstruction, target, region, pooled=True)))


Fixations = Sequence[tuple[int, int]]  # (x, y) pixels


def gallery_masked(
    mode: str, ratio: float, fill: str, fixations: Fixations = EVAL_FIXATIONS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The report's views, masked: the photos ``(8 * F, 3, 96, 96)`` (photo-major, one view per fixation),
    the network's inputs (same shape) and the hidden region ``(8 * F, 1, 96, 96)``."""
    _, photos = gallery_images()
    images = photos.repeat_interleave(len(fixations), dim=0)
    points = torch.tensor(list(fixations) * photos.shape[0], dtype=torch.float32)  # (8 * F, 2)
    generator = torch.Generator(device=images.device).manual_seed(EVAL_SEED)
    inputs, hidden = mask_images(images, mode, ratio, points, fill=fill, generator=generator)
    return images, inputs, hidden


@torch.no_grad()
def evaluate_reconstruction(
    model: nn.Module, mode: str, ratio: float, fill: str = "mean", fixations: Fixations = EVAL_FIXATIONS
) -> ReconstructionReport:
    """The held-out reconstruction report of ``model`` under its own masking: 8 photos x ``fixations`` (the
    report's 5 by default; one fixation gives that fixation's row of ``train.evaluate --by-fixation``)."""
    images, inputs, hidden = gallery_masked(mode, ratio, fill, fixations)
    shown = visible_pixels(hidden, mode)
    output, _ = reconstruct(model, inputs, shown)
    output = output.float().to(images.device)
    inpainted = None if bool((shown > 0.5).all()) else _pooled(harmonic_inpaint(inputs, shown), images, hidden)
    visible = 1.0 - hidden
    recon_hidden, input_hidden = _pooled(output, images, hidden), _pooled(inputs, images, hidden)
    gain = None if recon_hidden is None or input_hidden is None else recon_hidden - input_hidden
    return ReconstructionReport(
        psnr_hidden=recon_hidden,
        psnr_input_hidden=input_hidden,
        gain=gain,
        psnr_visible=_pooled(output, images, visible),
        psnr_whole=float(psnr(output, images, pooled=True)),  # inf for an exact copy
        views=images.shape[0],
        psnr_inpainted_hidden=inpainted,
    )


LATENT_KEY = "gallery_latent"  # a latent-objective checkpoint's held-out measure in its metadata metrics


@torch.no_grad()
def evaluate_latent(model: nn.Module, mode: str, ratio: float, fill: str = "mean") -> float:
    """A latent-objective model's held-out measure: the mean cosine similarity of its predicted and target
    latents over the hidden cells of the same 8 photos x 5 fixations (1: perfect)."""
    images, inputs, hidden = gallery_masked(mode, ratio, fill)
    similarity = cell_similarity(model.eval(), inputs, visible_pixels(hidden, mode), images, hidden)
    return float(similarity[torch.isfinite(similarity)].mean())


def stored_latent(metrics: object) -> float | None:
    """The held-out latent cosine stored in a checkpoint's ``metrics`` (under ``LATENT_KEY``); None when absent."""
    stored = metrics.get(LATENT_KEY) if isinstance(metrics, dict) else None
    value = stored.get("latent_cosine") if isinstance(stored, dict) else None
    return float(value) if isinstance(value, int | float) else None
