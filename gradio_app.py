"""FocusMIM Explorer in Gradio: ``python gradio_app.py`` (``make gradio``, http://127.0.0.1:7860).

Layout only: every panel comes from ``focusmim_core.explorer.service``. The Explore tab: click
the image to fixate, choose the masking and the checkpoint, see the panels and the metrics.
The Compare tab: every mode at once and the error-vs-ratio sweep; Scanpath: clicks add fixations;
Checkpoints and runs, Latent space: the research tabs (``gradio_ui``). A link's query opens its view and tab
(``gradio_ui.link``, Streamlit's parser).
HTTP API (``gradio_client`` or two-step curl, see the README): ``render``, ``compare``, ``sweep``,
``scanpath``, ``checkpoints`` and ``latent``; every value checked first, by the rules of the view
(``viewstate``) and of the Explore controls (``controls``), with a message naming the field.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
import json
import math
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio builds anything: no version check
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(ROOT / ".gradio"))  # project-owned, git-ignored
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")  # Gradio keeps a record of the last 10,000 events
os.environ.setdefault("U2NET_HOME", str(ROOT / ".u2net"))

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402
import pydantic  # noqa: E402
from gradio.exceptions import InvalidPathError  # noqa: E402

from focusmim_core import FILLS, MODES  # noqa: E402
from focusmim_core.data import GALLERY, MAX_UPLOAD_BYTES  # noqa: E402
from focusmim_core.errors import InputError, echo  # noqa: E402
from focusmim_core.explorer.figures import (  # noqa: E402
    MARKER_COLOURS,
    METRIC_LABELS,
    SUGGESTION_COLOUR,
    colour_map,
    draw_markers,
    heatmap_row,
    marked_image,
    pixelated,
    ratio_sweep_chart,
    scanpath_chart,
)
from focusmim_core.explorer.service import (  # noqa: E402
    CONTROLS,
    MAX_FIXATIONS,
    Compared,
    Rendered,
    checkpoint_list,
    compare_item,
    item_for,
    latent_network,
    latent_summary,
    render_view,
    scanpath_item,
    score_upload,
    sweep_item,
    whole_image,
)
from focusmim_core.explorer.views import DEFAULT_VIEW, VIEWS  # noqa: E402
from focusmim_core.explorer.viewstate import (  # noqa: E402
    FOLDERLESS_SOURCES,
    IMAGE_SIZE,
    SOURCE_LABELS,
    FieldError,
    ViewState,
    pixel,
    short_text,
)
from focusmim_core.runtime import configure_serving, release_memory  # noqa: E402
from gradio_ui import checkpoints_tab, latent_tab, link, recordings  # noqa: E402
from gradio_ui.common import (  # noqa: E402
    BATCH_GROUP,
    CLICK_SCALE,
    FIELDS,
    LABELS,
    PANEL_SCALE,
    RUNNING,
    VIEW_GROUP,
    click_to_fixation,
    giving_back_memory,
    named,
    only_when,
    panel_gallery,
    png_file,
    quoted,
    run_api,
    view_of,
)

CSS = """
.pixelated img { image-rendering: pixelated; object-fit: contain !important; }  /* sharp, never cropped */
.pixelated .thumbnail-item { height: auto !important; }  /* square tiles (their aspect-ratio), not row-high */
.pixelated .grid-wrap { min-height: 0 !important; }  /* as high as its rows: no empty band under one row */
"""
QUEUE_SIZE = 32
NO_ATTENTION = -1  # the API's attention_x / attention_y for "no covert attention" (the UI's default: off)
MAX_PATH_TEXT = 1000  # characters of a scanpath's JSON: MAX_FIXATIONS pairs with room for spaces
# Gradio keeps ~150 KB of state per session hash (a copy of every component's config), and never drops a
# session but the oldest of 10,000; every call of the two-step HTTP API is a new session.
MAX_SESSIONS = 1000  # sessions kept at most (open pages first: the least recently used goes)
API_SESSION_IDLE_S = 5.0  # a session of the (stateless) API, its results fetched: dropped this long after
CLOSED_SESSION_KEEP_S = 600.0  # a closed page's state (its scanpath), or a result never fetched: kept this long
REAP_EVERY_S = 2.0
_pages: set[str] = set()  # session hashes of browser pages (every other session is an API caller's)


def page_session(request: gr.Request) -> None:
    """Mark the request's session as a browser page (its load event): ``forget_sessions`` keeps it while open."""
    if request.session_hash:
        _pages.add(request.session_hash)


def has_work(queue: object, session: str) -> bool:
    """Whether an event of ``session`` is queued or running in Gradio's ``queue``."""
    return any(event in queue.event_ids_to_events for event in queue.pending_event_ids_session.get(session, ()))


def has_results(queue: object, session: str) -> bool:
    """Whether ``session`` has results or messages its client has not fetched yet."""
    messages = queue.pending_messages_per_session.get(session)
    return bool(queue.pending_event_ids_session.get(session)) or (messages is not None and not messages.empty())


def keep_for(queue: object, session: str, closed: bool) -> float:
    """Seconds a session is kept after its last event: an open page for good, a closed one and an API result
    never fetched ``CLOSED_SESSION_KEEP_S``, any other API session ``API_SESSION_IDLE_S``."""
    if closed:
        return CLOSED_SESSION_KEEP_S
    if session in _pages:
        return math.inf
    return CLOSED_SESSION_KEEP_S if has_results(queue, session) else API_SESSION_IDLE_S


def forget_sessions(demo: gr.Blocks, now: datetime.datetime | None = None) -> int:
    """Drop the state of sessions idle longer than ``keep_for`` says, never one with an event queued or running;
    returns how many were dropped.

    Gradio has no public way to drop a session's state (it keeps the last 10,000), so this edits
    ``state_holder`` and the queue's per-session records; ``reap_sessions`` calls it on the server's
    event loop, where no event is pushed meanwhile.
    """
    holder, queue = demo.state_holder, demo._queue
    now = now or datetime.datetime.now()
    with holder.lock:
        stale = []
        for session, state in list(holder.session_data.items()):
            idle = (now - holder.time_last_used.get(session, now)).total_seconds()
            if idle > keep_for(queue, session, state.is_closed) and not has_work(queue, session):
                stale.append(session)
        for session in stale:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
            _pages.discard(session)
            queue.pending_messages_per_session.pop(session, None)
            queue.pending_event_ids_session.pop(session, None)
    _pages.intersection_update(holder.session_data)  # a session Gradio evicted itself
    return len(stale)


async def reap_sessions(demo: gr.Blocks) -> None:
    """``forget_sessions`` every ``REAP_EVERY_S`` seconds on the server's event loop, until cancelled."""
    while True:
        await asyncio.sleep(REAP_EVERY_S)
        forget_sessions(demo)


def session_reaper(demo: gr.Blocks) -> Callable[[object], contextlib.AbstractAsyncContextManager]:
    """A FastAPI lifespan (what Gradio's ``app_kwargs`` takes) running ``reap_sessions`` while the app serves."""

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        task = asyncio.create_task(reap_sessions(demo), name="forget-sessions")
        try:
            yield
        finally:
            task.cancel()

    return lifespan


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


def explore_at(evt: gr.SelectData, *inputs) -> tuple:
    """A click on the Explore image: the new fixation (x, y) and the Explore outputs for it, in one round trip."""
    x, y = click_to_fixation(evt)
    values = named(inputs) | {"x": x, "y": y}
    return (x, y, *explore(*values.values()))


def explore(*inputs) -> tuple:
    """Explore tab: (clickable image, panels, metrics, error maps) for the controls' values (in ``FIELDS`` order).

    Bad input raises ``gr.Error`` with a message, never a traceback.
    """
    values = named(inputs)
    try:
        rendered = render_view(view_of(values, LABELS), values["upload"])
    except InputError as error:
        raise gr.Error(str(error)) from None
    finally:
        if values["source"] == "upload":
            release_memory()  # an uploaded picture (of any size) was decoded; the gallery's are not
    view = rendered.panels.settings
    points = [p for p in (view.fixation, view.attention) if p is not None]
    clickable = png_file(marked_image(rendered.item.image, points, CLICK_SCALE))
    text = metrics_markdown(rendered)
    harmonic = rendered.harmonic() if values["harmonic"] and panels_are_pixels(rendered) else None
    if harmonic is not None and harmonic.caption:
        text += f"\n\n{harmonic.caption}"
    titled = rendered.images(PANEL_SCALE, harmonic.image if harmonic is not None else None)
    panels = [(png_file(array), title) for title, array in titled]
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


def upload_of(image: object) -> str | None:
    """The API's ``image``: an uploaded file's path (what ``handle_file`` sends), or None for a gallery photo."""
    return None if image is None else file_path(image, "image", " or null for a gallery photo")


def file_path(value: object, field: str, alternative: str = "") -> str:
    """The path of an uploaded file sent as API argument ``field``; ``gr.Error`` naming it (and ``alternative``,
    what else it may be) for anything else."""
    path = value.get("path") if isinstance(value, dict) else None
    if not isinstance(path, str):
        raise gr.Error(f"{field}={echo(type(value).__name__)} is not accepted: {field} must be a file (handle_file "
                       f"in gradio_client, {{\"path\": ...}} after the upload){alternative}.")  # fmt: skip
    return path


def api_view(image: str | None, fields: Mapping[str, object]) -> ViewState:
    """The view an API call asks for: the uploaded ``image`` or ``fields["gallery"]``, then the defaults of the
    Explore controls for any field the endpoint does not take (``gr.Error`` for a bad value, naming it)."""
    values = {name: control.default for name, control in CONTROLS.items()}
    return view_of(values | {"source": "upload" if image else "gallery"} | dict(fields))


@giving_back_memory
def render_api(
    image: object, gallery: str, x: float, y: float, mode: str, ratio: float, fill: str, seed: float,
    attention_x: float, attention_y: float, checkpoint: str,
) -> tuple[list, dict]:  # fmt: skip
    """API ``render``: an uploaded image (or a gallery photo by name) at a fixation -> the panels (PNG) and metrics.

    ``attention_x``/``attention_y`` both ``NO_ATTENTION`` (-1) mean no covert attention.
    """
    upload = upload_of(image)
    attention = not (attention_x == NO_ATTENTION and attention_y == NO_ATTENTION)
    fields = {"gallery": gallery, "x": x, "y": y, "mode": mode, "ratio": ratio, "fill": fill, "seed": seed,
              "attention": attention, "attention_x": attention_x, "attention_y": attention_y,
              "checkpoint": checkpoint}  # fmt: skip
    rendered = run_api(lambda: render_view(api_view(upload, fields), upload))
    panels = [(png_file(array), title) for title, array in rendered.images(PANEL_SCALE)]
    name = rendered.checkpoint.name if rendered.checkpoint else None
    return panels, {"metrics": rendered.panels.metrics, "checkpoint": name, "notes": rendered.messages()}


@giving_back_memory
def compare(*inputs) -> tuple:
    """Compare tab: every mode's input, reconstruction and error, the metrics table, the ratio sweep plot and the
    notes (Markdown)."""
    values = named(inputs)
    view = view_of(values, LABELS)
    try:
        item = item_for(view, values["upload"])
        compared, curves = compare_item(item, view), sweep_item(item, view)
    except InputError as error:
        raise gr.Error(str(error)) from None
    table = pd.DataFrame(compared.table()).style.format(precision=4, na_rep="–")
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


@giving_back_memory
def compare_api(image: object, gallery: str, x: float, y: float, ratio: float, fill: str, seed: float) -> tuple:
    """API ``compare``: every mode at one fixation -> the input/reconstruction/error tiles (PNG), the metrics (in
    full, not as displayed) and the notes for the user."""
    upload = upload_of(image)
    view = api_view(upload, {"gallery": gallery, "x": x, "y": y, "ratio": ratio, "fill": fill, "seed": seed})
    compared = run_api(lambda: compare_item(item_for(view, upload), view))
    return compare_tiles(compared), {"rows": compared.table(), "notes": compared.messages()}


@giving_back_memory
def sweep_api(image: object, gallery: str, x: float, y: float, fill: str, seed: float, metric: str) -> dict:
    """API ``sweep``: error (``metric``, a key of ``METRIC_LABELS``) against the masking ratio, per mode."""
    upload = upload_of(image)
    view = api_view(upload, {"gallery": gallery, "x": x, "y": y, "fill": fill, "seed": seed})
    curves = run_api(lambda: sweep_item(item_for(view, upload), view, metric))
    names = {spec.label: name for name, spec in MODES.items()}  # the curves come labelled for a legend
    return {names.get(label, label): {"ratios": r, "values": v} for label, (r, v) in curves.items()}


@giving_back_memory
def scanpath(path: list, *inputs) -> tuple:
    """Scanpath tab: the image with the fixations, the glimpses, the error curves, the suggestion (as text, as
    the pixel that "Look where suggested" adds, None when there is none) and that button, enabled only then."""
    values = named(inputs)
    view = view_of(values, LABELS)
    if not path:
        image = png_file(marked_image(item_for_view(view, values["upload"]), [], CLICK_SCALE))
        return image, [], None, "Click the image to fixate.", None, gr.update(interactive=False)
    result = run_api(lambda: scanpath_item(item_for(view, values["upload"]), view, [tuple(p) for p in path]))
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
    return run_api(lambda: item_for(view, upload).image)


def add_fixation(path: list, evt: gr.SelectData) -> list:
    """A click on the scanpath image appends its pixel (at most ``MAX_FIXATIONS``)."""
    return [*path, list(click_to_fixation(evt))][:MAX_FIXATIONS]


def path_points(path: object) -> list[tuple[int, int]]:
    """The API's scanpath: JSON ``[[x, y], ...]``, 1 to ``MAX_FIXATIONS`` pixel pairs; else ``gr.Error`` saying why."""
    rule = (f"path must be JSON like [[30, 40], [60, 50]]: 1 to {MAX_FIXATIONS} [x, y] pairs, x and y whole pixel "
            f"numbers 0..{IMAGE_SIZE - 1}")  # fmt: skip
    try:
        points = json.loads(short_text(path, "path", MAX_PATH_TEXT))
    except FieldError as error:
        raise gr.Error(str(error)) from None
    except (ValueError, RecursionError):
        raise gr.Error(f"path={echo(path)} is not JSON: {rule}.") from None
    if not isinstance(points, list) or not 1 <= len(points) <= MAX_FIXATIONS:
        count = f"{len(points)} items" if isinstance(points, list) else f"a {type(points).__name__}"
        raise gr.Error(f"path holds {count}: {rule}.")
    for k, point in enumerate(points):
        if not (isinstance(point, list) and len(point) == 2):
            raise gr.Error(f"path[{k}]={echo(json.dumps(point))} is not an [x, y] pair: {rule}.")
    try:
        return [(pixel(x, f"path[{k}][0]"), pixel(y, f"path[{k}][1]")) for k, (x, y) in enumerate(points)]
    except FieldError as error:
        raise gr.Error(str(error)) from None


@giving_back_memory
def scanpath_api(image: object, gallery: str, path: str, mode: str, ratio: float, fill: str) -> tuple:
    """API ``scanpath``: fixations as JSON ``[[x, y], ...]`` -> each glimpse's input (PNG), curves, suggestion."""
    upload = upload_of(image)
    points = path_points(path)
    view = api_view(upload, {"gallery": gallery, "mode": mode, "ratio": ratio, "fill": fill})
    result = run_api(lambda: scanpath_item(item_for(view, upload), view, points))
    glimpses = glimpse_files(result)
    found = {"curves": result.curves, "metric": result.metric, "suggestion": result.suggestion}
    return glimpses, {**found, "notes": result.messages()}


def checkpoints_api() -> dict:
    """API ``checkpoints``: every checkpoint's settings, held-out PSNRs and probe as stored (JSON data, never
    interpreted), and the files that could not be read, with why, apart."""
    return checkpoint_list()


@giving_back_memory
def latent_api(image: object, gallery: str, checkpoint: str) -> dict:
    """API ``latent``: the latent of the whole, unmasked image (``whole_image``) under ``checkpoint`` (a listed
    name, or ``auto``: the autoencoder's default) -> each of the 144 cells' Ward cluster at 3, 4 and 5 clusters and
    the cells' t-SNE (``latent_summary``); an unknown checkpoint or gallery name is refused, named."""
    upload = upload_of(image)
    view = whole_image(api_view(upload, {"gallery": gallery, "checkpoint": checkpoint}))
    return run_api(lambda: latent_summary(item_for(view, upload), view, latent_network(view)))


def uploaded_bytes(value: object, field: str) -> tuple[bytes, str]:
    """An uploaded file's bytes and its name as the user's machine called it; ``gr.Error`` naming ``field``."""
    path = file_path(value, field)
    name = value.get("orig_name") if isinstance(value.get("orig_name"), str) else Path(path).name
    return Path(path).read_bytes(), name


@giving_back_memory
def gaze_api(image: object, fixations: object, mode: str, ratio: float, checkpoint: str, multimatch: object) -> dict:
    """API ``gaze``: one photo and its fixation table (CSV/TSV with image, observer, x, y columns; the image column
    names the photo's file) -> that photo's scores per policy (AUC, NSS, information gain over the centre bias;
    MultiMatch unless ``multimatch`` is false), as ``train.gaze``'s summary."""
    photo, photo_name = uploaded_bytes(image, "image")
    table, _ = uploaded_bytes(fixations, "fixations")
    if not isinstance(multimatch, bool):
        raise gr.Error(f"multimatch={echo(multimatch)} is not accepted: send true or false.")
    view = api_view(None, {"mode": mode, "ratio": ratio, "checkpoint": checkpoint})
    return run_api(lambda: score_upload(table, photo, photo_name, view, multimatch))


def follow_suggestion(path: list, suggestion: list | None) -> list:
    """Append the suggested fixation ``[x, y]`` (nothing when there is none)."""
    return [*path, list(suggestion)][:MAX_FIXATIONS] if path and suggestion else path


def number(name: str) -> gr.Number:
    """A whole-number control of ``CONTROLS`` (label, default, range)."""
    control = CONTROLS[name]
    return gr.Number(control.default, label=control.label, precision=0, minimum=control.minimum,
                     maximum=control.maximum, info=control.help or None)  # fmt: skip


def controls_column() -> dict[str, gr.components.Component]:
    """The controls beside the tabs, by ``CONTROLS`` key (the harmonic checkbox: ``harmonic_checkbox``)."""
    c = CONTROLS
    return {
        "source": gr.Radio(
            [(SOURCE_LABELS[name], name) for name in FOLDERLESS_SOURCES], value=c["source"].default,
            label=c["source"].label,
        ),
        "gallery": gr.Dropdown(list(GALLERY), value=c["gallery"].default, label=c["gallery"].label),
        "scene": number("scene"),
        "upload": gr.File(label=c["upload"].label, file_types=["image"], type="filepath", height=100),
        "x": number("x"),
        "y": number("y"),
        "mode": gr.Dropdown([(spec.label, name) for name, spec in MODES.items()], value=c["mode"].default,
                            label=c["mode"].label),
        "ratio": gr.Slider(c["ratio"].minimum, c["ratio"].maximum, value=c["ratio"].default, step=c["ratio"].step,
                           label=c["ratio"].label),
        "fill": gr.Radio(list(FILLS), value=c["fill"].default, label=c["fill"].label),
        "seed": number("seed"),
        "attention": gr.Checkbox(c["attention"].default, label=c["attention"].label, info=c["attention"].help),
        "attention_x": number("attention_x"),
        "attention_y": number("attention_y"),
        "checkpoint": gr.Textbox(c["checkpoint"].default, label=c["checkpoint"].label),
    }  # fmt: skip


def harmonic_checkbox() -> gr.Checkbox:
    """Explore's switch for the learning-free reference beside the reconstruction."""
    control = CONTROLS["harmonic"]
    return gr.Checkbox(control.default, label=control.label, info=control.help)


def api_endpoints() -> None:
    """The public HTTP API, defined first (Gradio de-duplicates endpoint names silently). Each endpoint gets its
    inputs as sent (``preprocess=False``) and checks every one itself, with a message naming the field."""
    c = {name: control.default for name, control in CONTROLS.items()}
    with gr.Column(visible=False):
        render_in = [gr.File(type="filepath"), gr.Textbox(c["gallery"]), gr.Number(c["x"]), gr.Number(c["y"]),
                     gr.Textbox(c["mode"]), gr.Number(c["ratio"]), gr.Textbox(c["fill"]), gr.Number(c["seed"]),
                     gr.Number(NO_ATTENTION), gr.Number(NO_ATTENTION), gr.Textbox(c["checkpoint"])]  # fmt: skip
        compare_in = [*render_in[:4], render_in[5], render_in[6], render_in[7]]
        sweep_in = [*render_in[:4], render_in[6], render_in[7], gr.Textbox(next(iter(METRIC_LABELS)))]
        scan_in = [render_in[0], render_in[1], gr.Textbox(json.dumps([c["x"], c["y"]]).join("[]")), render_in[4],
                   render_in[5], render_in[6]]  # fmt: skip
        latent_in = [render_in[0], render_in[1], render_in[10]]
        gaze_in = [render_in[0], gr.File(type="filepath"), gr.Textbox("periphery"), render_in[5], render_in[10],
                   gr.Checkbox(True)]  # fmt: skip
        outputs, data_out = [gr.Gallery(format="png"), gr.JSON()], gr.JSON()
        buttons = [gr.Button() for _ in range(7)]
    # every call is answered (no always_last: each caller waits for its own result)
    view, batch = [queue_group(group) | {"preprocess": False} for group in (VIEW_GROUP, BATCH_GROUP)]
    buttons[0].click(render_api, render_in, outputs, api_name="render", **view)
    buttons[1].click(compare_api, compare_in, outputs, api_name="compare", **batch)
    buttons[2].click(sweep_api, sweep_in, data_out, api_name="sweep", **batch)
    buttons[3].click(scanpath_api, scan_in, outputs, api_name="scanpath", **batch)
    buttons[4].click(checkpoints_api, None, data_out, api_name="checkpoints", **view)
    buttons[5].click(latent_api, latent_in, data_out, api_name="latent", **batch)
    buttons[6].click(gaze_api, gaze_in, data_out, api_name="gaze", **batch)


def parameters(block_fn: object) -> list[str]:
    """The names of a listener's inputs: its function's parameters."""
    return [p for p in inspect.signature(block_fn.fn).parameters if p not in ("request", "evt")]


class Explorer(gr.Blocks):
    """The app's Blocks: Gradio's own checks of a call's values, before a handler runs, answer with a message a
    client shows (``gr.Error``) naming what is wrong, instead of none."""

    def validate_inputs(self, block_fn: object, inputs: list) -> None:
        """Gradio's check of the number of values, its ``ValueError`` as a ``gr.Error`` naming what it takes."""
        try:
            super().validate_inputs(block_fn, inputs)
        except ValueError:
            raise gr.Error(f"{block_fn.api_name or 'This event'} takes {len(block_fn.inputs)} values "
                           f"({', '.join(parameters(block_fn))}), not {len(inputs)}.") from None  # fmt: skip

    async def preprocess_data(self, block_fn: object, inputs: list, state: object, explicit_call: bool = False):
        """Gradio's preprocessing, a file value its model refuses as a ``gr.Error`` naming the file inputs."""
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except (pydantic.ValidationError, InvalidPathError):  # not a file's record, or a file nobody uploaded
            files = [n for n, c in zip(parameters(block_fn), block_fn.inputs, strict=False) if isinstance(c, gr.File)]
            how = 'handle_file(...) in gradio_client, {"path": ..., "meta": {"_type": "gradio.FileData"}} if uploaded'
            raise gr.Error(f"{' or '.join(files) or 'A file'} is not an uploaded file: send {how}, or null.") from None


BUTTONS = ("Look where suggested", "Undo", "Clear")  # the clicked scanpath's


def explore_tabs() -> dict[str, gr.components.Component]:
    """The Explore, Compare and Scanpath tabs' components, by name."""
    side = IMAGE_SIZE * CLICK_SCALE
    with gr.Tab(VIEWS["explore"].title, id="explore"):
        tab = {"clickable": gr.Image(label="Click to fixate", interactive=False, format="png", height=side,
                                     width=side), "harmonic": harmonic_checkbox()}  # fmt: skip
        tab |= {"panels": panel_gallery("Panels", 4), "metrics": gr.Markdown(), "maps": gr.Plot(label="Error maps")}
        tab["link"] = link.link_box()
    with gr.Tab(VIEWS["compare"].title, id="compare") as tab["compare_tab"]:
        tab["tiles"] = panel_gallery("Every mode: input, reconstruction, squared error", 6)
        tab["table"] = gr.Dataframe(label="Metrics per mode", interactive=False)
        tab["sweep_plot"] = gr.Plot(label="Error vs masking ratio")
        tab["compare_notes"] = gr.Markdown()
    with gr.Tab(VIEWS["scanpath"].title, id="scanpath") as tab["scan_tab"]:
        tab["recordings"] = recordings.layout()  # people's scanpaths, or the clicks below
        with gr.Column() as tab["clicks"]:
            tab["path"], tab["suggested"] = gr.State([]), gr.State(None)  # fixations [[x, y], ...]; the next one
            gr.Markdown("Each click adds a fixation (latest red, earlier yellow); green: where to look next.")
            tab["scan_image"] = gr.Image(label="Click to add a fixation", interactive=False, format="png",
                                         height=side, width=side)  # fmt: skip
            with gr.Row():
                tab["follow"], tab["undo"], tab["clear"] = (gr.Button(t) for t in BUTTONS)
            tab["where"] = gr.Markdown()
            tab["glimpses"] = panel_gallery("Glimpses", 6)
            tab["curve"] = gr.Plot(label="Error after each fixation")
    return tab


def listen(demo: gr.Blocks, controls: dict[str, gr.components.Component], tab: dict) -> dict[str, tuple]:
    """Wire the controls and the Explore, Compare and Scanpath tabs to the handlers: Explore in ``VIEW_GROUP``,
    Compare and Scanpath in ``BATCH_GROUP``; returns what a link opening a tab runs (tab id -> listener)."""
    view, batch = listener_settings()
    outputs = [tab[k] for k in ("clickable", "panels", "metrics", "maps")]
    inputs = [controls[k] for k in FIELDS]
    x, y = controls["x"], controls["y"]
    # the link follows each render, not with it: the click's own answer stays as small as it was
    relink = {"fn": link.link_of, "inputs": inputs, "outputs": tab["link"], "queue": False, "show_progress": "hidden",
              "api_visibility": "private"}  # fmt: skip
    tab["clickable"].select(explore_at, inputs, [x, y, *outputs], **view).then(**relink)  # x, y: submit, not change
    for name, control in controls.items():
        getattr(control, "submit" if name in ("x", "y") else "change")(explore, inputs, outputs, **view).then(**relink)
    compare_out = [tab[k] for k in ("tiles", "table", "sweep_plot", "compare_notes")]
    tab["compare_tab"].select(compare, inputs, compare_out, **batch)
    path = tab["path"]
    scan_outputs = [tab[k] for k in ("scan_image", "glimpses", "curve", "where", "suggested", "follow")]
    redraw = {"fn": scanpath, "inputs": [path, *inputs], "outputs": scan_outputs, **batch}
    tab["scan_tab"].select(**redraw)
    private = {"api_visibility": "private"}
    tab["scan_image"].select(add_fixation, path, path, **private).then(**redraw)
    tab["follow"].click(follow_suggestion, [path, tab["suggested"]], path, **private).then(**redraw)
    tab["undo"].click(lambda p: p[:-1], path, path, **private).then(**redraw)
    tab["clear"].click(lambda: [], None, path, **private).then(**redraw)
    recordings.listen(tab["recordings"], tab["clicks"], inputs, batch)
    demo.load(page_session, None, None, queue=False, **private)
    return {"explore": (explore, inputs, outputs), "compare": (compare, inputs, compare_out),
            "scanpath": (lambda *values: scanpath([], *values), inputs, scan_outputs)}  # fmt: skip


def listener_settings() -> tuple[dict, dict]:
    """The private listeners' queue settings: (a view's, in ``VIEW_GROUP``; a batch's, in ``BATCH_GROUP``)."""
    # always_last: while a session's render waits, its newer changes replace the older ones, so a dragged
    # slider queues one render, not twenty, and other sessions do not wait behind them
    view, batch = [queue_group(group) | {"api_visibility": "private", "trigger_mode": "always_last"}
                   for group in (VIEW_GROUP, BATCH_GROUP)]  # fmt: skip
    return view, batch


def queue_group(group: str) -> dict:
    """A listener's concurrency settings in ``group`` (``VIEW_GROUP`` or ``BATCH_GROUP``): its share of the CPU."""
    return {"concurrency_id": group, "concurrency_limit": RUNNING[group]}


def listen_to_links(demo: gr.Blocks, controls: dict, tabs: gr.Tabs, notes: gr.Markdown, link_box: gr.Textbox,
                    openers: dict) -> None:
    """The page's load reads its link (``link.open_link``: the controls, the tab, the link's problems in
    ``notes``), then renders the view and fills the linked tab (``openers``: tab id -> (handler, inputs,
    outputs)); the address bar follows the link (``link_box``) and the tab selected."""
    view, batch = listener_settings()
    private = {"api_visibility": "private"}
    linked_tab = gr.State(DEFAULT_VIEW)
    opened = demo.load(link.open_link, None, [*(controls[k] for k in link.LINKED), tabs, linked_tab, notes],
                       queue=False, **private)  # fmt: skip
    opened.then(None, None, None, js=link.MARK_READ_JS, queue=False, **private)  # the address may change now
    for tab_id, (handler, inputs, outputs) in openers.items():
        if tab_id == DEFAULT_VIEW:  # the Explore view renders whatever the tab, then its link
            opened.then(handler, inputs, outputs, **view).then(link.link_of, inputs, link_box, queue=False, **private)
        else:
            opened.then(only_when(tab_id, handler, len(outputs)), [linked_tab, *inputs], outputs, **batch)
    link_box.change(None, link_box, None, js=link.address_js(), **private)
    for tab_id, child in zip(VIEWS, tabs.children, strict=True):
        child.select(None, link_box, None, js=link.address_js(tab_id), **private)


def build() -> gr.Blocks:
    """The Gradio app: the public API, then the controls beside the five tabs (``views.VIEWS``)."""
    with Explorer(title="FocusMIM Explorer", delete_cache=(600, 3600)) as demo:  # temp files: an hour at most
        api_endpoints()
        gr.Markdown("# FocusMIM Explorer\nClick the image to move the fixation (red); cyan: covert attention.")
        notes = gr.Markdown()  # what was wrong with the link the page was opened with ("" for a good link)
        with gr.Row():
            with gr.Column(scale=1):
                controls = controls_column()
            with gr.Column(scale=3), gr.Tabs(selected=DEFAULT_VIEW) as tabs:
                tab = explore_tabs()
                research = {"checkpoints": checkpoints_tab.layout(), "latent": latent_tab.layout()}
        controls |= {"harmonic": tab["harmonic"]}
        openers = listen(demo, controls, tab)
        _, batch = listener_settings()
        checkpoints_tab.listen(research["checkpoints"], batch)
        latent_tab.listen(research["latent"], [controls[k] for k in FIELDS], batch)
        openers |= {"checkpoints": checkpoints_tab.opener(research["checkpoints"]),
                    "latent": latent_tab.opener(research["latent"], [controls[k] for k in FIELDS])}  # fmt: skip
        listen_to_links(demo, controls, tabs, notes, tab["link"], openers)
    return demo.queue(max_size=QUEUE_SIZE)


def launch(demo: gr.Blocks, **options) -> None:
    """Serve the app with its style sheet, never through a share link, uploads capped as ``load_image`` caps them,
    per-session state bounded (``forget_sessions`` on the server's loop, at most ``MAX_SESSIONS``); blocks unless
    ``prevent_thread_lock``."""
    demo.launch(css=CSS, share=False, max_file_size=MAX_UPLOAD_BYTES, state_session_capacity=MAX_SESSIONS,
                app_kwargs={"lifespan": session_reaper(demo)}, **options)  # fmt: skip


if __name__ == "__main__":
    configure_serving()
    launch(
        build(),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
