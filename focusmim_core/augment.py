"""Random resized crops as batched tensor operations (the paper's only augmentation).

``crop_boxes`` draws torchvision's ``RandomResizedCrop.get_params`` for a whole batch at
once (ten attempts per sample, the central-crop fallback), and ``resized_crop`` applies
per-sample boxes with two batched matrix products: rows and columns are resampled by
per-sample bilinear interpolation matrices. The result equals
``torchvision.transforms.functional.resized_crop`` (bilinear) sample by sample, for images
and foreground maps alike.
"""

from __future__ import annotations

import math

import torch

CROP_SCALE = (0.08, 1.0)  # paper: RandomResizedCrop scale
CROP_RATIO = (3 / 4, 4 / 3)  # torchvision's default aspect ratios, as in the reference
ATTEMPTS = 10  # torchvision tries ten boxes before falling back to the central crop


def crop_boxes(
    count: int,
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = CROP_SCALE,
    ratio: tuple[float, float] = CROP_RATIO,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Random crop boxes ``(count, 4)`` int64 as (top, left, height, width), torchvision's distribution."""
    area = height * width
    shape = (count, ATTEMPTS)
    target_area = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(shape, generator=generator, device=device))
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(shape, generator=generator, device=device))
    box_w = torch.round(torch.sqrt(target_area * aspect)).long()
    box_h = torch.round(torch.sqrt(target_area / aspect)).long()
    valid = (box_w > 0) & (box_w <= width) & (box_h > 0) & (box_h <= height)
    first = valid.long().argmax(dim=1, keepdim=True)  # the first attempt that fits
    found = valid.any(dim=1)
    box_h = torch.where(found, box_h.gather(1, first).squeeze(1), _fallback_size(height, width, ratio)[0])
    box_w = torch.where(found, box_w.gather(1, first).squeeze(1), _fallback_size(height, width, ratio)[1])
    u_top, u_left = torch.rand((2, count), generator=generator, device=device)
    top = torch.where(found, (u_top * (height - box_h + 1)).long(), (height - box_h) // 2)
    left = torch.where(found, (u_left * (width - box_w + 1)).long(), (width - box_w) // 2)
    return torch.stack([top, left, box_h, box_w], dim=1)


def _fallback_size(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's central-crop size when no attempt fits."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return round(width / min(ratio)), width
    if in_ratio > max(ratio):
        return height, round(height * max(ratio))
    return height, width


def interpolation_matrix(start: torch.Tensor, length: torch.Tensor, source: int, size: int) -> torch.Tensor:
    """Bilinear resampling matrices ``(N, size, source)`` taking rows ``[start, start+length)`` to ``size`` rows.

    Uses ``align_corners=False`` sample positions clamped to the crop, exactly as
    ``torch.nn.functional.interpolate`` does on the cropped tensor.
    """
    start = start.to(torch.float32)[:, None]
    length = length.to(torch.float32)[:, None]
    out = torch.arange(size, device=start.device, dtype=torch.float32)[None, :]
    local = ((out + 0.5) * (length / size) - 0.5).clamp(min=0.0)
    low = torch.minimum(local.floor(), length - 1)
    weight_high = local - low
    high = torch.minimum(low + 1, length - 1)
    positions = torch.arange(source, device=start.device, dtype=torch.float32)
    low_abs, high_abs = (start + low)[..., None], (start + high)[..., None]
    return (positions == low_abs) * (1 - weight_high)[..., None] + (positions == high_abs) * weight_high[..., None]


def resized_crop(images: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Crop each image ``(N, C, H, W)`` to its box ``(N, 4)`` (top, left, height, width) and resize to ``size``.

    Bilinear, float output in the input's dtype (uint8 input gives float in [0, 255]).
    ``size`` defaults to the input size.
    """
    height, width = images.shape[-2:]
    out_h, out_w = size or (height, width)
    dtype = images.dtype if images.is_floating_point() else torch.float32
    rows = interpolation_matrix(boxes[:, 0], boxes[:, 2], height, out_h).to(dtype)
    cols = interpolation_matrix(boxes[:, 1], boxes[:, 3], width, out_w).to(dtype)
    return rows[:, None] @ images.to(dtype) @ cols.transpose(1, 2)[:, None]
