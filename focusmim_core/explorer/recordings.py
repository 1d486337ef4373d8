"""People's eye-movement recordings in the explorer: list them, replay one observer, score one photo.

A recording is a folder holding a fixation table (``fixations.csv`` or ``.tsv``) and its photos (``stimuli/``):
the bundled one, the folders of ``$FOCUSMIM_RECORDINGS`` (os.pathsep-separated, the operator's), or an
uploaded image and table. Every value a front-end or the HTTP API passes is checked before any work, and
bounded: a replay shows at most ``MAX_FIXATIONS`` fixations, an uploaded table at most ``MAX_TABLE_BYTES``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError, echo
from ..gaze import MAP_NAMES, Masking, Recording, read_recording
from ..gaze.maps import DISAGREEMENT, ORACLE, frame_pixel, greedy_paths, photo_maps
from ..gaze.recording import BUNDLED_RECORDINGS, IMAGES_FOLDER, TABLE_NAMES
from ..gaze.scoring import score_recording
from ..geometry import IMAGE_SIZE
from .catalog import network_for
from .figures import SUGGESTION_COLOUR, colour_map, draw_markers, pixelated
from .render import Panels
from .scanpath import error_curve, random_scanpath, render_scanpath
from .viewstate import ViewState

RECORDINGS_ENV = "FOCUSMIM_RECORDINGS"
MAX_FIXATIONS = 12  # fixations a replay shows (as a clicked scanpath holds): its cost grows with their square
MAX_TABLE_BYTES = 5 * 2**20  # an uploaded fixation table
MAX_SCORED_FIXATIONS = 400  # kept fixations of the one photo an API call scores (a photo's dozen observers: ~150)
MAX_NAME_CHARACTERS = 200  # a recording's, photo's or observer's name as a front-end passes it
MAP_CAPTIONS = {ORACLE: "oracle error (reads the hidden pixels)", DISAGREEMENT: "disagreement (no hidden pixels)"}
SCANPATH_SOURCES = {"clicks": "your clicks", "recordings": "people's recordings"}  # whose fixations a Scanpath shows
UPLOAD_CHOICE = ""  # the recording choice "an uploaded photo and its table" (no folder has an empty name)
UPLOAD_LABEL = "upload a photo and its table"
NEXT_COLOUR = SUGGESTION_COLOUR  # the ring on the maps where the observer looked next


@dataclass(frozen=True)
class RecordingEntry:
    """A recording folder: its name (the folder's), its fixation table and its photos' folder."""

    name: str
    table: Path
    images: Path


def recording_folders() -> tuple[list[Path], list[str]]:
    """The folders searched for recordings: the bundled one, then every folder of ``$FOCUSMIM_RECORDINGS``; and a
    note for each of those that is not a folder (skipped)."""
    extra = [Path(p).expanduser() for p in os.environ.get(RECORDINGS_ENV, "").split(os.pathsep) if p.strip()]
    notes = [f"{RECORDINGS_ENV}: {echo(p)} is not a folder; it was skipped." for p in extra if not p.is_dir()]
    return [BUNDLED_RECORDINGS, *(p for p in extra if p.is_dir())], notes


def _entry(folder: Path) -> RecordingEntry | None:
    """The recording in ``folder`` (a table and a ``stimuli/`` folder), or None."""
    table = next((folder / name for name in TABLE_NAMES if (folder / name).is_file()), None)
    images = folder / IMAGES_FOLDER
    return RecordingEntry(folder.name, table, images) if table and images.is_dir() else None


def list_recordings() -> list[RecordingEntry]:
    """Every recording: each folder searched, and its subfolders, that holds a table and its photos (the first
    of a name wins)."""
    found: dict[str, RecordingEntry] = {}
    for root in recording_folders()[0]:
        for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            entry = _entry(folder)
            if entry is not None and entry.name not in found:
                found[entry.name] = entry
    return list(found.values())


def recording_choices() -> dict[str, str]:
    """What a visitor can replay, id -> label: every listed recording (by name), then an uploaded photo and table
    (``UPLOAD_CHOICE``)."""
    return {**{entry.name: entry.name for entry in list_recordings()}, UPLOAD_CHOICE: UPLOAD_LABEL}


def _checked_name(value: object, what: str) -> str:
    """A name a front-end passed: text of at most ``MAX_NAME_CHARACTERS``, else ``InputError``."""
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARACTERS:
        raise InputError(f"The {what} must be a name of 1 to {MAX_NAME_CHARACTERS} characters; got {echo(value)}.")
    return value


@functools.lru_cache(maxsize=4)
def _read(table: str, images: str, modified: float) -> Recording:
    """A recording folder read once per version of its table (``modified``: its mtime)."""
    return read_recording(table, images)


def open_recording(name: str) -> Recording:
    """The listed recording called ``name`` (``InputError`` naming the choices otherwise)."""
    entries = {entry.name: entry for entry in list_recordings()}
    if _checked_name(name, "recording") not in entries:
        raise InputError(f"No recording {echo(name)}: choose one of {', '.join(entries) or 'none'}.")
    entry = entries[name]
    return _read(str(entry.table), str(entry.images), entry.table.stat().st_mtime)


def upload_recording(table: bytes, image: bytes, image_name: str) -> Recording:
    """A recording of one uploaded photo and its fixation table (whose image column names ``image_name``)."""
    if len(table) > MAX_TABLE_BYTES:
        raise InputError(f"The fixation table is larger than {MAX_TABLE_BYTES // 2**20} MB: split it.")
    name = Path(_checked_name(image_name, "image file name")).name
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_bytes(image)
        return read_recording(table, folder)


def recording_summary(recording: Recording) -> dict[str, Any]:
    """What a recording holds: its photos with a kept fixation, each with the observers who have one on it, the
    counts, and the first messages of the rows skipped."""
    observers: dict[str, list[str]] = {name: [] for name in recording.names}
    for image, observer in recording.scanpaths():
        observers[image].append(observer)
    return {"images": {name: found for name, found in observers.items() if found}, "fixations_kept": recording.kept,
            "fixations_dropped": recording.dropped, "rows_skipped": recording.skipped,
            "problems": recording.problems}  # fmt: skip


def recording_notes(summary: dict[str, Any]) -> list[str]:
    """What a user should know about a recording (``recording_summary``): the fixations kept and dropped, and the
    rows skipped with the first messages."""
    notes = [f"{summary['fixations_kept']} fixations kept on {len(summary['images'])} photos; "
             f"{summary['fixations_dropped']} outside the kept square were dropped."]  # fmt: skip
    if not summary["images"]:
        notes.append("No fixation lies inside the frame the model sees (each photo's centre square): nothing to "
                     "replay.")  # fmt: skip
    if summary["rows_skipped"]:
        notes.append(f"{summary['rows_skipped']} rows were skipped: " + " ".join(summary["problems"]))
    return notes


def observer_path(recording: Recording, image: str, observer: str) -> list[tuple[int, int]]:
    """The frame pixels of an observer's kept fixations on a photo, the first ``MAX_FIXATIONS``."""
    paths = recording.scanpaths()
    key = (_checked_name(image, "photo"), _checked_name(observer, "observer"))
    if key not in paths:
        choices = ", ".join(o for (i, o) in paths if i == image) or "none"
        raise InputError(f"No kept fixation of observer {echo(observer)} on {echo(image)}: choose one of {choices}.")
    return [frame_pixel(f.frame_x, f.frame_y, IMAGE_SIZE) for f in paths[key][:MAX_FIXATIONS]]


def _masking(view: ViewState) -> Masking:
    return Masking(view.mode, view.ratio, view.fill)


@dataclass
class Replay:
    """One observer's scanpath replayed through the model: per human fixation its glimpse (``Panels``: masked
    input, reconstruction, ...), the model's priority maps for the next fixation (name -> ``(96, 96)``) and that
    next human fixation (None after the last); the error curves of the human, the model-suggested (greedy on the
    oracle error, as the explorer suggests) and a random path (same start and length); the checkpoint and notes."""

    path: list[tuple[int, int]]
    glimpses: list[Panels]
    maps: list[dict[str, torch.Tensor]]
    next_fixations: list[tuple[int, int] | None]
    curves: dict[str, list[float | None]]
    checkpoint: str | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The replay as plain data (maps as nested lists)."""
        return {
            "path": [list(p) for p in self.path], "checkpoint": self.checkpoint, "notes": self.notes,
            "curves": self.curves, "next_fixations": [list(p) if p else None for p in self.next_fixations],
            "metrics": [g.metrics for g in self.glimpses],
            "maps": [{k: np.round(v.numpy(), 6).tolist() for k, v in m.items()} for m in self.maps],
        }  # fmt: skip


def replay(recording: Recording, image: str, observer: str, view: ViewState) -> Replay:
    """Replay one observer's scanpath on one photo under the view's masking and checkpoint."""
    path = observer_path(recording, image, observer)
    frame = recording.images[recording.names.index(image)]
    network, masking = network_for(view), _masking(view)
    base = ViewState(mode=masking.mode, ratio=view.ratio, fill=view.fill)
    glimpses = render_scanpath(frame, path, base, network.model)
    histories = [tuple(path[: k + 1]) for k in range(len(path))]
    maps = photo_maps(network.model, frame, histories, masking, MAP_NAMES)
    count = len(path)
    others = {
        "suggested": greedy_paths(network.model, frame[None], path[:1], [count], masking, ORACLE)[0],
        "random": random_scanpath(path[0], count, IMAGE_SIZE, IMAGE_SIZE),
    }
    curves = {"observer": error_curve(glimpses)}  # the observer's glimpses are rendered once
    curves |= {name: error_curve(render_scanpath(frame, p, base, network.model)) for name, p in others.items()}
    curves = {name: curve + curve[-1:] * (count - len(curve)) for name, curve in curves.items()}  # ended early
    name = network.info.name if network.info else None
    return Replay(
        path, glimpses, [{m: maps[m][h] for m in MAP_NAMES} for h in histories], [*path[1:], None], curves, name,
        [*network.notes, *network.substitutions],
    )  # fmt: skip


def replay_pictures(replay: Replay, k: int, scale: int) -> list[tuple[np.ndarray, str]]:
    """Glimpse ``k`` (0-based) of a replay as captioned uint8 pictures ``(96 * scale, 96 * scale, 3)``: what the
    network was given, its reconstruction, and each priority map with a ring where the observer looked next."""
    glimpse, following = replay.glimpses[k], replay.next_fixations[k]
    pictures = [(pixelated(glimpse.masked_input, scale), f"seen after {k + 1}"),
                (pixelated(glimpse.reconstruction, scale), "reconstruction")]  # fmt: skip
    for name, caption in MAP_CAPTIONS.items():
        coloured = pixelated(colour_map(replay.maps[k][name]), scale)
        pictures.append((draw_markers(coloured, [following] if following else [], scale, [NEXT_COLOUR]), caption))
    return pictures


def next_fixation_note(replay: Replay, k: int) -> str:
    """What the ring on glimpse ``k``'s maps is (there is none after the observer's last fixation)."""
    if replay.next_fixations[k] is None:
        return "The observer's last fixation: no ring on the maps."
    return f"Green ring: where the observer looked next, {replay.next_fixations[k]}."


def photo_scores(
    recording: Recording, image: str, view: ViewState, multimatch: bool = True,
    centre_bias_from: Recording | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One photo's scores as JSON (``train.gaze``'s summary for this photo): counts, and per policy AUC, NSS and
    information gain over the centre bias (fitted on the recording's other photos, on ``centre_bias_from``, or
    for a one-photo recording on the bundled one) averaged over its fixations, with MultiMatch where there is one."""
    if _checked_name(image, "photo") not in recording.names:
        raise InputError(f"No photo {echo(image)} in this recording: choose one of {', '.join(recording.names)}.")
    network = network_for(view)
    scores = score_recording(recording, network.model, _masking(view), MAP_NAMES, None, multimatch, [image],
                             centre_bias_from)  # fmt: skip
    rows = scores.rows()
    kept = [f for f in recording.fixations if f.image == image]
    return {
        "images": 1, "observers": len({f.observer for f in kept if f.kept}),
        "fixations_kept": sum(f.kept for f in kept), "fixations_dropped": sum(not f.kept for f in kept),
        "policies": {row["policy"]: {k: v for k, v in row.items() if k not in ("image", "policy")} for row in rows},
        "smoothing": scores.smoothing_json(), "checkpoint": network.info.name if network.info else None,
    }  # fmt: skip


def score_upload(table: bytes, image: bytes, image_name: str, view: ViewState, multimatch: bool = True) -> dict:
    """``photo_scores`` of one uploaded photo (``image_name``, as the table's image column names it) and its
    fixation table (the centre bias fitted on the bundled recording), with the table's skipped rows; refused
    over ``MAX_SCORED_FIXATIONS`` kept fixations."""
    recording = upload_recording(table, image, image_name)
    if recording.kept > MAX_SCORED_FIXATIONS:
        raise InputError(f"The table holds {recording.kept} fixations inside the frame; one call scores at most "
                         f"{MAX_SCORED_FIXATIONS}: split it by observer, or run python -m train.gaze.")  # fmt: skip
    scores = photo_scores(recording, recording.names[0], view, multimatch)
    return {**scores, "rows_skipped": recording.skipped, "problems": recording.problems}
