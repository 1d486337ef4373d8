"""Dataset segmentation throughput vs the reference's one-image-at-a-time rembg loop.

    python -m bench.bench_segment [--count 16] [--device auto|cpu|cuda] [--batch-size N]

Measured: ``segment_dataset`` with ``ForegroundModel`` (rembg's u2netp pipeline, batched
where the device allows) writing the masks, keep flags and record to a temporary file,
on ``--count`` procedural scenes, images/s. Baseline, same run, same images: a Python loop
of ``rembg.remove(image, only_mask=True, post_process_mask=False, session=session)`` with
one ``new_session("u2netp")`` made beforehand (not timed; the reference notebook also
wrote one PNG per image, which is not timed here either). After a one-image warm-up each,
the two sides are timed in alternating rounds (median), so load from other processes on a
shared machine hits both alike. Also checks that both give the same masks within 1/255.
Timing helpers are local to this file (bench/timing.py is not on this branch yet).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from focusmim_core.data import SyntheticScenes
from focusmim_core.runtime import configure_cpu_allocator
from focusmim_core.segmentation import ForegroundModel, images_to_uint8, model_home
from focusmim_core.segmentation_file import segment_dataset


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print measured, baseline and ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=8, help="images per round")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per side (median)")
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    os.environ.setdefault("U2NET_HOME", str(model_home()))
    from rembg import new_session, remove

    images = images_to_uint8(SyntheticScenes("pretrain", length=args.count).batch(range(args.count))[0])
    providers = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
    model = ForegroundModel("u2netp", providers=providers.get(args.device), batch_size=args.batch_size)
    session = new_session("u2netp")
    model.predict(images[:1])  # warm-ups
    remove(images[0], session=session, only_mask=True, post_process_mask=False)
    ours_times, baseline_times, reference = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):  # alternate the two sides so that load changes hit both alike
            start = time.perf_counter()
            segment_dataset(
                lambda a, b: images[a:b], len(images), Path(tmp) / f"fg{round_}.npy", model, {"bench": True}
            )
            ours_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            reference = [remove(image, session=session, only_mask=True, post_process_mask=False) for image in images]
            baseline_times.append(time.perf_counter() - start)
        ours = np.load(Path(tmp) / "fg0.npy")
    measured, baseline = statistics.median(ours_times), statistics.median(baseline_times)
    difference = int(np.abs(ours.astype(int) - np.stack([np.asarray(r) for r in reference]).astype(int)).max())
    print(
        f"providers: {model.providers}, batch {model.batch_size}; {args.count} procedural 96 x 96 images, "
        f"median of {args.rounds} alternating rounds"
    )
    print(f"measured (segment_dataset, batched, written to one .npy): {args.count / measured:.2f} images/s")
    print(f"baseline (sequential rembg.remove loop, one session):      {args.count / baseline:.2f} images/s")
    print(f"ratio: {baseline / measured:.2f}x; largest mask difference {difference}/255 (must be <= 1)")
    return 0 if difference <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
