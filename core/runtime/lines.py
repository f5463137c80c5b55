"""Request lines from the runtime's stdin: each bounded in size, and a wait that signals can end.

Why not `for line in sys.stdin.buffer`: that reads a whole line into memory however long it is (a
client bug sending a 2 GB line without a newline takes the runtime down with it), and the main
thread then blocks in `read()` where a stop signal may never reach it. Python runs signal handlers
only in the main thread, but the kernel may deliver SIGTERM to any thread (a decoder's, the
worker's); the handler is then only noticed when the main thread next runs Python code.

So the main thread waits in `select` on stdin *and* on the wake-up descriptor that Python's C
signal handler writes to (`signal.set_wakeup_fd`), whichever thread the signal landed on; on
waking it runs the pending handler. Lines are assembled from chunks; a line longer than the limit
is skipped up to its newline and reported as an `Overlong` item, so the next request is read
normally.

Where `select` cannot wait on a pipe (Windows), `read` blocks as before.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Overlong:
    """A line that was longer than the limit; its bytes were skipped, not kept."""

    size: int


class LineReader:
    """Iterates over the lines (bytes, newline stripped) of a file descriptor, `Overlong` for huge ones."""

    def __init__(self, fd: int, max_bytes: int, *, wake_fd: int | None = None) -> None:
        self._fd = fd
        self._max = max_bytes
        self._wake_fd = wake_fd
        self._can_select = os.name != "nt"

    def _wait(self) -> None:
        if not self._can_select:
            return
        watched = [self._fd] + ([self._wake_fd] if self._wake_fd is not None else [])
        while True:
            ready, _, _ = select.select(watched, [], [])
            if self._wake_fd is not None and self._wake_fd in ready:
                try:
                    os.read(self._wake_fd, 512)  # drained; the handler itself runs on return to Python
                except (BlockingIOError, InterruptedError):
                    pass
            if self._fd in ready:
                return

    def __iter__(self) -> Iterator[bytes | Overlong]:
        buffer = bytearray()
        skipping = 0  # bytes of an overlong line dropped so far (0: not skipping)
        while True:
            self._wait()
            chunk = os.read(self._fd, CHUNK_BYTES)
            if not chunk:
                break
            start = 0
            while True:
                newline = chunk.find(b"\n", start)
                piece = chunk[start:] if newline < 0 else chunk[start:newline]
                if skipping:
                    skipping += len(piece)
                elif len(buffer) + len(piece) > self._max:
                    skipping = len(buffer) + len(piece)
                    buffer.clear()
                else:
                    buffer += piece
                if newline < 0:
                    break
                if skipping:
                    yield Overlong(skipping)
                    skipping = 0
                else:
                    yield bytes(buffer)
                    buffer.clear()
                start = newline + 1
        if skipping:
            yield Overlong(skipping)
        elif buffer:
            yield bytes(buffer)  # a last line without its newline


@contextmanager
def signal_wakeup() -> Iterator[int | None]:
    """A descriptor that becomes readable when a signal arrives (main thread, POSIX); else None."""
    if os.name == "nt" or threading.current_thread() is not threading.main_thread():
        yield None
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        yield read_fd
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
