"""Statistics of reconstructions and latent codes: PSNR, decorrelation, sparsity (paper 3.6)."""

from __future__ import annotations

import math

import torch

from .losses import masked_mse, per_sample_masked_mse

STD_EPSILON = 1e-5  # added to each unit's standard deviation before z-scoring (reference)
SPARSITY_EPSILON = 1e-7  # added to numerator and denominator of the sparsity ratio (reference)


def psnr(
    reconstruction: torch.Tensor, target: torch.Tensor, loss_mask: torch.Tensor | None = None, pooled: bool = False
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 1) over the masked region: ``(N,)``, or ``()`` float64 when ``pooled``.

    ``reconstruction`` and ``target`` ``(N, C, H, W)``; ``loss_mask`` ``(N, 1, H, W)`` selects
    the pixels (default: all). Per image by default; ``pooled``: one MSE over the region in
    every image, then one PSNR. A perfect reconstruction gives ``inf``; an empty region, NaN.
    """
    if loss_mask is None:
        loss_mask = torch.ones_like(reconstruction[:, :1])
    if not pooled:
        return -10.0 * torch.log10(per_sample_masked_mse(reconstruction, target, loss_mask))
    mse = torch.where(loss_mask.sum() > 0, masked_mse(reconstruction, target, loss_mask), torch.nan)
    return -10.0 * torch.log10(mse.double())  # one number: its logarithm in double precision


def _flat(latents: torch.Tensor) -> torch.Tensor:
    return latents.reshape(latents.shape[0], -1).double()


def zscore(latents: torch.Tensor) -> torch.Tensor:
    """Units z-scored over the batch: ``(z - mean) / (std_unbiased + 1e-5)``: ``(N, D)`` float64."""
    flat = _flat(latents)
    return (flat - flat.mean(0)) / (flat.std(0, unbiased=True) + STD_EPSILON)


def decorrelation(latents: torch.Tensor, denominator: float | None = None) -> float:
    """Sum of squared off-diagonal covariances of z-scored units, divided by the unit count.

    ``latents`` ``(N, ...)`` flattened to ``N`` vectors of ``D`` units (18,432 for the
    paper's latent). ``C = Z^T Z / (N - 1)``; ``denominator`` replaces ``N - 1`` (the
    reference divides by its batch size minus one, 511, whatever ``N`` is). Computed from
    the ``N x N`` Gram matrix, never the ``D x D`` covariance: ``||Z^T Z||_F = ||Z Z^T||_F``.
    """
    z = zscore(latents)
    n, units = z.shape
    scale = float(n - 1 if denominator is None else denominator)
    if scale <= 0:
        raise ValueError("decorrelation needs at least two latent vectors")
    gram = z @ z.T
    squared_total = (gram**2).sum()
    squared_diagonal = ((z**2).sum(0) ** 2).sum()
    return float((squared_total - squared_diagonal) / scale**2 / units)


def sparsity(latents: torch.Tensor) -> tuple[float, float]:
    """Unit and population sparsity of latents ``(N, ...)``, as the reference computes them.

    Unit: for each unit, ``1 - (mean_n(z)^2 + 1e-7) / (mean_n(z^2) + 1e-7)``, averaged over
    units. Population: the same over the units of each sample, averaged over samples.
    0 means dense (constant activity), values near 1 mean few strong activations.
    """
    flat = _flat(latents)

    def ratio(dim: int) -> float:
        mean = flat.mean(dim)
        power = (flat**2).mean(dim)
        return float((1 - (mean**2 + SPARSITY_EPSILON) / (power + SPARSITY_EPSILON)).mean())

    return ratio(0), ratio(1)


def brute_force_decorrelation(latents: torch.Tensor, denominator: float | None = None) -> float:
    """``decorrelation`` by forming the ``D x D`` covariance: for tests on small latents only."""
    z = zscore(latents)
    n = z.shape[0]
    cov = z.T @ z / float(n - 1 if denominator is None else denominator)
    off = cov - torch.diag(torch.diagonal(cov))
    return float((off**2).sum() / cov.shape[0])


def finite_or_none(value: float) -> float | None:
    """``value`` if finite, else ``None`` (for JSON output)."""
    return value if math.isfinite(value) else None
