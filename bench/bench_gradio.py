"""Gradio click latency: ``python -m bench.bench_gradio`` (part of ``make bench``).

From the press on the Explore tab's image until the new fixation's image and every panel image
have loaded in the page (median of 20 clicks in headless Chromium, timed inside the page with its own clock),
next to the same measurement on the Streamlit app in the same run (``bench_app.click_latency``).
Goal on the 2-core machine: <= 250 ms. Prints what was measured, the Streamlit figure, the ratio.
``--baseline DIR`` measures the Gradio app of another checkout too (e.g. a ``git worktree`` of an earlier
commit), in alternating rounds with this one on the same machine, and prints both and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from browser_app import free_port, launch_browser, running_app, running_gradio, stop, wait_until_up  # noqa: E402

import gradio_app  # noqa: E402
from bench.bench_app import click_latency, timed_clicks  # noqa: E402
from bench.timing import machine  # noqa: E402

GOAL_MS = 250
SIDE = 96 * gradio_app.CLICK_SCALE
FIND = f"[...document.images].findIndex(i => i.naturalWidth === {SIDE} && i.offsetParent !== null)"
WATCH = f"""
(old) => {{
    window.__clickAt = null; window.__shownAt = null;
    document.addEventListener('pointerdown', () => {{ window.__clickAt = Date.now(); }}, {{once: true, capture: true}});
    const check = () => {{
        const i = {FIND};
        const image = i >= 0 ? document.images[i] : null;
        const shown = [...document.images].filter(i => i.offsetParent !== null);  // the panels too
        if (image && image.src !== old && shown.every(i => i.complete && i.naturalWidth > 0)) {{
            window.__shownAt = Date.now();
        }}
        else {{ requestAnimationFrame(check); }}
    }};
    requestAnimationFrame(check);
}}
"""


def gradio_click_times(url: str, clicks: int, playwright: Playwright, offset: int = 0) -> list[float]:
    """Ms from the press on the Explore image until the new fixation's image and every panel have loaded, per click."""
    browser = launch_browser(playwright)
    try:
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_function(f"() => {FIND} >= 0")

        def click(x: int, y: int) -> None:
            image = page.locator("img").nth(page.evaluate(FIND))
            box = image.bounding_box()
            page.evaluate(WATCH, image.get_attribute("src"))
            page.mouse.click(box["x"] + (x + 0.5) * box["width"] / 96, box["y"] + (y + 0.5) * box["height"] / 96)

        return timed_clicks(page, clicks, click, offset)
    finally:
        browser.close()


@contextlib.contextmanager
def checkout_gradio(checkout: Path, timeout: float = 120) -> Iterator[str]:
    """``gradio_app.py`` of another ``checkout`` (its own code, this one's virtualenv and models) on a free port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(checkout), "GRADIO_SERVER_PORT": str(port),
           "U2NET_HOME": os.environ.get("U2NET_HOME", str(ROOT / ".u2net"))}  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([sys.executable, str(checkout / "gradio_app.py")], cwd=checkout, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_until_up(url, process, timeout, log)
            yield url
        finally:
            stop(process)


def against_baseline(baseline: Path, clicks: int, rounds: int, playwright: Playwright) -> None:
    """This checkout's and ``baseline``'s click latency, alternating ``rounds`` times, who goes first too (each
    server fresh); prints each round, the medians over every click and their ratio."""
    times: dict[str, list[float]] = {"this checkout": [], f"baseline {baseline}": []}
    for round_ in range(rounds):
        order = list(zip(times.items(), (ROOT, baseline), strict=True))
        for (name, found), checkout in order if round_ % 2 == 0 else order[::-1]:
            with checkout_gradio(checkout) as url:
                measured = gradio_click_times(url, clicks, playwright)
            found += measured
            print(f"round {round_ + 1}, {name}: median {statistics.median(measured):.0f} ms", flush=True)
    ours, theirs = (statistics.median(found) for found in times.values())
    print(f"Gradio click latency, median of {len(times['this checkout'])} clicks each: this checkout {ours:.0f} ms, "
          f"baseline {theirs:.0f} ms; this / baseline = {ours / theirs:.2f}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Measure Gradio and Streamlit click latency and print both with their ratio (or, with ``--baseline``, this
    checkout's Gradio app against another's)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--baseline", type=Path, help="another checkout whose Gradio app to measure alongside")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds with --baseline")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(f"machine: {machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with sync_playwright() as playwright:
        if args.baseline is not None:
            against_baseline(args.baseline.resolve(), args.clicks, args.rounds, playwright)
            return
        with running_gradio() as (url, _):
            measured = statistics.median(gradio_click_times(url, args.clicks, playwright))
        with running_app() as url:
            baseline = click_latency(url, args.clicks, playwright)
    print(f"Gradio: click -> new fixation's image and panels, median of {args.clicks}: {measured:.0f} ms "
          f"(goal <= {GOAL_MS} ms)")  # fmt: skip
    print(f"Streamlit, same run, same measurement: {baseline:.0f} ms; Gradio / Streamlit = {measured / baseline:.2f}")


if __name__ == "__main__":
    main()
