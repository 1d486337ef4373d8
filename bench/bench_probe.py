"""Linear probe with cached features vs the reference's re-encoding of every image every epoch.

    python -m bench.bench_probe [--train 1000] [--val 250] [--test 500] [--baseline-epochs 2] [--device cpu]

Measured: ``probe_encoder`` end to end (encode train/val/test once, then every epoch of the
early-stopped fit on the cached features, one seed) on procedural scenes (or STL-10 with
``--data-root``). Baseline, same run, same images: the reference's loop, which runs the
whole autoencoder (encoder and decoder) on every fit and validation image in every epoch
and fits the same linear layer. The baseline is timed for ``--baseline-epochs`` epochs and
extrapolated linearly to the number of epochs the measured probe ran (said in the output).
Timing helpers are local to this file (bench/timing.py is not on this branch yet).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F

from focusmim_core import Autoencoder, inference_model
from focusmim_core.probe import (
    NUM_CLASSES,
    ProbeSettings,
    collect_images,
    probe_encoder,
    split_indices,
    stl10_probe_data,
    synthetic_probe_data,
)
from focusmim_core.runtime import configure_cpu_allocator

GOAL = 50.0


def sync(device: str) -> None:
    """Wait for queued GPU work so timings cover it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def reference_epoch_seconds(model, fit_images, fit_y, val_images, val_y, epochs: int, device: str) -> float:
    """Seconds per epoch of the reference loop: full autoencoder forward per batch, then the linear step."""
    head = torch.nn.Linear(128 * 12 * 12, NUM_CLASSES).to(device)
    settings = ProbeSettings()
    optimizer = torch.optim.Adam(head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    fit_y, val_y = fit_y.to(device), val_y.to(device)
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(fit_images))
        for i in range(0, len(order), settings.batch_size):
            batch = order[i : i + settings.batch_size]
            with torch.no_grad():
                _, latent = model(fit_images[batch].to(device).float().div_(255))
            loss = F.cross_entropy(head(latent.flatten(1)), fit_y[batch.to(device)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            for i in range(0, len(val_images), settings.batch_size):
                _, latent = model(val_images[i : i + settings.batch_size].to(device).float().div_(255))
                F.cross_entropy(head(latent.flatten(1)), val_y[i : i + settings.batch_size])
    sync(device)
    return (time.perf_counter() - start) / epochs


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print measured, baseline and ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=1000, help="labelled training images (fit + validation)")
    parser.add_argument("--val", type=int, default=250)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--baseline-epochs", type=int, default=2)
    parser.add_argument("--data-root", default=None, help="use STL-10 from here instead of procedural scenes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    torch.manual_seed(0)
    model = Autoencoder().to(args.device).eval()
    if args.data_root:
        data = stl10_probe_data(args.data_root, limit=args.train, val_count=args.val)
        data.test.labels = data.test.labels[: args.test]
        fit, held = split_indices(len(data.train), data.val_count, 0)
        pool = collect_images(data.train.load, len(data.train))
        fit_images, fit_y, val_images, val_y = pool[fit], data.train.labels[fit], pool[held], data.train.labels[held]
    else:
        data = synthetic_probe_data(train=args.train - args.val, val=args.val, test=args.test)
        assert data.val is not None
        fit_images, fit_y = collect_images(data.train.load, len(data.train)), data.train.labels
        val_images, val_y = collect_images(data.val.load, len(data.val)), data.val.labels
    encoder = inference_model(model) if args.device == "cpu" else model
    sync(args.device)
    result = probe_encoder(encoder, data, seeds=[0], knn_k=None, device=args.device)
    epochs = result.epochs[0]
    measured = result.seconds
    model = model.to(memory_format=torch.contiguous_format)  # the reference ran in the default format
    per_epoch = reference_epoch_seconds(model, fit_images, fit_y, val_images, val_y, args.baseline_epochs, args.device)
    test_images = collect_images(data.test.load, len(data.test))
    sync(args.device)
    start = time.perf_counter()
    with torch.no_grad():  # the reference's final test pass, once
        for i in range(0, len(test_images), 512):
            model(test_images[i : i + 512].to(args.device).float().div_(255))
    sync(args.device)
    test_seconds = time.perf_counter() - start
    baseline = per_epoch * epochs + test_seconds
    ratio = baseline / measured
    print(f"device: {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"data: {data.name}, {len(fit_images)} fit + {len(val_images)} validation + {len(data.test)} test images; "
        f"one seed; the probe early-stopped after {epochs} epochs (best epoch {result.best_epochs[0]})"
    )
    print(f"measured (cached features, encode once + {epochs} epochs): {measured:.2f} s")
    print(
        f"baseline (re-encode with the whole autoencoder every epoch): {per_epoch:.2f} s/epoch timed over "
        f"{args.baseline_epochs} epochs, extrapolated x {epochs} epochs + {test_seconds:.2f} s test pass "
        f"= {baseline:.1f} s (EXTRAPOLATED, not run in full)"
    )
    print(f"ratio: {ratio:.0f}x faster (goal >= {GOAL:.0f}x) {'OK' if ratio >= GOAL else 'BELOW GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
