"""Stop signals (SIGINT, SIGTERM, SIGHUP) unwind a job the same way, and one step can hold them off.

Why: Ctrl-C raises `KeyboardInterrupt`, which runs every `finally` and context-manager exit on its
way out, so a cancelled render deletes its temporary files. SIGTERM (what `kill`, systemd, a
host application closing its child and `timeout` send) and SIGHUP (a closed terminal or SSH
session) used to kill the process on the spot instead, leaving a half-written file beside OUT.
Inside `stop_on_signals`, each of the three raises `Interrupted`, a `KeyboardInterrupt` whose
exit status is 128 + the signal number (130, 143, 129), so code written for Ctrl-C handles all
three. Later stop signals are ignored while the first one unwinds: clean-up takes milliseconds,
and cutting it short is what leaves files behind.

`hold_interrupts` is the other half: the one step that must not be cut in two (putting a job's
files in place, see `mytalk.core.jobs.staging`) runs with the handlers swapped for ones that only
note the signal; it is acted on as soon as the step ends.

Python runs signal handlers in the main thread only, so both are no-ops in other threads: code
there is never interrupted by these exceptions in the first place. Nothing here is global state of
ours: the handlers live in the process's signal table, are installed on entry and restored on exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that ask a process to stop; SIGHUP does not exist on Windows."""

Handler = Callable[[int, FrameType | None], Any] | int | None


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; the job unwinds like after Ctrl-C and exits with `exit_code`."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.saved: list[str] = []
        """Files a held step put in place before the signal was acted on (the job was complete)."""
        super().__init__(f"stopped by {self.signal_name}")

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        """The shell convention for death by signal: 128 + signal number (SIGTERM -> 143)."""
        return 128 + self.signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install(handler: Handler) -> dict[int, Handler]:
    previous: dict[int, Handler] = {}
    for sig in STOP_SIGNALS:
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)  # type: ignore[arg-type]
    return previous


def _restore(previous: dict[int, Handler]) -> None:
    for sig, handler in previous.items():
        # getsignal() returns None for a handler installed from C; the default is the safe guess.
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A second stop signal while the first unwinds: clean-up is short, let it finish."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block, a stop signal raises `Interrupted` in the main thread (see the module docstring)."""
    if not _in_main_thread():
        yield
        return

    def raise_interrupted(signum: int, frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _ignore)
        raise Interrupted(signum)

    previous = _install(raise_interrupted)
    try:
        yield
    finally:
        _restore(previous)


@contextmanager
def hold_interrupts() -> Iterator[None]:
    """Run the block to its end even when a stop signal arrives; act on the signal afterwards."""
    if not _in_main_thread():
        yield
        return
    pending: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = _install(remember)
    try:
        yield
    finally:
        _restore(previous)
        if pending:
            _deliver(pending[0], previous.get(pending[0]))


def _deliver(signum: int, handler: Handler) -> None:
    """Hand a held signal to the handler that was in place before the critical step."""
    if callable(handler):
        handler(signum, None)
    elif handler in (signal.SIG_DFL, None):
        signal.raise_signal(signum)
    # SIG_IGN: the process chose to ignore it.
