"""The paper's experiment grids, one command: ``python -m train.grid GRID --out GRID_DIR``.

    python -m train.grid fig4 --dry-run                              # the 40 cells and their commands
    python -m train.grid fig4 --out runs/fig4 --input-path data/stl10 # locally, cell after cell
    python -m train.grid fig4 --out runs/fig4 --input-path data/stl10 --gpus 4   # one cell per GPU
    python -m train.grid fig4 --out runs/fig4 --launcher torchrun --nproc-per-node 8
    python -m train.grid fig4 --out /shared/fig4 --launcher slurm --partition gpu --gpus-per-job 1 \\
        --time-limit 1440 --array-parallelism 20
    python -m train.grid report runs/fig4                            # Fig. 4: table and bar chart

A grid is conditions x seeds; its conditions are the entries of ``focusmim_core.experiments``
tagged with its name (``ratios`` and ``convnext`` vary their ratio or learning rate). Each cell
pretrains (``python -m train.pretrain``, always with ``--resume``), then probes its
``best.safetensors`` (``python -m train.probe``, 5 seeds), and appends one line to
``GRID_DIR/results.jsonl``. Running a grid again skips the cells in ``results.jsonl`` and
resumes interrupted ones from their ``last.safetensors``. Every option of ``train.pretrain``
given here (``--epochs 50``, ``--dataset synthetic``...) overrides the grid for all its cells.
On SLURM (through submitit) a cell that is preempted or reaches its time limit stops its
trainer cleanly (SIGTERM: it saves ``last.safetensors``) and is requeued, up to
``--max-requeues`` times. Exit status 2 with a message for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from focusmim_core.checkpoints import write_json
from focusmim_core.data import PROBE_DATASETS
from focusmim_core.errors import InputError
from focusmim_core.experiments import PAPER_CONVNEXT_RATES, Condition, grid_conditions
from focusmim_core.masking import MODES
from focusmim_core.results import (
    RESULTS_FILE,
    SETTINGS_FILE,
    append_result,
    cell_count,
    markdown_table,
    read_grid_settings,
    read_results,
    summarise_results,
)

from .cli import UNSET, add_config_arguments, config_argv, fail, whole_number
from .pretrain import PretrainConfig, run_finished, with_own_defaults
from .probe import RAW_PIXELS

PRETRAIN_PREFIX = [sys.executable, "-m", "train.pretrain"]
PROBE_PREFIX = [sys.executable, "-m", "train.probe"]
LOG_TAIL = 2_000  # characters of a failed command's log shown in its error


@dataclass(frozen=True)
class Grid:
    """A named experiment grid: conditions x seeds, with what it needs from the command line."""

    name: str
    description: str
    conditions: tuple[Condition, ...]
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    needs: tuple[str, ...] = ()  # PretrainConfig fields that must be given (e.g. segment_path)
    settings: tuple[tuple[str, Any], ...] = ()  # PretrainConfig fields every cell of this grid sets


def variant(condition: Condition, name: str, label: str, **changes: Any) -> Condition:
    """``condition`` with other settings under another name; the paper's number was measured for the original."""
    return replace(condition, name=name, label=label, paper=None, demo=None, **changes)


def at_ratio(condition: Condition, ratio: float) -> Condition:
    """``condition`` at another masking ratio (itself at its own)."""
    if ratio == condition.ratio:
        return condition
    mode = condition.mode
    return variant(condition, f"{mode}_{ratio:.1f}", f"{MODES[mode].label} {ratio:.1f}", ratio=ratio)


def whole_loss(condition: Condition) -> Condition:
    """``condition`` with its loss on the whole hidden region even where a segmentation is given."""
    if condition.foreground_loss is not None:
        return condition
    return variant(condition, condition.name, f"{condition.label}, whole loss", foreground_loss=False)


def build_grids() -> dict[str, Grid]:
    """The grids, their conditions read from ``focusmim_core.experiments``."""
    ratios = [r / 10 for r in range(1, 10)]
    grids = (
        Grid("fig4", "Fig. 4: the masking conditions and the raw-pixel baseline (paper 3.2-3.4)",
             tuple(grid_conditions("fig4"))),
        Grid("ratios", "Paper 3.3: masking ratio 0.1-0.9 for random patches and the masked periphery",
             tuple(at_ratio(c, ratio) for c in grid_conditions("ratios") for ratio in ratios)),
        Grid("convnext", "Paper 3.5: ConvNeXt-V2-Pico, random patches and the central cells, 3 rates",
             tuple(variant(c, f"{c.name}_lr{rate:g}", f"{c.label}, lr {rate:g}", learning_rate=rate)
                   for rate in PAPER_CONVNEXT_RATES for c in grid_conditions("convnext"))),
        Grid("foreground", "Paper 3.7: loss on the object, covert attention",
             tuple(whole_loss(c) for c in grid_conditions("foreground")), needs=("segment_path",),
             settings=(("remove_missing_segments", True),)),
    )  # fmt: skip
    return {grid.name: grid for grid in grids}


GRIDS = build_grids()


@dataclass(frozen=True)
class Cell:
    """One condition at one seed, in its grid folder."""

    condition: Condition
    seed: int
    cells: Path  # the grid folder's folder of cells

    @property
    def id(self) -> str:
        """The cell's name, its folder's and its key in ``results.jsonl``: ``CONDITION-sSEED``."""
        return f"{self.condition.name}-s{self.seed}"

    @property
    def folder(self) -> Path:
        """The cell's run folder."""
        return self.cells / self.id


@dataclass
class GridRun:
    """A grid with the settings of one run of it: where, how to launch, what the command line overrides."""

    grid: Grid
    folder: Path
    overrides: dict[str, Any] = field(default_factory=dict)  # PretrainConfig fields for every cell
    seeds: tuple[int, ...] | None = None
    only: tuple[str, ...] | None = None  # condition names
    launcher: str = "local"
    nproc_per_node: int = 1
    probe_seeds: int = 5
    probe_dataset: str | None = None  # default: stl10 for STL-10 pretraining, else synthetic
    probe_limit: int | None = None

    def cells(self) -> list[Cell]:
        """Every cell, condition-major."""
        conditions = [c for c in self.grid.conditions if self.only is None or c.name in self.only]
        seeds = self.seeds if self.seeds is not None else self.grid.seeds
        return [Cell(c, seed, self.folder / "cells") for c in conditions for seed in seeds]

    def pretrain_config(self, cell: Cell) -> PretrainConfig:
        """The cell's ``train.pretrain`` settings: paper defaults, the grid's and the condition's, the overrides,
        its seed."""
        config = replace(PretrainConfig(), **{**self.cell_settings(cell), **self.overrides})
        given = set(self.cell_settings(cell)) | set(self.overrides)
        config = with_own_defaults(config, given)  # ConvNeXt-V2: paper 3.5's settings where not set
        return replace(config, seed=cell.seed, output_path=str(cell.folder), resume=True)

    def cell_settings(self, cell: Cell) -> dict[str, Any]:
        """The ``PretrainConfig`` fields the grid and the cell's condition set."""
        return {**dict(self.grid.settings), **cell.condition.pretrain_settings()}

    def pretrain_command(self, cell: Cell) -> list[str]:
        """The cell's pretraining command line (torchrun for ``--launcher torchrun``)."""
        shown = ("dataset", "epochs", *self.cell_settings(cell))  # explicit even at defaults
        argv = config_argv(self.pretrain_config(cell), bool_values=True, flags=("resume", "demo"), always=shown)
        if self.nproc_per_node > 1:
            prefix = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
            return [*prefix, f"--nproc-per-node={self.nproc_per_node}", "-m", "train.pretrain", *argv]
        return [*PRETRAIN_PREFIX, *argv]

    def probe_command(self, cell: Cell) -> list[str]:
        """The cell's probe command line: its ``best.safetensors`` (or the raw pixels), ``probe_seeds`` seeds."""
        config = self.pretrain_config(cell)
        dataset = self.probe_dataset or (config.dataset if config.dataset in PROBE_DATASETS else "synthetic")
        target = str(cell.folder / "best.safetensors") if cell.condition.pretrain else RAW_PIXELS
        argv = [target, "--dataset", dataset, "--seeds", str(self.probe_seeds), "--device", config.device]
        if not cell.condition.pretrain:  # no network differs between its cells: each probes other seeds
            argv += ["--first-seed", str(cell.seed * self.probe_seeds)]
        if dataset == "stl10" and config.input_path:
            argv += ["--data-root", config.input_path]
        if self.probe_limit is not None:
            argv += ["--limit", str(self.probe_limit)]
        return [*PROBE_PREFIX, *argv]

    def settings(self) -> dict[str, Any]:
        """What ``SETTINGS_FILE`` records: the grid, the conditions and seeds run, overrides and probe settings."""
        cells = self.cells()
        return {
            "grid": self.grid.name,
            "conditions": [c.name for c in self.grid.conditions if any(cell.condition == c for cell in cells)],
            "seeds": sorted({cell.seed for cell in cells}),
            "overrides": self.overrides,
            "probe": {"seeds": self.probe_seeds, "dataset": self.probe_dataset, "limit": self.probe_limit},
        }


PROTOCOL = ("grid", "overrides", "probe")  # settings every cell of one grid folder shares


class CellFailed(Exception):
    """A cell's command exited with an error; the message names the cell and its log."""


class Interrupted(Exception):
    """A cell's trainer was stopped by a signal after saving ``last.safetensors``: resume later."""


CHILDREN: set[subprocess.Popen] = set()  # the running trainers and probes (signals are forwarded to them)


def run_command(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` with its output appended to ``log``; returns its exit status and last stdout line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {shlex.join(command)}\n")
        handle.flush()
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=handle, env={**os.environ, **(env or {})}, text=True
        )
        CHILDREN.add(child)
        try:
            stdout, _ = child.communicate()
        finally:
            CHILDREN.discard(child)
        handle.write(stdout)
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    return subprocess.CompletedProcess(command, child.returncode, last, "")


def stop_children(signum: int = signal.SIGTERM) -> None:
    """Ask every running trainer or probe to stop (the trainer saves ``last.safetensors`` first)."""
    for child in list(CHILDREN):
        if child.poll() is None:
            child.send_signal(signum)


def log_tail(log: Path) -> str:
    """The end of a cell's log, for an error message."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return text[-LOG_TAIL:].strip()


def pretrain_cell(grid_run: GridRun, cell: Cell, env: dict[str, str] | None = None) -> None:
    """Pretrain a cell to its end (resuming what is there); raises ``CellFailed`` or ``Interrupted``."""
    config = grid_run.pretrain_config(cell)
    if run_finished(config):
        return
    log = cell.folder / "pretrain.log"
    result = run_command(grid_run.pretrain_command(cell), log, env)
    if result.returncode != 0:
        raise CellFailed(f"{cell.id}: pretraining exited with status {result.returncode}; {log}:\n{log_tail(log)}")
    if not run_finished(config):
        raise Interrupted(f"{cell.id}: pretraining stopped before its end; it resumes from {cell.folder}.")


def probe_grid_cell(grid_run: GridRun, cell: Cell, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Probe a cell's encoder; the probe's JSON summary. Raises ``CellFailed``."""
    log = cell.folder / "probe.log"
    result = run_command(grid_run.probe_command(cell), log, env)
    try:
        summary = json.loads(result.stdout) if result.returncode == 0 else None
    except json.JSONDecodeError:
        summary = None
    if not isinstance(summary, dict) or "accuracy_mean" not in summary:
        raise CellFailed(f"{cell.id}: the probe exited with status {result.returncode}; {log}:\n{log_tail(log)}")
    return summary


def run_cell(grid_run: GridRun, cell: Cell, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Pretrain and probe one cell unless ``results.jsonl`` has it; its result record."""
    done = read_results(grid_run.folder).get(cell.id)
    if done is not None:
        return done
    started = time.monotonic()
    if cell.condition.pretrain:
        pretrain_cell(grid_run, cell, env)
    summary = probe_grid_cell(grid_run, cell, env)
    record = {
        "cell": cell.id,
        "condition": cell.condition.name,
        "label": cell.condition.label,
        "paper": cell.condition.name if cell.condition.paper is not None else None,
        "seed": cell.seed,
        "accuracy_mean": summary["accuracy_mean"],
        "accuracy_std": summary["accuracy_std"],
        "accuracies": summary.get("accuracies"),
        "knn_accuracy": summary.get("knn_accuracy"),
        "checkpoint": str(cell.folder / "best.safetensors") if cell.condition.pretrain else None,
        "final_loss": last_loss(cell.folder),
        "seconds": round(time.monotonic() - started, 1),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    append_result(grid_run.folder, record)
    return record


def last_loss(folder: Path) -> float | None:
    """The last epoch's training loss in a run folder's ``metrics.jsonl`` (None without one)."""
    path = folder / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    try:
        return float(json.loads(lines[-1])["loss"]) if lines else None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def prepare(grid_run: GridRun) -> list[Cell]:
    """Check the grid run, create or reopen its folder (refusing other settings); the cells still to run."""
    missing = [name for name in grid_run.grid.needs if not grid_run.overrides.get(name)]
    if missing:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise InputError(f"The {grid_run.grid.name} grid needs {flags}.")
    for cell in grid_run.cells():
        grid_run.pretrain_config(cell).check()
    grid_run.folder.mkdir(parents=True, exist_ok=True)
    settings, path = grid_run.settings(), grid_run.folder / SETTINGS_FILE
    if path.is_file():
        saved = read_grid_settings(grid_run.folder)
        if {k: saved.get(k) for k in PROTOCOL} != json.loads(json.dumps({k: settings[k] for k in PROTOCOL})):
            raise InputError(
                f"{grid_run.folder} holds a grid run with other settings ({path}): give the same options "
                "to continue it, or another --out for a new one."
            )
        names = set(saved.get("conditions", [])) | set(settings["conditions"])  # more conditions or seeds: fine
        settings["conditions"] = [c.name for c in grid_run.grid.conditions if c.name in names]
        settings["seeds"] = sorted(set(saved.get("seeds", [])) | set(settings["seeds"]))
    write_json(path, settings)
    done = read_results(grid_run.folder)
    return [cell for cell in grid_run.cells() if cell.id not in done]


def run_local(grid_run: GridRun, cells: list[Cell], gpus: int) -> int:
    """Run ``cells`` here: one after another, or ``gpus`` at a time, one per GPU. Exit status."""
    pending, failures, stop = list(cells), [], threading.Event()
    lock = threading.Lock()
    bar = tqdm(total=len(cells), unit="cell", dynamic_ncols=True)

    def worker(gpu: int | None) -> None:
        env = None if gpu is None else {"CUDA_VISIBLE_DEVICES": str(gpu)}
        while not stop.is_set():
            with lock:
                if not pending:
                    return
                cell = pending.pop(0)
            try:
                record = run_cell(grid_run, cell, env)
                tqdm.write(f"{cell.id}: probe {100 * record['accuracy_mean']:.1f} %")
            except Interrupted as error:
                tqdm.write(str(error))
                stop.set()
            except CellFailed as error:
                failures.append(str(error))
                tqdm.write(str(error))
            bar.update(1)

    def on_signal(signum: int, frame: object) -> None:
        tqdm.write("Stopping: the running cells save their progress; run the same command again to resume.")
        stop.set()
        stop_children(signal.SIGTERM)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        threads = [threading.Thread(target=worker, args=(gpu,)) for gpu in (range(gpus) if gpus > 1 else [None])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        bar.close()
    if failures:
        print(f"{len(failures)} cell(s) failed; fix the cause and run the same command again.", file=sys.stderr)
        return 1
    return 3 if stop.is_set() else 0


class CellJob:
    """A cell as a submitit job; on preemption or time-out its trainer saves, and the job is requeued."""

    def __call__(self, grid_run: GridRun, cell: Cell) -> dict[str, Any]:
        """Run the cell (``run_cell``)."""
        return run_cell(grid_run, cell)

    def __submitit_checkpoint__(self, grid_run: GridRun, cell: Cell) -> Any:
        """Stop the running trainer (it saves ``last.safetensors``), then requeue this cell as it was given."""
        import submitit

        stop_children(signal.SIGTERM)
        for child in list(CHILDREN):
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
        return submitit.helpers.DelayedSubmission(CellJob(), grid_run, cell)


def submitit_executor(grid_run: GridRun, args: argparse.Namespace) -> Any:
    """A submitit executor for SLURM (``--launcher slurm``) or this machine (``submitit-local``)."""
    import submitit

    cluster = "local" if args.launcher == "submitit-local" else "slurm"
    try:
        executor = submitit.AutoExecutor(
            folder=grid_run.folder / "submitit" / "%j", cluster=cluster, slurm_max_num_timeout=args.max_requeues
        )
    except RuntimeError as error:  # no srun: not on a SLURM cluster
        raise InputError(f"--launcher slurm cannot submit from here ({error}); try --launcher local.") from None
    executor.update_parameters(
        name=f"focusmim-{grid_run.grid.name}",
        timeout_min=args.time_limit,
        gpus_per_node=args.gpus_per_job,
        tasks_per_node=1,
        cpus_per_task=args.cpus_per_task,
        slurm_partition=args.partition,
        slurm_array_parallelism=args.array_parallelism,
        slurm_mem_per_gpu=f"{args.mem_gb_per_gpu}G" if args.mem_gb_per_gpu and args.gpus_per_job else None,
    )
    return executor


def run_submitit(grid_run: GridRun, cells: list[Cell], args: argparse.Namespace) -> int:
    """Submit ``cells`` as one job array; with ``--wait`` (always for submitit-local) wait for the results."""
    if not cells:
        return 0
    executor = submitit_executor(grid_run, args)
    jobs = executor.map_array(CellJob(), [grid_run] * len(cells), cells)
    (grid_run.folder / "jobs.jsonl").open("a").write(
        "".join(json.dumps({"cell": c.id, "job": j.job_id}) + "\n" for c, j in zip(cells, jobs, strict=True))
    )
    print(f"Submitted {len(jobs)} cell(s) as job array {jobs[0].job_id.split('_')[0]}; logs in {executor.folder}.")
    if not (args.wait or args.launcher == "submitit-local"):
        print(f"Results collect in {grid_run.folder / RESULTS_FILE}; `python -m train.grid report {grid_run.folder}`.")
        return 0
    failures = 0
    for cell, job in tqdm(list(zip(cells, jobs, strict=True)), unit="cell", dynamic_ncols=True):
        try:
            record = job.result()
            tqdm.write(f"{cell.id}: probe {100 * record['accuracy_mean']:.1f} %")
        except Exception as error:  # submitit re-raises the job's own error with its traceback as text
            failures += 1
            tqdm.write(f"{cell.id} failed ({type(error).__name__}); its log: {job.paths.stderr}")
    return 1 if failures else 0


def dry_run(grid_run: GridRun, cells: list[Cell]) -> int:
    """Print every cell and its commands; run nothing."""
    total = len(grid_run.cells())
    print(f"{grid_run.grid.name}: {total} cells ({total - len(cells)} already in {RESULTS_FILE}) in {grid_run.folder}")
    for cell in cells:
        print(f"# {cell.id}")
        if cell.condition.pretrain:
            print(shlex.join(grid_run.pretrain_command(cell)))
        print(shlex.join(grid_run.probe_command(cell)))
    return 0


def report(folder: Path) -> int:
    """Print the grid's table and write ``report.md`` and ``report.html`` (the bar chart) into it."""
    from focusmim_core.explorer.figures import grid_chart

    if not (folder / SETTINGS_FILE).is_file():
        raise InputError(f"{folder} is not a grid folder (no {SETTINGS_FILE}): give the --out of a grid run.")
    settings, results = read_grid_settings(folder), read_results(folder)
    summaries = summarise_results(settings, results)
    table = markdown_table(summaries)
    head = f"Grid `{settings.get('grid')}` in {folder}: {len(results)} of {cell_count(settings)} cells finished."
    (folder / "report.md").write_text(f"{head}\n\n{table}\n")
    grid_chart(summaries).write_html(folder / "report.html", include_plotlyjs=True)
    print(f"{head}\n\n{table}\n\nWritten {folder / 'report.md'} and {folder / 'report.html'}.")
    return 0


PER_CELL = {"output_path": "--out", "seed": "--seeds", "resume": "nothing: cells always resume"}  # set by the grid


def add_grid_options(parser: argparse.ArgumentParser) -> None:
    """The grid's own options: where, which cells, the launcher and the probe."""
    parser.add_argument("--out", type=Path, default=None, help="the grid folder (default: runs/grids/GRID)")
    parser.add_argument(
        "--seeds", type=whole_number(0), nargs="+", default=None, help="pretraining seeds (default: the grid's)"
    )
    parser.add_argument("--only", nargs="+", default=None, help="run only these conditions")
    parser.add_argument("--launcher", choices=("local", "torchrun", "slurm", "submitit-local"), default="local")
    parser.add_argument("--gpus", type=whole_number(1), default=1, help="local: cells at once, one per GPU")
    parser.add_argument(
        "--nproc-per-node", type=whole_number(1), default=1, help="torchrun/slurm: processes (GPUs) per cell"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the cells and their commands, run nothing")
    parser.add_argument("--probe-seeds", type=whole_number(1), default=5)
    parser.add_argument("--probe-dataset", choices=PROBE_DATASETS, default=None)
    parser.add_argument("--probe-limit", type=whole_number(1), default=None, help="images per probe split (quick runs)")
    slurm = parser.add_argument_group("slurm (through submitit)")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--gpus-per-job", type=whole_number(0), default=1)
    slurm.add_argument("--cpus-per-task", type=int, default=10)
    slurm.add_argument("--mem-gb-per-gpu", type=int, default=None)
    slurm.add_argument("--time-limit", type=int, default=24 * 60, help="minutes per job")
    slurm.add_argument("--array-parallelism", type=int, default=64, help="jobs of the array running at once")
    slurm.add_argument("--max-requeues", type=int, default=3, help="requeues after reaching the time limit")
    slurm.add_argument("--wait", action="store_true", help="wait for the jobs and show their results")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.grid``: ``GRID``, the grid's options and any ``train.pretrain`` option
    (for every cell), or ``report GRID_DIR``. A ``train.pretrain`` option not given reads ``UNSET``."""
    parser = argparse.ArgumentParser(
        prog="python -m train.grid", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="grid", required=True, metavar="{" + ",".join([*GRIDS, "report"]) + "}")
    report_command = commands.add_parser("report", help="write the table and chart of a grid folder")
    report_command.add_argument("folder", type=Path, help="the --out of a grid run")
    for grid in GRIDS.values():
        # no abbreviations: --seed (a trainer option) must not be read as --seeds
        cells = commands.add_parser(grid.name, help=grid.description, allow_abbrev=False)
        add_grid_options(cells)
        add_config_arguments(cells.add_argument_group("train.pretrain options"), PretrainConfig, bool_values=True)
        cells.set_defaults(**{item.name: UNSET for item in fields(PretrainConfig)})  # to tell the given ones
    return parser


def pretrain_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``train.pretrain`` options given on the grid's command line, as ``PretrainConfig`` fields."""
    given = {item.name: getattr(args, item.name) for item in fields(PretrainConfig)}
    given = {name: value for name, value in given.items() if value is not UNSET}
    for name, instead in PER_CELL.items():
        if name in given:
            raise InputError(f"--{name.replace('_', '-')} is set per cell by the grid: use {instead}.")
    return {name: tuple(value) if isinstance(value, list) else value for name, value in given.items()}


def parse_grid_run(argv: Sequence[str]) -> tuple[GridRun, argparse.Namespace]:
    """The grid run and the launcher options from a command line (``GRID ...``, not ``report``)."""
    args = build_parser().parse_args(list(argv))
    if args.grid == "report":
        raise InputError("Give a grid to run, not report: python -m train.grid GRID [options].")
    grid = GRIDS[args.grid]
    unknown = sorted(set(args.only or ()) - {c.name for c in grid.conditions})
    if unknown:
        raise InputError(
            f"--only: {', '.join(unknown)} not in {grid.name}: {', '.join(c.name for c in grid.conditions)}."
        )
    nproc = args.nproc_per_node if args.launcher in ("torchrun", "slurm", "submitit-local") else 1
    grid_run = GridRun(
        grid=grid,
        folder=args.out or Path("runs/grids") / grid.name,
        overrides=pretrain_overrides(args),
        seeds=tuple(args.seeds) if args.seeds else None,
        only=tuple(args.only) if args.only else None,
        launcher=args.launcher,
        nproc_per_node=nproc,
        probe_seeds=args.probe_seeds,
        probe_dataset=args.probe_dataset,
        probe_limit=args.probe_limit,
    )
    return grid_run, args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run (or dry-run) a grid, or ``report SWEEP_DIR``. Exit 2 with a message for bad input."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["report"]:
            return report(build_parser().parse_args(argv).folder)
        grid_run, args = parse_grid_run(argv)
        if args.dry_run:
            done = read_results(grid_run.folder)
            return dry_run(grid_run, [c for c in grid_run.cells() if c.id not in done])
        cells = prepare(grid_run)
        if args.launcher in ("slurm", "submitit-local"):
            return run_submitit(grid_run, cells, args)
        return run_local(grid_run, cells, args.gpus if args.launcher == "local" else 1)
    except InputError as error:
        return fail(error)


if __name__ == "__main__":
    sys.exit(main())
