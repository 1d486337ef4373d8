"""Train the small demo checkpoints the app ships, and write ``checkpoints/README.md``.

``python -m train.ship_demo`` trains one checkpoint per demo of ``focusmim_core.experiments``
with ``train.pretrain`` on offline data (the gallery photos stay out), stores each as float16
safetensors in ``checkpoints/`` and evaluates it on the held-out gallery photos
(``focusmim_core.evaluation``). ``--continue --budget-minutes M`` trains the shipped checkpoints
further from their own weights, the budget split evenly between them; a run whose headline
metric came out worse than the shipped file's is not shipped. Each run is recorded in the
checkpoint's history. ``--probe`` linear-probes the checkpoints and a random-init encoder;
``--table-only`` only rewrites the README table from the checkpoints' metadata.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from dataclasses import replace
from pathlib import Path

import torch

from focusmim_core import Autoencoder, CheckpointMetadata, load_checkpoint, save_checkpoint
from focusmim_core.checkpoints import SHIPPED_DIR, read_metadata, write_json
from focusmim_core.data import OFFLINE_PHOTO_DATASETS
from focusmim_core.errors import InputError
from focusmim_core.evaluation import (
    LATENT_KEY,
    METRICS_KEY,
    evaluate_latent,
    evaluate_reconstruction,
    stored_latent,
    stored_report,
)
from focusmim_core.experiments import DEMO_LEARNING_RATE
from focusmim_core.model import inference_model
from focusmim_core.probe import probe_encoder, record_probe_result, synthetic_probe_data
from focusmim_core.results import RANDOM_INIT_PROBE
from train.cli import fail
from train.demo_readme import PROBE_SIZES, write_table
from train.demos import DEMOS, GOALS, DemoSpec
from train.pretrain import PretrainConfig, RunStopped, run, with_own_defaults


def device_name() -> str:
    """A short description of the device training runs on."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    threads = torch.get_num_threads()
    return f"CPU ({platform.machine()}, {threads} thread{'s' * (threads != 1)})"


def pretrain_command(config: PretrainConfig) -> str:
    """The ``python -m train.pretrain`` command line that runs ``config`` (recorded in the metadata)."""
    defaults = PretrainConfig()
    parts = ["python -m train.pretrain"]
    for name in (
        "dataset", "size", "masking_mode", "masking_ratio", "fill", "objective", "optimizer", "weight_decay", "betas",
        "fixation", "batch_size", "learning_rate", "schedule", "warmup", "lr_floor", "epochs", "max_minutes", "seed",
        "init_from", "output_path",
    ):  # fmt: skip
        value, option = getattr(config, name), "--" + name.replace("_", "-")
        if value is not None and (value != getattr(defaults, name) or name in ("dataset", "masking_mode")):
            shown = " ".join(f"{v:g}" for v in value) if isinstance(value, tuple) else value
            parts.append(f"{option} {value:g}" if isinstance(value, float) else f"{option} {shown}")
    return " ".join(parts + (["--demo"] if config.demo else []))


OPTIMIZER_NAMES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}


def after_values(measured: dict) -> dict:
    """Held-out metrics as a history entry records them: ``after_psnr_hidden``, ``after_gain``, ... (pixel
    objective) or ``after_latent_cosine`` (latent objective)."""
    cosine = stored_latent(measured)
    if cosine is not None:
        return {"after_latent_cosine": round(cosine, 4)}
    report = stored_report(measured)
    return {f"after_{k}": v for k, v in report.to_dict().items() if k != "views"}


def held_out_metrics(model: torch.nn.Module, spec: DemoSpec) -> dict:
    """The held-out metrics a shipped checkpoint's metadata carries: the gallery report, or for a
    latent-objective checkpoint its mean latent cosine on the same views."""
    if spec.objective == "latent":
        return {LATENT_KEY: {"latent_cosine": evaluate_latent(model, spec.mode, spec.ratio, spec.fill), "views": 40}}
    return {METRICS_KEY: evaluate_reconstruction(model, spec.mode, spec.ratio, spec.fill).to_dict()}


SHIPPED_MARK = "shipped.json"  # written into a run folder once its weights replaced the shipped ones


def demo_config(
    spec: DemoSpec, base: PretrainConfig, output: Path, minutes: float | None, description: str,
    init_from: Path | None = None,
) -> PretrainConfig:
    """The run that trains ``spec`` into ``output`` for ``minutes``: afresh, or from the weights ``init_from``
    (resuming ``output`` if a run there was interrupted); the demo's own rate, and its objective's settings."""
    config = replace(
        base, output_path=str(output), masking_mode=spec.mode, masking_ratio=spec.ratio or 0.5, fill=spec.fill,
        fixation=spec.fixation, max_minutes=minutes, demo=True, description=description,
        init_from=None if init_from is None else str(init_from),
        resume=init_from is not None and (output / "last.safetensors").is_file(),
    )  # fmt: skip
    return objective_config(config, spec)


def history_entry(config: PretrainConfig, images: int, seconds: float, measured: dict) -> dict:
    """One ``extra["history"]`` entry: date, images, minutes, device, recipe, command and the metrics after."""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "images": images,
        "minutes": round(seconds / 60, 1),
        "device": device_name(),
        "recipe": f"batch {config.batch_size}, {OPTIMIZER_NAMES[config.optimizer]} lr {config.learning_rate:g}, "
        f"{config.objective} objective, {config.schedule} "
        f"(warm-up {config.warmup:g}), {config.dataset} data ({config.size} images), {config.fixation} fixations",
        "command": pretrain_command(config),
        **after_values(measured),
    }


def continued_extra(previous: CheckpointMetadata, entry: dict, epochs: int, seconds: float, batch_size: int) -> dict:
    """The shipped file's ``extra`` after a continued run: totals (images, seconds, epochs) and history added up."""
    extra = previous.extra
    return extra | {  # a new dict: the previous metadata is left as it was
        "command": entry["command"],
        "device": entry["device"],
        "images_seen": int(extra.get("images_seen", 0)) + entry["images"],
        "train_seconds": round(float(extra.get("train_seconds", 0)) + seconds, 1),
        "epochs_run": int(extra.get("epochs_run", previous.epochs)) + epochs,
        "history": [*extra.get("history", []), entry],
        "batch_size": batch_size,
    }


def ship(
    target: Path, model: torch.nn.Module, meta: CheckpointMetadata, previous: CheckpointMetadata, measured: dict
) -> None:
    """Save ``model`` over ``target`` in float16, ``meta``'s metrics merged over the previous file's and ``measured``.

    The previous probe results are dropped: they were measured on the weights this replaces.
    """
    stale = ("probe", "probe_runs")
    kept = {k: v for k, v in previous.metrics.items() if k not in stale}
    meta.metrics = {**kept, **{k: v for k, v in meta.metrics.items() if v is not None}, **measured}
    save_checkpoint(target, model, meta, dtype=torch.float16)


def continue_demo(
    spec: DemoSpec,
    base: PretrainConfig,
    output: Path,
    minutes: float,
    folder: Path = SHIPPED_DIR,
    always_ship: bool = False,
) -> dict:
    """Train a shipped checkpoint further from its weights for ``minutes``; update it, its metadata and history.

    The optimizer restarts (warm-up, then cosine to 0 at the end of the budget); the run's
    final weights replace the shipped ones, ``images_seen`` and ``train_seconds`` accumulate,
    and ``extra["history"]`` gains one entry (date, images, minutes, device, recipe, PSNRs). A
    run whose headline metric (``headline``) came out worse than the shipped file's is not shipped.
    A run folder ``output`` that already holds an interrupted run (``last.safetensors``) is
    resumed where it stopped, its time budget counted over both parts. Raises ``InputError`` for a
    shipped file without history (not trained by this tool).
    """
    target = folder / f"{spec.name}.safetensors"
    previous = read_metadata(target)
    if not previous.extra.get("history"):
        raise InputError(
            f"{target} has no training history: train it first with python -m train.ship_demo --only {spec.name}."
        )
    config = demo_config(spec, base, output, minutes, previous.description, init_from=target)
    run(config)
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    seconds = sum(record["seconds"] for record in records)  # over every part of a resumed run
    model, meta = load_checkpoint(output / "last.safetensors")
    model = model.half().float()  # measured as shipped: float16 weights
    measured = held_out_metrics(model, spec)
    images = records[-1]["images"]
    entry = history_entry(config, images, seconds, measured)
    before, after = headline(previous.metrics, spec), headline(measured, spec)
    if not always_ship and before is not None and after is not None and after < before - SHIPPING_MARGIN:
        write_json(output / SHIPPED_MARK, {**entry, "kept_previous": True, "before": before})
        print(f"{spec.name}: {after:.3f} after {images:,} more images is worse than the shipped {before:.3f}; "
              "the shipped weights are kept (the run stays in its folder).", flush=True)  # fmt: skip
        return entry
    extra = continued_extra(previous, entry, len(records), seconds, config.batch_size)
    meta.extra, meta.epochs = extra, previous.epochs + len(records)  # meta.data: this session's data
    ship(target, model, meta, previous, measured)
    write_json(output / SHIPPED_MARK, entry)
    print(f"{spec.name}: {images:,} more images -> {extra['images_seen']:,}; {after_values(measured)}", flush=True)
    return entry


# How much of its headline metric (dB; cosine for latent demos) a continued run may lose and still be shipped:
# two runs of one recipe end this far apart, and refusing them would stall a checkpoint on noise.
SHIPPING_MARGIN = 0.05


def headline(metrics: dict, spec: DemoSpec) -> float | None:
    """The number a continued run must not make worse: a latent demo's cosine, else its first goal's metric
    (``train.demos.GOALS``; the whole-image PSNR without one)."""
    if spec.objective == "latent":
        return stored_latent(metrics)
    report = stored_report(metrics)
    metric = next((goal.metric for goal in GOALS if goal.checkpoint == spec.name), "psnr_whole")
    return None if report is None else getattr(report, metric)


def objective_config(config: PretrainConfig, spec: DemoSpec) -> PretrainConfig:
    """``config`` for ``spec``: its objective's optimiser settings, the demo's own rate, schedule, warm-up and data."""
    config = replace(
        config, objective=spec.objective, learning_rate=spec.learning_rate or config.learning_rate,
        dataset=spec.dataset or config.dataset, size=spec.size or config.size,
    )  # fmt: skip
    return with_own_defaults(config, {"learning_rate", "schedule", "warmup"})


def train_demo(spec: DemoSpec, base: PretrainConfig, runs: Path, minutes: float | None) -> Path:
    """Train one demo checkpoint and store it (float16, with metadata) in ``checkpoints/``."""
    output = runs / spec.name
    if output.exists():
        shutil.rmtree(output)
    description = f"{spec.label}: small demo checkpoint trained on the CPU in minutes, not the paper's model"
    config = demo_config(spec, base, output, minutes, description)
    command = pretrain_command(config)
    started = time.monotonic()
    run(config)
    seconds = time.monotonic() - started
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    model, meta = load_checkpoint(output / "best.safetensors")
    meta.extra.update(
        {
            "command": command,
            "device": device_name(),
            "train_seconds": round(seconds, 1),
            "epochs_run": len(records),
            "images_seen": records[-1]["images"],
        }
    )
    target = SHIPPED_DIR / f"{spec.name}.safetensors"
    save_checkpoint(target, model, meta, dtype=torch.float16)
    measured = held_out_metrics(load_checkpoint(target)[0], spec)  # as shipped: float16 weights
    meta.metrics.update(measured)
    meta.extra["history"] = [history_entry(config, meta.extra["images_seen"], seconds, measured)]
    write_json(target.with_suffix(".json"), meta.to_dict())
    return target


def probe_demos(folder: Path = SHIPPED_DIR, seeds: tuple[int, ...] = (0,), names: list[str] | None = None) -> None:
    """Linear-probe the shipped checkpoints ``names`` on the procedural set; without names, all of them and a
    random-init encoder.

    Paper protocol (Adam 1e-4, early stopping on the validation split) on ``PROBE_SIZES``
    scenes; results go into each checkpoint's metadata and ``random_init_probe.json``.
    """
    data = synthetic_probe_data(**PROBE_SIZES)
    for spec in DEMOS:
        path = folder / f"{spec.name}.safetensors"
        if path.exists() and (names is None or spec.name in names):
            model, _ = load_checkpoint(path)
            result = probe_encoder(inference_model(model.float()), data, seeds)
            print(spec.name, f"{result.accuracy_mean:.3f}", flush=True)
            record_probe_result(path, result)
    if names is not None:
        return
    torch.manual_seed(0)
    result = probe_encoder(inference_model(Autoencoder()), data, seeds)
    print("random init", f"{result.accuracy_mean:.3f}", flush=True)
    write_json(folder / RANDOM_INIT_PROBE, {**result.to_dict(), "sizes": PROBE_SIZES, "init_seed": 0})


def base_config(args: argparse.Namespace, **changes) -> PretrainConfig:
    """The pretraining settings every demo checkpoint shares (offline data: mixed by default), from the command line."""
    return PretrainConfig(
        dataset=args.dataset or DEFAULT_DATASET, size=args.size or DEFAULT_SIZE, batch_size=args.batch_size,
        learning_rate=args.learning_rate or DEFAULT_RATE, **changes,
    )  # fmt: skip


DEFAULT_RATE = DEMO_LEARNING_RATE  # for the demos without their own rate and no --learning-rate
DEFAULT_DATASET, DEFAULT_SIZE = "mixed", 8192  # the data of the demos without their own and no --dataset / --size


def chosen_demos(args: argparse.Namespace) -> list[DemoSpec]:
    """The demos ``--only`` names (all without it); an explicit ``--learning-rate``, ``--dataset`` or ``--size``
    replaces their own."""
    chosen = [spec for spec in DEMOS if args.only is None or spec.name in args.only]
    given = {name: getattr(args, name) for name in ("learning_rate", "dataset", "size")}
    return [replace(spec, **{name: value for name, value in given.items() if value is not None}) for spec in chosen]


def continue_all(args: argparse.Namespace) -> int:
    """``--continue``: train every chosen shipped checkpoint further, an even part of the budget each."""
    if not args.resume and (not args.budget_minutes or args.budget_minutes <= 0):
        print("--continue needs --budget-minutes (the total training time in minutes).", flush=True)
        return 2
    session = continue_session(args)
    chosen = chosen_demos(args)
    base = base_config(args, schedule=args.schedule, warmup=args.warmup, epochs=10_000)  # the budget ends each run
    folder = Path(args.checkpoints)
    for spec in chosen:
        minutes = args.budget_minutes / len(chosen)
        output = session / spec.name
        if (output / SHIPPED_MARK).is_file():
            print(f"== {spec.name}: already trained and shipped in this session", flush=True)
            continue
        print(f"== {spec.name}: {minutes:.1f} min", flush=True)
        continue_demo(spec, base, output, minutes, folder, args.always_ship)
        print(write_table(folder), flush=True)
    return 0


def continue_session(args: argparse.Namespace) -> Path:
    """The folder of this ``--continue`` session; with ``--resume`` the newest one, its settings taken
    over from its ``session.json`` (so that an interrupted session ends as it would have)."""
    runs = Path(args.runs)
    settings = ("budget_minutes", "dataset", "size", "batch_size", "learning_rate", "schedule", "warmup", "only",
                "always_ship")  # fmt: skip
    if args.resume:
        sessions = sorted(runs.glob("*/session.json"))
        if not sessions:
            raise InputError(f"No --continue session in {runs} to resume: start one without --resume.")
        saved = json.loads(sessions[-1].read_text())
        for name in settings:
            setattr(args, name, saved.get(name, getattr(args, name)))  # older sessions lack newer settings
        print(f"Resuming the session in {sessions[-1].parent}", flush=True)
        return sessions[-1].parent
    session = runs / time.strftime("%Y%m%d-%H%M%S")
    session.mkdir(parents=True, exist_ok=False)
    write_json(session / "session.json", {name: getattr(args, name) for name in settings})
    return session


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.ship_demo``."""
    parser = argparse.ArgumentParser(prog="python -m train.ship_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per checkpoint (the same for every mode)")
    parser.add_argument("--minutes", type=float, default=None, help="optional time budget per checkpoint")
    parser.add_argument(
        "--size", type=int, default=None,
        help=f"training images of every chosen checkpoint; default: their own (focusmim_core.experiments), "
        f"else {DEFAULT_SIZE}",
    )
    parser.add_argument(
        "--dataset",
        choices=OFFLINE_PHOTO_DATASETS,
        default=None,
        help="offline training data of every chosen checkpoint, half procedural scenes and half photo crops, or "
        "photo crops only; default: their own (focusmim_core.experiments), else mixed",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help=f"Adam's rate for every chosen checkpoint, their own rates (focusmim_core.experiments) included; "
        f"default: their own, else {DEFAULT_RATE:g}",
    )
    parser.add_argument("--only", nargs="*", default=None, help="names of the checkpoints to train")
    parser.add_argument(
        "--continue",
        dest="resume_shipped",
        action="store_true",
        help="train the shipped checkpoints further from their weights (needs --budget-minutes)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="with --continue: total training time, split evenly between the chosen checkpoints",
    )
    parser.add_argument("--schedule", default="cosine", help="with --continue: constant or cosine")
    parser.add_argument(
        "--resume", action="store_true", help="with --continue: finish the newest interrupted session in --runs"
    )
    parser.add_argument("--checkpoints", default=str(SHIPPED_DIR), help="with --continue: the folder trained")
    parser.add_argument("--warmup", type=float, default=0.02, help="with --continue: warm-up fraction of each run")
    parser.add_argument(
        "--always-ship",
        action="store_true",
        help="with --continue: replace a shipped checkpoint even when the run made its headline metric worse",
    )
    parser.add_argument("--runs", default="runs/demo", help="where the training runs are kept")
    parser.add_argument("--table-only", action="store_true", help="do not train; rewrite checkpoints/README.md")
    parser.add_argument(
        "--probe", action="store_true", help="probe the chosen checkpoints first (without --only: a random init too)"
    )
    parser.add_argument("--probe-seeds", type=int, nargs="+", default=[0], help="seeds of the probe (mean and spread)")
    return parser


STOPPED_EXIT = 130  # SIGTERM or Ctrl-C: the run saved where it stood and nothing was shipped


def main(argv: list[str] | None = None) -> int:
    """Train (or re-tabulate) the demo checkpoints."""
    args = build_parser().parse_args(argv)
    try:
        return train_chosen(args)
    except InputError as error:
        return fail(error)
    except RunStopped as stop:
        again = ("python -m train.ship_demo --continue --resume finishes the session" if args.resume_shipped
                 else "run the same command to train afresh")  # fmt: skip
        print(f"Stopped: {stop.output} is saved where it stood and nothing was shipped; {again}.", flush=True)
        return STOPPED_EXIT


def train_chosen(args: argparse.Namespace) -> int:
    """What ``main`` does once the command line is read: continue, train afresh, probe, re-tabulate."""
    if args.resume_shipped and not args.table_only:
        return continue_all(args)
    if not args.table_only:
        base = base_config(args, epochs=args.epochs)
        for spec in chosen_demos(args):
            print(f"== {spec.name}", flush=True)
            print(train_demo(spec, base, Path(args.runs), args.minutes), flush=True)
    if args.probe:
        probe_demos(SHIPPED_DIR, tuple(args.probe_seeds), args.only)
    print(write_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
