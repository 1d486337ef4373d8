"""Pretrain the paper's autoencoder with masked image modeling: ``python -m train.pretrain``.

Accepts the reference command line as documented in its README (``--input-path
--output-path --masking-mode --masking-ratio --blur --random-crop --learning-rate --epochs
--seed --segment-path --remove-missing-segments``), plus our options (``--dataset``,
``--fill``, ``--fixation``, ``--attention``, ``--batch-size``, ``--device``,
``--precision``, ``--limit``, ``--resume``, ...). The whole split is kept on the device as
uint8 and every batch is made by batched tensor operations (``focusmim_core.pretraining``).

Writes into ``--output-path``: ``metrics.jsonl`` (one line per epoch), ``best``,
``epoch_0000`` (after the first epoch), every 50th epoch (``epoch_0049``, ``epoch_0099``,
... as the reference counts), and ``last`` (with optimizer, RNG and counters: ``--resume``
continues exactly where a run stopped, ``train.resume``). SIGTERM or Ctrl-C saves ``last``
and exits. Several GPUs: ``torchrun --nproc_per_node G -m train.pretrain ...``
(``--batch-size`` is the global batch; each process holds its shard of the data,
``train.distributed``).
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from focusmim_core import CheckpointMetadata, load_checkpoint, save_checkpoint
from focusmim_core.architectures import ARCHITECTURES, build_model, get_architecture
from focusmim_core.augment import CROP_SCALE
from focusmim_core.errors import CheckpointError, InputError
from focusmim_core.experiments import TRAINER_DEFAULT, TRAINER_DEFAULT_RATE
from focusmim_core.latent_analysis import latent_statistics
from focusmim_core.masking import FILLS, MODES, check_mode
from focusmim_core.model import ConvBlock, UpConvBlock
from focusmim_core.objectives import OBJECTIVES, TARGET_VIEWS, LatentSettings, get_objective, objective_defaults
from focusmim_core.pretraining import (
    ATTENTION_POLICIES,
    FIXATION_POLICIES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    BatchRecipe,
    autocast_dtype,
    make_optimizer,
    prepare_batch,
    scheduled_learning_rate,
    train_step,
)
from focusmim_core.runtime import configure_cpu_allocator
from train.cli import add_config_arguments, check_choices, config_from_args, explicit_options, fail, option, pick_device
from train.distributed import (
    Distributed,
    agreed,
    close_distributed,
    gather_latents,
    init_distributed,
    maximum,
    mean_over_processes,
)
from train.resume import (
    LAST,
    RunStopped,
    StopRequest,
    TrainingState,
    append_jsonl,
    load_last,
    read_counters,
    save_last,
    trim_metrics,
)
from train.training_data import DATASETS, TrainingData, load_training_data

METRICS_FILE = "metrics.jsonl"
__all__ = ["PretrainConfig", "RunStopped", "build_parser", "main", "parse_config", "run", "run_finished"]


@dataclass
class PretrainConfig:
    """Every pretraining setting; defaults are the paper's (Adam, weight decay 1e-8, batch 512, 500 epochs).

    Each field is also a command-line option (``option``: its help, choices and the reference's spellings).
    """

    input_path: str | None = option(None, "STL-10 folder (--dataset stl10) or image folder (--dataset folder)")
    output_path: str = option("runs/pretrain", "the run's folder: checkpoints and metrics.jsonl")
    dataset: str = option("stl10", "training images", choices=DATASETS)
    masking_mode: str = option(
        TRAINER_DEFAULT.mode, "what is hidden (None is the reference's spelling of none)", choices=(*MODES, "None"),
        aliases=("-mm",),
    )  # fmt: skip
    masking_ratio: float = option(
        TRAINER_DEFAULT.ratio, "fraction hidden; the paper's best: 0.6 for random patches, 0.8 for periphery",
        aliases=("-mr",),
    )
    blur: bool = option(False, "the reference's blurry fill flag (same as --fill blur)", aliases=("-b",))
    fill: str | None = option(None, "what replaces the hidden pixels (unset: from --blur)", choices=FILLS)
    random_crop: bool = option(True, "random resized crops", aliases=("-rc",))
    crop_scale: tuple[float, float] = option(CROP_SCALE, "the crops' area range, as fractions of the image")
    learning_rate: float = option(
        TRAINER_DEFAULT_RATE, "the reference's default; its README: 1e-3 for periphery, 5e-3 otherwise",
        aliases=("-lr",),
    )
    schedule: str = option(
        "constant", "constant (the paper's) or cosine (down to --lr-floor at the end of --epochs or --max-minutes)",
        choices=SCHEDULES,
    )  # fmt: skip
    warmup: float = option(0.0, "fraction of the run spent warming the learning rate up linearly from 0")
    weight_decay: float = option(1e-8, "the optimizer's weight decay")
    optimizer: str = option(
        "adam", "adam (the paper's), sgd (plain) or adamw (no decay on biases and norms; ConvNeXt-V2's)",
        choices=OPTIMIZERS,
    )  # fmt: skip
    arch: str = option(
        "cnn_mae", "network: cnn_mae (the paper's CNN) or convnextv2_pico (paper 3.5); an architecture's own "
        "defaults (ARCHITECTURES) apply to the options not given", choices=ARCHITECTURES,
    )  # fmt: skip
    hflip: bool = option(False, "flip half the images horizontally (paper 3.5)")
    objective: str = option(
        "pixel", "pixel (the paper's) or latent (Latent MIM); an objective's own defaults apply to the options "
        "not given", choices=OBJECTIVES,
    )  # fmt: skip
    betas: tuple[float, float] = option((0.9, 0.999), "Adam/AdamW betas")
    lr_floor: float = option(0.0, "cosine schedule: the end as a fraction of --learning-rate")
    target_view: str = option("complement", "latent: what the target encoder sees", choices=TARGET_VIEWS)
    temperature: float = option(0.2, "latent: InfoNCE temperature")
    ema_momentum: tuple[float, float] = option((0.99, 1.0), "latent: EMA momentum at the start and end (cosine)")
    sim_coeff: float = option(0.1, "latent: weight of the similarity regulariser")
    sim_target: tuple[float, float] = option((0.75, 0.25), "latent: target mean similarity s* at the start and end")
    batch_size: int = option(512, "global batch, split over processes")
    epochs: int = option(500, "passes over the data", aliases=("-e",))
    seed: int = option(0, "seeds the weights, the crops, the masks and the order", aliases=("-sd",))
    segment_path: str | None = option(
        None, "foreground file made by python -m train.segment", aliases=("-sp", "--segment_path")
    )
    remove_missing_segments: bool = option(
        False, "drop images the paper's keep heuristic rejects", aliases=("-remms",)
    )
    fixation: str = option(
        "center", "where the eye looks each time an image is shown", choices=FIXATION_POLICIES
    )
    attention: str = option("none", "a second visible region (covert attention)", choices=ATTENTION_POLICIES)
    foreground_loss: bool | None = option(
        None, "weight the loss by foreground confidence (unset: when --segment-path is given)"
    )
    device: str = option("auto", "auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = option("auto", "auto (bf16 on CUDA), fp32 or bf16", choices=PRECISIONS)
    limit: int | None = option(None, "use only the first N images")
    size: int = option(20_000, "images generated for synthetic, photos and mixed data")
    resume: bool = option(False, f"continue from {LAST} in --output-path", switch=True)
    init_from: str | None = option(
        None, "start from this checkpoint's weights with a new optimizer (e.g. to train a shipped one further)"
    )
    save_every: int = option(50, "also keep the weights of every N-th epoch")
    max_minutes: float | None = option(
        None, "stop cleanly at the step that exceeds this budget (the partial epoch is recorded)"
    )
    demo: bool = option(False, "label the checkpoints as small demo checkpoints", switch=True)
    description: str = option("", "free text kept in the checkpoints' metadata")

    def recipe(self) -> BatchRecipe:
        """The batch recipe these settings describe."""
        fill = self.fill or ("blur" if self.blur else "mean")
        foreground_loss = self.segment_path is not None if self.foreground_loss is None else self.foreground_loss
        return BatchRecipe(
            mode=check_mode(self.masking_mode).name,
            ratio=self.masking_ratio,
            fill=fill,
            random_crop=self.random_crop,
            crop_scale=tuple(self.crop_scale),
            fixation=self.fixation,
            attention=self.attention,
            foreground_loss=foreground_loss,
            hflip=self.hflip,
        )

    def latent_settings(self) -> LatentSettings:
        """The latent objective's settings from these flags."""
        return LatentSettings(
            temperature=self.temperature, momentum=tuple(self.ema_momentum), sim_coeff=self.sim_coeff,
            sim_target=tuple(self.sim_target), target_view=self.target_view,
        )  # fmt: skip

    def check(self) -> None:
        """Raise ``InputError`` for values that cannot work."""
        objective = get_objective(self.objective)
        check_choices(self)
        if DATASETS[self.dataset].folder is not None and not self.input_path:
            raise InputError(f"--dataset {self.dataset} needs --input-path: {DATASETS[self.dataset].folder}.")
        for name in ("batch_size", "epochs", "save_every", "size", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1.")
        if not self.learning_rate > 0:
            raise InputError("--learning-rate must be positive.")
        if not 0.0 <= self.warmup < 1.0:
            raise InputError("--warmup is a fraction of the run: give a value in [0, 1).")
        if self.arch not in objective.archs:
            raise InputError(f"--objective {self.objective} works with --arch {' or '.join(objective.archs)}.")
        if objective.modes is not None and check_mode(self.masking_mode).name not in objective.modes:
            raise InputError(f"--objective {self.objective} needs --masking-mode {', '.join(objective.modes)}.")
        if not 0.0 <= self.lr_floor <= 1.0:
            raise InputError("--lr-floor is a fraction of --learning-rate: give a value in [0, 1].")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise InputError("--max-minutes must be positive.")


def with_own_defaults(config: PretrainConfig, given: set[str] | frozenset[str]) -> PretrainConfig:
    """``config`` with its architecture's and its objective's own defaults for the fields not in ``given``."""
    defaults = {**get_architecture(config.arch).defaults, **objective_defaults(config.objective, config.batch_size)}
    return replace(config, **{name: value for name, value in defaults.items() if name not in given})


def build_parser() -> argparse.ArgumentParser:
    """An argument parser generated from ``PretrainConfig``'s fields, with the reference's spellings."""
    parser = argparse.ArgumentParser(
        prog="python -m train.pretrain",
        description="Pretrain the FocusMIM autoencoder (reference command lines are accepted as they are).",
    )
    add_config_arguments(parser, PretrainConfig, bool_values=True)
    return parser


def parse_config(argv: list[str] | None = None) -> PretrainConfig:
    """A ``PretrainConfig`` from command-line arguments; ``--arch`` brings its defaults for options not given."""
    parser = build_parser()
    config = config_from_args(PretrainConfig, parser.parse_args(argv))
    return with_own_defaults(config, set(explicit_options(parser, argv)))


def run_finished(config: PretrainConfig) -> bool:
    """Whether the run in ``config.output_path`` has done all its epochs or used up its ``max_minutes``.

    Read from the counters recorded in ``last.safetensors`` (no weights are loaded); False when
    there is no run yet or the file cannot be read (an interrupted save: resuming will tell).
    """
    counters = read_counters(Path(config.output_path) / LAST)
    if counters is None:
        return False
    out_of_time = config.max_minutes is not None and counters.seconds >= 60.0 * config.max_minutes
    return (counters.epoch >= config.epochs and counters.step == 0) or out_of_time


@dataclass
class Session:
    """What every epoch of one run shares: settings, processes, data, the training state and its DDP wrapper."""

    config: PretrainConfig
    ddp: Distributed
    device: torch.device
    data: TrainingData
    state: TrainingState
    trained: torch.nn.Module  # the model, or its DDP wrapper (what the forward pass runs through)
    precision: torch.dtype | None
    started: float  # time.monotonic() of the run's start, earlier sessions of a resumed run included
    previous: dict[str, Any] = field(default_factory=dict)  # the last epoch's record

    @property
    def local_batch(self) -> int:
        """Images per step on this process."""
        return self.config.batch_size // self.ddp.world

    @property
    def steps_per_epoch(self) -> int:
        """Steps in one pass over this process's shard."""
        return math.ceil(self.data.images.shape[0] / self.local_batch)

    @property
    def output(self) -> Path:
        """The run folder."""
        return Path(self.config.output_path)

    def clock(self) -> tuple[float, bool]:
        """How far the run is in [0, 1] (the larger of steps done and time budget used, counted over
        resumes) and whether the time budget is spent; the same on every process (the maximum)."""
        config, counters, steps = self.config, self.state.counters, self.steps_per_epoch
        done = (counters.epoch * steps + counters.step) / (config.epochs * steps)
        budget = None if config.max_minutes is None else (time.monotonic() - self.started) / (60 * config.max_minutes)
        values = [max(done, budget or 0.0), float(budget is not None and budget > 1.0)]
        clock = maximum(torch.tensor(values, device=self.device), self.ddp)
        return min(float(clock[0]), 1.0), bool(clock[1] > 0)

    def metadata(self, metrics: dict[str, Any]) -> CheckpointMetadata:
        """Checkpoint metadata describing this run after the epochs it has finished."""
        config, recipe = self.config, self.config.recipe()
        return CheckpointMetadata(
            mode=recipe.mode,
            ratio=recipe.ratio if check_mode(recipe.mode).uses_ratio else 0.0,
            fill=recipe.fill,
            data=self.data.description,
            epochs=self.state.counters.epoch,
            learning_rate=config.learning_rate,
            seed=config.seed,
            metrics=metrics,
            fixation=recipe.fixation,
            attention=recipe.attention,
            random_crop=recipe.random_crop,
            foreground_loss=recipe.foreground_loss,
            arch=config.arch,
            objective=config.objective,
            demo=config.demo,
            description=config.description,
            extra={"batch_size": config.batch_size, "command": "python -m train.pretrain " + " ".join(sys.argv[1:])},
        )

    def save_last(self) -> None:
        """Write ``last.safetensors`` where the run stands (the main process only)."""
        self.state.counters.seconds = time.monotonic() - self.started
        if self.ddp.main:
            save_last(self.output / LAST, self.state, self.metadata({"loss": self.state.counters.best_loss}))


def start_session(config: PretrainConfig) -> Session:
    """Check the settings, load the data, build (or resume) model and optimizer: everything before the first step."""
    config.check()
    configure_cpu_allocator()
    device = pick_device(config.device)
    ddp = init_distributed(device)
    if config.batch_size % ddp.world:
        raise InputError(f"--batch-size {config.batch_size} must be divisible by the {ddp.world} processes.")
    last_path = Path(config.output_path) / LAST
    if ddp.main:
        prepare_output(config)
    resuming = config.resume and last_path.exists()
    data = load_training_data(config, device, ddp.rank, ddp.world)
    config.recipe().check(data.foreground is not None)
    model = build_trained_model(config, device)
    if config.init_from is not None and not resuming:
        start_from_checkpoint(model, Path(config.init_from), config.arch, config.objective)
    optimizer = make_optimizer(config.optimizer, model, config.learning_rate, config.weight_decay, config.betas)
    generators = {
        "batches": torch.Generator(device=device).manual_seed(config.seed * 1_000_003 + ddp.rank),
        "order": torch.Generator(device=device).manual_seed(config.seed * 7_919 + 17 + ddp.rank),
    }
    state = TrainingState(model, optimizer, generators)
    if resuming:
        load_last(last_path, state)
    trained = torch.nn.parallel.DistributedDataParallel(model) if ddp.world > 1 else model
    session = Session(config, ddp, device, data, state, trained, autocast_dtype(config.precision, device),
                      time.monotonic() - state.counters.seconds)  # fmt: skip
    if ddp.main:
        announce(session, resuming)
    return session


def prepare_output(config: PretrainConfig) -> None:
    """Make the run folder; ``InputError`` when it is a file, or holds a run and ``--resume`` is not given."""
    output = Path(config.output_path)
    blocking = next((path for path in (output, *output.parents) if path.exists() and not path.is_dir()), None)
    if blocking is not None:
        raise InputError(
            f"--output-path {output}: {blocking} is a file, not a folder. "
            "Give a folder (new or holding a run), or move the file away."
        )
    output.mkdir(parents=True, exist_ok=True)
    if not config.resume and (output / LAST).exists():
        raise InputError(
            f"{output} already holds a run ({LAST}): add --resume to continue it, or choose another --output-path."
        )


def build_trained_model(config: PretrainConfig, device: torch.device) -> torch.nn.Module:
    """The network ``config`` trains: its architecture, wrapped by its objective, seeded, on ``device``."""
    torch.manual_seed(config.seed)
    model = get_objective(config.objective).wrap(build_model(config.arch), config.latent_settings())
    for module in model.modules():  # skips that are identities never use match_dim: freeze it (needed by DDP)
        if isinstance(module, ConvBlock | UpConvBlock) and module.in_channels == module.out_channels:
            module.match_dim.requires_grad_(False)
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def start_from_checkpoint(
    model: torch.nn.Module, path: Path, arch: str = "cnn_mae", objective: str = "pixel"
) -> None:
    """Load a checkpoint's weights into ``model`` (float32, strict); ``CheckpointError`` when it cannot."""
    try:
        source, meta = load_checkpoint(path)
    except CheckpointError:
        raise
    except Exception as error:  # a user's file of any content: whatever its reader raises is a bad checkpoint
        raise CheckpointError(f"--init-from {path} is not a readable checkpoint ({type(error).__name__}).") from None
    if meta.arch != arch:
        raise CheckpointError(f"--init-from {path} holds a {meta.arch} network, not {arch}: give --arch {meta.arch}.")
    if meta.objective != objective:
        raise CheckpointError(
            f"--init-from {path} was trained with the {meta.objective} objective, not {objective}: "
            f"give --objective {meta.objective}."
        )
    model.load_state_dict({k: v.float() for k, v in source.state_dict().items()}, strict=True)


def announce(session: Session, resumed: bool) -> None:
    """Print what the run does (and where a resumed run picks up)."""
    config, counters, data = session.config, session.state.counters, session.data
    if resumed:
        dropped = trim_metrics(session.output / METRICS_FILE, counters.epoch)
        print(
            f"Resuming at epoch {counters.epoch + 1}, step {counters.step} of {session.steps_per_epoch} "
            f"({counters.images_seen:,} images done)"
            + (f"; dropped {dropped} log line(s) written after that checkpoint." if dropped else "."),
            flush=True,
        )
    elif config.resume:
        print(f"No {session.output / LAST} yet: starting a new run.", flush=True)
    recipe = config.recipe()
    print(
        f"{data.description}: {data.images.shape[0] * session.ddp.world} images, batch {config.batch_size}, "
        f"{session.steps_per_epoch} steps per epoch on {session.device}; {config.arch}, {config.objective} "
        f"objective; mode {recipe.mode}, ratio {recipe.ratio}, fill {recipe.fill}.",
        flush=True,
    )


@dataclass
class EpochResult:
    """How an epoch's loop ended: stopped by a signal, out of time, and its last latent and mean logs."""

    stopped: bool = False
    time_up: bool = False
    latent: torch.Tensor | None = None
    logs: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def train_one_epoch(session: Session, bar: tqdm, stop: StopRequest) -> EpochResult:
    """Run the steps left in the current epoch (fewer when the time budget ends or a stop is requested)."""
    config, state, ddp = session.config, session.state, session.ddp
    counters, started, result = state.counters, time.monotonic(), EpochResult()
    if counters.step == 0 or state.permutation is None:
        count = session.data.images.shape[0]
        state.permutation = torch.randperm(count, generator=state.generators["order"], device=session.device)
    recipe, objective, sums = config.recipe(), get_objective(config.objective), {}
    while counters.step < session.steps_per_epoch:
        fraction, result.time_up = session.clock()
        if result.time_up:
            break
        set_learning_rate(state.optimizer, config, fraction)
        index = state.permutation[counters.step * session.local_batch : (counters.step + 1) * session.local_batch]
        foreground = session.data.foreground[index] if session.data.foreground is not None else None
        batch = prepare_batch(session.data.images[index], foreground, recipe, state.generators["batches"])
        loss_fn = partial(objective.loss, core=state.model, fraction=fraction)
        loss, result.latent, logs = train_step(session.trained, state.optimizer, batch, session.precision, loss_fn)
        for name, value in logs.items():
            sums[name] = sums.get(name, 0.0) + float(value)
        counters.loss_sum += float(loss)
        counters.images_seen += index.numel() * ddp.world
        counters.step += 1
        bar.update(1)
        bar.set_postfix(epoch=counters.epoch + 1, loss=f"{float(loss):.5f}")
        if agreed(stop.requested, ddp, session.device):
            result.stopped = True
            break
    result.logs = {name: total / max(counters.step, 1) for name, total in sums.items()}
    result.seconds = time.monotonic() - started
    return result


def set_learning_rate(optimizer: torch.optim.Optimizer, config: PretrainConfig, fraction: float) -> None:
    """Put the scheduled learning rate for ``fraction`` of the run into every parameter group."""
    rate = scheduled_learning_rate(config.learning_rate, fraction, config.schedule, config.warmup, config.lr_floor)
    for group in optimizer.param_groups:
        group["lr"] = rate


def epoch_record(session: Session, epoch: EpochResult) -> dict[str, Any]:
    """Close an epoch: its log line (mean loss over processes and steps, latent statistics, speed), and the
    counters moved to the next epoch's start."""
    config, counters, ddp = session.config, session.state.counters, session.ddp
    epoch_images = min(counters.step * session.local_batch, session.data.images.shape[0]) * ddp.world
    loss = mean_over_processes(counters.loss_sum / max(counters.step, 1), ddp, session.device)
    pixel, weighted = config.objective == "pixel", config.recipe().foreground_loss
    record: dict[str, Any] = {
        "epoch": counters.epoch + 1,
        "loss": loss,
        "masked_mse": loss if pixel and not weighted else None,
        "foreground_mse": loss if pixel and weighted else None,
        "learning_rate": session.state.optimizer.param_groups[0]["lr"],
        "images": counters.images_seen,
    }
    latent = gather_latents(epoch.latent, ddp)
    if latent is not None and latent.shape[0] >= 2 and ddp.main:  # statistics need a batch of two or more
        record.update(latent_statistics(latent))
    record.update(epoch.logs)
    record["seconds"] = epoch.seconds
    record["images_per_second"] = epoch_images / max(epoch.seconds, 1e-9)
    counters.epoch += 1
    counters.step = 0
    counters.loss_sum = 0.0
    counters.history.append({"epoch": record["epoch"], "loss": loss})
    session.state.permutation = None  # the next epoch draws its own order
    return record


def save_epoch_checkpoints(session: Session, record: dict[str, Any]) -> None:
    """The reference's checkpoints (best, epoch 0, every ``save_every``-th) plus ``last``."""
    counters, output, model = session.state.counters, session.output, session.state.model
    epoch_index = counters.epoch - 1  # zero-based, as the reference names its files
    kept = ("loss", "decorrelation", "unit_sparsity", "population_sparsity")
    meta = session.metadata({k: record.get(k) for k in kept})
    if record["loss"] < counters.best_loss:
        counters.best_loss = record["loss"]
        save_checkpoint(output / "best.safetensors", model, meta)
    if epoch_index == 0 or counters.epoch % session.config.save_every == 0:
        save_checkpoint(output / f"epoch_{epoch_index:04d}.safetensors", model, meta)
    save_last(output / LAST, session.state, meta)


def close_epoch(session: Session, epoch: EpochResult) -> None:
    """Log and checkpoint a finished epoch (``InputError`` when its loss is not finite)."""
    config, counters = session.config, session.state.counters
    record = epoch_record(session, epoch)
    counters.seconds = time.monotonic() - session.started
    if session.ddp.main:
        append_jsonl(session.output / METRICS_FILE, record)
        save_epoch_checkpoints(session, record)
        warn_of_collapse(record, session.previous, config)
    session.previous = record
    if not math.isfinite(record["loss"]):
        raise InputError(
            f"The loss became {record['loss']} in epoch {record['epoch']}: lower --learning-rate. "
            f"The checkpoints written before are kept in {session.output}."
        )


def warn_of_collapse(record: dict[str, Any], previous: dict[str, Any], config: PretrainConfig) -> None:
    """Latent objective: warn when a mean similarity stays above the collapse threshold (above it, and not
    lower than in the epoch before; a random CNN starts above it on flat regions)."""
    limit = config.latent_settings().collapse
    high = {
        k: v for k, v in record.items()
        if k.startswith("avg_sim_") and v > limit and k in previous and v >= previous[k]
    }  # fmt: skip
    if high:
        values = ", ".join(f"{k} {v:.3f}" for k, v in high.items())
        tqdm.write(f"Warning: epoch {record['epoch']} {values} above {limit}: the "
                   "latents may be collapsing (lower --learning-rate, or raise --sim-coeff).")  # fmt: skip


def run(config: PretrainConfig) -> Path:
    """Train as ``config`` says; returns the output folder. Raises ``InputError``/``DatasetError`` for bad input,
    ``RunStopped`` when a signal stopped it (its state saved)."""
    session = start_session(config)
    counters = session.state.counters
    bar = tqdm(
        total=config.epochs * session.steps_per_epoch,
        initial=counters.epoch * session.steps_per_epoch + counters.step,
        disable=not session.ddp.main,
        unit="step",
        dynamic_ncols=True,
    )
    try:
        with StopRequest() as stop:
            while counters.epoch < config.epochs:
                epoch = train_one_epoch(session, bar, stop)
                if epoch.stopped:
                    session.save_last()
                    if session.ddp.main:
                        tqdm.write(f"Saved {session.output / LAST}; continue with --resume.")
                    raise RunStopped(session.output)
                if counters.step > 0:  # 0: the time budget ran out before this epoch's first step
                    close_epoch(session, epoch)
                if epoch.time_up or session.clock()[1]:
                    if session.ddp.main:
                        tqdm.write(f"Time budget of {config.max_minutes} min reached after {counters.epoch} epochs.")
                    break
    finally:
        bar.close()
    return session.output


def unwritable(error: OSError, output: str) -> InputError:
    """The message for a file that could not be written: what failed, and what to do about it."""
    where = f" {error.filename}" if error.filename else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = f"free some space and continue with --resume --output-path {output}"
    else:
        advice = f"make --output-path {output} a folder you can write to, then continue with --resume"
    return InputError(
        f"Could not write{where} ({error.strerror or error}). Every file written before is intact "
        f"(writes are atomic): {advice}."
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (2 for bad input, with a message, no traceback)."""
    finished = False
    try:
        config = parse_config(argv)
        try:
            output = run(config)
        except RunStopped as stop:  # saved where it stood: --resume continues to the same weights
            output = stop.output
        finished = True
    except InputError as error:  # DatasetError and CheckpointError included
        return fail(error)
    except OSError as error:  # a full disk or a folder that vanished while saving: the files before are intact
        return fail(unwritable(error, config.output_path))
    finally:
        close_distributed(finished)
    print(json.dumps({"output_path": str(output)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
