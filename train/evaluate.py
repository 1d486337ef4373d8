"""Reconstruction quality on held-out photos: ``python -m train.evaluate CHECKPOINT...``.

For each checkpoint, under its own masking (from its metadata, or ``--mode``/``--ratio``/
``--fill``): the 8 gallery photos at 5 fixations each, random patches from a fixed seed
(``focusmim_core.evaluation``). Prints one row per checkpoint with the hidden-region PSNR
of the reconstruction and of its input, their difference (the gain), the hidden-region PSNR of
harmonic inpainting of the same views (no learning), the visible-region PSNR and the whole-image
PSNR; ``--write`` stores the report in the checkpoint's metadata (``metrics.gallery``, the JSON
beside the weights), ``--json`` prints JSON lines instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from focusmim_core import load_checkpoint
from focusmim_core.checkpoints import sidecar_path, write_json
from focusmim_core.errors import InputError
from focusmim_core.evaluation import EVAL_FIXATIONS, METRICS_KEY, ReconstructionReport, evaluate_reconstruction
from train.cli import fail

COLUMNS = (
    "hidden-region PSNR (dB)",
    "PSNR of its input there",
    "gain",
    "harmonic inpainting there",
    "visible-region PSNR",
    "whole image",
)


def db_cell(value: float | None, signed: bool = False) -> str:
    """A PSNR cell: ``16.0``, ``+1.2``, or ``–`` for none."""
    if value is None:
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def count_cell(value: object) -> str:
    """A count with thousands separators (``204,800``), or ``?`` when it is not a whole number."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


def report_row(name: str, images: str, report: ReconstructionReport) -> str:
    """One Markdown table row: name, images seen, then the report's columns in dB."""
    return (
        f"| `{name}` | {images} | {db_cell(report.psnr_hidden)} | "
        f"{'(exact)' if report.psnr_input_hidden is None else db_cell(report.psnr_input_hidden)} | "
        f"{db_cell(report.gain, signed=True)} | {db_cell(report.psnr_inpainted_hidden)} | "
        f"{db_cell(report.psnr_visible)} | {db_cell(report.psnr_whole)} |"
    )


def report_header(first: str = "checkpoint") -> str:
    """The Markdown header of a table of ``report_row`` rows."""
    return f"| {first} | images seen | " + " | ".join(COLUMNS) + " |\n|---|---|" + "---|" * len(COLUMNS)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.evaluate``."""
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path, help="safetensors or reference .pt files")
    parser.add_argument("--mode", default=None, help="masking mode (default: the checkpoint's own)")
    parser.add_argument("--ratio", type=float, default=None, help="masking ratio (default: the checkpoint's own)")
    parser.add_argument("--fill", default=None, help="mean or blur (default: the checkpoint's own)")
    parser.add_argument("--write", action="store_true", help="store the report in each checkpoint's JSON metadata")
    parser.add_argument("--json", action="store_true", help="print one JSON object per checkpoint")
    parser.add_argument(
        "--by-fixation", action="store_true", help="also one row per fixation (the report pools all five)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Evaluate checkpoints on the held-out gallery; exit code 2 with a message for a bad file."""
    args = build_parser().parse_args(argv)
    if not args.json:
        print(report_header())
    for path in args.checkpoints:
        try:
            model, meta = load_checkpoint(path)
            masking = args.mode or meta.mode, meta.ratio if args.ratio is None else args.ratio, args.fill or meta.fill
            report = evaluate_reconstruction(model, *masking)
            points = EVAL_FIXATIONS if args.by_fixation else ()
            rows = [(point, evaluate_reconstruction(model, *masking, (point,))) for point in points]
        except InputError as error:  # CheckpointError included
            return fail(error)
        images = count_cell(meta.extra.get("images_seen"))
        for point, row in [(None, report), *rows]:
            fields = {"checkpoint": str(path), **({"fixation": list(point)} if point else {}), **row.to_dict()}
            name = path.stem if point is None else f"{path.stem} at {point}"
            print(json.dumps(fields) if args.json else report_row(name, images, row), flush=True)
        if args.write:
            meta.metrics[METRICS_KEY] = report.to_dict()
            write_json(sidecar_path(path), meta.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
