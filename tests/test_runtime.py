"""Process settings for serving: a server's request threads share a bounded number of glibc heaps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from focusmim_core import runtime

COUNT_HEAPS = textwrap.dedent("""
    import ctypes, ctypes.util, sys, tempfile, threading
    from focusmim_core import runtime
    if sys.argv[1] == "serving":
        runtime.configure_serving()
    barrier = threading.Barrier(8)
    def work():  # every thread holds memory from malloc at the same time, as concurrent requests do
        held = [bytearray(50_000) for _ in range(20)]
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        stream = libc.fopen(report.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(open(report.name).read().count("<heap nr="))
""")


def heaps(mode: str) -> int:
    """glibc heaps (arenas) in a fresh process after 8 threads held memory at once (``mode``: serving or plain)."""
    result = subprocess.run([sys.executable, "-c", COUNT_HEAPS, mode], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas: Linux only")
def test_a_server_s_threads_share_a_bounded_number_of_heaps():
    """Each thread's own heap is never reused by the others: per-round growth of a server's memory."""
    assert heaps("plain") > runtime.SERVING_ARENAS  # glibc's default: a heap per thread, up to 8 per core
    assert heaps("serving") <= runtime.SERVING_ARENAS
