"""The default place a batch runs: a pool of worker processes on this machine, no service needed.

Each worker is a fresh Python process (`spawn`: no state copied from the driver, the same start as
a Ray worker) that renders one shot at a time with `shots.render_shot`. Progress comes back on a
queue and is shown by the driver; a cancel sets an event every worker's job polls between frames,
so a cancelled shot stops within a frame and, its files being staged, leaves nothing.

A worker process that dies mid-shot (killed, out of memory) breaks a `ProcessPoolExecutor` for
every shot it holds. The pool is then made again and the shots that were in flight are submitted
again; a shot that was in flight at two such deaths, or that failed twice with an error of its own,
is reported as failed, and the batch goes on with the others.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any

from mytalk.core.errors import JobCancelledError
from mytalk.plugin.batch.driver import Runner
from mytalk.plugin.batch.plan import ShotJob
from mytalk.plugin.batch.shots import BatchSettings, ShotOutcome, learn_clip, render_shot

MAX_ATTEMPTS = 2
"""A shot is tried at most this often: once, and once more after its worker died or it failed."""

ProgressEvent = tuple[int, int, int, str]
"""(shot number, done, total, stage), as workers put them on the queue."""


def default_workers() -> int:
    """Workers for this machine: one shot renders on about two cores (decode, paint, encode overlap)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _run_in_worker(job: ShotJob, folder: str, settings: BatchSettings, events: Any, stop: Any) -> ShotOutcome:
    """One shot in a worker process; `events` and `stop` are the driver's manager queue and event (proxies)."""

    def progress(number: int, done: int, total: int, stage: str) -> None:
        events.put((number, done, total, stage))

    return render_shot(job, Path(folder), settings, progress, stop.is_set, worker=f"local pid {os.getpid()}")


def run_local(jobs: Sequence[ShotJob], folder: Path, settings: BatchSettings, *, workers: int | None = None,
              on_progress: Callable[[ProgressEvent], None] | None = None,
              on_outcome: Callable[[ShotOutcome], None] | None = None,
              cancel: threading.Event | None = None) -> list[ShotOutcome]:
    """Render `jobs` on a local pool; returns one outcome per job, in job order.

    `cancel` (set by the caller, e.g. on Ctrl-C) stops the running shots within a frame and the
    queued ones before they start; `JobCancelledError` is raised once the workers have stopped."""
    workers = workers or default_workers()
    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    events: Any = manager.Queue()
    stop: Any = manager.Event()
    outcomes: dict[int, ShotOutcome] = {}
    attempts: dict[int, int] = {job.number: 0 for job in jobs}
    pending = list(jobs)
    done_reading = threading.Event()

    def relay() -> None:
        while not done_reading.is_set():
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if on_progress is not None:
                on_progress(event)

    reader = threading.Thread(target=relay, name="mytalk-batch-progress", daemon=True)
    reader.start()
    try:
        while pending:
            pending = _one_pool(pending, str(folder), settings, min(workers, len(pending)), context, events, stop,
                                attempts, outcomes, on_outcome, cancel)
        return [outcomes[job.number] for job in jobs]
    finally:
        done_reading.set()
        reader.join(timeout=2)
        manager.shutdown()


def _one_pool(pending: list[ShotJob], folder: str, settings: BatchSettings, workers: int, context: Any, events: Any,
              stop: Any, attempts: dict[int, int], outcomes: dict[int, ShotOutcome],
              on_outcome: Callable[[ShotOutcome], None] | None, cancel: threading.Event | None) -> list[ShotJob]:
    """Run `pending` on one pool until done or the pool breaks; returns the shots to run again."""
    again: list[ShotJob] = []

    def finish(outcome: ShotOutcome) -> None:
        outcomes[outcome.number] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running: dict[Future[ShotOutcome], ShotJob] = {}
        for job in pending:
            attempts[job.number] += 1
            running[pool.submit(_run_in_worker, job, folder, settings, events, stop)] = job
        while running:
            try:
                finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            except BaseException:
                # Ctrl-C or a stop signal in the driver: the running shots stop within a frame (their
                # staged files go), the queued ones never start, and the pool is then shut down.
                stop.set()
                for future in running:
                    future.cancel()
                raise
            if cancel is not None and cancel.is_set() and not stop.is_set():
                stop.set()
                for future in running:
                    future.cancel()
            for future in finished:
                job = running.pop(future)
                if future.cancelled():
                    continue
                try:
                    outcome = future.result()
                except JobCancelledError:
                    continue
                except BrokenProcessPool:
                    if attempts[job.number] < MAX_ATTEMPTS:
                        again.append(job)
                    else:
                        finish(ShotOutcome(job.number, "failed", None, None, 0.0, error="its worker process died "
                                           f"{attempts[job.number]} times (killed or out of memory)",
                                           attempts=attempts[job.number]))
                    continue
                except Exception as error:  # noqa: BLE001 - a bug in one shot is that shot's failure, not the batch's
                    outcome = ShotOutcome(job.number, "failed", None, None, 0.0,
                                          error=f"internal error: {type(error).__name__}: {error}")
                if outcome.status == "failed" and attempts[job.number] < MAX_ATTEMPTS:
                    again.append(job)
                    continue
                finish(replace(outcome, attempts=attempts[job.number]))
    if cancel is not None and cancel.is_set():
        raise JobCancelledError(f"batch cancelled: {len(outcomes)} shot(s) finished, the rest were stopped; "
                                "run the same command again to go on")
    return sorted(again, key=lambda job: job.number)


def _learn_in_worker(video: str, settings: BatchSettings, stop: Any) -> bool:
    return learn_clip(video, settings, stop.is_set)


class LocalRunner(Runner):
    """The local pool as the driver's runner."""

    name = "local pool"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()

    def learn(self, clips: Sequence[str], settings: BatchSettings) -> None:
        """Each clip's actor in a worker of its own, as many at once as there are workers."""
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager:
            stop: Any = manager.Event()
            with ProcessPoolExecutor(max_workers=min(self.workers, len(clips)), mp_context=context) as pool:
                futures = [pool.submit(_learn_in_worker, clip, settings, stop) for clip in clips]
                try:
                    for future in futures:
                        try:
                            future.result()
                        except BrokenProcessPool:
                            pass  # its shots learn on their own, and are retried if their worker dies too
                except BaseException:
                    stop.set()
                    raise

    def render(self, jobs: Sequence[ShotJob], folder: Path, settings: BatchSettings,
               on_progress: Callable[[ProgressEvent], None], on_outcome: Callable[[ShotOutcome], None],
               cancel: threading.Event) -> list[ShotOutcome]:
        return run_local(jobs, folder, settings, workers=self.workers, on_progress=on_progress, on_outcome=on_outcome,
                         cancel=cancel)
