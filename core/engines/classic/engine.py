"""`--engine classic`: the embedded default. Mouth motion from speech or the guide, mouth pixels from the actor.

prepare (needs the whole line before the first frame):
1. track the range and its handles (`track_video`, cached by file hash);
2. the actor: `--actor NAME` loads a stored profile; otherwise a temporary one is learned from the
   `--reference` ranges only. Under `--guide none` the sound of the edit range is never learned
   from, even when a reference covers it;
3. the driver: `guide` re-times the range's real mouth along the line's alignment to the guide;
   `phonetic` times the line's phones (transcript, else recognition) and plans the actor's mouth
   per phone; `speech` predicts the mouth from the line's loudness with the profile's regression.
   `auto` aligns when a guide is there and lets the alignment cost decide; for new words it takes
   `phonetic` when the phones explain the line (`PHONES_EXPLAIN`), else `speech` (decisions and
   their figures in the report);
4. the plan (openness, smoothing, mask mode per frame) and the retrieval path through the actor's
   reference mouths.

render streams one frame in, one frame out: frames without a usable face (and handles) pass through
untouched, the others get the jaw warp, the retrieved mouth and the compositor. Memory does not grow
with the range: per frame only the plan's few hundred numbers are kept, and the reference crops are
bounded by the profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mytalk.core.engines.base import EngineJob, FrameRecord, ReferenceRange, RenderedFrame
from mytalk.core.engines.classic.geometry import Poses, fit_poses, frontalise, lower_face_index
from mytalk.core.engines.classic.motion import (
    MotionPlan,
    finish_plan,
    frontal_to_canonical,
    nose_taper,
    subnasale_canonical,
)
from mytalk.core.engines.classic.profile import ActorProfile, cached_build_profile, load_profile
from mytalk.core.engines.classic.retrieval import Selection, retrieval_weight, select_path, shape_descriptors
from mytalk.core.errors import UsageError
from mytalk.core.face.canonical import apply_transform, invert_transform, similarity_to_canonical_batch
from mytalk.core.face.tracker import FaceObservation, TrackerSettings, track_video
from mytalk.core.media.reader import SourceFrame
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled

DRIVERS = ("auto", "guide", "phonetic", "speech")
MASK_MODES = ("auto", "mouth", "lower-face")
NO_FACE = "no usable face: frame passed through unchanged"
PIPELINE_DEPTH = 1
"""Frames rendered ahead of the one being written (see `ClassicEngine.render`)."""
TAKE_WINDOW_S = 0.6
TAKE_BUFFER_BYTES = 256 * 2**20
"""The guide driver paints frame t with the real take at map(t), a frame of the same range. Frames are
streamed, so render holds the source frames between map(t) and t: at most 0.6 s of them (ADR pause
edits move the words by 0.1-0.3 s each) and at most 256 MB whatever the picture size. Frames whose
take lies further away are painted by retrieval instead."""


def _check_settings(job: EngineJob) -> None:
    s = job.settings
    if s.motion_driver not in DRIVERS:
        raise UsageError(f"--motion-driver {s.motion_driver!r}: choose one of {', '.join(DRIVERS)}")
    if s.mask_mode not in MASK_MODES:
        raise UsageError(f"--mask {s.mask_mode!r}: choose one of {', '.join(MASK_MODES)}")
    if not (0.0 <= s.openness <= 3.0):
        raise UsageError(f"--openness {s.openness}: give a strength from 0 (closed) to 3 (1.0 = as learned)")
    if not (0.0 <= s.smoothing <= 1.0):
        raise UsageError(f"--smoothing {s.smoothing}: give a value from 0 (none) to 1 (strongest)")
    if s.motion_driver == "guide" and job.guide is None:
        raise UsageError("--motion-driver guide needs the clip's own sound over the range; drop --guide none "
                         "or use --motion-driver speech")


PHONES_EXPLAIN = 0.5
"""`auto` drives new words by phones when at least half of the line's voiced frames fall on a timed
phone (not silence). Below that the phone timing missed the speech (noise, music, a failed
recognition), and the loudness-driven speech driver at least keeps the rhythm."""


TRANSCRIPT_COVERS = 0.8
"""A transcript whose aligned words leave more than a fifth of the line's voiced frames without a phone
is missing words (or is for another take): the report says so, and the panel's lane shows where."""


class ClassicEngine:
    """Speech- or guide-driven mouth motion painted with the actor's own reference mouths."""

    name: ClassVar[str] = "classic"
    version: ClassVar[str] = "1.0"

    def __init__(self) -> None:
        self._job: EngineJob | None = None
        self._obs: dict[int, FaceObservation] = {}
        self._plan: MotionPlan | None = None
        self._pixels: np.ndarray | None = None
        self._selection: Selection | None = None
        self._profile: ActorProfile | None = None
        self._report: dict[str, Any] = {}
        self._mouth_weight = np.zeros(0)
        self._template = np.zeros((478, 2))
        self._profile_cached = False
        self._renderer: Any = None
        self._takes = np.zeros(0, np.int64)
        self._time_map: np.ndarray | None = None
        self._frame_phones: list[str] = []
        self._frame_visemes: list[str] = []
        self._planned_aperture = np.zeros(0)

    # --- prepare ---------------------------------------------------------------------------------

    def prepare(self, job: EngineJob, progress: ProgressFn, is_cancelled: CancelFn) -> None:
        _check_settings(job)
        self._job = job
        self._time_map = None
        self._frame_phones, self._frame_visemes = [], []
        video = job.video.video
        assert video is not None
        settings = TrackerSettings(face_point=job.settings.face_point)
        first = max(0, job.start - job.handles)
        last = min(video.frame_count, job.stop + job.handles)
        observations = track_video(job.video.path, first, last, settings, progress=progress, is_cancelled=is_cancelled)
        self._obs = {o.index: o for o in observations}
        check_cancelled(is_cancelled, "preparation")

        profile = self._load_or_build_profile(job, settings, progress, is_cancelled)
        self._profile = profile
        check_cancelled(is_cancelled, "preparation")

        n = job.num_frames
        range_obs = [self._obs[i] for i in range(job.start, job.stop)]
        lm = np.stack([o.landmarks for o in range_obs])  # float32; point subsets go to float64 where used
        found = np.array([o.found for o in range_obs], bool)
        poses = fit_poses(lm, found)
        transforms, _ = similarity_to_canonical_batch(lm)
        lf = lower_face_index()
        source = apply_transform(lm[:, lf], transforms)
        valid = found & np.isfinite(source).all(axis=(1, 2)) & poses.ok
        # The warp's mesh topology is made once, on the range's mean face in the canonical frame (200
        # frames spread over the range are plenty, and keep this step's memory flat).
        picks = np.flatnonzero(valid)[:: max(1, int(valid.sum()) // 200)]
        self._template = (apply_transform(lm[picks], transforms[picks]).mean(axis=0) if picks.size
                          else np.zeros((lm.shape[1], 2)))

        frontal = frontalise(lm[:, lf], poses)
        driver, target, gate, driver_report = self._drive(job, profile, source, frontal, found, poses, transforms, n,
                                                          progress, is_cancelled)
        closed = frontal_to_canonical(np.repeat(profile.speech.closed[None], n, axis=0), poses, transforms)
        template = int(np.flatnonzero(valid)[0]) if valid.any() else 0
        taper = nose_taper(source[template], subnasale_canonical(lm[template : template + 1], transforms[template : template + 1])[0])
        valid &= np.isfinite(target).all(axis=(1, 2))
        points, lower, figures = finish_plan(
            np.where(valid[:, None, None], target, source), source, closed, valid, taper,
            openness=job.settings.openness, smoothing=job.settings.smoothing, mask_mode=job.settings.mask_mode,
            driver=driver,
        )
        self._plan = MotionPlan(points=points, gate=gate, lower_face=lower, driver=driver,
                                report={**driver_report, **figures})
        # Pixel targets of every range frame, so render() only looks up.
        pixels = np.full((n, lf.size, 2), np.nan)
        if valid.any():
            pixels[valid] = apply_transform(points[valid], invert_transform(transforms[valid]))
        self._pixels = pixels
        self._planned_aperture = planned_aperture_px(pixels, lm)
        self._takes = self._take_frames(job, found, valid)

        app = profile.appearance
        index_desc = shape_descriptors(profile.frames.canon[app.rows].astype(np.float64))
        self._mouth_weight = retrieval_weight(points, source, valid)
        self._selection = select_path(index_desc, profile.frames.block[app.rows], profile.frames.frame[app.rows],
                                      shape_descriptors(points), valid)
        # The line's phone track sits at the top of the engine report, where every engine puts it
        # (the panel's viseme lane reads it there); the motion section keeps the decisions.
        phones = self._plan.report.pop("phones", None)
        self._report = {
            "driver": driver,
            **({"phones": phones} if phones is not None else {}),
            "motion": self._plan.report,
            "retrieval": {**self._selection.stats,
                          "frames_painted": int(((self._mouth_weight > 0.5) & (self._takes < 0)).sum()),
                          "frames_own_mouth": int((valid & (self._mouth_weight <= 0.5) & (self._takes < 0)).sum()),
                          "frames_from_take": int((self._takes >= 0).sum())},
            "profile": {**profile.summary(), "from_cache": self._profile_cached,
                        "appearance_source_frames": profile.appearance_frames()},
            "controls": {"openness": job.settings.openness, "smoothing": job.settings.smoothing,
                         "mask_mode": job.settings.mask_mode, "quality": job.settings.quality,
                         "motion_driver": job.settings.motion_driver},
            "frames_without_face": int((~found).sum()),
        }

    def _load_or_build_profile(
        self, job: EngineJob, settings: TrackerSettings, progress: ProgressFn, is_cancelled: CancelFn
    ) -> ActorProfile:
        if job.settings.actor:
            return load_profile(job.settings.actor)
        exclude = (ReferenceRange(Path(job.video.path), job.start, job.stop),) if job.guide is None else ()
        profile, cached = cached_build_profile(job.references, exclude_audio=exclude, tracker_settings=settings,
                                               progress=progress, is_cancelled=is_cancelled)
        self._profile_cached = cached
        return profile

    def _drive(
        self,
        job: EngineJob,
        profile: ActorProfile,
        source: np.ndarray,
        frontal: np.ndarray,
        found: np.ndarray,
        poses: Poses,
        transforms: np.ndarray,
        n: int,
        progress: ProgressFn,
        is_cancelled: CancelFn,
    ) -> tuple[str, np.ndarray, np.ndarray, dict[str, Any]]:
        """Pick the driver and compute raw targets (T, P, 2) canonical, the gate (T,), and a report."""
        report: dict[str, Any] = {}
        wanted = job.settings.motion_driver
        alignment = None
        if job.guide is not None and wanted in ("auto", "guide"):
            from mytalk.core.engines.classic.guide_driver import align_line, alignment_report
            from mytalk.core.media.audio import picture_start_in_audio_s, place_line

            line16 = job.line.mono().resampled(job.guide.rate)
            guide = job.guide
            # The job's guide puts the clip's first audio sample at frame 0; where the picture starts
            # later than the sound (edit lists, priming), the guide is moved onto the picture's clock.
            picture_start = picture_start_in_audio_s(Path(job.video.path))
            if picture_start != 0:
                guide = place_line(guide, num_frames=n, fps=job.fps, line_offset_s=picture_start)
                report["guide_clock_offset_s"] = float(picture_start)
            alignment = align_line(line16, guide, job.fps, n, progress=progress, is_cancelled=is_cancelled)
            report["guide"] = alignment_report(alignment)
            report["guide_decision"] = "matched: the line says the guide's words" if alignment.matched else \
                "not matched: a different line, the speech driver is used"
        elif job.guide is None:
            report["guide"] = {"used": False, "reason": "--guide none: the clip's sound over the range is not used"}
        use_guide = alignment is not None and (wanted == "guide" or alignment.matched)
        if use_guide and found.any():
            from mytalk.core.engines.classic.guide_driver import retime_mouth

            assert alignment is not None
            target, pose_blend = retime_mouth(source, frontal, found, alignment.time_map, poses, transforms)
            report["pose_blended_frames"] = int((pose_blend > 0.5).sum())
            self._time_map = np.asarray(alignment.time_map, np.float64)
            from mytalk.core.engines.classic.speech_driver import speech_gate

            gate = speech_gate(job.line, job.fps, n)
            return "guide", target, gate, report
        from mytalk.core.engines.classic.speech_driver import speech_gate

        prob = speech_gate(job.line, job.fps, n)
        if wanted in ("auto", "phonetic"):
            planned = self._drive_phonetic(job, profile, prob, poses, transforms, n, report, progress, is_cancelled)
            if planned is not None:
                return "phonetic", planned[0], planned[1], report
        closures = None
        if job.settings.transcript:
            from mytalk.core.engines.classic.speech_driver import transcript_closures

            closures, reason = transcript_closures(job.line.mono().resampled(16_000), job.settings.transcript, job.fps, n)
            report["transcript"] = {"used": closures is not None, **({"reason": reason} if reason else {}),
                                    **({"closure_frames": int(closures.sum())} if closures is not None else {})}
        shapes, gate = profile.speech.predict(job.line, job.fps, n, speech_prob=prob, closures=closures)
        target = frontal_to_canonical(shapes, poses, transforms)
        report["speech"] = {"lag_frames": profile.speech.lag, "speaking_frames": int((prob > 0.5).sum()),
                            "rest_frames": int((gate < 0.5).sum())}
        return "speech", target, gate, report

    def _drive_phonetic(
        self,
        job: EngineJob,
        profile: ActorProfile,
        prob: np.ndarray,
        poses: Poses,
        transforms: np.ndarray,
        n: int,
        report: dict[str, Any],
        progress: ProgressFn,
        is_cancelled: CancelFn,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Targets (T, P, 2) and gate (T,) planned from the line's phones, or None to use the speech driver.

        The phone track and the decision go into the report either way.
        """
        from mytalk.core.audio.activity import envelope
        from mytalk.core.audio.phone_timing import PhoneTimer
        from mytalk.core.engines.classic.phonetic_driver import SIL, phone_coverage

        language = getattr(job.settings, "language", None) or "en"
        track = PhoneTimer().track(job.line, transcript=job.settings.transcript, language=language,
                                   progress=progress, is_cancelled=is_cancelled)
        report["phones"] = {**track.to_dict(), "lag_frames": profile.phonetic.lead}
        voiced = prob > 0.5
        cover = phone_coverage(track.phones, job.fps, n)
        explained = float((cover[voiced, SIL] < 0.5).mean()) if voiced.any() else 0.0
        report["phones"]["voiced_frames_with_phone"] = round(explained, 3)
        if track.path == "transcript" and explained < TRANSCRIPT_COVERS:
            report["phones"]["warning"] = (f"the transcript's words cover only {explained:.0%} of the line's speech; "
                                           "the mouth rests where the line speaks words the transcript lacks")
        if track.path == "none" or (job.settings.motion_driver == "auto" and explained < PHONES_EXPLAIN):
            why = track.reason if track.path == "none" else (
                f"only {explained:.0%} of the line's voiced frames fall on a timed phone (needs {PHONES_EXPLAIN:.0%})")
            report["driver_decision"] = f"speech: {why}"
            return None
        plan = profile.phonetic.plan(profile.speech, track.phones, job.fps, n, speech_prob=prob,
                                     loudness=envelope(job.line.mono().resampled(16_000), job.fps, n))
        report["driver_decision"] = (f"phonetic: phones by {track.path} ({track.reason}); "
                                     f"{explained:.0%} of the voiced frames fall on a phone")
        report["phonetic"] = {**plan.report, "lead_measurement": profile.phonetic.info.get("lead")}
        self._frame_phones, self._frame_visemes = plan.phones, plan.visemes
        return frontal_to_canonical(plan.shapes, poses, transforms), plan.gate

    def _take_frames(self, job: EngineJob, found: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Per range frame, the clip frame whose real mouth paints it (the guide's take), or -1.

        -1 where the speech driver plans the mouth, where the take has no face, or where it lies
        further than the buffer allows (`TAKE_WINDOW_S`, `TAKE_BUFFER_BYTES`).
        """
        n = job.num_frames
        takes = np.full(n, -1, np.int64)
        if self._time_map is None or self._plan is None or self._plan.driver != "guide":
            return takes
        video = job.video.video
        assert video is not None
        frame_bytes = max(1, video.width * video.height * 4)
        reach = int(min(round(TAKE_WINDOW_S * float(job.fps)), TAKE_BUFFER_BYTES // frame_bytes // 2))
        offsets = np.rint(np.clip(self._time_map, 0, n - 1)).astype(np.int64)
        usable = valid & found[offsets] & (np.abs(offsets - np.arange(n)) <= reach)
        takes[usable] = job.start + offsets[usable]
        return takes

    # --- render ----------------------------------------------------------------------------------

    def render(
        self, frames: Iterator[SourceFrame], progress: ProgressFn, is_cancelled: CancelFn
    ) -> Iterator[RenderedFrame]:
        """One RenderedFrame per source frame, in order.

        Frames are rendered one ahead on a worker thread (`PIPELINE_DEPTH`), so the mouth of frame n+1 is
        built while the writer encodes frame n: OpenCV, numpy and the encoders release the GIL, and on a
        2-core machine this hides most of the engine behind the encoder. With the guide's real takes a
        frame waits until the frame its mouth comes from has been read, and the frames a later one may
        still take from are held: memory stays bounded by the depth and the take reach
        (`TAKE_WINDOW_S`, `TAKE_BUFFER_BYTES`); results come back in order and a worker's exception is
        raised here.
        """
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        if self._job is None or self._plan is None or self._pixels is None or self._selection is None:
            raise RuntimeError("ClassicEngine.render called before prepare")
        job = self._job
        used = self._takes[self._takes >= 0]
        in_range = np.flatnonzero(self._takes >= 0)
        ahead = int(max(0, (used - (job.start + in_range)).max())) if used.size else 0
        behind = int(max(0, ((job.start + in_range) - used).max())) if used.size else 0
        # Source frames that a later frame may still take its mouth from (the guide's takes).
        held: dict[int, SourceFrame] = {}
        waiting: deque[SourceFrame] = deque()
        pending: deque[Future[RenderedFrame]] = deque()

        def submit(source: SourceFrame) -> None:
            take = self._take_for(source, held)
            pending.append(pool.submit(self._render_one, source, take))
            for index in [i for i in held if i < source.index - behind]:
                del held[index]

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="classic-render") as pool:
            try:
                for source in frames:
                    check_cancelled(is_cancelled, f"rendering frame {source.index}")
                    if ahead or behind:
                        held[source.index] = source
                    waiting.append(source)
                    # A frame is rendered once the frame its take comes from has been read.
                    while waiting and waiting[0].index + ahead <= source.index:
                        submit(waiting.popleft())
                        if len(pending) > PIPELINE_DEPTH:
                            yield pending.popleft().result()
                while waiting:
                    submit(waiting.popleft())
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def _take_for(self, source: SourceFrame, held: dict[int, SourceFrame]) -> tuple[Any, np.ndarray] | None:
        """(frame, landmarks) of the real take that paints `source`, when the guide gives one."""
        job = self._job
        assert job is not None
        i = source.index - job.start
        if not source.in_range or not 0 <= i < self._takes.size or self._takes[i] < 0:
            return None
        index = int(self._takes[i])
        take = source if index == source.index else held.get(index)
        obs = self._obs.get(index)
        if take is None or obs is None or not obs.found:
            return None
        return take.frame, obs.landmarks

    def _render_one(self, source: SourceFrame, take: tuple[Any, np.ndarray] | None = None) -> RenderedFrame:
        """Render one source frame (handles and faceless frames pass through untouched)."""
        from mytalk.core.engines.classic.render import MeshTopology, MouthRenderer

        job, plan, pixels, selection, profile = self._job, self._plan, self._pixels, self._selection, self._profile
        assert job is not None and plan is not None and pixels is not None and selection is not None
        assert profile is not None
        obs = self._obs.get(source.index)
        if not source.in_range:
            return RenderedFrame(source.index, False, source.frame, FrameRecord(source.index))
        i = source.index - job.start
        record = FrameRecord(source.index, face_found=bool(obs is not None and obs.found),
                             confidence=None if obs is None else float(obs.confidence))
        if obs is not None:
            record.warnings.extend(obs.warnings)
            record.rejected_face = obs.rejected or None
        if obs is None or not obs.found or not np.isfinite(pixels[i]).all():
            record.face_found = False
            record.warnings.append(NO_FACE)
            return RenderedFrame(source.index, True, source.frame, record)
        if self._renderer is None:
            # Made on the first frame with a face: a cutaway-only range needs none.
            self._renderer = MouthRenderer(profile.appearance, job.settings.quality,
                                           MeshTopology.from_template(self._template))
        result = self._renderer.render(source.frame, obs.landmarks, pixels[i], int(selection.choice[i]),
                                       int(selection.fade_from[i]), float(selection.fade_weight[i]),
                                       bool(plan.lower_face[i]), float(self._mouth_weight[i]), take=take)
        record.mask_box = result.mask_box if result.changed_support is not None else None
        record.changed_pixels = result.changed_pixels
        if np.isfinite(self._planned_aperture[i]):
            record.planned_aperture = float(self._planned_aperture[i])
        if self._frame_phones:
            record.phone, record.viseme = self._frame_phones[i], self._frame_visemes[i]
        return RenderedFrame(source.index, True, result.frame, record)

    def report(self) -> dict[str, Any]:
        return self._report


def planned_aperture_px(pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The plan's inner-lip gap ÷ the frame's inter-ocular distance, in the image plane: (T,), NaN where
    there is no plan. The evaluation's `mouth_aperture` on the rendered output measures the same thing,
    so plan and output compare frame by frame.

    pixels: (T, P, 2) planned lower-face points in frame pixels; landmarks: (T, 478, 2|3) tracked.
    """
    from mytalk.core.engines.classic.geometry import LOWER_MID_POS, UPPER_MID_POS
    from mytalk.core.face.regions import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

    gap = np.linalg.norm(pixels[:, LOWER_MID_POS] - pixels[:, UPPER_MID_POS], axis=-1)
    iod = np.linalg.norm(landmarks[:, LEFT_EYE_OUTER, :2].astype(np.float64) - landmarks[:, RIGHT_EYE_OUTER, :2], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(iod > 1e-9, gap / iod, np.nan)
