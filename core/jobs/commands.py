"""The plugin's commands: preview, commit, cancel and track, as named in `manifest.json`.

Every front end (the runtime process, the panel, a host shim, a test) calls these with a
`JobSession` as the first argument. The session holds what would otherwise be global state: the
cancel flags of the jobs it knows and the folder its previews go to. Two panels in one process
get two sessions and cannot cancel each other's jobs.

Both renders go through `run_sync`, the one render path:
- **preview** is the commit's render (quality "final": the same motion, actor profile and paint)
  written as an H.264 proxy of at most 540 lines to a per-job file in the user cache, so the editor
  judges, with the new audio, exactly what a commit would deliver, before paying for the final file.
  Its first rendered frame is also written at once as a PNG poster (`on_first_frame`), and every
  frame as it renders (`on_frames`, `preview_stream`), so the editor sees and scrubs the result
  while the rest of the range renders;
- **prepare** does everything a preview does before its first frame (tracking, the actor profile,
  the line's phones) into the caches, so the Preview that follows starts painting at once;
- **commit** is `run_sync` at final quality in the chosen codec, written as the next free version
  `<clip>_<in>-<out>_v001.mov` in the chosen folder, with a sidecar `<same stem>.json` report
  (inputs, hashes, settings, engine version) that reproduces the render. Nothing existing is
  ever overwritten.

`run_sync` polls the cancel check once per frame and puts a job's files in place in one step at
its very end (`mytalk.core.jobs.staging`), so a cancelled or failed job leaves no file at its
output paths: a commit's picture and sidecar appear together or not at all.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from mytalk.core.atomic import write_atomically
from mytalk.core.audio.phone_workers import PhoneWorkers
from mytalk.core.errors import MediaNotFoundError, MyTalkError, OutputError, UsageError, describe_os_error
from mytalk.core.jobs.clip_probes import ClipProbes
from mytalk.core.jobs.preview_stream import FRAMES_SUFFIX, FramesFn, FrameStream
from mytalk.core.jobs.request import ResolvedRequest, SyncRequest, line_channel_pick
from mytalk.core.jobs.sync import PREVIEW_PROXY_HEIGHT, FrameHook, SyncResult, run_sync
from mytalk.core.jobs.versioning import reserve_version, safe_stem
from mytalk.core.media.writer import CODEC_PRESETS, proxy_size
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress
from mytalk.core.settings import shipped_settings
from mytalk.core.tempnames import temp_path
from mytalk.core.timecode import frames_to_smpte
from mytalk.core.userdirs import user_dirs

PREVIEW_CODEC = "h264"
PREVIEW_SUFFIX = ".mp4"
POSTER_SUFFIX = ".first.png"

SIDECAR_SUFFIX = ".json"
_FRAME_IN_MESSAGE = re.compile(r"\bframe (\d+)\b")


PosterFn = Callable[[Path, int, int], None]
"""Told (poster path, range start, range stop) once the preview's first frame is on disk."""


class NotInstalledError(MyTalkError, ImportError):
    """An optional part of MyTalk (face tracking, an engine) is not installed in this version."""


def new_job_id() -> str:
    """A short unique job id, safe in file names."""
    return uuid.uuid4().hex[:12]


@dataclass
class JobSession:
    """Per-front-end state of the commands: cancel flags and the preview folder.

    `preview_dir` defaults to `user_dirs().cache / "previews"` (so `MYTALK_HOME` moves it);
    `max_previews` old proxies are kept there so that A/B against an earlier take stays possible,
    and older ones are pruned when a new preview is written.
    """

    preview_dir: Path = field(default_factory=lambda: user_dirs().cache / "previews")
    max_previews: int = 24
    phone_workers: PhoneWorkers | None = None
    """Warm phone-timing processes lent to every job (the runtime's; None: each job spawns its own)."""
    probes: ClipProbes = field(default_factory=ClipProbes)
    """The clips' probes, reused while each file is unchanged: a transport stream is demuxed whole per probe."""
    _known: set[str] = field(default_factory=set, repr=False)
    _cancelled: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, job_id: str) -> None:
        """Make `job_id` known so that `cancel` can find it, even before it starts running."""
        with self._lock:
            self._known.add(job_id)

    def finish(self, job_id: str) -> None:
        """Forget a job that has ended: cancelling it now is a no-op that returns False."""
        with self._lock:
            self._known.discard(job_id)
            self._cancelled.discard(job_id)

    def request_cancel(self, job_id: str) -> bool:
        """Flag a known job as cancelled; False when no such job is queued or running."""
        with self._lock:
            if job_id not in self._known:
                return False
            self._cancelled.add(job_id)
            return True

    def is_cancelled(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def cancel_all(self) -> list[str]:
        """Flag every known job as cancelled (shutdown); returns their ids."""
        with self._lock:
            self._cancelled |= self._known
            return sorted(self._known)


@dataclass(frozen=True)
class PreviewResult:
    """A proxy render: `path` holds frames [start, stop) of the clip with the new line muxed in."""

    job_id: str
    path: Path
    start: int
    stop: int
    fps: Fraction
    frames: int
    report: dict[str, Any]
    warnings: tuple[str, ...] = ()
    """The job's warnings about the whole render (`SyncResult.job_warnings`), what the command line prints."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the full report stays in `report`), with what the editor must be told of it
        (`job_notes`)."""
        return {
            "job_id": self.job_id,
            "path": str(self.path),
            "start": self.start,
            "stop": self.stop,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frames": self.frames,
            "in_timecode": frames_to_smpte(self.start, self.fps),
            "out_timecode": frames_to_smpte(self.stop, self.fps),
            **job_notes(self.report, self.warnings),
        }


@dataclass(frozen=True)
class CommitResult:
    """A final render: the versioned picture, its sidecar report and the version number."""

    job_id: str
    output: Path
    sidecar: Path
    version: int
    start: int
    stop: int
    fps: Fraction
    frames: int
    codec: str
    report: dict[str, Any]
    warnings: tuple[str, ...] = ()
    """As `PreviewResult.warnings`."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "output": str(self.output),
            "sidecar": str(self.sidecar),
            "version": self.version,
            "start": self.start,
            "stop": self.stop,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frames": self.frames,
            "codec": self.codec,
            "in_timecode": frames_to_smpte(self.start, self.fps),
            "out_timecode": frames_to_smpte(self.stop, self.fps),
            **job_notes(self.report, self.warnings),
        }


def job_notes(report: dict[str, Any], warnings: tuple[str, ...]) -> dict[str, Any]:
    """What a finished render's summary tells the editor beside its file, as the command line does after
    "wrote ...": `warnings`, the job's own (a clip or line cut short, a silent line, channels heard mixed; a
    single frame's stay in the report), and `faceless`, the runs of frames [start, stop) that passed through
    unchanged for want of the subject's face. A panel shows them where a result is judged."""
    faceless = sorted(int(index) for index in report.get("tracking", {}).get("faceless_frames", []))
    runs: list[list[int]] = []
    for index in faceless:
        if runs and runs[-1][1] == index:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
    return {"warnings": list(warnings), "faceless": runs}


@dataclass(frozen=True)
class TrackResult:
    """Where the face is on each frame of a range: one dict per frame (found, box, landmarks count)."""

    job_id: str
    start: int
    stop: int
    frames: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        found = sum(1 for frame in self.frames if frame.get("found"))
        return {"job_id": self.job_id, "start": self.start, "stop": self.stop, "frames_with_face": found,
                "frames": self.frames}


class _FrameTracker:
    """Wraps a progress callback to remember which source frame the render is on.

    `run_sync` reports render progress as `done` of `total` frames counted from the first frame
    it reads (the in point minus the handles), so the frame in hand is `first + done`. Error
    events name that frame when the error message itself does not.
    """

    def __init__(self, progress: ProgressFn, first_frame: int) -> None:
        self._progress = progress
        self.first_frame = first_frame
        self.current: int | None = None

    def __call__(self, done: int, total: int, stage: str) -> None:
        if stage == "render":
            self.current = self.first_frame + done
        self._progress(done, total, stage)


def failed_frame(error: BaseException) -> int | None:
    """The source frame an error happened on: set by the commands, or named in its message."""
    frame = getattr(error, "mytalk_frame", None)
    if isinstance(frame, int):
        return frame
    match = _FRAME_IN_MESSAGE.search(str(error))
    return int(match.group(1)) if match else None


def _combined_cancel(session: JobSession, job_id: str, is_cancelled: CancelFn) -> CancelFn:
    return lambda: is_cancelled() or session.is_cancelled(job_id)


def _run_tracked(session: JobSession, request: SyncRequest, first_frame: int, progress: ProgressFn,
                 is_cancelled: CancelFn, on_frame: FrameHook | None = None, *, vouch_inputs: bool = True) -> SyncResult:
    tracker = _FrameTracker(progress, first_frame)
    try:
        return run_sync(request, tracker, is_cancelled, on_frame, phone_workers=session.phone_workers,
                        vouch_inputs=vouch_inputs, clip_probes=session.probes)
    except Exception as error:
        if tracker.current is not None and failed_frame(error) is None:
            error.mytalk_frame = tracker.current  # type: ignore[attr-defined]
        raise


def _prune_previews(session: JobSession, keep: set[Path]) -> None:
    """Delete the oldest proxies and posters beyond `max_previews` each; never those in `keep`."""
    for suffix in (PREVIEW_SUFFIX, POSTER_SUFFIX):
        try:
            files = sorted(
                (p for p in session.preview_dir.glob(f"*{suffix}") if not p.name.startswith(".")),
                key=lambda p: p.stat().st_mtime,
            )
        except OSError:
            continue
        for old in files[: max(0, len(files) - session.max_previews)]:
            if old not in keep:
                old.unlink(missing_ok=True)


def write_poster(frame: Any, path: Path, max_height: int = PREVIEW_PROXY_HEIGHT) -> Path:
    """`frame` (an `av.VideoFrame`) as a display PNG at proxy size, written atomically.

    swscale converts with the frame's own colour tags, as the panel's decoder does, so the poster
    and the proxy's first frame look the same.
    """
    import cv2

    width, height = proxy_size(frame.width, frame.height, max_height)
    rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OutputError(f"{path}: the preview's first frame could not be encoded")
    try:
        # Under a temporary name owned by this process: a sweep of the cache finds it if we are killed.
        write_atomically(path, data.tobytes())
    except OSError as error:
        raise OutputError(f"cannot write {path}: {describe_os_error(OSError(error.errno, error.strerror))}") from None
    return path


def _proxy_request(session: JobSession, request: SyncRequest, start: int, stop: int, job_id: str) -> tuple[SyncRequest, str]:
    """(the request a preview renders, the proxy's file stem): the commit's render (quality "final", the
    same motion, profile and paint) written as a proxy, so what the editor judges is what a commit
    delivers, apart from size and codec."""
    stem = safe_stem(f"{request.video.stem}_{start}-{stop}_{job_id}")
    output = session.preview_dir / f"{stem}{PREVIEW_SUFFIX}"
    return replace(request, output=output, codec=PREVIEW_CODEC, quality="final", proxy=True, report=None), stem


def preview(
    session: JobSession,
    request: SyncRequest,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    *,
    job_id: str | None = None,
    on_first_frame: PosterFn | None = None,
    on_frames: FramesFn | None = None,
) -> PreviewResult:
    """Render the request's range as the commit would, into an H.264 proxy in the session's preview folder.

    The request's `output`, `codec`, `quality` and `report` are replaced: a preview is always a
    per-job file in the cache, never a deliverable. Returns where it went; raises a
    `MyTalkError` (cancelled, bad range, ...) with nothing left on disk. With `on_first_frame`,
    the first rendered frame is written as `<proxy stem>.first.png` as soon as it exists and the
    callback is told where (a failed or cancelled preview deletes it again). With `on_frames`, every
    rendered frame is written to a temporary folder beside the proxy as it comes and the callback is
    told how many are there (`preview_stream`); the folder is removed when the preview ends, whichever
    way, and by the cache clean-up when the process was killed.
    """
    job_id = job_id or new_job_id()
    session.register(job_id)
    try:
        cancelled = _combined_cancel(session, job_id, is_cancelled)
        check_cancelled(cancelled, "preview set-up")
        resolved = session.probes.resolve(request)
        session.preview_dir.mkdir(parents=True, exist_ok=True)
        proxy, stem = _proxy_request(session, request, resolved.start, resolved.stop, job_id)
        output = proxy.output
        first = max(0, resolved.start - request.handles)
        poster = session.preview_dir / f"{stem}{POSTER_SUFFIX}"

        # Named as a temporary of this process: a runtime killed mid-preview leaves it to the next clean-up.
        stream = None if on_frames is None else FrameStream(
            temp_path(session.preview_dir / f"{stem}{FRAMES_SUFFIX}"), resolved.stop - resolved.start,
            lambda folder, ready: on_frames(folder, ready, resolved.start, resolved.stop), PREVIEW_PROXY_HEIGHT)

        def show(offset: int, frame: Any) -> None:
            if offset == 0 and on_first_frame is not None:
                on_first_frame(write_poster(frame, poster), resolved.start, resolved.stop)
            if stream is not None:
                stream.add(offset, frame)

        try:
            # Never a deliverable: its report reads no input whole for a digest (`jobs.input_hashes`).
            result = _run_tracked(session, proxy, first, progress, cancelled,
                                  show if on_first_frame or on_frames else None, vouch_inputs=False)
        except BaseException:
            poster.unlink(missing_ok=True)
            raise
        finally:
            if stream is not None:
                stream.discard()
        _prune_previews(session, {output, poster})
        return PreviewResult(job_id, result.output, resolved.start, resolved.stop, resolved.fps,
                             result.frames_written, result.report, result.job_warnings)
    finally:
        session.finish(job_id)


@dataclass(frozen=True)
class PrepareResult:
    """A prepared range: what a preview or commit of the same request will find in the caches."""

    job_id: str
    start: int
    stop: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "start": self.start, "stop": self.stop, "seconds": round(self.seconds, 3)}


def prepare(
    session: JobSession,
    request: SyncRequest,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    *,
    job_id: str | None = None,
) -> PrepareResult:
    """Do everything a preview of `request` does before its first frame, and keep it in the caches.

    The tracking of the range and its handles, the actor profile learned from the references, and the
    line's phones are cached by content (clip hash and range, references, the placed line's samples),
    so a preview or commit of the same request that follows starts painting at once. The panel sends
    this as soon as the clip, the line and the marks are set, and cancels it when they change: an
    editor takes a few seconds between marking a range and pressing Preview, and the first frame then
    costs only its own painting. Nothing is written outside the caches.
    """
    job_id = job_id or new_job_id()
    session.register(job_id)
    try:
        cancelled = _combined_cancel(session, job_id, is_cancelled)
        check_cancelled(cancelled, "preparation")
        began = time.perf_counter()
        resolved = session.probes.resolve(request)
        session.preview_dir.mkdir(parents=True, exist_ok=True)  # the output's folder is checked, though nothing is written
        planned, _ = _proxy_request(session, request, resolved.start, resolved.stop, job_id)
        run_sync(planned, progress, cancelled, plan_only=True, phone_workers=session.phone_workers,
                 clip_probes=session.probes)
        return PrepareResult(job_id, resolved.start, resolved.stop, time.perf_counter() - began)
    finally:
        session.finish(job_id)


@dataclass
class LearnResult:
    """An actor learned ahead of any job: whether the engine had anything to learn from the clip."""

    job_id: str
    learned: bool
    seconds: float
    line_timed: bool = False
    """The request named a line (an `audio` other than the clip) and its phones were timed ahead."""

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "learned": self.learned, "seconds": round(self.seconds, 3),
                "line_timed": self.line_timed}


def _learn_line(engine: Any, request: SyncRequest, resolved: ResolvedRequest, progress: ProgressFn,
                cancelled: CancelFn) -> bool:
    """Have the engine time the request's line ahead (`StagedEngine.learn_line`) when the request names
    one other than the clip; whether it had anything to time."""
    from mytalk.core.audio.line_phones import LineOrigin
    from mytalk.core.timecode import parse_offset_seconds

    line = Path(request.audio)
    learn = getattr(engine, "learn_line", None)
    if learn is None or line.resolve() == Path(request.video).resolve():
        return False
    if not line.is_file():
        raise MediaNotFoundError(f"{line}: no such file (the replacement line)")
    assert resolved.info.video is not None
    offset = (parse_offset_seconds(request.audio_in, resolved.info.video.fps, what="--audio-in")
              if request.audio_in else Fraction(0))
    pick = line_channel_pick(request)
    check_cancelled(cancelled, "timing the line")
    return bool(learn(LineOrigin.picked(line, offset, pick), resolved.settings, progress, cancelled))


def learn_actor(
    session: JobSession,
    request: SyncRequest,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    *,
    job_id: str | None = None,
) -> LearnResult:
    """Learn the actor from the clip of `request` into the caches, before a line or a range is chosen.

    Only the clip, the references, the engine and the settings of `request` are read: its marks and
    output are not, and its line only when it names one. The panel sends this as soon as a clip is
    open. Learning the actor from the clip (the whole clip up to 30 s, else a 20 s sample of it) is most
    of a first preview's wait (seconds on two cores) and depends on neither the line nor the marks, so
    it runs while the editor marks the range and picks the line; the `prepare` and the preview that
    follow find it in the profile cache. An engine with nothing to learn ahead (`copy`, the neural
    engine, a stored `--actor`, `--guide none`) answers at once with `learned` false.

    When `request.audio` names a line other than the clip, the engine then also times that line's
    phones from `audio_in` on (`StagedEngine.learn_line`, `line_timed` in the result): the panel sends
    such a learn when a line is picked, before the marks are set.
    """
    from mytalk.core.engines import create_engine, default_engine
    from mytalk.core.engines.base import ActorFootage

    job_id = job_id or new_job_id()
    session.register(job_id)
    try:
        cancelled = _combined_cancel(session, job_id, is_cancelled)
        check_cancelled(cancelled, "learning the actor")
        began = time.perf_counter()
        resolved = session.probes.resolve(replace(request, in_point=None, out_point=None, audio_in=None))
        engine = create_engine(request.engine or default_engine(), session.phone_workers)
        footage = ActorFootage(resolved.info, resolved.references, resolved.settings,
                               guided=request.guide != "none" and resolved.info.audio is not None)
        learn = getattr(engine, "learn_actor", None)
        learned = bool(learn(footage, progress, cancelled)) if learn is not None else False
        line_timed = _learn_line(engine, request, resolved, progress, cancelled)
        return LearnResult(job_id, learned, time.perf_counter() - began, line_timed)
    finally:
        session.finish(job_id)


def commit_target(request: SyncRequest, codec: str) -> tuple[Path, str]:
    """Output folder and container suffix of a commit.

    `request.output` names the folder. When it names a file instead (it has a suffix and is not
    an existing folder), the file's folder is used and its suffix picks the container, so a host
    that asks for `.../shot.mov` still gets versioned names beside it.
    """
    preset = CODEC_PRESETS.get(codec)
    if preset is None:
        raise UsageError(f"unknown codec {codec!r}; choose one of {', '.join(CODEC_PRESETS)}")
    target = Path(request.output).expanduser()
    if target.suffix and not target.is_dir():
        suffix = target.suffix.lower()
        if suffix not in preset.extensions:
            raise UsageError(f"{target}: codec {codec!r} cannot be written to {suffix}; use {' or '.join(preset.extensions)}")
        return target.parent, suffix
    return target, preset.extensions[0]


def commit(
    session: JobSession,
    request: SyncRequest,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    *,
    job_id: str | None = None,
) -> CommitResult:
    """Render the final file as the next free version in the chosen folder, plus its sidecar.

    Names are `<clip>_<in>-<out>_vNNN<ext>` and `<clip>_<in>-<out>_vNNN.json` with clip-relative
    frame numbers (out exclusive, as everywhere in MyTalk). The version is reserved atomically, so
    concurrent commits of the same range get different numbers. Quality is forced to "final";
    the codec defaults to the manifest's `codec` setting.

    What killed jobs left is undone first (`mytalk.core.jobs.cleanup`), as the runtime does when it
    starts: a half-placed picture of a commit killed in another process would otherwise take v001,
    and the render that follows a crash would be v002 with no v001 anywhere.
    """
    import logging

    from mytalk.core.jobs.cleanup import clean_leftovers

    job_id = job_id or new_job_id()
    session.register(job_id)
    try:
        cancelled = _combined_cancel(session, job_id, is_cancelled)
        check_cancelled(cancelled, "commit set-up")
        resolved = session.probes.resolve(request)
        # The manifest's default preset (ProRes 422 HQ, the mezzanine most editors accept).
        codec = request.codec or str(shipped_settings()["codec"].default_value)
        folder, suffix = commit_target(request, codec)
        try:
            swept = clean_leftovers().summary()
        except Exception as error:  # noqa: BLE001 - tidying up after others must never fail this commit
            swept = f"could not check for files left by interrupted jobs: {error}"
        if swept:
            logging.getLogger("mytalk.commands").warning("%s", swept)
        stem = f"{request.video.stem}_{resolved.start}-{resolved.stop}"
        with reserve_version(folder, stem, (suffix, SIDECAR_SUFFIX)) as slot:
            final = replace(request, output=slot.path(suffix), codec=codec, quality="final",
                            report=slot.path(SIDECAR_SUFFIX))
            first = max(0, resolved.start - request.handles)
            # The picture and its sidecar are put in place together by run_sync's commit step: a
            # picture without its report would be an unreproducible render.
            result = _run_tracked(session, final, first, progress, cancelled)
        return CommitResult(job_id, result.output, slot.path(SIDECAR_SUFFIX), slot.version, resolved.start,
                            resolved.stop, resolved.fps, result.frames_written, codec, result.report,
                            result.job_warnings)
    finally:
        session.finish(job_id)


def cancel(session: JobSession, job_id: str) -> bool:
    """Ask a queued or running job of this session to stop; False when the id is unknown or done.

    The job notices within one frame (run_sync polls per frame), raises `JobCancelledError` and
    leaves no output file.
    """
    return session.request_cancel(job_id)


def track(
    session: JobSession,
    video: Path,
    start: int,
    stop: int,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    *,
    face_point: tuple[float, float] | None = None,
    job_id: str | None = None,
) -> TrackResult:
    """Find the face on frames [start, stop) of `video`, for the panel's face pick.

    `face_point` (source pixels) picks the subject when several faces are in frame. Uses
    `mytalk.core.face.track_video` when the face tracker is installed; raises `NotInstalledError`
    (which the runtime reports as an error event) when it or its model runtime is missing.
    """
    missing = NotInstalledError(
        "face tracking is not installed in this version of MyTalk; pick the face by clicking it, "
        "the engine tracks it during the render"
    )
    try:
        from mytalk.core import face

        track_video = face.track_video
        settings = face.TrackerSettings(face_point=face_point)
    except (ImportError, AttributeError):
        raise missing from None
    job_id = job_id or new_job_id()
    session.register(job_id)
    try:
        cancelled = _combined_cancel(session, job_id, is_cancelled)
        try:
            observations = track_video(video, start, stop, settings, progress=progress, is_cancelled=cancelled,
                                       info=session.probes.probe(video))
        except ImportError:  # mediapipe, loaded on first use, is absent
            raise missing from None
        frames: list[dict[str, Any]] = []
        for offset, obs in enumerate(observations):
            box = getattr(obs, "box", None)
            landmarks = getattr(obs, "landmarks", None)
            frames.append({
                "index": int(getattr(obs, "index", start + offset)),
                "found": bool(getattr(obs, "found", False)),
                "box": [float(v) for v in box] if box is not None else None,
                "landmarks": 0 if landmarks is None else len(landmarks),
            })
        return TrackResult(job_id, start, stop, frames)
    finally:
        session.finish(job_id)
