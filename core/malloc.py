"""Bound glibc's per-thread malloc arenas, so a long render's resident memory stays flat.

Tracking decodes frames on PyAV's threads and runs MediaPipe's graphs on their own threads. Each
thread that allocates gets its own glibc arena (up to 8 × cores), and frames freed in one arena
are not reused by the next frame allocated in another, so resident memory crept up by about
120 KB a frame: 255 → 443 MiB over a 60 s range, while Python held under 20 MB. With two arenas
the same run stays within a few MB of where it started (measured in benchmarks/bench_classic.py).

`mallopt(M_ARENA_MAX)` only affects arenas created afterwards, so it is called first thing in the
process entry points. Elsewhere than glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

M_ARENA_MAX = -8
"""glibc's mallopt parameter number for the arena limit (malloc.h)."""

DEFAULT_ARENAS = 2


def _glibc_function(name: str) -> Any:
    """glibc's function `name`; None off Linux, or where the C library lacks it (musl and others)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Ask glibc to create at most `arenas` malloc arenas; True when the call was accepted."""
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, int(arenas)))


def trim_malloc() -> bool:
    """Hand glibc's free heap pages back to the system (``malloc_trim(0)``); True when some were released.

    A long-lived process that drops large data (a phone worker after a task, `mytalk.core.audio.phone_workers`)
    otherwise keeps its pages resident until it ends."""
    malloc_trim = _glibc_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))
