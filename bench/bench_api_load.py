"""Large API requests beside ordinary ones: ``python -m bench.bench_api_load`` (part of ``make bench``).

The Gradio app runs as its own server process (``python gradio_app.py``). (a) An ordinary
``render`` through the README's two-step HTTP call, timed alone (the baseline), then again while
other callers keep the largest legal requests running: a scanpath of ``MAX_FIXATIONS``
fixations and a render of an uploaded ``--side`` x ``--side`` PNG; printed with the ratio, and
the large requests' own time alone. (b), measured first: the server's resident memory after
ordinary requests only (every network loaded), after rounds of large requests (scanpaths,
compare, sweep, large uploads), and their difference.
Goals: an ordinary render while large ones run takes at most the time of one large request more
than alone; the memory after the round is within 100 MB of before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from browser_app import running_gradio  # noqa: E402

from bench.bench_load import fixation, rss_mb  # noqa: E402
from bench.timing import machine  # noqa: E402
from focusmim_core.explorer.service import MAX_FIXATIONS  # noqa: E402

GOAL_MEMORY_MB = 100
GALLERY = "cat (chelsea)"


def call(http: httpx.Client, endpoint: str, data: list) -> float:
    """One two-step call (the README's curl: post, then read the event stream); its seconds. Fails on an error."""
    start = time.perf_counter()
    event = http.post(f"/gradio_api/call/{endpoint}", json={"data": data}).raise_for_status().json()["event_id"]
    stream = http.get(f"/gradio_api/call/{endpoint}/{event}").text
    if "event: complete" not in stream:
        raise RuntimeError(f"{endpoint} failed: {stream[-300:]}")
    return time.perf_counter() - start


def render(http: httpx.Client, k: int, image: dict | None = None) -> float:
    """The k-th ordinary render (a new fixation each time: no cache hit); its seconds."""
    x, y = fixation(0, k)
    return call(http, "render", [image, GALLERY, x, y, "periphery", 0.8, "mean", 0, -1, -1, "auto"])


def scanpath(http: httpx.Client, k: int) -> float:
    """The k-th longest legal scanpath (``MAX_FIXATIONS`` fixations, a new path each time); its seconds."""
    path = [list(fixation(k + 1, j)) for j in range(MAX_FIXATIONS)]
    return call(http, "scanpath", [None, GALLERY, json.dumps(path), "periphery", 0.9, "mean"])


def large_png(side: int, folder: Path) -> Path:
    """A legal ``side`` x ``side`` PNG that compresses to little (shapes on a plain ground), as the issue's was."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (side, side), (200, 180, 150))
    draw = ImageDraw.Draw(picture)
    for k in range(8):
        box = (k * side // 10, k * side // 12, k * side // 10 + side // 5, k * side // 12 + side // 5)
        draw.ellipse(box, fill=(40 * k % 255, 90, 200 - 20 * k))
    path = folder / f"large_{side}.png"
    picture.save(path, optimize=True)
    return path


def upload(http: httpx.Client, path: Path) -> dict:
    """Upload a file as a browser does; the value the API takes for it."""
    with path.open("rb") as handle:
        (served,) = http.post("/gradio_api/upload", files={"files": (path.name, handle, "image/png")}).json()
    return {"path": served, "meta": {"_type": "gradio.FileData"}}


def keep_busy(url: str, work, stop: threading.Event, times: list[float]) -> None:
    """Another caller: ``work(http, k)`` again and again until ``stop``; each call's seconds go to ``times``."""
    with httpx.Client(base_url=url, timeout=600) as http:
        k = 0
        while not stop.is_set():
            times.append(work(http, k))
            k += 1


def latency(url: str, image: dict, renders: int, offset: int) -> tuple[float, float, list[float], list[float]]:
    """(a): median render alone, median render beside the large requests, and those requests' times."""
    with httpx.Client(base_url=url, timeout=600) as http:
        alone = statistics.median(render(http, offset + k) for k in range(renders))
        stop, scans, uploads = threading.Event(), [], []
        large = ((scanpath, scans), (lambda h, k: render(h, k, image), uploads))
        others = [threading.Thread(target=keep_busy, args=(url, work, stop, times)) for work, times in large]
        for thread in others:
            thread.start()
        time.sleep(0.5)  # both large requests under way before the first ordinary one
        try:
            beside = statistics.median(render(http, offset + renders + k) for k in range(renders))
        finally:
            stop.set()
            for thread in others:
                thread.join()
    return alone, beside, scans, uploads


def warm_up(http: httpx.Client, small: Path) -> None:
    """Ordinary requests first: the networks of every mode, a small upload (the foreground finder), a short
    scanpath."""
    for k in range(3):
        render(http, 1000 + k), render(http, 1000 + k, upload(http, small))
    call(http, "compare", [None, GALLERY, 48, 48, 0.6, "mean", 0])
    call(http, "sweep", [None, GALLERY, 48, 48, "mean", 0, "masked_mse"])
    call(http, "scanpath", [None, GALLERY, "[[30, 40], [60, 50]]", "periphery", 0.9, "mean"])


def memory(url: str, pid: int, png: Path, rounds: int, settle: float) -> tuple[float, float]:
    """(b): the server's resident MB after ordinary requests, and after ``rounds`` rounds of large ones."""
    with httpx.Client(base_url=url, timeout=600) as http:
        warm_up(http, large_png(96, png.parent))
        time.sleep(settle)
        before = rss_mb(pid)
        for k in range(rounds):
            scanpath(http, 3000 + k), render(http, 3000 + k, upload(http, png))
            call(http, "compare", [None, GALLERY, *fixation(5, k), 0.6, "mean", 0])
            call(http, "sweep", [None, GALLERY, *fixation(6, k), "mean", 0, "masked_mse"])
    time.sleep(settle)
    return before, rss_mb(pid)


def main(argv: list[str] | None = None) -> None:
    """Measure (b) server memory around large requests and (a) render latency alone and beside them; print both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=8, help="ordinary renders per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="large requests of each kind in (b)")
    parser.add_argument("--side", type=int, default=6300, help="pixels per side of the uploaded PNG")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before reading the memory")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder, running_gradio() as (url, process):
        png = large_png(args.side, Path(folder))
        before, after = memory(url, process.pid, png, args.rounds, args.settle)
        with httpx.Client(base_url=url, timeout=600) as http:
            image = upload(http, png)
            alone_scan = statistics.median(scanpath(http, 2000 + k) for k in range(3))
            alone_upload = statistics.median(render(http, 2000 + k, image) for k in range(3))
        alone, beside, scans, uploads = latency(url, image, args.renders, 0)
    print(f"(a) ordinary render alone, median of {args.renders}: {alone * 1000:.0f} ms; beside a "
          f"{MAX_FIXATIONS}-fixation scanpath and a {args.side} x {args.side} upload: {beside * 1000:.0f} ms; "
          f"ratio {beside / alone:.2f}")  # fmt: skip
    print(f"    the large requests' own time: scanpath {alone_scan * 1000:.0f} ms alone, "
          f"{statistics.median(scans) * 1000:.0f} ms meanwhile ({len(scans)}); upload render "
          f"{alone_upload * 1000:.0f} ms alone, {statistics.median(uploads) * 1000:.0f} ms meanwhile "
          f"({len(uploads)}); goal: render beside <= alone + one large request")  # fmt: skip
    print(f"(b) server memory after ordinary requests {before:.0f} MB, after {args.rounds} rounds of large ones "
          f"{after:.0f} MB: {after - before:+.0f} MB (goal: within {GOAL_MEMORY_MB} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
