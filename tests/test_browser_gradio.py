"""The Gradio app in headless Chromium: a click on a known pixel fixates there, every tab loads, a link opens
its view and tab, a t-SNE point outlines its cell, and no request leaves 127.0.0.1. A screenshot of each tab goes
to a temporary folder (``make screenshots``: docs/)."""

from __future__ import annotations

import re
import time
import urllib.parse

import numpy as np
import pytest
from browser_app import free_port, launch_browser, screenshot_folder
from PIL import Image

import gradio_app
from focusmim_core.explorer.views import VIEWS
from gradio_ui import latent_tab

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
WAIT = 60_000
SOURCES = "[...document.images].map(i => i.src).filter(s => s.includes('/gradio_api/file='))"
LOADED = "() => [...document.images].every(i => i.complete)"


@pytest.fixture(scope="module")
def served():
    """The Gradio app on a free port of 127.0.0.1: its URL."""
    demo = gradio_app.build()
    port = free_port()
    gradio_app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def settled(page, fetched: list[str], timeout: float = 30) -> set[str]:
    """The page's panel files once every file fetched since the click is shown and loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = set(page.evaluate(SOURCES))
        if fetched and set(fetched) <= shown and page.evaluate(LOADED):
            return shown
        page.wait_for_timeout(100)
    raise AssertionError(f"the panels did not settle: fetched {fetched}")


def test_a_click_fixates_under_the_pointer_and_every_tab_loads_offline(served, tmp_path):
    folder = screenshot_folder(tmp_path)
    outside = []
    with playwright_api.sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        page.set_default_timeout(WAIT)
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((served, "data:", "blob:")) else 0)
        page.goto(served)
        side = 96 * gradio_app.CLICK_SCALE  # the clickable image is the one served at 480 x 480
        find = f"[...document.images].findIndex(i => i.naturalWidth === {side} && i.offsetParent !== null)"
        page.wait_for_function(f"() => {find} >= 0")
        image = page.locator("img").nth(page.evaluate(find))
        before = image.get_attribute("src")
        page.wait_for_function(LOADED)
        shown_before = set(page.evaluate(SOURCES))
        fetched = []
        page.on("request", lambda r: fetched.append(r.url) if "/gradio_api/file=" in r.url else 0)
        box = image.bounding_box()
        page.mouse.click(box["x"] + 20.5 * box["width"] / 96, box["y"] + 70.5 * box["height"] / 96)
        x_field, y_field = page.get_by_label("Fixation x (column)"), page.get_by_label("Fixation y (row)")
        page.wait_for_function(f"(old) => {find} >= 0 && document.images[{find}].src !== old", arg=before)
        assert (x_field.input_value(), y_field.input_value()) == ("20", "70")
        page.wait_for_function("() => location.search.includes('x=20&y=70')")  # the address bar follows the click
        shown_after = settled(page, fetched)
        assert gradio_app._pages  # the page's load event marked its session as a page's: kept while it is open
        unchanged = shown_before & shown_after
        assert unchanged and not unchanged & set(fetched)  # e.g. the foreground map: the same file, not fetched again
        assert set(fetched) <= shown_after - shown_before
        panels = "[...document.images].filter(i => i.offsetParent !== null && i.naturalWidth === 96)"
        drawn = page.evaluate(f"{panels}.map(i => [getComputedStyle(i).imageRendering, i.width])")
        assert len(drawn) >= 6 and all(style == "pixelated" and width >= 150 for style, width in drawn)  # sharp, large
        page.screenshot(path=str(folder / "gradio_explore.png"), full_page=True)
        page.get_by_label("Compare with harmonic inpainting (no learning)").check()
        page.get_by_text("Harmonic inpainting:", exact=False).wait_for()  # the sentence with the network's margin
        page.wait_for_function(f"() => {panels}.length === {len(drawn) + 1}")  # and its panel beside them
        page.get_by_role("tab", name="Compare modes").click()
        page.get_by_text("Metrics per mode").wait_for()
        page.get_by_text("Foveal filter: input", exact=False).first.wait_for()
        tiles = "[...document.images].filter(i => i.offsetParent !== null && i.naturalWidth === 96)"
        page.wait_for_function(f"() => {tiles}.length >= 15")  # the caption can come before the images load
        boxes = page.evaluate(f"{tiles}.map(i => [i.width, i.height])")
        assert len(boxes) == 15 and all(abs(w - h) <= 2 for w, h in boxes)  # every mode's 3 tiles, square: uncropped
        page.screenshot(path=str(folder / "gradio_compare.png"), full_page=True)
        page.get_by_role("tab", name="Scanpath").click()
        page.get_by_text("Click the image to fixate.").wait_for()
        page.wait_for_function(f"() => {find} >= 0")  # the scanpath image has loaded (not only its text)
        scan = page.locator("img").nth(page.evaluate(find))
        box = scan.bounding_box()
        page.mouse.click(box["x"] + 30.5 * box["width"] / 96, box["y"] + 40.5 * box["height"] / 96)
        page.get_by_text("Suggested next fixation", exact=False).wait_for()
        page.get_by_role("button", name="Look where suggested").click()
        page.get_by_text("after 2").first.wait_for()
        page.screenshot(path=str(folder / "gradio_scanpath.png"), full_page=True)
        page.get_by_text("people's recordings").click()  # the bundled recording's first photo and observer
        page.get_by_text("The observer's last fixation", exact=False).wait_for()
        assert not page.get_by_role("button", name="Look where suggested").is_visible()  # the clicks are hidden
        maps = "[...document.images].filter(i => i.offsetParent !== null && i.naturalWidth === 288)"
        page.wait_for_function(f"() => {maps}.length === 4 && {maps}.every(i => i.complete)")  # seen, rebuilt, 2 maps
        page.get_by_role("slider", name="After fixation").fill("1")  # the first glimpse: a ring on each map
        page.get_by_text("Green ring: where the observer looked next", exact=False).wait_for()
        page.get_by_text("the observer's, the suggested and a random path", exact=False).wait_for()
        page.screenshot(path=str(folder / "gradio_recordings.png"), full_page=True)
        assert not page.get_by_text("Error", exact=True).count()
        browser.close()
    assert outside == []  # offline: no analytics, fonts or hub requests


def file_of(source: str) -> Image.Image:
    """The picture a page shows from ``/gradio_api/file=PATH`` (this process serves it: PATH is a local file)."""
    return Image.open(urllib.parse.unquote(source.split("/gradio_api/file=", 1)[1]))


def test_a_link_opens_its_view_and_tab_the_research_tabs_render_and_a_t_sne_point_outlines_its_cell(served, tmp_path):
    folder = screenshot_folder(tmp_path)
    with playwright_api.sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1600})
        page.set_default_timeout(WAIT)
        page.goto(f"{served}?x=999&mode=nonsense&tab=bogus")  # hostile values: messages, the defaults, no traceback
        for message in ("Ignored x=999 in the link", "Unknown masking mode nonsense", "Unknown view bogus"):
            playwright_api.expect(page.locator("body")).to_contain_text(message, timeout=WAIT)  # names what shows
        assert page.get_by_role("tab", name="Explore", selected=True).count() == 1
        page.wait_for_function("() => location.search.includes('x=48')")  # the address bar: the view shown
        assert "tab=" not in page.evaluate("location.search")  # the unknown view is not kept
        shown = page.locator("label", has_text="The link to this view").locator("input").input_value()
        assert shown.startswith("?src=gallery") and "&x=48&" in shown and "mode=periphery" in shown
        page.goto(f"{served}?src=synthetic&img=7&x=20&y=30&mode=foveate&seed=4&tab=latent")
        caption = r"procedural scene 7 .*: latent of the foveate input at fixation \(20, 30\)"  # the linked view
        page.get_by_text(re.compile(caption)).wait_for()
        assert page.get_by_label("Fixation x (column)").input_value() == "20"
        assert page.get_by_role("spinbutton", name="Procedural scene").input_value() == "7"
        assert page.get_by_role("tab", name=VIEWS["latent"].title, selected=True).count() == 1
        page.wait_for_function("() => location.search.includes('tab=latent') && location.search.includes('x=20')")
        side = latent_tab.TSNE_SIDE  # the t-SNE picture is the one served at 320 x 320
        find = f"[...document.images].findIndex(i => i.naturalWidth === {side} && i.offsetParent !== null)"
        page.wait_for_function(f"() => {find} >= 0")
        box = page.locator("img").nth(page.evaluate(find)).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        picked = page.get_by_text("Cell row", exact=False)
        picked.wait_for()
        row, column = map(int, re.search(r"row (\d+), column (\d+)", picked.inner_text()).groups())
        overlays = page.evaluate(SOURCES)  # updated with the text: the same output
        step = 96 * 2 // 12  # the overlays are drawn at twice the image's size: 16 px per latent cell
        outlined = [file_of(s) for s in overlays if file_of(s).size == (192, 192)]
        assert outlined and all(np.asarray(o)[row * step, column * step + step // 2].tolist() == [255, 255, 255]
                                for o in outlined)  # fmt: skip
        page.screenshot(path=str(folder / "gradio_latent.png"), full_page=True)
        page.get_by_role("tab", name=VIEWS["checkpoints"].title).click()
        page.get_by_text("autoencoder", exact=True).first.wait_for()  # a shipped checkpoint's row
        page.get_by_text("paper: accuracy % (STL-10)").wait_for()
        page.wait_for_function("() => location.search.includes('tab=checkpoints')")
        page.screenshot(path=str(folder / "gradio_checkpoints.png"), full_page=True)
        assert not page.get_by_text("Error", exact=True).count()
        browser.close()
