"""The explorer service without a UI framework: a view (``ViewState``) in, its image, network and panels out.

Used by the Gradio app and its HTTP API; checkpoints are loaded once per file version and kept
in a small cache. Everything that can go wrong with user input raises ``InputError`` with a
message naming the problem.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..checkpoints import CheckpointInfo, load_checkpoint
from ..data import to_uint8_image
from ..data.images import load_image
from ..errors import CheckpointError, InputError
from ..masking import MODES
from ..model import inference_model
from ..segmentation import foreground_model
from .catalog import AUTO, TRAIN_HINT, UNTRAINED_LABEL, available_checkpoints, choose, untrained_model
from .export import panel_images
from .render import Panels, render_batch, render_modes
from .scanpath import SCANPATH_MODES, render_scanpath, reveal_radius, suggest_fixation
from .sources import ImageItem, gallery_item, synthetic_item
from .sweeps import ratio_curves, scanpath_curves
from .viewstate import IMAGE_SIZE, SYNTHETIC_COUNT, ViewState

SOURCES = ("gallery", "synthetic", "upload")  # what a visitor can pick here (STL-10: the Streamlit app)


@dataclass
class Rendered:
    """One rendered view: its image, the panels, the checkpoint used (None: untrained) and notes for the user."""

    item: ImageItem
    panels: Panels
    checkpoint: CheckpointInfo | None
    notes: list[str]

    def images(self, scale: int = 3) -> list[tuple[str, np.ndarray]]:
        """The titled panel row as uint8 ``(H * scale, W * scale, 3)`` arrays (as the exports show it)."""
        return panel_images(self.panels, scale)


@functools.lru_cache(maxsize=16)
def load_network(path: str, modified: float) -> nn.Module:
    """A checkpoint's network ready for inference, loaded once per file version (``modified``: its mtime)."""
    return inference_model(load_checkpoint(path)[0])


@functools.lru_cache(maxsize=1)
def untrained_network() -> nn.Module:
    """The seeded untrained network shown when no checkpoint exists."""
    return inference_model(untrained_model())


def network_for(
    view: ViewState, checkpoints: list[CheckpointInfo] | None = None
) -> tuple[nn.Module, CheckpointInfo | None, list[str]]:
    """The network a view uses (its checkpoint, or the default for its mode and fill), the checkpoint, notes.

    ``checkpoints``: the ones to choose from (default: every configured folder, scanned now). A
    checkpoint that does not load gives a message and the untrained fallback.
    """
    listed = available_checkpoints() if checkpoints is None else checkpoints
    choice = choose(view.checkpoint or AUTO, view.mode, view.fill, listed)
    notes = [choice.note] if choice.note else []
    if choice.info is None:
        return untrained_network(), None, [*notes, f"No checkpoint found: showing an {UNTRAINED_LABEL}. {TRAIN_HINT}"]
    path = choice.info.path
    try:
        return load_network(str(path), path.stat().st_mtime), choice.info, notes
    except (CheckpointError, OSError) as error:
        message = error if isinstance(error, CheckpointError) else f"{path.name} cannot be read ({error})."
        return untrained_network(), None, [*notes, f"{message} Showing an {UNTRAINED_LABEL}."]


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
    if view.source != "gallery":
        raise InputError(f"Unknown image source {view.source!r}: use one of {', '.join(SOURCES)}.")
    return gallery_item(view.image)


def check_point(point: tuple[int, int] | None, name: str) -> tuple[int, int] | None:
    """A pixel inside the 96 x 96 image, or ``InputError`` naming ``name``."""
    if point is None:
        return None
    x, y = (round(v) for v in point)
    if not (0 <= x < IMAGE_SIZE and 0 <= y < IMAGE_SIZE):
        raise InputError(f"The {name} ({x}, {y}) is outside the image: give x and y in 0-{IMAGE_SIZE - 1}.")
    return x, y


RENDER_CACHE_SIZE = 64
_rendered: OrderedDict[tuple, Rendered] = OrderedDict()  # (view, checkpoint file version) -> its panels


def render_view(view: ViewState, upload: str | bytes | None = None) -> Rendered:
    """Render one view: image, masking, network and panels (``InputError`` for a bad view or upload).

    Views of bundled images are cached (the same view of the same checkpoint file is drawn once,
    the last ``RENDER_CACHE_SIZE`` kept); uploads are rendered every time.
    """
    settings = view_settings(view)
    network = network_for(settings)
    if upload is not None or view.source == "upload":
        return _render(settings, upload, *network)
    info = network[1]
    key = (settings, None if info is None else (str(info.path), info.path.stat().st_mtime))
    if key in _rendered:
        _rendered.move_to_end(key)
    else:
        _rendered[key] = _render(settings, None, *network)
        while len(_rendered) > RENDER_CACHE_SIZE:
            _rendered.popitem(last=False)
    return _rendered[key]


@torch.no_grad()
def _render(
    view: ViewState, upload: str | bytes | None, model: nn.Module, info: CheckpointInfo | None, notes: list[str]
) -> Rendered:
    item = item_for(view, upload)
    foreground, note = foreground_of(item, rembg_foreground)
    panels = render_batch(item.image, [view], model, foreground=foreground)[0]
    return Rendered(item, panels, info, [*notes, *([note] if note else [])])


@dataclass
class Compared:
    """Every masking mode of one view: its image, one ``Panels`` per mode, the checkpoint names and notes."""

    item: ImageItem
    modes: list[str]
    panels: list[Panels]
    checkpoints: dict[str, str]
    notes: list[str]


def view_settings(view: ViewState) -> ViewState:
    """The view with its fixation and attention point checked (``InputError`` outside the image)."""
    fixation, attention = check_point(view.fixation, "fixation"), check_point(view.attention, "attention point")
    return replace(view, fixation=fixation, attention=attention)


def networks_by_mode(view: ViewState, modes: list[str]) -> tuple[dict[str, nn.Module], dict[str, str], list[str]]:
    """One network per mode (the view's checkpoint, or each mode's default), their checkpoint names and notes."""
    models, names, notes = {}, {}, []
    listed = available_checkpoints()  # scanned once for every mode
    for mode in modes:
        model, info, mode_notes = network_for(replace(view, mode=mode), listed)
        models[mode], names[mode] = model, info.name if info else "untrained"
        notes += [n for n in mode_notes if n not in notes]
    return models, names, notes


@torch.no_grad()
def compare_view(view: ViewState, upload: str | bytes | None = None) -> Compared:
    """The view's image and fixation under every mode (the view's ratio where a mode takes one), batched per network."""
    item = item_for(view, upload)
    modes = list(MODES)
    models, names, notes = networks_by_mode(view, modes)
    ratios = {m: (view.ratio if MODES[m].uses_ratio else MODES[m].default_ratio) for m in modes}
    base = replace(view_settings(view), attention=None)
    foreground, _ = foreground_of(item, rembg_foreground)
    return Compared(item, modes, render_modes(item.image, base, models, modes, foreground, ratios), names, notes)


@torch.no_grad()
def sweep_view(
    view: ViewState, upload: str | bytes | None = None, metric: str = "masked_mse"
) -> dict[str, tuple[list[float], list[float | None]]]:
    """Error (``metric``) against the masking ratio for every mode: mode -> (ratios, values)."""
    item = item_for(view, upload)
    models, _, _ = networks_by_mode(view, list(MODES))
    base = replace(view_settings(view), attention=None)
    foreground, _ = foreground_of(item, rembg_foreground)
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
    return foreground_map(_segmenter(), np.frombuffer(key, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE, 3))


def rembg_foreground(pixels: np.ndarray) -> np.ndarray | str:
    """rembg's (u2netp) foreground of uint8 ``(96, 96, 3)`` pixels, cached per image."""
    return _cached_foreground(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())


@dataclass
class Scanpath:
    """A scanpath of one view: each glimpse's panels, the suggested next fixation and the three error curves."""

    item: ImageItem
    glimpses: list[Panels]
    suggestion: tuple[int, int] | None
    curves: dict[str, list[float | None]]
    metric: str


@torch.no_grad()
def scanpath_view(view: ViewState, path: list[tuple[int, int]], upload: str | bytes | None = None) -> Scanpath:
    """Render a sequence of fixations (each reveals a region) under the view's mode: glimpses, suggestion, curves."""
    if not path:
        raise InputError("A scanpath needs at least one fixation: click the image.")
    if view.mode not in SCANPATH_MODES:
        raise InputError(f"A scanpath reveals regions: use one of {', '.join(SCANPATH_MODES)}, not {view.mode!r}.")
    points = [check_point(point, f"fixation {k + 1}") for k, point in enumerate(path)]
    item = item_for(view, upload)
    model, _, _ = network_for(view)
    base = ViewState(mode=view.mode, ratio=view.ratio, fill=view.fill)
    foreground, _ = foreground_of(item, rembg_foreground)
    glimpses = render_scanpath(item.image, points, base, model, foreground)
    radius = reveal_radius(base, *item.image.shape[-2:])
    suggestion = suggest_fixation(glimpses[-1], radius, view.mode == "periphery_square")
    curves = scanpath_curves(item.image, points, base, model, foreground)
    metric = "foreground-weighted MSE" if foreground is not None else "masked MSE"
    return Scanpath(item, glimpses, suggestion, curves, metric)
