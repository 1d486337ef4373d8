"""What every part of the Gradio app shares: the queues, the controls' order and names, how a click becomes a
pixel, how the controls' values become a view, how an image becomes a file and how a message reaches the page."""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from focusmim_core import FILLS, MODES
from focusmim_core.checkpoints import atomic_write
from focusmim_core.errors import InputError
from focusmim_core.explorer.service import CONTROLS
from focusmim_core.explorer.viewstate import (
    FOLDERLESS_SOURCES,
    IMAGE_SIZE,
    FieldError,
    ViewState,
    one_of,
    pixel,
    seed_number,
    short_text,
    unit_number,
)
from focusmim_core.runtime import release_memory

ROOT = Path(__file__).resolve().parents[1]
CLICK_SCALE = 5  # the clickable image is upscaled on the server: click indices are its pixels / 5
PANEL_SCALE = 1  # panels as the 96 x 96 image they are: the API gets exact pixels, the page upscales them (CSS)
# Two queues, each running at most its limit at once on one torch thread: a view (one forward, or a large
# upload's decoding) never waits behind a batch of views (every mode, the ratio sweep, a scanpath's three
# paths) nor behind one large upload alone.
VIEW_GROUP, BATCH_GROUP = "view", "batch"
RUNNING = {VIEW_GROUP: 2, BATCH_GROUP: 1}
FIELDS = tuple(CONTROLS)  # the order of the controls' values in every listener's inputs
LABELS = {name: control.label for name, control in CONTROLS.items()}  # how a message names a control
# our PNG files, named by their content (GRADIO_TEMP_DIR: gradio_app sets it before Gradio is imported)
IMAGE_DIR = Path(os.environ.get("GRADIO_TEMP_DIR", ROOT / ".gradio")) / "images"
KEEP_IMAGES = 4096  # at most about this many files there (oldest use first out), ~20 MB
_written = itertools.count(1)  # new files so far: the folder is pruned every 256th


def png_file(array: np.ndarray) -> str:
    """A uint8 ``(H, W, 3)`` image as a PNG file named by its content, written once, atomically.

    Gradio rewrites an image it is given as an array in place each time it is returned, so a
    browser (or a second session) fetching the same picture at that moment gets an empty file;
    a file path it copies once, atomically. The folder is pruned to ``KEEP_IMAGES`` files.
    """
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="png", compress_level=1)
    data = buffer.getvalue()
    path = IMAGE_DIR / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if path.exists():
        os.utime(path)  # recently used: pruned last
        return str(path)
    atomic_write(path, lambda staging: Path(staging).write_bytes(data))
    if next(_written) % 256 == 0:
        prune_images()
    return str(path)


def prune_images() -> None:
    """Delete the least recently used files of ``IMAGE_DIR`` beyond half of ``KEEP_IMAGES``, once over it."""
    files = list(IMAGE_DIR.glob("*.png"))
    if len(files) > KEEP_IMAGES:
        for path in sorted(files, key=lambda p: p.stat().st_mtime)[: len(files) - KEEP_IMAGES // 2]:
            path.unlink(missing_ok=True)


def click_to_fixation(evt: gr.SelectData) -> tuple[int, int]:
    """The image pixel (x = column, y = row) of a click on the upscaled image."""
    x, y = evt.index[0], evt.index[1]
    return min(max(int(x) // CLICK_SCALE, 0), IMAGE_SIZE - 1), min(max(int(y) // CLICK_SCALE, 0), IMAGE_SIZE - 1)


def named(inputs: Sequence[object]) -> dict[str, object]:
    """The controls' values by name (``FIELDS``: ``CONTROLS``' keys), from a listener's inputs in that order."""
    return dict(zip(FIELDS, inputs, strict=True))


def view_of(values: Mapping[str, object], names: Mapping[str, str] | None = None) -> ViewState:
    """The view that controls' ``values`` (by ``CONTROLS`` key) describe; ``gr.Error`` naming a bad value's field
    (``names``: how to name each, default its key: the API's parameter names)."""
    name = names.get if names else lambda key: key
    try:
        source = one_of(values["source"], name("source"), FOLDERLESS_SOURCES)
        image = {"gallery": lambda: short_text(values["gallery"], name("gallery")),
                 "synthetic": lambda: str(short_text(str(values["scene"]), name("scene"))),
                 "upload": lambda: "upload"}[source]()  # fmt: skip
        attention = None
        if values["attention"] is True:
            attention = tuple(pixel(values[key], name(key)) for key in ("attention_x", "attention_y"))
        return ViewState(
            source=source, image=image, fixation=(pixel(values["x"], name("x")), pixel(values["y"], name("y"))),
            attention=attention, mode=one_of(values["mode"], name("mode"), MODES),
            ratio=unit_number(values["ratio"], name("ratio")), fill=one_of(values["fill"], name("fill"), FILLS),
            seed=seed_number(values["seed"], name("seed")),
            checkpoint=short_text(values["checkpoint"], name("checkpoint")) or "auto",
        )  # fmt: skip
    except FieldError as error:
        raise gr.Error(str(error)) from None


def quoted(notes: list[str]) -> str:
    """Notes for the user as Markdown block quotes, each its own paragraph ("" for none)."""
    return "".join(f"\n\n> {note}" for note in notes)


def giving_back_memory(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler``, then glibc's free memory back to the kernel (``release_memory``): for the requests that can
    take a lot of it (uploads, batches), so that the server does not keep what one of them took."""

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        finally:
            release_memory()

    return wrapped


def run_api(work: Callable[[], Any]) -> Any:
    """``work()`` with its ``InputError`` shown to the caller as a ``gr.Error`` (its message, no traceback)."""
    try:
        return work()
    except InputError as error:
        raise gr.Error(str(error)) from None


def panel_gallery(label: str, columns: int) -> gr.Gallery:
    """A gallery of 96 x 96 panels, drawn large, sharp and uncropped (``CSS``'s ``pixelated`` class)."""
    return gr.Gallery(label=label, columns=columns, format="png", height="auto", elem_classes="pixelated")


def only_when(value: object, handler: Callable[..., Any], outputs: int) -> Callable[..., Any]:
    """``handler`` of the other inputs when the listener's first input is ``value`` (e.g. the tab a link opened,
    the source of a scanpath's fixations), else a listener that changes none of its ``outputs``."""

    def run(first: object, *inputs):
        return handler(*inputs) if first == value else tuple(gr.skip() for _ in range(outputs))

    return run
