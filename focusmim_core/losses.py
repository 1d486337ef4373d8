"""Reconstruction losses and error maps (paper sections 3.2 and 3.7)."""

from __future__ import annotations

import torch
import torch.distributed as dist


def loss_weights(loss_mask: torch.Tensor, foreground: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel loss weights ``(N, 1, H, W)``: the loss mask, times the foreground confidence if given."""
    return loss_mask if foreground is None else loss_mask * foreground


def process_mean(total: torch.Tensor) -> torch.Tensor:
    """``total`` summed over the processes of a ``torch.distributed`` run and divided by their number (a scalar).

    Outside a distributed run ``total`` itself. Detached: a normaliser, not part of the gradient.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return total
    total = total.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def masked_mse(
    reconstruction: torch.Tensor,
    target: torch.Tensor,
    loss_mask: torch.Tensor,
    foreground: torch.Tensor | None = None,
    across_processes: bool = False,
) -> torch.Tensor:
    """Masked mean squared error over the batch, ``sum((r - t)^2 * m) / sum(m)``: a scalar.

    ``reconstruction`` and ``target`` ``(N, C, H, W)``; ``loss_mask`` and ``foreground``
    ``(N, 1, H, W)``, broadcast over channels (so ``sum(m)`` counts every channel, exactly
    as the reference's channel-repeated mask). With ``foreground`` the weights are multiplied
    by the foreground confidence and the division compensates the smaller area. A mask
    with no weight at all gives 0.

    ``across_processes``: in a distributed run, divide by the mean ``sum(m)`` of all processes
    instead of this one's, so that the mean of the processes' gradients (what DDP applies) is
    exactly the gradient of the masked MSE over the global batch.
    """
    weights = loss_weights(loss_mask, foreground)
    total = (((reconstruction - target) ** 2) * weights).sum()
    count = (process_mean(weights.sum()) if across_processes else weights.sum()) * reconstruction.shape[1]
    return total / count.clamp_min(torch.finfo(total.dtype).tiny)


def per_sample_masked_mse(
    reconstruction: torch.Tensor,
    target: torch.Tensor,
    loss_mask: torch.Tensor,
    foreground: torch.Tensor | None = None,
) -> torch.Tensor:
    """``masked_mse`` of each image separately: ``(N,)``; NaN where an image has no weight."""
    weights = loss_weights(loss_mask, foreground)
    total = (((reconstruction - target) ** 2) * weights).sum(dim=(1, 2, 3))
    count = weights.sum(dim=(1, 2, 3)) * reconstruction.shape[1]
    return torch.where(count > 0, total / count.clamp_min(torch.finfo(total.dtype).tiny), torch.nan)


def error_map(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error per pixel, averaged over channels: ``(N, C, H, W)`` -> ``(N, 1, H, W)``."""
    return ((reconstruction - target) ** 2).mean(dim=1, keepdim=True)
