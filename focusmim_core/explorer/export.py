"""Downloads of one view: a PNG of the panel row and a JSON of the settings and metrics."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .figures import colour_map, marked_image, pixelated
from .render import Panels
from .viewstate import ViewState, to_query

TITLE_HEIGHT = 18
GAP = 6


def panel_images(panels: Panels, scale: int = 3, harmonic: object = None) -> list[tuple[str, np.ndarray]]:
    """The row of panels as titled uint8 arrays (same order as the app shows them); ``harmonic``: a learning-free
    reference image ``(3, H, W)`` in [0, 1] to show after the reconstruction with the visible pixels pasted back."""
    view = panels.settings
    points = [p for p in (view.fixation, view.attention) if p is not None]
    reference = [] if harmonic is None else [("harmonic inpainting (no learning)", pixelated(harmonic, scale))]
    row = [
        ("image + fixation", marked_image(panels.image, points, scale)),
        ("masked input", pixelated(panels.masked_input, scale)),
        ("reconstruction", pixelated(panels.reconstruction, scale)),
        ("visible pasted back", pixelated(panels.pasted, scale)),
        *reference,
        ("loss mask", pixelated(panels.loss_mask, scale)),
        ("error", pixelated(colour_map(panels.error_map), scale)),
    ]
    if panels.weighted_error_map is not None:
        row.append(("fg-weighted error", pixelated(colour_map(panels.weighted_error_map), scale)))
    if panels.foreground is not None:
        row.append(("foreground", pixelated(panels.foreground, scale)))
    return row


def panel_row_png(panels: Panels, scale: int = 3) -> bytes:
    """PNG bytes of the titled panel row of one view."""
    row = panel_images(panels, scale)
    side = row[0][1].shape[0]
    canvas = Image.new("RGB", (len(row) * (side + GAP) + GAP, side + TITLE_HEIGHT + 2 * GAP), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for i, (title, array) in enumerate(row):
        left = GAP + i * (side + GAP)
        draw.text((left, GAP // 2), title, fill=(20, 20, 20), font=font)
        canvas.paste(Image.fromarray(array), (left, GAP + TITLE_HEIGHT))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def settings_json(view: ViewState, panels: Panels, checkpoint: dict[str, Any] | None = None) -> str:
    """JSON of a view's settings, its link's query, the checkpoint used and the metrics."""
    values = {
        "view": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(view).items()},
        "query": to_query(view),
        "checkpoint": checkpoint or {},
        "metrics": panels.metrics,
    }
    return json.dumps(values, indent=2, default=str)
