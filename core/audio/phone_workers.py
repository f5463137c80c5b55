"""Phone-timing processes a long-lived runtime keeps started, and runs its jobs' phone tasks on.

A cold job times phones in processes of its own, beside the face tracker: the clip's own sound
(`phone_helper`) and the line (`line_aside`). Each used to be spawned for the job, and before it could
time anything it imported Python's half of MyTalk and pocketsphinx and loaded three decoders: about
0.75 CPU-seconds each, on the path to a cold preview's first frame, paid again for every clip. A
runtime serves one editor for hours, so it starts `PhoneWorkers` once, while the editor is still
choosing a clip, and its jobs hand them tasks (`PhoneWorkers.submit`): each reference window of the
clip's sound, and each utterance of the line, is one task, run by whichever worker is free first. A
line picked in the panel is timed ahead on all of them at once (1.75 s for its first 15 s where the
runtime's own decoders took 3.5 s), and the runtime itself never loads a decoder for it (120 MB less).

A worker answers what a process spawned for the job would have answered: it keeps its decoders from
task to task, and every utterance is timed as on fresh ones (`phonemes.forget_history`; a pocketsphinx
decoder's answer otherwise depends on what it decoded before). A task that is cancelled while it runs,
or whose worker dies, ends that worker (it may be blocked in C for seconds), and the pool starts another
in its place. After each task a worker hands the pages it freed back to the system: an idle worker
otherwise kept the memory of its largest task (371 MB where it held 220-250 MB). Since session 24 a worker
also keeps two spare word decoders (`SPARE_WORD_DECODERS`), and holds about 420 MB.

On Linux the pool is instead one fork server with a slot per worker (`phone_forks`): the decoders are
loaded once and never decode, and each slot's tasks run in a fork of the server, made ahead, which starts
in a fresh decoder's state and is replaced once it has no fresh word decoder left. The spawned workers
here remain the way elsewhere (`forking=False`).

Workers (and the fork server) are spawned, not forked from the runtime (mediapipe and torch are not
fork-safe), and point their standard output at their standard error first: the runtime's stdout is the
protocol pipe.
"""

from __future__ import annotations

import gc
import heapq
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

SPARE_WORD_DECODERS = 2
"""Fresh word decoders a warm worker keeps besides the one it uses (`PhoneRecogniser`), about 95 MB each.
Without them every utterance after a worker's first in a job waited 0.22 s of one core for its word decoder
to reload (`phonemes.forget_history`): a cold preview of the 8 s clip times four utterances (the clip's own
sound and three of the line) on two workers, one of them three. Measured through the runtime on two cores
(session 24, four runs each): first frame 3.19 s (median) with none, 3.01 s with one, 2.71 s with two.
Spent spares are reloaded while the worker is idle (`FORGET_AFTER_S`)."""

FORGET_AFTER_S = 3.0
"""A worker idle this long after a task clears its decoders' memory of it then (`PhoneTimer.forget`), not
at its next task's first utterance: late enough to leave a cold job's first frame the two cores."""


def _loaded_timer(spare_words: int = 0) -> Any:
    """A `PhoneTimer` with its decoders loaded, and `spare_words` fresh word decoders."""
    from mytalk.core.audio.phone_timing import PhoneTimer

    return PhoneTimer(spare_words=spare_words).load()


def _run_task(timer: Any, task: tuple[Any, ...]) -> Any:
    """One task:

    - ("clip", samples, rate) → the phone track's dict of an actor's footage (`PhoneTimer.footage_track`);
    - ("line", origin, frames, (num, den), language) → None, the placed line's utterances timed into the cache
      (`line_phones.placed_phone_track`): a worker spawned for one job; `origin` is `LineOrigin.task()`, its
      path, its offset as (num, den), and the stream and channels picked;
    - ("line-pieces", the same) → the pcm of each utterance of it the cache lacks (`line_phones.untimed_utterances`),
      and ("utterance", pcm, language) → None, one of them timed into the cache (`line_phones.time_into_cache`):
      a pool's workers, which then share the line's utterances.
    """
    from fractions import Fraction
    from pathlib import Path

    from mytalk.core.audio.line_phones import (
        LineOrigin,
        placed_phone_track,
        time_into_cache,
        untimed_utterances,
    )
    from mytalk.core.media.audio import AudioTrack

    kind = task[0]
    if kind == "clip":
        _, samples, rate = task
        return timer.footage_track(AudioTrack(samples, rate)).to_dict()
    if kind in ("line", "line-pieces"):
        _, (path, offset_s, stream_index, rows), num_frames, fps, language = task
        origin = LineOrigin(Path(path), Fraction(*offset_s), stream_index, None if rows is None else tuple(rows))
        if kind == "line-pieces":
            return untimed_utterances(origin, num_frames, Fraction(*fps), language=language)
        placed_phone_track(origin, num_frames, Fraction(*fps), language=language, timer=timer)
        return None
    if kind == "utterance":
        _, pcm, language = task
        time_into_cache(pcm, language, timer)
        return None
    raise ValueError(f"unknown phone task {kind!r}")


class PipePair:
    """Two one-way pipes used as one duplex channel: `send` writes on one, `recv` and `poll` read the other.

    Not `multiprocessing.Pipe()`'s duplex kind, which is a socket pair: the runtime holds these for its
    whole life, and it opens no socket of any kind (the runtime's tests check its descriptors)."""

    def __init__(self, reader: Connection, writer: Connection) -> None:
        self._reader = reader
        self._writer = writer

    @property
    def reader(self) -> Connection:
        """The end messages are read from (to `multiprocessing.connection.wait` on, or to close in a fork)."""
        return self._reader

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
    pipe closing) ends it. `warm`: load the decoders before the first task, and the spare word decoders
    while no task waits, then set the `loaded` event.
    `forget_after_s`: idle time after a task before the decoders forget it (`PhoneTimer.forget`)."""
    from mytalk.core.malloc import trim_malloc

    os.dup2(2, 1)  # whatever a library prints must never reach the parent's stdout (the runtime's protocol)
    # A warm worker loads while idle, spares and all; one spawned for a job loads on its path, so keeps none.
    timer = _loaded_timer(SPARE_WORD_DECODERS) if warm else None
    used = False
    while True:
        try:
            if used and timer is not None and not conn.poll(forget_after_s):
                timer.forget()  # while idle, so the next task's first utterance finds fresh decoders
                used = False
            while timer is not None and not conn.poll(0) and timer.add_spare():
                pass  # the spare word decoders, one at a time while no task waits
            if loaded is not None and not loaded.is_set():
                loaded.set()  # spares made, or a task came first (the rest are made once it is idle)
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
        self.tasks_run = 0
        """Tasks given to it by a pool (for tests and diagnostics)."""
        self._end_lock = threading.Lock()
        self._ended = False

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def ask_to_end(self) -> None:
        """Tell the process to end once it is idle (`serve` reads None); a pipe already gone is fine."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def end(self) -> None:
        """Terminate the process (it may be busy in C) and close the pipe; once, whichever thread asks first
        (the pool's `close` and the worker's own thread, which sees the process go, may both)."""
        with self._end_lock:
            if self._ended:
                return
            self._ended = True
            try:
                if self.process.is_alive():
                    self.process.terminate()
                self.process.join(timeout=5)
            finally:
                self.conn.close()

    def run(self, handle: PhoneTask) -> Outcome:
        """Run one task and wait for its answer, watching for a cancel and for the process's end."""
        if handle.cancel_requested:
            return ("cancelled", "")
        self.tasks_run += 1
        try:
            self.conn.send(handle.task)  # blocks while a warm worker is still loading (a large task)
            while not self.conn.poll(TASK_POLL_S):
                if handle.cancel_requested:
                    return ("cancelled", "")
                if not self.alive():
                    return ("lost", "the process ended")
            status, payload = self.conn.recv()
        except (EOFError, OSError, ValueError) as error:
            return ("lost", str(error) or type(error).__name__)
        return (str(status), payload)

    def survives(self, outcome: Outcome) -> bool:
        """Whether it can take another task after `outcome`: not after a cancel (it may be blocked in C for
        seconds, so it is ended) nor once lost."""
        return outcome[0] not in ("lost", "cancelled")


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


Outcome = tuple[str, Any]
"""How a task ended: ("ok", answer), ("error", text) (the task raised in the worker), ("lost", text) (the worker
died or could not be reached) or ("cancelled", "")."""

TASK_POLL_S = 0.05
"""How often a driver waiting for its worker's answer checks for a cancel, and a waiter for the answer."""


class PhoneTask:
    """One task submitted to `PhoneWorkers`: wait for its outcome, cancel it, or be called when it ends."""

    def __init__(self, task: tuple[Any, ...], rank: tuple[int, float]) -> None:
        self.task = task
        self.rank = rank
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._outcome: Outcome | None = None
        self._callbacks: list[Any] = []
        self.cancel_requested = False

    def on_done(self, callback: Any) -> None:
        """Call `callback(outcome)` when the task ends (at once if it has): on the pool's thread that ran it,
        before `wait` returns, so what it submits is known to whoever waits for this task."""
        with self._lock:
            if self._outcome is None:
                self._callbacks.append(callback)
                return
            outcome = self._outcome
        callback(outcome)

    def finish(self, outcome: Outcome) -> None:
        """Record how it ended (the first call counts), run the callbacks, then wake the waiters."""
        with self._lock:
            if self._outcome is not None:
                return
            self._outcome = outcome
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(outcome)
            except Exception:  # a callback's failure must not stop the pool's thread
                log.exception("phone task callback failed")
        self._done.set()

    def cancel(self) -> None:
        """Drop it if it has not started; if its worker is busy with it, that worker is ended (it may be
        blocked in C for seconds) and replaced."""
        self.cancel_requested = True

    def wait(self, is_cancelled: Any = None) -> Outcome | None:
        """Its outcome; None when `is_cancelled()` said so first (the task is then cancelled)."""
        while not self._done.wait(TASK_POLL_S):
            if is_cancelled is not None and is_cancelled():
                self.cancel()
                return None
        assert self._outcome is not None
        return self._outcome


class PhoneWorkers:
    """A runtime's warm phone-timing processes (module docstring). Thread-safe.

    `start` starts them (without waiting for them to load): on Linux one fork server with `count` slots
    (`phone_forks`: tasks run in forks of a process whose decoders never decode), elsewhere `count`
    spawned workers. Jobs `submit` tasks; each worker or slot has a thread of its own here that hands it the
    pending task that ranks first (`submit`), so the clip's sound and the line's utterances are spread over
    every one, whichever finishes first taking the next. A spawned worker whose task was cancelled, or that
    died, is ended and another is started in its place; a slot survives both while its server lives, and a
    server that died is replaced whole. `close` ends them all.

    forking: None (default) forks where `phone_forks.can_fork` says it may; False always spawns."""

    def __init__(self, count: int = WORKERS, *, forking: bool | None = None) -> None:
        from mytalk.core.audio.phone_forks import can_fork  # it builds on this module

        self._count = count
        self._forks = forking is not False and can_fork()
        self._workers: list[Any] = []  # `PhoneWorker`s, or a fork server's `ForkSlot`s
        self._starting = 0
        self._pending: list[tuple[tuple[int, float], int, PhoneTask]] = []
        self._order = 0
        self._cond = threading.Condition()
        self._closed = False

    def __enter__(self) -> PhoneWorkers:
        return self  # started by `start`, when the owner has time for it (the runtime: after its hello)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start workers until `count` exist (or are starting); a failure to spawn is logged, not raised."""
        while True:
            with self._cond:
                if self._closed or len(self._workers) + self._starting >= self._count:
                    return
                # Reserved while starting, outside the lock: one spawned worker, or every missing slot.
                reserved = self._count - len(self._workers) - self._starting if self._forks else 1
                self._starting += reserved
            try:
                started = self._spawn(reserved)
            except (OSError, RuntimeError, ValueError) as error:
                log.info("phone worker could not start (%s); jobs start their own", error)
                with self._cond:
                    self._starting -= reserved
                    unserved = self._unserved()
                for handle in unserved:
                    handle.finish(("lost", f"no phone worker could start ({error})"))
                return
            with self._cond:
                self._starting -= reserved
                if self._closed:
                    closed = True
                else:
                    closed = False
                    self._workers.extend(started)
            if closed:
                for worker in started:
                    worker.end()
                return
            for worker in started:
                threading.Thread(target=self._drive, args=(worker,), name="mytalk-phone-worker-drive",
                                 daemon=True).start()

    def _spawn(self, count: int) -> list[Any]:
        """`count` new workers: a fork server's slots when forking, else one spawned worker (`count` is 1)."""
        if not self._forks:
            return [spawn_worker(warm=True)]
        from mytalk.core.audio.phone_forks import spawn_fork_server

        return list(spawn_fork_server(count))

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until every worker has loaded its decoders; False when one has not within `timeout`."""
        with self._cond:
            workers = list(self._workers)
        deadline = time.monotonic() + timeout
        return all(worker.loaded is None or worker.loaded.wait(max(0.0, deadline - time.monotonic()))
                   for worker in workers)

    @property
    def pids(self) -> list[int]:
        """The worker processes now in the pool, once each (a fork server's slots share one; for tests and
        diagnostics)."""
        with self._cond:
            return list(dict.fromkeys(int(worker.process.pid) for worker in self._workers))

    @property
    def tasks_run(self) -> list[int]:
        """How many tasks each worker or slot now in the pool was given (for tests and diagnostics)."""
        with self._cond:
            return [int(worker.tasks_run) for worker in self._workers]

    def submit(self, task: tuple[Any, ...], *, seconds: float = 0.0, first: bool = False) -> PhoneTask | None:
        """Queue a task (`_run_task`); None when the pool is closed or no worker could start (the caller
        times it another way). A pool not started yet is started by its first task: a job sent before the
        runtime's warm-up then starts the workers every later job uses, not processes of its own that end
        with it. Pending tasks go out `first` ones first, then the longest (`seconds` of sound) first: two
        workers then finish a cold job's phones at about the same time."""
        rank = (0 if first else 1, -float(seconds))
        with self._cond:
            if self._closed:
                return None
            unstarted = not (self._workers or self._starting)
        if unstarted:
            self.start()
        with self._cond:
            if self._closed or not (self._workers or self._starting):
                return None
            handle = PhoneTask(task, rank)
            self._order += 1
            heapq.heappush(self._pending, (rank, self._order, handle))
            self._cond.notify()
        return handle

    def _unserved(self) -> list[PhoneTask]:
        """Under the lock: the pending tasks, taken out, when no worker is left or starting to run them."""
        if self._workers or self._starting:
            return []
        pending, self._pending = self._pending, []
        return [handle for _, _, handle in pending]

    def _next_task(self) -> PhoneTask | None:
        """The pending task that ranks first, waiting for one; None once the pool is closed."""
        with self._cond:
            while True:
                while self._pending:
                    _, _, handle = heapq.heappop(self._pending)
                    if handle.cancel_requested:
                        handle.finish(("cancelled", ""))
                        continue
                    return handle
                if self._closed:
                    return None
                self._cond.wait()

    def _drive(self, worker: Any) -> None:
        """A worker's thread: give it the next task, wait for its answer, until the pool closes or the
        worker has to be ended (a cancelled task, a lost process)."""
        while True:
            handle = self._next_task()
            if handle is None:
                worker.ask_to_end()  # ends once idle; `close` waits a moment, then terminates it
                return
            if not worker.alive():
                # Died while idle (killed from outside): the task waits for another worker, or the replacement.
                with self._cond:
                    self._order += 1
                    heapq.heappush(self._pending, (handle.rank, self._order, handle))
                    self._cond.notify()
                self._discard(worker)
                return
            outcome = worker.run(handle)
            handle.finish(outcome)
            if not worker.survives(outcome):
                self._discard(worker)
                return

    def _discard(self, worker: Any) -> None:
        """End `worker`'s process and forget every worker it ran (a fork server's slots), then start others."""
        worker.end()
        with self._cond:
            self._workers = [other for other in self._workers if other.process is not worker.process]
            closed = self._closed
            if closed:
                unserved = self._unserved()
        if closed:
            for handle in unserved:
                handle.finish(("cancelled", ""))
        else:
            threading.Thread(target=self.start, name="mytalk-phone-worker-start", daemon=True).start()

    def close(self) -> None:
        """End every worker: idle ones at once, a busy one when its task ends. Pending tasks are cancelled."""
        with self._cond:
            self._closed = True
            pending, self._pending = self._pending, []
            workers = list(self._workers)
            self._cond.notify_all()
        for _, _, handle in pending:
            handle.finish(("cancelled", ""))
        deadline = time.monotonic() + CLOSE_WAIT_S
        for worker in workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            worker.end()

