"""Crops of real photos for offline pretraining: natural image statistics without STL-10.

The sources are scikit-image's bundled photos and micrographs that are *not* in the
gallery (the gallery measures generalisation, so it stays out of training). Each crop is
a 96 x 96 window of one source resized to one of several scales, drawn deterministically
from a seed, so a split is reproducible and needs no disk.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F

from .gallery import GALLERY, _load
from .images import IMAGE_SIZE

# skimage.data functions used for training crops (none of them is in the gallery)
TRAINING_PHOTOS = (
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "moon",
    "page",
    "text",
    "cell",
    "clock",
    "microaneurysms",
)
SHORT_SIDES = (128, 176, 256)  # each source is resized so its short side is one of these, then cropped
SPLIT_OFFSETS = {"train": 0, "val": 1_000_003, "test": 2_000_003, "pretrain": 3_000_017}

assert not {function for function, _, _ in GALLERY.values()} & set(TRAINING_PHOTOS)


@cache
def _levels(name: str) -> tuple[torch.Tensor, ...]:
    """A source photo as float ``(3, h, w)`` tensors at every short side in ``SHORT_SIDES``."""
    image = torch.from_numpy(_load(name)).float().permute(2, 0, 1)  # (3, h, w) in [0, 1]
    height, width = image.shape[-2:]
    levels = []
    for side in SHORT_SIDES:
        scale = side / min(height, width)
        size = (max(IMAGE_SIZE, round(height * scale)), max(IMAGE_SIZE, round(width * scale)))
        levels.append(F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0].clamp(0, 1))
    return tuple(levels)


def photo_crops(count: int, split: str = "pretrain", seed: int = 0, size: int = IMAGE_SIZE) -> torch.Tensor:
    """``count`` random crops ``(count, 3, size, size)`` uint8 from the training photos, reproducible by seed."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLIT_OFFSETS)}")
    generator = torch.Generator().manual_seed(seed * 7_919 + SPLIT_OFFSETS[split])
    source = torch.randint(0, len(TRAINING_PHOTOS), (count,), generator=generator)
    level = torch.randint(0, len(SHORT_SIDES), (count,), generator=generator)
    corner = torch.rand((count, 2), generator=generator)
    flip = torch.rand(count, generator=generator) < 0.5
    out = torch.empty((count, 3, size, size), dtype=torch.uint8)
    offsets = torch.arange(size)
    for s, name in enumerate(TRAINING_PHOTOS):  # one batched gather per (source, scale)
        for k, image in enumerate(_levels(name)):
            chosen = torch.nonzero((source == s) & (level == k)).squeeze(1)
            if chosen.numel() == 0:
                continue
            height, width = image.shape[-2:]
            top = (corner[chosen, 0] * (height - size + 1)).long()
            left = (corner[chosen, 1] * (width - size + 1)).long()
            rows = (top[:, None] + offsets)[:, :, None]
            cols = (left[:, None] + offsets)[:, None, :]
            crops = image[:, rows, cols].permute(1, 0, 2, 3)  # (n, 3, size, size)
            crops = torch.where(flip[chosen, None, None, None], crops.flip(-1), crops)
            out[chosen] = (crops * 255).round().to(torch.uint8)
    return out
