"""A batch on Ray (`--cluster ray|ray://HOST:PORT|auto`), when one machine is not enough.

Ray is an optional extra (`pip install mytalk[cluster]`); without it `--cluster` says how to get it.

- `--cluster ray` joins the Ray instance of this machine, or starts one sized to it; `ray://HOST:PORT`
  connects to a cluster's Ray Client server; `auto` uses the cluster named by `RAY_ADDRESS` (as the
  `ray` command line does), and fails with one line when it is not set.
- Each shot is a Ray task that declares what it needs: `SHOT_CPUS` CPUs, and one GPU when the engine
  is a neural one set to run on CUDA (or `auto` on a cluster that has GPUs). Each clip's actor is
  learned first, one task per clip.
- Workers read the inputs and write the outputs by path, so the cut's media, the lines and the batch
  folder must be on storage every node sees under the same path (NFS, SMB, a cluster file system),
  and `MYTALK_HOME` (the caches: tracking, actor profiles, phones) should be shared too, or each node
  learns each clip again (`docs/scale.md`). A worker writes its shot's files atomically itself; the
  driver only collects the outcomes and writes the cut's version and the report.
- A worker process lost mid-task (killed, out of memory, its node gone) makes Ray run the task again,
  `MAX_RETRIES` more time; a shot whose task dies again, or that fails twice with an error of its own,
  is reported as failed and the batch goes on.
- Progress comes back through a Ray queue; a cancel cancels every task (the running shots stop, their
  staged files go).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mytalk.core.errors import JobCancelledError, UsageError
from mytalk.core.jobs.commands import NotInstalledError
from mytalk.plugin.batch.driver import Runner
from mytalk.plugin.batch.plan import ShotJob
from mytalk.plugin.batch.shots import BatchSettings, ShotOutcome, learn_clip, render_shot

SHOT_CPUS = 1
"""CPUs a shot's task asks for: a job's decode, paint and encode overlap on about two cores, but
asking for one lets Ray place a shot on every core and the OS share them, as the local pool does."""
MAX_RETRIES = 1
NEURAL_ENGINES = ("mytalk", "classic-neural", "neural-classic")


def _ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise NotInstalledError("--cluster needs Ray: pip install 'mytalk[cluster]' (or pip install ray)") from error
    return ray


def cluster_address(cluster: str) -> str | None:
    """What `ray.init` is given for `--cluster`: None starts or joins the local Ray, else an address."""
    if cluster == "ray":
        return None
    if cluster == "auto":
        address = os.environ.get("RAY_ADDRESS")
        if not address:
            raise UsageError("--cluster auto: RAY_ADDRESS is not set; give --cluster ray://HOST:PORT or set it")
        return address
    if cluster.startswith("ray://"):
        return cluster
    raise UsageError(f"--cluster {cluster!r}: choose local, ray, auto or ray://HOST:PORT")


def _shot_task(job: ShotJob, folder: str, settings: BatchSettings, queue: Any) -> ShotOutcome:
    def progress(number: int, done: int, total: int, stage: str) -> None:
        try:
            queue.put_nowait((number, done, total, stage))
        except Exception:  # noqa: BLE001 - a full or gone progress queue must not fail the shot
            pass

    import ray

    node = ray.get_runtime_context().get_node_id()[:8]
    return render_shot(job, Path(folder), settings, progress, worker=f"ray node {node} pid {os.getpid()}")


def _learn_task(video: str, settings: BatchSettings) -> bool:
    return learn_clip(video, settings)


def _init(ray: Any, address: str | None, env: dict[str, str]) -> None:
    """`ray.init`, quietly; on failure Ray is shut down again, since a failed connection leaves it half
    set up in this process and the next `ray.init` here would trip over it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray's own timeout warning would be a second line
            ray.init(address=address, runtime_env={"env_vars": env} if env else None, log_to_driver=False,
                     include_dashboard=False, configure_logging=False)
    except BaseException:
        ray.shutdown()
        raise


class RayRunner(Runner):
    """Shots as Ray tasks (module docstring)."""

    name = "ray"
    runs_here = False

    def __init__(self, cluster: str = "ray", workers: int | None = None) -> None:
        self.address = cluster_address(cluster)
        self.requested_workers = workers
        self.workers = workers or 0
        self._ray: Any = None

    def connect(self) -> None:
        self._connect()

    def _connect(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = _ray()
        if not ray.is_initialized():
            env = {name: os.environ[name] for name in ("MYTALK_HOME",) if name in os.environ}
            where = self.address or "this machine"
            try:
                _init(ray, self.address, env)
            except ImportError as error:
                raise NotInstalledError(f"--cluster {where}: Ray Client is not installed ({error}); "
                                        "pip install 'mytalk[cluster]' (or pip install 'ray[client]')") from None
            except ValueError as error:
                if "ray[client]" in str(error):  # Ray says so with a ValueError when grpcio is missing
                    raise NotInstalledError(f"--cluster {where}: Ray Client is not installed; "
                                            "pip install 'mytalk[cluster]' (or pip install 'ray[client]')") from None
                raise UsageError(f"--cluster {where}: {error}") from None
            except (ConnectionError, TimeoutError) as error:
                raise UsageError(f"--cluster {where}: cannot reach the Ray cluster ({error}); check the address "
                                 "and that its head node runs the Ray Client server (port 10001 by default)") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = self.requested_workers or max(1, cpus // SHOT_CPUS)
        self._ray = ray
        return ray

    def _gpus(self, settings: BatchSettings) -> float:
        device = str(settings.settings.get("device", "auto"))
        if settings.engine not in NEURAL_ENGINES or device == "cpu":
            return 0.0
        has_gpu = self._connect().cluster_resources().get("GPU", 0) > 0
        return 1.0 if device == "cuda" or has_gpu else 0.0

    def learn(self, clips: Sequence[str], settings: BatchSettings) -> None:
        ray = self._connect()
        task = ray.remote(num_cpus=SHOT_CPUS, max_retries=MAX_RETRIES)(_learn_task)
        refs = [task.remote(clip, settings) for clip in clips]
        for ref in refs:
            try:
                ray.get(ref)
            except ray.exceptions.RayError:
                pass  # its shots learn on their own, or fail and say why

    def render(self, jobs: Sequence[ShotJob], folder: Path, settings: BatchSettings,
               on_progress: Callable[[tuple[int, int, int, str]], None], on_outcome: Callable[[ShotOutcome], None],
               cancel: threading.Event) -> list[ShotOutcome]:
        ray = self._connect()
        from ray.util.queue import Queue

        queue = Queue(maxsize=10_000)
        task = ray.remote(num_cpus=SHOT_CPUS, num_gpus=self._gpus(settings), max_retries=MAX_RETRIES)(_shot_task)
        attempts = {job.number: 1 for job in jobs}
        running = {task.remote(job, str(folder), settings, queue): job for job in jobs}
        outcomes: dict[int, ShotOutcome] = {}

        def finish(outcome: ShotOutcome) -> None:
            outcomes[outcome.number] = outcome
            on_outcome(outcome)

        try:
            while running:
                if cancel.is_set():
                    for ref in running:
                        ray.cancel(ref)
                    raise JobCancelledError(f"batch cancelled: {len(outcomes)} shot(s) finished; run it again to go on")
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
                self._drain(queue, on_progress)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as error:
                        # Ray already ran it again once (`max_retries`): its worker died both times.
                        finish(ShotOutcome(job.number, "failed", None, None, 0.0, attempts=1 + MAX_RETRIES,
                                           error=f"its Ray worker died {1 + MAX_RETRIES} times: {type(error).__name__}"))
                        continue
                    except ray.exceptions.RayTaskError as error:
                        outcome = ShotOutcome(job.number, "failed", None, None, 0.0,
                                              error=f"internal error: {error.cause!r}" if error.cause else str(error))
                    if outcome.status == "failed" and attempts[job.number] < 1 + MAX_RETRIES:
                        attempts[job.number] += 1
                        running[task.remote(job, str(folder), settings, queue)] = job
                        continue
                    finish(replace(outcome, attempts=attempts[job.number]))
        except BaseException:
            for ref in running:
                ray.cancel(ref)
            raise
        finally:
            self._drain(queue, on_progress)
        return [outcomes[job.number] for job in jobs]

    @staticmethod
    def _drain(queue: Any, on_progress: Callable[[tuple[int, int, int, str]], None]) -> None:
        deadline = time.perf_counter() + 0.1
        while time.perf_counter() < deadline:
            try:
                items = queue.get_nowait_batch(queue.qsize())
            except Exception:  # noqa: BLE001 - an empty or closed queue: nothing to show
                return
            if not items:
                return
            for item in items:
                on_progress(tuple(item))
