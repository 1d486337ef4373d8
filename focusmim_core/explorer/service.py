"""The explorer service without a UI framework: a view (``ViewState``) in, its image, network and panels out.

What both front-ends (the Streamlit pages and the Gradio app with its HTTP API) get from the
explorer: renders, mode comparisons, ratio sweeps, scanpaths, the checkpoint catalog, training
runs and grids, latents, and the exports; ``figures`` draws them. Checkpoints are loaded once per
file version and kept in a small cache. Everything that can go wrong with user input raises
``InputError`` with a message naming the problem.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import torch
from torch import nn

from ..checkpoints import CheckpointInfo
from ..data import GALLERY, STL10, to_uint8_image
from ..data.images import load_image
from ..errors import InputError
from ..evaluation import stored_report
from ..fixations import center_fixation
from ..latent_analysis import SEGMENTATION_CUTS as SEGMENTATION_CUTS
from ..latent_analysis import channel_grid as channel_grid
from ..latent_analysis import latent_segmentation as latent_segmentation
from ..latent_analysis import latent_tsne as latent_tsne
from ..latent_analysis import strongest_units, unit_correlations
from ..masking import MODES
from ..results import RESULTS_FILE as RESULTS_FILE
from ..results import (
    ConditionSummary,
    cell_count,
    find_grid_folders,
    random_init_probe,
    read_grid_settings,
    read_result_lines,
    summarise_results,
)
from ..segmentation import foreground_model
from .catalog import AUTO, Network, available_checkpoints, checkpoint_folders, describe, details_markdown, network_for
from .catalog import load_network as load_network  # re-exported with untrained_network: the pages' cached networks
from .catalog import untrained_network as untrained_network
from .controls import CONTROLS as CONTROLS  # re-exported: the Explore controls both front-ends declare
from .export import panel_images, panel_row_png, settings_json
from .figures import METRIC_LABELS
from .latent_batch import BATCH_SOURCES as BATCH_SOURCES
from .latent_batch import batch_images, encode_batch
from .latent_batch import statistics_row as statistics_row
from .recordings import (  # noqa: F401 (re-exported: people's recordings, for the Scanpath views and the API)
    MAP_CAPTIONS,
    MAX_TABLE_BYTES,
    NEXT_COLOUR,
    RECORDINGS_ENV,
    SCANPATH_SOURCES,
    UPLOAD_CHOICE,
    UPLOAD_LABEL,
    Replay,
    list_recordings,
    next_fixation_note,
    open_recording,
    photo_scores,
    recording_choices,
    recording_notes,
    recording_summary,
    replay,
    replay_pictures,
    score_upload,
    upload_recording,
)
from .render import Panels, harmonic_caption, harmonic_reference, render, render_batch, render_modes
from .runs import CURVE_KEYS as CURVE_KEYS
from .runs import ProbeRow, Run, find_runs, run_folders
from .runs import probe_rows as probe_rows
from .runs import quality_curves as quality_curves
from .scanpath import SCANPATH_MODES, render_scanpath, reveal_radius, reveals_square, suggest_fixation
from .sources import ImageItem, gallery_item, synthetic_item
from .sweeps import SWEEP_RATIOS as SWEEP_RATIOS
from .sweeps import mode_table, ratio_curves, scanpath_curves
from .viewstate import FOLDERLESS_SOURCES, IMAGE_SIZE, SYNTHETIC_COUNT, ViewState, one_of, to_query

# A scanpath's cost grows with the square of its length (each step renders the suggested and a random path
# too): the front-ends stop adding fixations here, and the service refuses longer paths.
MAX_FIXATIONS = 12


Finder = Callable[[np.ndarray], np.ndarray | str]  # uint8 (H, W, 3) pixels -> foreground (H, W) or why not


class Messages:
    """What a result tells the user, mixed into the results below: ``notes`` (problems with the networks), then
    ``caveats`` (things to know, not problems), then ``foreground_note`` (why there is no foreground map)."""

    notes: list[str]
    substitutions: list[str]  # another mode's checkpoint stands in (``Network.substitutions``)
    foreground_note: str | None

    def view_caveats(self) -> list[str]:
        """What to know about the views: checkpoints trained at the centre alone fixated elsewhere (``fixation_notes``)
        and the like; none by default."""
        return []

    @property
    def caveats(self) -> list[str]:
        """Things to know, not problems: substitute checkpoints, then the fixation caveats."""
        return [*self.substitutions, *self.view_caveats()]

    def messages(self) -> list[str]:
        """Every note for the user: the problems, the caveats, then the foreground's."""
        return [*self.notes, *self.caveats, *([self.foreground_note] if self.foreground_note else [])]


@dataclass
class Rendered(Messages):
    """One rendered view: its image, the panels, the checkpoint used (None: untrained) and notes for the user.

    ``notes``: problems with the network (not found, unreadable); ``substitutions``: another mode's checkpoint
    standing in; ``foreground_note``: why there is no foreground map, if there is none.
    """

    item: ImageItem
    panels: Panels
    checkpoint: CheckpointInfo | None
    notes: list[str]
    foreground_note: str | None = None
    substitutions: list[str] = field(default_factory=list)

    def images(self, scale: int = 3, harmonic: torch.Tensor | None = None) -> list[tuple[str, np.ndarray]]:
        """The titled panel row as uint8 ``(H * scale, W * scale, 3)`` arrays (as the exports show it), with the
        ``harmonic`` reference ``(3, H, W)`` after the reconstruction pasted back when given."""
        return panel_images(self.panels, scale, harmonic)

    def view_caveats(self) -> list[str]:
        """The view's checkpoint, if trained at the centre alone and fixated elsewhere."""
        return fixation_notes([self.panels], {self.panels.settings.mode: self.checkpoint})

    def harmonic(self) -> Harmonic | None:
        """Harmonic inpainting of the hidden region, the learning-free reference (None: nothing is filled)."""
        reference = harmonic_reference(self.panels)
        if reference is None:
            return None
        return Harmonic(reference[0], harmonic_caption(self.panels.metrics.get("psnr_hidden"), reference[1]))

    def details(self) -> dict[str, object]:
        """The checkpoint's details as the Checkpoints table shows them (``catalog.describe``)."""
        return describe(self.checkpoint)

    def details_markdown(self) -> str:
        """The checkpoint's details as Markdown."""
        return details_markdown(self.details())

    def png(self) -> bytes:
        """The titled panel row as PNG bytes (the panels' download)."""
        return panel_row_png(self.panels)

    def settings_json(self, view: ViewState) -> str:
        """JSON of ``view``'s settings, its link, the checkpoint and the metrics (the settings' download)."""
        return settings_json(view, self.panels, self.details())


@dataclass(frozen=True)
class Harmonic:
    """The learning-free reference for a view: harmonic inpainting ``(3, H, W)`` of its hidden region, and a
    sentence comparing its PSNR with the network's (None: no PSNR to compare)."""

    image: torch.Tensor
    caption: str | None


def view_link(view: ViewState) -> str | None:
    """The query string of a link to ``view`` (None for an upload, which a link cannot carry)."""
    return None if view.source == "upload" else urlencode(to_query(view))


def centre_only(mode: str, info: CheckpointInfo | None) -> bool:
    """Whether ``info`` was trained with the eye at the centre alone, in a mode where the fixation plays a part."""
    spec = MODES.get(mode)
    return info is not None and spec is not None and spec.uses_fixation and info.metadata.fixation == "center"


def fixation_notes(panels: Sequence[Panels], infos: Mapping[str, CheckpointInfo | None]) -> list[str]:
    """One note naming the checkpoints (``infos``: mode -> checkpoint) trained with the eye at the centre alone
    that are shown a view (one of ``panels``) fixated elsewhere; none when there are none."""
    centre = center_fixation(IMAGE_SIZE, IMAGE_SIZE)
    off_centre = [p.settings.mode for p in panels if p.settings.fixation not in (None, centre)]
    names = sorted({info.name for mode in off_centre if centre_only(mode, info := infos.get(mode))})
    if not names:
        return []
    one = len(names) == 1
    return [
        f"{', '.join(names)} {'was' if one else 'were'} trained with the eye at the centre {centre} only (the paper's "
        f"setting): fixated elsewhere, {'it sees' if one else 'they see'} views never seen in training and "
        f"{'reconstructs' if one else 'reconstruct'} them less well "
        "(`python -m train.evaluate --by-fixation` measures how much)."
    ]


SMALL_FOREGROUND = 0.05  # mean foreground confidence below which the foreground-weighted error follows a speck


def small_foreground_notes(foreground: torch.Tensor | None) -> list[str]:
    """A note when a foreground map ``(H, W)`` in [0, 1] covers less than ``SMALL_FOREGROUND`` of the image."""
    if foreground is None or float(foreground.mean()) >= SMALL_FOREGROUND:
        return []
    return [
        f"The foreground map (rembg) covers only {float(foreground.mean()):.1%} of this image: the "
        "foreground-weighted error and the suggested fixations follow that small region, not the whole scene."
    ]


def item_for(view: ViewState, upload: str | bytes | None = None) -> ImageItem:
    """The view's image: a gallery photo by name, a procedural scene by index, or the uploaded file."""
    if view.source == "upload":
        if upload is None:
            raise InputError("No image was uploaded: upload a PNG or JPEG, or pick a gallery photo.")
        return ImageItem(load_image(upload), "uploaded image")
    if view.source == "synthetic":
        index = int(view.image) if str(view.image).isdigit() else -1
        if not 0 <= index < SYNTHETIC_COUNT:
            raise InputError(f"Procedural scene {view.image!r} does not exist: give an index 0-{SYNTHETIC_COUNT - 1}.")
        return synthetic_item(index)
    one_of(view.source, "source", FOLDERLESS_SOURCES)  # the service reads no dataset folder
    return gallery_item(one_of(view.image, "gallery", GALLERY))


def check_point(point: tuple[int, int] | None, name: str) -> tuple[int, int] | None:
    """A pixel inside the 96 x 96 image, or ``InputError`` naming ``name``."""
    if point is None:
        return None
    x, y = (round(v) for v in point)
    if not (0 <= x < IMAGE_SIZE and 0 <= y < IMAGE_SIZE):
        raise InputError(f"The {name} ({x}, {y}) is outside the image: give x and y in 0-{IMAGE_SIZE - 1}.")
    return x, y


def view_settings(view: ViewState) -> ViewState:
    """The view with its fixation and attention point checked (``InputError`` outside the image)."""
    fixation, attention = check_point(view.fixation, "fixation"), check_point(view.attention, "attention point")
    return replace(view, fixation=fixation, attention=attention)


RENDER_CACHE_SIZE = 64
_rendered: OrderedDict[tuple, Rendered] = OrderedDict()  # (view, image, checkpoint file version) -> its panels
_rendered_lock = threading.Lock()  # sessions render in threads (Streamlit) or a worker pool (Gradio)


def file_version(info: CheckpointInfo | None) -> tuple[str, float] | None:
    """A checkpoint file's (path, mtime): a file replaced on disk is a new version (None: untrained or gone)."""
    try:
        return None if info is None else (str(info.path), info.path.stat().st_mtime)
    except OSError:
        return None


def render_item(
    item: ImageItem, view: ViewState, checkpoints: list[CheckpointInfo] | None = None, find: Finder | None = None
) -> Rendered:
    """Render one view of an image: masking, network and panels (``InputError`` for a fixation outside it).

    ``checkpoints``: the ones the view may use (default: scanned now); ``find``: the foreground
    finder for images without their own (default: rembg's, cached per image). Views of bundled
    images are cached (the same view of the same checkpoint file is drawn once, the last
    ``RENDER_CACHE_SIZE`` kept); uploads are rendered every time.
    """
    settings = view_settings(view)
    network = network_for(settings, checkpoints)
    if settings.source == "upload":
        return _render(item, settings, network, find or rembg_foreground)
    key = (settings, item.caption, file_version(network.info))
    with _rendered_lock:
        cached = _rendered.get(key)
        if cached is not None:
            _rendered.move_to_end(key)
            return cached
    rendered = _render(item, settings, network, find or rembg_foreground)
    with _rendered_lock:
        _rendered[key] = rendered
        while len(_rendered) > RENDER_CACHE_SIZE:
            _rendered.popitem(last=False)
    return rendered


def render_view(view: ViewState, upload: str | bytes | None = None) -> Rendered:
    """Render one view of a gallery photo, a procedural scene or an upload (``InputError`` for bad input)."""
    return render_item(item_for(view, upload), view)


@torch.no_grad()
def _render(item: ImageItem, view: ViewState, network: Network, find: Finder) -> Rendered:
    foreground, note = foreground_of(item, find)
    panels = render_batch(item.image, [view], network.model, foreground=foreground)[0]
    return Rendered(item, panels, network.info, network.notes, note, network.substitutions)


@dataclass
class Compared(Messages):
    """Every masking mode of one view: its image, one ``Panels`` per mode, each mode's checkpoint and notes."""

    item: ImageItem
    modes: list[str]
    panels: list[Panels]
    checkpoints: dict[str, CheckpointInfo | None]
    notes: list[str]
    foreground_note: str | None = None
    substitutions: list[str] = field(default_factory=list)

    @property
    def names(self) -> dict[str, str]:
        """Each mode's checkpoint name (``untrained`` for the fallback)."""
        return {mode: info.name if info else "untrained" for mode, info in self.checkpoints.items()}

    def view_caveats(self) -> list[str]:
        """The modes' checkpoints trained at the centre alone, if fixated elsewhere."""
        return fixation_notes(self.panels, self.checkpoints)

    def table(self) -> list[dict[str, object]]:
        """One row of metrics per mode, with its checkpoint's name (``sweeps.mode_table``)."""
        return mode_table(self.panels, self.names)


def networks_by_mode(
    view: ViewState, modes: list[str], checkpoints: list[CheckpointInfo] | None = None
) -> dict[str, Network]:
    """One network per mode: the view's checkpoint, or each mode's default."""
    listed = available_checkpoints() if checkpoints is None else checkpoints  # scanned once for every mode
    return {mode: network_for(replace(view, mode=mode), listed) for mode in modes}


def unique(lists: Iterable[list[str]]) -> list[str]:
    """The strings of several lists in order, each once."""
    return list(dict.fromkeys(text for texts in lists for text in texts))


@torch.no_grad()
def compare_item(
    item: ImageItem, view: ViewState, checkpoints: list[CheckpointInfo] | None = None, find: Finder | None = None
) -> Compared:
    """The view's image and fixation under every mode (the view's ratio where a mode takes one), batched per network."""
    modes = list(MODES)
    networks = networks_by_mode(view, modes, checkpoints)
    ratios = {m: (view.ratio if MODES[m].uses_ratio else MODES[m].default_ratio) for m in modes}
    base = replace(view_settings(view), attention=None)
    foreground, note = foreground_of(item, find or rembg_foreground)
    panels = render_modes(item.image, base, {m: n.model for m, n in networks.items()}, modes, foreground, ratios)
    infos = {m: n.info for m, n in networks.items()}
    notes = unique(n.notes for n in networks.values())
    substitutions = unique(n.substitutions for n in networks.values())
    return Compared(item, modes, panels, infos, notes, note, substitutions)


@torch.no_grad()
def sweep_item(
    item: ImageItem, view: ViewState, metric: str = "masked_mse", checkpoints: list[CheckpointInfo] | None = None,
    find: Finder | None = None,
) -> dict[str, tuple[list[float], list[float | None]]]:  # fmt: skip
    """Error (``metric``: a key of ``METRIC_LABELS``) against the masking ratio for every mode: mode label ->
    (ratios, values); ``InputError`` for another metric."""
    one_of(metric, "metric", METRIC_LABELS)
    models = {m: n.model for m, n in networks_by_mode(view, list(MODES), checkpoints).items()}
    base = replace(view_settings(view), attention=None)
    foreground, _ = foreground_of(item, find or rembg_foreground)
    return ratio_curves(item.image, base, models, foreground, metric)


def foreground_map(segmenter: object, pixels: np.ndarray) -> np.ndarray | str:
    """rembg's foreground confidence in [0, 1] ``(H, W)`` for uint8 ``(H, W, 3)`` pixels, or a message why not."""
    try:
        masks = segmenter.predict(pixels[None])  # type: ignore[attr-defined]
    except InputError as error:
        return str(error)
    except Exception as error:  # onnxruntime errors have no common base class
        return f"The foreground model failed ({type(error).__name__}: {str(error)[:160]})."
    return masks[0].astype(np.float32) / 255.0


def foreground_of(
    item: ImageItem, find: Callable[[np.ndarray], np.ndarray | str]
) -> tuple[torch.Tensor | None, str | None]:
    """An image's foreground ``(H, W)`` (its own, else ``find(uint8 pixels)``, e.g. rembg's) or a message why not."""
    if item.foreground is not None:
        return item.foreground, None
    result = find(to_uint8_image(item.image))
    if isinstance(result, str):
        return None, f"No foreground map: {result} Foreground-weighted errors are not shown."
    return torch.from_numpy(result), None


@functools.lru_cache(maxsize=1)
def _segmenter() -> object:
    return foreground_model("u2netp")


@functools.lru_cache(maxsize=64)
def _cached_foreground(key: bytes) -> np.ndarray | str:
    try:
        segmenter = _segmenter()
    except InputError as error:  # the model is not provisioned (a bare Space): the views go on without a foreground
        return str(error)
    return foreground_map(segmenter, np.frombuffer(key, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE, 3))


def rembg_foreground(pixels: np.ndarray) -> np.ndarray | str:
    """rembg's (u2netp) foreground of uint8 ``(96, 96, 3)`` pixels, cached per image."""
    return _cached_foreground(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())


@dataclass
class Scanpath(Messages):
    """A scanpath of one view: each glimpse's panels, the suggested next fixation, the three error curves,
    the checkpoint used (None: untrained) and notes for the user."""

    item: ImageItem
    glimpses: list[Panels]
    suggestion: tuple[int, int] | None
    curves: dict[str, list[float | None]]
    metric: str
    checkpoint: CheckpointInfo | None = None
    notes: list[str] = field(default_factory=list)
    foreground_note: str | None = None
    substitutions: list[str] = field(default_factory=list)

    def view_caveats(self) -> list[str]:
        """The checkpoint, if trained at the centre alone and fixated elsewhere in the scanpath; a foreground map
        too small to steer by."""
        notes = fixation_notes(self.glimpses, {self.glimpses[0].settings.mode: self.checkpoint})  # one mode
        return notes + small_foreground_notes(self.glimpses[0].foreground)


@torch.no_grad()
def scanpath_item(
    item: ImageItem, view: ViewState, path: list[tuple[int, int]], checkpoints: list[CheckpointInfo] | None = None,
    find: Finder | None = None,
) -> Scanpath:  # fmt: skip
    """Render a sequence of fixations (each reveals a region) under the view's mode: glimpses, suggestion, curves."""
    if not path:
        raise InputError("A scanpath needs at least one fixation: click the image.")
    if len(path) > MAX_FIXATIONS:
        raise InputError(f"A scanpath holds at most {MAX_FIXATIONS} fixations, not {len(path)}: shorten the path.")
    if view.mode not in SCANPATH_MODES:
        raise InputError(f"A scanpath reveals regions: use one of {', '.join(SCANPATH_MODES)}, not {view.mode!r}.")
    points = [check_point(point, f"fixation {k + 1}") for k, point in enumerate(path)]
    network = network_for(view, checkpoints)
    base = ViewState(mode=view.mode, ratio=view.ratio, fill=view.fill)
    foreground, note = foreground_of(item, find or rembg_foreground)
    glimpses = render_scanpath(item.image, points, base, network.model, foreground)
    radius = reveal_radius(base, *item.image.shape[-2:])
    suggestion = suggest_fixation(glimpses[-1], radius, reveals_square(view.mode))
    curves = scanpath_curves(item.image, points, base, network.model, foreground)
    metric = "foreground-weighted MSE" if foreground is not None else "masked MSE"
    return Scanpath(
        item, glimpses, suggestion, curves, metric, network.info, network.notes, note, network.substitutions
    )


# The Checkpoints page: the catalog, the training runs, the experiment grids and the probe baseline.


def checkpoint_rows(infos: Iterable[CheckpointInfo]) -> list[dict[str, object]]:
    """One table row per checkpoint: its metadata as the catalog describes it."""
    return [describe(info) for info in infos]


def training_runs() -> list[Run]:
    """The training runs of the run folders (``run_folders``) that logged at least one epoch."""
    return [run for run in find_runs() if run.records]


def grid_folders() -> list[Path]:
    """The experiment-grid folders under the run folders."""
    return [folder for root in run_folders() if root.is_dir() for folder in find_grid_folders(root)]


@dataclass(frozen=True)
class Grid:
    """An experiment grid's state: its settings (None: unreadable), one summary per condition, the finished
    cells, the unreadable result lines and why the settings or summaries could not be read."""

    settings: dict[str, Any] | None
    summaries: list[ConditionSummary]
    finished: int
    problems: list[str]
    error: str | None

    @property
    def total(self) -> int:
        """The grid's cells: conditions times pretraining seeds."""
        return cell_count(self.settings or {})


def grid_view(folder: Path) -> Grid:
    """What an experiment grid's folder holds (its settings, summaries and results), each file read once."""
    results, problems = read_result_lines(folder)
    try:
        settings, error = read_grid_settings(folder), None
    except InputError as problem:
        settings, error = None, str(problem)
    summaries = summarise_results(settings, results) if settings is not None else []
    return Grid(settings, summaries, len(results), problems, error)


def checkpoint_list(checkpoints: list[CheckpointInfo] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every checkpoint (default: every configured folder, scanned now) as plain JSON data: ``checkpoints``, one
    entry per readable file (``checkpoint_entry``), and ``broken``, each unreadable file's name and problem."""
    listed = available_checkpoints() if checkpoints is None else checkpoints
    readable = [info for info in listed if info.error is None]
    rows = probe_rows(readable)  # one per readable checkpoint, in order
    return {
        "checkpoints": [checkpoint_entry(info, row) for info, row in zip(readable, rows, strict=True)],
        "broken": [{"name": info.name, "file": info.path.name, "problem": info.error}
                   for info in listed if info.error is not None],
    }  # fmt: skip


def checkpoint_entry(info: CheckpointInfo, probe: ProbeRow) -> dict[str, Any]:
    """A readable checkpoint's training settings, ``images_seen``, stored held-out report (``held_out``: PSNRs in
    dB, None when never evaluated) and probe row (``runs.ProbeRow``: accuracy in %), values as stored (``plain``)."""
    meta = info.metadata
    report = stored_report(meta.metrics)
    return plain({
        "name": info.name, "mode": meta.mode, "ratio": meta.ratio, "fill": meta.fill, "objective": meta.objective,
        "architecture": meta.arch, "data": meta.data, "epochs": meta.epochs, "demo": meta.demo,
        "images_seen": meta.extra.get("images_seen"), "held_out": report.to_dict() if report else None,
        "probe": {key: value for key, value in asdict(probe).items() if key != "checkpoint"},
    })  # fmt: skip


def plain(value: Any) -> Any:
    """``value`` (JSON-like data) with every non-finite float as None: strict JSON, whatever a file stored."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return [plain(item) for item in value] if isinstance(value, list) else value


def random_init_baseline() -> tuple[dict[str, object] | None, str | None]:
    """The random-init encoder's probe result beside the shipped checkpoints (the first folder), or why not."""
    try:
        return random_init_probe(checkpoint_folders()[0]), None
    except InputError as error:
        return None, str(error)


# The Latent page: a view's latent code, its segmentation and the batch statistics.


def latent_of(item: ImageItem, view: ViewState, network: Network) -> torch.Tensor:
    """The latent ``(C, 12, 12)`` of the view's masked input under ``network`` (``InputError`` for a bad view)."""
    return render(item.image, view, network.model).latent


LATENT_MODE = "none"  # the API's latent summaries encode the whole image, as the batch statistics do


def whole_image(view: ViewState) -> ViewState:
    """``view`` unmasked (``LATENT_MODE``, no attention point): what the API's latent summary encodes."""
    return replace(view, mode=LATENT_MODE, attention=None)


def latent_network(view: ViewState, checkpoints: list[CheckpointInfo] | None = None) -> Network:
    """The network of ``view.checkpoint`` (``auto``: the default for the view's mode) with no fallback:
    ``InputError`` naming a checkpoint that is not listed, unreadable or does not load."""
    listed = available_checkpoints() if checkpoints is None else checkpoints
    if view.checkpoint != AUTO:
        one_of(view.checkpoint, "checkpoint", [AUTO, *(info.name for info in listed if info.error is None)])
    network = network_for(view, listed)
    if view.checkpoint != AUTO and network.notes:
        raise InputError(" ".join(network.notes))
    return network


def latent_summary(item: ImageItem, view: ViewState, network: Network) -> dict[str, Any]:
    """The latent ``(C, 12, 12)`` of ``view``'s input as plain data: ``labels``, per cut of ``SEGMENTATION_CUTS``
    (as text) the Ward cluster of each of the 144 cells (row-major: cell ``12 * row + column``), ``tsne`` the
    cells' t-SNE ``(144, 2)`` in the same order, the ``checkpoint`` (None: untrained), ``mode`` and ``notes``."""
    latent = latent_of(item, view, network)
    labels = latent_segmentation(latent)
    return {
        "checkpoint": network.info.name if network.info else None, "mode": view.mode, "cells": list(latent.shape[-2:]),
        "labels": {str(k): cut.flatten().tolist() for k, cut in zip(SEGMENTATION_CUTS, labels, strict=True)},
        "tsne": latent_tsne(latent).tolist(), "notes": [*network.notes, *network.substitutions],
    }  # fmt: skip


def batch_latents(model: nn.Module, source: str, dataset: STL10 | None = None) -> torch.Tensor:
    """Latents ``(N, C, 12, 12)`` of a batch source's whole images (an id of ``BATCH_SOURCES``; STL-10 needs the
    opened ``dataset``)."""
    return encode_batch(model, batch_images(source, dataset))


def correlations(latents: torch.Tensor, count: int = 48) -> tuple[torch.Tensor, list[int]]:
    """The correlation matrix ``(count, count)`` of the ``count`` strongest units of latents ``(N, C, H, W)``,
    and those units."""
    units = strongest_units(latents, count)
    return unit_correlations(latents, units), units.tolist()
