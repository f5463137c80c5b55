"""Run the real `mytalk` entry point, stopped at the start of a job stage so a test can signal it there.

    python tests/fault_harness.py STAGE [mytalk arguments ...]

The process stops itself (SIGSTOP) the first time `run_sync` enters STAGE (probe, audio, prepare,
render, mux, hash, report or commit; see `mytalk.core.jobs.sync`). STAGE `rename-1` stops it
inside the commit step, just after its first rename returned (one file in place, the others not
yet): the one moment a SIGKILL can leave a job half committed. The test waits until the
process is stopped, sends the signal under test by pid (SIGTERM, SIGHUP, SIGINT, SIGKILL), then
SIGCONT; or changes an input and only sends SIGCONT. This adds a pause and nothing else: every
part of MyTalk that runs is the real one, and the signals are real signals.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


def _on_stage(stage: str, action: Callable[[], None]) -> None:
    """Run `action` the first time `run_sync` enters `stage`, just before the stage begins."""
    from mytalk.core.jobs import sync

    original = sync.StageTimer.stage
    reached: list[str] = []

    @contextmanager
    def watched(self: sync.StageTimer, name: str) -> Iterator[None]:
        if name == stage and not reached:
            reached.append(name)
            action()
        with original(self, name):
            yield

    sync.StageTimer.stage = watched  # type: ignore[method-assign]


def _stop() -> None:
    # Sent to this thread, not the process: a process-directed SIGSTOP may be taken by another thread,
    # and the job's own thread then runs on for a moment (far enough to place a second file).
    signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)


def pause_at(stage: str) -> None:
    """Make the first entry into `stage` stop this process until it receives SIGCONT."""
    _on_stage(stage, _stop)


def pause_after_first_rename() -> None:
    """Stop once the commit step has put its first file in place (observed, not replaced): the return of
    its first `os.replace`, or of the `os.link` that places a reserved version (which never replaces)."""

    def watch(frame: FrameType, event: str, arg: object) -> None:
        placed = (arg is os.replace and frame.f_code.co_name == "_commit") or \
            (arg is os.link and frame.f_code.co_name == "_place_new")
        if event == "c_return" and placed:
            sys.setprofile(None)
            _stop()

    _on_stage("commit", lambda: sys.setprofile(watch))


def main() -> int:
    stage, args = sys.argv[1], sys.argv[2:]
    if stage == "rename-1":
        pause_after_first_rename()
    else:
        pause_at(stage)
    from mytalk.plugin.cli import main as mytalk_main

    return mytalk_main(args)


if __name__ == "__main__":
    sys.exit(main())
