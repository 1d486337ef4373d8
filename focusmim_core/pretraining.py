"""One pretraining step as batched tensor operations: crop, mask, reconstruct, masked loss.

The whole split lives on the device as uint8; a batch is an index tensor into it. Crops
(image and foreground map alike), fixations, covert attention and masks are drawn afresh
each time an image is shown, from one ``torch.Generator`` on the device. No per-sample
Python, no DataLoader: the same code runs 32 images on a laptop CPU and 512 on a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn

from .augment import CROP_SCALE, crop_boxes, resized_crop
from .errors import InputError
from .fixations import sample_fixations
from .losses import loss_weights
from .masking import FILLS, check_attention, check_mode, mask_images, visible_pixels
from .objectives import StepLoss, get_objective

FIXATION_POLICIES = ("center", "uniform", "foreground")
ATTENTION_POLICIES = ("none", "random", "foreground")
PRECISIONS = ("auto", "fp32", "bf16")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = {  # name -> torch optimizer class; Adam is the paper's, AdamW its ConvNeXt-V2 runs' (3.5)
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "adamw": torch.optim.AdamW,
}
DECOUPLED = ("adamw",)  # optimizers whose weight decay spares biases, norms and tokens (1-d tensors)


def make_optimizer(
    name: str,
    model: torch.nn.Module,
    learning_rate: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """The optimizer registered as ``name`` (``OPTIMIZERS``) over ``model``'s parameters.

    For AdamW (as FCMAE), parameters with fewer than two dimensions or shaped like a token get
    no weight decay. ``InputError`` for an unknown name.
    """
    if name not in OPTIMIZERS:
        raise InputError(f"Unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}.")
    parameters = list(model.parameters())  # frozen ones too: the order of saved optimizer states stays the same
    extra = {} if name == "sgd" else {"betas": tuple(betas)}
    if name not in DECOUPLED:
        return OPTIMIZERS[name](parameters, lr=learning_rate, weight_decay=weight_decay, **extra)
    spared = [p for n, p in model.named_parameters() if p.ndim <= 1 or n.endswith("token")]
    ids = {id(p) for p in spared}
    groups = [
        {"params": [p for p in parameters if id(p) not in ids], "weight_decay": weight_decay},
        {"params": spared, "weight_decay": 0.0},
    ]
    return OPTIMIZERS[name](groups, lr=learning_rate, **extra)


def scheduled_learning_rate(
    base: float, progress: float, schedule: str = "constant", warmup: float = 0.0, floor: float = 0.0
) -> float:
    """Learning rate at ``progress`` in [0, 1] of a run: linear warm-up over the first ``warmup``
    fraction, then ``base`` (constant) or a cosine from ``base`` to ``floor * base`` at the end (cosine)."""
    if schedule not in SCHEDULES:
        raise InputError(f"Unknown learning-rate schedule {schedule!r}: use one of {', '.join(SCHEDULES)}.")
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return base * progress / warmup
    if schedule == "constant":
        return base
    rest = (progress - warmup) / max(1.0 - warmup, 1e-12)
    return base * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * rest)))


@dataclass
class BatchRecipe:
    """How a training batch is made from stored images (the paper's defaults)."""

    mode: str = "periphery"
    ratio: float = 0.8
    fill: str = "mean"
    random_crop: bool = True
    crop_scale: tuple[float, float] = CROP_SCALE
    fixation: str = "center"
    attention: str = "none"
    foreground_loss: bool = False
    hflip: bool = False  # flip half the images horizontally

    def check(self, has_foreground: bool) -> None:
        """Raise ``InputError`` for settings that cannot work together or with this data."""
        spec = check_mode(self.mode)
        if spec.uses_ratio and not 0.0 < self.ratio < 1.0:
            raise InputError(
                f"Masking ratio {self.ratio} is outside (0, 1): pick e.g. 0.6 (patches) or 0.8 (periphery)."
            )
        if self.fill not in FILLS:
            raise InputError(f"Unknown fill {self.fill!r}: use one of {', '.join(FILLS)}.")
        if self.fixation not in FIXATION_POLICIES:
            raise InputError(f"Unknown fixation policy {self.fixation!r}: use one of {', '.join(FIXATION_POLICIES)}.")
        if self.attention not in ATTENTION_POLICIES:
            choices = ", ".join(ATTENTION_POLICIES)
            raise InputError(f"Unknown attention policy {self.attention!r}: use one of {choices}.")
        if self.attention != "none":
            check_attention(self.mode)
        needs = [self.fixation == "foreground", self.attention == "foreground", self.foreground_loss]
        if any(needs) and not has_foreground:
            raise InputError(
                "Foreground fixations, attention or loss need foreground maps: give --segment-path "
                "(made by python -m train.segment) or use --dataset synthetic, which has them."
            )
        if not 0.0 < self.crop_scale[0] <= self.crop_scale[1] <= 1.0:
            raise InputError(f"Crop scale {self.crop_scale} must satisfy 0 < low <= high <= 1.")


@dataclass
class Batch:
    """A prepared batch: ``inputs``/``targets`` ``(B, 3, H, W)``, ``weights`` ``(B, 1, H, W)`` loss weights."""

    inputs: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor
    visible: torch.Tensor | None = None  # (B, 1, H, W) pixels shown, for sparse architectures


def prepare_batch(
    images: torch.Tensor,
    foreground: torch.Tensor | None,
    recipe: BatchRecipe,
    generator: torch.Generator | None = None,
) -> Batch:
    """Crop, fixate and mask uint8 images ``(B, 3, H, W)`` (and foreground ``(B, 1, H, W)`` uint8 or None)."""
    count, _, height, width = images.shape
    device = images.device
    fg = None
    if recipe.random_crop:
        boxes = crop_boxes(count, height, width, generator, scale=recipe.crop_scale, device=device)
        stacked = images if foreground is None else torch.cat([images, foreground], dim=1)
        cropped = resized_crop(stacked, boxes) / 255.0
        targets = cropped[:, :3].clamp(0, 1)
        if foreground is not None:
            fg = cropped[:, 3:].clamp(0, 1)
    else:
        targets = images.float() / 255.0
        if foreground is not None:
            fg = foreground.float() / 255.0
    if recipe.hflip:  # paper 3.5's augmentation: half the images mirrored, with their foreground
        flip = (torch.rand(count, generator=generator, device=device) < 0.5).view(-1, 1, 1, 1)
        targets = torch.where(flip, targets.flip(-1), targets)
        fg = None if fg is None else torch.where(flip, fg.flip(-1), fg)
    spec = check_mode(recipe.mode)
    fixations = attention = None
    if spec.uses_fixation:
        fixations = sample_fixations(recipe.fixation, count, height, width, fg, generator, device)
        if recipe.attention != "none":
            policy = "uniform" if recipe.attention == "random" else "foreground"
            attention = sample_fixations(policy, count, height, width, fg, generator, device)
    inputs, loss_mask = mask_images(
        targets, recipe.mode, recipe.ratio, fixations, recipe.fill, attention, generator=generator
    )
    weights = loss_weights(loss_mask, fg if recipe.foreground_loss else None)
    return Batch(inputs, targets, weights, visible_pixels(loss_mask, recipe.mode))


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA for ``auto``/``bf16``; ``None`` (fp32) otherwise."""
    if precision not in PRECISIONS:
        raise InputError(f"Unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}.")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    precision: torch.dtype | None = None,
    loss_fn: Callable[..., StepLoss] | None = None,
) -> StepLoss:
    """One optimisation step; returns the (detached) loss, latent ``(B, 128, 12, 12)`` and the objective's logs.

    ``loss_fn(model, batch=batch)`` gives ``(loss, latent, logs)``: an objective's loss
    (``focusmim_core.objectives``) with its other arguments bound; the default is the
    registered ``pixel`` objective, the paper's masked MSE.
    """
    if loss_fn is None:
        loss_fn = partial(get_objective("pixel").loss, core=model, fraction=0.0)
    inputs = batch.inputs
    if inputs.device.type == "cuda":
        batch = replace(batch, inputs=inputs.contiguous(memory_format=torch.channels_last))
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(inputs.device.type, dtype=precision or torch.float32, enabled=precision is not None):
        loss, latent, logs = loss_fn(model, batch=batch)  # its loss in fp32 (autocast off inside)
    loss.backward()
    optimizer.step()
    return loss.detach(), latent.detach(), logs
