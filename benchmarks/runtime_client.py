"""A runtime child (`python -m mytalk.core.runtime`) driven as the panel drives it: JSON lines on a
pipe, events read by a thread.

Shared by the benchmarks that go through the real runtime (`bench_preview`, `soak_runtime`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from queue import Queue
from typing import IO, Any


class Runtime:
    """The runtime child; `events` collects what it sends, `hello` is its first event.

    log: file its stderr goes to (None: inherited)."""

    def __init__(self, log: Path | None = None) -> None:
        self._log: IO[bytes] | None = log.open("ab") if log is not None else None
        self.process = subprocess.Popen([sys.executable, "-m", "mytalk.core.runtime"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, env=os.environ.copy())
        self.events: Queue[dict[str, Any]] = Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.hello = self.events.get(timeout=120)
        if self.hello.get("event") != "hello":
            raise RuntimeError(f"the runtime did not say hello first: {self.hello}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def send(self, **message: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"v": 1, **message}) + "\n").encode())
        self.process.stdin.flush()

    def next_event(self, timeout: float) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def sample(self) -> tuple[float, int]:
        """(resident memory in MiB, open file descriptors) of the runtime process (Linux /proc)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return rss_kb / 1024, len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close_log()

    def close(self) -> int:
        """Ask it to shut down and wait; returns its exit code."""
        try:
            self.send(type="shutdown", id="bye")
            assert self.process.stdin is not None
            self.process.stdin.close()
        except OSError:
            pass
        code = self.process.wait(timeout=60)
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
