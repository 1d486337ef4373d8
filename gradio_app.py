"""FocusMIM Explorer in Gradio: ``python gradio_app.py`` (``make gradio``, http://127.0.0.1:7860).

Layout only: every panel comes from ``focusmim_core.explorer.service``. The Explore tab: click
the image to fixate, choose the masking and the checkpoint, see the panels and the metrics.
The Compare tab: every mode at once and the error-vs-ratio sweep; Scanpath: clicks add fixations.
HTTP API (``gradio_client`` or two-step curl, see the README): ``render``, ``compare``, ``sweep``,
``scanpath``.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import itertools
import json
import os
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio builds anything: no version check
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(ROOT / ".gradio"))  # project-owned, git-ignored
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")  # Gradio keeps a record of the last 10,000 events
os.environ.setdefault("U2NET_HOME", str(ROOT / ".u2net"))

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from focusmim_core.checkpoints import atomic_write  # noqa: E402
from focusmim_core.data import GALLERY, MAX_UPLOAD_BYTES  # noqa: E402
from focusmim_core.errors import InputError  # noqa: E402
from focusmim_core.explorer.figures import (  # noqa: E402
    MARKER_COLOURS,
    SUGGESTION_COLOUR,
    colour_map,
    draw_markers,
    heatmap_row,
    marked_image,
    pixelated,
    ratio_sweep_chart,
    scanpath_chart,
)
from focusmim_core.explorer.render import harmonic_caption, harmonic_reference  # noqa: E402
from focusmim_core.explorer.service import (  # noqa: E402
    SOURCES,
    Compared,
    Rendered,
    compare_item,
    item_for,
    render_view,
    scanpath_item,
    sweep_item,
)
from focusmim_core.explorer.sweeps import mode_table  # noqa: E402
from focusmim_core.explorer.viewstate import IMAGE_SIZE, MAX_SEED, ViewState  # noqa: E402
from focusmim_core.masking import FILLS, MODES  # noqa: E402
from focusmim_core.runtime import configure_serving  # noqa: E402

CLICK_SCALE = 5  # the clickable image is upscaled on the server: click indices are its pixels / 5
PANEL_SCALE = 1  # panels as the 96 x 96 image they are: the API gets exact pixels, the page upscales them (CSS)
CSS = """
.pixelated img { image-rendering: pixelated; object-fit: contain !important; }  /* sharp, never cropped */
.pixelated .thumbnail-item { height: auto !important; }  /* square tiles (their aspect-ratio), not row-high */
"""
MODEL_GROUP = "model"  # every listener that runs the network: one at a time, in a bounded queue
QUEUE_SIZE = 32
MAX_FIXATIONS = 12
FIXATION_INDEX = 4  # where x (then y) sits in controls_column()'s list
IMAGE_DIR = Path(os.environ["GRADIO_TEMP_DIR"]) / "images"  # our PNG files, named by their content
KEEP_IMAGES = 4096  # at most about this many files there (oldest use first out), ~20 MB
_written = itertools.count(1)  # new files so far: the folder is pruned every 256th
# Gradio keeps ~150 KB of state per session hash (a copy of every component's config), and never drops a
# session but the oldest of 10,000; every call of the two-step HTTP API is a new session.
MAX_SESSIONS = 1000  # sessions kept at most (open pages first: the least recently used goes)
API_SESSION_IDLE_S = 5.0  # a session only the (stateless) API used: dropped this long after its last event
CLOSED_SESSION_KEEP_S = 600.0  # a closed page's state (its scanpath): kept this long, for a reconnect
SWEEP_EVERY_S = 2.0
_api_sessions: set[str] = set()  # session hashes seen by an API endpoint


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


def api_session(request: gr.Request | None) -> None:
    """Mark the request's session as one the stateless API made: ``forget_sessions`` drops it once idle."""
    if request is not None and request.session_hash:
        _api_sessions.add(request.session_hash)


def forget_sessions(demo: gr.Blocks, now: datetime.datetime | None = None) -> int:
    """Drop the state of API sessions idle ``API_SESSION_IDLE_S`` and of pages closed ``CLOSED_SESSION_KEEP_S``
    ago (open pages are kept); returns how many were dropped."""
    holder, queue = demo.state_holder, demo._queue
    now = now or datetime.datetime.now()
    with holder.lock:
        stale = []
        for session, state in list(holder.session_data.items()):
            idle = (now - holder.time_last_used.get(session, now)).total_seconds()
            api = session in _api_sessions
            if (api and idle > API_SESSION_IDLE_S) or (state.is_closed and idle > CLOSED_SESSION_KEEP_S):
                stale.append(session)
        for session in stale:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
            _api_sessions.discard(session)
            if session in queue.pending_messages_per_session and queue.pending_messages_per_session[session].empty():
                del queue.pending_messages_per_session[session]  # its event stream was delivered
            if not queue.pending_event_ids_session.get(session, True):
                del queue.pending_event_ids_session[session]  # an empty set: nothing of it is pending
    _api_sessions.intersection_update(holder.session_data)  # a session Gradio evicted itself
    return len(stale)


def sweep_sessions(demo: gr.Blocks) -> None:
    """``forget_sessions`` every ``SWEEP_EVERY_S`` seconds until the app is closed (a daemon thread's loop)."""
    while demo.is_running:
        time.sleep(SWEEP_EVERY_S)
        forget_sessions(demo)


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
    return f"{rendered.item.caption}, checkpoint **{name}**\n\n" + "\n".join(lines) + quoted(rendered.messages())


def quoted(notes: list[str]) -> str:
    """Notes for the user as Markdown block quotes, each its own paragraph ("" for none)."""
    return "".join(f"\n\n> {note}" for note in notes)


def explore_at(evt: gr.SelectData, *inputs) -> tuple:
    """A click on the Explore image: the new fixation (x, y) and the Explore outputs for it, in one round trip."""
    x, y = click_to_fixation(evt)
    changed = [*inputs[:FIXATION_INDEX], x, y, *inputs[FIXATION_INDEX + 2 :]]
    return (x, y, *explore(*changed))


def explore(*inputs) -> tuple:
    """Explore tab: (clickable image, panels, metrics, error maps) for the controls and the harmonic checkbox.

    ``inputs``: ``controls_column()``'s values, then whether to add harmonic inpainting beside the
    reconstruction. Bad input raises ``gr.Error`` with a message, never a traceback.
    """
    upload, *rest, harmonic = inputs
    try:
        rendered = render_view(view_of(*rest), upload)
    except InputError as error:
        raise gr.Error(str(error)) from None
    view = rendered.panels.settings
    points = [p for p in (view.fixation, view.attention) if p is not None]
    clickable = png_file(marked_image(rendered.item.image, points, CLICK_SCALE))
    panels = [(png_file(array), title) for title, array in rendered.images(PANEL_SCALE)]
    text = metrics_markdown(rendered)
    reference = harmonic_reference(rendered.panels) if harmonic and panels_are_pixels(rendered) else None
    if reference is not None:
        after = [title for _, title in panels].index("visible pasted back") + 1
        panels.insert(after, (png_file(pixelated(reference[0], PANEL_SCALE)), "harmonic inpainting (no learning)"))
        sentence = harmonic_caption(rendered.panels.metrics.get("psnr_hidden"), reference[1])
        text += f"\n\n{sentence}" if sentence else ""
    return clickable, panels, text, error_maps(rendered)


def panels_are_pixels(rendered: Rendered) -> bool:
    """Whether the network predicts pixels (the latent objective predicts latents: no reconstruction to compare)."""
    return rendered.panels.latent_similarity is None


def error_maps(rendered: Rendered) -> object:
    """The squared-error maps with a colour bar (the latent objective: its cosine map instead)."""
    panels = rendered.panels
    if panels.latent_similarity is not None:
        return heatmap_row([("Predicted vs target latent (cosine)", panels.latent_similarity.clamp(0, 1))],
                           colorbar_title="cosine", zmax=1.0)  # fmt: skip
    maps = [("Squared error (mean over RGB)", panels.error_map)]
    if panels.weighted_error_map is not None:
        maps.append(("Foreground-weighted error", panels.weighted_error_map))
    return heatmap_row(maps, colorbar_title="error")


def render_api(
    image: str | None, gallery: str, x: float, y: float, mode: str, ratio: float, fill: str, seed: float,
    attention_x: float, attention_y: float, checkpoint: str, request: gr.Request | None = None,
) -> tuple[list, dict]:  # fmt: skip
    """API ``render``: an uploaded image (or a gallery photo by name) at a fixation -> the panels (PNG) and metrics.

    ``attention_x``/``attention_y`` below 0 mean no covert attention.
    """
    api_session(request)
    attention = attention_x >= 0 and attention_y >= 0
    source = "upload" if image else "gallery"
    try:
        rendered = render_view(view_of(source, gallery, 0, x, y, mode, ratio, fill, seed, attention, attention_x,
                                       attention_y, checkpoint), image)  # fmt: skip
    except InputError as error:
        raise gr.Error(str(error)) from None
    panels = [(png_file(array), title) for title, array in rendered.images(PANEL_SCALE)]
    name = rendered.checkpoint.name if rendered.checkpoint else None
    return panels, {"metrics": rendered.panels.metrics, "checkpoint": name, "notes": rendered.messages()}


def compare(*controls) -> tuple:
    """Compare tab: every mode's input, reconstruction and error, the metrics table, the ratio sweep plot and the
    notes (Markdown)."""
    upload, *rest = controls
    view = view_of(*rest)
    try:
        item = item_for(view, upload)
        compared, curves = compare_item(item, view), sweep_item(item, view)
    except InputError as error:
        raise gr.Error(str(error)) from None
    table = pd.DataFrame(mode_table(compared.panels, compared.names)).style.format(precision=4, na_rep="–")
    return compare_tiles(compared), table, ratio_sweep_chart(curves, "masked_mse"), quoted(compared.messages())


def compare_tiles(compared: Compared) -> list[tuple[str, str]]:
    """Every mode's input, reconstruction and squared error (one colour scale) as titled PNG files."""
    top = max(float(p.error_map.max()) for p in compared.panels)
    tiles = []
    for mode, panels in zip(compared.modes, compared.panels, strict=True):
        name = MODES[mode].short_label
        shown = (panels.masked_input, panels.reconstruction, colour_map(panels.error_map, top))
        titles = (f"{name}: input", f"{name}: reconstruction", f"{name}: squared error")
        tiles += [(png_file(pixelated(image, PANEL_SCALE)), title) for image, title in zip(shown, titles, strict=True)]
    return tiles


def compare_api(
    image: str | None, gallery: str, x: float, y: float, ratio: float, fill: str, seed: float,
    request: gr.Request | None = None,
) -> tuple:  # fmt: skip
    """API ``compare``: every mode at one fixation -> the input/reconstruction/error tiles (PNG), the metrics (in
    full, not as displayed) and the notes for the user."""
    api_session(request)
    view = view_of("upload" if image else "gallery", gallery, 0, x, y, "periphery", ratio, fill, seed, False, 0, 0, "")
    try:
        compared = compare_item(item_for(view, image), view)
    except InputError as error:
        raise gr.Error(str(error)) from None
    return compare_tiles(compared), {"rows": mode_table(compared.panels, compared.names), "notes": compared.messages()}


def sweep_api(
    image: str | None, gallery: str, x: float, y: float, fill: str, seed: float, metric: str,
    request: gr.Request | None = None,
) -> dict:  # fmt: skip
    """API ``sweep``: error (masked_mse or foreground_mse) against the masking ratio, per mode."""
    api_session(request)
    view = view_of("upload" if image else "gallery", gallery, 0, x, y, "periphery", 0.8, fill, seed, False, 0, 0, "")
    try:
        curves = sweep_item(item_for(view, image), view, metric)
    except InputError as error:
        raise gr.Error(str(error)) from None
    names = {spec.label: name for name, spec in MODES.items()}  # the curves come labelled for a legend
    return {names.get(label, label): {"ratios": r, "values": v} for label, (r, v) in curves.items()}


def scanpath(path: list, *controls) -> tuple:
    """Scanpath tab: the image with the fixations, the glimpses, the error curves, the suggestion (as text, as
    the pixel that "Look where suggested" adds, None when there is none) and that button, enabled only then."""
    upload, *rest = controls
    view = view_of(*rest)
    if not path:
        image = png_file(marked_image(item_for_view(view, upload), [], CLICK_SCALE))
        return image, [], None, "Click the image to fixate.", None, gr.update(interactive=False)
    try:
        result = scanpath_item(item_for(view, upload), view, [tuple(p) for p in path])
    except InputError as error:
        raise gr.Error(str(error)) from None
    points = [*map(tuple, path), *([result.suggestion] if result.suggestion else [])]
    colours = [MARKER_COLOURS[2]] * (len(path) - 1) + [MARKER_COLOURS[0]]
    colours += [SUGGESTION_COLOUR] * bool(result.suggestion)
    clickable = png_file(draw_markers(pixelated(result.item.image, CLICK_SCALE), points, CLICK_SCALE, colours))
    glimpses = glimpse_files(result)
    where = f"Suggested next fixation: {result.suggestion}." if result.suggestion else "Nothing left to reveal."
    where += quoted(result.messages())
    suggestion = list(result.suggestion) if result.suggestion else None
    chart = scanpath_chart(result.curves, result.metric)
    return clickable, glimpses, chart, where, suggestion, gr.update(interactive=suggestion is not None)


def glimpse_files(result: object) -> list[tuple[str, str]]:
    """A scanpath's glimpses (what the network was given after each fixation) as titled PNG files."""
    return [(png_file(pixelated(g.masked_input, PANEL_SCALE)), f"after {k + 1}") for k, g in enumerate(result.glimpses)]


def item_for_view(view: ViewState, upload: str | None) -> object:
    """The view's image tensor (for the empty scanpath), with a clear error for a bad choice."""
    try:
        return item_for(view, upload).image
    except InputError as error:
        raise gr.Error(str(error)) from None


def add_fixation(path: list, evt: gr.SelectData) -> list:
    """A click on the scanpath image appends its pixel (at most ``MAX_FIXATIONS``)."""
    return [*path, list(click_to_fixation(evt))][:MAX_FIXATIONS]


def scanpath_api(
    image: str | None, gallery: str, path: str, mode: str, ratio: float, fill: str, request: gr.Request | None = None
) -> tuple:
    """API ``scanpath``: fixations as JSON ``[[x, y], ...]`` -> each glimpse's input (PNG), curves, suggestion."""
    api_session(request)
    try:
        points = [tuple(int(v) for v in p) for p in json.loads(path)]
    except (ValueError, TypeError) as error:
        raise gr.Error(f"The path must be JSON like [[30, 40], [60, 50]] ({error}).") from None
    view = view_of("upload" if image else "gallery", gallery, 0, 0, 0, mode, ratio, fill, 0, False, 0, 0, "")
    try:
        result = scanpath_item(item_for(view, image), view, points)
    except InputError as error:
        raise gr.Error(str(error)) from None
    glimpses = glimpse_files(result)
    found = {"curves": result.curves, "metric": result.metric, "suggestion": result.suggestion}
    return glimpses, {**found, "notes": result.messages()}


def follow_suggestion(path: list, suggestion: list | None) -> list:
    """Append the suggested fixation ``[x, y]`` (nothing when there is none)."""
    return [*path, list(suggestion)][:MAX_FIXATIONS] if path and suggestion else path


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


def harmonic_checkbox() -> gr.Checkbox:
    """Explore's switch for the learning-free reference beside the reconstruction."""
    return gr.Checkbox(
        False, label="Compare with harmonic inpainting (no learning)",
        info="The smoothest fill through the visible pixels (every hidden pixel the average of its neighbours); "
        "a network above it predicts more than a blur of what it was shown. Modes that hide pixels only.",
    )  # fmt: skip


def api_endpoints() -> None:
    """The public HTTP API, defined first (Gradio de-duplicates endpoint names silently)."""
    gallery = next(iter(GALLERY))
    with gr.Column(visible=False):
        render_in = [gr.File(type="filepath"), gr.Textbox(gallery), gr.Number(48), gr.Number(48),
                     gr.Textbox("periphery"), gr.Number(0.8), gr.Textbox("mean"), gr.Number(0), gr.Number(-1),
                     gr.Number(-1), gr.Textbox("auto")]  # fmt: skip
        compare_in = [gr.File(type="filepath"), gr.Textbox(gallery), gr.Number(48), gr.Number(48), gr.Number(0.6),
                      gr.Textbox("mean"), gr.Number(0)]  # fmt: skip
        sweep_in = [*compare_in[:4], gr.Textbox("mean"), gr.Number(0), gr.Textbox("masked_mse")]
        outputs = [gr.Gallery(format="png"), gr.JSON()]
        sweep_out = gr.JSON()
        scan_in = [gr.File(type="filepath"), gr.Textbox(gallery), gr.Textbox("[[48, 48]]"), gr.Textbox("periphery"),
                   gr.Number(0.9), gr.Textbox("mean")]  # fmt: skip
        scan_out = [gr.Gallery(format="png"), gr.JSON()]
        buttons = [gr.Button() for _ in range(4)]
    shared = {"concurrency_id": MODEL_GROUP, "concurrency_limit": 1}
    buttons[0].click(render_api, render_in, outputs, api_name="render", **shared)
    buttons[1].click(compare_api, compare_in, outputs, api_name="compare", **shared)
    buttons[2].click(sweep_api, sweep_in, sweep_out, api_name="sweep", **shared)
    buttons[3].click(scanpath_api, scan_in, scan_out, api_name="scanpath", **shared)


def panel_gallery(label: str, columns: int) -> gr.Gallery:
    """A gallery of 96 x 96 panels, drawn large, sharp and uncropped (``CSS``'s ``pixelated`` class)."""
    return gr.Gallery(label=label, columns=columns, format="png", height="auto", elem_classes="pixelated")


def build() -> gr.Blocks:
    """The Gradio app: the public API, then the controls beside the Explore and Compare tabs."""
    with gr.Blocks(title="FocusMIM Explorer", delete_cache=(600, 3600)) as demo:  # temp files: an hour at most
        api_endpoints()
        gr.Markdown("# FocusMIM Explorer\nClick the image to move the fixation (red); cyan: covert attention.")
        with gr.Row():
            with gr.Column(scale=1):
                controls = controls_column()
            with gr.Column(scale=3), gr.Tabs():
                with gr.Tab("Explore"):
                    clickable = gr.Image(label="Click to fixate", interactive=False, format="png",
                                         height=IMAGE_SIZE * CLICK_SCALE, width=IMAGE_SIZE * CLICK_SCALE)  # fmt: skip
                    harmonic = harmonic_checkbox()
                    panels = panel_gallery("Panels", 4)
                    metrics = gr.Markdown()
                    maps = gr.Plot(label="Error maps")
                with gr.Tab("Compare modes") as compare_tab:
                    tiles = panel_gallery("Every mode: input, reconstruction, squared error", 6)
                    table = gr.Dataframe(label="Metrics per mode", interactive=False)
                    sweep_plot = gr.Plot(label="Error vs masking ratio")
                    compare_notes = gr.Markdown()
                with gr.Tab("Scanpath") as scan_tab:
                    path, suggested = gr.State([]), gr.State(None)  # fixations [[x, y], ...]; the next one
                    gr.Markdown("Each click adds a fixation (latest red, earlier yellow); green: where to look next.")
                    scan_image = gr.Image(label="Click to add a fixation", interactive=False, format="png",
                                          height=IMAGE_SIZE * CLICK_SCALE, width=IMAGE_SIZE * CLICK_SCALE)  # fmt: skip
                    with gr.Row():
                        follow, undo, clear = gr.Button("Look where suggested"), gr.Button("Undo"), gr.Button("Clear")
                    where = gr.Markdown()
                    glimpses = panel_gallery("Glimpses", 6)
                    curve = gr.Plot(label="Error after each fixation")
        # always_last: while a session's render waits, its newer changes replace the older ones, so a dragged
        # slider queues one render, not twenty, and other sessions do not wait behind them
        shared = {"concurrency_id": MODEL_GROUP, "concurrency_limit": 1, "api_visibility": "private",
                  "trigger_mode": "always_last"}  # fmt: skip
        outputs, inputs = [clickable, panels, metrics, maps], [*controls, harmonic]
        x, y = controls[FIXATION_INDEX], controls[FIXATION_INDEX + 1]
        clickable.select(explore_at, inputs, [x, y, *outputs], **shared)  # x and y listen to submit, not change
        for control in inputs:
            if control not in (x, y):
                control.change(explore, inputs, outputs, **shared)
        for control in (x, y):
            control.submit(explore, inputs, outputs, **shared)
        compare_tab.select(compare, controls, [tiles, table, sweep_plot, compare_notes], **shared)
        scan_outputs = [scan_image, glimpses, curve, where, suggested, follow]
        redraw = {"fn": scanpath, "inputs": [path, *controls], "outputs": scan_outputs, **shared}
        scan_tab.select(**redraw)
        scan_image.select(add_fixation, path, path, api_visibility="private").then(**redraw)
        follow.click(follow_suggestion, [path, suggested], path, api_visibility="private").then(**redraw)
        undo.click(lambda p: p[:-1], path, path, api_visibility="private").then(**redraw)
        clear.click(lambda: [], None, path, api_visibility="private").then(**redraw)
        demo.load(explore, inputs, outputs, **shared)
    return demo.queue(max_size=QUEUE_SIZE)


def launch(demo: gr.Blocks, **options) -> None:
    """Serve the app with its style sheet, never through a share link, uploads capped as ``load_image`` caps them,
    per-session state bounded (``forget_sessions`` in a daemon thread, at most ``MAX_SESSIONS``); blocks unless
    ``prevent_thread_lock``."""
    block = not options.pop("prevent_thread_lock", False)
    demo.launch(css=CSS, share=False, max_file_size=MAX_UPLOAD_BYTES, state_session_capacity=MAX_SESSIONS,
                prevent_thread_lock=True, **options)  # fmt: skip
    threading.Thread(target=sweep_sessions, args=(demo,), name="forget-sessions", daemon=True).start()
    if block:
        demo.block_thread()


if __name__ == "__main__":
    configure_serving()
    launch(
        build(),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
