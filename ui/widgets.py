"""Widgets bound to the session's view: clickable image, checkpoint notice, number inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
import torch
from streamlit_image_coordinates import streamlit_image_coordinates

from focusmim_core import MODES
from focusmim_core.checkpoints import CheckpointInfo
from focusmim_core.explorer.catalog import TRAIN_HINT
from focusmim_core.explorer.evaluation import stored_report
from focusmim_core.explorer.figures import draw_markers, pixelated
from focusmim_core.explorer.viewstate import IMAGE_SIZE, scale_click

from . import keys, state

DISPLAY_SCALE = 4  # 96 px -> 384 px on screen, pixelated


def bound(key: str, value: Any) -> None:
    """Give a widget its value from the view the first time it is drawn (or after a page switch)."""
    if key not in st.session_state:
        st.session_state[key] = value


def explore_controls() -> tuple[str, float, str, tuple[int, int], tuple[int, int] | None, int]:
    """The Explore controls' values (mode, ratio, fill, fixation, attention point, seed) before they are drawn.

    Read from the widgets' keys (given their values from the view the first time), so that a page
    can compute its panels first and draw the widgets, with the same keys, afterwards.
    """
    current = state.view()
    for key, value in (
        (keys.MODE, current.mode),
        (keys.RATIO, float(current.ratio)),
        (keys.FILL, current.fill),
        (keys.FIXATION_X, current.fixation[0]),
        (keys.FIXATION_Y, current.fixation[1]),
        (keys.ATTENTION, current.attention is not None),
        (keys.SEED, current.seed),
    ):
        bound(key, value)
    values = st.session_state
    mode = values[keys.MODE]
    attention = None
    if values[keys.ATTENTION] and MODES[mode].supports_attention:
        default = current.attention or (min(current.fixation[0] + 24, IMAGE_SIZE - 1), current.fixation[1])
        bound(keys.ATTENTION_X, default[0])
        bound(keys.ATTENTION_Y, default[1])
        attention = (int(values[keys.ATTENTION_X]), int(values[keys.ATTENTION_Y]))
    fixation = (int(values[keys.FIXATION_X]), int(values[keys.FIXATION_Y]))
    return mode, float(values[keys.RATIO]), values[keys.FILL], fixation, attention, int(values[keys.SEED])


def clickable_image(
    image: torch.Tensor,
    points: Sequence[tuple[int, int]],
    key: str,
    on_pixel: Callable[[int, int], None],
    colours: Sequence[tuple[int, int, int]] | None = None,
) -> None:
    """The image, large and pixelated, with markers; a click calls ``on_pixel(x, y)`` in 96-px coordinates."""

    def clicked() -> None:
        value = st.session_state.get(key)
        if value and {"x", "y", "width", "height"} <= set(value):
            on_pixel(*scale_click(value["x"], value["y"], value["width"], value["height"], image.shape[-1]))

    array = draw_markers(pixelated(image, DISPLAY_SCALE), list(points), DISPLAY_SCALE, colours)
    streamlit_image_coordinates(
        array,
        width=image.shape[-1] * DISPLAY_SCALE,
        key=key,
        on_click=clicked,
        cursor="crosshair",
        png_compression_level=1,
    )


def held_out_summary(info: CheckpointInfo) -> str:
    """``", +2.1 dB over its input on held-out photos"`` from a checkpoint's stored report, or ``""``."""
    report = stored_report(info.metadata.metrics)
    return f", {report.summary()}" if report is not None else ""


def checkpoint_notice(
    infos: Sequence[CheckpointInfo | None], notes: Sequence[str] = (), caveats: Sequence[str] = ()
) -> None:
    """Say what the networks are: demo checkpoints, the untrained fallback, or trained ones; ``notes`` (problems:
    a checkpoint not found or unreadable) as warnings, ``caveats`` (``Rendered.caveats``: a substitute checkpoint,
    a fixation never trained on) as a caption, things to know, not problems."""
    for note in notes:
        st.warning(note, icon=":material/warning:")
    if caveats:
        st.caption(" ".join(caveats))
    demos = sorted({info.name for info in infos if info is not None and info.metadata.demo})
    if demos:
        unique = {info.name: info for info in infos if info is not None and info.metadata.demo}
        titles = "; ".join(
            f"`{name}` ({info.metadata.title()}{held_out_summary(info)})" for name, info in sorted(unique.items())
        )
        st.info(
            f"**Demo checkpoint{'s' if len(demos) > 1 else ''}**: {titles}: trained briefly on a CPU to show how "
            f"the app works, not the paper's results. {TRAIN_HINT}",
            icon=":material/info:",
        )
