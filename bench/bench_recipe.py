"""Training throughput of the demo recipe's settings: ``python -m bench.bench_recipe``.

    python -m bench.bench_recipe [--seconds 12] [--mode random_patches] [--compile]

Each setting trains the model (``prepare_batch`` + forward + backward + Adam) for
``--seconds`` in its own process (a setting that crashes, as ``channels_last`` convolutions
do on some CPU builds, is reported and the others go on) and prints images per second next
to the baseline measured in the same run, the recipe ``train.ship_demo`` uses (batch 32,
every core, contiguous memory, fp32, eager), with the ratio; one arm trains under bf16
autocast. ``--compile`` adds ``torch.compile`` (its compilation time is reported apart and
not counted).

``--quality CHECKPOINT`` compares learning rates and schedules instead: each arm trains a
copy of the checkpoint for ``--images`` images (mixed data, batch 32, one epoch, so the
schedule runs its whole course) and reports the held-out gallery PSNR it reaches, next to
the recipe's arm (2e-3, cosine). PSNR per image seen does not depend on what else runs on
the machine; per CPU minute, divide by the throughput above.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.timing import machine, table

REPO = Path(__file__).resolve().parents[1]


def measure(
    batch: int, threads: int, channels_last: bool, compiled: bool, mode: str, seconds: float, bf16: bool = False
) -> dict:
    """Images per second of one setting, trained for ``seconds`` after two warm-up steps (this process)."""
    from focusmim_core import MODES, Autoencoder
    from focusmim_core.pretraining import BatchRecipe, prepare_batch, train_step
    from train.training_data import synthetic_uint8

    torch.set_num_threads(threads)
    images, foreground = synthetic_uint8(max(batch, 64), 0)
    model = Autoencoder()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    network = torch.compile(model) if compiled else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-8)
    recipe = BatchRecipe(mode=mode, ratio=MODES[mode].default_ratio)
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        batch_data = prepare_batch(images[:batch], foreground[:batch], recipe, generator)
        if channels_last:
            batch_data.inputs = batch_data.inputs.contiguous(memory_format=torch.channels_last)
        train_step(network, optimizer, batch_data, precision=torch.bfloat16 if bf16 else None)

    warm = time.perf_counter()
    step()
    step()
    warmup = time.perf_counter() - warm
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        count += batch
    return {"images_per_second": count / (time.perf_counter() - start), "warmup_seconds": warmup}


def run_setting(setting: dict, mode: str, seconds: float) -> dict:
    """``measure`` in a child process; ``{"error": ...}`` when it crashes or fails."""
    code = (
        "import json, sys; from bench.bench_recipe import measure; "
        f"print(json.dumps(measure(**json.loads(sys.argv[1]), mode={mode!r}, seconds={seconds})))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(setting)], capture_output=True, text=True, env=env, timeout=900
    )
    if done.returncode != 0:
        last_line = (done.stderr.strip().splitlines() or ["?"])[-1]
        reason = f"signal {-done.returncode}" if done.returncode < 0 else last_line
        return {"error": f"failed ({reason[:80]})"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def settings(cores: int, with_compile: bool) -> list[tuple[str, dict]]:
    """The settings compared, baseline first."""
    base = {"batch": 32, "threads": cores, "channels_last": False, "compiled": False}
    rows = [
        ("batch 32 (baseline: the recipe)", base),
        ("batch 16", {**base, "batch": 16}),
        ("batch 64", {**base, "batch": 64}),
        ("1 thread", {**base, "threads": 1}),
        ("channels_last", {**base, "channels_last": True}),
        ("bf16 autocast", {**base, "bf16": True}),
    ]
    if with_compile:
        rows.append(("torch.compile", {**base, "compiled": True}))
    return rows


QUALITY_ARMS = (  # (label, learning rate, schedule); the first is the recipe (baseline)
    ("2e-3 cosine (recipe)", 2e-3, "cosine"),
    ("1e-3 cosine", 1e-3, "cosine"),
    ("5e-3 cosine", 5e-3, "cosine"),
    ("2e-3 constant", 2e-3, "constant"),
)


def quality(checkpoint: Path, images: int, folder: Path) -> list[list[str]]:
    """Train each arm of ``QUALITY_ARMS`` from ``checkpoint`` for ``images`` images; rows of the PSNR reached."""
    from focusmim_core import load_checkpoint
    from focusmim_core.evaluation import evaluate_reconstruction
    from train.pretrain import PretrainConfig, run

    _, meta = load_checkpoint(checkpoint)
    rows, baseline = [], None
    for label, rate, schedule in QUALITY_ARMS:
        output = folder / label.split(" ")[0].replace("-", "m") / schedule
        shutil.rmtree(output, ignore_errors=True)  # this benchmark's own run folder, from a previous run
        config = PretrainConfig(
            dataset="mixed", size=images, batch_size=32, learning_rate=rate, schedule=schedule, warmup=0.02,
            epochs=1, masking_mode=meta.mode, masking_ratio=meta.ratio or 0.5, fill=meta.fill,
            init_from=str(checkpoint), output_path=str(output), device="cpu",
        )  # fmt: skip
        run(config)
        model, _ = load_checkpoint(output / "last.safetensors")
        report = evaluate_reconstruction(model, meta.mode, meta.ratio, meta.fill)
        value = report.psnr_whole if report.gain is None else report.gain
        baseline = value if baseline is None else baseline
        rows.append([label, f"{value:.2f}", f"{value - baseline:+.2f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure every setting and print images/s, the baseline and the ratio."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_recipe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="training time per setting")
    parser.add_argument("--mode", default="random_patches")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to compile)")
    parser.add_argument("--quality", type=Path, default=None, help="compare learning rates from this checkpoint")
    parser.add_argument("--images", type=int, default=4096, help="with --quality: images per arm")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench_recipe"), help="with --quality: run folders")
    args = parser.parse_args(argv)
    if args.quality is not None:
        print(f"Held-out PSNR after {args.images:,} images from {args.quality} (gain in dB; whole-image for none)")
        rows = quality(args.quality, args.images, args.runs)
        print(table(rows, ["arm", "PSNR / gain (dB)", "vs recipe"]))
        return 0
    cores = os.cpu_count() or 1
    print(f"Training throughput, {args.mode}, {machine()}, {args.seconds:g} s per setting", flush=True)
    results = [(name, run_setting(setting, args.mode, args.seconds)) for name, setting in settings(cores, args.compile)]
    baseline = results[0][1].get("images_per_second")
    rows = []
    for name, result in results:
        rate = result.get("images_per_second")
        if rate is None:
            rows.append([name, result["error"], "-", "-"])
        else:
            ratio = f"{rate / baseline:.2f}x" if baseline else "-"
            rows.append([name, f"{rate:.1f}", ratio, f"{result['warmup_seconds']:.1f} s"])
    print(table(rows, ["setting", "images/s", "vs baseline", "warm-up (2 steps)"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
