"""The Explore controls, declared once for both front-ends: each one's label, help, range and default.

Plain data (no UI framework): the Streamlit page and the Gradio app build their widgets from
``CONTROLS``, keyed by the name the view's value goes by (``ViewState`` fields; the fixation and
the attention point by their x and y). Defaults are ``ViewState``'s own.
"""

from __future__ import annotations

from dataclasses import dataclass

from .viewstate import AUTO_CHECKPOINT, IMAGE_SIZE, MAX_SEED, SYNTHETIC_COUNT, ViewState


@dataclass(frozen=True)
class Control:
    """One control: its label, default, help text and (numbers) its range and step."""

    label: str
    default: object = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None


ATTENTION_OFFSET = 24  # pixels right of the fixation where the covert-attention point starts


def default_attention(fixation: tuple[int, int]) -> tuple[int, int]:
    """Where the covert-attention point starts when it is switched on: ``ATTENTION_OFFSET`` right of the fixation."""
    return min(fixation[0] + ATTENTION_OFFSET, IMAGE_SIZE - 1), fixation[1]


_VIEW = ViewState()
_LAST = IMAGE_SIZE - 1
CONTROLS: dict[str, Control] = {
    "source": Control("Image source", _VIEW.source),
    "gallery": Control("Gallery photo", _VIEW.image),
    "scene": Control("Procedural scene", 3, minimum=0, maximum=SYNTHETIC_COUNT - 1, step=1),
    "upload": Control("Upload an image (source: upload)"),
    "x": Control("Fixation x (column)", _VIEW.fixation[0], minimum=0, maximum=_LAST, step=1),
    "y": Control("Fixation y (row)", _VIEW.fixation[1], minimum=0, maximum=_LAST, step=1),
    "mode": Control("Masking mode", _VIEW.mode),
    "ratio": Control("Masking ratio", _VIEW.ratio, minimum=0.0, maximum=1.0, step=0.05),
    "fill": Control("Fill of hidden pixels", _VIEW.fill),
    "seed": Control(
        "Random-patch seed",
        _VIEW.seed,
        minimum=0,
        maximum=MAX_SEED,
        step=1,
        help="Which patches are hidden: the same seed shows the same patches (it is part of the link).",
    ),
    "attention": Control(
        "Covert attention: a second visible point",
        _VIEW.attention is not None,
        help="Paper 4.5: a second disc of the same radius (periphery modes) or a second fovea.",
    ),
    "attention_x": Control("Attention x", default_attention(_VIEW.fixation)[0], minimum=0, maximum=_LAST, step=1),
    "attention_y": Control("Attention y", default_attention(_VIEW.fixation)[1], minimum=0, maximum=_LAST, step=1),
    "checkpoint": Control("Checkpoint (auto: the default for the mode)", AUTO_CHECKPOINT),
    "harmonic": Control(
        "Compare with harmonic inpainting (no learning)",
        False,
        help="The smoothest fill through the visible pixels: every hidden pixel the average of its neighbours. "
        "A network that beats it predicts more than a blur of what it was shown. Modes that hide pixels only.",
    ),
}
