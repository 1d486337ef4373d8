"""Pretraining throughput: our device-resident batched pipeline next to a per-sample DataLoader pipeline.

    python -m bench.bench_train [--batch 64] [--steps 5] [--mode periphery] [--device cpu|cuda]

Measured in one run, same model, same optimizer, same batch size:
- ``model``: the model's own forward + backward + Adam step on a fixed prepared batch;
- ``ours``: ``prepare_batch`` (crop, fixation, mask from uint8 on the device) + the step;
- ``reference-style``: a ``Dataset`` that crops and masks one image at a time
  (torchvision ``RandomResizedCrop`` per sample, as the reference does) through a
  ``DataLoader``, + the step;
- ``reference-style + covariance`` (with ``--covariance``): the same, plus the reference's
  logging-only 18,432 x 18,432 covariance of the latent computed every step.
Goal on the 2-core CPU: ``ours`` costs no more than ``model`` (the data pipeline is free).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from bench.timing import machine, sync, table
from focusmim_core import MODES, Autoencoder, mask_images
from focusmim_core.geometry import IMAGE_SIZE
from focusmim_core.pretraining import Batch, BatchRecipe, prepare_batch, train_step
from focusmim_core.runtime import configure_cpu_allocator
from train.training_data import synthetic_uint8


class PerSampleMasked(Dataset):
    """The reference's data path: crop and mask one image per ``__getitem__``."""

    def __init__(self, images: torch.Tensor, recipe: BatchRecipe):
        self.images, self.recipe = images, recipe
        self.crop = transforms.RandomResizedCrop(IMAGE_SIZE, scale=recipe.crop_scale, antialias=True)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        target = self.crop(self.images[index].float() / 255)
        inputs, mask = mask_images(target[None], self.recipe.mode, self.recipe.ratio, fill=self.recipe.fill)
        return inputs[0], target, mask[0]


def images_per_second(step: Callable[[], object], count: int, steps: int, device: torch.device) -> float:
    """Images per second over ``steps`` calls of ``step()`` after one warm-up call."""
    step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return count * steps / (time.perf_counter() - start)


def reference_covariance(latent: torch.Tensor) -> float:
    """The reference's per-step logging: the full D x D covariance of z-scored latents."""
    flat = latent.flatten(1)
    z = (flat - flat.mean(0)) / (flat.std(0) + 1e-5)
    cov = z.T @ z / (flat.shape[0] - 1)
    return float((cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / flat.shape[1])


def pipelines(args: argparse.Namespace, device: torch.device, batch_size: int) -> dict[str, Callable[[], object]]:
    """One training step of each pipeline measured, by label; they share one model and optimizer."""
    recipe = BatchRecipe(mode=args.mode, ratio=MODES[args.mode].default_ratio)
    images_cpu, _ = synthetic_uint8(batch_size * (args.steps + 2), seed=0)
    images = images_cpu.to(device)
    model = Autoencoder().to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-8)
    precision = torch.bfloat16 if device.type == "cuda" else None
    generator = torch.Generator(device=device).manual_seed(0)
    fixed = prepare_batch(images[:batch_size], None, recipe, generator)
    starts = itertools.cycle(range(1, args.steps + 2))
    loader = DataLoader(
        PerSampleMasked(images_cpu, recipe),
        batch_size=batch_size,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        drop_last=True,
    )
    batches = itertools.chain.from_iterable(itertools.repeat(loader))  # a new epoch of the loader when one ends

    def ours() -> None:
        start = next(starts) * batch_size
        train_step(model, optimizer, prepare_batch(images[start : start + batch_size], None, recipe, generator),
                   precision)  # fmt: skip

    def reference_style(covariance: bool = False) -> None:
        inputs, targets, masks = next(batches)
        _, latent, _ = train_step(model, optimizer, Batch(inputs.to(device), targets.to(device), masks.to(device)),
                                  precision)  # fmt: skip
        if covariance:
            reference_covariance(latent.float())

    steps = {
        MODEL_ONLY: lambda: train_step(model, optimizer, fixed, precision),
        OURS: ours,
        f"reference-style: per-sample DataLoader ({args.workers} workers) + step": reference_style,
    }
    if args.covariance:
        steps[COVARIANCE] = lambda: reference_style(True)
    return steps


MODEL_ONLY, OURS = "model forward+backward+step (fixed batch)", "ours: batched pipeline + step"
COVARIANCE = "reference-style + per-step 18,432^2 covariance"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m bench.bench_train``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=None, help="default: 512 on CUDA, 64 on the CPU")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--mode", default="periphery")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the baseline")
    parser.add_argument("--covariance", action="store_true", help="also time the reference's per-step covariance")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the training benchmark and print a table."""
    args = build_parser().parse_args(argv)
    configure_cpu_allocator()
    device = torch.device(args.device)
    batch_size = args.batch or (512 if device.type == "cuda" else 64)
    print(f"Pretraining throughput, batch {batch_size}, mode {args.mode}, on {machine()}")
    measured = {}
    for name, step in pipelines(args, device, batch_size).items():
        steps = max(2, args.steps // 2) if name == COVARIANCE else args.steps  # the covariance is slow
        measured[name] = images_per_second(step, batch_size, steps, device)
    model_rate, ours_rate = measured[MODEL_ONLY], measured[OURS]
    rows = [[name, f"{rate:,.1f}", f"{ours_rate / rate:.2f}x"] for name, rate in measured.items()]
    print(table(rows, ["pipeline", "images/s", "ours is faster by"]))
    print(f"\nours / model-only: {ours_rate / model_rate:.2f} (goal: >= 0.9, the data pipeline costs ~nothing)")
    if device.type == "cuda":
        print(f"100,000-image epoch at this rate: {100_000 / ours_rate:.1f} s (goal <= 5 s on an H100)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
