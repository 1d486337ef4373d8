"""People's eye movements scored against the model's priority maps: ``python -m train.gaze``.

    python -m train.gaze --images photos/ --fixations fixations.csv --output gaze_scores
    python -m train.gaze --images photos/ --fixations f.tsv --output out --x-column row --y-column col --one-based

Reads a fixation table (CSV or TSV: image, observer, x, y in pixels of the stored photo, optionally index,
onset and duration) and the folder of its photos, maps every fixation into the 96 x 96 frame the models see
(as ``load_image`` maps the photo; outside the kept square: dropped), and scores, for every fixation given
the observer's fixations before it, the model's priority maps (``oracle_error`` reads the hidden pixels: an
oracle; ``disagreement`` does not) and the baselines (``uniform``, ``centre_bias``, ``human``) with pysaliency
(AUC, NSS, information gain over the centre bias) and MultiMatch. Writes ``fixations.csv``, ``scores.csv``
and ``summary.json`` into ``--output``. Exit status 2 with a message for a bad table, folder or checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from focusmim_core.checkpoints import default_checkpoint, list_checkpoints, load_checkpoint
from focusmim_core.errors import InputError, echo
from focusmim_core.gaze import GAZE_MODES, MAP_NAMES, Masking, Recording, TableColumns, read_recording
from focusmim_core.gaze.scoring import Scores, score_recording
from focusmim_core.masking import FILLS
from focusmim_core.model import inference_model

from .cli import add_config_arguments, config_from_args, option, run_and_report

AUTO = "auto"


@dataclass
class GazeConfig:
    """A scoring run."""

    images: str = option("", "folder of the photos the table names")
    fixations: str = option("", "fixation table, CSV or TSV (a .tsv/.tab file, or a header with tabs only)")
    output: str = option("gaze", "folder for fixations.csv, scores.csv and summary.json")
    checkpoint: str = option(AUTO, "a name in checkpoints/ or a weights file (auto: the default for --mode)")
    mode: str = option("periphery", "what a fixation reveals", choices=GAZE_MODES)
    ratio: float = option(0.8, "masking ratio")
    fill: str = option("mean", "what hidden pixels show", choices=FILLS)
    maps: str = option(",".join(MAP_NAMES), f"model maps to score, comma-separated ({', '.join(MAP_NAMES)})")
    limit: int | None = option(None, "score only the first N photos of the table")
    multimatch: bool = option(True, "compare whole scanpaths with MultiMatch (the model's greedy paths: slower)")
    image_column: str = option("image", "column of the image file names")
    observer_column: str = option("observer", "column of the observers")
    x_column: str = option("x", "column of x (the pixel column)")
    y_column: str = option("y", "column of y (the pixel row)")
    index_column: str = option("index", "column of the fixation's index in its scanpath (absent: table order)")
    onset_column: str = option("onset_ms", "column of the onset (optional)")
    duration_column: str = option("duration_ms", "column of the duration (optional)")
    row_first: bool = option(False, "the x column holds the row and the y column the column")
    one_based: bool = option(False, "coordinates count from 1 (MATLAB)")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.gaze``: one option per ``GazeConfig`` field."""
    parser = argparse.ArgumentParser(
        prog="python -m train.gaze", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_config_arguments(parser, GazeConfig, choices={"mode": GAZE_MODES, "fill": FILLS})
    return parser


def parse_args(argv: list[str] | None = None) -> GazeConfig:
    """A ``GazeConfig`` from the command line."""
    return config_from_args(GazeConfig, build_parser().parse_args(argv))


def columns_of(config: GazeConfig) -> TableColumns:
    """The table's columns as the options name them."""
    return TableColumns(
        config.image_column, config.observer_column, config.x_column, config.y_column, config.index_column,
        config.onset_column, config.duration_column, config.row_first, config.one_based,
    )  # fmt: skip


def network(config: GazeConfig) -> torch.nn.Module:
    """The checkpoint's network for inference: a weights file, a shipped checkpoint's name, or the default."""
    path = Path(config.checkpoint)
    if config.checkpoint != AUTO and path.is_file():
        return inference_model(load_checkpoint(path)[0])
    listed = [info for info in list_checkpoints() if info.error is None]
    if config.checkpoint == AUTO:
        info = default_checkpoint(config.mode, config.fill, listed)
    else:
        info = next((i for i in listed if i.name == config.checkpoint), None)
    if info is None:
        names = ", ".join(i.name for i in listed) or "none"
        raise InputError(f"No checkpoint {echo(config.checkpoint)}: give a weights file or one of {names}.")
    return inference_model(load_checkpoint(info.path)[0])


def map_names(config: GazeConfig) -> list[str]:
    """The model maps asked for, each checked."""
    names = [name.strip() for name in config.maps.split(",") if name.strip()]
    unknown = [name for name in names if name not in MAP_NAMES]
    if unknown:
        raise InputError(f"Unknown map {echo(unknown[0])}: use {', '.join(MAP_NAMES)}.")
    return names


def write_fixations(recording: Recording, path: Path) -> None:
    """``fixations.csv``: one row per valid input fixation, in the frame, with whether it was kept."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "observer", "index", "x", "y", "kept"])
        for f in recording.fixations:
            writer.writerow([f.image, f.observer, f"{f.order:g}", f"{f.frame_x:.3f}", f"{f.frame_y:.3f}", int(f.kept)])


def write_scores(scores: Scores, path: Path) -> None:
    """``scores.csv``: one row per photo and policy (``Scores.rows``; empty cells where there is no value)."""
    rows = scores.rows()
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def summary(recording: Recording, scores: Scores) -> dict[str, Any]:
    """``summary.json``: counts, per policy the metrics averaged over fixations, and the baselines' smoothing."""
    return {
        "images": len(recording.names),
        "observers": len(recording.observers),
        "fixations_kept": recording.kept,
        "fixations_dropped": recording.dropped,
        "policies": scores.policy_means(),
        "smoothing": scores.smoothing_json(),
    }


def run(config: GazeConfig) -> dict[str, Any]:
    """Read, score and write; the summary (plus the skipped rows' count) for the command line."""
    if not config.images or not config.fixations:
        raise InputError("Give the photos' folder (--images) and the fixation table (--fixations).")
    masking, names = Masking(config.mode, config.ratio, config.fill), map_names(config)
    recording = read_recording(config.fixations, config.images, columns_of(config), config.limit)
    for problem in recording.problems:
        print(problem, file=sys.stderr)
    model = network(config)
    with tqdm(total=recording.kept, desc="scoring fixations", unit="fix") as bar:
        scores = score_recording(recording, model, masking, names, bar.update, config.multimatch)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    write_fixations(recording, output / "fixations.csv")
    write_scores(scores, output / "scores.csv")
    result = summary(recording, scores)
    (output / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    return {**result, "rows_skipped": recording.skipped, "output": str(output)}


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit status 0, or 2 with a message for a bad table, folder, checkpoint or option."""
    return run_and_report(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
