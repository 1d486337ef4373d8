"""Linear-probe accuracy of a checkpoint's frozen encoder (paper 3.4): ``python -m train.probe CHECKPOINT``.

    python -m train.probe checkpoints/random_patches.safetensors --dataset stl10 --data-root data
    python -m train.probe run/best.safetensors --dataset synthetic --limit 500 --seeds 2
    python -m train.probe reference/model.pt --finetune
    python -m train.probe raw-pixels --dataset stl10   # the paper's raw-pixel baseline (27,648 features)

Encodes every image once, fits the paper's linear layer on the cached features for each
seed (early stopping on 1,000 held-out training images), reports test accuracy (mean and
standard deviation over seeds, fractions in [0, 1]) and a cosine k-NN accuracy. The result
goes into the checkpoint's JSON metadata (``metrics["probe"]``; a reference ``.pt`` gets a
JSON file beside it); the weights are never rewritten. The last line on stdout is one
JSON object with ``accuracy_mean``, ``accuracy_std``, ``knn_accuracy`` and ``seconds``.
Exit status 2 with a message for a bad checkpoint or dataset.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass

from tqdm import tqdm

from focusmim_core.checkpoints import load_checkpoint
from focusmim_core.data import PROBE_DATASETS
from focusmim_core.data.synthetic import LAYOUTS
from focusmim_core.errors import InputError
from focusmim_core.model import inference_model
from focusmim_core.probe import (
    ProbeSettings,
    RawPixels,
    finetune_encoder,
    probe_encoder,
    record_probe_result,
    stl10_probe_data,
    synthetic_probe_data,
)

from .cli import add_config_arguments, config_from_args, option, pick_device, run_and_report

RAW_PIXELS = "raw-pixels"  # in place of a checkpoint: probe the flattened pixels (the paper's baseline row)


@dataclass
class ProbeConfig:
    """A probe run (paper defaults)."""

    checkpoint: str = option(
        "", f"FocusMIM .safetensors checkpoint or reference .pt state dict ('{RAW_PIXELS}': the pixels)"
    )
    dataset: str = option("stl10", "labelled data to probe on")
    data_root: str = option("data", "STL-10 folder (holding stl10_binary/ or the *.bin files)")
    seeds: int = option(5, "number of seeded probe runs (seeds first_seed .. first_seed + N - 1)")
    first_seed: int = option(0, "the first probe seed")
    limit: int | None = option(None, "use at most this many images per split (quick runs)")
    train_size: int = option(4000, "synthetic: training images")
    val_size: int = option(1000, "synthetic: validation images; STL-10: held out of train per seed")
    test_size: int = option(8000, "synthetic: test images")
    synthetic_seed: int = option(0, "synthetic: dataset seed")
    synthetic_layout: str = option("centred", "synthetic: objects near the centre (like STL-10) or scattered")
    finetune: bool = option(False, "train the whole encoder with the head (paper's fine-tuning variant)")
    learning_rate: float | None = option(None, "Adam learning rate (1e-4 probe, 1e-5 fine-tuning)")
    weight_decay: float = option(ProbeSettings.weight_decay, "Adam weight decay")
    batch_size: int = option(ProbeSettings.batch_size, "images per optimisation step")
    patience: int = option(ProbeSettings.patience, "early stopping: epochs without improvement")
    min_delta: float = option(ProbeSettings.min_delta, "early stopping: minimum validation-loss improvement")
    max_epochs: int = option(ProbeSettings.max_epochs, "cap on epochs per seed")
    knn_k: int = option(20, "neighbours for the k-NN accuracy (0: skip)")
    device: str = option("auto", "auto, cpu or cuda")
    encode_batch_size: int = option(256, "images per encoder call")
    write_metadata: bool = option(True, "write the result into the checkpoint's metadata")

    def settings(self) -> ProbeSettings:
        """Optimisation settings: lr 1e-4 for the probe, 1e-5 for fine-tuning unless given."""
        rate = self.learning_rate if self.learning_rate is not None else (1e-5 if self.finetune else 1e-4)
        return ProbeSettings(rate, self.weight_decay, self.batch_size, self.patience, self.min_delta, self.max_epochs)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.probe``: one option per ``ProbeConfig`` field."""
    parser = argparse.ArgumentParser(
        prog="python -m train.probe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    choices = {"dataset": PROBE_DATASETS, "device": ("auto", "cpu", "cuda"), "synthetic_layout": tuple(LAYOUTS)}
    add_config_arguments(parser, ProbeConfig, positional=("checkpoint",), choices=choices)
    return parser


def parse_args(argv: list[str] | None = None) -> ProbeConfig:
    """A ``ProbeConfig`` from the command line."""
    return config_from_args(ProbeConfig, build_parser().parse_args(argv))


class Progress:
    """tqdm bars, one per stage, fed by ``progress(stage, done, total)`` callbacks."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Move ``stage``'s bar to ``done`` of ``total`` (a new bar on a stage's first report)."""
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit="img" if "encode" in stage else "it")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self.bars[stage]

    def close(self) -> None:
        """Close every bar."""
        for bar in self.bars.values():
            bar.close()


def run(config: ProbeConfig) -> dict:
    """Run the probe described by ``config``; returns the JSON summary (also written to metadata)."""
    if config.seeds < 1:
        raise InputError(f"--seeds must be at least 1 (got {config.seeds}).")
    if config.limit is not None and config.limit < 10:
        raise InputError(f"--limit must be at least 10 images (got {config.limit}).")
    raw = config.checkpoint == RAW_PIXELS
    if raw and config.finetune:
        raise InputError(f"'{RAW_PIXELS}' has no encoder to fine-tune: drop --finetune.")
    device = pick_device(config.device)
    model = RawPixels() if raw else load_checkpoint(config.checkpoint, device)[0]
    if config.dataset == "stl10":
        data = stl10_probe_data(config.data_root, config.limit, config.val_size)
    else:
        data = synthetic_probe_data(
            config.train_size,
            config.val_size,
            config.test_size,
            config.synthetic_seed,
            config.limit,
            config.synthetic_layout,
        )
    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    progress = Progress()
    try:
        if config.finetune:
            result = finetune_encoder(model, data, seeds, config.settings(), device, progress)
        else:
            encoder = model if raw else inference_model(model)  # frozen: channels-last inference is faster
            result = probe_encoder(
                encoder,
                data,
                seeds,
                config.settings(),
                config.knn_k or None,
                device,
                config.encode_batch_size,
                progress,
            )
    finally:
        progress.close()
    summary = result.to_dict()
    if config.write_metadata and not raw:
        summary["metadata"] = str(record_probe_result(config.checkpoint, result))
    summary["config"] = asdict(config)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit status 0, or 2 with a message for a bad checkpoint, dataset or option."""
    return run_and_report(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
