"""FocusMIM Explorer in Gradio: ``python gradio_app.py`` (``make gradio``, http://127.0.0.1:7860).

Layout only: every panel comes from ``focusmim_core.explorer.service``. The Explore tab: click
the image to fixate, choose the masking and the checkpoint, see the panels and the metrics.
HTTP API (``gradio_client`` or two-step curl, see the README): ``render``.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio builds anything: no version check
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(ROOT / ".gradio"))  # project-owned, git-ignored
os.environ.setdefault("U2NET_HOME", str(ROOT / ".u2net"))

import gradio as gr  # noqa: E402

from focusmim_core.data import GALLERY  # noqa: E402
from focusmim_core.errors import InputError  # noqa: E402
from focusmim_core.explorer.service import SOURCES, Rendered, render_view  # noqa: E402
from focusmim_core.figures import marked_image  # noqa: E402
from focusmim_core.masking import FILLS, MODES  # noqa: E402
from focusmim_core.viewstate import IMAGE_SIZE, MAX_SEED, ViewState  # noqa: E402

CLICK_SCALE = 5  # the clickable image is upscaled on the server: click indices are its pixels / 5
PANEL_SCALE = 3
MODEL_GROUP = "model"  # every listener that runs the network: one at a time, in a bounded queue
QUEUE_SIZE = 32


def click_to_fixation(evt: gr.SelectData) -> tuple[int, int]:
    """The image pixel (x = column, y = row) of a click on the upscaled image."""
    x, y = evt.index[0], evt.index[1]
    return min(max(int(x) // CLICK_SCALE, 0), IMAGE_SIZE - 1), min(max(int(y) // CLICK_SCALE, 0), IMAGE_SIZE - 1)


def view_of(
    source: str, gallery: str, scene: float, x: float, y: float, mode: str, ratio: float, fill: str, seed: float,
    attention: bool, ax: float, ay: float, checkpoint: str,
) -> ViewState:  # fmt: skip
    """The view the controls describe."""
    image = gallery if source == "gallery" else (str(int(scene)) if source == "synthetic" else "upload")
    point = (int(ax), int(ay)) if attention else None
    return ViewState(source=source, image=image, fixation=(int(x), int(y)), attention=point, mode=mode,
                     ratio=float(ratio), fill=fill, seed=int(seed), checkpoint=checkpoint or "auto")  # fmt: skip


def metrics_markdown(rendered: Rendered) -> str:
    """The view's metrics and notes as Markdown."""
    m = rendered.panels.metrics
    cells = [
        ("masked MSE", m.get("masked_mse"), ".4f"), ("foreground-weighted MSE", m.get("foreground_mse"), ".4f"),
        ("PSNR of the hidden region (dB)", m.get("psnr_hidden"), ".1f"), ("hidden fraction", m.get("hidden_fraction"),
        ".0%"), ("latent cosine (hidden cells)", m.get("latent_similarity"), ".3f"),
    ]  # fmt: skip
    lines = [f"- **{name}**: {format(value, fmt) if value is not None else 'n/a'}" for name, value, fmt in cells]
    name = rendered.checkpoint.name if rendered.checkpoint else "untrained network"
    notes = "".join(f"\n\n> {note}" for note in rendered.notes)
    return f"{rendered.item.caption}, checkpoint **{name}**\n\n" + "\n".join(lines) + notes


def explore(*controls) -> tuple:
    """Explore tab: (clickable image, panels, metrics) for the controls; a clear error for bad input."""
    upload, *rest = controls
    try:
        rendered = render_view(view_of(*rest), upload)
    except InputError as error:
        raise gr.Error(str(error)) from None
    view = rendered.panels.settings
    points = [p for p in (view.fixation, view.attention) if p is not None]
    clickable = marked_image(rendered.item.image, points, CLICK_SCALE)
    panels = [(array, title) for title, array in rendered.images(PANEL_SCALE)]
    return clickable, panels, metrics_markdown(rendered)


def render_api(
    image: str | None, gallery: str, x: float, y: float, mode: str, ratio: float, fill: str, seed: float,
    attention_x: float, attention_y: float, checkpoint: str,
) -> tuple[list, dict]:  # fmt: skip
    """API ``render``: an uploaded image (or a gallery photo by name) at a fixation -> the panels (PNG) and metrics.

    ``attention_x``/``attention_y`` below 0 mean no covert attention.
    """
    attention = attention_x >= 0 and attention_y >= 0
    source = "upload" if image else "gallery"
    try:
        rendered = render_view(view_of(source, gallery, 0, x, y, mode, ratio, fill, seed, attention, attention_x,
                                       attention_y, checkpoint), image)  # fmt: skip
    except InputError as error:
        raise gr.Error(str(error)) from None
    panels = [(array, title) for title, array in rendered.images(PANEL_SCALE)]
    name = rendered.checkpoint.name if rendered.checkpoint else None
    return panels, {"metrics": rendered.panels.metrics, "checkpoint": name, "notes": rendered.notes}


def controls_column() -> list:
    """The Explore tab's controls (the upload first, then in ``view_of``'s order)."""
    source = gr.Radio(list(SOURCES), value="gallery", label="Image source")
    gallery = gr.Dropdown(list(GALLERY), value=next(iter(GALLERY)), label="Gallery photo")
    scene = gr.Number(3, label="Procedural scene", precision=0, minimum=0)
    upload = gr.File(label="Upload an image (source: upload)", file_types=["image"], type="filepath", height=100)
    x = gr.Number(IMAGE_SIZE // 2, label="Fixation x (column)", precision=0, minimum=0, maximum=IMAGE_SIZE - 1)
    y = gr.Number(IMAGE_SIZE // 2, label="Fixation y (row)", precision=0, minimum=0, maximum=IMAGE_SIZE - 1)
    mode = gr.Dropdown([(spec.label, name) for name, spec in MODES.items()], value="periphery", label="Masking")
    ratio = gr.Slider(0.05, 0.95, value=0.8, step=0.05, label="Masking ratio")
    fill = gr.Radio(list(FILLS), value="mean", label="Fill of hidden pixels")
    seed = gr.Number(0, label="Random-patch seed", precision=0, minimum=0, maximum=MAX_SEED)
    attention = gr.Checkbox(False, label="Covert attention: a second visible point")
    ax = gr.Number(70, label="Attention x", precision=0, minimum=0, maximum=IMAGE_SIZE - 1)
    ay = gr.Number(30, label="Attention y", precision=0, minimum=0, maximum=IMAGE_SIZE - 1)
    checkpoint = gr.Textbox("auto", label="Checkpoint (auto: the default for the mode)")
    return [upload, source, gallery, scene, x, y, mode, ratio, fill, seed, attention, ax, ay, checkpoint]


def build() -> gr.Blocks:
    """The Gradio app: the public API first (names are de-duplicated silently), then the Explore tab."""
    with gr.Blocks(title="FocusMIM Explorer") as demo:
        with gr.Column(visible=False):  # the HTTP API's own inputs and outputs
            api_inputs = [
                gr.File(type="filepath"), gr.Textbox(next(iter(GALLERY))), gr.Number(48), gr.Number(48),
                gr.Textbox("periphery"), gr.Number(0.8), gr.Textbox("mean"), gr.Number(0), gr.Number(-1),
                gr.Number(-1), gr.Textbox("auto"),
            ]  # fmt: skip
            api_outputs = [gr.Gallery(format="png"), gr.JSON()]
            api_button = gr.Button()
        api_button.click(render_api, api_inputs, api_outputs, api_name="render", concurrency_id=MODEL_GROUP,
                         concurrency_limit=1)  # fmt: skip
        gr.Markdown("# FocusMIM Explorer\nClick the image to move the fixation (red); cyan: covert attention.")
        with gr.Tab("Explore"), gr.Row():
            with gr.Column(scale=1):
                controls = controls_column()
            with gr.Column(scale=3):
                clickable = gr.Image(label="Click to fixate", interactive=False, format="png", height=IMAGE_SIZE *
                                     CLICK_SCALE, width=IMAGE_SIZE * CLICK_SCALE)  # fmt: skip
                panels = gr.Gallery(label="Panels", columns=4, format="png", height="auto")
                metrics = gr.Markdown()
        outputs = [clickable, panels, metrics]
        x, y = controls[4], controls[5]
        shared = {"concurrency_id": MODEL_GROUP, "concurrency_limit": 1, "api_visibility": "private"}
        clickable.select(click_to_fixation, None, [x, y], api_visibility="private").then(
            explore, controls, outputs, **shared
        )
        for control in controls:
            if hasattr(control, "change") and control not in (x, y):
                control.change(explore, controls, outputs, **shared)
        for control in (x, y):
            control.submit(explore, controls, outputs, **shared)
        demo.load(explore, controls, outputs, **shared)
    return demo.queue(max_size=QUEUE_SIZE)


if __name__ == "__main__":
    build().launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), server_port=7860, share=False,
                   max_file_size="10mb", delete_cache=(600, 3600))  # fmt: skip
