"""Explorer latency: ``python -m bench.bench_app`` (part of ``make bench``).

1. Server side: every masking mode of one image rendered at once (``render_modes``: one
   batched forward pass) against the baseline of one ``render`` call per mode. Goal <= 100 ms.
2. In the browser: from the press on the image until the Explore page holds the updated
   panels (images loaded) and status line (median of 20 clicks in headless Chromium, timed
   inside the page),
   against the baseline of the same click on a page that only echoes the click
   (Streamlit's own round trip). Goal <= 500 ms.

Prints what was measured, the baseline measured in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from playwright.sync_api import Page, Playwright

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from browser_app import CLICK_FRAME, launch_browser, running_app, status_text  # noqa: E402

from bench.timing import machine, median_seconds  # noqa: E402
from focusmim_core import MODES, inference_model  # noqa: E402
from focusmim_core.explorer.catalog import untrained_model  # noqa: E402
from focusmim_core.explorer.render import render, render_modes  # noqa: E402
from focusmim_core.explorer.sources import synthetic_item  # noqa: E402
from focusmim_core.explorer.viewstate import ViewState  # noqa: E402
from focusmim_core.runtime import configure_cpu_allocator  # noqa: E402

SERVER_GOAL_MS = 100
CLICK_GOAL_MS = 500
SCALE = 4
SETTLE_S = 0.3  # pause between clicks

ECHO_PAGE = textwrap.dedent(
    """
    import streamlit as st
    from streamlit_image_coordinates import streamlit_image_coordinates
    import numpy as np

    def clicked():
        value = st.session_state["echo"]
        st.session_state["point"] = (int(value["x"] * 96 / value["width"]), int(value["y"] * 96 / value["height"]))

    streamlit_image_coordinates(np.full((384, 384, 3), 128, np.uint8), width=384, key="echo", on_click=clicked)
    x, y = st.session_state.get("point", (48, 48))
    st.caption(f"Showing periphery at fixation ({x}, {y}).")
    """
)


def report(what: str, measured: float, baseline_name: str, baseline: float, goal: float) -> None:
    """Print one result line: measured, baseline, ratio and the goal."""
    verdict = "meets" if measured <= goal else "MISSES"
    print(f"{what}: {measured:.1f} ms (median) | baseline, {baseline_name}: {baseline:.1f} ms | "
          f"baseline / measured = {baseline / measured:.2f}x | goal <= {goal} ms: {verdict}")


def server_side(repeats: int) -> None:
    """All modes of one image in one batched pass vs one render call per mode."""
    item = synthetic_item(3)
    model = inference_model(untrained_model())
    base = ViewState(fixation=(40, 50))
    modes = list(MODES)

    def batched():
        return render_modes(item.image, base, model, modes, item.foreground)

    def per_mode():
        return [
            render(item.image, replace(base, mode=m, ratio=MODES[m].default_ratio), model, item.foreground)
            for m in modes
        ]

    measured = 1000 * median_seconds(batched, repeats)
    baseline = 1000 * median_seconds(per_mode, repeats)
    report(f"render all {len(modes)} modes of one image (render_modes, one batch)", measured,
           "one render() per mode", baseline, SERVER_GOAL_MS)


WATCH_CLICK = """
(selector) => {
    window.__clickAt = null;
    const frame = document.querySelector(selector);
    frame.contentDocument.addEventListener("pointerdown", () => { window.__clickAt = Date.now(); }, {once: true});
}
"""

WATCH_TEXT = """
(text) => {
    window.__shownAt = null;
    const shown = () => { window.__shownAt = Date.now(); };
    const observer = new MutationObserver(() => {
        if (!document.body.textContent.includes(text)) return;
        observer.disconnect();
        const pending = [...document.querySelectorAll('[data-testid="stImage"] img')].filter(i => !i.complete);
        let left = pending.length;
        if (left === 0) return shown();
        pending.forEach(i => i.addEventListener("load", () => { if (--left === 0) shown(); }, {once: true}));
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def click_latency(url: str, clicks: int, playwright: Playwright) -> float:
    """Median ms from the press on the image until the page shows the new fixation's panels (``click_times``)."""
    return statistics.median(click_times(url, clicks, playwright))


def click_times(url: str, clicks: int, playwright: Playwright, offset: int = 0) -> list[float]:
    """Ms from the press on the image until the page shows the new fixation's panels, per click.

    Both moments are taken inside the page with the page's clock: the ``pointerdown`` event in
    the image's frame, and the moment the status line of the new fixation (written after every
    panel) is in the page and every panel image has loaded. Neither Playwright's work before
    the click (actionability checks) nor its polling for the result (which backs off to 500 ms
    steps) is counted; it polls gently (every 100 ms) so as not to load the page it measures.
    The page settles for a moment between clicks, as between a person's clicks. ``offset`` shifts
    the clicked pixels (concurrent sessions then ask for different views).
    """
    browser = launch_browser(playwright)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/?src=synthetic&img=3&x=48&y=48")
        page.get_by_text(status_text(48, 48)).wait_for()
        image = page.frame_locator(CLICK_FRAME).locator("img")
        image.wait_for()

        def click(x: int, y: int) -> None:
            page.evaluate(WATCH_TEXT, status_text(x, y))
            page.evaluate(WATCH_CLICK, CLICK_FRAME)
            image.click(position={"x": x * SCALE + 2, "y": y * SCALE + 2})

        return timed_clicks(page, clicks, click, offset)
    finally:
        browser.close()


def timed_clicks(page: Page, clicks: int, click: Callable[[int, int], None], offset: int = 0) -> list[float]:
    """Ms of each of ``clicks`` clicks (after two warm-ups) at varying pixels; ``click(x, y)`` arms the page's
    ``__clickAt``/``__shownAt`` timers and clicks. The page settles between clicks, as between a person's."""
    times = []
    for i in range(clicks + 2):
        x, y = 10 + (i * 7 + offset * 5) % 76, 15 + (i * 11 + offset * 3) % 70
        click(x, y)
        page.wait_for_function("window.__shownAt !== null", polling=100)
        clicked, shown = page.evaluate("[window.__clickAt, window.__shownAt]")
        if i >= 2 and clicked is not None:
            times.append(shown - clicked)
        time.sleep(SETTLE_S)
    return times


def browser_side(clicks: int) -> None:
    """Click -> updated panels in Chromium, against the same click on an echo page."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser benchmark skipped: playwright is not installed")
        return
    if not Path(os.environ.get("FOCUSMIM_CHROMIUM", "/usr/bin/chromium")).exists():
        print("browser benchmark skipped: no Chromium (run scripts/ensure_chromium.sh)")
        return
    with sync_playwright() as playwright:
        with running_app() as url:
            measured = click_latency(url, clicks, playwright)
        with tempfile.TemporaryDirectory() as folder:
            echo = Path(folder) / "echo.py"
            echo.write_text(ECHO_PAGE)
            with running_app(script=echo) as url:
                baseline = click_latency(url, clicks, playwright)
    report(f"click -> updated Explore panels in Chromium ({clicks} clicks)", measured,
           "the same click on a page that only echoes it", baseline, CLICK_GOAL_MS)


def main(argv: list[str] | None = None) -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="server-side repetitions")
    parser.add_argument("--clicks", type=int, default=20, help="browser clicks")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    server_side(args.repeats)
    if not args.skip_browser:
        browser_side(args.clicks)


if __name__ == "__main__":
    main()
