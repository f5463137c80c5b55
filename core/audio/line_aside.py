"""A job's line timed in a process of its own while the job learns the actor.

A cold preview has three long things to do before its first frame: track the actor's reference
frames (mediapipe, in the job's process), time the reference's own phones (pocketsphinx, in the
`phone_helper` process) and time the line's phones (pocketsphinx again). The line's timing used to
wait until the plan asked for it, after the other two, so on two cores one of them sat idle for the
2.5 s it took on the 8 s clip. `LineTimingAside` starts it at the job's start, in a spawned process
(mediapipe and torch are not fork-safe) that runs `line_phones.placed_phone_track` for the job's exact
placement. That fills the utterance cache; the job's own call then reads it.

So the phones the job plans with are the ones it would have timed itself: the same function on the
same samples, cached by those samples. If the process cannot start, fails or is slow, nothing is
lost: the job times whatever is still missing in-process. Its standard output is pointed at its
standard error first, since the runtime's stdout is the protocol pipe. Cancelling terminates it.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from multiprocessing import get_context
from typing import Any

from mytalk.core.audio.line_phones import LineOrigin, needs_timing
from mytalk.core.errors import MyTalkError
from mytalk.core.progress import CancelFn, check_cancelled, never_cancelled

log = logging.getLogger(__name__)

POLL_S = 0.05
"""How often a wait for the process checks for cancellation."""


def _time_line(path: str, offset_s: float, num_frames: int, fps: tuple[int, int], language: str) -> None:
    """The process: the placement's phones timed into the utterance cache (the answer is the cache; the
    process inherits the job's environment, so its `MYTALK_HOME` and cache folder)."""
    os.dup2(2, 1)  # whatever a library prints must never reach the parent's stdout (the runtime's protocol)
    from mytalk.core.audio.line_phones import placed_phone_track

    placed_phone_track(LineOrigin(path, offset_s), num_frames, Fraction(*fps), language=language)


class LineTimingAside:
    """Times a placed line's untimed utterances in a spawned process; `wait` before reading them.

    Use as a context manager: leaving it ends the process (terminated if it is still busy)."""

    def __init__(self, origin: LineOrigin, num_frames: int, fps: Fraction, language: str) -> None:
        self._process: Any = None
        try:
            if not needs_timing(origin, num_frames, fps, language=language):
                return  # all cached (a slip, a second preview): nothing to overlap
        except MyTalkError as error:
            log.info("line not timed aside (%s); the job's own timing reports it", error)
            return
        try:
            context = get_context("spawn")
            self._process = context.Process(
                target=_time_line, daemon=True, name="mytalk-line-phones",
                args=(str(origin.path), float(origin.offset_s), int(num_frames), (fps.numerator, fps.denominator),
                      language))
            self._process.start()
        except (OSError, RuntimeError, ValueError) as error:
            log.info("line timing could not start aside (%s); the job times it in-process", error)
            self._process = None

    @property
    def started(self) -> bool:
        """Whether a process was started (False: everything was cached, or it could not start)."""
        return self._process is not None

    def __enter__(self) -> LineTimingAside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, is_cancelled: CancelFn = never_cancelled) -> bool:
        """Wait until the process has ended; True when it timed everything (exit code 0). Raises
        JobCancelledError when cancelled while waiting (the process is then terminated)."""
        process = self._process
        if process is None:
            return False
        while process.is_alive():
            if is_cancelled():
                self.close()
                check_cancelled(is_cancelled, "timing the line's phones")
            process.join(POLL_S)
        if process.exitcode != 0:
            log.info("line timing aside ended with code %s; the job times what is missing", process.exitcode)
        return process.exitcode == 0

    def close(self) -> None:
        """End the process: terminated if still busy (a cancelled or failed job)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.is_alive():
            process.terminate()
        process.join(timeout=5)
