"""Shared test fixtures: small images, a deterministic model, temporary STL-10 files, a trainer stopped by SIGTERM,
a trainer's clock that ticks per reading, one torch thread."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

os.environ.setdefault("U2NET_HOME", str(Path(__file__).resolve().parents[1] / ".u2net"))
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

FIXTURES = Path(__file__).parent / "fixtures"


def shown(markdown: str) -> str:
    """The text a reader sees of a Markdown source: backslash escapes (metadata echoed as text) undone."""
    return re.sub(r"\\(.)", r"\1", markdown)


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


@pytest.fixture
def one_thread():
    """Torch on one thread during the test, as in the subprocesses it is compared with (``OMP_NUM_THREADS=1``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class SteppingClock:
    """Stands in for the trainer's ``time`` module: ``monotonic()`` moves on by ``tick`` seconds at each call."""

    def __init__(self, tick: float):
        self.tick, self.now = tick, 0.0

    def monotonic(self) -> float:
        """The time so far, then one tick later."""
        self.now += self.tick
        return self.now


@pytest.fixture
def stepping_clock(monkeypatch) -> Callable[[float], None]:
    """``stepping_clock(tick)``: the trainer's clock (``train.pretrain.time``) moves on by ``tick`` seconds at each
    reading, so a time budget ends after the same steps however busy the machine is."""
    from train import pretrain

    return lambda tick: monkeypatch.setattr(pretrain, "time", SteppingClock(tick))


@pytest.fixture
def sigterm_at_step(monkeypatch) -> Callable[[int | None], None]:
    """``sigterm_at_step(n)``: the trainer (``train.pretrain.train_step``) raises SIGTERM after its n-th step
    from now; ``sigterm_at_step(None)``: it trains normally again."""
    from train import pretrain

    real_step = pretrain.train_step

    def arrange(step: int | None) -> None:
        calls = {"n": 0}

        def step_then_sigterm(*args, **kwargs):
            result = real_step(*args, **kwargs)
            calls["n"] += 1
            if calls["n"] == step:
                signal.raise_signal(signal.SIGTERM)
            return result

        monkeypatch.setattr(pretrain, "train_step", real_step if step is None else step_then_sigterm)

    return arrange
