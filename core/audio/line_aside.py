"""A job's line timed in a process of its own while the job learns the actor.

A cold preview has three long things to do before its first frame: track the actor's reference
frames (mediapipe, in the job's process), time the reference's own phones (pocketsphinx, in the
`phone_helper` process) and time the line's phones (pocketsphinx again). The line's timing used to
wait until the plan asked for it, after the other two, so on two cores one of them sat idle for the
2.5 s it took on the 8 s clip. `LineTimingAside` starts it at the job's start, in a process of its own
(`phone_workers`: the runtime's warm ones when it lends them, else one spawned for the job) that runs
`line_phones.placed_phone_track` for the job's exact placement. That fills the utterance cache; the
job's own call then reads it.

With a runtime's warm pool the line is not one task but one per utterance: a first task finds the
utterances the cache lacks (`line_phones.untimed_utterances`), and each is then a task of the pool
(`PhoneWorkers.submit`), run by whichever worker is free first, beside the clip's own sound
(`phone_helper`). Timed in one process, a 5 s range's three utterances kept that worker busy 0.7 s
after the other had finished the 8 s clip; a 60 s clip's sample windows, the other way round. On
two cores that did not bring a cold preview's first frame forward (the cores were busy either way: the
tracker then got less of them, session 24), but nothing idles where there are more cores, and a line
picked in the panel is timed ahead on every worker at once (`ClassicMotion.learn_line`).

So the phones the job plans with are the ones it would have timed itself: the same function on the
same samples, cached by those samples. If the process cannot start, fails or is slow, nothing is
lost: the job times whatever is still missing in-process. Cancelling ends it.
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from typing import Any

from mytalk.core.audio.line_phones import LineOrigin, needs_timing
from mytalk.core.audio.phone_workers import Outcome, PhoneTask, PhoneWorker, PhoneWorkers, spawn_worker
from mytalk.core.audio.phonemes import ALIGN_RATE
from mytalk.core.errors import MyTalkError
from mytalk.core.progress import CancelFn, check_cancelled, never_cancelled

log = logging.getLogger(__name__)

POLL_S = 0.05
"""How often a wait for the process checks for cancellation."""


def time_skipped_later(origin: LineOrigin, num_frames: int, fps: Fraction, language: str,
                       workers: PhoneWorkers, is_cancelled: CancelFn = never_cancelled) -> int:
    """Time, on `workers`, the utterances a job's placement left unrecognised because it takes only silence
    from them (`line_phones.skipped_utterances`), so that a slip bringing their speech into the range finds
    them cached. A job defers it until its first frame is out (`JobResources.defer`): the first frame does
    not wait for sound it does not use. Returns how many were timed; a task the pool cannot take is left."""
    from mytalk.core.audio.line_phones import skipped_utterances

    handles = [workers.submit(("utterance", pcm, language), seconds=len(pcm) / 2 / ALIGN_RATE)
               for pcm in skipped_utterances(origin, num_frames, fps, language=language)]
    return sum(1 for handle in handles if handle is not None and (handle.wait(is_cancelled) or ("",))[0] == "ok")


class LineTimingAside:
    """Times a placed line's untimed utterances in a process of its own; `wait` before reading them.

    workers: a runtime's warm processes, whose tasks the line's utterances become (one process is spawned
    for the whole line when None, or when the pool has none). Use as a context manager: leaving it ends
    the process (terminated if it is still busy), or cancels the pool's tasks not yet answered."""

    def __init__(self, origin: LineOrigin, num_frames: int, fps: Fraction, language: str,
                 workers: PhoneWorkers | None = None) -> None:
        self._workers = workers
        self._worker: PhoneWorker | None = None
        self._answered: bool | None = None  # None: no answer read yet
        self._lock = threading.Lock()
        self._pieces: PhoneTask | None = None  # the pool's task that finds the untimed utterances
        self._tasks: list[PhoneTask] = []  # the pool's task for each of them
        self._complete = True  # False once an utterance could not be given to the pool
        self._closed = False
        try:
            if not needs_timing(origin, num_frames, fps, language=language):
                return  # all cached (a slip, a second preview): nothing to overlap
        except MyTalkError as error:
            log.info("line not timed aside (%s); the job's own timing reports it", error)
            return
        task = ("line", origin.task(), int(num_frames), (fps.numerator, fps.denominator), language)
        if workers is not None:
            self._pieces = workers.submit(("line-pieces", *task[1:]), first=True)
            if self._pieces is not None:
                self._pieces.on_done(lambda outcome: self._submit_utterances(outcome, language))
                return
        try:
            worker = spawn_worker(warm=False)
        except (OSError, RuntimeError, ValueError) as error:
            log.info("line timing could not start aside (%s); the job times it in-process", error)
            return
        try:
            worker.conn.send(task)
        except (OSError, ValueError) as error:
            log.info("line timing could not start aside (%s); the job times it in-process", error)
            worker.end()
            return
        self._worker = worker

    def _submit_utterances(self, outcome: Outcome, language: str) -> None:
        """Each utterance the first task found untimed becomes a task of the pool (run on its thread)."""
        status, payload = outcome
        if status != "ok" or self._workers is None:
            return
        for pcm in payload:
            with self._lock:
                if self._closed:
                    return
                handle = self._workers.submit(("utterance", pcm, language), seconds=len(pcm) / 2 / ALIGN_RATE)
                if handle is None:
                    self._complete = False
                else:
                    self._tasks.append(handle)

    @property
    def started(self) -> bool:
        """Whether a process was given the line (False: everything was cached, or none could start)."""
        return self._worker is not None or self._pieces is not None or self._answered is not None

    def __enter__(self) -> LineTimingAside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, is_cancelled: CancelFn = never_cancelled) -> bool:
        """Wait for the process's answer; True when it timed everything. Raises JobCancelledError when
        cancelled while waiting (the process is then ended)."""
        if self._pieces is not None:
            return self._wait_pool(is_cancelled)
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
            self._end_worker(worker, clean=False)
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
        self._end_worker(worker, clean=True)
        return self._answered

    def _wait_pool(self, is_cancelled: CancelFn) -> bool:
        assert self._pieces is not None
        outcomes: list[Outcome] = []
        first = self._pieces.wait(is_cancelled)
        with self._lock:
            tasks = list(self._tasks)  # all of them: the first task's callback ran before its wait returned
        for outcome in [first, *(handle.wait(is_cancelled) for handle in tasks)]:
            if outcome is None:  # cancelled while waiting
                self.close()
                check_cancelled(is_cancelled, "timing the line's phones")
                raise AssertionError("is_cancelled said so, then took it back")
            outcomes.append(outcome)
        failed: list[Any] = [outcome for outcome in outcomes if outcome[0] != "ok"]
        if failed:
            log.info("line timing aside failed (%s); the job times what is missing", failed[0])
        self._answered = not failed and self._complete
        self._pieces, self._tasks = None, []
        return self._answered

    def close(self) -> None:
        """End the process: terminated if still busy (a cancelled or failed job). The pool's tasks not yet
        answered are cancelled (a busy worker is ended, and the pool starts another)."""
        with self._lock:
            self._closed = True
            handles = ([self._pieces] if self._pieces is not None else []) + self._tasks
        for handle in handles:
            handle.cancel()
        worker, self._worker = self._worker, None
        if worker is not None:
            self._end_worker(worker, clean=False)

    def _end_worker(self, worker: PhoneWorker, clean: bool) -> None:
        """End the process spawned for this line: asked to (it answered everything), else terminated."""
        if clean:
            worker.ask_to_end()
            worker.process.join(timeout=2)
        worker.end()
