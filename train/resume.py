"""Stopping and resuming a training run: SIGTERM and Ctrl-C, ``last.safetensors``, the metrics log.

``last.safetensors`` holds the weights (loadable as any checkpoint) and, under ``TRAINER_PREFIX``,
the optimizer state, the RNG states and the current epoch's order; its header holds the run's
counters. A run resumed from it ends with the very same weights as one never interrupted.
"""

from __future__ import annotations

import json
import math
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from focusmim_core import CheckpointMetadata
from focusmim_core.checkpoints import TRAINER_PREFIX, atomic_write, sidecar_path, write_json
from focusmim_core.errors import CheckpointError

LAST = "last.safetensors"


@dataclass
class RunCounters:
    """Where a run stands: the epoch and step to do next, and the running sums of the current epoch."""

    epoch: int = 0
    step: int = 0
    best_loss: float = math.inf
    loss_sum: float = 0.0
    images_seen: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TrainingState:
    """What a resumed run restores: weights, optimizer, RNGs, the current epoch's order and the counters."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generators: dict[str, torch.Generator]
    counters: RunCounters = field(default_factory=RunCounters)
    permutation: torch.Tensor | None = None  # this epoch's order of the images; None between epochs


class StopRequest:
    """Turns SIGTERM and Ctrl-C into a flag the loop checks after every step."""

    def __init__(self):
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:  # a second Ctrl-C: stop now (the last checkpoint stays intact)
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write(f"{signal.Signals(signum).name} received: finishing this step, saving {LAST} ...")


class RunStopped(Exception):
    """SIGTERM or Ctrl-C stopped a run before its end; ``last.safetensors`` in ``output`` holds where it stood."""

    def __init__(self, output: Path):
        super().__init__(f"Stopped before the end; continue with --resume --output-path {output}.")
        self.output = output


def save_last(path: Path, state: TrainingState, metadata: CheckpointMetadata) -> None:
    """Write ``last.safetensors``: weights (loadable as a checkpoint) plus optimizer, RNG and counters, atomically."""
    tensors = {name: t.detach().cpu().contiguous() for name, t in state.model.state_dict().items()}
    optimizer_state = state.optimizer.state_dict()
    for index, entries in optimizer_state["state"].items():
        for key, value in entries.items():
            tensors[f"{TRAINER_PREFIX}optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    for name, generator in state.generators.items():
        tensors[f"{TRAINER_PREFIX}rng.{name}"] = generator.get_state().cpu()
    if state.permutation is not None:
        tensors[f"{TRAINER_PREFIX}permutation"] = state.permutation.cpu()
    header = {
        "focusmim": json.dumps(metadata.to_dict(), sort_keys=True),
        "progress": json.dumps(asdict(state.counters)),
        "param_groups": json.dumps(optimizer_state["param_groups"]),
    }
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))
    write_json(sidecar_path(path), metadata.to_dict())


def load_last(path: Path, state: TrainingState) -> None:
    """Restore ``state`` in place from ``last.safetensors``; ``CheckpointError`` when the file cannot be resumed."""
    if not path.is_file():
        raise CheckpointError(f"Nothing to resume: {path} does not exist. Start without --resume.")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        counters = RunCounters(**json.loads(header["progress"]))
        param_groups = json.loads(header["param_groups"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(
            f"{path} cannot be resumed from ({error}): it is not a complete last checkpoint."
        ) from None
    state.model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(TRAINER_PREFIX)}, strict=True)
    optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
    prefix = f"{TRAINER_PREFIX}optimizer."
    for name, value in tensors.items():
        if name.startswith(prefix):
            index, key = name[len(prefix) :].split(".", 1)
            optimizer_state.setdefault(int(index), {})[key] = value
    state.optimizer.load_state_dict({"state": optimizer_state, "param_groups": param_groups})
    for name, generator in state.generators.items():
        generator.set_state(tensors[f"{TRAINER_PREFIX}rng.{name}"])
    state.counters = counters
    state.permutation = tensors.get(f"{TRAINER_PREFIX}permutation")


def read_counters(path: Path) -> RunCounters | None:
    """The counters recorded in ``last.safetensors`` (no weights are loaded); None when it cannot be read."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return RunCounters(**json.loads((handle.metadata() or {})["progress"]))
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError, TypeError):
        return None


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it to disk."""
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def trim_metrics(path: Path, epochs: int) -> int:
    """Keep the log lines of the first ``epochs`` epochs (a kill can leave later or half-written ones); returns
    how many were dropped. Rewritten atomically."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            good = isinstance(record, dict) and isinstance(record.get("epoch"), int) and record["epoch"] <= epochs
        except json.JSONDecodeError:
            good = False
        if good:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write(path, lambda tmp: Path(tmp).write_text("".join(f"{line}\n" for line in kept)))
    return dropped
