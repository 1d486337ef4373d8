"""The network architectures a checkpoint can hold: one registry entry each, read by the trainer
(``--arch``), ``load_checkpoint`` (the metadata's ``arch``) and the app.

Every model maps ``(N, 3, 96, 96)`` images to ``(reconstruction (N, 3, 96, 96) in (0, 1),
latent (N, 128, 12, 12))`` with ``forward(x, visible=None)``; ``visible`` ``(N, 1, 96, 96)`` is
the pixels shown (architectures that mask sparsely read it, the CNN ignores it: its fill
already hides the rest). ``encode(x)`` is the 12 x 12 map, ``probe_features(x)`` what the
linear probe reads, flattened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from .errors import InputError


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: how to build it and the paper's training defaults for it."""

    name: str
    label: str
    build: Callable[[], nn.Module]
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)  # PretrainConfig fields that differ for it
    sparse: bool = False  # reads the ``visible`` mask (masked positions zeroed inside the network)


def _cnn() -> nn.Module:
    from .model import Autoencoder

    return Autoencoder()


def _convnext() -> nn.Module:
    from .convnext import ConvNeXtMAE

    return ConvNeXtMAE()


CONVNEXT_DEFAULTS = {  # paper 3.5; it chose the rate from {1.6e-4, 5e-4, 1.5e-3} and does not say which won
    "optimizer": "adamw", "weight_decay": 0.05, "learning_rate": 5e-4, "schedule": "cosine",
    "warmup": 20 / 370, "epochs": 370, "hflip": True,
}  # fmt: skip
ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("cnn_mae", "CNN autoencoder (paper 3.1)", _cnn, "9 + 9 residual blocks, 2.1 M parameters"),
        Architecture(
            "convnextv2_pico",
            "ConvNeXt-V2-Pico (paper 3.5)",
            _convnext,
            "timm's convnextv2_pico encoder, FCMAE decoder with dense masked convolution, 12.5 M parameters",
            defaults=CONVNEXT_DEFAULTS,
            sparse=True,
        ),
    )
}
DEFAULT_ARCH = "cnn_mae"


def get_architecture(name: str) -> Architecture:
    """The registered architecture ``name``; ``InputError`` naming the choices otherwise."""
    if name not in ARCHITECTURES:
        raise InputError(f"Unknown architecture {name!r}: use one of {', '.join(ARCHITECTURES)}.")
    return ARCHITECTURES[name]


def build_model(name: str = DEFAULT_ARCH) -> nn.Module:
    """A fresh, randomly initialised model of architecture ``name``."""
    return get_architecture(name).build()
