"""Start the explorer with ``streamlit run`` on a free port and drive it with headless Chromium.

Shared by the browser tests and ``bench/bench_app.py``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FOCUSMIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLICK_FRAME = "iframe[title*='streamlit_image_coordinates']"
SCREENSHOTS = "FOCUSMIM_SCREENSHOTS"  # a folder for the browser tests' screenshots (`make screenshots`: docs/)


def screenshot_folder(scratch: Path) -> Path:
    """Where a browser test saves its screenshots: ``$FOCUSMIM_SCREENSHOTS`` if set (``make screenshots`` points it at
    docs/, the README's pictures), else ``scratch`` (the test's temporary folder: a test run changes no file)."""
    folder = Path(os.environ.get(SCREENSHOTS) or scratch)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(
    env: dict[str, str] | None = None, timeout: float = 60, script: Path | None = None
) -> Iterator[str]:
    """``streamlit run app.py`` (or ``script``) on a free port until the block ends; yields its base URL."""
    with running_server(env, timeout, script) as (url, _):
        yield url


def cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user + system, seconds) a running process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_server(
    env: dict[str, str] | None = None, timeout: float = 60, script: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like ``running_app``, yielding the base URL and the server process."""
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environment.setdefault("U2NET_HOME", str(ROOT / ".u2net"))
    command = [
        sys.executable, "-m", "streamlit", "run", str(script or ROOT / "app.py"), "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.runOnSave", "false",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health", process, timeout)
        yield url, process
    finally:
        stop(process)


@contextlib.contextmanager
def running_gradio(env: dict[str, str] | None = None, timeout: float = 90) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python gradio_app.py`` on a free port of 127.0.0.1 until the block ends; yields its URL and process."""
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_SERVER_PORT": str(port), **(env or {})}
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a long run's output cannot block the server
        process = subprocess.Popen([sys.executable, str(ROOT / "gradio_app.py")], cwd=ROOT, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_until_up(url, process, timeout, log)
            yield url, process
        finally:
            stop(process)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float, log: IO[str] | None = None) -> None:
    """Return once ``url`` answers 200; ``RuntimeError`` with the server's output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = ""
            if process.poll() is not None:
                output = (log.seek(0), log.read())[1] if log is not None else process.stdout.read()
            raise RuntimeError(f"the server at {url} did not start: {output[-2000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """Terminate a server process (kill it after 10 s)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def launch_browser(playwright):
    """Headless Chromium with the flags that work on these machines."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def status_text(x: int, y: int, mode: str = "periphery") -> str:
    """The Explore page's status line once the panels for a fixation are drawn."""
    return f"Showing {mode} at fixation ({x}, {y})."
