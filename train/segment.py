"""Foreground masks of a whole dataset with rembg's u2netp (paper 3.7): ``python -m train.segment``.

    python -m train.segment --dataset stl10 --data-root data --split unlabeled --out data/unlabeled_fg.npy
    python -m train.segment --dataset synthetic --limit 2000 --out runs/synthetic_fg.npy
    python -m train.segment --dataset folder --data-root my_photos --out my_photos_fg.npy

Writes one uint8 array (N x 96 x 96, rembg's soft mask: confidence * 255), the keep flags
(``<out>.keep.npy``: >= 100 pixels at confidence >= 0.8) and a JSON record (``<out>.json``:
finished chunks, then kept/dropped counts, model and seconds). Killed runs resume: run
the same command again and finished chunks are skipped. Pretraining reads the file with
``--segment-path``. Exit status 2 with a message for a bad dataset, output or model.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from focusmim_core.data import STL10, SyntheticScenes, image_files, load_image
from focusmim_core.errors import InputError
from focusmim_core.segmentation import U2NET_MODELS, ForegroundModel, images_to_uint8
from focusmim_core.segmentation_file import CHUNK_SIZE, ImageChunkLoader, SegmentationPaths, segment_dataset

from .cli import add_config_arguments, config_from_args, option, run_and_report

DEFAULT_SPLIT = {"stl10": "unlabeled", "synthetic": "pretrain", "folder": "all"}
SYNTHETIC_DEFAULT_COUNT = 5000


@dataclass
class SegmentConfig:
    """A segmentation run."""

    dataset: str = option(
        "stl10", "stl10, synthetic (procedural scenes) or folder (every image file in --data-root and its subfolders)"
    )
    data_root: str = option("data", "STL-10 folder, or the image folder for --dataset folder")
    split: str | None = option(None, "stl10: unlabeled, train or test; synthetic: pretrain, train, val or test")
    out: str | None = option(None, "masks file (.npy); default segmentations/<dataset>_<split>.npy")
    limit: int | None = option(None, "segment only the first N images (synthetic: how many; default 5000)")
    synthetic_seed: int = option(0, "synthetic: dataset seed")
    model: str = option("u2netp", "rembg model")
    device: str = option("auto", "auto (GPU when onnxruntime has CUDA), cpu or cuda")
    batch_size: int | None = option(None, "images per network call (default 1 on CPU, 64 on GPU)")
    chunk_size: int = option(CHUNK_SIZE, "images per resumable chunk")
    overwrite: bool = option(False, "replace an existing file of another segmentation instead of refusing")


CHOICES = {
    "dataset": tuple(DEFAULT_SPLIT),  # the datasets image_source reads
    "split": ("unlabeled", "train", "test", "pretrain", "val"),
    "model": U2NET_MODELS,
    "device": ("auto", "cpu", "cuda"),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.segment``: one option per ``SegmentConfig`` field."""
    parser = argparse.ArgumentParser(
        prog="python -m train.segment", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_config_arguments(parser, SegmentConfig, choices=CHOICES)
    return parser


def parse_args(argv: list[str] | None = None) -> SegmentConfig:
    """A ``SegmentConfig`` from the command line."""
    return config_from_args(SegmentConfig, build_parser().parse_args(argv))


def image_source(config: SegmentConfig) -> tuple[ImageChunkLoader, int, dict[str, Any], list[str]]:
    """(loader of uint8 ``(n, 96, 96, 3)`` chunks, image count, source description, a folder's file names).

    A folder's images are ``image_files`` (subfolders included, sorted by path), as pretraining
    reads them; their names are paths relative to the folder.
    """
    split = config.split or DEFAULT_SPLIT[config.dataset]
    if config.dataset == "stl10":
        if split not in ("unlabeled", "train", "test"):
            raise InputError(f"STL-10 has no split {split!r}: use unlabeled, train or test.")
        data = STL10(config.data_root, split)
        count = min(len(data), config.limit or len(data))

        def load_stl10(start: int, stop: int) -> np.ndarray:
            return images_to_uint8(data.uint8(np.arange(start, stop)))

        return load_stl10, count, {"dataset": "stl10", "split": split}, []
    if config.dataset == "synthetic":
        if split not in ("pretrain", "train", "val", "test"):
            raise InputError(f"The procedural scenes have no split {split!r}: use pretrain, train, val or test.")
        count = config.limit or SYNTHETIC_DEFAULT_COUNT
        scenes = SyntheticScenes(split, seed=config.synthetic_seed, length=count)

        def load_synthetic(start: int, stop: int) -> np.ndarray:
            return images_to_uint8(scenes.batch(range(start, stop))[0])

        return load_synthetic, count, {"dataset": "synthetic", "split": split, "seed": config.synthetic_seed}, []
    root = Path(config.data_root).expanduser()
    files = image_files(root)[: config.limit]
    names = [f.relative_to(root).as_posix() for f in files]
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()

    def load_folder(start: int, stop: int) -> np.ndarray:
        return images_to_uint8(torch.stack([load_image(f) for f in files[start:stop]]))

    source = {"dataset": "folder", "path": str(root.resolve()), "files_sha1": digest}
    return load_folder, len(files), source, names


def foreground_model(config: SegmentConfig) -> ForegroundModel:
    """The rembg model on the asked-for device; ``InputError`` for CUDA without onnxruntime-gpu."""
    import onnxruntime as ort

    providers = None
    if config.device == "cpu":
        providers = ["CPUExecutionProvider"]
    elif config.device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise InputError(
                "--device cuda needs onnxruntime with CUDA (pip install onnxruntime-gpu); this onnxruntime "
                f"offers {', '.join(ort.get_available_providers())}. Use --device cpu."
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ForegroundModel(config.model, providers=providers, batch_size=config.batch_size)


def check_output(out: Path) -> None:
    """Raise ``InputError`` unless the masks file ``out`` can be written: no file stands where one of its folders
    must be, it is not a folder itself, and its folder exists or can be made."""
    blocking = next((path for path in out.parents if path.exists() and not path.is_dir()), None)
    if blocking is not None:
        raise InputError(f"--out {out}: {blocking} is a file, not a folder. Choose another path for the masks.")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder: give a file name for the masks, e.g. {out / 'masks.npy'}.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out {out}: its folder cannot be made ({error.strerror or error}). "
                         "Choose a path you can write to.") from None


def run(config: SegmentConfig, model: Any = None, on_chunk: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Segment what ``config`` names (resuming); returns the finished record. ``model`` overrides rembg."""
    if config.chunk_size < 1:
        raise InputError(f"--chunk-size must be at least 1 (got {config.chunk_size}).")
    if config.limit is not None and config.limit < 1:
        raise InputError(f"--limit must be at least 1 (got {config.limit}).")
    split = config.split or DEFAULT_SPLIT[config.dataset]
    out = config.out or f"segmentations/{config.dataset}_{split}.npy"
    check_output(Path(out))
    load, count, source, names = image_source(config)
    model = model or foreground_model(config)
    paths = SegmentationPaths.of(out)
    if names:
        paths.masks.parent.mkdir(parents=True, exist_ok=True)
        paths.masks.with_suffix(".files.txt").write_text("".join(f"{name}\n" for name in names))
    with tqdm(total=count, desc=f"segmenting {source['dataset']} {split}", unit="img") as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        record = segment_dataset(
            load, count, paths.masks, model, source, config.chunk_size, config.overwrite, progress, on_chunk
        )
    return {**{k: v for k, v in record.items() if k != "done"}, "path": str(paths.masks), "keep": str(paths.keep)}


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit status 0, or 2 with a message for a bad dataset, output or model."""
    return run_and_report(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
