"""Process settings for serving: a server's request threads share a bounded number of glibc heaps."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from processes import failure_report

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
    assert result.returncode == 0, failure_report(result)
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas: Linux only")
def test_a_server_s_threads_share_a_bounded_number_of_heaps():
    """Each thread's own heap is never reused by the others: per-round growth of a server's memory."""
    assert heaps("plain") > runtime.SERVING_ARENAS  # glibc's default: a heap per thread, up to 8 per core
    assert heaps("serving") <= runtime.SERVING_ARENAS


STREAMLIT_OPTIONS = textwrap.dedent("""
    from streamlit import config
    config.get_config_options(force_reparse=True)
    for name in ("server.fileWatcherType", "server.address", "server.disconnectedSessionTTL"):
        print(config.get_option(name))
""")


def test_the_streamlit_server_runs_without_a_file_watcher_only_for_this_machine_keeping_closed_sessions_briefly():
    # as Streamlit reads the project's .streamlit/config.toml when started from the project folder: a file
    # watcher held a core busy; only this machine may connect unless the operator says otherwise; closed
    # sessions kept 2 minutes made every rerun's garbage collection slower and the memory climb
    result = subprocess.run([sys.executable, "-c", STREAMLIT_OPTIONS], capture_output=True, text=True, timeout=120,
                            cwd=Path(runtime.__file__).resolve().parents[1])  # fmt: skip
    assert result.returncode == 0, failure_report(result)
    assert result.stdout.split() == ["none", "127.0.0.1", "30"]


FREEZE = textwrap.dedent("""
    import gc
    import torch
    from focusmim_core import runtime
    runtime.configure_serving()
    runtime.configure_serving()  # every Streamlit rerun calls it
    frozen = gc.get_freeze_count()
    class Node:
        pass
    gc.disable()  # so that only the full collection below finds them
    for _ in range(1000):  # garbage a request leaves behind: cycles
        a, b = Node(), Node()
        a.other, b.other = b, a
    del a, b
    print(frozen, gc.collect(), gc.get_freeze_count())
""")


def test_a_server_s_start_up_objects_are_left_out_of_collections_and_request_garbage_still_goes():
    # Streamlit collects all garbage after every rerun: over the whole heap that cost more CPU than the page
    result = subprocess.run([sys.executable, "-c", FREEZE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, failure_report(result)
    frozen, collected, frozen_after = (int(word) for word in result.stdout.split())
    assert frozen > 100_000  # torch alone leaves far more objects than that
    assert frozen_after == frozen  # frozen once, not again with every call (that would keep garbage forever)
    assert collected >= 2000  # the cycles made after start-up are still collected


GIVE_BACK = textwrap.dedent("""
    import os, sys
    from focusmim_core import runtime
    if sys.argv[1] == "serving":
        runtime.configure_serving()
    else:
        runtime.configure_cpu_allocator()  # a training process: freed blocks are kept for the next batch
    def resident() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20
    before = resident()
    large = [bytearray(2_000_000) for _ in range(100)]  # a large request's buffers: 200 MB in 2 MB blocks
    del large
    after_large = resident()
    small = [bytearray(100_000) for _ in range(2000)]  # 200 MB in small blocks, a few of them kept alive
    kept = small[::100]
    del small
    runtime.release_memory() if hasattr(runtime, "release_memory") else None
    print(after_large - before, resident() - before)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator: Linux only")
def test_a_server_gives_back_the_memory_a_large_request_took():
    """A large request (a big upload, a long scanpath) must not leave the server larger for good."""
    for mode, gives_back in (("training", False), ("serving", True)):
        result = subprocess.run([sys.executable, "-c", GIVE_BACK, mode], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, failure_report(result)
        after_large, after_small = (int(word) for word in result.stdout.split())
        if gives_back:
            assert after_large < 20 and after_small < 40, result.stdout  # MB left of the 200 MB each took
        else:
            assert after_large > 150, result.stdout  # the training setting keeps it, as it should
