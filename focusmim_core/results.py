"""Linear-probe results on disk: an experiment grid's folder, and the random-init baseline of the demos.

A grid folder (``python -m train.grid``) holds ``sweep.json`` (the grid, its conditions in
order, seeds and the flags that override the grid) and ``results.jsonl``: one JSON line per
finished cell with its condition, seed and linear-probe accuracies (fractions in [0, 1]).
``summarise`` turns them into one record per condition, mean and sample standard deviation
over seeds in percent, next to the paper's Fig. 4 number where the condition mirrors one
(``focusmim_core.experiments``). Beside the shipped checkpoints, ``random_init_probe.json``
holds a random-init encoder's probe result on their probe set.
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

from .checkpoints import NUMBER, SHIPPED_DIR, ListOf, Nullable, bounded_json, json_problem
from .errors import InputError
from .experiments import paper_accuracy_of

SETTINGS_FILE = "sweep.json"  # its name kept so that grid folders already on disk still open
RESULTS_FILE = "results.jsonl"
RANDOM_INIT_PROBE = "random_init_probe.json"  # beside the shipped checkpoints (train.ship_demo --probe)
SETTINGS_SCHEMA = {"grid": (str,), "conditions": ListOf((str,)), "seeds": ListOf((int,)), "overrides": (dict,)}
RESULT_FIELDS = ("cell", "condition", "accuracy_mean")  # what every result line names
RESULT_SCHEMA = {"cell": (str,), "condition": (str,), "accuracy_mean": NUMBER, "label": (str,),
                 "paper": Nullable((str,)), "paper_entry": Nullable((str,))}  # fmt: skip
BASELINE_SCHEMA = {"accuracy_mean": (float,), "accuracy_std": Nullable(NUMBER), "knn_accuracy": Nullable(NUMBER)}


@dataclass(frozen=True)
class ConditionSummary:
    """One condition of a grid over its finished seeds: accuracy in percent."""

    name: str
    label: str
    seeds: int
    mean: float
    std: float
    paper: float | None


def is_grid_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a grid's folder (holds ``sweep.json``)."""
    return (Path(folder) / SETTINGS_FILE).is_file()


def find_grid_folders(root: str | os.PathLike, depth: int = 2) -> list[Path]:
    """Grid folders at ``root`` or up to ``depth`` levels below it, sorted by path."""
    root = Path(root)
    found = [root] if is_grid_folder(root) else []
    for level in range(1, depth + 1):
        found += [path.parent for path in root.glob("/".join(["*"] * level) + "/" + SETTINGS_FILE)]
    return sorted(set(found))


def read_grid_settings(folder: str | os.PathLike) -> dict[str, Any]:
    """The grid folder's ``sweep.json`` (grid name, conditions, seeds, overrides); ``InputError`` if unreadable."""
    path = Path(folder) / SETTINGS_FILE
    try:
        settings = bounded_json(path.read_bytes())
        problem = json_problem(settings, SETTINGS_SCHEMA)
    except (OSError, ValueError) as error:
        problem = str(error)
    if problem:
        raise InputError(f"{path} cannot be read as a grid's settings file ({problem}): give a grid run's --out.")
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


def read_result_lines(folder: str | os.PathLike) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Finished cells by cell id (the last record of a cell wins), and why each skipped line was skipped
    (``line N: why``): cut short by a crash (that cell simply runs again), nested too deeply, or mistyped."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        return {}, []
    results, problems = {}, []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        try:
            record = bounded_json(line)
            problem = json_problem(record, RESULT_SCHEMA, RESULT_FIELDS)
        except ValueError as error:
            problem = str(error)
        if problem:
            problems.append(f"line {number}: {problem}")
        else:
            results[record["cell"]] = record
    return results, problems


def read_results(folder: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Finished cells by cell id (the last record of a cell wins); unreadable lines are skipped."""
    return read_result_lines(folder)[0]


def cell_count(settings: dict[str, Any]) -> int:
    """A grid's cells, from its settings: conditions times pretraining seeds."""
    return len(settings.get("conditions", [])) * len(settings.get("seeds", []))


def summarise(folder: str | os.PathLike) -> list[ConditionSummary]:
    """One summary per condition with at least one finished cell, in the grid's order."""
    return summarise_results(read_grid_settings(folder), read_results(folder))


def summarise_results(settings: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[ConditionSummary]:
    """``summarise`` of settings and finished cells already read: one summary per condition, in the grid's order."""
    order = settings.get("conditions", [])
    by_condition: dict[str, list[dict[str, Any]]] = {}
    for record in results.values():
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
                paper=paper_accuracy_of(records[0].get("paper") or records[0].get("paper_entry")),
            )
        )
    return summaries


def markdown_table(summaries: list[ConditionSummary]) -> str:
    """The summaries as a Markdown table (what ``python -m train.grid report`` prints)."""
    lines = ["| condition | seeds | probe % (mean ± std) | paper % (Fig. 4) |", "|---|---|---|---|"]
    for item in summaries:
        paper = "–" if item.paper is None else f"{item.paper:.1f}"
        lines.append(f"| {item.label} | {item.seeds} | {item.mean:.1f} ± {item.std:.1f} | {paper} |")
    return "\n".join(lines)


def probe_spread(probe: dict[str, Any]) -> float | None:
    """The spread over seeds of a probe result, or None when it came from a single seed (nothing to spread)."""
    return None if len(probe.get("seeds") or ()) == 1 else probe.get("accuracy_std")


def random_init_probe(folder: Path = SHIPPED_DIR) -> dict[str, Any] | None:
    """The probe result of a random-init encoder on the shipped checkpoints' probe set; None when none is recorded.
    ``InputError`` naming the file and the problem when it is unreadable."""
    path = Path(folder) / RANDOM_INIT_PROBE
    if not path.is_file():
        return None
    try:
        values = bounded_json(path.read_bytes())
        problem = json_problem(values, BASELINE_SCHEMA, ("accuracy_mean",))
    except (OSError, ValueError) as error:
        problem = str(error)
    if problem:
        raise InputError(f"{path} is not a probe result ({problem}): write it again with train.ship_demo --probe.")
    return values
