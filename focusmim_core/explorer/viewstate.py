"""The explorer's view as URL query parameters: parse with validation, write back, share as a link.

A view is everything needed to reproduce what the explorer shows: the image (its source
and id), the fixation, the covert-attention point, the masking mode, ratio, fill and the
checkpoint. ``parse_query`` never raises: a nonsense value is replaced by its default
and reported in a message the app shows.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..data import GALLERY, SPLITS
from ..errors import InputError, echo
from ..geometry import IMAGE_SIZE
from ..masking import FILLS, MODES, check_mode


@dataclass(frozen=True)
class ImageSource:
    """Where a view's image comes from."""

    label: str  # as the source picker shows it
    needs_data_folder: bool = False  # reads a dataset folder on the machine (STL-10)


IMAGE_SOURCES = {
    "gallery": ImageSource("Photo gallery"),
    "synthetic": ImageSource("Procedural scenes"),
    "stl10": ImageSource("STL-10 (data folder)", needs_data_folder=True),
    "upload": ImageSource("Upload"),
}
SOURCES = tuple(IMAGE_SOURCES)
SOURCE_LABELS = {name: source.label for name, source in IMAGE_SOURCES.items()}
FOLDERLESS_SOURCES = tuple(name for name, source in IMAGE_SOURCES.items() if not source.needs_data_folder)
SYNTHETIC_COUNT = 10_000  # procedural test scenes one can pick by index
AUTO_CHECKPOINT = "auto"
DEFAULT_GALLERY = next(iter(GALLERY))
MAX_SEED = 2**31 - 1
MAX_TEXT = 200  # characters of a free-text value (a checkpoint name, a gallery name) a request may carry


class FieldError(InputError):
    """A value a field does not take: the message names the field, echoes the value and says what is allowed."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        shown = value if isinstance(value, str) else reprlib.repr(value)  # a nested value: its first levels
        super().__init__(f"{field}={echo(shown)} is not accepted: {field} must be {allowed}.")


def whole_number(value: object, field: str, low: int, high: int, allowed: str | None = None) -> int:
    """A whole number in ``low..high`` from text or a JSON number (``48.0`` too); ``FieldError`` naming ``field``
    and saying ``allowed`` (default: the range)."""
    allowed = allowed or f"a whole number from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(field, value, allowed)
    try:
        number = int(value) if isinstance(value, str | int) else value
        if isinstance(number, float):
            if not (math.isfinite(number) and number.is_integer()):
                raise ValueError
            number = int(number)
    except ValueError:
        raise FieldError(field, value, allowed) from None
    if not low <= number <= high:
        raise FieldError(field, value, allowed)
    return number


def pixel(value: object, field: str) -> int:
    """A pixel index inside the image (``0..IMAGE_SIZE - 1``); ``FieldError`` naming ``field`` otherwise."""
    return whole_number(value, field, 0, IMAGE_SIZE - 1, f"a whole pixel number 0..{IMAGE_SIZE - 1} (inside the image)")


def seed_number(value: object, field: str = "seed") -> int:
    """A random-patch seed, a whole number in ``0..MAX_SEED``; ``FieldError`` otherwise."""
    return whole_number(value, field, 0, MAX_SEED)


def unit_number(value: object, field: str) -> float:
    """A finite number from 0 to 1 (a masking ratio) from text or a JSON number; ``FieldError`` otherwise."""
    allowed = "a number from 0 to 1"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(field, value, allowed)
    try:
        number = float(value)
    except ValueError:
        raise FieldError(field, value, allowed) from None
    if not (math.isfinite(number) and 0 <= number <= 1):
        raise FieldError(field, value, allowed)
    return round(number, 4)


def one_of(value: object, field: str, allowed: Iterable[str]) -> str:
    """``value`` if it is one of the ``allowed`` strings; ``FieldError`` listing them otherwise."""
    names = list(allowed)
    if not isinstance(value, str) or value not in names:
        raise FieldError(field, value, f"one of {', '.join(names)}")
    return value


def short_text(value: object, field: str, limit: int = MAX_TEXT) -> str:
    """A string of at most ``limit`` characters; ``FieldError`` otherwise."""
    if not isinstance(value, str) or len(value) > limit:
        raise FieldError(field, value, f"a string of at most {limit} characters")
    return value


@dataclass(frozen=True)
class ViewState:
    """The one view object of the explorer: the image (``image`` is a gallery name or an index of a procedural
    scene or STL-10 image), fixation, covert attention, masking (mode, ratio, fill, seed) and checkpoint.

    It parses from and writes to a link's query (``parse_query``, ``to_query``), and ``render`` takes it whole.
    """

    source: str = "gallery"
    image: str = DEFAULT_GALLERY
    split: str = "test"
    fixation: tuple[int, int] = (IMAGE_SIZE // 2, IMAGE_SIZE // 2)
    attention: tuple[int, int] | None = None
    mode: str = "periphery"
    ratio: float = 0.8
    fill: str = "mean"
    checkpoint: str = AUTO_CHECKPOINT
    seed: int = 0  # random patches are drawn from this seed: the same seed shows the same patches
    antialias: bool = False  # smooth mask edges (exports); not part of a link

    def __post_init__(self):
        check_mode(self.mode)

    def image_key(self) -> str:
        """A short id of the image, e.g. ``gallery:coffee`` or ``stl10:test:17``."""
        if self.source == "stl10":
            return f"stl10:{self.split}:{self.image}"
        return f"{self.source}:{self.image}"


def first_value(value: str | Sequence[str] | None) -> str | None:
    """A query parameter's first value (Streamlit hands one string, a browser's query a list of them)."""
    if value is None or isinstance(value, str):
        return value
    return value[0] if len(value) else None


def _pixel(text: str | None, name: str, messages: list[str]) -> int | None:
    if text is None:
        return None
    try:
        return pixel(text, name)
    except FieldError as error:
        messages.append(f"Ignored {name}={echo(text)} in the link: it must be {error.allowed}.")
        return None


def _point(
    params: Mapping[str, str | Sequence[str]], keys: tuple[str, str], messages: list[str]
) -> tuple[int, int] | None:
    x = _pixel(first_value(params.get(keys[0])), keys[0], messages)
    y = _pixel(first_value(params.get(keys[1])), keys[1], messages)
    return (x, y) if x is not None and y is not None else None


def parse_image(source: str, image: str | None, split: str | None, messages: list[str]) -> tuple[str, str, str]:
    """Validate an image reference -> ``(source, image, split)``; bad parts fall back to defaults."""
    defaults = ViewState()
    if source not in SOURCES:
        messages.append(f"Unknown image source {echo(source)} in the link: use one of {', '.join(SOURCES)}.")
        return defaults.source, defaults.image, defaults.split
    split = split or defaults.split
    if source == "gallery":
        if image not in GALLERY:
            if image is not None:
                messages.append(f"Unknown gallery image {echo(image)} in the link: showing {echo(DEFAULT_GALLERY)}.")
            image = DEFAULT_GALLERY
        return source, image, split
    if source == "upload":
        messages.append("Uploaded images are not part of a link: upload the file again to see it.")
        return defaults.source, defaults.image, defaults.split
    if source == "stl10" and split not in SPLITS:
        messages.append(f"Unknown STL-10 split {echo(split)} in the link: use one of {', '.join(SPLITS)}.")
        split = defaults.split
    limit = SYNTHETIC_COUNT if source == "synthetic" else SPLITS[split]
    try:
        index = int(image) if image is not None else 0
    except ValueError:
        messages.append(f"Image index {echo(image)} in the link is not a whole number: showing image 0.")
        index = 0
    if not 0 <= index < limit:
        messages.append(f"Image index {index} in the link is outside 0..{limit - 1}: showing image 0.")
        index = 0
    return source, str(index), split


def _seed(text: str | None, messages: list[str]) -> int:
    """The random-patch seed from the link: a whole number in 0..``MAX_SEED``, else 0 with a message."""
    if text is None:
        return 0
    try:
        return seed_number(text)
    except FieldError as error:
        messages.append(f"Ignored seed={echo(text)} in the link: the seed is {error.allowed}.")
        return 0


def parse_query(params: Mapping[str, str | Sequence[str]]) -> tuple[ViewState, list[str]]:
    """A view from URL query parameters, and one message per value that was ignored.

    Keys: ``src``, ``img``, ``split``, ``x``, ``y``, ``ax``, ``ay``, ``mode``, ``ratio``,
    ``fill``, ``ckpt``, ``seed``. Missing keys take the defaults of ``ViewState`` silently.
    """
    messages: list[str] = []
    defaults = ViewState()
    source, image, split = parse_image(
        first_value(params.get("src")) or defaults.source,
        first_value(params.get("img")),
        first_value(params.get("split")),
        messages,
    )
    fixation = _point(params, ("x", "y"), messages) or defaults.fixation
    attention = _point(params, ("ax", "ay"), messages)
    mode = first_value(params.get("mode")) or defaults.mode
    if mode not in MODES:
        messages.append(f"Unknown masking mode {echo(mode)} in the link: use one of {', '.join(MODES)}.")
        mode = defaults.mode
    ratio = MODES[mode].default_ratio or defaults.ratio
    ratio_text = first_value(params.get("ratio"))
    if ratio_text is not None:
        try:
            ratio = unit_number(ratio_text, "ratio")
        except FieldError as error:
            messages.append(f"Ignored ratio={echo(ratio_text)} in the link: the masking ratio is {error.allowed}.")
    fill = first_value(params.get("fill")) or defaults.fill
    if fill not in FILLS:
        messages.append(f"Unknown fill {echo(fill)} in the link: use one of {', '.join(FILLS)}.")
        fill = defaults.fill
    checkpoint = first_value(params.get("ckpt")) or AUTO_CHECKPOINT
    seed = _seed(first_value(params.get("seed")), messages)
    view = ViewState(source, image, split, fixation, attention, mode, ratio, fill, checkpoint, seed)
    return view, messages


def to_query(view: ViewState) -> dict[str, str]:
    """URL query parameters of a view (an upload is not linkable: it is written as the default image)."""
    if view.source == "upload":
        view = replace(view, source=ViewState.source, image=ViewState.image)
    query = {"src": view.source, "img": view.image}
    if view.source == "stl10":
        query["split"] = view.split
    query |= {"x": str(view.fixation[0]), "y": str(view.fixation[1])}
    if view.attention is not None:
        query |= {"ax": str(view.attention[0]), "ay": str(view.attention[1])}
    query |= {"mode": view.mode, "ratio": f"{view.ratio:g}", "fill": view.fill, "ckpt": view.checkpoint}
    query["seed"] = str(view.seed)
    return query


def scale_click(x: float, y: float, width: float, height: float, size: int = IMAGE_SIZE) -> tuple[int, int]:
    """A click at ``(x, y)`` on an image shown ``width x height`` px -> the pixel of a ``size``-px image."""
    column = int(x * size / max(width, 1))
    row = int(y * size / max(height, 1))
    return min(max(column, 0), size - 1), min(max(row, 0), size - 1)
