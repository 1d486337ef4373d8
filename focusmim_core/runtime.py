"""Process-level settings for fast CPU tensor work (used by the scripts, benchmarks and app)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
import sys

import torch

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_configured = False
# glibc malloc arenas for a server's threads. Its default, 8 per core, gives each request thread
# its own heap whose freed memory the others never reuse: with the heap kept (above), the server
# grew 11-15 MB per round of 16 sessions without levelling off; with 2 it is flat (bench_load).
SERVING_ARENAS = 2
# A server gives back what a request took: blocks from 1 MB up (a decoded photo, a batch of glimpses) are
# mapped for the request and unmapped when freed, and a heap's free top goes back above 32 MB. glibc's own
# default moves the mapping threshold up to 32 MB after the first large free, so that a large request's
# blocks stay in the heap; setting it fixes it.
SERVING_MMAP_THRESHOLD = 1 << 20
SERVING_TRIM_THRESHOLD = 32 << 20
_INT_MAX = 2**31 - 1  # mallopt takes a C int: a larger value wraps (1 << 36 became 0, trimming every free)
_DEFAULT_TOP_PAD = 128 << 10  # glibc's default (``configure_cpu_allocator`` raises it)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, looked up once per process (``find_library`` runs ``ldconfig``); None where there is none."""
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _mallopt(settings: tuple[tuple[int, int], ...]) -> bool:
    """glibc's ``mallopt(option, value)`` for each pair; False where there is no glibc or one is refused."""
    libc = _libc()
    try:
        return libc is not None and all(libc.mallopt(option, value) for option, value in settings)
    except AttributeError:
        return False


@functools.cache
def _limit_arenas() -> bool:
    """At most ``SERVING_ARENAS`` glibc arenas from now on (set once per process)."""
    return _mallopt(((_M_ARENA_MAX, SERVING_ARENAS),))


def configure_cpu_allocator() -> bool:
    """Keep large freed blocks in glibc's heap instead of returning them to the kernel.

    A fresh 56 MB batch (512 images) otherwise costs ~14,000 page faults each time it is
    allocated, which on a 2-core machine takes longer than masking it. This is the
    glibc equivalent of the jemalloc/tcmalloc advice in PyTorch's CPU tuning guide.
    Returns whether the setting took effect (glibc on Linux only); safe to call twice.
    """
    global _configured
    if not _configured:
        _configured = _mallopt(((_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, _INT_MAX), (_M_TOP_PAD, 64 << 20)))
    return _configured


@functools.cache
def _freeze_startup_objects() -> int:
    """Leave what is alive once the server has started (modules, classes, functions: ~650,000 objects,
    most of the heap) out of every later garbage collection, which then walks only what requests
    create; Streamlit runs a full collection after every rerun (``runner.postScriptGC``), and over the
    whole heap it cost more CPU than the page (bench_load). Done once per process; returns how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@functools.cache
def _return_freed_memory() -> bool:
    """glibc settings for a server (set once per process): freed large blocks and a heap's free top go back to
    the kernel (``SERVING_MMAP_THRESHOLD``, ``SERVING_TRIM_THRESHOLD``), whatever was set before."""
    settings = ((_M_MMAP_THRESHOLD, SERVING_MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, SERVING_TRIM_THRESHOLD),
                (_M_TOP_PAD, _DEFAULT_TOP_PAD))  # fmt: skip
    return _mallopt(settings)


def release_memory() -> bool:
    """Give the free memory inside glibc's heaps back to the kernel (``malloc_trim(0)``: every arena, free pages
    in the middle of a heap too), as a server does after a large request; False where there is no glibc."""
    libc = _libc()
    try:
        return libc is not None and libc.malloc_trim(0) in (0, 1)  # 1: something was returned, 0: nothing was free
    except AttributeError:
        return False


def configure_serving() -> int:
    """Settings for an app server (Streamlit or Gradio): freed memory goes back to the kernel (not kept, as
    ``configure_cpu_allocator`` keeps it for training), at most ``SERVING_ARENAS`` glibc arenas for its
    threads, and ``$FOCUSMIM_THREADS`` torch threads (default 1: one image per interaction is as fast on one
    thread on an idle machine, and far faster when sessions or other work keep every core busy). Returns the
    thread count."""
    _return_freed_memory()
    _limit_arenas()  # Streamlit calls this on every rerun: the work is done once
    _freeze_startup_objects()
    threads = int(os.environ.get("FOCUSMIM_THREADS", "1"))
    torch.set_num_threads(threads)
    return threads
