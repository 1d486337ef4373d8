"""The explorer in headless Chromium: click the image, change mode and ratio, upload, share a link, every page
offline.

Screenshots of every page go to a temporary folder; ``make screenshots`` writes them to docs/ instead (the README
shows docs/explore.png).
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_app import CLICK_FRAME, cpu_seconds, launch_browser, running_server, screenshot_folder, status_text

from focusmim_core import CheckpointMetadata, save_checkpoint
from focusmim_core.explorer.catalog import available_checkpoints, checkpoint_folders, untrained_model

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")

WAIT = 60_000  # ms; the machine is shared and slow
SCALE = 4  # the clickable image shows 96 px at 384 px
PANEL = "[data-testid='stImage'] img"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The app with the shipped checkpoints (and ``$FOCUSMIM_CHECKPOINTS``), or one demo checkpoint if none exist.

    Yields the base URL and the server process.
    """
    folders = [str(f) for f in checkpoint_folders()]
    if not available_checkpoints():
        folder = tmp_path_factory.mktemp("browser_checkpoints")
        metadata = CheckpointMetadata(mode="periphery", ratio=0.8, data="synthetic", epochs=1, demo=True)
        save_checkpoint(folder / "periphery_demo.safetensors", untrained_model(), metadata)
        folders.append(str(folder))
    with running_server({"FOCUSMIM_CHECKPOINTS": os.pathsep.join(folders[1:])}) as (url, process):
        yield url, process


@pytest.fixture(scope="module")
def server(app_server):
    """The base URL of the app."""
    return app_server[0]


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    tab = context.new_page()
    tab.set_default_timeout(WAIT)
    yield tab
    context.close()


def open_view(page, server: str, query: str, x: int = 48, y: int = 48, mode: str = "periphery"):
    page.goto(f"{server}/?{query}")
    page.get_by_text(status_text(x, y, mode)).wait_for(timeout=WAIT)


def masked_input_src(page) -> str:
    return page.locator("[data-testid='stImage'] img").first.get_attribute("src")


def expect_value(page, label: str, value: str) -> None:
    playwright_api.expect(page.get_by_label(label)).to_have_value(value, timeout=WAIT)


def foreground_src(page) -> str:
    """The foreground panel's media URL, once all five panels of the view have loaded."""
    page.wait_for_function(
        f"() => {{ const i = [...document.querySelectorAll(\"{PANEL}\")];"
        " return i.length === 5 && i.every(e => e.complete); }"
    )  # panels appear as their images load, in any order
    return page.locator("[data-testid='stImage']", has_text="Foreground confidence").locator("img").get_attribute("src")


def test_click_on_the_image_sets_the_fixation(page, server):
    open_view(page, server, "src=synthetic&img=3")
    foreground = foreground_src(page)
    before = masked_input_src(page)
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "/media/" in r.url else 0)
    image = page.frame_locator(CLICK_FRAME).locator("img")
    image.click(position={"x": 20 * SCALE + 2, "y": 70 * SCALE + 2})
    page.get_by_text(status_text(20, 70)).wait_for(timeout=WAIT)
    page.wait_for_function(
        "before => document.querySelector(\"[data-testid='stImage'] img\").src !== before", arg=before, timeout=WAIT
    )
    assert foreground_src(page) == foreground and foreground not in fetched  # the scene's map: cached, not re-sent
    expect_value(page, "Fixation x (column)", "20")
    expect_value(page, "Fixation y (row)", "70")
    query = parse_qs(urlparse(page.url).query)
    assert query["x"] == ["20"] and query["y"] == ["70"]


def test_an_open_session_leaves_the_server_idle(page, app_server):
    """A page left open costs the server (almost) no CPU: nothing polls or re-walks the project.

    With Streamlit's default file watcher, watchdog's inotify watcher overflowed on the
    project's ``.venv`` and re-walked it without end: one core busy for as long as a session
    was open, slowing every click on a two-core machine.
    """
    url, process = app_server
    open_view(page, url, "src=synthetic&img=3")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    before = cpu_seconds(process)
    page.wait_for_timeout(3000)
    used = cpu_seconds(process) - before
    assert used < 0.6, f"the server used {used:.2f} s of CPU in 3 s while the page sat idle"


def test_mode_and_ratio_change_the_view(page, server):
    open_view(page, server, "src=synthetic&img=5")
    hidden = page.get_by_text(re.compile("of the pixels are hidden")).inner_text()
    slider = page.get_by_role("slider", name="Masking ratio")
    slider.focus()
    slider.press("ArrowLeft")
    page.wait_for_function(
        "() => new URLSearchParams(location.search).get('ratio') === '0.75'", timeout=WAIT
    )
    page.wait_for_function(
        "h => !document.body.innerText.includes(h)", arg=hidden, timeout=WAIT
    )
    page.get_by_role("combobox", name="Masking mode").click()
    page.get_by_role("option", name="Random patches").click()
    page.get_by_text(status_text(48, 48, "random_patches")).wait_for(timeout=WAIT)
    assert parse_qs(urlparse(page.url).query)["mode"] == ["random_patches"]


def choose_upload(page, server):
    open_view(page, server, "src=synthetic&img=1")
    page.get_by_text("Upload", exact=True).click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").wait_for(state="attached", timeout=WAIT)


def test_upload_an_image(page, server, tmp_path):
    from PIL import Image

    path = tmp_path / "red_square.png"
    Image.new("RGB", (200, 120), (220, 30, 30)).save(path)
    choose_upload(page, server)
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(path))
    page.get_by_text("upload: red_square.png").wait_for(timeout=WAIT)
    page.get_by_text(status_text(48, 48)).wait_for(timeout=WAIT)


def test_upload_a_bad_file_shows_a_message(page, server, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    choose_upload(page, server)
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(path))
    page.get_by_text(re.compile("broken.png (is not an image|could not be decoded)")).wait_for(timeout=WAIT)
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_shared_link_shows_the_same_view(page, server):
    link = "src=synthetic&img=8&x=10&y=60&mode=periphery_square&ratio=0.7&fill=blur&ckpt=auto"
    open_view(page, server, link, 10, 60, "periphery_square")
    expect_value(page, "Fixation x (column)", "10")
    expect_value(page, "Masking mode", "Masked periphery (square)")
    slider = page.get_by_role("slider", name="Masking ratio")
    playwright_api.expect(slider).to_have_value("0.7", timeout=WAIT)
    query = parse_qs(urlparse(page.url).query)
    assert query["fill"] == ["blur"] and query["img"] == ["8"]


def test_a_nonsense_link_gives_messages_not_a_traceback(page, server):
    open_view(page, server, "src=synthetic&img=2&x=400&mode=zoom&ratio=x")
    assert page.get_by_text("Unknown masking mode zoom in the link").count() == 1
    assert page.locator("[data-testid='stAlert'] code", has_text="zoom").count() == 1  # quoted as code, not Markdown
    assert page.locator("[data-testid='stException']").count() == 0


PAGES = [
    ("Explore", "explore", "Showing periphery at fixation"),
    ("Compare modes", "compare", "Error vs masking ratio"),
    ("Scanpath", "scanpath", "Glimpses"),
    ("Checkpoints and runs", "checkpoints", "The paper's numbers"),
    ("Latent space", "latent", "Decorrelation and sparsity over a batch"),
]


ICONS = "[...document.querySelectorAll(\"link[rel~='icon']\")].map(link => link.href)"


def test_every_page_renders_offline_and_is_screenshotted(page, server, tmp_path):
    """Visit every page from the navigation: no request leaves the app's server and the favicon is the app's own
    (a ":material/..." page icon links to a Google fonts host); save <page>.png (``make screenshots``: in docs/)."""
    folder = screenshot_folder(tmp_path)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else 0)
    page.set_viewport_size({"width": 1400, "height": 1700})
    open_view(page, server, "src=gallery&img=cat+%28chelsea%29&x=44&y=40", 44, 40)
    for title, name, marker in PAGES:
        page.get_by_role("link", name=title).click()
        if name == "scanpath":
            page.get_by_text("Click on the image to place the first fixation").wait_for(timeout=WAIT)
            image = page.frame_locator(CLICK_FRAME).locator("img")
            for x, y in [(44, 40), (70, 70)]:
                image.click(position={"x": x * SCALE + 2, "y": y * SCALE + 2})
                page.get_by_text(f"({x}, {y})", exact=False).first.wait_for(timeout=WAIT)
        page.get_by_text(marker).first.wait_for(timeout=WAIT)
        page.wait_for_load_state("networkidle")
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stSpinner\"]')", timeout=WAIT
        )
        page.wait_for_timeout(1500)  # let Plotly finish drawing
        assert page.locator("[data-testid='stException']").count() == 0, name
        icons = page.evaluate(ICONS)
        assert icons and all(icon.startswith((server, "data:")) for icon in icons), (name, icons)
        assert outside == [], (name, outside)
        page.screenshot(path=str(folder / f"{name}.png"))
    assert all((folder / f"{name}.png").stat().st_size > 10_000 for _, name, _ in PAGES)

