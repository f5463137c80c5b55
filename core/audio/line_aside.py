"""A job's line timed in a process of its own while the job learns the actor.

A cold preview has three long things to do before its first frame: track the actor's reference
frames (mediapipe, in the job's process), time the reference's own phones (pocketsphinx, in the
`phone_helper` process) and time the line's phones (pocketsphinx again). The line's timing used to
wait until the plan asked for it, after the other two, so on two cores one of them sat idle for the
2.5 s it took on the 8 s clip. `LineTimingAside` starts it at the job's start, in a process of its own
(`phone_workers`: one of the runtime's warm ones when it lends them, else spawned for the job) that runs
`line_phones.placed_phone_track` for the job's exact placement. That fills the utterance cache; the
job's own call then reads it.

So the phones the job plans with are the ones it would have timed itself: the same function on the
same samples, cached by those samples. If the process cannot start, fails or is slow, nothing is
lost: the job times whatever is still missing in-process. Cancelling ends it.
"""

from __future__ import annotations

import logging
from fractions import Fraction

from mytalk.core.audio.line_phones import LineOrigin, needs_timing
from mytalk.core.audio.phone_workers import PhoneWorker, PhoneWorkers, spawn_worker
from mytalk.core.errors import MyTalkError
from mytalk.core.progress import CancelFn, check_cancelled, never_cancelled

log = logging.getLogger(__name__)

POLL_S = 0.05
"""How often a wait for the process checks for cancellation."""


class LineTimingAside:
    """Times a placed line's untimed utterances in a process of its own; `wait` before reading them.

    workers: a runtime's warm processes to lease one from (one is spawned when None, or when none is
    free). Use as a context manager: leaving it ends the process (terminated if it is still busy), or
    gives a leased one back."""

    def __init__(self, origin: LineOrigin, num_frames: int, fps: Fraction, language: str,
                 workers: PhoneWorkers | None = None) -> None:
        self._workers = workers
        self._worker: PhoneWorker | None = None
        self._leased = False
        self._answered: bool | None = None  # None: no answer read yet
        try:
            if not needs_timing(origin, num_frames, fps, language=language):
                return  # all cached (a slip, a second preview): nothing to overlap
        except MyTalkError as error:
            log.info("line not timed aside (%s); the job's own timing reports it", error)
            return
        worker = workers.lease() if workers is not None else None
        self._leased = worker is not None
        try:
            if worker is None:
                worker = spawn_worker(warm=False)
            worker.conn.send(("line", str(origin.path), float(origin.offset_s), int(num_frames),
                              (fps.numerator, fps.denominator), language))
        except (OSError, RuntimeError, ValueError) as error:
            log.info("line timing could not start aside (%s); the job times it in-process", error)
            if worker is not None:
                self._give_back(worker, clean=False)
            return
        self._worker = worker

    @property
    def started(self) -> bool:
        """Whether a process was given the line (False: everything was cached, or none could start)."""
        return self._worker is not None or self._answered is not None

    def __enter__(self) -> LineTimingAside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, is_cancelled: CancelFn = never_cancelled) -> bool:
        """Wait for the process's answer; True when it timed everything. Raises JobCancelledError when
        cancelled while waiting (the process is then ended)."""
        worker = self._worker
        if worker is None:
            return bool(self._answered)
        answer: tuple[str, object] | None = None
        try:
            while not worker.conn.poll(POLL_S):
                # (JobCancelledError is an OSError: it must not be caught below as a lost process.)
                if is_cancelled():
                    break
                if not worker.alive():
                    raise EOFError("the process ended")
            else:
                answer = worker.conn.recv()
        except (EOFError, OSError) as error:
            log.info("line timing aside is gone (%s); the job times what is missing", error)
            self._answered = False
            self._worker = None
            self._give_back(worker, clean=False)
            return False
        if answer is None:  # cancelled while it was busy
            self.close()
            check_cancelled(is_cancelled, "timing the line's phones")
        assert answer is not None
        status, payload = answer
        if status != "ok":
            log.info("line timing aside failed (%s); the job times what is missing", payload)
        self._answered = status == "ok"
        self._worker = None
        self._give_back(worker, clean=True)
        return self._answered

    def close(self) -> None:
        """End the process: terminated if still busy (a cancelled or failed job)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            self._give_back(worker, clean=False)

    def _give_back(self, worker: PhoneWorker, clean: bool) -> None:
        if self._leased and self._workers is not None:
            self._workers.give_back(worker, clean)
            return
        if clean:
            worker.ask_to_end()
            worker.process.join(timeout=2)
        worker.end()
