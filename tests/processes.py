"""Helpers for tests that run subprocesses: the torchrun launcher, and what a failed one printed."""

from __future__ import annotations

import subprocess
import sys

from browser_app import free_port

PROGRESS_MARKS = ("step/s", "s/step", "it/s", "s/it", "?step")


def torchrun(processes: int = 2) -> list[str]:
    """The command prefix that launches ``processes`` local processes on a free port."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
            "--master_port", str(free_port())]  # fmt: skip


def failure_report(done: subprocess.CompletedProcess, lines: int = 60) -> str:
    """What a failed run printed, progress bars left out: every process's own last lines (a rank's
    abort message comes before the launcher's summary, which alone says only "exitcode -6")."""
    text = (done.stdout or "") + "\n" + (done.stderr or "")
    kept = [
        line for line in text.replace("\r", "\n").splitlines()
        if line.strip() and not any(mark in line for mark in PROGRESS_MARKS)
    ]  # fmt: skip
    return f"exit code {done.returncode}; last lines:\n" + "\n".join(kept[-lines:])
