"""Training runs on disk (``metrics.jsonl`` logs) and checkpoints' probe accuracies next to the paper's numbers.

A run folder holds ``metrics.jsonl``: one JSON object per epoch with ``epoch``, ``loss``,
``masked_mse``, ``foreground_mse`` (may be null), ``decorrelation``, ``unit_sparsity``,
``population_sparsity``, ``learning_rate``, ``images_per_second``, ``seconds``, ``images``.
Broken lines (a run killed while writing, nested too deeply, a field of the wrong type) are skipped
and reported, never fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoints import NUMBER, SHIPPED_DIR, CheckpointInfo, Nullable, bounded_json, json_problem
from ..experiments import paper_condition
from ..results import probe_spread

RUNS_ENV = "FOCUSMIM_RUNS"
LOG_NAME = "metrics.jsonl"
CURVE_KEYS = (
    "loss",
    "masked_mse",
    "foreground_mse",
    "decorrelation",
    "unit_sparsity",
    "population_sparsity",
    "learning_rate",
    "images_per_second",
)
RECORD_SCHEMA = {"epoch": (int,), **{key: Nullable(NUMBER) for key in CURVE_KEYS}}


@dataclass
class Run:
    """One training run: its folder, per-epoch records and why each unreadable log line was skipped."""

    name: str
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: why", one per skipped line

    @property
    def skipped(self) -> int:
        """How many log lines were skipped."""
        return len(self.problems)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """Epochs and values of one metric, leaving out epochs where it is missing or null."""
        epochs, values = [], []
        for index, record in enumerate(self.records):
            value = record.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                epochs.append(int(record.get("epoch", index)))
                values.append(float(value))
        return epochs, values


def run_folders() -> list[Path]:
    """``runs/`` of this checkout, then every folder in ``$FOCUSMIM_RUNS`` (os.pathsep-separated)."""
    extra = [Path(p).expanduser() for p in os.environ.get(RUNS_ENV, "").split(os.pathsep) if p.strip()]
    return [SHIPPED_DIR.parent / "runs", *extra]


def read_run(folder: str | os.PathLike) -> Run:
    """Read ``folder/metrics.jsonl`` (missing file: a run without records)."""
    folder = Path(folder)
    run = Run(folder.name, folder)
    log = folder / LOG_NAME
    if not log.is_file():
        return run
    for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = bounded_json(line)
            problem = json_problem(record, RECORD_SCHEMA)
        except ValueError as error:
            problem = str(error)
        if problem:
            run.problems.append(f"line {number}: {problem}")
        else:
            run.records.append(record)
    return run


def find_runs(folders: list[Path] | None = None) -> list[Run]:
    """Every run (a folder with ``metrics.jsonl``, itself or one level down) in the folders."""
    runs, seen = [], set()
    for root in folders or run_folders():
        root = Path(root)
        if not root.is_dir():
            continue
        for log in sorted([*root.glob(LOG_NAME), *root.glob(f"*/{LOG_NAME}")]):
            if log.parent.resolve() not in seen:
                seen.add(log.parent.resolve())
                runs.append(read_run(log.parent))
    return runs


def quality_curves(checkpoints: list[CheckpointInfo]) -> dict[str, tuple[list[int], list[float | None]]]:
    """Held-out hidden-region PSNR (dB) after each training session against the images seen so far, per
    checkpoint with a recorded history (``extra["history"]``, written by ``train.ship_demo --continue``)."""
    curves = {}
    for info in checkpoints:
        history = info.metadata.extra.get("history") if info.error is None else None
        if not isinstance(history, list) or not history:
            continue
        seen, xs, ys = 0, [], []
        for entry in history:
            images = entry.get("images") if isinstance(entry, dict) else None
            if not isinstance(images, int) or isinstance(images, bool):
                break
            seen += images
            value = entry.get("after_psnr_hidden")
            xs.append(seen)
            ys.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None)
        if xs:
            curves[info.name] = (xs, ys)
    return curves


def as_percent(value: Any, scale: float) -> float | None:
    """``value * scale`` for a number, ``None`` for anything else (null, missing, text)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return float(value) * scale


@dataclass(frozen=True)
class ProbeRow:
    """One checkpoint's linear-probe accuracy (%) and the paper's for the same setup, kept apart."""

    checkpoint: str
    accuracy: float | None  # ours; None: not measured
    spread: float | None  # ours, over probe seeds; None for a single seed
    knn: float | None
    probe_data: str | None
    paper_setup: str | None  # the paper's Fig. 4 label for this training setup
    paper_accuracy: float | None


def probe_rows(checkpoints: list[CheckpointInfo]) -> list[ProbeRow]:
    """One row per readable checkpoint: our probe accuracy (``None`` if not measured) and the paper's."""
    rows = []
    for info in checkpoints:
        if info.error is not None:  # broken files are listed apart, never set against the paper
            continue
        meta = info.metadata
        probe = (meta.metrics or {}).get("probe") or {}
        paper = paper_condition(meta.mode, meta.fill, meta.random_crop, meta.objective, meta.arch)
        mean = as_percent(probe.get("accuracy_mean"), 1.0)
        scale = 100.0 if mean is not None and mean <= 1 else 1.0  # fractions are shown as percentages
        knn = as_percent(probe.get("knn_accuracy"), 1.0)
        rows.append(
            ProbeRow(
                checkpoint=info.name,
                accuracy=as_percent(mean, scale),
                spread=as_percent(probe_spread(probe), scale),
                knn=as_percent(knn, 100.0 if knn is not None and knn <= 1 else 1.0),
                probe_data=probe.get("dataset"),
                paper_setup=None if paper is None else paper.paper.label,
                paper_accuracy=None if paper is None else paper.paper.accuracy,
            )
        )
    return rows
