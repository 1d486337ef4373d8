"""Shared test fixtures: small images, a deterministic model, temporary STL-10 files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("U2NET_HOME", str(Path(__file__).resolve().parents[1] / ".u2net"))
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def images() -> torch.Tensor:
    """Four random 96 x 96 RGB images in [0, 1] (seeded)."""
    generator = torch.Generator().manual_seed(0)
    return torch.rand(4, 3, 96, 96, generator=generator)


@pytest.fixture
def model() -> torch.nn.Module:
    """A seeded, untrained autoencoder in eval mode."""
    from focusmim_core import Autoencoder

    torch.manual_seed(0)
    return Autoencoder().eval()
