"""The app under load: ``python -m bench.bench_load`` (part of ``make bench``).

Each front-end runs as its own server process, as in use. Without browsers, N concurrent
sessions (one thread each) ask for ``--requests`` different fixations each: Gradio through its
HTTP API as a browser loads it (the ``render`` call, its event stream, then every panel file;
``--gradio-client`` uses ``gradio_client`` instead, whose own work on the same cores is
counted), Streamlit through its own websocket protocol (a
rerun with the Explore page's fixation widgets set, until the script has finished). For N = 1,
4, 8, 16 it prints the median, p90 and max latency per request, the throughput, and the server
process's memory before, at its peak and ``--settle`` seconds after each round's sessions ended
(with its trend over the later rounds: repeat a count, ``--sessions 16 16 16 ...``, to see whether
it is flat); the baseline is N = 1 in the same run. Then (``--browser-sessions``, default 4) the
same in headless Chromium: N pages click the Explore image at once, timed inside each page from
the press until the new panels are in it. Goal on the 2-core machine: 8 sessions, median <= 1.5 s
and max <= 5 s, memory flat after the sessions close.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from browser_app import running_gradio, running_server  # noqa: E402

from bench.timing import machine, table  # noqa: E402

GOAL_MEDIAN_S, GOAL_MAX_S = 1.5, 5.0
FIXATION_LABELS = ("Fixation x (column)", "Fixation y (row)")  # the Explore page's number inputs


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system, its threads included), in seconds (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fixation(session: int, k: int) -> tuple[int, int]:
    """The k-th fixation a session asks for: different for every session and request (no cache hits)."""
    return 5 + (session * 13 + k * 7) % 86, 5 + (session * 29 + k * 11) % 86


RENDER_ARGS = ("cat (chelsea)", "periphery", 0.8, "mean", 0, -1, -1, "auto")  # the render endpoint's, less x and y


def gradio_session(url: str, index: int, requests: int, latencies: list[float]) -> None:
    """One Gradio visitor as a browser loads the server: the README's two-step HTTP call to ``render``, then
    every panel file fetched; a request ends when the last file has arrived."""
    import httpx

    gallery, rest = RENDER_ARGS[0], RENDER_ARGS[1:]
    with httpx.Client(base_url=url, timeout=120) as http:
        for k in range(requests):
            x, y = fixation(index, k)
            started = time.perf_counter()
            call = http.post("/gradio_api/call/render", json={"data": [None, gallery, x, y, *rest]})
            stream = http.get(f"/gradio_api/call/render/{call.raise_for_status().json()['event_id']}").text
            if "event: complete" not in stream:
                raise RuntimeError(f"render failed: {stream[-300:]}")
            panels = json.loads(stream.split("event: complete", 1)[1].split("data:", 1)[1].strip())[0]
            for panel in panels:
                http.get(panel["image"]["url"]).raise_for_status()
            latencies.append(time.perf_counter() - started)


def gradio_client_session(url: str, index: int, requests: int, latencies: list[float]) -> None:
    """One Gradio visitor through ``gradio_client`` (``--gradio-client``): its own cost is counted too."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    for k in range(requests):
        x, y = fixation(index, k)
        started = time.perf_counter()
        client.predict(None, RENDER_ARGS[0], x, y, *RENDER_ARGS[1:], api_name="/render")
        latencies.append(time.perf_counter() - started)


class StreamlitSession:
    """A Streamlit visitor without a browser: the app's websocket, reruns with widget values set."""

    def __init__(self, socket: object) -> None:
        self.socket = socket  # a websockets.sync ClientConnection to the app's /_stcore/stream
        self.widgets: dict[str, str] = {}

    def rerun(self, values: dict[str, int] | None = None) -> list:
        """Rerun the page with the labelled number inputs set to ``values``; its new elements once it finished."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = BackMsg()
        message.rerun_script.SetInParent()  # a rerun, even with no widget set
        for label, value in (values or {}).items():
            state = message.rerun_script.widget_states.widgets.add()
            state.id, state.int_value = self.widgets[label], value
        self.socket.send(message.SerializeToString())
        elements = []
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(self.socket.recv(timeout=120))
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                elements.append(forward.delta.new_element)
            elif kind == "script_finished":
                return elements

    def open(self) -> None:
        """The first run of the page; learns the widgets' ids from what it draws."""
        for element in self.rerun():
            widget = getattr(element, element.WhichOneof("type"))
            if getattr(widget, "label", None) and getattr(widget, "id", None):
                self.widgets[widget.label] = widget.id


def streamlit_session(url: str, index: int, requests: int, latencies: list[float]) -> None:
    """One Streamlit visitor: open the Explore page, then ``requests`` fixations set through its widgets."""
    from websockets.sync.client import connect

    stream = url.replace("http", "ws", 1) + "/_stcore/stream"
    with connect(stream, subprotocols=["streamlit"], max_size=None, open_timeout=60) as socket:
        session = StreamlitSession(socket)
        session.open()
        for k in range(requests):
            x, y = fixation(index, k)
            started = time.perf_counter()
            session.rerun(dict(zip(FIXATION_LABELS, (x, y), strict=True)))
            latencies.append(time.perf_counter() - started)


def load(run: Callable[[int, list[float]], None], sessions: int, pid: int) -> dict[str, float]:
    """Run ``sessions`` visitors at once; latency statistics (s), throughput (requests/s), peak memory (MB),
    and how many visitors failed (an error ends a visitor; its message is printed once)."""
    latencies: list[float] = []
    peak, done, failed = [rss_mb(pid)], threading.Event(), []

    def visitor(index: int) -> None:
        try:
            run(index, latencies)
        except Exception as error:  # a benchmark reports a failure, it does not hide it in a thread's traceback
            failed.append(f"{type(error).__name__}: {error}"[:300])

    def watch() -> None:
        while not done.wait(0.2):
            peak.append(rss_mb(pid))

    watcher = threading.Thread(target=watch)
    watcher.start()
    cpu = cpu_seconds(pid)
    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(sessions)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    done.set()
    watcher.join()
    for message in sorted(set(failed)):
        print(f"  a visitor failed: {message}")
    return {**summary(latencies), "throughput": len(latencies) / seconds, "peak": max(peak), "failed": len(failed),
            "server_ms": 1000 * cpu / max(len(latencies), 1)}  # fmt: skip


def summary(latencies: list[float]) -> dict[str, float]:
    """Median, p90 and max of a list of latencies (and how many there were)."""
    ordered = sorted(latencies)
    return {"median": statistics.median(ordered), "p90": ordered[int(0.9 * (len(ordered) - 1))],
            "max": ordered[-1], "count": len(ordered)}  # fmt: skip


@contextmanager
def server(front: str) -> Iterator[tuple[str, int]]:
    """A running server of ``front`` (gradio or streamlit): its URL and process id."""
    started = running_gradio() if front == "gradio" else running_server()
    with started as (url, process):
        yield url.rstrip("/"), process.pid


def browser_free(front: str, counts: list[int], requests: int, gradio_client: bool = False, settle: float = 10) -> None:
    """The browser-free load table of one front-end; memory read ``settle`` seconds after each round."""
    visitors = {"gradio": gradio_client_session if gradio_client else gradio_session, "streamlit": streamlit_session}
    session = visitors[front]
    with server(front) as (url, pid):
        session(url, 10_000, 1, [])  # warm-up: the model loads
        before = rss_mb(pid)
        rows, baseline, afters = [], None, []
        for n in counts:
            result = load(lambda i, out, n=n: session(url, 1000 * n + i, requests, out), n, pid)
            baseline = baseline or result
            time.sleep(settle)  # the sessions have closed: what the server still holds of them
            afters.append(rss_mb(pid))
            verdict = "" if n != 8 else (" meets" if result["median"] <= GOAL_MEDIAN_S and result["max"] <= GOAL_MAX_S
                                          else " MISSES")  # fmt: skip
            rows.append([str(n), f"{result['median']:.2f}", f"{result['p90']:.2f}", f"{result['max']:.2f}{verdict}",
                         f"{result['throughput']:.1f}", f"{result['median'] / baseline['median']:.1f}x",
                         f"{result['server_ms']:.0f}", f"{result['peak']:.0f}", f"{afters[-1]:.0f}",
                         str(result["failed"])])  # fmt: skip
    client = " through gradio_client" if gradio_client and front == "gradio" else ""
    print(f"\n{front}, without browsers{client} ({requests} requests per session):")
    print(table(rows, ["sessions", "median s", "p90 s", "max s", "requests/s", "median vs 1 session",
                       "server CPU ms/request", "peak MB", "MB after", "visitors failed"]))  # fmt: skip
    print(f"{front} server memory: {before:.0f} MB before, {afters[-1]:.0f} MB {settle:.0f} s after the last "
          f"round (+{afters[-1] - before:.0f} MB); {memory_trend(afters)} (goal: flat)")  # fmt: skip


def memory_trend(afters: list[float]) -> str:
    """How memory after each round moved over the second half of the rounds (the first half warms caches)."""
    late = afters[len(afters) // 2 :]
    if len(late) < 2:
        return "too few rounds for a trend"
    slope = statistics.linear_regression(range(len(late)), late).slope
    return f"over the last {len(late)} rounds {slope:+.1f} MB per round ({late[0]:.0f} -> {late[-1]:.0f} MB)"


def in_browsers(front: str, sessions: int, clicks: int) -> dict[str, float]:
    """``sessions`` Chromium pages clicking the Explore image at once; per-click latency statistics (s)."""
    from playwright.sync_api import sync_playwright

    from bench.bench_app import click_times
    from bench.bench_gradio import gradio_click_times

    measure = gradio_click_times if front == "gradio" else click_times
    times: list[float] = []

    def page(index: int) -> None:
        with sync_playwright() as playwright:  # one driver per thread: the sync API is not thread-safe
            times.extend(t / 1000 for t in measure(url, clicks, playwright, offset=index))

    with server(front) as (url, _):
        threads = [threading.Thread(target=page, args=(i,)) for i in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return summary(times)


def main(argv: list[str] | None = None) -> None:
    """Measure both front-ends without browsers (N = 1, 4, 8, 16), then in Chromium."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--requests", type=int, default=10, help="requests per session")
    parser.add_argument("--fronts", nargs="+", default=["gradio", "streamlit"], choices=["gradio", "streamlit"])
    parser.add_argument("--gradio-client", action="store_true",  # plain HTTP is lighter on these cores
                        help="Gradio visitors through gradio_client instead of plain HTTP")  # fmt: skip
    parser.add_argument("--settle", type=float, default=10,
                        help="seconds after each round before memory is read (the server's own cleanup)")  # fmt: skip
    parser.add_argument("--browser-sessions", type=int, default=4, help="Chromium pages at once (0: none)")
    parser.add_argument("--clicks", type=int, default=10, help="clicks per Chromium page")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for front in args.fronts:
        browser_free(front, args.sessions, args.requests, args.gradio_client, args.settle)
    if args.browser_sessions:
        rows = []
        for front in args.fronts:
            result = in_browsers(front, args.browser_sessions, args.clicks)
            rows.append([front, str(result["count"]), f"{result['median']:.2f}", f"{result['p90']:.2f}",
                         f"{result['max']:.2f}"])  # fmt: skip
        print(f"\nIn Chromium, {args.browser_sessions} pages clicking at once ({args.clicks} clicks each, "
              "browsers on the same cores):")  # fmt: skip
        print(table(rows, ["front-end", "clicks", "median s", "p90 s", "max s"]))


if __name__ == "__main__":
    main()
