"""People's fixations on photos, read from a table and a folder of images, in the models' 96 x 96 frame.

A fixation table (CSV or TSV) has one row per fixation: the image's file name, the observer, x and y in
pixels of the stored photo (origin at the top left corner; optionally row first, optionally 1-based), and
optionally the fixation's index in its scanpath, its onset and its duration. Each fixation is mapped into the
frame with the very geometry ``load_image`` applied to its photo (``FrameGeometry``: EXIF orientation, centre
square, resize); one outside the kept square is dropped and counted, never clamped. A bad row is skipped with
a message naming the file, the line and the column. The result converts to and from pysaliency's
``Stimuli`` and ``FixationTrains``.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.images import FrameGeometry, load_image_geometry, to_uint8_image
from ..errors import InputError, echo

BUNDLED_RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "recordings"  # shipped: offline on first launch
TABLE_NAMES = ("fixations.csv", "fixations.tsv")  # a recording folder's table, beside its ``stimuli/`` folder
IMAGES_FOLDER = "stimuli"
BUNDLED_NAME = "scene_fixations"  # the bundled recording's folder
MAX_ROWS = 100_000  # a larger table is refused before any image is read
TAB_SUFFIXES = (".tsv", ".tab")


@dataclass(frozen=True)
class TableColumns:
    """The columns of a fixation table and how to read its coordinates. ``index``, ``onset`` and ``duration``
    are optional: a table without such a column is read without it (rows in table order)."""

    image: str = "image"
    observer: str = "observer"
    x: str = "x"
    y: str = "y"
    index: str | None = "index"
    onset: str | None = "onset_ms"
    duration: str | None = "duration_ms"
    row_first: bool = False  # the x column holds the row, the y column the column
    one_based: bool = False  # the top left pixel is (1, 1)


@dataclass(frozen=True)
class Fixation:
    """One valid row: ``x``, ``y`` in stored pixels of the photo, ``frame_x``, ``frame_y`` in the frame, ``kept``
    whether it lies in the kept square; ``order`` its index in the scanpath (else its line)."""

    image: str
    observer: str
    order: float
    x: float
    y: float
    frame_x: float
    frame_y: float
    kept: bool
    onset: float | None = None
    duration: float | None = None


@dataclass
class Recording:
    """Photos in the frame (``images`` ``(N, 3, 96, 96)`` named ``names``), every valid fixation, and the
    messages of the rows skipped (``skipped`` counts them all; ``problems`` keeps the first ``MAX_MESSAGES``)."""

    names: list[str]
    images: torch.Tensor
    fixations: list[Fixation]
    problems: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def kept(self) -> int:
        """Fixations inside the kept square."""
        return sum(f.kept for f in self.fixations)

    @property
    def dropped(self) -> int:
        """Fixations outside the kept square (not clamped: dropped)."""
        return len(self.fixations) - self.kept

    @property
    def observers(self) -> list[str]:
        """Every observer with at least one valid fixation, in order of appearance."""
        return list(dict.fromkeys(f.observer for f in self.fixations))

    def scanpaths(self) -> dict[tuple[str, str], list[Fixation]]:
        """(image, observer) -> its kept fixations in scanpath order; pairs with none are absent."""
        paths: dict[tuple[str, str], list[Fixation]] = {}
        for fixation in sorted(self.fixations, key=lambda f: f.order):
            if fixation.kept:
                paths.setdefault((fixation.image, fixation.observer), []).append(fixation)
        return {key: paths[key] for key in sorted(paths, key=lambda k: (self.names.index(k[0]), k[1]))}


MAX_MESSAGES = 50


class _Rows:
    """The rows of a table being read: the skipped ones counted, their first messages kept."""

    def __init__(self, name: str):
        self.name, self.problems, self.skipped = name, [], 0

    def skip(self, line: int, column: str, problem: str) -> None:
        """Count a bad row and keep its message."""
        self.skipped += 1
        if len(self.problems) < MAX_MESSAGES:
            self.problems.append(f"{self.name}, line {line}, column {echo(column)}: {problem}; the row was skipped.")


def _table_text(table: str | os.PathLike | bytes) -> tuple[str, str, str]:
    """The table's text, its name for messages and its delimiter (tab for .tsv/.tab or a tab-only header)."""
    if isinstance(table, bytes):
        text, name, suffix = table.decode("utf-8-sig", errors="replace"), "the uploaded table", ""
    else:
        path = Path(table)
        if not path.is_file():
            raise InputError(f"No fixation table at {echo(path)}: give a CSV or TSV file.")
        text, name, suffix = path.read_text(encoding="utf-8-sig", errors="replace"), echo(path.name), path.suffix
    header = text.split("\n", 1)[0]
    tab = suffix.lower() in TAB_SUFFIXES or ("\t" in header and "," not in header)
    return text, name, "\t" if tab else ","


def _number(value: str | None) -> float | None:
    """A finite number, or None for a missing value, a non-number or NaN/infinity."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _records(table: str | os.PathLike | bytes, columns: TableColumns) -> tuple[Iterator[tuple[int, dict]], str]:
    """The table's rows as (line, {column: text}), after checking its header and its length."""
    text, name, delimiter = _table_text(table)
    if text.count("\n") > MAX_ROWS + 1:
        raise InputError(f"{name} has more than {MAX_ROWS:,} rows: split it into smaller tables.")
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    missing = [c for c in (columns.image, columns.observer, columns.x, columns.y) if c not in header]
    if missing:
        raise InputError(
            f"{name} has no column {', '.join(echo(c) for c in missing)} (its columns: "
            f"{echo(', '.join(header), 120)}): name the columns that hold them."
        )
    return ((reader.line_num, row) for row in reader), name


@dataclass
class _Photos:
    """The photos of the image folder, each loaded once: its frame and geometry, or why it cannot be used."""

    folder: Path
    loaded: dict[str, tuple[torch.Tensor, FrameGeometry] | str] = field(default_factory=dict)

    def get(self, name: str) -> tuple[torch.Tensor, FrameGeometry] | str:
        """The photo called ``name`` in the folder, or a message why not."""
        if name not in self.loaded:
            path = (self.folder / name).resolve()
            if not name or self.folder.resolve() not in path.parents or not path.is_file():
                self.loaded[name] = f"no image {echo(name)} in the image folder"
            else:
                try:
                    self.loaded[name] = load_image_geometry(path)
                except InputError as error:
                    self.loaded[name] = str(error).rstrip(".")
        return self.loaded[name]


def _fixation(line: int, row: dict, columns: TableColumns, photos: _Photos, rows: _Rows) -> Fixation | None:
    """One row as a ``Fixation`` in its photo's frame, or None (the problem recorded in ``rows``)."""
    for column in (columns.image, columns.observer, columns.x, columns.y):
        if row.get(column) in (None, ""):
            rows.skip(line, column, "the value is missing")
            return None
    values = {}
    for column in (columns.x, columns.y):
        values[column] = _number(row[column])
        if values[column] is None:
            rows.skip(line, column, f"{echo(row[column])} is not a finite number")
            return None
    photo = photos.get(row[columns.image])
    if isinstance(photo, str):
        rows.skip(line, columns.image, photo)
        return None
    _, geometry = photo
    first, second = values[columns.x], values[columns.y]
    x, y = (second, first) if columns.row_first else (first, second)
    x, y = (x - 1, y - 1) if columns.one_based else (x, y)
    for column, value, limit in ((columns.x, x, geometry.width), (columns.y, y, geometry.height)):
        if not 0 <= value < limit:
            rows.skip(line, column, f"{value:g} is outside the {geometry.width} x {geometry.height} photo")
            return None
    frame_x, frame_y, inside = geometry.to_frame(np.array([x]), np.array([y]))
    optional = {key: _number(row.get(name)) if name else None for key, name in
                (("order", columns.index), ("onset", columns.onset), ("duration", columns.duration))}  # fmt: skip
    order = optional.pop("order")
    return Fixation(row[columns.image], row[columns.observer], float(line if order is None else order), x, y,
                    float(frame_x[0]), float(frame_y[0]), bool(inside[0]), **optional)  # fmt: skip


def read_recording(
    table: str | os.PathLike | bytes, images: str | os.PathLike, columns: TableColumns | None = None,
    limit: int | None = None,
) -> Recording:  # fmt: skip
    """A fixation table and its folder of images as a ``Recording`` (``limit``: the first photos only).

    ``InputError`` for a table that cannot be read at all (not there, a required column missing, over
    ``MAX_ROWS`` rows) or that has no valid row; bad rows are skipped with their message.
    """
    columns = columns or TableColumns()
    folder = Path(images)
    if not folder.is_dir():
        raise InputError(f"The image folder {echo(folder)} does not exist: give the folder of the photos.")
    records, name = _records(table, columns)
    photos, rows, fixations = _Photos(folder), _Rows(name), []
    for line, row in records:
        image = row.get(columns.image)
        if limit is not None and image not in photos.loaded and len(photos.loaded) >= limit:
            continue
        fixation = _fixation(line, row, columns, photos, rows)
        if fixation is not None:
            fixations.append(fixation)
    names = list(dict.fromkeys(f.image for f in fixations))
    if not names:
        raise InputError(f"{name} has no valid fixation: {rows.problems[0] if rows.problems else 'it is empty'}")
    frames = torch.stack([photos.loaded[n][0] for n in names])  # type: ignore[index]
    return Recording(names, frames, fixations, rows.problems, rows.skipped)


def to_pysaliency(recording: Recording) -> tuple[object, object, list[str]]:
    """The kept fixations as pysaliency ``Stimuli`` (the 96 x 96 frames, uint8) and ``FixationTrains`` (one
    train per image and observer with a kept fixation; subjects numbered in ``observers`` order), and the
    observers' names."""
    import pysaliency

    observers = recording.observers
    paths = recording.scanpaths()
    trains = list(paths.items())
    fixations = pysaliency.FixationTrains.from_fixation_trains(
        [np.array([f.frame_x for f in path]) for _, path in trains],
        [np.array([f.frame_y for f in path]) for _, path in trains],
        [np.arange(len(path), dtype=float) for _, path in trains],
        [recording.names.index(image) for (image, _), _ in trains],
        [observers.index(observer) for (_, observer), _ in trains],
    )
    stimuli = pysaliency.Stimuli([to_uint8_image(image) for image in recording.images])
    return stimuli, fixations, observers


def _stimulus_frame(stimuli: object, index: int) -> tuple[torch.Tensor, FrameGeometry]:
    """Stimulus ``index`` of pysaliency ``stimuli`` loaded as ``load_image`` loads a file: from its file when it
    has one (``FileStimuli``), else from its pixels encoded as PNG."""
    filenames = getattr(stimuli, "filenames", None)
    if filenames is not None:
        return load_image_geometry(filenames[index])
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(stimuli.stimuli[index])).save(buffer, format="PNG")  # type: ignore[attr-defined]
    return load_image_geometry(buffer.getvalue())


def from_pysaliency(stimuli: object, fixations: object, names: list[str] | None = None) -> Recording:
    """A ``Recording`` from any dataset pysaliency loads (MIT1003, CAT2000, ...): its ``Stimuli`` and its
    ``FixationTrains`` (or ``Fixations``), each photo mapped into the frame as ``load_image`` maps it."""
    names = names or [f"{index:04d}" for index in range(len(stimuli))]  # type: ignore[arg-type]
    loaded = [_stimulus_frame(stimuli, index) for index in range(len(names))]
    order = getattr(fixations, "lengths", np.arange(len(fixations.x)))  # type: ignore[attr-defined]
    result = []
    for x, y, n, subject, k in zip(fixations.x, fixations.y, fixations.n, fixations.subjects, order, strict=True):  # type: ignore[attr-defined]
        frame_x, frame_y, inside = loaded[int(n)][1].to_frame(np.array([x]), np.array([y]))
        result.append(Fixation(names[int(n)], str(subject), float(k), float(x), float(y), float(frame_x[0]),
                               float(frame_y[0]), bool(inside[0])))  # fmt: skip
    seen = {f.image for f in result}
    used = [name for name in names if name in seen]
    if not used:
        raise InputError("The pysaliency dataset has no fixation on its stimuli.")
    return Recording(used, torch.stack([loaded[names.index(name)][0] for name in used]), result)


@functools.lru_cache(maxsize=1)
def bundled_recording() -> Recording:
    """The recording shipped with the project (``BUNDLED_NAME``: 8 photos and their fixations, MIT licence)."""
    folder = BUNDLED_RECORDINGS / BUNDLED_NAME
    return read_recording(folder / TABLE_NAMES[0], folder / IMAGES_FOLDER)
