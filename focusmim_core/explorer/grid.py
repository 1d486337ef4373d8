"""Results of an experiment grid (``python -m train.sweep``): one sweep folder, summarised per condition.

A sweep folder holds ``sweep.json`` (the grid, its conditions in order, seeds and the flags
that override the grid) and ``results.jsonl``: one JSON line per finished cell with its
condition, seed and linear-probe accuracies (fractions in [0, 1]). ``summarise`` turns
them into one row per condition, mean and sample standard deviation over seeds in percent,
next to the paper's Fig. 4 number where the condition mirrors one.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .runs import PAPER_ACCURACY

SWEEP_FILE = "sweep.json"
RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True)
class ConditionSummary:
    """One condition of a sweep over its finished seeds: accuracy in percent."""

    name: str
    label: str
    seeds: int
    mean: float
    std: float
    paper: float | None

    def row(self) -> dict[str, Any]:
        """A table row: condition, seeds, mean ± std and the paper's number."""
        return {
            "condition": self.label,
            "seeds": self.seeds,
            "probe % (mean)": round(self.mean, 1),
            "± std": round(self.std, 1),
            "paper %": self.paper,
        }


def is_sweep(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a sweep folder (holds ``sweep.json``)."""
    return (Path(folder) / SWEEP_FILE).is_file()


def find_sweeps(root: str | os.PathLike, depth: int = 2) -> list[Path]:
    """Sweep folders at ``root`` or up to ``depth`` levels below it, sorted by path."""
    root = Path(root)
    found = [root] if is_sweep(root) else []
    for level in range(1, depth + 1):
        found += [path.parent for path in root.glob("/".join(["*"] * level) + "/" + SWEEP_FILE)]
    return sorted(set(found))


def read_sweep(folder: str | os.PathLike) -> dict[str, Any]:
    """The sweep's ``sweep.json`` (grid name, conditions, seeds, overrides); ``InputError`` if unreadable."""
    path = Path(folder) / SWEEP_FILE
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path} cannot be read ({error}): it is not a sweep's settings file.") from None
    if not isinstance(settings, dict):
        raise InputError(f"{path} is not a sweep's settings file (a JSON object is expected).")
    return settings


def append_result(folder: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append one cell's record to ``results.jsonl`` under a file lock (cells may finish at once)."""
    line = json.dumps(record, sort_keys=True) + "\n"
    with open(Path(folder) / RESULTS_FILE, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_results(folder: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Finished cells by cell id (the last record of a cell wins); unreadable lines are skipped."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        return {}
    results = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a crash: that cell simply runs again
            continue
        if _is_record(record):
            results[record["cell"]] = record
    return results


def _is_record(record: object) -> bool:
    """Whether a parsed line is a cell's result (names and a numeric accuracy), not something else."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("cell"), str)
        and isinstance(record.get("condition"), str)
        and isinstance(record.get("accuracy_mean"), int | float)
    )


def summarise(folder: str | os.PathLike) -> list[ConditionSummary]:
    """One summary per condition with at least one finished cell, in the grid's order."""
    order = read_sweep(folder).get("conditions", [])
    by_condition: dict[str, list[dict[str, Any]]] = {}
    for record in read_results(folder).values():
        by_condition.setdefault(record["condition"], []).append(record)
    names = [name for name in order if name in by_condition] + sorted(set(by_condition) - set(order))
    summaries = []
    for name in names:
        records = by_condition[name]
        values = [100.0 * float(record["accuracy_mean"]) for record in records]
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            continue
        summaries.append(
            ConditionSummary(
                name=name,
                label=records[0].get("label", name),
                seeds=len(finite),
                mean=statistics.fmean(finite),
                std=statistics.stdev(finite) if len(finite) > 1 else 0.0,
                paper=PAPER_ACCURACY.get(records[0].get("paper_entry") or ""),
            )
        )
    return summaries


def markdown_table(summaries: list[ConditionSummary]) -> str:
    """The summaries as a Markdown table (what ``python -m train.sweep report`` prints)."""
    lines = ["| condition | seeds | probe % (mean ± std) | paper % (Fig. 4) |", "|---|---|---|---|"]
    for item in summaries:
        paper = "–" if item.paper is None else f"{item.paper:.1f}"
        lines.append(f"| {item.label} | {item.seeds} | {item.mean:.1f} ± {item.std:.1f} | {paper} |")
    return "\n".join(lines)
