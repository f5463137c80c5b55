"""The two callables every long-running core function takes.

Core code never owns threads or timers: it calls `progress(done, total, stage)` as it goes and
polls `is_cancelled()` between units of work (a frame, a batch, an epoch). The CLI draws a bar
from these, the runtime turns them into JSON events, and the panel throttles them into signals.
"""

from __future__ import annotations

from collections.abc import Callable

from mytalk.core.errors import JobCancelledError

ProgressFn = Callable[[int, int, str], None]
"""progress(done, total, stage): `done` of `total` units finished in the named stage."""

CancelFn = Callable[[], bool]
"""is_cancelled(): True once the user asked to stop; the job must stop within about a second."""


def no_progress(done: int, total: int, stage: str) -> None:
    """Progress sink for callers that do not display progress."""


def never_cancelled() -> bool:
    """Cancel check for callers that never cancel."""
    return False


def check_cancelled(is_cancelled: CancelFn, stage: str) -> None:
    """Raise `JobCancelledError` when the user asked to stop; call it between units of work."""
    if is_cancelled():
        raise JobCancelledError(f"cancelled by the user during {stage}; nothing was written")
