"""Engines built from stages: a motion stage plans the mouth, an appearance stage paints it.

The paper separates motion from appearance, and so do the engines. A job runs, in order:

1. tracking (`tracking.track_range`, or `track_feed.stream_range` on a thread of its own for a long
   range), owned by the job: the subject's mesh over the range and its handles, and each frame's face
   record;
2. `MotionStage.plan(job, tracked) -> MotionPlan`: where the lips and jaw go in every range frame,
   as frame-pixel points, with the mask mode, the phones and (for the guide) the real take to paint
   with. The classic engine plans from the line's phones, the guide or the line's loudness; the
   neural engine samples the paper's speech-to-landmark diffusion model;
3. `AppearanceStage.render(rows) -> MouthPatch`: the pixels of the planned mouth over a box, with
   the mask that bounds them (`composite.masks.edit_mask`). The classic engine warps the frame and
   paints the actor's own reference mouths; the neural engine runs the paper's generator;
4. the shared compositor, which writes only the changed samples in the source's pixel format.

Any motion stage works with any appearance stage, because the plan is in frame pixels, the one
coordinate system every stage already shares with the tracker. `StagedEngine` is the composition:
it owns the per-job state (made fresh by each `prepare`, so nothing leaks from one job into the
next) and the streaming loop (frames rendered ahead on a worker thread, in batches for a
generator, the guide's take frames held only as long as a later frame may still need them).

Stages may also stream: a motion stage with `plan_stream(job, tracked, resources, progress,
is_cancelled, wait) -> PlanStream` and an appearance stage with `prepare_stream(job, tracked, plans,
resources, progress, is_cancelled) -> WindowSteps` plan and prepare a window at a time, while the
job is still tracking (`wait`), and render asks each frame's window as it comes. The classic stages
do; when either stage of a pair does not, the range is tracked whole and planned whole first.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import av
import numpy as np

from mytalk.core.audio.line_phones import LineOrigin
from mytalk.core.composite.compositor import Compositor
from mytalk.core.composite.masks import Mask
from mytalk.core.engines.base import (
    ActorFootage,
    EngineJob,
    EngineSettings,
    FrameRecord,
    RenderedFrame,
    WaitFn,
    ready_now,
)
from mytalk.core.engines.tracking import NO_FACE, TrackedRange
from mytalk.core.frame_arrays import FrameArray, FrameSource, read_row
from mytalk.core.media.reader import SourceFrame
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled

if TYPE_CHECKING:
    from mytalk.core.audio.line_aside import LineTimingAside
    from mytalk.core.audio.phone_workers import PhoneWorkers

log = logging.getLogger(__name__)

PIPELINE_DEPTH = 1
"""Batches rendered ahead of the one being written: the mouth of frame n+1 is built while the writer
encodes frame n. OpenCV, numpy, torch and the encoders release the GIL, so on a 2-core machine this
hides most of the painting behind the encoder."""

PAINT_WORKERS_MAX = 4
"""Batches painted at once, at most, by a stage that allows it (`AppearanceStage.concurrent`). The
job's own thread encodes every frame, so past a few painters the encoder is the bottleneck."""


def paint_workers(stage: AppearanceStage) -> int:
    """Threads that paint batches at once: one per core up to `PAINT_WORKERS_MAX` for a stage whose
    `render` may run on several batches together, else one.

    Measured on 2 cores (512 px, 150 frames, FFV1, warm): the classic painter with two threads
    renders in 4.3 s against 6.7 s with one, with identical frames; its work is mostly OpenCV and
    numpy on whole arrays, which release the GIL."""
    if not stage.concurrent:
        return 1
    return max(1, min(PAINT_WORKERS_MAX, os.cpu_count() or 1))


@dataclass(frozen=True)
class MotionPlan:
    """Where the mouth goes in every range frame, in frame pixels.

    points: per range frame, (K, 2) float64 planned positions of the mesh points `point_index` (K,),
        NaN where there is no plan; every other point of the 478-point mesh stays where it was tracked.
        A `FrameSource` (an (T, K, 2) array is wrapped): the classic plan keeps a long range's points
        in a scratch file, read back a frame or a window at a time.
    valid: (T,) bool, the frame has a plan (and a face): the others pass through untouched.
    lower_face: (T,) bool, the frame's mask takes in the jaw and chin (else the mouth only).
    aperture: (T,) the planned inner-lip gap ÷ inter-ocular distance (NaN: no plan), for the report.
    phones, visemes: per range frame, what the mouth was told to show (empty when no phones were timed).
    takes: (T,) int64 clip frame whose real mouth is the target (the guide's re-timed take), or -1.
    driver: which driver made the plan; report: its decisions and figures for the job report.
    """

    points: FrameSource
    point_index: np.ndarray
    valid: np.ndarray
    lower_face: np.ndarray
    aperture: np.ndarray
    driver: str
    report: dict[str, Any] = field(default_factory=dict)
    phones: tuple[str, ...] = ()
    visemes: tuple[str, ...] = ()
    takes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if isinstance(self.points, np.ndarray):
            object.__setattr__(self, "points", FrameArray(self.points))

    @property
    def num_frames(self) -> int:
        return int(self.valid.size)

    def take_frames(self) -> np.ndarray:
        return self.takes if self.takes is not None else np.full(self.num_frames, -1, np.int64)

    def mesh(self, i: int, landmarks: np.ndarray) -> np.ndarray:
        """(478, 2) float64 target mesh of range frame `i`: the tracked `landmarks` with the plan's points moved."""
        out = np.asarray(landmarks, np.float64)[:, :2].copy()
        out[self.point_index] = read_row(self.points, i)
        return out

    def points_of(self, index: np.ndarray, landmarks: np.ndarray, begin: int = 0) -> np.ndarray:
        """(k, len(index), 2) planned positions of the mesh points `index` for range frames
        [begin, begin + k), the tracked position where the plan leaves a point alone.
        landmarks: (k, 478, 2|3) tracked meshes of those frames."""
        out = np.asarray(landmarks, np.float64)[:, index, :2].copy()
        planned = self.points.read(begin, begin + out.shape[0])
        where = {int(p): k for k, p in enumerate(self.point_index)}
        for j, p in enumerate(index):
            k = where.get(int(p))
            if k is not None:
                out[:, j] = planned[:, k]
        return out


class WindowSteps:
    """Work a stage does a window at a time behind the tracking: frames [0, `ready`) are final.

    `steps` yields the frames final after each window, and the total once the stage has also written
    its report; None: everything was done at once (a stage that does not stream).
    """

    def __init__(self, total: int, steps: Iterator[int] | None = None) -> None:
        self.total = total
        self._steps = steps
        self.ready = 0 if steps is not None else total

    def advance(self) -> int:
        """Do the next window; returns `ready`."""
        if self._steps is not None:
            ready = next(self._steps, None)
            if ready is None or ready >= self.total:
                self._steps = None
            self.ready = self.total if ready is None else ready
        return self.ready

    @property
    def done(self) -> bool:
        """Every frame final and the stage's report written."""
        return self._steps is None

    def until(self, frames: int) -> None:
        """Work until frames [0, frames) are final (all of them, report included, for the whole range)."""
        while not self.done and (self.ready < frames or frames >= self.total):
            self.advance()


class PlanStream(WindowSteps):
    """A motion plan made a window at a time: frames [0, `ready`) of `plan` are final.

    A motion stage that streams returns one whose steps plan the next window (waiting for its
    tracking); any other stage's whole plan is wrapped as one already complete. The plan's per-frame
    arrays are filled in place, so the object handed out first is the one that ends complete.
    """

    def __init__(self, plan: MotionPlan, steps: Iterator[int] | None = None) -> None:
        super().__init__(plan.num_frames, steps)
        self.plan = plan

    def complete(self) -> MotionPlan:
        """The whole plan."""
        self.until(self.total)
        return self.plan


@dataclass(frozen=True)
class PaintRow:
    """One range frame to paint: the frame, its tracked mesh, the plan's mesh for it, and the real take."""

    offset: int
    """Index in the range (0 = the range's first frame)."""
    source: SourceFrame
    landmarks: np.ndarray
    target: np.ndarray
    lower_face: bool
    take: tuple[av.VideoFrame, np.ndarray] | None = None


@dataclass(frozen=True)
class MouthPatch:
    """Painted RGB float32 (h, w, 3) in [0, 1] over `mask.box`, and the mask the compositor blends it
    with; `generated` None: nothing to change in this frame."""

    mask: Mask
    generated: np.ndarray | None


class JobResources:
    """What two stages of one job share, loaded once: an actor profile, a set of trained models.

    Each stage asks by name with a loader; the first ask loads. The engine makes a new one for each
    job, so nothing outlives the job it was loaded for. `phone_workers` are lent by the caller instead:
    a runtime's warm phone-timing processes, which outlive its jobs (None: a job spawns its own).
    """

    def __init__(self, phone_workers: PhoneWorkers | None = None) -> None:
        self._items: dict[str, Any] = {}
        self.phone_workers = phone_workers
        self._deferred: list[Callable[[], None]] = []
        self._deferring: threading.Thread | None = None

    def get(self, name: str, load: Callable[[], Any]) -> Any:
        if name not in self._items:
            self._items[name] = load()
        return self._items[name]

    def defer(self, work: Callable[[], None]) -> None:
        """Work the job's frames do not wait for (saving a profile just learned into the cache): it runs on
        a thread of its own once the job's first frame is out (`run_deferred`), and the job ends after it
        (`settle`), so the next job finds what it wrote. A failure is logged, never the job's."""
        self._deferred.append(work)

    def run_deferred(self) -> None:
        """Start the deferred work, if any and not started yet."""
        if self._deferring is not None or not self._deferred:
            return
        work, self._deferred = self._deferred, []

        def run_all() -> None:
            for item in work:
                try:
                    item()
                except Exception:
                    log.exception("deferred work of a job failed")

        # Not a daemon: a cache entry being written is finished even when the process is ending.
        self._deferring = threading.Thread(target=run_all, name="mytalk-job-deferred")
        self._deferring.start()

    def settle(self) -> None:
        """Run whatever is deferred and wait for it to end."""
        self.run_deferred()
        thread, self._deferring = self._deferring, None
        if thread is not None:
            thread.join()


class MotionStage(Protocol):
    """Plans the mouth of every range frame from the line (and the guide, the actor, the range)."""

    name: ClassVar[str]
    settings_honoured: ClassVar[tuple[str, ...]]

    def check(self, job: EngineJob, resources: JobResources) -> None:
        """Fail fast (UsageError, ModelNotFoundError…) before any tracking or decoding."""

    def plan(self, job: EngineJob, tracked: TrackedRange, resources: JobResources,
             progress: ProgressFn, is_cancelled: CancelFn) -> MotionPlan:
        ...

    def report(self) -> dict[str, Any]:
        ...


class AppearanceStage(Protocol):
    """Paints planned mouths: prepared once per job with the plan, then called frame by frame."""

    name: ClassVar[str]
    settings_honoured: ClassVar[tuple[str, ...]]
    batch_size: int
    """Frames per `render` call: 1 for per-frame painters, more for a generator that batches."""
    concurrent: bool
    """Whether `render` may run on several batches at once, on threads of its own (`paint_workers`):
    true for a painter whose frames do not depend on each other and whose shared state is locked.
    Batches still come back in order."""

    def check(self, job: EngineJob, resources: JobResources) -> None:
        ...

    def prepare(self, job: EngineJob, tracked: TrackedRange, plan: MotionPlan, resources: JobResources,
                progress: ProgressFn, is_cancelled: CancelFn) -> None:
        ...

    def render(self, rows: Sequence[PaintRow]) -> list[MouthPatch]:
        """One patch per row, in order."""
        ...

    def report(self) -> dict[str, Any]:
        ...


@dataclass
class _JobState:
    """Everything one job's render needs; replaced whole by each `prepare`.

    plans, paints: the motion plan and what the appearance stage needs, made a window at a time behind
    the tracking (or whole, for stages that do not stream); render asks for each frame's as it comes."""

    job: EngineJob
    tracked: TrackedRange
    compositor: Compositor
    plans: PlanStream
    paints: WindowSteps

    @property
    def plan(self) -> MotionPlan:
        return self.plans.plan


class StagedEngine:
    """An engine made of a motion stage and an appearance stage, composited by the shared compositor.

    Subclasses name the pair (`classic`, `mytalk`, and the mixed ones); `create_stages` makes fresh
    stage objects for each job.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0"
    needs_tracking: ClassVar[bool] = True

    def __init__(self) -> None:
        self.motion, self.appearance = self.create_stages()
        self.phone_workers: PhoneWorkers | None = None
        """Warm phone-timing processes a long-lived caller (the runtime) lends this engine's jobs."""
        self._resources = JobResources()
        self._state: _JobState | None = None
        self._checked: EngineJob | None = None

    @classmethod
    def create_stages(cls) -> tuple[MotionStage, AppearanceStage]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Import, ahead of any job, what a first job of this engine would import on its path to the first
        frame (a stage opts in with a `warm_up()` method). A runtime calls it while idle after its hello."""
        for stage in (self.motion, self.appearance):
            warm = getattr(stage, "warm_up", None)
            if warm is not None:
                warm()

    def lend_phone_workers(self, workers: PhoneWorkers | None) -> None:
        """Let this engine's jobs run their phone timing on `workers` (`phone_workers`)."""
        self.phone_workers = workers

    @classmethod
    def settings_honoured(cls) -> tuple[str, ...]:
        """The user settings this engine reads: the union of its stages' (the report lists the rest as ignored)."""
        motion, appearance = cls.create_stages()
        return tuple(dict.fromkeys((*motion.settings_honoured, *appearance.settings_honoured)))

    def check(self, job: EngineJob) -> None:
        """Fail fast on settings and missing models, before the job tracks or decodes anything."""
        self.motion, self.appearance = self.create_stages()
        self._resources = JobResources(self.phone_workers)
        self._state = None
        self._checked = None
        self.motion.check(job, self._resources)
        self.appearance.check(job, self._resources)
        self._checked = job

    def check_installed(self, settings: EngineSettings) -> None:
        """What `check` would find missing whatever the clip: trained models, a stored actor.

        Cheap (files are looked at, nothing is loaded), so a batch asks it once before its first shot: a
        missing model is then one line and exit 2, not every shot failing the same way."""
        for stage in (self.motion, self.appearance):
            installed = getattr(stage, "check_installed", None)
            if installed is not None:
                installed(settings)

    def prepare(self, job: EngineJob, tracked: TrackedRange | None, progress: ProgressFn,
                is_cancelled: CancelFn, wait: WaitFn = ready_now) -> None:
        """Start the plan. With stages that stream (`plan_stream`, `prepare_stream`: the module docstring)
        the plan and the appearance's inputs are made a window at a time while rendering, as `wait` says
        the tracking is in; otherwise whole, here, once the whole range is tracked."""
        if tracked is None:
            raise RuntimeError(f"engine {self.name} needs the tracked range")
        if self._checked is not job:
            self.check(job)  # fresh stages and resources for every job, whoever calls
        plan_stream = getattr(self.motion, "plan_stream", None)
        prepare_stream = getattr(self.appearance, "prepare_stream", None)
        if plan_stream is not None and prepare_stream is not None:
            plans: PlanStream = plan_stream(job, tracked, self._resources, progress, is_cancelled, wait)
        else:
            wait(job.num_frames)
            plans = PlanStream(self.motion.plan(job, tracked, self._resources, progress, is_cancelled))
        check_cancelled(is_cancelled, "preparation")
        if prepare_stream is not None:
            paints: WindowSteps = prepare_stream(job, tracked, plans, self._resources, progress, is_cancelled)
        else:
            plan = plans.complete()
            self.appearance.prepare(job, tracked, plan, self._resources, progress, is_cancelled)
            paints = WindowSteps(job.num_frames)
        check_cancelled(is_cancelled, "preparation")
        self._state = _JobState(job, tracked, Compositor.for_quality(job.settings.quality), plans, paints)

    def learn_actor(self, footage: ActorFootage, progress: ProgressFn, is_cancelled: CancelFn) -> bool:
        """Learn, into the caches, what this engine's stages will learn about the actor from `footage`
        in a job; True when a stage had something to learn (or found it cached).

        A stage opts in with a `learn_actor(footage, resources, progress, is_cancelled)` method; the two
        stages share one `JobResources`, so a profile both read is learned once, as in a job."""
        resources = JobResources(self.phone_workers)
        learned = False
        for stage in (self.motion, self.appearance):
            learn = getattr(stage, "learn_actor", None)
            if learn is not None:
                learned = learn(footage, resources, progress, is_cancelled) or learned
        resources.settle()  # what was learned is in the caches before this returns
        return learned

    def reference_tracking(self, job: EngineJob, progress: ProgressFn, is_cancelled: CancelFn) -> TrackedRange | None:
        """The job's range and handles read from the tracking of a reference that covers them, once the
        stages have learned the actor from the job's references; None when no reference on the clip covers
        them or no stage learns from references (a stored `--actor`, `--guide none`, the neural engine).

        Learning tracks every reference frame, so a range inside the default reference (the whole clip,
        up to 30 s) used to be tracked twice: once on its own, once to learn the actor. Now it is tracked
        once. The rule depends only on the job, never on what is cached, so a preview and the commit of
        the same job read the same meshes. The profile is learned into this job's resources, so the stages'
        `prepare` finds it without loading it again."""
        from mytalk.core.engines.tracking import covering_reference, job_tracker_settings, range_rows
        from mytalk.core.face.video_tracking import track_video_entry

        if self._checked is not job:
            self.check(job)
        ref = covering_reference(job)
        if ref is None:
            return None
        footage = ActorFootage(job.video, job.references, job.settings, guided=job.guide is not None)
        learned = False
        for stage in (self.motion, self.appearance):
            learn = getattr(stage, "learn_actor", None)
            if learn is not None:
                learned = bool(learn(footage, self._resources, progress, is_cancelled)) or learned
        if not learned:
            return None
        settings = job_tracker_settings(job.settings)
        first, last = range_rows(job)
        # Learning left the reference's tracking in the cache; this reads it (or, if the cache lost it,
        # tracks the reference again, the same frames with the same settings).
        entry = track_video_entry(ref.path, ref.start, ref.stop, settings, is_cancelled=is_cancelled,
                                  info=job.video if Path(ref.path) == Path(job.video.path) else None)
        check_cancelled(is_cancelled, "preparation")
        assert not isinstance(entry, list)  # observations in memory come back only without the cache
        if entry.index.size < last - int(ref.start):
            return None  # the footage ends before its probed length: the range is tracked on its own
        return TrackedRange.window_of(job.start, job.stop, first, last, entry, settings)

    def line_timing_aside(self, job: EngineJob) -> LineTimingAside | None:
        """The job's line timed in a process of its own from now on, when the motion stage will read its
        phones (`line_aside`; a stage opts in with a `line_timing_aside(job)` method, and waits for it
        before it reads them); None otherwise. The job closes it once `prepare` has returned."""
        start = getattr(self.motion, "line_timing_aside", None)
        return start(job, self._resources) if start is not None else None

    def learn_line(self, origin: LineOrigin, settings: EngineSettings, progress: ProgressFn,
                   is_cancelled: CancelFn) -> bool:
        """Time into the caches what the motion stage will read of a line placed at `origin`, before any
        range is marked; True when it had something to time. A stage opts in with a `learn_line` method
        of the same signature, and a `workers` argument: the phone processes lent to this engine
        (`lend_phone_workers`)."""
        learn = getattr(self.motion, "learn_line", None)
        if learn is None:
            return False
        return bool(learn(origin, settings, progress, is_cancelled, workers=self.phone_workers))

    def report(self) -> dict[str, Any]:
        state = self._state
        if state is None:
            return {}
        state.paints.until(state.job.num_frames)  # a job stopped early has nothing more to report
        state.plans.until(state.job.num_frames)
        return {**self.motion.report(), **self.appearance.report(),
                "frames_without_face": int((~state.tracked.found).sum())}

    # --- render ----------------------------------------------------------------------------------

    def render(self, frames: Iterator[SourceFrame], progress: ProgressFn,
               is_cancelled: CancelFn) -> Iterator[RenderedFrame]:
        """One RenderedFrame per source frame, in order (`_render`). Once the first frame of the range is
        out, the job's deferred work starts (`JobResources.defer`: a profile just learned is saved)."""
        deferred = False
        # Closed explicitly: a job that stops early (cancelled, failed) cancels the paint work at once.
        with closing(self._render(frames, progress, is_cancelled)) as rendering:
            for rendered in rendering:
                yield rendered
                if rendered.in_range and not deferred:
                    deferred = True
                    self._resources.run_deferred()

    def settle(self) -> None:
        """Wait for the job's deferred work (`JobResources.settle`); the job calls it before it ends."""
        self._resources.settle()

    def _render(self, frames: Iterator[SourceFrame], progress: ProgressFn,
                is_cancelled: CancelFn) -> Generator[RenderedFrame, None, None]:
        """One RenderedFrame per source frame, in order.

        Frames to paint go to a worker thread in batches of the appearance stage's size, one batch
        ahead of the writer (`PIPELINE_DEPTH`). With the guide's real takes a frame waits until the
        frame its mouth comes from has been read, and the frames a later one may still take from are
        held: memory stays bounded by the depth, the batch and the take reach. A worker's exception
        is raised here; results come back in order.
        """
        state = self._state
        if state is None:
            raise RuntimeError(f"{type(self).__name__}.render called before prepare")
        job, plan = state.job, state.plan
        takes = plan.take_frames()
        used = takes[takes >= 0]
        in_range = np.flatnonzero(takes >= 0)
        ahead = int(max(0, (used - (job.start + in_range)).max())) if used.size else 0
        behind = int(max(0, ((job.start + in_range) - used).max())) if used.size else 0
        held: dict[int, SourceFrame] = {}
        waiting: deque[SourceFrame] = deque()
        pending: deque[Future[list[RenderedFrame]]] = deque()
        batch: list[tuple[FrameRecord, PaintRow]] = []
        size = max(1, int(self.appearance.batch_size))

        def done(frames_out: list[RenderedFrame]) -> Future[list[RenderedFrame]]:
            future: Future[list[RenderedFrame]] = Future()
            future.set_result(frames_out)
            return future

        def flush() -> None:
            nonlocal batch
            if batch:
                pending.append(pool.submit(self._paint, state, batch))
                batch = []

        def submit(source: SourceFrame) -> None:
            record, row = self._row(state, source, held)
            if row is None:
                # A frame passing through: everything before it goes out first, in order, so memory
                # holds at most one batch whatever the length of a faceless stretch.
                flush()
                pending.append(done([RenderedFrame(source.index, source.in_range, source.frame, record)]))
            else:
                batch.append((record, row))
                if len(batch) >= size:
                    flush()
            for index in [i for i in held if i < source.index - behind]:
                del held[index]

        workers = paint_workers(self.appearance)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.name}-render") as pool:
            try:
                for source in frames:
                    check_cancelled(is_cancelled, f"rendering frame {source.index}")
                    if source.in_range:  # its plan and reference mouth, made behind the tracking
                        state.paints.until(source.index - job.start + 1)
                    if ahead or behind:
                        held[source.index] = source
                    waiting.append(source)
                    while waiting and waiting[0].index + ahead <= source.index:
                        submit(waiting.popleft())
                        while len(pending) > PIPELINE_DEPTH * workers:
                            yield from pending.popleft().result()
                while waiting:
                    submit(waiting.popleft())
                flush()
                while pending:
                    yield from pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def _row(self, state: _JobState, source: SourceFrame,
             held: dict[int, SourceFrame]) -> tuple[FrameRecord, PaintRow | None]:
        """The frame's report record, and what to paint (None: the frame passes through)."""
        if not source.in_range:
            return FrameRecord(source.index), None
        tracked, plan = state.tracked, state.plan
        i = source.index - state.job.start
        record = tracked.record(source.index)
        if not (tracked.found[i] and plan.valid[i]):
            record.face_found = False
            record.warnings.append(NO_FACE)
            return record, None
        landmarks = tracked.landmarks(i, i + 1)[0]
        take = None
        takes = plan.takes  # not take_frames(): that builds a whole-range array, and this runs per frame
        if takes is not None and takes[i] >= 0:
            index = int(takes[i])
            frame = source if index == source.index else held.get(index)
            mesh = tracked.mesh_at(index)
            if frame is not None and mesh is not None:
                take = (frame.frame, mesh)
        row = PaintRow(i, source, landmarks, plan.mesh(i, landmarks), bool(plan.lower_face[i]), take)
        return record, row

    def _paint(self, state: _JobState, batch: list[tuple[FrameRecord, PaintRow]]) -> list[RenderedFrame]:
        """Paint a batch (on the worker thread) and composite each patch into its frame."""
        patches = self.appearance.render([row for _, row in batch])
        out = []
        for (record, row), patch in zip(batch, patches, strict=True):
            frame = row.source.frame
            if patch.generated is not None and not patch.mask.is_empty:
                result = state.compositor.composite(frame, patch.generated, patch.mask)
                frame = result.frame
                record.mask_box = result.mask_box if result.changed_support is not None else None
                record.changed_pixels = result.changed_pixels
            plan = state.plan
            if np.isfinite(plan.aperture[row.offset]):
                record.planned_aperture = float(plan.aperture[row.offset])
            if plan.phones:
                record.phone, record.viseme = plan.phones[row.offset], plan.visemes[row.offset]
            out.append(RenderedFrame(row.source.index, True, frame, record))
        return out
