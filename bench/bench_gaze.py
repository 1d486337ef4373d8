"""Scoring people's fixations: model maps per second, batched, next to one view at a time; a whole set's time.

    python -m bench.bench_gaze [--set FOLDER] [--device cpu|cuda] [--no-multimatch]

Maps: the oracle and the disagreement map for every fixation of the bundled recording's first photos, all
views of a photo in batched forward passes (``gaze.photo_maps``), against the same maps computed one view at
a time (the baseline, same run). ``--set``: a recording folder (``fixations.csv`` and ``stimuli/``, e.g. the
42-photo set) scored whole as ``python -m train.gaze`` scores it, against the goal of 60 s for 42 photos (for
another set, the same time per photo; ``make bench`` scores the bundled 8 photos).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench.timing import machine
from focusmim_core.checkpoints import default_checkpoint, load_checkpoint
from focusmim_core.gaze import MAP_NAMES, Masking, read_recording, to_pysaliency
from focusmim_core.gaze.maps import photo_maps
from focusmim_core.gaze.recording import BUNDLED_RECORDINGS, IMAGES_FOLDER, TABLE_NAMES
from focusmim_core.gaze.scoring import history_points, photo_subset, score_recording
from focusmim_core.model import inference_model
from focusmim_core.runtime import configure_cpu_allocator

GOAL_SECONDS, GOAL_PHOTOS = 60, 42  # the 42-photo set, oracle and one ground-truth-free map, on the 2-core CPU
PHOTOS = 2  # of the bundled recording, for the maps' throughput


def load(folder: Path, limit: int | None = None):
    """The recording in ``folder`` (its table and ``stimuli/``)."""
    table = next(folder / name for name in TABLE_NAMES if (folder / name).is_file())
    return read_recording(table, folder / IMAGES_FOLDER, limit=limit)


def maps_throughput(model: torch.nn.Module, masking: Masking) -> tuple[float, float, int]:
    """(fixations/s batched, fixations/s one view at a time, fixations) for both maps on ``PHOTOS`` photos."""
    recording = load(BUNDLED_RECORDINGS / "scene_fixations", PHOTOS)
    stimuli, fixations, _ = to_pysaliency(recording)
    work = []
    for n in range(len(recording.names)):
        subset = photo_subset(stimuli, fixations, n)[1]
        work.append([history_points(x, y) for x, y in zip(subset.x_hist, subset.y_hist, strict=True)])
    count = sum(len(h) for h in work)
    photo_maps(model, recording.images[0], work[0][:4], masking, MAP_NAMES)  # warm-up
    start = time.perf_counter()
    for n, histories in enumerate(work):
        photo_maps(model, recording.images[n], histories, masking, MAP_NAMES)
    batched = count / (time.perf_counter() - start)
    sample = work[0][:16]
    start = time.perf_counter()
    for history in sample:
        photo_maps(model, recording.images[0], [history], masking, MAP_NAMES)
    single = len(sample) / (time.perf_counter() - start)
    return batched, single, count


def main(argv: list[str] | None = None) -> int:
    """Print the maps' throughput and, with ``--set``, the time of a whole set."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gaze", description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=None, help="a recording folder to score whole")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-multimatch", action="store_true", help="skip the greedy scanpaths and MultiMatch")
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    masking = Masking()
    info = default_checkpoint(masking.mode, masking.fill)
    model = inference_model(load_checkpoint(info.path)[0]).to(args.device)
    print(f"{machine()}; checkpoint {info.name}; the machine may be shared: compare only within this run")
    batched, single, count = maps_throughput(model, masking)
    print(f"maps ({', '.join(MAP_NAMES)}) for {count} fixations: batched {batched:.1f} fixations/s, "
          f"one view at a time {single:.1f} fixations/s, ratio {batched / single:.1f}x")  # fmt: skip
    if args.set is not None:
        start = time.perf_counter()
        recording = load(args.set)
        read = time.perf_counter() - start
        scores = score_recording(recording, model, masking, MAP_NAMES, multimatch_paths=not args.no_multimatch)
        total = time.perf_counter() - start
        goal = GOAL_SECONDS * len(scores.names) / GOAL_PHOTOS  # another set: the goal's time per photo
        verdict = "met" if total <= goal else "MISSED"
        print(f"{args.set}: {len(scores.names)} photos, {recording.kept} fixations kept: {total:.1f} s "
              f"(reading {read:.1f} s; {recording.kept / (total - read):.1f} fixations/s scored), "
              f"MultiMatch {'off' if args.no_multimatch else 'on'}; goal <= {goal:.1f} s "
              f"({GOAL_SECONDS} s per {GOAL_PHOTOS} photos): {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
