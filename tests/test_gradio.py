"""The Gradio front-end and its HTTP API: handlers called directly, and the app served and called by gradio_client."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import numpy as np
import pytest
from browser_app import free_port
from gradio_client import Client, handle_file
from PIL import Image
from starlette.datastructures import QueryParams

import gradio_app
from focusmim_core import CheckpointMetadata, save_checkpoint
from focusmim_core.checkpoints import SHIPPED_DIR, load_checkpoint, sidecar_path
from focusmim_core.evaluation import stored_report
from focusmim_core.experiments import paper_conditions
from focusmim_core.explorer import service
from focusmim_core.explorer.catalog import untrained_model
from focusmim_core.explorer.controls import CONTROLS, default_attention
from focusmim_core.explorer.service import (
    MAX_FIXATIONS,
    compare_item,
    item_for,
    latent_network,
    latent_of,
    latent_segmentation,
    render_view,
    scanpath_item,
    whole_image,
)
from focusmim_core.explorer.sources import gallery_item
from focusmim_core.explorer.viewstate import MAX_SEED, ViewState, parse_query
from focusmim_core.segmentation import provision_u2netp
from gradio_ui import checkpoints_tab, common, latent_tab, link, recordings

API = ("coffee", 30, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto")  # gallery, x, y, mode, ... checkpoint


def controls(**changes: object) -> list:
    """The Gradio controls' values in their listeners' order: the declared defaults, then ``changes``."""
    values = {name: control.default for name, control in CONTROLS.items()} | changes
    return [values[name] for name in gradio_app.FIELDS]


def test_a_click_on_the_upscaled_image_is_the_pixel_under_it():
    event = gr.SelectData(None, {"index": [251, 124], "value": None})
    assert gradio_app.click_to_fixation(event) == (50, 24)
    assert gradio_app.click_to_fixation(gr.SelectData(None, {"index": [9999, -3], "value": None})) == (95, 0)


def test_the_controls_describe_the_view_the_service_renders():
    changes = {"source": "synthetic", "scene": 7, "x": 10, "y": 20, "mode": "random_patches", "ratio": 0.6,
               "fill": "blur", "seed": 3, "attention": True, "attention_x": 70, "attention_y": 30}  # fmt: skip
    values = dict(zip(gradio_app.FIELDS, controls(**changes), strict=True))
    assert gradio_app.view_of(values) == ViewState(source="synthetic", image="7", fixation=(10, 20),
                                                   attention=(70, 30), mode="random_patches", ratio=0.6, fill="blur",
                                                   seed=3)  # fmt: skip
    clickable, panels, metrics, maps = gradio_app.explore(*controls(gallery="coffee"))
    clickable = np.asarray(Image.open(clickable))
    assert clickable.shape == (96 * 5, 96 * 5, 3) and [title for _, title in panels][:3] == [
        "image + fixation", "masked input", "reconstruction"]  # fmt: skip
    assert "masked MSE" in metrics and maps.layout.coloraxis.colorbar.title.text == "error"
    with pytest.raises(gr.Error, match="No image was uploaded"):
        gradio_app.explore(*controls(source="upload"))
    with pytest.raises(gr.Error, match=r"Fixation x \(column\)=`None` is not accepted: .* 0\.\.95"):
        gradio_app.explore(*controls(x=None))  # a cleared number field
    click = gr.SelectData(None, {"index": [251, 124], "value": None})
    x, y, clicked, *rest = gradio_app.explore_at(click, *controls(gallery="coffee"))
    direct = gradio_app.explore(*controls(gallery="coffee", x=50, y=24))  # a click: one round trip, the same outputs
    assert (x, y) == (50, 24) and rest[1] == direct[2] and clicked == direct[0]  # the same file: same pixels
    assert not np.array_equal(np.asarray(Image.open(clicked)), clickable)  # the marker moved


def test_the_harmonic_checkbox_adds_the_learning_free_reference_beside_the_reconstruction():
    view = {"gallery": "coffee", "x": 40, "y": 50}
    _, plain, plain_text, _ = gradio_app.explore(*controls(**view, harmonic=False))
    _, panels, text, _ = gradio_app.explore(*controls(**view, harmonic=True))
    titles = [title for _, title in panels]
    assert titles == [*[t for _, t in plain][:4], "harmonic inpainting (no learning)", *[t for _, t in plain][4:]]
    reference = Image.open(panels[4][0])
    assert reference.size == Image.open(plain[2][0]).size  # drawn like the reconstruction beside it
    assert "Harmonic inpainting" not in plain_text and "Harmonic inpainting:" in text and " dB" in text
    _, foveal, foveal_text, _ = gradio_app.explore(*controls(**view, mode="foveate", harmonic=True))  # hides nothing
    assert "harmonic inpainting (no learning)" not in [t for _, t in foveal] and "Harmonic" not in foveal_text


def test_images_are_files_named_by_content_and_never_rewritten(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "IMAGE_DIR", tmp_path)
    picture = (np.random.default_rng(1).random((96, 96, 3)) * 255).astype(np.uint8)
    first = gradio_app.png_file(picture)
    inode = os.stat(first).st_ino
    assert gradio_app.png_file(picture.copy()) == first and os.stat(first).st_ino == inode  # not written again
    assert np.array_equal(np.asarray(Image.open(first)), picture)  # lossless
    assert gradio_app.png_file(255 - picture) != first
    monkeypatch.setattr(common, "KEEP_IMAGES", 4)
    paths = [gradio_app.png_file(np.full((8, 8, 3), v, np.uint8)) for v in range(6)]
    os.utime(paths[0])  # just used again: kept
    common.prune_images()
    assert os.path.exists(paths[0]) and len(list(tmp_path.glob("*.png"))) <= 4


@pytest.fixture(scope="module")
def served():
    """The app served on a free port of 127.0.0.1: the Blocks and a gradio_client for it."""
    demo = gradio_app.build()
    port = free_port()
    gradio_app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield demo, Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


@pytest.fixture(scope="module")
def client(served):
    """A gradio_client for the served app."""
    return served[1]


def panel(result, title: str) -> np.ndarray:
    """A panel of an API result as an array."""
    files = {item["caption"]: item["image"] for item in result[0]}
    return np.asarray(Image.open(files[title]).convert("RGB"))


def test_the_render_endpoint_gives_the_libraries_panels_and_metrics(client):
    result = client.predict(None, *API, api_name="/render")
    expected = dict(render_view(ViewState(image="coffee", fixation=(30, 40))).images(gradio_app.PANEL_SCALE))
    assert np.array_equal(panel(result, "masked input"), expected["masked input"])  # PNG: lossless
    assert result[1]["checkpoint"] == "periphery_0.8" and 0 < result[1]["metrics"]["hidden_fraction"] < 1


def test_an_uploaded_png_round_trips_and_a_bad_upload_gets_a_message(client, tmp_path):
    picture = (np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "mine.png")
    result = client.predict(handle_file(str(tmp_path / "mine.png")), *API, api_name="/render")
    shown = panel(result, "masked input")
    assert shown.shape == picture.shape  # the API's panels are the image's own pixels, not upscaled
    visible = np.zeros((96, 96), bool)
    yy, xx = np.mgrid[:96, :96]
    visible[(xx - 30) ** 2 + (yy - 40) ** 2 <= 24**2] = True
    assert np.abs(shown[visible].astype(int) - picture[visible].astype(int)).max() <= 1
    (tmp_path / "broken.png").write_bytes(b"this is not an image")
    with pytest.raises(Exception, match="not an image PIL can read: choose a PNG") as error:
        client.predict(handle_file(str(tmp_path / "broken.png")), *API, api_name="/render")
    assert "Traceback" not in str(error.value)


def test_an_upload_over_the_size_limit_is_refused_with_the_limit_named(client, tmp_path):
    from focusmim_core.data import MAX_UPLOAD_BYTES

    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + bytes(MAX_UPLOAD_BYTES))
    with pytest.raises(Exception, match=f"exceeds the maximum file size of {MAX_UPLOAD_BYTES} bytes"):
        client.predict(handle_file(str(big)), *API, api_name="/render")  # gradio_client checks before sending
    with big.open("rb") as handle:  # and the server refuses it from any other client
        answer = httpx.post(f"{client.src}gradio_api/upload", files={"files": ("huge.png", handle, "image/png")})
    assert answer.status_code == 413 and "maximum" in answer.text.lower()


def test_the_compare_and_sweep_endpoints_cover_every_mode(client):
    from focusmim_core.masking import MODES

    tiles, table = client.predict(None, "coffee", 30, 40, 0.6, "mean", 0, api_name="/compare")
    assert len(tiles) == 3 * len(MODES) and tiles[0]["caption"].endswith(": input")
    assert [row["mode"] for row in table["rows"]] == [spec.label for spec in MODES.values()]
    view = ViewState(image="coffee", fixation=(30, 40), ratio=0.6)
    assert table["notes"] == compare_item(item_for(view), view).messages()
    tab = controls(gallery="coffee", x=30, y=40, ratio=0.6, checkpoint="gone")
    *_, notes = gradio_app.compare(*tab)  # the Compare tab: its notes under the sweep, as block quotes
    assert "> Checkpoint `gone` was not found; using the default for none." in notes
    curves = client.predict(None, "coffee", 48, 48, "mean", 0, "masked_mse", api_name="/sweep")
    assert set(curves) == set(MODES)  # keyed by mode name, not by label
    ratios = next(iter(curves.values()))["ratios"]
    assert len(ratios) == 9 and all(len(c["values"]) == len(c["ratios"]) for c in curves.values())


def test_the_script_serves_the_api_that_the_readmes_curl_calls(tmp_path):
    """``python gradio_app.py`` (what ``make gradio`` runs), then the README's two-step HTTP call."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "gradio_app.py"], cwd=gradio_app.ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}/gradio_api/call/render"
    body = json.dumps({"data": [None, "cat (chelsea)", 30, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto"]})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(base, body.encode(), {"Content-Type": "application/json"})
                event = json.load(urllib.request.urlopen(request, timeout=10))["event_id"]
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()[-2000:]
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.5)
        stream = urllib.request.urlopen(f"{base}/{event}", timeout=60).read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "event: complete" in stream and '"hidden_fraction"' in stream and "masked input" in stream


def test_the_scanpath_endpoint_and_handlers(client):
    glimpses, info = client.predict(None, "coffee", "[[30, 40], [60, 50]]", "periphery", 0.9, "mean",
                                    api_name="/scanpath")  # fmt: skip
    assert [g["caption"] for g in glimpses] == ["after 1", "after 2"]
    assert set(info["curves"]) == {"your scanpath", "suggested (model's own error)", "random"}
    assert all(len(curve) == 2 for curve in info["curves"].values()) and len(info["suggestion"]) == 2
    view = ViewState(image="coffee", mode="periphery", ratio=0.9)
    assert info["notes"] == scanpath_item(item_for(view), view, [(30, 40), (60, 50)]).messages()
    with pytest.raises(Exception, match="must be JSON like"):
        client.predict(None, "coffee", "30, 40", "periphery", 0.9, "mean", api_name="/scanpath")
    path = gradio_app.add_fixation([[1, 2]], gr.SelectData(None, {"index": [52, 103], "value": None}))
    assert path == [[1, 2], [10, 20]]
    assert gradio_app.follow_suggestion(path, [70, 12]) == [*path, [70, 12]]
    assert gradio_app.follow_suggestion(path, None) == path
    tab = controls(gallery="coffee")
    *_, where, suggestion, button = gradio_app.scanpath([[30, 40]], *tab)
    assert len(suggestion) == 2 and f"({suggestion[0]}, {suggestion[1]})" in where and button["interactive"]
    *_, suggestion, button = gradio_app.scanpath([], *tab)  # nothing clicked yet: nothing to follow
    assert suggestion is None and not button["interactive"]


def test_the_checkpoints_endpoint_lists_every_checkpoint_and_the_broken_files_apart(client, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    report = {"psnr_whole": 21.0, "views": 40, "psnr_hidden": 18.5, "gain": float("nan")}  # a NaN as a file may hold
    save_checkpoint(folder / "sound.safetensors", untrained_model(seed=1), CheckpointMetadata(
        mode="periphery", ratio=0.7, epochs=1, metrics={"gallery": report}, extra={"images_seen": 640}))  # fmt: skip
    odd = save_checkpoint(folder / "*odd*.safetensors", untrained_model(seed=2), CheckpointMetadata(mode="periphery"))
    sidecar_path(odd).write_text('{"mode": "periphery", "epochs": "many"}')
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(folder))
    listing = client.predict(api_name="/checkpoints")
    entries = {entry["name"]: entry for entry in listing["checkpoints"]}
    shipped = {path.stem for path in SHIPPED_DIR.glob("*.safetensors")}
    assert shipped and set(entries) == shipped | {"mine/sound"}
    (broken,) = listing["broken"]  # the name as it is: data, never escaped or interpreted
    assert broken["name"] == "mine/*odd*" and "'epochs' must be int, not str" in broken["problem"]
    mine = entries["mine/sound"]
    assert (mine["mode"], mine["ratio"], mine["fill"], mine["images_seen"]) == ("periphery", 0.7, "mean", 640)
    assert mine["held_out"]["psnr_hidden"] == 18.5 and mine["held_out"]["gain"] is None  # strict JSON: no NaN
    meta = load_checkpoint(SHIPPED_DIR / "periphery_0.8.safetensors")[1]
    shipped_entry = entries["periphery_0.8"]
    assert shipped_entry["held_out"] == stored_report(meta.metrics).to_dict()
    assert (shipped_entry["objective"], shipped_entry["architecture"]) == (meta.objective, meta.arch)
    probe = meta.metrics["probe"]
    assert shipped_entry["probe"]["accuracy"] == pytest.approx(100 * probe["accuracy_mean"])
    assert shipped_entry["probe"]["spread"] == pytest.approx(100 * probe["accuracy_std"])
    assert json.loads(json.dumps(gradio_app.checkpoints_api(), allow_nan=False)) == listing
    with pytest.raises(gr.Error, match=r"checkpoint=`mine/\*odd\*` is not accepted: checkpoint must be one of auto"):
        gradio_app.latent_api(None, "coffee", "mine/*odd*")  # listed apart, never encoded


def test_the_latent_endpoint_gives_each_cell_s_cluster_at_every_cut_and_the_t_sne(client, tmp_path):
    result = client.predict(None, "coffee", "periphery_0.8", api_name="/latent")
    assert (result["checkpoint"], result["mode"], result["cells"]) == ("periphery_0.8", "none", [12, 12])
    assert sorted(result["labels"]) == ["3", "4", "5"]
    for k, labels in result["labels"].items():
        assert len(labels) == 144 and set(labels) == set(range(int(k)))
    view = whole_image(ViewState(image="coffee", checkpoint="periphery_0.8"))  # the whole, unmasked image
    latent = latent_of(gallery_item("coffee"), view, latent_network(view))
    assert result["labels"]["4"] == latent_segmentation(latent)[1].flatten().tolist()
    tsne = np.asarray(result["tsne"])
    assert tsne.shape == (144, 2) and np.isfinite(tsne).all()
    picture = (np.random.default_rng(2).random((96, 96, 3)) * 255).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "mine.png")
    uploaded = gradio_app.latent_api({"path": str(tmp_path / "mine.png")}, "coffee", "auto")  # as render takes it
    assert uploaded["checkpoint"] == "autoencoder" and len(uploaded["tsne"]) == 144
    with pytest.raises(gr.Error, match=r"image=`str` is not accepted: image must be a file"):
        gradio_app.latent_api("mine.png", "coffee", "auto")  # the door render has


def two_step_render(base: str, x: int) -> str:
    """The README's two-step HTTP call to ``render`` (no session hash: Gradio makes one per call); its stream."""
    body = {"data": [None, "coffee", x, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto"]}
    event = httpx.post(f"{base}gradio_api/call/render", json=body, timeout=60).json()["event_id"]
    return httpx.get(f"{base}gradio_api/call/render/{event}", timeout=60).text


def test_the_state_of_api_calls_and_closed_pages_is_dropped_and_open_pages_kept(served):
    """Gradio keeps ~150 KB per session hash and only drops the oldest of 10,000: memory must not grow per call."""
    demo, client = served
    holder, queue = demo.state_holder, demo._queue
    assert holder.capacity == gradio_app.MAX_SESSIONS
    page, closed = holder["an-open-page"], holder["a-closed-page"]  # as a browser's first event makes them
    gradio_app.page_session(SimpleNamespace(session_hash="an-open-page"))  # as its load event marks it
    gradio_app.page_session(SimpleNamespace(session_hash="a-closed-page"))
    closed.is_closed = True  # its heartbeat ended
    before = set(holder.session_data)
    for x in (20, 40, 60):
        assert "event: complete" in two_step_render(client.src, x)
    made = set(holder.session_data) - before
    assert len(made) >= 3
    later = datetime.datetime.now() + datetime.timedelta(seconds=gradio_app.API_SESSION_IDLE_S + 1)
    assert gradio_app.forget_sessions(demo, later) >= 3
    assert not made & set(holder.session_data), "API sessions were kept"
    assert not made & (set(queue.pending_messages_per_session) | set(queue.pending_event_ids_session))
    assert holder.session_data["an-open-page"] is page and "a-closed-page" in holder  # recently closed: kept
    much_later = datetime.datetime.now() + datetime.timedelta(seconds=gradio_app.CLOSED_SESSION_KEEP_S + 1)
    assert gradio_app.forget_sessions(demo, much_later) >= 1
    assert "a-closed-page" not in holder.session_data and holder.session_data["an-open-page"] is page


def test_the_served_app_forgets_sessions_on_its_own(served, monkeypatch):
    """The reaper runs on the server's event loop for as long as the app serves."""
    demo, _ = served
    called = threading.Event()
    monkeypatch.setattr(gradio_app, "forget_sessions", lambda app, now=None: called.set() if app is demo else None)
    assert called.wait(timeout=30 * gradio_app.REAP_EVERY_S)


@pytest.fixture
def held(monkeypatch):
    """``hold(name)``: the ``gradio_app`` function ``name`` waits (once entered, ``entered[name]`` is set) until the
    test's ``release`` is set; released at the end of the test whatever happens."""
    release, entered = threading.Event(), {}

    def hold(name: str) -> threading.Event:
        real, entered[name] = getattr(gradio_app, name), threading.Event()

        def waiting(*args, **kwargs):
            entered[name].set()
            assert release.wait(timeout=120), "never released"
            return real(*args, **kwargs)

        monkeypatch.setattr(gradio_app, name, waiting)
        return entered[name]

    yield SimpleNamespace(hold=hold, release=release)
    release.set()


def test_a_session_with_a_call_running_or_queued_is_never_dropped(served, held):
    """A call that runs or waits long, through gradio_client or the README's two steps, still gets its result."""
    demo, client = served
    entered = held.hold("render_view")
    running = client.submit(None, *API, api_name="/render")  # gradio_client: one session for its calls
    assert entered.wait(timeout=60)
    body = {"data": [None, "coffee", 50, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto"]}
    waiting = httpx.post(f"{client.src}gradio_api/call/render", json=body, timeout=60).json()["event_id"]
    much_later = datetime.datetime.now() + datetime.timedelta(seconds=gradio_app.CLOSED_SESSION_KEEP_S + 1)
    gradio_app.forget_sessions(demo, much_later)  # a pass of the reaper long after both calls began
    held.release.set()
    assert running.result(timeout=60)[1]["checkpoint"] == "periphery_0.8"
    stream = httpx.get(f"{client.src}gradio_api/call/render/{waiting}", timeout=60).text
    assert "event: complete" in stream and '"hidden_fraction"' in stream
    after = len(demo.state_holder.session_data)
    assert gradio_app.forget_sessions(demo, much_later) >= 1 and len(demo.state_holder.session_data) < after


def test_a_view_never_waits_behind_a_batch_of_views(served, held):
    """Another visitor's render is answered while a scanpath (many forward passes) still runs."""
    _, client = served
    entered = held.hold("scanpath_item")
    long = client.submit(None, "coffee", json.dumps([[30, 40]] * MAX_FIXATIONS), "periphery", 0.9, "mean",
                         api_name="/scanpath")  # fmt: skip
    assert entered.wait(timeout=60)
    other = Client(client.src, verbose=False)  # another visitor
    assert other.submit(None, *API, api_name="/render").result(timeout=60)[1]["checkpoint"] == "periphery_0.8"
    assert not long.done()  # the scanpath was still held: the render did not wait for it
    held.release.set()
    assert len(long.result(timeout=120)[0]) == MAX_FIXATIONS


def test_a_scanpath_holds_at_most_the_fixations_the_ui_allows():
    path = [[k, k] for k in range(MAX_FIXATIONS)]
    assert gradio_app.add_fixation(path, gr.SelectData(None, {"index": [5, 5], "value": None})) == path
    assert gradio_app.follow_suggestion(path, [1, 1]) == path
    with pytest.raises(gr.Error, match=f"path holds {MAX_FIXATIONS + 1} items: .*1 to {MAX_FIXATIONS}"):
        gradio_app.scanpath_api(None, "coffee", json.dumps([*path, [1, 1]]), "periphery", 0.9, "mean")


BAD_CALLS = [  # (endpoint, its values, what the message must say)
    ("/render", (None, "unicorn", *API[1:]), r"gallery=`unicorn` is not accepted: gallery must be one of cat"),
    ("/render", (None, "coffee", "abc", *API[2:]), r"x=`abc` is not accepted: x must be a whole pixel number 0\.\.95"),
    ("/render", (None, "coffee", 30, 40.5, *API[3:]), r"y=`40.5` .* whole pixel number 0\.\.95"),
    ("/render", (None, *API[:6], 10**30, *API[7:]), rf"seed=.* seed must be a whole number from 0 to {MAX_SEED}"),
    ("/render", (None, *API[:3], "zoom", *API[4:]), r"mode=`zoom` .* one of none, random_patches, periphery"),
    ("/render", (None, *API[:4], 1.5, *API[5:]), r"ratio=`1.5` .* a number from 0 to 1"),
    ("/render", (None, *API[:7], 30, -1, "auto"), r"attention_y=`-1` .* whole pixel number"),
    ("/render", (None, *API[:9], "c" * 1000), r"checkpoint=.* a string of at most 200 characters"),
    ("/render", (None, [[[["coffee"]]]], *API[1:]), r"gallery=`\[\[\[\['coffee'\]\]\]\]` .* a string"),
    ("/sweep", (None, "coffee", 48, 48, "mean", 0, "psnr"), r"metric=`psnr` .* one of masked_mse, foreground_mse"),
    ("/compare", (None, "coffee", 48, 48, 0.6, "noise", 0), r"fill=`noise` .* one of"),
    ("/latent", (None, "unicorn", "auto"), r"gallery=`unicorn` is not accepted: gallery must be one of cat"),
    ("/latent", (None, "coffee", "gone"), r"checkpoint=`gone` is not accepted: checkpoint must be one of auto, "),
    ("/scanpath", (None, "coffee", "[[30, 40, 50]]", "periphery", 0.9, "mean"), r"path\[0\]=.* not an \[x, y\] pair"),
    ("/scanpath", (None, "coffee", '[["a", 40]]', "periphery", 0.9, "mean"), r"path\[0\]\[0\]=`a` .* 0\.\.95"),
    ("/scanpath", (None, "coffee", "[" * 900, "periphery", 0.9, "mean"), r"is not JSON: path must be JSON like"),
    ("/scanpath", (None, "coffee", "[[1, 2]]" * 200, "periphery", 0.9, "mean"), r"at most 1000 characters"),
    ("/scanpath", (None, "coffee", "[[30, 40]]", "none", 0.9, "mean"), r"A scanpath reveals regions: use one of"),
]


@pytest.mark.parametrize(("endpoint", "values", "message"), BAD_CALLS, ids=[f"{e}-{m[:24]}" for e, _, m in BAD_CALLS])
def test_every_api_input_is_checked_with_a_message_naming_the_field(client, endpoint, values, message):
    with pytest.raises(Exception, match=message) as error:
        client.predict(*values, api_name=endpoint)
    assert "verbose error reporting" not in str(error.value) and "Traceback" not in str(error.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('[null, "coffee", NaN, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto"]', "x=`nan` is not accepted"),
        ('[null, "coffee", 30, -Infinity, "periphery", 0.8, "mean", 0, -1, -1, "auto"]', "y=`-inf` is not accepted"),
        ('[null, "coffee", 30]', "render takes 11 values (image, gallery, x, y, mode, ratio, fill, seed, attention_x"),
        ('[5, "coffee", 30, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto"]', "image is not an uploaded file"),
        ('[{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "coffee", 30, 40, "periphery", 0.8, '
         '"mean", 0, -1, -1, "auto"]', "image is not an uploaded file"),
    ],
)  # fmt: skip
def test_the_two_step_http_api_names_the_problem_too(client, data, message):
    answer = httpx.post(f"{client.src}gradio_api/call/render", content=f'{{"data": {data}}}',
                        headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
    stream = httpx.get(f"{client.src}gradio_api/call/render/{answer.json()['event_id']}", timeout=60).text
    assert "event: error" in stream and message in json.loads(stream.split("data: ")[-1])["error"]


def test_the_controls_are_declared_once_and_the_api_takes_the_ui_s_defaults(client):
    with gr.Blocks():
        ui = gradio_app.controls_column()
    assert set(ui) | {"harmonic"} == set(CONTROLS) == set(gradio_app.FIELDS)
    assert all(ui[name].label == control.label for name, control in CONTROLS.items() if name in ui)
    attention = default_attention(ViewState().fixation)
    assert (ui["attention_x"].value, ui["attention_y"].value) == attention  # as the Streamlit page starts it
    assert (ui["ratio"].minimum, ui["ratio"].maximum) == (CONTROLS["ratio"].minimum, CONTROLS["ratio"].maximum)
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/render"]["parameters"]
    defaults = {p["parameter_name"]: p["parameter_default"] for p in info}
    assert (defaults["x"], defaults["y"], defaults["seed"]) == (*ViewState().fixation, ViewState().seed)
    assert (defaults["mode"], defaults["ratio"], defaults["attention_x"]) == ("periphery", ViewState().ratio, -1)


def test_a_link_sets_the_controls_and_the_tab_by_streamlit_s_parser_with_its_messages():
    query = "src=synthetic&img=7&x=20&y=30&ax=50&ay=60&mode=foveate&ratio=0.5&fill=blur&seed=4&ckpt=foveate&tab=latent"
    *values, tabs, tab, notes = link.open_link(SimpleNamespace(query_params=QueryParams(query)))
    shown = dict(zip(link.LINKED, values, strict=True))
    assert (shown["source"], shown["scene"], shown["x"], shown["y"]) == ("synthetic", 7, 20, 30)
    assert (shown["attention"], shown["attention_x"], shown["attention_y"]) == (True, 50, 60)
    assert (shown["mode"], shown["ratio"], shown["fill"], shown["seed"], shown["checkpoint"]) == (
        "foveate", 0.5, "blur", 4, "foveate")  # fmt: skip
    assert isinstance(shown["gallery"], type(gr.skip()))  # a value the link keeps at its default is left alone
    assert (tabs.selected, tab, notes) == ("latent", "latent", "")
    view = gradio_app.view_of({name: control.default for name, control in CONTROLS.items()} | shown)
    assert view == parse_query(QueryParams(query))[0]  # the view Streamlit opens from the same link
    shared = link.link_value(dict(zip(gradio_app.FIELDS, controls(**shown), strict=True)))
    assert parse_query(QueryParams(shared.removeprefix("?")))[0] == view  # the link shown reopens it
    assert link.link_value(dict(zip(gradio_app.FIELDS, controls(source="upload"), strict=True))) == ""  # no link


def test_a_hostile_link_gets_streamlit_s_messages_and_the_defaults():
    query = QueryParams([("x", "999"), ("mode", "<img src=x onerror=alert(1)>"), ("seed", "-1"), ("tab", "../../etc"),
                         ("src", "stl10"), ("img", "3"), ("x", "5")])  # fmt: skip
    *values, tabs, tab, notes = link.open_link(SimpleNamespace(query_params=query))
    assert all(isinstance(value, type(gr.skip())) for value in values)  # every control keeps its default
    assert (tabs.selected, tab) == ("explore", "explore")
    for message in parse_query({key: query.getlist(key) for key in query})[1]:  # Streamlit's, word for word
        assert message in notes
    assert "Unknown view `../../etc` in the link: use one of explore, compare, scanpath, checkpoints, latent" in notes
    assert "This app shows no STL-10 (data folder) images" in notes


def test_the_checkpoints_tab_shows_the_catalog_the_runs_the_grids_and_the_probes(tmp_path, monkeypatch):
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    lines = [{"epoch": k, "loss": 1.0 / (k + 1), "masked_mse": None} for k in range(3)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + "{broken\n")
    grid = tmp_path / "runs" / "fig4"
    grid.mkdir()
    (grid / "sweep.json").write_text(json.dumps({"grid": "fig4", "conditions": ["periphery_0.8"], "seeds": [0, 1]}))
    result = {"cell": "periphery_0.8-s0", "condition": "periphery_0.8", "label": "masked periphery 0.8",
              "paper_entry": "masked periphery", "accuracy_mean": 0.6}  # fmt: skip
    (grid / "results.jsonl").write_text(json.dumps(result) + "\n")
    monkeypatch.setenv("FOCUSMIM_RUNS", str(tmp_path / "runs"))
    out = dict(zip([*checkpoints_tab.CATALOG, *checkpoints_tab.RUNS, "heading", "folder", *checkpoints_tab.GRID,
                    *checkpoints_tab.PROBE], checkpoints_tab.page(None, "loss", None), strict=True))  # fmt: skip
    shipped = {path.stem for path in SHIPPED_DIR.glob("*.safetensors")}
    assert set(out["catalog"]["value"]["checkpoint"]) == shipped and "**demo**" in out["catalog_notes"]
    assert out["runs"]["value"] == ["mine"] and out["run_plot"]["visible"]
    assert "Unreadable log lines were skipped: mine: 1, the first at line 4" in out["run_notes"]
    assert out["folder"]["value"] == str(grid) and "1 of 2 cells finished" in out["grid_notes"]
    row = out["grid_table"]["value"].set_index("condition").loc["masked periphery 0.8"]
    assert (row["probe % (mean)"], row["paper %"]) == (60.0, 68.0)
    probes = out["probe_table"]["value"].set_index("checkpoint")
    assert set(probes.index) == shipped and probes["paper: accuracy % (STL-10)"].notna().any()
    assert len(out["paper"]) == len(paper_conditions())
    _, notes = checkpoints_tab.run_curves(["mine"], "masked_mse")  # logged as null only
    assert "No masked_mse logged in: mine." in notes
    with pytest.raises(gr.Error, match="metric=`nope` is not accepted"):
        checkpoints_tab.run_curves(["mine"], "nope")
    assert "grid folder=`/etc` is not accepted" in checkpoints_tab.grid("/etc")[0]  # only the listed folders


def test_the_latent_tab_cuts_the_cells_shows_two_checkpoints_and_a_picked_point_outlines_its_cell():
    view = controls(gallery="coffee", x=30, y=40)
    out = latent_tab.page(latent_tab.NONE, 4, "gallery", False, *view)
    cells, caption, _, heading, choices = out[:5]
    sides = dict(zip([f"{name}{k}" for name in latent_tab.SIDE_OUTPUTS for k in range(2)], out[5:15], strict=True))
    table, notes, correlations = out[15:]
    assert cells == [None, None] and "fixation (30, 40)" in caption and "144 latent cells" in heading
    assert [caption for _, caption in sides["overlays0"]] == ["3 clusters", "4 clusters", "5 clusters"]
    others = [value for _, value in choices["choices"]]
    assert not sides["column1"]["visible"] and "autoencoder" in others and "periphery_0.8" not in others  # the view's
    assert list(table["checkpoint"]) == ["periphery_0.8"] and "whole images" in notes and correlations["visible"]
    two = latent_tab.sides("autoencoder", 3, [None, None], *view)
    assert two[1]["visible"] and "autoencoder" in two[3]  # the second column, named
    rendered = ViewState(image="coffee", fixation=(30, 40))
    latent = latent_of(gallery_item("coffee"), rendered, latent_network(rendered))
    embedding = latent_tab.tsne(latent)
    x, y = latent_tab.tsne_positions(embedding)[17]
    picked = latent_tab.pick(0)([None, None], latent_tab.NONE, 4, gr.SelectData(None, {"index": [x, y], "value": None}),
                                *view)  # fmt: skip
    assert picked[0] == [17, None] and "Cell row 1, column 5" in picked[9]
    overlay = np.asarray(Image.open(picked[5][0][0]))  # 16 px per cell: cell 17's frame is white
    assert overlay[16, 80:96].tolist() == [[255, 255, 255]] * 16 and overlay[40, 40].tolist() != [255, 255, 255]
    with pytest.raises(gr.Error, match=r"Side by side with=`nope` is not accepted"):
        latent_tab.sides("nope", 4, [None, None], *view)


def test_the_space_s_front_matter_names_what_is_installed():
    front = (Path(gradio_app.ROOT) / "README.md").read_text().split("---")[1]
    fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
    assert (fields["sdk"], fields["sdk_version"]) == ("gradio", gr.__version__)
    assert fields["python_version"].strip('"') == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (Path(gradio_app.ROOT) / fields["app_file"]).resolve() == Path(gradio_app.__file__).resolve()


def test_without_the_foreground_model_a_bare_space_still_renders_every_view_with_a_note(tmp_path, monkeypatch):
    def not_provisioned() -> object:  # a Space pushed without .u2net/u2netp.onnx: the model's own refusal
        return provision_u2netp(tmp_path, download=False)

    monkeypatch.setattr(service, "_segmenter", not_provisioned)
    monkeypatch.setattr(service, "_rendered", OrderedDict())  # no view drawn before with the model
    service._cached_foreground.cache_clear()
    try:
        _, panels, metrics, _ = gradio_app.explore(*controls(gallery="coffee", x=33, y=44))
        assert "No foreground map: The foreground model u2netp.onnx is missing" in metrics and len(panels) >= 4
    finally:
        service._cached_foreground.cache_clear()  # the next view finds the provisioned model again


def test_the_gaze_endpoint_scores_one_photo_s_fixation_table(client, tmp_path):
    fixtures = Path(__file__).parent / "fixtures" / "scene_fixations"
    rows = (fixtures / "fixations.csv").read_text().splitlines()
    table = tmp_path / "table.csv"
    table.write_text("\n".join([rows[0], *(r for r in rows[1:] if r.startswith("001.jpg")), "001.jpg,1,99,x,3,0,0"]))
    photo = fixtures / "stimuli" / "001.jpg"
    result = client.predict(handle_file(str(photo)), handle_file(str(table)), "periphery", 0.8, "auto", False,
                            api_name="/gaze")  # fmt: skip
    assert result["images"] == 1 and result["observers"] > 1 and result["fixations_kept"] > 10
    assert result["rows_skipped"] == 1 and "line" in result["problems"][0]  # the bad row, named and counted
    assert {"uniform", "centre_bias", "human", "oracle_error", "disagreement"} <= set(result["policies"])
    assert abs(result["policies"]["uniform"]["auc"] - 0.5) < 0.01
    assert result["policies"]["human"]["auc"] > result["policies"]["centre_bias"]["auc"] > 0.6  # fitted elsewhere
    other = tmp_path / "other.csv"
    other.write_text("\n".join([rows[0], *(r for r in rows[1:] if r.startswith("205.jpg"))]))
    with pytest.raises(gr.Error, match=r"line 2, column `image`: no image `205.jpg`"):  # the table names another photo
        gradio_app.gaze_api({"path": str(photo)}, {"path": str(other)}, "periphery", 0.8, "auto", False)
    with pytest.raises(gr.Error, match=r"fixations=`str` is not accepted: fixations must be a file"):
        gradio_app.gaze_api({"path": str(photo)}, "table.csv", "periphery", 0.8, "auto", False)
    with pytest.raises(gr.Error, match=r"Fixations reveal regions in"):
        gradio_app.gaze_api({"path": str(photo)}, {"path": str(table)}, "foveate", 0.8, "auto", False)


def test_the_scanpath_tab_replays_a_recorded_observer_glimpse_by_glimpse(tmp_path, monkeypatch):
    """An operator's recording in the Scanpath tab: listed, opened, replayed; each glimpse's maps ring the next
    human fixation; an incomplete or broken upload and a mode without fixations get their messages."""
    stimuli = Path(__file__).parent / "fixtures" / "scene_fixations" / "stimuli"
    (tmp_path / "lab" / "stimuli").mkdir(parents=True)
    (tmp_path / "lab" / "stimuli" / "205.jpg").write_bytes((stimuli / "205.jpg").read_bytes())
    table = "image,observer,index,x,y\n205.jpg,a,1,200,130\n205.jpg,a,2,150,60\n205.jpg,a,3,300,200\n"
    (tmp_path / "lab" / "fixations.csv").write_text(table)
    monkeypatch.setenv(service.RECORDINGS_ENV, str(tmp_path))
    clicks, column, listed = recordings.show_source(recordings.RECORDINGS, None)
    assert clicks["visible"] is False and column["visible"] is True and listed["value"] == "scene_fixations"
    assert ("lab", "lab") in listed["choices"] and (service.UPLOAD_LABEL, service.UPLOAD_CHOICE) in listed["choices"]
    recording, upload_row, photo, observer, about = recordings.open_chosen("lab", None, None)
    assert upload_row["visible"] is False and (photo["value"], observer["value"]) == ("205.jpg", "a")
    assert about.startswith("3 fixations kept on 1 photos")
    frames, slider, pictures, note, chart, _ = recordings.replay_observer(recording, "205.jpg", "a", *controls())
    assert len(frames) == 3 and (slider["maximum"], slider["value"], slider["visible"]) == (3, 3, True)
    assert [caption for _, caption in pictures] == ["seen after 3", "reconstruction", *service.MAP_CAPTIONS.values()]
    assert "last fixation" in note and [trace.name for trace in chart.data] == ["observer", "suggested", "random"]
    first, note = recordings.show_glimpse(frames, 1)
    x, y = (int(v) for v in note.split("next, (")[1].rstrip(").").split(", "))  # the observer's second fixation
    for path, _ in first[2:]:  # each map: the ring is drawn around that pixel
        ring = np.argwhere(np.all(np.asarray(Image.open(path)) == service.NEXT_COLOUR, axis=-1))
        assert len(ring) and np.abs(ring.mean(axis=0) - [(y + 0.5) * 3, (x + 0.5) * 3]).max() < 2
    assert recordings.open_chosen(service.UPLOAD_CHOICE, str(stimuli / "205.jpg"), None)[-1].startswith("Upload")
    broken = tmp_path / "broken.csv"
    broken.write_text("image,observer,x,y\n205.jpg,a,nan,3\n")
    with pytest.raises(gr.Error, match=r"line 2, column `x`"):
        recordings.open_chosen(service.UPLOAD_CHOICE, str(stimuli / "205.jpg"), str(broken))
    with pytest.raises(gr.Error, match=r"Fixations reveal regions in"):
        recordings.replay_observer(recording, "205.jpg", "a", *controls(mode="foveate"))
    outside = tmp_path / "outside.csv"
    outside.write_text("image,observer,x,y\n205.jpg,a,5,10\n")  # left of the kept square
    _, _, photo, observer, about = recordings.open_chosen(service.UPLOAD_CHOICE, str(stimuli / "205.jpg"), str(outside))
    assert photo["choices"] == [] and observer["value"] is None and "nothing to replay" in about
