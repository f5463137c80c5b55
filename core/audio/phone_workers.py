"""Phone-timing processes a long-lived runtime keeps started, and lends its jobs.

A cold job times phones in two processes of its own, beside the face tracker: the clip's own sound
(`phone_helper`) and the line (`line_aside`). Each used to be spawned for the job, and before it could
time anything it imported Python's half of MyTalk and pocketsphinx and loaded three decoders: about
0.75 CPU-seconds each, on the path to a cold preview's first frame, paid again for every clip. A
runtime serves one editor for hours, so it starts `PhoneWorkers` once, while the editor is still
choosing a clip, and the jobs lease them ready.

A worker answers what a process spawned for the job would have answered: it keeps its decoders from
job to job, and every utterance is timed as on fresh ones (`phonemes.forget_history`; a pocketsphinx
decoder's answer otherwise depends on what it decoded before). A lease that is cancelled or fails ends
its worker (it may be blocked in C for seconds), and the pool starts another in its place. After each
task a worker hands the pages it freed back to the system: an idle worker otherwise kept the memory of
its largest task (371 MB where it now holds 220-250 MB).

Workers are spawned, not forked (mediapipe and torch are not fork-safe), and point their standard output
at their standard error first: the runtime's stdout is the protocol pipe.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

WORKERS = 2
"""One for the clip's own sound and one for the line: a cold job needs both at once."""

CLOSE_WAIT_S = 2.0
"""How long `PhoneWorkers.close` lets its idle workers end by themselves before it terminates them."""

FORGET_AFTER_S = 3.0
"""A worker idle this long after a task clears its decoders' memory of it then (`PhoneTimer.forget`), not
at its next task's first utterance: late enough to leave a cold job's first frame the two cores."""


def _loaded_timer() -> Any:
    """A `PhoneTimer` with its decoders loaded."""
    from mytalk.core.audio.phone_timing import PhoneTimer

    return PhoneTimer().load()


def _run_task(timer: Any, task: tuple[Any, ...]) -> Any:
    """One task: ("clip", samples, rate) → the phone track's dict; ("line", path, offset_s, frames,
    (num, den), language) → None, its utterances timed into the cache (`line_phones`)."""
    from fractions import Fraction

    from mytalk.core.audio.line_phones import LineOrigin, placed_phone_track
    from mytalk.core.media.audio import AudioTrack

    kind = task[0]
    if kind == "clip":
        _, samples, rate = task
        return timer.track(AudioTrack(samples, rate)).to_dict()
    if kind == "line":
        _, path, offset_s, num_frames, fps, language = task
        placed_phone_track(LineOrigin(path, offset_s), num_frames, Fraction(*fps), language=language, timer=timer)
        return None
    raise ValueError(f"unknown phone task {kind!r}")


class PipePair:
    """Two one-way pipes used as one duplex channel: `send` writes on one, `recv` and `poll` read the other.

    Not `multiprocessing.Pipe()`'s duplex kind, which is a socket pair: the runtime holds these for its
    whole life, and it opens no socket of any kind (the runtime's tests check its descriptors)."""

    def __init__(self, reader: Connection, writer: Connection) -> None:
        self._reader = reader
        self._writer = writer

    def send(self, message: Any) -> None:
        self._writer.send(message)

    def recv(self) -> Any:
        return self._reader.recv()

    def poll(self, timeout: float) -> bool:
        return self._reader.poll(timeout)

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


def serve(conn: PipePair, warm: bool, loaded: Any = None, forget_after_s: float = FORGET_AFTER_S) -> None:
    """A worker's loop: a task tuple (`_run_task`) gets ("ok", answer) or ("error", text); None (or the
    pipe closing) ends it. `warm`: load the decoders before the first task, then set the `loaded` event.
    `forget_after_s`: idle time after a task before the decoders forget it (`PhoneTimer.forget`)."""
    from mytalk.core.malloc import trim_malloc

    os.dup2(2, 1)  # whatever a library prints must never reach the parent's stdout (the runtime's protocol)
    timer = _loaded_timer() if warm else None
    if loaded is not None:
        loaded.set()
    used = False
    while True:
        try:
            if used and timer is not None and not conn.poll(forget_after_s):
                timer.forget()  # while idle, so the next task's first utterance finds fresh decoders
                used = False
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        if timer is None:
            timer = _loaded_timer()
        try:
            answer = ("ok", _run_task(timer, task))
        except Exception as error:  # reported to the parent, which times in-process instead
            answer = ("error", f"{type(error).__name__}: {error}")
        used = True
        try:
            conn.send(answer)
        except (OSError, ValueError):
            return
        gc.collect()
        trim_malloc()


class PhoneWorker:
    """One started worker process and the parent's end of its pipe."""

    def __init__(self, process: Any, conn: PipePair, loaded: Any = None) -> None:
        self.process = process
        self.conn = conn
        self.loaded = loaded
        """Set by a warm worker once its decoders are loaded (None: not a warm worker)."""

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def ask_to_end(self) -> None:
        """Tell the process to end once it is idle (`serve` reads None); a pipe already gone is fine."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def end(self) -> None:
        """Terminate the process (it may be busy in C) and close the pipe."""
        try:
            if self.process.is_alive():
                self.process.terminate()
            self.process.join(timeout=5)
        finally:
            self.conn.close()


def spawn_worker(warm: bool) -> PhoneWorker:
    """A new worker process (spawned; `serve`). Raises OSError/RuntimeError/ValueError when it cannot start."""
    context = get_context("spawn")
    task_reader, task_writer = context.Pipe(duplex=False)
    answer_reader, answer_writer = context.Pipe(duplex=False)
    loaded = context.Event() if warm else None
    process = context.Process(target=serve, args=(PipePair(task_reader, answer_writer), warm, loaded), daemon=True,
                              name="mytalk-phone-worker")
    try:
        process.start()
    except BaseException:
        answer_reader.close()
        task_writer.close()
        raise
    finally:
        task_reader.close()  # the child's ends: it has its own copies now
        answer_writer.close()
    return PhoneWorker(process, PipePair(answer_reader, task_writer), loaded)


class PhoneWorkers:
    """A runtime's warm phone-timing processes (module docstring). Thread-safe.

    `start` spawns them (without waiting for them to load); `lease` hands one out, or None when none is
    free (the caller spawns its own, as without a pool); `give_back` returns it, or with `clean=False`
    ends it and starts a replacement; `close` ends them all."""

    def __init__(self, count: int = WORKERS) -> None:
        self._count = count
        self._idle: list[PhoneWorker] = []
        self._lent = 0
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> PhoneWorkers:
        return self  # started by `start`, when the owner has time for it (the runtime: after its hello)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start workers until `count` exist (idle or lent); a failure to spawn is logged, not raised."""
        while True:
            with self._lock:
                if self._closed or len(self._idle) + self._lent >= self._count:
                    return
                self._lent += 1  # reserved while spawning, outside the lock
            try:
                worker = spawn_worker(warm=True)
            except (OSError, RuntimeError, ValueError) as error:
                log.info("phone worker could not start (%s); jobs start their own", error)
                with self._lock:
                    self._lent -= 1
                return
            with self._lock:
                self._lent -= 1
                if self._closed:
                    worker.end()
                    return
                self._idle.append(worker)

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until every idle worker has loaded its decoders; False when one has not within `timeout`."""
        with self._lock:
            idle = list(self._idle)
        deadline = time.monotonic() + timeout
        return all(worker.loaded is None or worker.loaded.wait(max(0.0, deadline - time.monotonic()))
                   for worker in idle)

    def lease(self) -> PhoneWorker | None:
        """An idle live worker; None when there is none."""
        while True:
            with self._lock:
                if self._closed or not self._idle:
                    return None
                worker = self._idle.pop(0)
                self._lent += 1
            if worker.alive():
                return worker
            # Died while idle (killed from outside): replaced, and the next one is tried.
            self._discard(worker)

    def give_back(self, worker: PhoneWorker, clean: bool) -> None:
        """Return a leased worker. `clean`: every task sent was answered and read, so it is idle and
        reusable; otherwise (cancelled, failed, unanswered) it is ended and replaced."""
        if clean and worker.alive():
            with self._lock:
                self._lent -= 1
                if not self._closed:
                    self._idle.append(worker)
                    return
            worker.end()
            return
        self._discard(worker)

    def _discard(self, worker: PhoneWorker) -> None:
        worker.end()
        with self._lock:
            self._lent -= 1
            closed = self._closed
        if not closed:
            threading.Thread(target=self.start, name="mytalk-phone-worker-start", daemon=True).start()

    def close(self) -> None:
        """End every idle worker; one still lent is ended when it is given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.ask_to_end()  # read once it is idle (a warm one may still be loading)
        deadline = time.monotonic() + CLOSE_WAIT_S
        for worker in idle:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            worker.end()
