"""Phone timing in a helper process, so that pocketsphinx runs beside the face tracker.

Learning an actor does two long things: it tracks every reference frame (mediapipe) and it times
the phones of the footage's own sound (pocketsphinx). They need nothing from each other, but
pocketsphinx holds the GIL while it decodes, so a thread would not overlap them: on two cores the
learning of an 8 s clip took 1.6 s of tracking *then* 2.2 s of phones, and of a minute 13 s then
15 s. A `PhoneHelper` times them in one spawned process (spawned, not forked: mediapipe and torch
are not fork-safe) while the caller tracks.

The helper's answer is the same `PhoneTrack` the caller would have timed itself (`PhoneTimer.footage_track`:
the footage's phones come from the phone loop alone): a fresh `PhoneTimer` per helper, the same samples. When the helper cannot be started or dies, the caller
times in-process (`PhoneHelper.track` says so by returning None), so a job never fails for it.
Its standard output is pointed at its standard error before anything runs: the runtime's stdout is
the protocol pipe, and nothing else may reach it. Cancelling terminates it.

A runtime lends its jobs warm processes (`phone_workers`): each line sent is then a task of that pool, run
by whichever of its workers is free first (the line's utterances are tasks of the same pool,
`line_aside`), and answered as a spawned helper would answer it (every utterance is timed as on fresh
decoders), without the start-up on the job's path.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import numpy as np

from mytalk.core.audio.phone_timing import PhoneTrack
from mytalk.core.audio.phone_workers import PhoneTask, PhoneWorkers, PipePair, spawn_worker
from mytalk.core.media.audio import AudioTrack
from mytalk.core.progress import CancelFn, check_cancelled, never_cancelled

log = logging.getLogger(__name__)

POLL_S = 0.1
"""How often a wait for the helper checks for cancellation."""


_STOP = object()
"""Ends the sending thread (`_send_all`)."""


def _send_all(conn: PipePair, outbox: queue.Queue[Any]) -> None:
    """Writes what `PhoneHelper.send` queued to the helper, in order, until `_STOP`; stops at the first
    failed write (the helper is gone: `PhoneHelper.track` finds out, and the caller times it itself)."""
    while True:
        task = outbox.get()
        if task is _STOP:
            return
        try:
            conn.send(task)
        except (OSError, ValueError):
            return


class PhoneHelper:
    """One helper process that times lines in the order they are sent (`send`, then `track` for each).

    workers: a runtime's warm processes, whose tasks the lines become (a process is spawned for this helper
    when None, or when the pool has none). Use as a context manager: leaving it ends the process
    (terminated if it is still busy), or cancels the pool's tasks not yet answered."""

    def __init__(self, workers: PhoneWorkers | None = None) -> None:
        self._workers = workers
        self._tasks: list[PhoneTask] | None = None  # the pool's tasks, oldest first (None: not the pool)
        self._conn: PipePair | None = None
        self._process: Any = None
        self._outbox: queue.Queue[Any] | None = None
        self._sender: threading.Thread | None = None
        self._sent = 0
        self._broken = False

    def __enter__(self) -> PhoneHelper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> bool:
        if self._process is not None or self._broken:
            return not self._broken
        try:
            worker = spawn_worker(warm=False)
        except (OSError, RuntimeError, ValueError) as error:
            log.info("phone helper could not start (%s); phones are timed in-process", error)
            self._broken = True
            return False
        self._conn, self._process = worker.conn, worker.process
        self._outbox = queue.Queue()
        self._sender = threading.Thread(target=_send_all, args=(worker.conn, self._outbox), daemon=True,
                                        name="mytalk-phones-send")
        self._sender.start()
        return True

    def send(self, line: AudioTrack) -> bool:
        """Queue `line` for timing, without waiting; False when the helper is not available (time it yourself).

        The samples are written to the helper by a thread of its own (`_send_all`): a line is larger than
        the pipe's buffer, so writing blocks until the helper reads, and the helper reads only once it has
        loaded pocketsphinx. The caller tracks frames meanwhile, and can be cancelled."""
        task = ("clip", np.ascontiguousarray(line.samples, np.float32), int(line.rate))
        if self._workers is not None and self._process is None and not self._broken:
            handle = self._workers.submit(task, seconds=line.num_samples / line.rate)
            if handle is not None:
                self._tasks = (self._tasks or []) + [handle]
                return True
            if self._tasks is not None:
                return False  # the pool lost its workers: the caller times this one, in order
        if not self._start():
            return False
        assert self._outbox is not None
        self._outbox.put(task)
        self._sent += 1
        return True

    def track(self, is_cancelled: CancelFn = never_cancelled) -> PhoneTrack | None:
        """The phone track of the oldest line sent and not yet read; None when the helper failed on it
        (time it yourself). Raises JobCancelledError when cancelled while waiting."""
        if self._tasks is not None:
            return self._pool_track(is_cancelled)
        if self._broken or self._conn is None or self._sent == 0:
            return None
        conn = self._conn
        try:
            while not conn.poll(POLL_S):
                # (JobCancelledError is an OSError: it must not be caught below as a lost helper.)
                if is_cancelled():
                    break
                if not self._process.is_alive():
                    raise EOFError("the helper process ended")
            else:
                status, payload = conn.recv()
        except (EOFError, OSError) as error:
            log.info("phone helper is gone (%s); phones are timed in-process", error)
            self._broken = True
            return None
        check_cancelled(is_cancelled, "timing the footage's phones")
        self._sent -= 1
        if status != "ok":
            log.info("phone helper failed (%s); timing in-process", payload)
            return None
        return PhoneTrack.from_dict(payload)

    def _pool_track(self, is_cancelled: CancelFn) -> PhoneTrack | None:
        if not self._tasks:
            return None
        outcome = self._tasks[0].wait(is_cancelled)
        check_cancelled(is_cancelled, "timing the footage's phones")
        self._tasks.pop(0)
        assert outcome is not None
        status, payload = outcome
        if status != "ok":
            log.info("phone worker failed (%s: %s); timing in-process", status, payload)
            return None
        return PhoneTrack.from_dict(payload)

    def close(self) -> None:
        """End the helper: at once if it is busy (a cancelled job), else after its last answer. The pool's
        tasks not answered yet are cancelled (a busy worker is ended, and the pool starts another)."""
        for handle in self._tasks or []:
            handle.cancel()
        self._tasks = [] if self._tasks is not None else None
        process, conn, outbox, sender = self._process, self._conn, self._outbox, self._sender
        self._process = self._conn = self._outbox = self._sender = None
        if process is None or conn is None or outbox is None or sender is None:
            return
        idle = self._sent == 0 and not self._broken
        try:
            if idle:
                outbox.put(None)  # after everything queued: the helper's signal to end
                process.join(timeout=2)
        finally:
            outbox.put(_STOP)
            if process.is_alive():
                process.terminate()  # a write still blocked on it fails, and the sending thread ends
                process.join(timeout=5)
            sender.join(timeout=5)
            conn.close()
