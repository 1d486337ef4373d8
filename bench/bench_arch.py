"""Training throughput per architecture and objective: ConvNeXt-V2-Pico and the latent objective
next to the paper's CNN with its pixel objective, same run.

    python -m bench.bench_arch [--batch 32] [--steps 4] [--mode random_patches] [--device cpu|cuda]

Every setting trains on the same prepared batches (``prepare_batch`` + ``train_step``) with its
own optimizer (Adam for the paper's CNN, AdamW for ConvNeXt-V2 and the latent objective); the
baseline is ``cnn_mae`` with the pixel objective, the ratio is images/s relative to it.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch

from bench.bench_train import images_per_second
from bench.timing import machine, table
from focusmim_core.architectures import ARCHITECTURES, build_model
from focusmim_core.masking import MODES
from focusmim_core.objectives import OBJECTIVES
from focusmim_core.pretraining import BatchRecipe, make_optimizer, prepare_batch, train_step
from focusmim_core.runtime import configure_cpu_allocator
from train.training_data import synthetic_uint8

SETTINGS = (("cnn_mae", "pixel"), ("convnextv2_pico", "pixel"), ("cnn_mae", "latent"))  # the first: baseline


def setting_rate(arch: str, objective: str, batches: list, device: torch.device, steps: int) -> float:
    """Training images/s of ``arch`` with ``objective`` over ``steps`` steps on ``batches`` (cycled)."""
    torch.manual_seed(0)
    model = OBJECTIVES[objective].wrap(build_model(arch)).to(device)
    defaults = {**ARCHITECTURES[arch].defaults, **OBJECTIVES[objective].defaults}
    optimizer = make_optimizer(defaults.get("optimizer", "adam"), model, 1e-4, defaults.get("weight_decay", 1e-8))
    precision = torch.bfloat16 if device.type == "cuda" else None
    cursor = {"i": 0}

    def step() -> None:
        cursor["i"] = (cursor["i"] + 1) % len(batches)
        loss = partial(OBJECTIVES[objective].loss, core=model, fraction=0.5)
        train_step(model, optimizer, batches[cursor["i"]], precision, loss)

    return images_per_second(step, batches[0].inputs.shape[0], steps, device)


def main(argv: list[str] | None = None) -> int:
    """Measure every registered architecture and print images/s, the CNN baseline and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=None, help="default: 512 on CUDA, 32 on the CPU")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--mode", default="random_patches")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    device = torch.device(args.device)
    batch = args.batch or (512 if device.type == "cuda" else 32)
    images, _ = synthetic_uint8(batch * 3, seed=0)
    recipe = BatchRecipe(mode=args.mode, ratio=MODES[args.mode].default_ratio)
    generator = torch.Generator(device=device).manual_seed(0)
    batches = [prepare_batch(images[i * batch : (i + 1) * batch].to(device), None, recipe, generator) for i in range(3)]
    print(f"Training throughput per architecture and objective, batch {batch}, mode {args.mode}, on {machine()}")
    rates = {setting: setting_rate(*setting, batches, device, args.steps) for setting in SETTINGS}
    baseline = rates[SETTINGS[0]]
    rows = [[arch, objective, f"{rate:,.1f}", f"{rate / baseline:.2f}x"] for (arch, objective), rate in rates.items()]
    print(table(rows, ["architecture", "objective", "training images/s", "vs cnn_mae + pixel"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
