"""A dataset's foreground masks in one array file, written resumably in chunks (paper 3.7).

Layout for ``--out masks.npy``:

- ``masks.npy``: uint8 ``(N, 96, 96)``, rembg's soft mask (confidence * 255), memory-mapped;
- ``masks.keep.npy``: bool ``(N,)``, the paper's filter (>= 100 pixels at confidence >= 0.8);
- ``masks.json``: the record: which chunks are finished, what was segmented with which model,
  and when complete the kept/dropped counts and the seconds spent.

A chunk's masks are flushed to disk before the record names it finished (the record is
replaced atomically), so a killed run loses at most the chunk in flight and a restart
skips every finished chunk. The reference wrote 100,000 PNG files one image at a time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .checkpoints import write_json
from .errors import DatasetError, InputError
from .geometry import IMAGE_SIZE
from .segmentation import keep_images

FORMAT = "focusmim-segmentation-1"
CHUNK_SIZE = 256
ImageChunkLoader = Callable[[int, int], np.ndarray]  # (start, stop) -> uint8 (n, H, W, 3) RGB


class MaskModel(Protocol):
    """What segmentation needs of a model (``ForegroundModel`` is one)."""

    name: str

    def predict(self, images: np.ndarray) -> np.ndarray:
        """uint8 ``(N, H, W, 3)`` -> uint8 soft masks ``(N, H, W)``."""
        ...


@dataclass(frozen=True)
class SegmentationPaths:
    """The three files of a segmentation: masks, keep flags and the progress/summary record."""

    masks: Path
    keep: Path
    record: Path

    @classmethod
    def of(cls, path: str | os.PathLike) -> SegmentationPaths:
        """Paths for a masks file (``.npy`` appended when missing)."""
        path = Path(path).expanduser()
        if path.suffix != ".npy":
            path = path.with_name(path.name + ".npy")
        stem = path.with_suffix("")
        return cls(path, stem.with_name(stem.name + ".keep.npy"), stem.with_name(stem.name + ".json"))


def read_record(paths: SegmentationPaths) -> dict[str, Any] | None:
    """The progress record, or None when there is none; ``DatasetError`` if it is not one of ours."""
    if not paths.record.is_file():
        return None
    try:
        record = json.loads(paths.record.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{paths.record} is not a segmentation record ({error}).") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DatasetError(f"{paths.record} is not a FocusMIM segmentation record (format {FORMAT!r} expected).")
    return record


def _chunk_count(count: int, chunk_size: int) -> int:
    return (count + chunk_size - 1) // chunk_size


def _open_arrays(paths: SegmentationPaths, count: int, fresh: bool) -> tuple[np.memmap, np.memmap] | None:
    """The masks and keep memmaps (created when ``fresh``); None when existing ones are absent or wrong."""
    shape = (count, IMAGE_SIZE, IMAGE_SIZE)
    if fresh:
        masks = np.lib.format.open_memmap(paths.masks, mode="w+", dtype=np.uint8, shape=shape)
        keep = np.lib.format.open_memmap(paths.keep, mode="w+", dtype=np.bool_, shape=(count,))
        return masks, keep
    try:
        masks = np.load(paths.masks, mmap_mode="r+")
        keep = np.load(paths.keep, mmap_mode="r+")
    except (OSError, ValueError, EOFError):
        return None
    if masks.shape != shape or masks.dtype != np.uint8 or keep.shape != (count,) or keep.dtype != np.bool_:
        return None
    return masks, keep


def _start_or_resume(
    paths: SegmentationPaths, identity: dict[str, Any], overwrite: bool
) -> tuple[dict[str, Any], np.memmap, np.memmap]:
    """The run's record and its open mask and keep arrays: the run at ``paths`` resumed, or a fresh one.

    Refuses (``InputError``) files that hold another segmentation, or no record at all,
    unless ``overwrite``.
    """
    paths.masks.parent.mkdir(parents=True, exist_ok=True)
    record = None if overwrite else read_record(paths)
    if record is not None and any(record.get(key) != value for key, value in identity.items()):
        raise InputError(
            f"{paths.masks} holds (part of) another segmentation ({record.get('source')}, model "
            f"{record.get('model')}, {record.get('count')} images, chunks of {record.get('chunk_size')}). "
            "Pass --overwrite to replace it, or choose another output path."
        )
    arrays = _open_arrays(paths, identity["count"], fresh=False) if record is not None else None
    if record is not None and arrays is not None:
        return record, *arrays
    if record is None and not overwrite and paths.masks.exists():
        raise InputError(
            f"{paths.masks} exists but has no segmentation record ({paths.record.name}): it is not a run to "
            "resume. Pass --overwrite to replace it, or choose another output path."
        )
    record = {**identity, "done": [], "complete": False, "seconds": 0.0}  # nothing to resume, or its arrays are gone
    write_json(paths.record, record)
    return record, *_open_arrays(paths, identity["count"], fresh=True)


def segment_dataset(
    load: ImageChunkLoader,
    count: int,
    path: str | os.PathLike,
    model: MaskModel,
    source: dict[str, Any],
    chunk_size: int = CHUNK_SIZE,
    overwrite: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    on_chunk: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Segment images ``0..count-1`` into the files at ``path``, resuming a previous run; returns the record.

    ``load(start, stop)`` gives uint8 RGB ``(n, 96, 96, 3)``; ``model.predict`` their soft masks.
    ``source`` describes the images (dataset, split, ...): resuming checks that it, the
    model and ``chunk_size`` match, and refuses otherwise unless ``overwrite``.
    ``progress(done, total)`` counts images finished (resumed ones included);
    ``on_chunk(index)`` runs after each chunk is recorded.
    """
    if count < 1:
        raise InputError("There are no images to segment.")
    paths = SegmentationPaths.of(path)
    identity = {"format": FORMAT, "count": count, "chunk_size": chunk_size, "model": model.name, "source": source}
    record, masks, keep = _start_or_resume(paths, identity, overwrite)
    done = set(record["done"])
    chunks = _chunk_count(count, chunk_size)
    started, spent = time.perf_counter(), float(record.get("seconds", 0.0))
    finished = sum(min(chunk_size, count - c * chunk_size) for c in done)
    if progress is not None:
        progress(finished, count)
    for chunk in range(chunks):
        if chunk in done:
            continue
        start, stop = chunk * chunk_size, min(count, (chunk + 1) * chunk_size)
        chunk_masks = model.predict(load(start, stop))
        masks[start:stop] = chunk_masks
        keep[start:stop] = keep_images(torch.from_numpy(chunk_masks)).numpy()
        masks.flush()
        keep.flush()
        done.add(chunk)
        record = {**record, "done": sorted(done), "seconds": spent + time.perf_counter() - started}
        write_json(paths.record, record)
        finished += stop - start
        if progress is not None:
            progress(finished, count)
        if on_chunk is not None:
            on_chunk(chunk)
    kept = int(np.count_nonzero(keep))
    record = {
        **record,
        "complete": True,
        "kept": kept,
        "dropped": count - kept,
        "seconds": spent + time.perf_counter() - started,
    }
    write_json(paths.record, record)
    return record


def load_segmentation(path: str | os.PathLike, expected_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A finished segmentation file: uint8 masks ``(N, 1, 96, 96)`` (confidence * 255) and bool keep flags ``(N,)``.

    The masks are memory-mapped copy-on-write (pages are read when used; nothing is ever
    written back). Raises ``DatasetError`` for a missing or unfinished file, or one whose
    length differs from ``expected_length`` (the dataset it is meant for).
    """
    paths = SegmentationPaths.of(path)
    how = "Make it with python -m train.segment (see --help)."
    if not paths.masks.is_file():
        raise DatasetError(f"No segmentation file at {paths.masks}. {how}")
    record = read_record(paths)
    if record is None:
        raise DatasetError(
            f"{paths.masks} has no segmentation record ({paths.record.name}), so it cannot be known to be finished. "
            f"{how}"
        )
    if not record.get("complete"):
        chunks = _chunk_count(int(record["count"]), int(record["chunk_size"]))
        raise DatasetError(
            f"{paths.masks} is unfinished: {len(record.get('done', []))} of {chunks} chunks are done. "
            "Run the same python -m train.segment command again to finish it (finished chunks are kept)."
        )
    try:
        masks = np.load(paths.masks, mmap_mode="c")
        keep = np.load(paths.keep)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{paths.masks} or {paths.keep.name} cannot be read ({error}). {how}") from None
    if masks.ndim != 3 or masks.dtype != np.uint8 or keep.shape != (masks.shape[0],):
        raise DatasetError(
            f"{paths.masks} is not a segmentation file: uint8 (N, {IMAGE_SIZE}, {IMAGE_SIZE}) masks and (N,) keep "
            f"flags expected, found {masks.dtype} {masks.shape} and {keep.shape}. {how}"
        )
    if masks.shape[0] != expected_length:
        raise DatasetError(
            f"segmentation file has {masks.shape[0]:,} masks but the dataset has {expected_length:,} images: "
            f"{paths.masks} was made for another dataset or split (record: {record.get('source')}). "
            f"Segment this dataset with python -m train.segment, or pass the matching file."
        )
    return torch.from_numpy(masks).unsqueeze(1), torch.from_numpy(keep.astype(np.bool_))
