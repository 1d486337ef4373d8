"""Looking into the latent space: channel grids, unit correlations, hierarchical segmentation, t-SNE."""

from __future__ import annotations

import numpy as np
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


SEGMENTATION_CUTS = (3, 4, 5)  # the Latent MIM paper's hierarchical segmentation maps: one tree, three cuts


def cell_vectors(latent: torch.Tensor) -> np.ndarray:
    """The ``h * w`` cell vectors of a latent ``(C, h, w)``, L2-normalised: float64 ``(h * w, C)``, row-major cells."""
    channels = latent.shape[0]
    return F.normalize(latent.reshape(channels, -1).T.double(), dim=1).cpu().numpy()


def nested_labels(vectors: np.ndarray, cuts: tuple[int, ...] = SEGMENTATION_CUTS) -> np.ndarray:
    """One Ward tree on ``(P, D)`` vectors cut at each count in ``cuts``: labels ``(len(cuts), P)``, nested colours.

    Colour indices are stable across cuts: at the first cut clusters are numbered by size
    (largest 0); when a later cut splits a cluster, its largest part keeps the parent's index
    and the others take the next unused ones. Uses ``scipy.cluster.hierarchy`` (Ward linkage).
    """
    from scipy.cluster.hierarchy import cut_tree, linkage

    cuts = tuple(min(max(1, k), len(vectors)) for k in cuts)
    tree = linkage(vectors, method="ward")
    raw = cut_tree(tree, n_clusters=list(cuts)).T  # (len(cuts), P), nested by construction
    labels = np.empty_like(raw)
    sizes = np.bincount(raw[0])
    order = {cluster: colour for colour, cluster in enumerate(np.argsort(-sizes, kind="stable"))}
    labels[0] = [order[c] for c in raw[0]]
    for row in range(1, len(cuts)):
        labels[row] = _inherit(raw[row], labels[row - 1])
    return labels


def _inherit(children: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Colours for one cut from the coarser cut's colours: the largest part of a parent keeps its colour."""
    colours = np.empty_like(children)
    next_colour = int(parents.max()) + 1
    for parent in np.unique(parents):
        inside = parents == parent
        parts, counts = np.unique(children[inside], return_counts=True)
        for rank, part in enumerate(parts[np.argsort(-counts, kind="stable")]):
            colour = parent if rank == 0 else next_colour
            next_colour += rank > 0
            colours[inside & (children == part)] = colour
    return colours


def latent_segmentation(latent: torch.Tensor, cuts: tuple[int, ...] = SEGMENTATION_CUTS) -> torch.Tensor:
    """The nested hierarchical segmentation of a latent ``(C, h, w)`` per cell: int64 ``(len(cuts), h, w)``."""
    _, height, width = latent.shape
    return torch.from_numpy(nested_labels(cell_vectors(latent), cuts)).long().view(len(cuts), height, width)


def latent_tsne(latent: torch.Tensor, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """A t-SNE of the ``h * w`` cells of a latent ``(C, h, w)`` (scikit-learn, cosine metric): ``(h * w, 2)``."""
    from sklearn.manifold import TSNE

    vectors = cell_vectors(latent)
    perplexity = min(perplexity, (len(vectors) - 1) / 3)  # scikit-learn needs perplexity < points
    embedding = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="random", random_state=seed)
    return embedding.fit_transform(vectors)


def latent_statistics(latents: torch.Tensor) -> dict[str, float]:
    """Decorrelation and unit/population sparsity of a batch of latents ``(N, ...)``."""
    unit, population = sparsity(latents)
    return {"decorrelation": decorrelation(latents), "unit_sparsity": unit, "population_sparsity": population}
