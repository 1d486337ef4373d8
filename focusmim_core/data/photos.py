"""Crops of real photos for offline pretraining: natural image statistics without STL-10.

The sources (``PHOTO_SOURCES``) are every photo that ships inside a package the project
installs and is *not* in the gallery (the gallery measures generalisation, so it stays out
of training): scikit-image's textures, micrographs and photos, scikit-learn's two sample
photos, matplotlib's portrait of Grace Hopper and Gradio's animal and tower photos. Each crop is
a 96 x 96 window of one source resized to one of several scales, drawn deterministically
from a seed, so a split is reproducible and needs no disk.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..geometry import IMAGE_SIZE
from .gallery import GALLERY, _load


@dataclass(frozen=True)
class PhotoSource:
    """One photo that ships inside an installable package: where it is, its licence, its sampling weight."""

    name: str
    package: str  # skimage | sklearn | matplotlib | gradio
    item: str  # skimage.data function, or file name inside the package's sample-data folder (gradio: its package)
    licence: str
    weight: float = 1.0  # relative share of the crops (natural photos count double)

    def load(self) -> np.ndarray:
        """The photo as float ``(h, w, 3)`` in [0, 1]."""
        if self.package == "skimage":
            return _load(self.item)
        if self.package == "sklearn":
            from sklearn.datasets import load_sample_image

            array = load_sample_image(self.item)
        elif self.package == "gradio":
            with Image.open(package_folder("gradio") / self.item) as image:
                array = np.asarray(image.convert("RGB"))
        else:
            from matplotlib.cbook import get_sample_data

            with Image.open(get_sample_data(self.item, asfileobj=False)) as image:
                array = np.asarray(image.convert("RGB"))
        return np.asarray(array, dtype=np.float64) / 255.0


def package_folder(name: str) -> Path:
    """An installed package's folder, found without importing it (importing Gradio takes seconds)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed: `make setup` installs it.")
    return Path(next(iter(spec.submodule_search_locations)))


SKIMAGE_LICENCE = "scikit-image data: public domain / CC0 or as listed in skimage/data/README.txt"
GRADIO_LICENCE = "shipped in Gradio's wheel (Apache-2.0); Gradio names no photographer or licence for it"
PHOTO_SOURCES = tuple(  # none of them is in the gallery (checked below and by a test)
    [
        PhotoSource(name, "skimage", name, SKIMAGE_LICENCE)
        for name in (
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
    ]
    + [
        PhotoSource("china", "sklearn", "china.jpg", "CC BY 2.0, danielbuechele (Flickr), via scikit-learn", 2.0),
        PhotoSource("flower", "sklearn", "flower.jpg", "CC BY 2.0, vultilion (Flickr), via scikit-learn", 2.0),
        PhotoSource("grace_hopper", "matplotlib", "grace_hopper.jpg", "public domain (US Navy), via matplotlib", 2.0),
    ]
    + [  # Gradio's demo photos (not groot.jpeg, a film still); Gradio documents no source or licence for them
        PhotoSource(name, "gradio", item, GRADIO_LICENCE, 2.0)
        for name, item in (
            ("cheetah", "media_assets/images/cheetah.jpg"),
            ("cheetah1", "media_assets/images/cheetah1.jpg"),
            ("cheetah2", "test_data/cheetah2.jpg"),
            ("lion", "media_assets/images/lion.jpg"),
            ("tower", "media_assets/images/tower.jpg"),
        )
    ]
)
TRAINING_PHOTOS = tuple(source.name for source in PHOTO_SOURCES)
SHORT_SIDES = (96, 128, 176, 256, 384)  # each source is resized so its short side is one of these, then cropped
SPLIT_OFFSETS = {"train": 0, "val": 1_000_003, "test": 2_000_003, "pretrain": 3_000_017}

assert not {function for function, _, _ in GALLERY.values()} & {s.item for s in PHOTO_SOURCES if s.package == "skimage"}


@cache
def _levels(index: int) -> tuple[torch.Tensor, ...]:
    """Source ``PHOTO_SOURCES[index]`` as float ``(3, h, w)`` tensors at every short side in ``SHORT_SIDES``."""
    image = torch.from_numpy(PHOTO_SOURCES[index].load()).float().permute(2, 0, 1)  # (3, h, w) in [0, 1]
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
    weights = torch.tensor([source.weight for source in PHOTO_SOURCES], dtype=torch.float64)
    source = torch.multinomial(weights, count, replacement=True, generator=generator)
    level = torch.randint(0, len(SHORT_SIDES), (count,), generator=generator)
    corner = torch.rand((count, 2), generator=generator)
    flip = torch.rand(count, generator=generator) < 0.5
    out = torch.empty((count, 3, size, size), dtype=torch.uint8)
    offsets = torch.arange(size)
    for s in range(len(PHOTO_SOURCES)):  # one batched gather per (source, scale)
        if not bool((source == s).any()):
            continue  # a source no crop comes from is not loaded (a few crops need only a few photos)
        for k, image in enumerate(_levels(s)):
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
