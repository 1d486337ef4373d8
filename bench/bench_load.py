"""The app under load, without browsers: ``python -m bench.bench_load`` (part of ``make bench``).

N concurrent sessions (gradio_client, one thread each) call the Gradio ``render`` endpoint for
``--requests`` different fixations each; for N = 1, 4, 8, 16 it prints the median, p90 and max
latency per request, the throughput, and the server process's memory before, at its peak and
after the sessions ended. The baseline is N = 1 in the same run. Goal on the 2-core machine:
8 sessions, median <= 1.5 s and max <= 5 s, memory flat after the sessions close.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from browser_app import free_port  # noqa: E402
from gradio_client import Client  # noqa: E402

import gradio_app  # noqa: E402
from bench.timing import machine, table  # noqa: E402


def rss_mb() -> float:
    """This process's resident memory in MB (the server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def session(url: str, index: int, requests: int, latencies: list[float]) -> None:
    """One visitor: ``requests`` renders at fixations no other session asks for (no cache hits)."""
    client = Client(url, verbose=False)
    for k in range(requests):
        x, y = 5 + (index * 13 + k * 7) % 86, 5 + (index * 29 + k * 11) % 86
        started = time.perf_counter()
        client.predict(None, "cat (chelsea)", x, y, "periphery", 0.8, "mean", index, -1, -1, "auto",
                       api_name="/render")  # fmt: skip
        latencies.append(time.perf_counter() - started)


def load(url: str, sessions: int, requests: int, offset: int) -> dict[str, float]:
    """Run ``sessions`` visitors at once; latency statistics (s), throughput (renders/s) and peak memory (MB)."""
    latencies: list[float] = []
    peak, done = [rss_mb()], threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak.append(rss_mb())

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=session, args=(url, offset + i, requests, latencies)) for i in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    ordered = sorted(latencies)
    return {
        "median": statistics.median(ordered), "p90": ordered[int(0.9 * (len(ordered) - 1))], "max": ordered[-1],
        "throughput": len(ordered) / seconds, "peak": max(peak),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Measure N = 1, 4, 8, 16 sessions and print the table with N = 1 as the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--requests", type=int, default=10, help="renders per session")
    args = parser.parse_args(argv)
    demo = gradio_app.build()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    print(f"machine: {machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    Client(url, verbose=False).predict(None, "cat (chelsea)", 1, 1, "periphery", 0.8, "mean", 0, -1, -1, "auto",
                                       api_name="/render")  # fmt: skip  (warm-up: the model loads)
    before = rss_mb()
    rows, baseline = [], None
    for n in args.sessions:
        result = load(url, n, args.requests, offset=1000 * n)
        baseline = baseline or result
        rows.append([str(n), f"{result['median']:.2f}", f"{result['p90']:.2f}", f"{result['max']:.2f}",
                     f"{result['throughput']:.1f}", f"{result['median'] / baseline['median']:.1f}x",
                     f"{result['peak']:.0f}"])  # fmt: skip
    time.sleep(2)
    after = rss_mb()
    demo.close()
    print(table(rows, ["sessions", "median s", "p90 s", "max s", "renders/s", "median vs 1 session", "peak MB"]))
    print(f"server memory: {before:.0f} MB before, {after:.0f} MB after the sessions (goal: flat)")


if __name__ == "__main__":
    main()
