"""Training objectives: one module each behind this registry, read by the trainer (``--objective``),
``load_checkpoint`` (the metadata's ``objective``) and the app.

An objective wraps a backbone (``architectures.build_model``) into the module that is trained
and saved (``wrap``), and computes one step's loss (``loss``): ``(loss, latent, logs)`` with
``latent`` ``(B, 128, 12, 12)`` for the epoch statistics and ``logs`` scalars averaged per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import InputError
from ..losses import masked_mse
from ..masking import HIDING_MODES
from .latent_mim import (
    TARGET_VIEWS,
    LatentMIM,
    LatentSettings,
    cosine_ramp,
    effective_rank,
    info_nce,
    mean_pairwise_similarity,
    target_cells,
    target_view,
)

if TYPE_CHECKING:  # a type only: the batch maker (pretraining) imports this registry
    from ..pretraining import Batch

StepLoss = tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]


def pixel_loss(model: nn.Module, core: nn.Module, batch: Batch, fraction: float) -> StepLoss:
    """The paper's objective: masked MSE of the pixel reconstruction, normalised over the global batch."""
    reconstruction, latent = model(batch.inputs, batch.visible)
    return masked_mse(reconstruction, batch.targets, batch.weights, across_processes=True), latent, {}


def latent_loss(model: nn.Module, core: LatentMIM, batch: Batch, fraction: float) -> StepLoss:
    """Latent MIM: EMA update, then InfoNCE on the hidden cells' latents plus the similarity regulariser.

    ``model`` is what runs the forward pass (``core`` itself, or its DDP wrapper); ``fraction``
    in [0, 1] of the run sets the EMA momentum and the similarity target s*.
    """
    settings = core.settings
    core.update_target(cosine_ramp(*settings.momentum, fraction))  # before the targets are computed
    loss_mask = 1.0 - batch.visible
    prediction, target, online, latent = model(
        batch.inputs, batch.visible, target_view(batch.targets, loss_mask, settings.target_view)
    )
    cells = target_cells(loss_mask)  # (B, 144)
    shown = ~cells
    with torch.autocast(batch.inputs.device.type, enabled=False):  # the loss in fp32, also under bf16 autocast
        flat = [t.flatten(2).transpose(1, 2).float() for t in (prediction, target, online)]
        contrastive = info_nce(flat[0], flat[1], cells, settings.temperature)
        s_star = cosine_ramp(*settings.sim_target, fraction)
        sim_pred, sim_visible = mean_pairwise_similarity(flat[0], cells), mean_pairwise_similarity(flat[2], shown)
        regulariser = settings.sim_coeff * ((sim_pred - s_star) ** 2 + (sim_visible - s_star) ** 2)
    with torch.no_grad():
        logs = {
            "avg_sim_pred": sim_pred.detach(),
            "avg_sim_target": mean_pairwise_similarity(flat[1], cells),
            "avg_sim_visible": sim_visible.detach(),
            "infonce": contrastive.detach(),
            "target_rank": torch.tensor(effective_rank(flat[1][cells])),
        }
    return contrastive + regulariser, latent, logs


def pixel_wrap(backbone: nn.Module, settings: LatentSettings | None = None) -> nn.Module:
    """The backbone itself: the paper's objective trains the whole autoencoder."""
    return backbone


def latent_wrap(backbone: nn.Module, settings: LatentSettings | None = None) -> nn.Module:
    """The backbone's encoder inside a Latent MIM module (its pixel decoder is not used)."""
    return LatentMIM(backbone.encoder, settings)


@dataclass(frozen=True)
class Objective:
    """A registered objective: how to wrap a backbone, one step's loss, and its own trainer defaults."""

    name: str
    label: str
    description: str
    wrap: Callable[..., nn.Module]
    loss: Callable[[nn.Module, nn.Module, Batch, float], StepLoss]
    defaults: dict[str, Any] = field(default_factory=dict)  # PretrainConfig fields that differ for it
    archs: tuple[str, ...] = ("cnn_mae", "convnextv2_pico")
    modes: tuple[str, ...] | None = None  # masking modes it supports (None: all)
    rate_per_256: float | None = None  # its own learning rate per 256 images of batch (None: the trainer's)


LATENT_DEFAULTS = {  # the Latent MIM code's optimiser; its lr, 1.5e-4 x batch / 256, is ``rate_per_256``
    "optimizer": "adamw", "weight_decay": 0.05, "betas": (0.9, 0.95), "schedule": "cosine", "warmup": 0.05,
    "lr_floor": 0.25,
}  # fmt: skip
OBJECTIVES: dict[str, Objective] = {
    objective.name: objective
    for objective in (
        Objective("pixel", "pixels (the paper's)", "masked MSE of the reconstructed pixels", pixel_wrap, pixel_loss),
        Objective(
            "latent",
            "latents (Latent MIM)",
            "InfoNCE between predicted and EMA-target latents of the hidden cells",
            latent_wrap,
            latent_loss,
            LATENT_DEFAULTS,
            archs=("cnn_mae",),
            modes=HIDING_MODES,  # its targets are the hidden cells
            rate_per_256=1.5e-4,
        ),
    )
}
__all__ = ["OBJECTIVES", "TARGET_VIEWS", "LatentSettings", "Objective", "get_objective", "objective_defaults"]


def get_objective(name: str) -> Objective:
    """The registered objective ``name``; ``InputError`` naming the choices otherwise."""
    if name not in OBJECTIVES:
        raise InputError(f"Unknown objective {name!r}: use one of {', '.join(OBJECTIVES)}.")
    return OBJECTIVES[name]


def objective_defaults(name: str, batch_size: int) -> dict[str, Any]:
    """The trainer settings objective ``name`` brings, its learning rate scaled to ``batch_size``."""
    objective = get_objective(name)
    if objective.rate_per_256 is None:
        return dict(objective.defaults)
    return {**objective.defaults, "learning_rate": objective.rate_per_256 * batch_size / 256}
