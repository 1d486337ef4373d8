"""Where the explorer's images come from: gallery photos, procedural scenes, STL-10 on disk.

Each source resolves an id to an ``ImageItem``: a float image ``(3, 96, 96)`` in [0, 1],
a caption, and a known foreground map when the source has one (procedural scenes do;
photos and STL-10 get theirs from rembg in the app).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import CLASS_NAMES, STL10, SyntheticScenes, gallery_image
from ..errors import DatasetError

STL10_ENV = "FOCUSMIM_STL10"
DEFAULT_STL10 = Path(__file__).resolve().parents[2] / "data" / "stl10"  # git-ignored
SYNTHETIC_SPLIT = "test"


@dataclass
class ImageItem:
    """One image to explore: ``image`` ``(3, H, W)``, optional ``foreground`` ``(H, W)``, a caption."""

    image: torch.Tensor
    caption: str
    foreground: torch.Tensor | None = None
    label: str | None = None


def synthetic_item(index: int) -> ImageItem:
    """Procedural scene ``index`` of the test split, with its exact foreground (the object's alpha)."""
    scenes = SyntheticScenes(SYNTHETIC_SPLIT)
    images, alpha, labels = scenes.batch([int(index)])
    label = scenes.classes[int(labels[0])]
    return ImageItem(images[0], f"procedural scene {index} ({label})", alpha[0, 0], label)


def gallery_item(name: str) -> ImageItem:
    """A bundled photo by name."""
    return ImageItem(gallery_image(name), f"photo: {name}")


def stl10_folders() -> list[str]:
    """The STL-10 folders the operator configured: ``$FOCUSMIM_STL10`` (one or more, separated by
    ``os.pathsep``), then the project's ``data/stl10``. Visitors choose among these, never type a path."""
    configured = [part.strip() for part in os.environ.get(STL10_ENV, "").split(os.pathsep) if part.strip()]
    return list(dict.fromkeys([*configured, str(DEFAULT_STL10)]))


def stl10_root(choice: str | None = None) -> str:
    """The STL-10 folder to read: ``choice`` when it is one of ``stl10_folders()``, else the first of them."""
    folders = stl10_folders()
    return choice if choice in folders else folders[0]


def open_stl10(root: str | os.PathLike, split: str) -> STL10:
    """The memory-mapped split; raises ``DatasetError`` with instructions when missing or damaged."""
    return STL10(Path(root), split)


def stl10_item(dataset: STL10, index: int) -> ImageItem:
    """Image ``index`` of an opened STL-10 split; ``DatasetError`` when the index is out of range."""
    if not 0 <= index < len(dataset):
        raise DatasetError(f"STL-10 {dataset.split} has images 0..{len(dataset) - 1}; index {index} does not exist.")
    image = dataset.images([index])[0]
    label = None if dataset.labels is None else CLASS_NAMES[int(dataset.labels[index])]
    suffix = f" ({label})" if label else ""
    return ImageItem(image, f"STL-10 {dataset.split} #{index}{suffix}", None, label)


def stl10_class_indices(dataset: STL10, label: str) -> list[int]:
    """Indices of the images of one class (empty for the unlabeled split)."""
    if dataset.labels is None:
        return []
    return torch.nonzero(dataset.labels == CLASS_NAMES.index(label)).flatten().tolist()
