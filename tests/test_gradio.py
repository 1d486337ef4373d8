"""The Gradio front-end and its HTTP API: handlers called directly, and the app served and called by gradio_client."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
import urllib.request

import gradio as gr
import httpx
import numpy as np
import pytest
from browser_app import free_port
from gradio_client import Client, handle_file
from PIL import Image

import gradio_app
from focusmim_core.explorer.service import compare_item, item_for, render_view, scanpath_item
from focusmim_core.explorer.viewstate import ViewState

API = ("coffee", 30, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto")  # gallery, x, y, mode, ... checkpoint


def test_a_click_on_the_upscaled_image_is_the_pixel_under_it():
    event = gr.SelectData(None, {"index": [251, 124], "value": None})
    assert gradio_app.click_to_fixation(event) == (50, 24)
    assert gradio_app.click_to_fixation(gr.SelectData(None, {"index": [9999, -3], "value": None})) == (95, 0)


def test_the_controls_describe_the_view_the_service_renders():
    view = gradio_app.view_of("synthetic", "coffee", 7, 10, 20, "random_patches", 0.6, "blur", 3, True, 70, 30, "auto")
    assert view == ViewState(source="synthetic", image="7", fixation=(10, 20), attention=(70, 30),
                             mode="random_patches", ratio=0.6, fill="blur", seed=3)  # fmt: skip
    controls = (None, "gallery", "coffee", 0, 48, 48, "periphery", 0.8, "mean", 0, False, 0, 0, "auto", False)
    clickable, panels, metrics, maps = gradio_app.explore(*controls)
    clickable = np.asarray(Image.open(clickable))
    assert clickable.shape == (96 * 5, 96 * 5, 3) and [title for _, title in panels][:3] == [
        "image + fixation", "masked input", "reconstruction"]  # fmt: skip
    assert "masked MSE" in metrics and maps.layout.coloraxis.colorbar.title.text == "error"
    with pytest.raises(gr.Error, match="No image was uploaded"):
        gradio_app.explore(None, "upload", "coffee", 0, 48, 48, "periphery", 0.8, "mean", 0, False, 0, 0, "auto", False)
    x, y, clicked, *rest = gradio_app.explore_at(gr.SelectData(None, {"index": [251, 124], "value": None}), *controls)
    direct = gradio_app.explore(*controls[:4], 50, 24, *controls[6:])  # a click: one round trip, the same outputs
    assert (x, y) == (50, 24) and rest[1] == direct[2] and clicked == direct[0]  # the same file: same pixels
    assert not np.array_equal(np.asarray(Image.open(clicked)), clickable)  # the marker moved


def test_the_harmonic_checkbox_adds_the_learning_free_reference_beside_the_reconstruction():
    controls = [None, "gallery", "coffee", 0, 40, 50, "periphery", 0.8, "mean", 0, False, 0, 0, "auto"]
    _, plain, plain_text, _ = gradio_app.explore(*controls, False)
    _, panels, text, _ = gradio_app.explore(*controls, True)
    titles = [title for _, title in panels]
    assert titles == [*[t for _, t in plain][:4], "harmonic inpainting (no learning)", *[t for _, t in plain][4:]]
    reference = Image.open(panels[4][0])
    assert reference.size == Image.open(plain[2][0]).size  # drawn like the reconstruction beside it
    assert "Harmonic inpainting" not in plain_text and "Harmonic inpainting:" in text and " dB" in text
    controls[6] = "foveate"  # the foveal filter hides nothing: no reference to show
    _, foveal, foveal_text, _ = gradio_app.explore(*controls, True)
    assert "harmonic inpainting (no learning)" not in [t for _, t in foveal] and "Harmonic" not in foveal_text


def test_images_are_files_named_by_content_and_never_rewritten(tmp_path, monkeypatch):
    monkeypatch.setattr(gradio_app, "IMAGE_DIR", tmp_path)
    picture = (np.random.default_rng(1).random((96, 96, 3)) * 255).astype(np.uint8)
    first = gradio_app.png_file(picture)
    inode = os.stat(first).st_ino
    assert gradio_app.png_file(picture.copy()) == first and os.stat(first).st_ino == inode  # not written again
    assert np.array_equal(np.asarray(Image.open(first)), picture)  # lossless
    assert gradio_app.png_file(255 - picture) != first
    monkeypatch.setattr(gradio_app, "KEEP_IMAGES", 4)
    paths = [gradio_app.png_file(np.full((8, 8, 3), v, np.uint8)) for v in range(6)]
    os.utime(paths[0])  # just used again: kept
    gradio_app.prune_images()
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
    controls = (None, "gallery", "coffee", 0, 30, 40, "periphery", 0.6, "mean", 0, False, 0, 0, "gone")
    *_, notes = gradio_app.compare(*controls)  # the Compare tab: its notes under the sweep, as block quotes
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
    controls = (None, "gallery", "coffee", 0, 48, 48, "periphery", 0.8, "mean", 0, False, 0, 0, "auto")  # no checkbox
    *_, where, suggestion, button = gradio_app.scanpath([[30, 40]], *controls)
    assert len(suggestion) == 2 and f"({suggestion[0]}, {suggestion[1]})" in where and button["interactive"]
    *_, suggestion, button = gradio_app.scanpath([], *controls)  # nothing clicked yet: nothing to follow
    assert suggestion is None and not button["interactive"]


def two_step_render(base: str, x: int) -> str:
    """The README's two-step HTTP call to ``render`` (no session hash: Gradio makes one per call); its stream."""
    body = {"data": [None, "coffee", x, 40, "periphery", 0.8, "mean", 0, -1, -1, "auto"]}
    event = httpx.post(f"{base}gradio_api/call/render", json=body, timeout=60).json()["event_id"]
    return httpx.get(f"{base}gradio_api/call/render/{event}", timeout=60).text


def test_the_state_of_api_calls_and_closed_pages_is_dropped_and_open_pages_kept(served):
    """Gradio keeps ~150 KB per session hash and only drops the oldest of 10,000: memory must not grow per call."""
    demo, client = served
    holder = demo.state_holder
    assert holder.capacity == gradio_app.MAX_SESSIONS
    page, closed = holder["an-open-page"], holder["a-closed-page"]  # as a browser's first event makes them
    closed.is_closed = True  # its heartbeat ended
    for x in (20, 40, 60):
        assert "event: complete" in two_step_render(client.src, x)
    made = set(gradio_app._api_sessions)
    assert len(made) >= 3 and made <= set(holder.session_data)
    deadline = time.monotonic() + 30  # the served app's sweeper drops them API_SESSION_IDLE_S after their call
    while made & set(holder.session_data) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not made & set(holder.session_data), "API sessions were kept"
    assert not made & (set(demo._queue.pending_messages_per_session) | set(demo._queue.pending_event_ids_session))
    assert holder.session_data["an-open-page"] is page and "a-closed-page" in holder  # recently used: kept
    later = datetime.datetime.now() + datetime.timedelta(seconds=gradio_app.CLOSED_SESSION_KEEP_S + 1)
    assert gradio_app.forget_sessions(demo, later) >= 1
    assert "a-closed-page" not in holder.session_data and holder.session_data["an-open-page"] is page
