"""Pretrain the paper's autoencoder with masked image modeling: ``python -m train.pretrain``.

Accepts the reference command line as documented in its README (``--input-path
--output-path --masking-mode --masking-ratio --blur --random-crop --learning-rate --epochs
--seed --segment-path --remove-missing-segments``), plus our options (``--dataset``,
``--fill``, ``--fixation``, ``--attention``, ``--batch-size``, ``--device``,
``--precision``, ``--limit``, ``--resume``, ...). The whole split is kept on the device as
uint8 and every batch is made by batched tensor operations (``focusmim_core.pretraining``).

Writes into ``--output-path``: ``metrics.jsonl`` (one line per epoch), ``best``,
``epoch_0000`` (after the first epoch), every 50th epoch (``epoch_0049``, ``epoch_0099``,
... as the reference counts), and ``last`` (with optimizer, RNG and progress: ``--resume``
continues exactly where a run stopped). SIGTERM or Ctrl-C saves ``last`` and exits.
Several GPUs: ``torchrun --nproc_per_node G -m train.pretrain ...`` (``--batch-size`` is
the global batch; each process holds its shard of the data).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from focusmim_core import CheckpointMetadata, load_checkpoint, save_checkpoint
from focusmim_core.architectures import build_model, get_architecture
from focusmim_core.augment import CROP_SCALE
from focusmim_core.checkpoints import TRAINER_PREFIX, atomic_write, sidecar_path, write_json
from focusmim_core.errors import CheckpointError, InputError
from focusmim_core.latent import latent_statistics
from focusmim_core.masking import check_mode
from focusmim_core.model import ConvBlock, UpConvBlock
from focusmim_core.objectives import TARGET_VIEWS, LatentSettings, get_objective, objective_defaults
from focusmim_core.pretraining import (
    OPTIMIZERS,
    SCHEDULES,
    BatchRecipe,
    autocast_dtype,
    make_optimizer,
    prepare_batch,
    scheduled_learning_rate,
    train_step,
)
from focusmim_core.runtime import configure_cpu_allocator
from train.cli import add_config_arguments, config_from_args, explicit_options, fail, pick_device
from train.training_data import DATASETS, TrainingData, load_training_data

METRICS_FILE = "metrics.jsonl"


@dataclass
class PretrainConfig:
    """Every pretraining setting; defaults are the paper's (Adam, weight decay 1e-8, batch 512, 500 epochs)."""

    input_path: str | None = None  # STL-10 folder (stl10) or image folder (folder)
    output_path: str = "runs/pretrain"
    dataset: str = "stl10"  # stl10 | synthetic | photos | mixed | folder
    masking_mode: str = "random_patches"  # none/None | random_patches | periphery | periphery_square | foveate
    masking_ratio: float = 0.6  # paper's best: 0.6 for random patches, 0.8 for periphery
    blur: bool = False  # reference flag: blurry fill (same as --fill blur)
    fill: str | None = None  # mean | blur; default from --blur
    random_crop: bool = True
    crop_scale: tuple[float, float] = CROP_SCALE
    learning_rate: float = 1e-3  # reference default; its README: 1e-3 periphery, 5e-3 otherwise
    schedule: str = "constant"  # constant (paper, reference) | cosine (to 0 at the end of the epochs or time budget)
    warmup: float = 0.0  # fraction of the run with a linear learning-rate warm-up
    weight_decay: float = 1e-8
    optimizer: str = "adam"  # adam (the paper's) | sgd (plain, e.g. for exact comparisons) | adamw (ConvNeXt)
    arch: str = "cnn_mae"  # cnn_mae (the paper's) | convnextv2_pico (paper 3.5; its own defaults, ARCH_DEFAULTS)
    hflip: bool = False  # flip half the images horizontally (paper 3.5)
    objective: str = "pixel"  # pixel (the paper's) | latent (Latent MIM; its own defaults)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam/AdamW betas
    lr_floor: float = 0.0  # cosine schedule: the end as a fraction of --learning-rate
    target_view: str = "complement"  # latent: what the target encoder sees (complement | full)
    temperature: float = 0.2  # latent: InfoNCE temperature
    ema_momentum: tuple[float, float] = (0.99, 1.0)  # latent: EMA momentum at the start and end (cosine)
    sim_coeff: float = 0.1  # latent: weight of the similarity regulariser
    sim_target: tuple[float, float] = (0.75, 0.25)  # latent: target mean similarity s* at the start and end
    batch_size: int = 512  # global batch, split over processes
    epochs: int = 500
    seed: int = 0
    segment_path: str | None = None  # uint8 foreground file from python -m train.segment
    remove_missing_segments: bool = False  # drop images the paper's keep heuristic rejects
    fixation: str = "center"  # center | uniform | foreground
    attention: str = "none"  # none | random | foreground
    foreground_loss: bool | None = None  # weight the loss by foreground; default: when --segment-path is given
    device: str = "auto"
    precision: str = "auto"  # auto (bf16 on CUDA) | fp32 | bf16
    limit: int | None = None  # use only the first N images
    size: int = 20_000  # images generated for synthetic / photos / mixed data
    resume: bool = False
    init_from: str | None = None  # start from this checkpoint's weights (a new optimizer)
    save_every: int = 50
    max_minutes: float | None = None  # stop cleanly at the step that exceeds this budget
    demo: bool = False  # mark the checkpoints as small demo checkpoints
    description: str = ""

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
        if self.dataset not in DATASETS:
            raise InputError(f"Unknown dataset {self.dataset!r}: use one of {', '.join(DATASETS)}.")
        if self.dataset in ("stl10", "folder") and not self.input_path:
            where = "the folder holding stl10_binary/" if self.dataset == "stl10" else "a folder of image files"
            raise InputError(f"--dataset {self.dataset} needs --input-path: {where}.")
        for name in ("batch_size", "epochs", "save_every", "size"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1.")
        if self.limit is not None and self.limit < 1:
            raise InputError("--limit must be at least 1.")
        if not self.learning_rate > 0:
            raise InputError("--learning-rate must be positive.")
        if not 0.0 <= self.warmup < 1.0:
            raise InputError("--warmup is a fraction of the run: give a value in [0, 1).")
        get_architecture(self.arch)
        objective = get_objective(self.objective)
        if self.arch not in objective.archs:
            raise InputError(f"--objective {self.objective} works with --arch {' or '.join(objective.archs)}.")
        if objective.modes is not None and check_mode(self.masking_mode).name not in objective.modes:
            raise InputError(f"--objective {self.objective} needs --masking-mode {', '.join(objective.modes)}.")
        if self.target_view not in TARGET_VIEWS:
            raise InputError(f"Unknown --target-view {self.target_view!r}: use {' or '.join(TARGET_VIEWS)}.")
        if not 0.0 <= self.lr_floor <= 1.0:
            raise InputError("--lr-floor is a fraction of --learning-rate: give a value in [0, 1].")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"Unknown --optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}.")
        if self.schedule not in SCHEDULES:
            raise InputError(f"Unknown --schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}.")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise InputError("--max-minutes must be positive.")


HELP = {
    "input_path": "STL-10 folder (--dataset stl10) or image folder (--dataset folder)",
    "dataset": "stl10, synthetic, photos, mixed or folder",
    "masking_mode": "none (or None), random_patches, periphery, periphery_square or foveate",
    "blur": "the reference's blurry fill flag (same as --fill blur)",
    "fill": "mean or blur (default: from --blur)",
    "learning_rate": "the reference README: 1e-3 for periphery, 5e-3 otherwise",
    "optimizer": "adam (the paper's), sgd or adamw (no decay on biases and norms; ConvNeXt-V2's)",
    "arch": "cnn_mae (the paper's CNN) or convnextv2_pico (paper 3.5: AdamW, wd 0.05, lr 5e-4, cosine, "
    "20/370 warm-up, 370 epochs, flips, unless given)",
    "hflip": "flip half the images horizontally",
    "schedule": "constant (the paper's) or cosine (down to 0 at the end of --epochs or --max-minutes)",
    "warmup": "fraction of the run spent warming the learning rate up linearly from 0",
    "init_from": "start from this checkpoint's weights with a new optimizer (e.g. to train a shipped one further)",
    "batch_size": "global batch, split over processes",
    "segment_path": "foreground file made by python -m train.segment",
    "remove_missing_segments": "drop images the paper's keep heuristic rejects",
    "fixation": "center, uniform or foreground: where the eye looks each time an image is shown",
    "attention": "none, random or foreground: a second visible region (covert attention)",
    "foreground_loss": "weight the loss by foreground confidence (default: with --segment-path)",
    "precision": "auto (bf16 on CUDA), fp32 or bf16",
    "limit": "use only the first N images",
    "size": "images generated for synthetic, photos and mixed data",
    "resume": "continue from last.safetensors in --output-path",
    "max_minutes": "stop cleanly at the step that exceeds this budget (the partial epoch is recorded)",
    "demo": "label the checkpoints as small demo checkpoints",
}
REFERENCE_ALIASES = {  # the reference's click short options and spellings
    "masking_mode": ["-mm"],
    "masking_ratio": ["-mr"],
    "blur": ["-b"],
    "random_crop": ["-rc"],
    "learning_rate": ["-lr"],
    "epochs": ["-e"],
    "seed": ["-sd"],
    "segment_path": ["-sp", "--segment_path"],
    "remove_missing_segments": ["-remms"],
}


def with_own_defaults(config: PretrainConfig, given: set[str] | frozenset[str]) -> PretrainConfig:
    """``config`` with its architecture's and its objective's own defaults for the fields not in ``given``."""
    defaults = {**get_architecture(config.arch).defaults, **objective_defaults(config.objective, config.batch_size)}
    return replace(config, **{name: value for name, value in defaults.items() if name not in given})


def build_parser() -> argparse.ArgumentParser:
    """An argument parser mirroring ``PretrainConfig`` field by field, with the reference's spellings."""
    parser = argparse.ArgumentParser(
        prog="python -m train.pretrain",
        description="Pretrain the FocusMIM autoencoder (reference command lines are accepted as they are).",
    )
    add_config_arguments(
        parser,
        PretrainConfig,
        helps=HELP,
        aliases=REFERENCE_ALIASES,
        bool_values=True,
        flags=("resume", "demo"),
    )
    return parser


def parse_config(argv: list[str] | None = None) -> PretrainConfig:
    """A ``PretrainConfig`` from command-line arguments; ``--arch`` brings its defaults for options not given."""
    parser = build_parser()
    config = config_from_args(PretrainConfig, parser.parse_args(argv))
    return with_own_defaults(config, set(explicit_options(parser, argv)))


@dataclass
class Progress:
    """Where a run stands: the epoch and step to do next, and the running sums of the current epoch."""

    epoch: int = 0
    step: int = 0
    best_loss: float = math.inf
    loss_sum: float = 0.0
    images_seen: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Distributed:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes files and logs."""
        return self.rank == 0


def init_distributed(device: torch.device) -> Distributed:
    """Join the torchrun process group when started by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


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
        tqdm.write(f"{signal.Signals(signum).name} received: finishing this step, saving last.safetensors ...")


def agreed(flag: bool, ddp: Distributed, device: torch.device) -> bool:
    """True on every process when it is true on any (so all processes stop together)."""
    if ddp.world == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value)
    return bool(value.item() > 0)


def metadata_for(
    config: PretrainConfig, data: TrainingData, epochs: int, metrics: dict[str, Any]
) -> CheckpointMetadata:
    """Checkpoint metadata describing this run after ``epochs`` epochs."""
    recipe = config.recipe()
    return CheckpointMetadata(
        mode=recipe.mode,
        ratio=recipe.ratio if check_mode(recipe.mode).uses_ratio else 0.0,
        fill=recipe.fill,
        data=data.description,
        epochs=epochs,
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


def save_last(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generators: dict[str, torch.Generator],
    permutation: torch.Tensor | None,
    progress: Progress,
    metadata: CheckpointMetadata,
) -> None:
    """Write ``last.safetensors``: weights (loadable as a checkpoint) plus optimizer, RNG and progress, atomically."""
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    for index, state in optimizer_state["state"].items():
        for key, value in state.items():
            tensors[f"{TRAINER_PREFIX}optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    for name, generator in generators.items():
        tensors[f"{TRAINER_PREFIX}rng.{name}"] = generator.get_state().cpu()
    if permutation is not None:
        tensors[f"{TRAINER_PREFIX}permutation"] = permutation.cpu()
    header = {
        "focusmim": json.dumps(metadata.to_dict(), sort_keys=True),
        "progress": json.dumps(asdict(progress)),
        "param_groups": json.dumps(optimizer_state["param_groups"]),
    }
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))
    write_json(sidecar_path(path), metadata.to_dict())


def load_last(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generators: dict[str, torch.Generator],
) -> tuple[Progress, torch.Tensor | None]:
    """Restore a run from ``last.safetensors``; returns its progress and the current epoch's permutation."""
    if not path.is_file():
        raise CheckpointError(f"Nothing to resume: {path} does not exist. Start without --resume.")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        progress = Progress(**json.loads(header["progress"]))
        param_groups = json.loads(header["param_groups"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(
            f"{path} cannot be resumed from ({error}): it is not a complete last checkpoint."
        ) from None
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(TRAINER_PREFIX)}, strict=True)
    state: dict[int, dict[str, torch.Tensor]] = {}
    prefix = f"{TRAINER_PREFIX}optimizer."
    for name, value in tensors.items():
        if name.startswith(prefix):
            index, key = name[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})
    for name, generator in generators.items():
        generator.set_state(tensors[f"{TRAINER_PREFIX}rng.{name}"])
    return progress, tensors.get(f"{TRAINER_PREFIX}permutation")


def run_finished(config: PretrainConfig) -> bool:
    """Whether the run in ``config.output_path`` has done all its epochs or used up its ``max_minutes``.

    Read from the progress recorded in ``last.safetensors`` (no weights are loaded); False when
    there is no run yet or the file cannot be read (an interrupted save: resuming will tell).
    """
    path = Path(config.output_path) / "last.safetensors"
    try:
        with safe_open(str(path), framework="pt") as handle:
            progress = Progress(**json.loads((handle.metadata() or {})["progress"]))
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError, TypeError):
        return False
    out_of_time = config.max_minutes is not None and progress.seconds >= 60.0 * config.max_minutes
    return (progress.epoch >= config.epochs and progress.step == 0) or out_of_time


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


@dataclass
class Session:
    """What every epoch of one run shares: settings, data, the model (and its DDP wrapper), optimizer, RNGs."""

    config: PretrainConfig
    ddp: Distributed
    device: torch.device
    data: TrainingData
    model: torch.nn.Module
    trained: torch.nn.Module  # the model, or its DDP wrapper (what the forward pass runs through)
    optimizer: torch.optim.Optimizer
    generators: dict[str, torch.Generator]
    progress: Progress
    permutation: torch.Tensor | None
    started: float
    precision: torch.dtype | None
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


class RunStopped(Exception):
    """SIGTERM or Ctrl-C stopped a run before its end; ``last.safetensors`` in ``output`` holds where it stood."""

    def __init__(self, output: Path):
        super().__init__(f"Stopped before the end; continue with --resume --output-path {output}.")
        self.output = output


def run(config: PretrainConfig) -> Path:
    """Train as ``config`` says; returns the output folder. Raises ``InputError``/``DatasetError`` for bad input,
    ``RunStopped`` when a signal stopped it (its state saved)."""
    session = start_session(config)
    progress, ddp = session.progress, session.ddp
    bar = tqdm(
        total=config.epochs * session.steps_per_epoch,
        initial=progress.epoch * session.steps_per_epoch + progress.step,
        disable=not ddp.main,
        unit="step",
        dynamic_ncols=True,
    )
    try:
        with StopRequest() as stop:
            while progress.epoch < config.epochs:
                epoch = train_one_epoch(session, bar, stop)
                if epoch.stopped:
                    save_stopped(session)
                    raise RunStopped(session.output)
                if progress.step == 0:  # the budget ran out before this epoch began
                    break
                if not close_epoch(session, epoch):
                    break
    finally:
        bar.close()
    return session.output


def start_session(config: PretrainConfig) -> Session:
    """Check the settings, load the data, build (or resume) model and optimizer: everything before the first step."""
    config.check()
    configure_cpu_allocator()
    device = pick_device(config.device)
    ddp = init_distributed(device)
    if config.batch_size % ddp.world:
        raise InputError(f"--batch-size {config.batch_size} must be divisible by the {ddp.world} processes.")
    output, last_path = Path(config.output_path), Path(config.output_path) / "last.safetensors"
    if ddp.main:
        output.mkdir(parents=True, exist_ok=True)
        if not config.resume and last_path.exists():
            raise InputError(
                f"{output} already holds a run (last.safetensors): add --resume to continue it, "
                "or choose another --output-path."
            )
    data = load_training_data(config, device, ddp.rank, ddp.world)
    config.recipe().check(data.foreground is not None)
    model = build_trained_model(config, device)
    if config.init_from is not None and not (config.resume and last_path.exists()):
        start_from_checkpoint(model, Path(config.init_from), config.arch, config.objective)
    optimizer = make_optimizer(config.optimizer, model, config.learning_rate, config.weight_decay, config.betas)
    generators = {
        "batches": torch.Generator(device=device).manual_seed(config.seed * 1_000_003 + ddp.rank),
        "order": torch.Generator(device=device).manual_seed(config.seed * 7_919 + 17 + ddp.rank),
    }
    progress, permutation = Progress(), None
    if config.resume and last_path.exists():
        progress, permutation = load_last(last_path, model, optimizer, generators)
    trained = torch.nn.parallel.DistributedDataParallel(model) if ddp.world > 1 else model
    session = Session(
        config, ddp, device, data, model, trained, optimizer, generators, progress, permutation,
        time.monotonic() - progress.seconds, autocast_dtype(config.precision, device),
    )  # fmt: skip
    if ddp.main:
        announce(session, last_path)
    return session


def build_trained_model(config: PretrainConfig, device: torch.device) -> torch.nn.Module:
    """The network ``config`` trains: its architecture, wrapped by its objective, seeded, on ``device``."""
    torch.manual_seed(config.seed)
    model = get_objective(config.objective).wrap(build_model(config.arch), config.latent_settings())
    for module in model.modules():  # skips that are identities never use match_dim: freeze it (needed by DDP)
        if isinstance(module, ConvBlock | UpConvBlock) and module.in_channels == module.out_channels:
            module.match_dim.requires_grad_(False)
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def announce(session: Session, last_path: Path) -> None:
    """Print what the run does (and where a resumed run picks up)."""
    config, progress, data = session.config, session.progress, session.data
    if config.resume and last_path.exists():
        dropped = trim_metrics(session.output / METRICS_FILE, progress.epoch)
        print(
            f"Resuming at epoch {progress.epoch + 1}, step {progress.step} of {session.steps_per_epoch} "
            f"({progress.images_seen:,} images done)"
            + (f"; dropped {dropped} log line(s) written after that checkpoint." if dropped else "."),
            flush=True,
        )
    elif config.resume:
        print(f"No {last_path} yet: starting a new run.", flush=True)
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
    config, progress, ddp = session.config, session.progress, session.ddp
    started, result = time.monotonic(), EpochResult()
    count = session.data.images.shape[0]
    if progress.step == 0 or session.permutation is None:
        session.permutation = torch.randperm(count, generator=session.generators["order"], device=session.device)
    recipe, objective, sums = config.recipe(), get_objective(config.objective), {}
    while progress.step < session.steps_per_epoch:
        fraction, result.time_up = run_clock(config, progress, session.steps_per_epoch, session.started, ddp,
                                             session.device)  # fmt: skip
        if result.time_up:
            break
        set_learning_rate(session.optimizer, config, fraction)
        index = session.permutation[progress.step * session.local_batch : (progress.step + 1) * session.local_batch]
        foreground = session.data.foreground[index] if session.data.foreground is not None else None
        batch = prepare_batch(session.data.images[index], foreground, recipe, session.generators["batches"])
        loss_fn = partial(objective.loss, core=session.model, fraction=fraction)
        loss, result.latent, logs = train_step(session.trained, session.optimizer, batch, session.precision, loss_fn)
        for name, value in logs.items():
            sums[name] = sums.get(name, 0.0) + float(value)
        progress.loss_sum += float(loss)
        progress.images_seen += index.numel() * ddp.world
        progress.step += 1
        bar.update(1)
        bar.set_postfix(epoch=progress.epoch + 1, loss=f"{float(loss):.5f}")
        if agreed(stop.requested, ddp, session.device):
            result.stopped = True
            break
    result.logs = {name: total / max(progress.step, 1) for name, total in sums.items()}
    result.seconds = time.monotonic() - started
    return result


def save_stopped(session: Session) -> None:
    """A stop was requested mid-epoch: save ``last.safetensors`` where the run stands."""
    session.progress.seconds = time.monotonic() - session.started
    if session.ddp.main:
        meta = metadata_for(session.config, session.data, session.progress.epoch, {"loss": session.progress.best_loss})
        last_path = session.output / "last.safetensors"
        save_last(last_path, session.model, session.optimizer, session.generators, session.permutation,
                  session.progress, meta)  # fmt: skip
        tqdm.write(f"Saved {last_path}; continue with --resume.")


def close_epoch(session: Session, epoch: EpochResult) -> bool:
    """Log and checkpoint a finished epoch; whether the run goes on (False: time budget spent)."""
    config, progress, ddp = session.config, session.progress, session.ddp
    epoch_images = min(progress.step * session.local_batch, session.data.images.shape[0]) * ddp.world
    record = finish_epoch(config, session.optimizer, progress, epoch.latent, ddp, session.device)
    record.update(epoch.logs)
    record["seconds"] = epoch.seconds
    record["images_per_second"] = epoch_images / max(epoch.seconds, 1e-9)
    progress.seconds = time.monotonic() - session.started
    if ddp.main:
        append_jsonl(session.output / METRICS_FILE, record)
        save_epoch_checkpoints(config, session.data, session.model, session.optimizer, session.generators, progress,
                               record, session.output)  # fmt: skip
        warn_of_collapse(record, session.previous, config)
    session.previous = record
    if not math.isfinite(record["loss"]):
        raise InputError(
            f"The loss became {record['loss']} in epoch {record['epoch']}: lower --learning-rate. "
            f"The checkpoints written before are kept in {session.output}."
        )
    if epoch.time_up or run_clock(config, progress, session.steps_per_epoch, session.started, ddp, session.device)[1]:
        if ddp.main:
            tqdm.write(f"Time budget of {config.max_minutes} min reached after {progress.epoch} epochs.")
        return False
    return True


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


def start_from_checkpoint(
    model: torch.nn.Module, path: Path, arch: str = "cnn_mae", objective: str = "pixel"
) -> None:
    """Load a checkpoint's weights into ``model`` (float32, strict); ``CheckpointError`` when it cannot."""
    source, meta = load_checkpoint(path)
    if meta.arch != arch:
        raise CheckpointError(f"--init-from {path} holds a {meta.arch} network, not {arch}: give --arch {meta.arch}.")
    if meta.objective != objective:
        raise CheckpointError(
            f"--init-from {path} was trained with the {meta.objective} objective, not {objective}: "
            f"give --objective {meta.objective}."
        )
    model.load_state_dict({k: v.float() for k, v in source.state_dict().items()}, strict=True)


def run_clock(
    config: PretrainConfig,
    progress: Progress,
    steps_per_epoch: int,
    started: float,
    ddp: Distributed,
    device: torch.device,
) -> tuple[float, bool]:
    """How far the run is in [0, 1] (the larger of steps done and time budget used, counted over
    resumes) and whether the time budget is spent; the same on every process (the maximum)."""
    done = (progress.epoch * steps_per_epoch + progress.step) / (config.epochs * steps_per_epoch)
    budget = None if config.max_minutes is None else (time.monotonic() - started) / (60 * config.max_minutes)
    clock = torch.tensor([max(done, budget or 0.0), float(budget is not None and budget > 1.0)], device=device)
    if ddp.world > 1:
        dist.all_reduce(clock, op=dist.ReduceOp.MAX)
    return min(float(clock[0]), 1.0), bool(clock[1] > 0)


def set_learning_rate(optimizer: torch.optim.Optimizer, config: PretrainConfig, fraction: float) -> None:
    """Put the scheduled learning rate for ``fraction`` of the run into every parameter group."""
    rate = scheduled_learning_rate(config.learning_rate, fraction, config.schedule, config.warmup, config.lr_floor)
    for group in optimizer.param_groups:
        group["lr"] = rate


def gather_latents(latent: torch.Tensor | None, ddp: Distributed) -> torch.Tensor | None:
    """The last step's latents of every process, ``(world * B, 128, 12, 12)``, so that the logged
    statistics describe the global batch whatever the number of processes (every process calls it)."""
    if ddp.world == 1 or latent is None:
        return latent
    parts = [torch.empty_like(latent) for _ in range(ddp.world)]
    dist.all_gather(parts, latent.contiguous())
    return torch.cat(parts)


def finish_epoch(
    config: PretrainConfig,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    latent: torch.Tensor | None,
    ddp: Distributed,
    device: torch.device,
) -> dict[str, Any]:
    """Close an epoch: the mean loss over processes and steps, latent statistics, and the next epoch's start."""
    steps = progress.step
    mean_loss = torch.tensor([progress.loss_sum / max(steps, 1)], device=device, dtype=torch.float64)
    if ddp.world > 1:
        dist.all_reduce(mean_loss)
        mean_loss /= ddp.world
    loss = float(mean_loss.item())
    recipe = config.recipe()
    record: dict[str, Any] = {
        "epoch": progress.epoch + 1,
        "loss": loss,
        "masked_mse": None if recipe.foreground_loss or config.objective != "pixel" else loss,
        "foreground_mse": loss if recipe.foreground_loss and config.objective == "pixel" else None,
        "learning_rate": optimizer.param_groups[0]["lr"],
        "images": progress.images_seen,
    }
    latent = gather_latents(latent, ddp)
    if latent is not None and latent.shape[0] >= 2 and ddp.main:  # statistics need a batch of two or more
        record.update(latent_statistics(latent))
    progress.epoch += 1
    progress.step = 0
    progress.loss_sum = 0.0
    progress.history.append({"epoch": record["epoch"], "loss": loss})
    return record


def save_epoch_checkpoints(
    config: PretrainConfig,
    data: TrainingData,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generators: dict[str, torch.Generator],
    progress: Progress,
    record: dict[str, Any],
    output: Path,
) -> None:
    """The reference's checkpoints (best, epoch 0, every ``save_every``-th) plus ``last``."""
    epoch_index = progress.epoch - 1  # zero-based, as the reference names its files
    metrics = {k: record.get(k) for k in ("loss", "decorrelation", "unit_sparsity", "population_sparsity")}
    meta = metadata_for(config, data, progress.epoch, metrics)
    if record["loss"] < progress.best_loss:
        progress.best_loss = record["loss"]
        save_checkpoint(output / "best.safetensors", model, meta)
    if epoch_index == 0 or progress.epoch % config.save_every == 0:
        save_checkpoint(output / f"epoch_{epoch_index:04d}.safetensors", model, meta)
    save_last(output / "last.safetensors", model, optimizer, generators, None, progress, meta)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (2 for bad input, with a message, no traceback)."""
    try:
        config = parse_config(argv)
    except InputError as error:
        return fail(error)
    finished = False
    try:
        output = run(config)
        finished = True
    except RunStopped as stop:  # saved where it stood: --resume continues to the same weights
        output, finished = stop.output, True
    except InputError as error:  # DatasetError and CheckpointError included
        return fail(error)
    except OSError as error:  # a full disk or a folder that vanished while saving: the files before are intact
        where = f" {error.filename}" if error.filename else ""
        return fail(
            InputError(
                f"Could not write{where} ({error.strerror or error}). Every file written before is intact "
                f"(writes are atomic): free some space and continue with --resume --output-path {config.output_path}."
            )
        )
    finally:
        close_distributed(finished)
    print(json.dumps({"output_path": str(output)}), flush=True)
    return 0


def close_distributed(finished: bool) -> None:
    """Tear the process group down on every process together: after a finished run a barrier first (no
    process closes its sockets while another still waits on it), and DDP's reducer, which holds the group
    through reference cycles, is freed before the group is destroyed rather than at interpreter exit."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    if finished and dist.get_world_size() > 1:
        dist.barrier()
    gc.collect()
    dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
