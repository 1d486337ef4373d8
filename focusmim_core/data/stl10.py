"""STL-10 from its official binary files, memory-mapped (no per-image Python objects).

Files (in ``stl10_binary/``): ``{train,test,unlabeled}_X.bin`` hold uint8 images, each
3 x 96 x 96 in column-major order; ``{train,test}_y.bin`` hold uint8 labels 1..10.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..geometry import IMAGE_SIZE

IMAGE_SHAPE = (3, IMAGE_SIZE, IMAGE_SIZE)  # the paper's image size is STL-10's
IMAGE_BYTES = int(np.prod(IMAGE_SHAPE))
SPLITS = {"train": 5000, "test": 8000, "unlabeled": 100000}
CLASS_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
ARCHIVE_URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
HOW_TO_GET = (
    "Download it with `python -m train.download_stl10 DIR` (needs internet, 2.6 GB), or fetch "
    f"{ARCHIVE_URL} yourself and extract it so that DIR/stl10_binary/train_X.bin exists."
)


def find_stl10(root: str | os.PathLike) -> Path:
    """The folder holding the ``*_X.bin`` files: ``root`` itself or ``root/stl10_binary``."""
    root = Path(root).expanduser()
    for candidate in (root, root / "stl10_binary"):
        if any((candidate / f"{split}_X.bin").is_file() for split in SPLITS):
            return candidate
    if not root.exists():
        raise DatasetError(f"The STL-10 folder {root} does not exist. {HOW_TO_GET}")
    raise DatasetError(f"No STL-10 files (train_X.bin, test_X.bin, unlabeled_X.bin) in {root}. {HOW_TO_GET}")


class STL10:
    """One split of STL-10, memory-mapped: ``len``, ``images(idx)``, ``labels``, ``uint8(device)``.

    Raises ``DatasetError`` naming the missing or truncated file. Partial files with a
    whole number of images are accepted (small test files; the first N images).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train"):
        if split not in SPLITS:
            raise DatasetError(f"Unknown STL-10 split {split!r}: use one of {', '.join(SPLITS)}.")
        self.folder = find_stl10(root)
        self.split = split
        images_path = self.folder / f"{split}_X.bin"
        if not images_path.is_file():
            raise DatasetError(f"STL-10 split '{split}' is missing: {images_path} not found. {HOW_TO_GET}")
        size = images_path.stat().st_size
        if size == 0 or size % IMAGE_BYTES:
            raise DatasetError(
                f"{images_path} is truncated: {size:,} bytes is not a whole number of 96 x 96 x 3 images "
                f"({IMAGE_BYTES:,} bytes each). Download or extract it again."
            )
        count = size // IMAGE_BYTES
        self._raw = np.memmap(images_path, dtype=np.uint8, mode="r", shape=(count, *IMAGE_SHAPE))
        self.labels: torch.Tensor | None = None
        if split != "unlabeled":
            labels_path = self.folder / f"{split}_y.bin"
            if not labels_path.is_file():
                raise DatasetError(f"STL-10 labels for '{split}' are missing: {labels_path} not found. {HOW_TO_GET}")
            labels = np.fromfile(labels_path, dtype=np.uint8)
            if labels.size != count:
                raise DatasetError(
                    f"{labels_path} holds {labels.size:,} labels for {count:,} images in {images_path.name}: "
                    "one of the two files is truncated. Download or extract them again."
                )
            if labels.size and (labels.min() < 1 or labels.max() > 10):
                raise DatasetError(f"{labels_path} has labels outside 1..10: it is not an STL-10 label file.")
            self.labels = torch.from_numpy(labels.astype(np.int64) - 1)

    def __len__(self) -> int:
        return self._raw.shape[0]

    def uint8(
        self, indices: Sequence[int] | np.ndarray | None = None, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Images as uint8 ``(n, 3, 96, 96)`` (row-major, x = column) on ``device``."""
        raw = self._raw if indices is None else self._raw[np.asarray(indices)]
        array = np.ascontiguousarray(np.asarray(raw).transpose(0, 1, 3, 2))
        return torch.from_numpy(array).to(device)

    def images(
        self, indices: Sequence[int] | np.ndarray | None = None, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Images as float ``(n, 3, 96, 96)`` in [0, 1]."""
        return self.uint8(indices, device).float().div_(255)

    def class_name(self, label: int) -> str:
        """Name of a 0-based class label."""
        return CLASS_NAMES[label]


def write_stl10_split(
    folder: str | os.PathLike, split: str, images: torch.Tensor, labels: torch.Tensor | None = None
) -> Path:
    """Write uint8 images ``(n, 3, 96, 96)`` (and 0-based labels) in the official binary format."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    array = images.to(torch.uint8).cpu().numpy().transpose(0, 1, 3, 2)
    (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(array).tobytes())
    if labels is not None:
        (folder / f"{split}_y.bin").write_bytes((labels.cpu().numpy() + 1).astype(np.uint8).tobytes())
    return folder


def download_stl10(root: str | os.PathLike) -> Path:
    """Download and extract STL-10 into ``root/stl10_binary`` (2.6 GB; needs internet).

    Uses torchvision's downloader (checks the archive's md5). Raises ``DatasetError`` with
    instructions when the machine is offline.
    """
    from torchvision.datasets import STL10 as TorchvisionSTL10

    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    try:
        TorchvisionSTL10(str(root), split="train", download=True)
    except (OSError, RuntimeError) as error:
        raise DatasetError(
            f"Could not download STL-10 into {root} ({str(error)[:200]}). This machine may be offline: "
            f"fetch {ARCHIVE_URL} elsewhere and extract it so that {root}/stl10_binary/train_X.bin exists."
        ) from None
    return find_stl10(root)
