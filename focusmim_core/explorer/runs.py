"""Training runs on disk (``metrics.jsonl`` logs) and probe accuracies next to the paper's numbers.

A run folder holds ``metrics.jsonl``: one JSON object per epoch with ``epoch``, ``loss``,
``masked_mse``, ``foreground_mse`` (may be null), ``decorrelation``, ``unit_sparsity``,
``population_sparsity``, ``learning_rate``, ``images_per_second``, ``seconds``, ``images``.
Broken lines (a run killed while writing) are skipped and counted, never fatal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoints import SHIPPED_DIR, CheckpointInfo
from ..masking import MODES

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

# STL-10 linear-probe accuracy (%) read off the paper's Fig. 4: (mode, fill, random crop) -> accuracy
PAPER_ACCURACY: dict[str, float] = {
    "random patches": 70.3,
    "masked periphery": 68.0,
    "foveal filter": 50.0,
    "autoencoder": 47.0,
    "raw pixels": 36.0,
    "periphery without crop augmentation": 56.6,
    "blurry patches": 56.4,
    "blurry periphery": 49.0,
    "CLAPP-BP (contrastive)": 79.0,
    "LPL-BP (contrastive)": 72.5,
}


@dataclass
class Run:
    """One training run: its folder, per-epoch records and how many log lines were unreadable."""

    name: str
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

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
    for line in log.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            run.skipped += 1
            continue
        if isinstance(record, dict):
            run.records.append(record)
        else:
            run.skipped += 1
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


def paper_entry(mode: str, fill: str, random_crop: bool = True) -> str | None:
    """The name of the paper's result for a checkpoint's training setup (``None``: not in the paper)."""
    spec = MODES.get(mode)
    if spec is None:
        return None
    if mode == "periphery" and fill != "blur" and not random_crop:
        return "periphery without crop augmentation"
    return spec.paper_names[fill == "blur"]


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


def probe_spread(probe: dict[str, Any]) -> float | None:
    """The spread over seeds of a probe result, or None when it came from a single seed (nothing to spread)."""
    return None if len(probe.get("seeds") or ()) == 1 else probe.get("accuracy_std")


RANDOM_INIT_PROBE = "random_init_probe.json"  # beside the shipped checkpoints (train.ship_demo --probe)


def random_init_probe(folder: Path = SHIPPED_DIR) -> dict[str, Any] | None:
    """The probe result of a random-init encoder on the shipped checkpoints' probe set, if recorded."""
    try:
        values = json.loads((Path(folder) / RANDOM_INIT_PROBE).read_text())
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) and isinstance(values.get("accuracy_mean"), float) else None


def probe_rows(checkpoints: list[CheckpointInfo]) -> list[dict[str, Any]]:
    """One row per checkpoint: our probe accuracy (``None`` if not measured) and the paper's, clearly apart."""
    rows = []
    for info in checkpoints:
        if info.error is not None:  # broken files are listed apart, never set against the paper
            continue
        meta = info.metadata
        probe = (meta.metrics or {}).get("probe") or {}
        entry = paper_entry(meta.mode, meta.fill, meta.random_crop)
        mean = as_percent(probe.get("accuracy_mean"), 1.0)
        scale = 100.0 if mean is not None and mean <= 1 else 1.0  # fractions are shown as percentages
        knn = as_percent(probe.get("knn_accuracy"), 1.0)
        rows.append(
            {
                "checkpoint": info.name,
                "setup": meta.title(),
                "ours: accuracy %": as_percent(mean, scale),
                "ours: ± std": as_percent(probe_spread(probe), scale),
                "ours: kNN %": as_percent(knn, 100.0 if knn is not None and knn <= 1 else 1.0),
                "ours: probe data": probe.get("dataset"),
                "paper: setup": entry,
                "paper: accuracy % (STL-10)": PAPER_ACCURACY.get(entry) if entry else None,
            }
        )
    return rows
