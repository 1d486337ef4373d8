"""Natural photos shipped inside scikit-image, as 96 x 96 images (no download needed).

These photos are for looking at, never for training: the demo checkpoints are trained
on procedural scenes, so the gallery measures how they generalise to real images.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from ..geometry import IMAGE_SIZE
from .images import square_crop_resize

# name -> (skimage.data function, centre of the crop as fractions (x, y), crop side as a fraction)
GALLERY: dict[str, tuple[str, tuple[float, float], float]] = {
    "cat (chelsea)": ("chelsea", (0.45, 0.5), 1.0),
    "coffee": ("coffee", (0.5, 0.5), 1.0),
    "astronaut": ("astronaut", (0.45, 0.35), 0.7),
    "rocket": ("rocket", (0.5, 0.45), 1.0),
    "motorcycle": ("stereo_motorcycle", (0.5, 0.55), 1.0),
    "horse": ("horse", (0.5, 0.5), 1.0),
    "coins": ("coins", (0.5, 0.5), 0.6),
    "camera man": ("camera", (0.45, 0.4), 0.8),
}


def _load(function: str) -> np.ndarray:
    import skimage.data

    loaded = getattr(skimage.data, function)()
    array = np.asarray(loaded[0] if isinstance(loaded, tuple) else loaded)  # stereo pairs: the left view
    if array.dtype == bool:
        array = np.where(array, 0, 255).astype(np.uint8)  # horse: True is the silhouette
    array = array.astype(np.float64) / (255.0 if array.max() > 1 else 1.0)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return array[..., :3]


@cache
def _gallery_tensor(name: str, size: int) -> torch.Tensor:
    function, (fx, fy), fraction = GALLERY[name]
    array = _load(function)
    height, width = array.shape[:2]
    side = int(min(height, width) * fraction)
    left = int(np.clip(fx * width - side / 2, 0, width - side))
    top = int(np.clip(fy * height - side / 2, 0, height - side))
    return square_crop_resize(array[top : top + side, left : left + side], size)


def gallery_image(name: str, size: int = IMAGE_SIZE) -> torch.Tensor:
    """One gallery photo as float ``(3, size, size)`` in [0, 1] (a copy)."""
    if name not in GALLERY:
        raise KeyError(f"unknown gallery image {name!r}: choose one of {', '.join(GALLERY)}")
    return _gallery_tensor(name, size).clone()


def gallery_images(size: int = IMAGE_SIZE) -> tuple[list[str], torch.Tensor]:
    """All gallery photos: their names and a float ``(N, 3, size, size)`` batch."""
    names = list(GALLERY)
    return names, torch.stack([_gallery_tensor(name, size) for name in names])
