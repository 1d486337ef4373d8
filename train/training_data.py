"""The pretraining split, loaded once onto the device as uint8 (images and foreground maps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from tqdm import tqdm

from focusmim_core.data import DATASETS, STL10, SyntheticScenes, image_files, load_image
from focusmim_core.data.photos import photo_crops
from focusmim_core.errors import DatasetError, InputError
from focusmim_core.geometry import IMAGE_SIZE

CHUNK = 4096  # images converted per step while loading


class DataSettings(Protocol):
    """The settings ``load_training_data`` reads (``PretrainConfig`` has them all)."""

    dataset: str
    input_path: str | None
    limit: int | None
    size: int
    seed: int
    segment_path: str | None
    remove_missing_segments: bool


@dataclass
class TrainingData:
    """This process's shard: ``images`` uint8 ``(N, 3, 96, 96)`` and ``foreground`` uint8 ``(N, 1, 96, 96)`` or None."""

    images: torch.Tensor
    foreground: torch.Tensor | None
    description: str


def synthetic_uint8(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Procedural scenes with their ground-truth foreground, uint8."""
    scenes = SyntheticScenes("pretrain", seed=seed, length=count)
    images = torch.empty((count, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)
    foreground = torch.empty((count, 1, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)
    for start in tqdm(range(0, count, CHUNK), desc="generating scenes", leave=False, disable=count <= CHUNK):
        stop = min(count, start + CHUNK)
        batch, alpha, _ = scenes.batch(range(start, stop))
        images[start:stop] = (batch * 255).round().to(torch.uint8)
        foreground[start:stop] = (alpha * 255).round().to(torch.uint8)
    return images, foreground


def _folder(path: Path, limit: int | None) -> torch.Tensor:
    """Every image file in a folder (``image_files``), as uint8 ``(N, 3, 96, 96)``; unreadable files are reported."""
    files = image_files(path)[:limit]
    images, skipped = [], []
    for file in tqdm(files, desc="reading images", leave=False):
        try:
            images.append((load_image(file) * 255).round().to(torch.uint8))
        except InputError as error:
            skipped.append(f"{file.name}: {error}")
    if skipped:
        print(f"Skipped {len(skipped)} unreadable files, e.g. {skipped[0]}", flush=True)
    if not images:
        raise DatasetError(f"None of the {len(files)} files in {path} could be read as an image.")
    return torch.stack(images)


def _stl10(path: str | None, limit: int | None) -> torch.Tensor:
    """The STL-10 ``unlabeled`` split as uint8, read in chunks from the memory map."""
    if path is None:
        raise DatasetError(f"--dataset stl10 needs --input-path: {DATASETS['stl10'].folder}.")
    split = STL10(path, "unlabeled")
    count = len(split) if limit is None else min(limit, len(split))
    images = torch.empty((count, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)
    for start in tqdm(range(0, count, CHUNK * 4), desc="reading STL-10", leave=False):
        stop = min(count, start + CHUNK * 4)
        images[start:stop] = split.uint8(range(start, stop))
    return images


def load_training_data(settings: DataSettings, device: torch.device, rank: int = 0, world: int = 1) -> TrainingData:
    """Load the split ``settings`` names, keep this process's shard (every ``world``-th image) on ``device``."""
    limit = settings.limit
    foreground = None
    if settings.dataset == "stl10":
        images = _stl10(settings.input_path, limit)
        description = "STL-10 unlabeled"
    elif settings.dataset == "folder":
        if settings.input_path is None:
            raise DatasetError(f"--dataset folder needs --input-path: {DATASETS['folder'].folder}.")
        images = _folder(Path(settings.input_path), limit)
        description = f"images in {Path(settings.input_path).name}"
    else:
        count = limit or settings.size
        if settings.dataset == "synthetic":
            images, foreground = synthetic_uint8(count, settings.seed)
            description = "procedural scenes"
        elif settings.dataset == "photos":
            images = photo_crops(count, "pretrain", settings.seed)
            description = "photo crops"
        else:  # mixed: half scenes, half photo crops (whole crop counted as foreground)
            scenes, scene_fg = synthetic_uint8(count - count // 2, settings.seed)
            crops = photo_crops(count // 2, "pretrain", settings.seed)
            images = torch.cat([scenes, crops])
            whole = torch.full((crops.shape[0], 1, IMAGE_SIZE, IMAGE_SIZE), 255, dtype=torch.uint8)
            foreground = torch.cat([scene_fg, whole])
            description = "procedural scenes + photo crops"
    if settings.segment_path is not None:
        from focusmim_core.segmentation_file import load_segmentation

        foreground, keep = load_segmentation(settings.segment_path, images.shape[0])
        if settings.remove_missing_segments:
            images, foreground = images[keep], foreground[keep]
            description += f", {int(keep.sum())} kept by the segmentation filter"
    count = images.shape[0] // world * world  # equal shards
    if count == 0:
        raise DatasetError(f"{images.shape[0]} images cannot be split over {world} processes.")
    shard = slice(rank, count, world)
    return TrainingData(
        images[shard].contiguous().to(device),
        None if foreground is None else foreground[shard].contiguous().to(device),
        f"{description} ({images.shape[0]} images)",
    )
