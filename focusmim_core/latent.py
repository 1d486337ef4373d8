"""Looking into the latent space: channel grids, unit correlations, unsupervised segmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .metrics import decorrelation, sparsity, zscore


def channel_grid(latent: torch.Tensor, columns: int = 16) -> torch.Tensor:
    """Tile the channels of a latent ``(C, h, w)`` into one ``(rows * h, columns * w)`` image.

    Each channel is scaled to [0, 1] on its own (a dead channel stays 0); a one-pixel gap
    of NaN separates the tiles so plots show them apart.
    """
    channels, height, width = latent.shape
    rows = -(-channels // columns)
    low = latent.amin(dim=(1, 2), keepdim=True)
    span = (latent.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-12)
    scaled = ((latent - low) / span).float()
    padded = torch.full((rows * columns, height + 1, width + 1), float("nan"))
    padded[:channels, :height, :width] = scaled
    grid = padded.view(rows, columns, height + 1, width + 1).permute(0, 2, 1, 3)
    return grid.reshape(rows * (height + 1), columns * (width + 1))[:-1, :-1]


def unit_correlations(latents: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Correlation matrix ``(k, k)`` of the chosen units (flat indices) over a batch ``(N, ...)``."""
    z = zscore(latents)[:, units]
    return (z.T @ z / (z.shape[0] - 1)).float()


def strongest_units(latents: torch.Tensor, count: int = 64) -> torch.Tensor:
    """Flat indices of the ``count`` units with the largest variance over the batch."""
    flat = latents.reshape(latents.shape[0], -1)
    return torch.argsort(flat.var(0), descending=True)[:count]


def kmeans(features: torch.Tensor, clusters: int, iterations: int = 25, seed: int = 0) -> torch.Tensor:
    """k-means (k-means++ start) on ``(P, D)`` features -> labels ``(P,)`` int64; deterministic per seed."""
    generator = torch.Generator().manual_seed(seed)
    points = features.float()
    count = points.shape[0]
    clusters = max(1, min(clusters, count))
    centres = points[torch.randint(0, count, (1,), generator=generator)]
    for _ in range(1, clusters):
        distance = torch.cdist(points, centres).amin(1) ** 2
        weights = distance if float(distance.sum()) > 0 else torch.ones_like(distance)
        centres = torch.cat([centres, points[torch.multinomial(weights, 1, generator=generator)]])
    labels = torch.zeros(count, dtype=torch.int64)
    for _ in range(iterations):
        labels = torch.cdist(points, centres).argmin(1)
        updated = torch.zeros_like(centres).index_add_(0, labels, points)
        sizes = torch.bincount(labels, minlength=clusters).clamp_min(1).unsqueeze(1)
        updated = torch.where(torch.bincount(labels, minlength=clusters).unsqueeze(1) > 0, updated / sizes, centres)
        if torch.allclose(updated, centres):
            break
        centres = updated
    return labels


def latent_segmentation(latent: torch.Tensor, clusters: int = 4, size: int = 96, seed: int = 0) -> torch.Tensor:
    """Cluster the ``h x w`` latent vectors of ``(C, h, w)`` and upsample the labels to ``(size, size)``.

    Vectors are L2-normalised first, so clusters follow what units respond to rather than
    how strongly. Returns int64 labels (nearest-neighbour upsampling).
    """
    channels, height, width = latent.shape
    vectors = F.normalize(latent.reshape(channels, -1).T.float(), dim=1)
    labels = kmeans(vectors, clusters, seed=seed).view(1, 1, height, width).float()
    return F.interpolate(labels, size=(size, size), mode="nearest")[0, 0].long()


def latent_statistics(latents: torch.Tensor) -> dict[str, float]:
    """Decorrelation and unit/population sparsity of a batch of latents ``(N, ...)``."""
    unit, population = sparsity(latents)
    return {"decorrelation": decorrelation(latents), "unit_sparsity": unit, "population_sparsity": population}
