"""Fixation points: validation, distance maps and sampling policies.

A fixation is a pixel position ``(x, y)`` with ``x`` the column and ``y`` the row.
Batched functions take points as ``(N, K, 2)`` float tensors: ``K`` points per image
(the fixation, a covert-attention point, the fixations of a scanpath so far).
Images with fewer points repeat one of theirs; a repeated point changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import InputError

PointsLike = torch.Tensor | Sequence[float] | Sequence[Sequence[float]] | None


def center_fixation(height: int, width: int) -> tuple[int, int]:
    """The paper's fixation, ``(x, y) = (W // 2, H // 2)``: pixel (48, 48) for 96 x 96."""
    return width // 2, height // 2


def as_points(
    points: PointsLike,
    batch: int,
    height: int,
    width: int,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Points as a float ``(N, K, 2)`` tensor of whole pixels (x, y); ``None`` is the centre.

    Non-integer positions are rounded to the nearest pixel. Accepts ``(x, y)``, ``(N, 2)``
    (one point per image), ``(N, K, 2)``, or ``(K, 2)`` broadcast to every image. Raises
    ``InputError`` for a point outside the image.
    """
    if points is None:
        x, y = center_fixation(height, width)
        return torch.tensor([[[x, y]]], dtype=torch.float32, device=device).expand(batch, 1, 2)
    tensor = torch.as_tensor(points, dtype=torch.float32, device=device).round()
    if tensor.ndim == 1:
        tensor = tensor.view(1, 1, 2) if tensor.numel() == 2 else tensor
    elif tensor.ndim == 2:
        tensor = tensor.unsqueeze(1) if tensor.shape[0] == batch else tensor.unsqueeze(0)
    if tensor.ndim != 3 or tensor.shape[-1] != 2 or tensor.shape[0] not in (1, batch):
        raise InputError(
            f"Fixations must be (x, y) pairs: one pair, (N, 2) or (N, K, 2) for N = {batch} "
            f"images; got shape {tuple(tensor.shape)}."
        )
    if tensor.numel() and not bool(
        (
            (tensor[..., 0] >= 0)
            & (tensor[..., 0] <= width - 1)
            & (tensor[..., 1] >= 0)
            & (tensor[..., 1] <= height - 1)
        ).all()
    ):
        bad = tensor.reshape(-1, 2)
        raise InputError(
            f"A fixation lies outside the {width} x {height} image (x must be in 0..{width - 1}, "
            f"y in 0..{height - 1}); got x in [{bad[:, 0].min():.0f}, {bad[:, 0].max():.0f}], "
            f"y in [{bad[:, 1].min():.0f}, {bad[:, 1].max():.0f}]. Click inside the image."
        )
    return tensor.expand(batch, tensor.shape[1], 2)


def join_points(*point_sets: torch.Tensor | None) -> torch.Tensor:
    """Concatenate ``(N, K_i, 2)`` point sets along K, skipping ``None``."""
    return torch.cat([p for p in point_sets if p is not None], dim=1)


def squared_distance(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Squared pixel distance to the nearest point: ``(N, K, 2)`` -> float ``(N, 1, H, W)``.

    Exact (whole numbers) for the whole-pixel points that ``as_points`` returns.
    """
    cols = torch.arange(width, dtype=points.dtype, device=points.device)
    rows = torch.arange(height, dtype=points.dtype, device=points.device)
    dx2 = (cols.view(1, 1, width) - points[..., 0:1]) ** 2  # (N, K, W)
    dy2 = (rows.view(1, 1, height) - points[..., 1:2]) ** 2  # (N, K, H)
    dist = dy2.unsqueeze(-1) + dx2.unsqueeze(-2)  # (N, K, H, W)
    return dist if points.shape[1] == 1 else dist.amin(dim=1, keepdim=True)


def sample_fixations(
    policy: str,
    batch: int,
    height: int,
    width: int,
    foreground: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Where the eye looks each time an image is shown: ``(N, 2)`` integer-valued (x, y).

    ``center``: the paper's fixed centre. ``uniform``: any pixel, uniformly.
    ``foreground``: a pixel drawn with probability proportional to the foreground
    confidence ``(N, 1, H, W)`` (uniform for an image with no foreground at all).
    """
    if policy == "center":
        return as_points(None, batch, height, width, device)[:, 0].clone()
    if policy == "uniform":
        flat = torch.randint(0, height * width, (batch,), generator=generator, device=device)
    elif policy == "foreground":
        if foreground is None:
            raise InputError("Fixation policy 'foreground' needs foreground maps: give a segmentation.")
        weights = foreground.reshape(batch, -1).float()
        weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, torch.ones_like(weights))
        flat = torch.multinomial(weights, 1, generator=generator).squeeze(1)
    else:
        raise InputError(f"Unknown fixation policy {policy!r}: use center, uniform or foreground.")
    rows = torch.div(flat, width, rounding_mode="floor")
    return torch.stack([flat - rows * width, rows], dim=1).float()
