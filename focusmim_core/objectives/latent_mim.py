"""Latent MIM in the FocusMIM setting: predict the hidden region's latents, not its pixels.

Adapted from the public Latent MIM code (``models_lmim.py``, ``main_lmim.py``) to the paper's
CNN, whose latent is a 12 x 12 grid of 128-d cells:

- online path: masked image -> encoder -> projector (1x1-conv MLP 128 -> 512 -> 512 -> 128,
  a per-cell LayerNorm after every layer); target path: an EMA copy of encoder and
  projector, no gradient, updated at every optimiser step before the targets are computed,
  momentum 0.99 -> 1.0 on a cosine over the run;
- target view: ``complement`` (the hidden region shown, the visible one filled with the image
  mean: our encoder's ~155 px receptive field would otherwise see the visible region in the
  target) or ``full`` (the ablation); target cells: ``avg_pool(loss_mask, 8) > 0.5``;
- predictor: residual 3x3 conv blocks on the grid (4, width 256, dilations 1, 2, 4, 1) fed the
  visible cells' projected latents, at masked cells a learned token plus the inverse-distance
  weighted average of the visible latents, and the cell mask as a channel;
- loss (fp32): patch-wise InfoNCE at temperature 0.2, predictions standardised per channel
  across an image's target cells then L2-normalised, targets L2-normalised, the positive the
  same cell and the negatives the image's other target cells, times 2 tau; plus
  ``0.1 * (s - s*)^2`` on the predictions and on the visible latents, s their mean pairwise
  cosine similarity and s* from 0.75 to 0.25 on a cosine over the run.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..geometry import CELL_PIXELS, GRID
from ..model import LATENT_SHAPE

WIDTH = LATENT_SHAPE[0]  # the CNN's latent channels


@dataclass(frozen=True)
class LatentSettings:
    """The latent objective's constants (the Latent MIM code's, adapted); every one a trainer flag."""

    temperature: float = 0.2
    momentum: tuple[float, float] = (0.99, 1.0)  # EMA momentum at the start and the end of the run (cosine)
    sim_coeff: float = 0.1
    sim_target: tuple[float, float] = (0.75, 0.25)  # s* at the start and the end of the run (cosine)
    target_view: str = "complement"  # complement | full
    predictor_blocks: int = 4
    predictor_width: int = 256
    collapse: float = 0.95  # a mean similarity above this warns of collapse


TARGET_VIEWS = ("complement", "full")


def cosine_ramp(start: float, end: float, fraction: float) -> float:
    """``start`` at fraction 0 to ``end`` at 1 along a half cosine."""
    fraction = min(max(fraction, 0.0), 1.0)
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * fraction))


class CellNorm(nn.Module):
    """LayerNorm over the channels of every cell: ``(N, C, H, W)`` -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> the same, each cell's ``C`` channels layer-normalised."""
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def projector(width: int = WIDTH, hidden: int = 512) -> nn.Sequential:
    """The 1x1-conv MLP ``width -> hidden -> hidden -> width`` with a per-cell LayerNorm after every layer."""
    return nn.Sequential(
        nn.Conv2d(width, hidden, 1, bias=False), CellNorm(hidden), nn.GELU(),
        nn.Conv2d(hidden, hidden, 1, bias=False), CellNorm(hidden), nn.GELU(),
        nn.Conv2d(hidden, width, 1, bias=False), CellNorm(width),
    )  # fmt: skip


class Predictor(nn.Module):
    """Residual dilated 3x3 conv blocks on the 12 x 12 grid: ``(N, 129, 12, 12)`` -> ``(N, 128, 12, 12)``."""

    def __init__(self, width: int = WIDTH, hidden: int = 256, dilations: tuple[int, ...] = (1, 2, 4, 1)):
        super().__init__()
        self.inp = nn.Conv2d(width + 1, hidden, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(CellNorm(hidden), nn.GELU(), nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d))
            for d in dilations
        )
        self.out = nn.Sequential(CellNorm(hidden), nn.Conv2d(hidden, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filled latent and mask ``(N, width + 1, 12, 12)`` -> predicted latent ``(N, width, 12, 12)``."""
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x)
        return self.out(x)


def _inverse_distances(cells: int = GRID) -> torch.Tensor:
    """``(cells^2, cells^2)`` inverse Euclidean distances between cell centres (0 on the diagonal)."""
    rows, cols = torch.meshgrid(torch.arange(cells), torch.arange(cells), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], 1).float()
    distance = torch.cdist(centres, centres)
    return torch.where(distance > 0, 1.0 / distance.clamp_min(1e-6), torch.zeros_like(distance))


def target_cells(loss_mask: torch.Tensor) -> torch.Tensor:
    """Cells whose pixels are mostly hidden: ``(N, 1, 96, 96)`` -> ``(N, 144)`` bool."""
    return (F.avg_pool2d(loss_mask.float(), CELL_PIXELS) > 0.5).flatten(1)


class LatentMIM(nn.Module):
    """Encoder + projector (online), their EMA copy (target), predictor and mask token.

    ``forward(inputs, visible, target_inputs, loss_mask)`` -> ``(prediction, target, online, latent)``,
    each ``(N, 128, 12, 12)`` but the mask-derived ones; ``encode(x)`` is the online encoder's
    latent (what the probe and the Latent page read).
    """

    objective = "latent"

    def __init__(self, encoder: nn.Module, settings: LatentSettings | None = None):
        super().__init__()
        self.settings = settings or LatentSettings()
        self.encoder = encoder
        self.projector = projector()
        self.predictor = Predictor(hidden=self.settings.predictor_width)
        self.mask_token = nn.Parameter(torch.zeros(1, WIDTH, 1, 1))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.register_buffer("inverse_distances", _inverse_distances(), persistent=False)

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA step: ``target = momentum * target + (1 - momentum) * online`` for encoder and projector."""
        for online, target in ((self.encoder, self.target_encoder), (self.projector, self.target_projector)):
            for p, t in zip(online.parameters(), target.parameters(), strict=True):
                t.lerp_(p.detach(), 1.0 - momentum)

    def encode(self, x: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
        """The online encoder's latent ``(N, 128, 12, 12)``."""
        return self.encoder(x)

    def probe_features(self, x: torch.Tensor) -> torch.Tensor:
        """What the linear probe reads: the online latent flattened, ``(N, 18432)``."""
        return self.encoder(x).flatten(1)

    def predictor_input(self, online: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Visible cells' latents, token + inverse-distance average elsewhere, cell mask: ``(N, 129, 12, 12)``."""
        n = online.shape[0]
        flat = online.flatten(2)  # (N, 128, 144)
        weights = self.inverse_distances.to(flat.dtype) * seen.flatten(1)[:, None, :].to(flat.dtype)  # (N, 144, 144)
        average = torch.einsum("nij,ncj->nci", weights, flat) / weights.sum(-1).clamp_min(1e-6)[:, None, :]
        mask = seen.to(online.dtype)
        fill = (self.mask_token.to(online.dtype) + average.view_as(online)) * (1.0 - mask)
        return torch.cat([online * mask + fill, mask], 1).view(n, WIDTH + 1, GRID, GRID)

    def forward(
        self,
        inputs: torch.Tensor,
        visible: torch.Tensor | None = None,
        target_inputs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Masked images ``(N, 3, 96, 96)`` -> (predicted latent ``(N, 128, 12, 12)``, the EMA target's latent of
        ``target_inputs`` or None, the online projection ``(N, 128, 12, 12)``, the encoder's latent)."""
        latent = self.encoder(inputs)
        online = self.projector(latent)
        shown = torch.ones_like(inputs[:, :1]) if visible is None else visible
        seen = (F.avg_pool2d(shown.float(), CELL_PIXELS) >= 0.5).to(online.dtype)  # (N, 1, 12, 12)
        prediction = self.predictor(self.predictor_input(online, seen))
        target = None
        if target_inputs is not None:
            with torch.no_grad():
                target = self.target_projector(self.target_encoder(target_inputs))
        return prediction, target, online, latent


@torch.no_grad()
def cell_similarity(
    model: LatentMIM, inputs: torch.Tensor, visible: torch.Tensor, images: torch.Tensor, loss_mask: torch.Tensor
) -> torch.Tensor:
    """Cosine similarity of predicted and target latents per cell, ``(N, 12, 12)``; NaN off the target cells.

    ``inputs`` are the masked images the model is given, ``images`` the true ones (for the target).
    Predictions are standardised across an image's target cells first, as the InfoNCE loss compares them.
    """
    prediction, target, _, _ = model(inputs, visible, target_view(images, loss_mask, model.settings.target_view))
    cells = target_cells(loss_mask)  # (N, 144)
    flat = [t.flatten(2).transpose(1, 2).float() for t in (prediction, target)]
    predicted = _standardise(flat[0], cells)  # as the loss compares them: standardised across the target cells
    similarity = F.cosine_similarity(predicted, flat[1], dim=-1).view(-1, GRID, GRID)
    return torch.where(cells.view_as(similarity), similarity, torch.full_like(similarity, float("nan")))


def target_view(images: torch.Tensor, loss_mask: torch.Tensor, view: str) -> torch.Tensor:
    """What the target encoder sees: the hidden region shown and the rest filled with the mean (``complement``),
    or the whole image (``full``). ``(N, 3, H, W)``."""
    if view == "full":
        return images
    mean = images.mean(dim=(2, 3), keepdim=True)
    return images * loss_mask + mean * (1.0 - loss_mask)


def mean_pairwise_similarity(vectors: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity over all pairs (self-pairs included, as the Latent MIM code) of each image's
    selected cells, averaged over images: ``(N, 144, D)``, ``(N, 144)`` bool -> scalar."""
    unit = F.normalize(vectors, dim=-1) * cells[..., None]
    count = cells.sum(1).float()
    valid = count > 0
    if not bool(valid.any()):
        return vectors.new_zeros(())
    total = unit.sum(1)  # (N, D): |total|^2 is the sum of cos(i, j) over all pairs
    return ((total * total).sum(-1)[valid] / count[valid] ** 2).mean()


def _standardise(prediction: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Per image and channel, zero mean and unit sample std across the target cells: ``(N, 144, D)``."""
    weight = cells[..., None].float()
    count = weight.sum(1, keepdim=True)
    mean = (prediction * weight).sum(1, keepdim=True) / count.clamp_min(1.0)
    var = (((prediction - mean) ** 2) * weight).sum(1, keepdim=True) / (count - 1.0).clamp_min(1.0)
    return (prediction - mean) / (var.sqrt() + 1e-4)


def info_nce(prediction: torch.Tensor, target: torch.Tensor, cells: torch.Tensor, temperature: float) -> torch.Tensor:
    """Patch-wise InfoNCE (fp32) over each image's target cells, times ``2 * temperature``: a scalar.

    ``prediction`` and ``target`` are ``(N, 144, D)``, ``cells`` ``(N, 144)`` bool. The positive
    of a cell is the same cell; the negatives are the image's other target cells. The mean runs
    over every target cell of the global batch (DDP: exact under the gradient mean).
    """
    pred = F.normalize(_standardise(prediction.float(), cells), dim=-1)
    targ = F.normalize(target.float(), dim=-1)
    logits = torch.einsum("nid,njd->nij", pred, targ) / temperature
    logits = logits.masked_fill(~cells[:, None, :], float("-inf"))
    log_prob = logits.diagonal(dim1=1, dim2=2) - torch.logsumexp(logits, dim=-1)  # (N, 144)
    total = -(log_prob * cells).nan_to_num(0.0).sum()
    count = cells.sum().float()
    if dist.is_available() and dist.is_initialized():
        count = count.clone()
        dist.all_reduce(count)
        count = count / dist.get_world_size()
    return 2.0 * temperature * total / count.clamp_min(1.0)


def effective_rank(vectors: torch.Tensor) -> float:
    """exp(entropy) of the normalised singular values of ``(M, D)`` vectors (1: collapsed, D: isotropic)."""
    if vectors.shape[0] < 2:
        return float("nan")
    values = torch.linalg.svdvals(vectors.float() - vectors.float().mean(0))
    p = values / values.sum().clamp_min(1e-12)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))
