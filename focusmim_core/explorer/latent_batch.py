"""Batches for latent statistics: which images, their latents (batched, no gradients), one table row."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..checkpoints import CheckpointInfo
from ..data import GALLERY, STL10, SyntheticScenes, gallery_images
from ..latent_analysis import latent_statistics
from ..model import model_device

SYNTHETIC_BATCH = 128
STL10_BATCH = 256
BATCH_SOURCES = {  # id -> label; the ids are the view's image sources
    "gallery": f"gallery photos ({len(GALLERY)})",
    "synthetic": f"procedural scenes ({SYNTHETIC_BATCH})",
    "stl10": f"STL-10 (first {STL10_BATCH} of the split)",
}


def batch_images(source: str, dataset: STL10 | None = None) -> torch.Tensor:
    """The images of a batch source (an id of ``BATCH_SOURCES``): ``(N, 3, 96, 96)`` in [0, 1]; STL-10 needs
    the opened ``dataset``."""
    if source == "gallery":
        return gallery_images()[1]
    if source == "synthetic":
        return SyntheticScenes("test").batch(range(SYNTHETIC_BATCH))[0]
    if source == "stl10" and dataset is not None:
        return dataset.images(list(range(min(STL10_BATCH, len(dataset)))))
    raise ValueError(f"unknown batch source {source!r} (or no STL-10 dataset given)")


@torch.no_grad()
def encode_batch(model: nn.Module, images: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Latents ``(N, 128, 12, 12)`` of whole images, in chunks, on the CPU."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    try:
        return torch.cat(
            [
                model.encode(images[i : i + chunk].to(device).contiguous(memory_format=torch.channels_last)).cpu()
                for i in range(0, images.shape[0], chunk)
            ]
        )
    finally:
        model.train(was_training)


def statistics_row(info: CheckpointInfo | None, latents: torch.Tensor) -> dict[str, Any]:
    """A table row: the checkpoint and its latents' decorrelation and sparsity."""
    row: dict[str, Any] = {
        "checkpoint": info.name if info else "untrained",
        "setup": info.metadata.title() if info else "untrained network",
        "images": latents.shape[0],
    }
    return row | latent_statistics(latents)
