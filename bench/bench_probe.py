"""Linear probe with cached features vs the reference's re-encoding of every image every epoch.

    python -m bench.bench_probe [--train 800] [--val 200] [--test 1280] [--seeds 5] [--baseline-epochs 2]

Measured: the probe as ``probe_encoder`` runs it (encode fit/validation/test images once,
then for each seed every epoch of the early-stopped fit on the cached features and the
test accuracy) on procedural scenes (or STL-10 with ``--data-root``), images held in
memory. Baseline, same run, same images: the reference's loop, which runs the whole
autoencoder (encoder and decoder) on every fit and validation image in every epoch, fits
the same linear layer, and runs it on the test images after each fit. The baseline is timed
for ``--baseline-epochs`` epochs and extrapolated linearly to the epochs each seed of the
measured probe ran (said in the output). Ratios for one seed and for the paper's 5 seeds.
Timing helpers are local to this file (bench/timing.py is not on this branch yet).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import torch
import torch.nn.functional as F

from bench.timing import sync
from focusmim_core import Autoencoder, inference_model
from focusmim_core.model import LATENT_DIM
from focusmim_core.probe import (
    NUM_CLASSES,
    ProbeSettings,
    accuracy,
    batched_logits,
    collect_images,
    encode_features,
    fit_linear_probe,
    stl10_probe_data,
    synthetic_probe_data,
)
from focusmim_core.runtime import configure_cpu_allocator

GOAL = 50.0


def reference_epoch_seconds(
    model: Autoencoder, fit_images: torch.Tensor, fit_y: torch.Tensor, val_images: torch.Tensor, val_y: torch.Tensor,
    epochs: int, device: str,
) -> float:  # fmt: skip
    """Seconds per epoch of the reference loop: full autoencoder forward per batch, then the linear step."""
    head = torch.nn.Linear(LATENT_DIM, NUM_CLASSES).to(device)
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


Split = tuple[torch.Tensor, torch.Tensor]


def probe_images(args: argparse.Namespace) -> tuple[str, Split, Split, Split]:
    """The data's name and its fit, validation and test splits: uint8 images ``(n, 3, 96, 96)`` and labels ``(n,)``."""
    if args.data_root:
        data = stl10_probe_data(args.data_root)
        pool = collect_images(data.train.load, args.train + args.val)
        labels = data.train.labels
        fit, val = (pool[: args.train], labels[: args.train]), (pool[args.train :], labels[args.train : len(pool)])
        return data.name, fit, val, (collect_images(data.test.load, args.test), data.test.labels[: args.test])
    data = synthetic_probe_data(train=args.train, val=args.val, test=args.test)
    assert data.val is not None
    splits = [(collect_images(split.load, n), split.labels) for split, n in
              ((data.train, args.train), (data.val, args.val), (data.test, args.test))]  # fmt: skip
    return data.name, *splits


def print_ratios(
    seeds: int,
    encode_seconds: float,
    fit_seconds: list[float],
    epochs: list[int],
    per_epoch: float,
    test_seconds: float,
) -> None:
    """Print measured and extrapolated baseline seconds and their ratio for 1 seed and for ``seeds`` seeds."""
    print(f"{'protocol':<22}{'measured s':>12}{'baseline s':>12}{'ratio':>8}")
    ratios = []
    for name, count in (("1 seed", 1), (f"{seeds} seeds (paper)", seeds)):
        measured = encode_seconds + sum(fit_seconds[:count])
        baseline = per_epoch * sum(epochs[:count]) + test_seconds * count
        ratios.append(baseline / measured)
        print(f"{name:<22}{measured:>12.2f}{baseline:>12.1f}{baseline / measured:>7.0f}x")
    print(f"(measured = encode once {encode_seconds:.2f} s + fits {', '.join(f'{s:.2f}' for s in fit_seconds)} s)")
    verdict = "OK" if ratios[-1] >= GOAL else "BELOW GOAL"
    print(f"ratio for the paper's protocol: {ratios[-1]:.0f}x faster (goal >= {GOAL:.0f}x) {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print measured, baseline and ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=800, help="fit images")
    parser.add_argument("--val", type=int, default=200, help="validation images")
    parser.add_argument("--test", type=int, default=1280, help="test images (the paper's 8,000 : 5,000 proportion)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--baseline-epochs", type=int, default=2)
    parser.add_argument("--data-root", default=None, help="use STL-10 from here instead of procedural scenes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    device = args.device
    name, (fit_images, fit_y), (val_images, val_y), (test_images, test_y) = probe_images(args)
    torch.manual_seed(0)
    model = Autoencoder().to(device).eval()
    encoder = inference_model(copy.deepcopy(model))

    def load_from(images: torch.Tensor):
        return lambda indices: images[indices].float().div_(255)

    sync(device)
    start = time.perf_counter()
    features = [
        encode_features(encoder.encode, load_from(images), len(images), device=device)
        for images in (fit_images, val_images, test_images)
    ]
    sync(device)
    encode_seconds = time.perf_counter() - start
    fit_seconds, epochs = [], []
    for seed in range(args.seeds):
        start = time.perf_counter()
        head, report = fit_linear_probe(features[0], fit_y, features[1], val_y, seed=seed)
        accuracy(batched_logits(head, features[2]), test_y)
        sync(device)
        fit_seconds.append(time.perf_counter() - start)
        epochs.append(report.epochs)
    per_epoch = reference_epoch_seconds(model, fit_images, fit_y, val_images, val_y, args.baseline_epochs, device)
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():  # the reference's test pass after each fit
        for i in range(0, len(test_images), 512):
            model(test_images[i : i + 512].to(device).float().div_(255))
    sync(device)
    test_seconds = time.perf_counter() - start
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"data: {name}, {len(fit_images)} fit + {len(val_images)} validation + {len(test_images)} test images "
        f"in memory for both sides; untrained encoder; epochs to early stopping per seed: {epochs}"
    )
    print(
        f"baseline (re-encode with the whole autoencoder every epoch): {per_epoch:.2f} s/epoch timed over "
        f"{args.baseline_epochs} epochs, {test_seconds:.2f} s per test pass; totals below are EXTRAPOLATED "
        "(per-epoch time x the epochs the measured probe ran), not run in full"
    )
    print_ratios(args.seeds, encode_seconds, fit_seconds, epochs, per_epoch, test_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
