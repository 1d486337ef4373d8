"""Widgets bound to the session's view: clickable image, checkpoint notice, number inputs."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

import streamlit as st
import torch
from streamlit_image_coordinates import streamlit_image_coordinates

from focusmim_core import MODES
from focusmim_core.checkpoints import CheckpointInfo
from focusmim_core.errors import markdown_text
from focusmim_core.evaluation import stored_report
from focusmim_core.explorer.catalog import TRAIN_HINT
from focusmim_core.explorer.controls import CONTROLS, default_attention
from focusmim_core.explorer.figures import draw_markers, pixelated
from focusmim_core.explorer.viewstate import scale_click
from focusmim_core.masking import FILLS

from . import keys, state

DISPLAY_SCALE = 4  # 96 px -> 384 px on screen, pixelated


def fitted(value: Any, options: Collection[Any] | None = None, span: tuple[float, float] | None = None) -> Any:
    """``value`` as a widget can show it: clamped into ``span`` (low, high; whole numbers if both ends are),
    or, when it is not one of ``options``, the first option."""
    if span is not None:
        low, high = span
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = low
        number = min(max(number, low), high) if math.isfinite(number) else low
        return round(number) if isinstance(low, int) and isinstance(high, int) else number
    if options is not None and value not in options:
        return next(iter(options))
    return value


def bound(key: str, value: Any, options: Collection[Any] | None = None, span: tuple[float, float] | None = None) -> Any:
    """Give a widget its value from the view the first time it is drawn (or after a page switch), fitted into the
    widget's ``options`` or ``span`` (the view, a link or another page may hold a value this widget cannot show).

    Returns the value the widget will show. Pass the same ``options``/``span`` the widget is drawn with.
    """
    held = st.session_state.get(key, value)
    shown = fitted(held, options, span)
    if key not in st.session_state or shown != held:
        st.session_state[key] = shown
    return shown


def span(name: str) -> tuple[float, float]:
    """The range ``(minimum, maximum)`` of an Explore control of ``CONTROLS``."""
    return CONTROLS[name].minimum, CONTROLS[name].maximum


def explore_controls() -> tuple[str, float, str, tuple[int, int], tuple[int, int] | None, int]:
    """The Explore controls' values (mode, ratio, fill, fixation, attention point, seed) before they are drawn.

    Read from the widgets' keys (given their values from the view the first time, fitted into their
    ranges), so that a page can compute its panels first and draw the widgets, with the same keys, afterwards.
    """
    current = state.view()
    mode = bound(keys.MODE, current.mode, options=MODES)
    ratio = bound(keys.RATIO, float(current.ratio), span=span("ratio"))
    fill = bound(keys.FILL, current.fill, options=FILLS)
    fixation = (
        bound(keys.FIXATION_X, current.fixation[0], span=span("x")),
        bound(keys.FIXATION_Y, current.fixation[1], span=span("y")),
    )
    seed = bound(keys.SEED, current.seed, span=span("seed"))
    attention = None
    if bound(keys.ATTENTION, current.attention is not None) and MODES[mode].supports_attention:
        default = current.attention or default_attention(current.fixation)
        attention = (
            bound(keys.ATTENTION_X, default[0], span=span("attention_x")),
            bound(keys.ATTENTION_Y, default[1], span=span("attention_y")),
        )
    return mode, float(ratio), fill, fixation, attention, int(seed)


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
            f"{markdown_text(name)} ({markdown_text(info.metadata.title())}{held_out_summary(info)})"
            for name, info in sorted(unique.items())
        )
        st.info(
            f"**Demo checkpoint{'s' if len(demos) > 1 else ''}**: {titles}: trained briefly on a CPU to show how "
            f"the app works, not the paper's results. {TRAIN_HINT}",
            icon=":material/info:",
        )
