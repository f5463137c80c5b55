"""The classic motion stage: the mouth planned from the guide, the line's phones or its loudness.

1. the actor (`job_profile`): `--actor NAME`'s stored profile, or one learned from the `--reference`
   ranges;
2. the driver: `guide` re-times the range's real mouth along the line's alignment to the guide;
   `phonetic` times the line's phones (transcript, else recognition) and plans the actor's mouth per
   phone; `speech` predicts the mouth from the line's loudness with the profile's regression.
   `auto` aligns when a guide is there and lets the alignment cost decide; for new words it takes
   `phonetic` when the phones explain the line (`PHONES_EXPLAIN`), else `speech` (decisions and their
   figures in the report);
3. the plan (openness, smoothing, mask mode per frame), in frame pixels, with the guide's real take
   per frame where the guide drives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mytalk.core.audio.line_phones import LineOrigin
from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.engines.base import ActorFootage, EngineJob, EngineSettings, WaitFn, ready_now
from mytalk.core.engines.classic.geometry import (
    LOWER_MID_POS,
    UPPER_MID_POS,
    Poses,
    fit_poses,
    frontalise,
    lower_face_index,
)
from mytalk.core.engines.classic.job_profile import (
    check_profile_stored,
    job_phone_timer,
    job_profile,
    learn_footage_profile,
)
from mytalk.core.engines.classic.motion import (
    finish_reach,
    finish_window,
    frontal_to_canonical,
    nose_taper,
    plan_figures,
    subnasale_canonical,
)
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.controls import check_mask_and_strengths
from mytalk.core.engines.stages import JobResources, MotionPlan, PlanStream
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.errors import UsageError
from mytalk.core.face.canonical import apply_transform, invert_transform, similarity_to_canonical_batch
from mytalk.core.face.regions import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from mytalk.core.frame_arrays import ScratchFrames
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled
from mytalk.core.settings import check_attributes, shipped_settings
from mytalk.core.userdirs import UserDirs, user_dirs

if TYPE_CHECKING:
    from mytalk.core.audio.line_aside import LineTimingAside
    from mytalk.core.audio.phone_workers import PhoneWorkers

TAKE_WINDOW_S = 0.6
TAKE_BUFFER_BYTES = 256 * 2**20
"""The guide driver paints frame t with the real take at map(t), a frame of the same range. Frames are
streamed, so render holds the source frames between map(t) and t: at most 0.6 s of them (ADR pause
edits move the words by 0.1-0.3 s each) and at most 256 MB whatever the picture size. Frames whose
take lies further away are painted by retrieval instead."""

PHONES_EXPLAIN = 0.5
"""`auto` drives new words by phones when at least half of the line's voiced frames fall on a timed
phone (not silence). Below that the phone timing missed the speech (noise, music, a failed
recognition), and the loudness-driven speech driver at least keeps the rhythm."""

TRANSCRIPT_COVERS = 0.8
"""A transcript whose aligned words leave more than a fifth of the line's voiced frames without a phone
is missing words (or is for another take): the report says so, and the panel's lane shows where."""


def planned_aperture_px(pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The plan's inner-lip gap ÷ the frame's inter-ocular distance, in the image plane: (T,), NaN where
    there is no plan. The evaluation's `mouth_aperture` on the rendered output measures the same thing,
    so plan and output compare frame by frame.

    pixels: (T, P, 2) planned lower-face points in frame pixels; landmarks: (T, 478, 2|3) tracked.
    """
    gap = np.linalg.norm(pixels[:, LOWER_MID_POS] - pixels[:, UPPER_MID_POS], axis=-1)
    iod = np.linalg.norm(landmarks[:, LEFT_EYE_OUTER, :2].astype(np.float64) - landmarks[:, RIGHT_EYE_OUTER, :2], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(iod > 1e-9, gap / iod, np.nan)


@dataclass(frozen=True)
class DriveInputs:
    """What every driver reads: the job, the actor, and the range's head geometry.

    found: (T,) bool; poses and transforms: each frame's head pose and frame → canonical similarity
    (a few numbers a frame). The tracked lower face itself is read a window at a time
    (`lower_face`), so a long range is never held whole.
    """

    job: EngineJob
    profile: ActorProfile
    tracked: TrackedRange
    found: np.ndarray
    poses: Poses
    transforms: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.job.num_frames

    def lower_face(self, begin: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Range frames [begin, end): the tracked lower face in each frame's canonical frame (k, P, 2)
        and turned to face the camera (k, P, 3)."""
        lf = lower_face_index()
        points = self.tracked.landmarks(begin, end)[:, lf]
        poses = self.poses.take(np.arange(begin, end))
        return apply_transform(points, self.transforms[begin:end]), frontalise(points, poses)

    def seen(self, shapes: np.ndarray, begin: int, end: int) -> np.ndarray:
        """Frontal shapes (k, P, 3) of range frames [begin, end) seen with each frame's head pose, in
        its canonical frame (k, P, 2)."""
        return frontal_to_canonical(shapes, self.poses.take(np.arange(begin, end)), self.transforms[begin:end])


class GuideTargets:
    """The guide driver's targets: the range's real mouth re-timed along the line's alignment
    (`guide_driver.retime_mouth`), made a window at a time.

    A window's targets read the tracked mouth where the time map sends them (and the nearest frames
    with a face either side, which bridge a tracker blink), never the whole range. The pose blend is
    smoothed over the whole range, so it is measured first, window by window: a few numbers a frame.
    """

    def __init__(self, inputs: DriveInputs, time_map: np.ndarray) -> None:
        from mytalk.core.engines.classic.guide_driver import pose_blend, pose_gap

        self.inputs = inputs
        self.time_map = time_map
        n = inputs.num_frames
        gap = np.zeros(n)
        for begin in range(0, n, PLAN_WINDOW):
            end = min(n, begin + PLAN_WINDOW)
            gap[begin:end] = pose_gap(*self._pair(begin, end))
        self.blend = pose_blend(gap)

    def __call__(self, begin: int, end: int) -> np.ndarray:
        target_2d, target_3d = self._pair(begin, end)
        return target_2d + self.blend[begin:end, None, None] * (target_3d - target_2d)

    def _pair(self, begin: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """`guide_driver.retime_pair` for range frames [begin, end), from the frames the map reads."""
        from mytalk.core.engines.classic.guide_driver import retime_pair

        inputs, n = self.inputs, self.inputs.num_frames
        pos = np.clip(self.time_map[begin:end], 0.0, n - 1.0)
        first = int(np.floor(pos.min()))
        last = min(int(np.floor(pos.max())) + 1, n - 1)
        # `retime` bridges frames without a face from the nearest found ones: include them.
        with_face = np.flatnonzero(inputs.found)
        before, after = with_face[with_face <= first], with_face[with_face >= last]
        first = int(before[-1]) if before.size else first
        last = int(after[0]) if after.size else last
        canon, frontal = inputs.lower_face(first, last + 1)
        return retime_pair(canon, frontal, inputs.found[first : last + 1], pos - first,
                           inputs.poses.take(np.arange(begin, end)), inputs.transforms[begin:end])


TargetWindow = Callable[[int, int], np.ndarray]
"""A driver's raw targets (end - begin, P, 2) canonical for range frames [begin, end)."""


@dataclass(frozen=True)
class DriverResult:
    """A driver's raw targets (a window at a time), the voicing gate (T,), and its decisions for the report."""

    driver: str
    targets: TargetWindow
    gate: np.ndarray
    report: dict[str, Any]


PLAN_WINDOW = 256
"""Frames planned at once: the plan of a ten-minute range is made and kept a window at a time, so the
job's memory does not grow with the range (256 frames of 166 points are a few MB of work arrays)."""


class _Geometry:
    """Each range frame's head pose, frame → canonical similarity, and whether it can be planned (a face,
    a finite lower face, a pose): a few numbers a frame, measured `PLAN_WINDOW` frames at a time as the
    tracking comes in (`until`)."""

    def __init__(self, tracked: TrackedRange, wait: WaitFn) -> None:
        n = tracked.num_frames
        self.tracked, self.wait, self.num_frames = tracked, wait, n
        self.poses = Poses(np.ones(n), np.tile(np.eye(3), (n, 1, 1)), np.zeros((n, 3)), np.zeros(n, bool))
        self.transforms = np.zeros((n, 2, 3))
        self.valid = np.zeros(n, bool)
        self.measured = 0

    def until(self, rows: int) -> None:
        """Measure every window that holds frames before `rows` (waiting for their tracking)."""
        n, lf = self.num_frames, lower_face_index()
        while self.measured < min(rows, n):
            begin = self.measured
            end = min(n, begin + PLAN_WINDOW)
            self.wait(end)
            lm = self.tracked.landmarks(begin, end)
            found = self.tracked.found[begin:end]
            poses = fit_poses(lm, found)
            p = self.poses
            p.scale[begin:end], p.rotation[begin:end], p.shift[begin:end] = poses.scale, poses.rotation, poses.shift
            p.ok[begin:end] = poses.ok
            self.transforms[begin:end] = similarity_to_canonical_batch(lm)[0]
            source = apply_transform(lm[:, lf], self.transforms[begin:end])
            self.valid[begin:end] = found & np.isfinite(source).all(axis=(1, 2)) & poses.ok
            self.measured = end

    def first_valid(self) -> int:
        """The first frame that can be planned (0 when none can), measuring as far as needed to find it."""
        while True:
            seen = np.flatnonzero(self.valid[: self.measured])
            if seen.size:
                return int(seen[0])
            if self.measured >= self.num_frames:
                return 0
            self.until(self.measured + 1)

class ClassicMotion:
    """Guide, phonetic or speech-driven motion of the lower face, in the actor's own shapes."""

    name: ClassVar[str] = "classic"
    settings_honoured: ClassVar[tuple[str, ...]] = (
        "motion_driver", "openness", "smoothing", "mask_mode", "transcript", "language", "actor", "face_point")

    def __init__(self) -> None:
        self._report: dict[str, Any] = {}
        self._time_map: np.ndarray | None = None
        self._frame_phones: list[str] = []
        self._frame_visemes: list[str] = []
        self._timer: PhoneTimer | None = None
        self._line_aside: LineTimingAside | None = None

    def check_installed(self, settings: EngineSettings) -> None:
        """A stored actor `--actor` names, without a job (`StagedEngine.check_installed`)."""
        check_profile_stored(settings)

    def check(self, job: EngineJob, resources: JobResources) -> None:
        s = job.settings
        check_attributes(shipped_settings(), s, ("motion_driver",))
        check_mask_and_strengths(job)
        if s.motion_driver == "guide" and job.guide is None:
            raise UsageError("--motion-driver guide needs the clip's own sound over the range; drop --guide none "
                             "or use --motion-driver speech")

    def report(self) -> dict[str, Any]:
        return self._report

    def learn_actor(self, footage: ActorFootage, resources: JobResources, progress: ProgressFn,
                    is_cancelled: CancelFn) -> bool:
        """Learn the actor profile this stage will read, ahead of any job (`StagedEngine.learn_actor`)."""
        return learn_footage_profile(footage, resources, progress, is_cancelled)

    def learn_line(self, origin: LineOrigin, settings: EngineSettings, progress: ProgressFn,
                   is_cancelled: CancelFn, workers: PhoneWorkers | None = None) -> bool:
        """Time the phones of a line placed at `origin` ahead of any job (`StagedEngine.learn_line`): the
        phonetic driver reads them per utterance of the line's file (`line_phones`). Nothing to time
        when the driver never reads phones, or when a transcript is aligned over the placed line.

        workers: a runtime's warm phone processes; the utterances are then timed on all of them at once
        (`line_aside`), and this process loads no decoders of its own unless one of them failed."""
        if settings.motion_driver not in ("auto", "phonetic") or (settings.transcript or "").strip():
            return False
        from mytalk.core.audio.line_aside import LineTimingAside
        from mytalk.core.audio.line_phones import LEARN_AHEAD_S, learn_line_ahead

        language = settings.language or "en"
        if workers is not None:
            progress(0, 1, "phone timing: recognition")
            with LineTimingAside(origin, LEARN_AHEAD_S * 100, Fraction(100), language, workers) as aside:
                aside.wait(is_cancelled)  # False: what the workers did not time is timed below, in-process
        learn_line_ahead(origin, language=language, progress=progress, is_cancelled=is_cancelled)
        return True

    def line_timing_aside(self, job: EngineJob, resources: JobResources) -> LineTimingAside | None:
        """Start timing the job's line in a process of its own (`line_aside`), for a job whose phonetic
        driver may read its phones per utterance: they are then timed while the actor is learned and
        the range tracked. None when the driver never reads them or a transcript is aligned instead.
        Under `auto` with a guide the line may turn out to say the guide's words (ADR): the guide then
        drives, the phones are never waited for, and the job ends the process when its plan is made."""
        settings = job.settings
        if (job.line_origin is None or settings.motion_driver not in ("auto", "phonetic")
                or (settings.transcript or "").strip()):
            return None
        from mytalk.core.audio.line_aside import LineTimingAside

        # Kept: the phonetic driver waits for it before reading the phones. A job the guide drives never
        # reads them, and never waits.
        self._line_aside = LineTimingAside(job.line_origin, job.num_frames, job.fps, settings.language or "en",
                                           resources.phone_workers)
        return self._line_aside

    def plan(self, job: EngineJob, tracked: TrackedRange, resources: JobResources, progress: ProgressFn,
             is_cancelled: CancelFn) -> MotionPlan:
        return self.plan_stream(job, tracked, resources, progress, is_cancelled, ready_now).complete()

    def plan_stream(self, job: EngineJob, tracked: TrackedRange, resources: JobResources, progress: ProgressFn,
                    is_cancelled: CancelFn, wait: WaitFn) -> PlanStream:
        """The plan, made `PLAN_WINDOW` frames at a time as `wait` says the tracking is in.

        The speech and phonetic drivers plan from the line and each frame's own head, so a window needs
        the tracking of its frames and `finish_reach` more. The guide driver re-times the range's real
        mouth, reading frames anywhere in the range, so it waits for the whole range and plans it at once.
        Either way the windows fall on the same frames, so the plan is the same however the tracking came.
        """
        profile, from_cache = job_profile(job, tracked, resources, progress, is_cancelled)
        self._timer = job_phone_timer(resources)
        n = job.num_frames
        found = tracked.found
        geometry = _Geometry(tracked, wait)
        inputs = DriveInputs(job, profile, tracked, found, geometry.poses, geometry.transforms)
        drive = self._drive(inputs, progress, is_cancelled, whole_range=lambda: geometry.until(n))
        if self._line_aside is not None and job.line_origin is not None and resources.phone_workers is not None:
            # The utterances the range took only silence from, timed for a slip once the first frame is out.
            from mytalk.core.audio.line_aside import time_skipped_later

            origin, workers, language = job.line_origin, resources.phone_workers, job.settings.language or "en"

            def time_skipped() -> None:
                time_skipped_later(origin, n, job.fps, language, workers)

            resources.defer(time_skipped)
        driver = drive.driver
        s = job.settings
        valid = geometry.valid
        template = geometry.first_valid()
        template_lm = tracked.landmarks(template, template + 1)
        taper = nose_taper(inputs.lower_face(template, template + 1)[0][0],
                           subnasale_canonical(template_lm, geometry.transforms[template : template + 1])[0])
        lf = lower_face_index()
        reach = finish_reach(s.smoothing, driver)
        pixels = ScratchFrames(n, (lf.size, 2), np.float64, folder=UserDirs.ensure(user_dirs().scratch), fill=np.nan)
        lower = np.zeros(n, bool)
        apertures = np.full(n, np.nan)
        motion_report: dict[str, Any] = {}
        plan = MotionPlan(points=pixels, point_index=lf, valid=valid, lower_face=lower, aperture=apertures,
                          driver=driver, report=motion_report, phones=tuple(self._frame_phones),
                          visemes=tuple(self._frame_visemes), takes=None)

        def windows() -> Iterator[int]:
            chin_sum = 0.0
            for begin in range(0, n, PLAN_WINDOW):
                check_cancelled(is_cancelled, "planning")
                end = min(n, begin + PLAN_WINDOW)
                lo, hi = max(0, begin - reach), min(n, end + reach)
                geometry.until(hi)
                source, _ = inputs.lower_face(lo, hi)
                target = drive.targets(lo, hi)
                ok = valid[lo:hi] & np.isfinite(target).all(axis=(1, 2))
                valid[begin:end] = ok[begin - lo : end - lo]
                closed = frontal_to_canonical(np.repeat(profile.speech.closed[None], hi - lo, axis=0),
                                              geometry.poses.take(np.arange(lo, hi)), geometry.transforms[lo:hi])
                points, lower_w, chin_move = finish_window(
                    np.where(ok[:, None, None], target, source), source, closed, ok, taper,
                    openness=s.openness, smoothing=s.smoothing, mask_mode=s.mask_mode, driver=driver)
                inner = slice(begin - lo, end - lo)
                points, ok = points[inner], ok[inner]
                lower[begin:end] = lower_w[inner]
                chin_sum += float(np.where(ok, chin_move[inner], 0.0).sum())
                window = np.full((end - begin, lf.size, 2), np.nan)
                if ok.any():
                    window[ok] = apply_transform(points[ok], invert_transform(geometry.transforms[begin:end][ok]))
                pixels.write(begin, window)
                apertures[begin:end] = planned_aperture_px(window, tracked.landmarks(begin, end))
                progress(end, n, "planning")
                if end < n:
                    yield end
            figures = plan_figures(chin_sum, int(valid.sum()), int(lower.sum()), int((valid & ~lower).sum()))
            motion_report.update({**drive.report, **figures})
            # The line's phone track sits at the top of the engine report, where every engine puts it
            # (the panel's viseme lane reads it there); the motion section keeps the decisions.
            phones = motion_report.pop("phones", None)
            self._report = {
                "driver": driver,
                **({"phones": phones} if phones is not None else {}),
                "motion": motion_report,
                "profile": {**profile.summary(), "from_cache": from_cache,
                            "appearance_source_frames": profile.appearance_frames()},
                "controls": {"openness": s.openness, "smoothing": s.smoothing,
                             "mask_mode": s.mask_mode, "quality": s.quality,
                             "motion_driver": s.motion_driver},
            }
            yield n

        stream = PlanStream(plan, windows())
        if driver != "guide":
            return stream
        # The guide's real takes: which frame paints which is known only once the whole range is planned.
        stream.complete()
        return PlanStream(replace(plan, takes=self._take_frames(job, driver, found, valid)))

    def _drive(self, inputs: DriveInputs, progress: ProgressFn, is_cancelled: CancelFn,
               whole_range: Callable[[], None]) -> DriverResult:
        """Pick the driver and compute its raw targets, gate and report. `whole_range` waits for the
        tracking and head geometry of the whole range, which only the guide driver needs."""
        job, n = inputs.job, inputs.num_frames
        report: dict[str, Any] = {}
        wanted = job.settings.motion_driver
        alignment = None
        if job.guide is not None and wanted in ("auto", "guide"):
            from mytalk.core.engines.classic.guide_driver import align_line, alignment_report
            from mytalk.core.media.audio import picture_start_in_audio_s, place_line

            line16 = job.line.mono_at(job.guide.rate)
            guide = job.guide.mono_at(job.guide.rate)
            # The job's guide puts the clip's first audio sample at frame 0; where the picture starts
            # later than the sound (edit lists, priming), the guide is moved onto the picture's clock.
            picture_start = picture_start_in_audio_s(Path(job.video.path), job.sound_stream)
            if picture_start != 0:
                guide = place_line(guide, num_frames=n, fps=job.fps, line_offset_s=picture_start)
                report["guide_clock_offset_s"] = float(picture_start)
            alignment = align_line(line16, guide, job.fps, n, progress=progress, is_cancelled=is_cancelled)
            report["guide"] = alignment_report(alignment)
            report["guide_decision"] = _guide_decision(alignment.matched, wanted)
        elif job.guide is None:
            report["guide"] = {"used": False, "reason": "--guide none: the clip's sound over the range is not used"}
        use_guide = alignment is not None and (wanted == "guide" or alignment.matched)
        from mytalk.core.engines.classic.speech_driver import speech_gate

        if use_guide:
            whole_range()
        if use_guide and inputs.found.any():
            assert alignment is not None
            guide_targets = GuideTargets(inputs, np.asarray(alignment.time_map, np.float64))
            report["pose_blended_frames"] = int((guide_targets.blend > 0.5).sum())
            self._time_map = guide_targets.time_map
            return DriverResult("guide", guide_targets, speech_gate(job.line, job.fps, n), report)

        prob = speech_gate(job.line, job.fps, n)
        if wanted in ("auto", "phonetic"):
            planned = self._drive_phonetic(inputs, prob, report, progress, is_cancelled)
            if planned is not None:
                return DriverResult("phonetic", planned[0], planned[1], report)
        closures = None
        if job.settings.transcript:
            from mytalk.core.engines.classic.speech_driver import transcript_closures

            closures, reason = transcript_closures(job.line.mono_at(16_000), job.settings.transcript, job.fps, n)
            report["transcript"] = {"used": closures is not None, **({"reason": reason} if reason else {}),
                                    **({"closure_frames": int(closures.sum())} if closures is not None else {})}
        speech = inputs.profile.speech
        comps, gate = speech.predict_components(job.line, job.fps, n, speech_prob=prob, closures=closures)
        report["speech"] = {"lag_frames": speech.lag, "speaking_frames": int((prob > 0.5).sum()),
                            "rest_frames": int((gate < 0.5).sum())}

        def speech_targets(begin: int, end: int) -> np.ndarray:
            return inputs.seen(speech.gated_shapes(comps[begin:end], gate[begin:end]), begin, end)

        return DriverResult("speech", speech_targets, gate, report)

    def _drive_phonetic(self, inputs: DriveInputs, prob: np.ndarray, report: dict[str, Any], progress: ProgressFn,
                        is_cancelled: CancelFn) -> tuple[TargetWindow, np.ndarray] | None:
        """Targets (a window at a time) and gate (T,) planned from the line's phones, or None to use the
        speech driver.

        The phone track and the decision go into the report either way.
        """
        from mytalk.core.audio.activity import envelope
        from mytalk.core.audio.line_phones import placed_phone_track
        from mytalk.core.audio.phone_cache import cached_phone_track
        from mytalk.core.engines.classic.phonetic_driver import SIL, phone_coverage

        job, profile, n = inputs.job, inputs.profile, inputs.num_frames
        language = job.settings.language or "en"
        if job.line_origin is not None and not (job.settings.transcript or "").strip():
            if self._line_aside is not None:
                self._line_aside.wait(is_cancelled)  # what it timed is in the cache; the rest is timed here
            track = placed_phone_track(job.line_origin, n, job.fps, language=language, timer=self._timer,
                                       progress=progress, is_cancelled=is_cancelled)
            from_cache = track.details.get("utterances_recognised") == 0
        else:
            track, from_cache = cached_phone_track(job.line, transcript=job.settings.transcript, language=language,
                                                   progress=progress, is_cancelled=is_cancelled)
        report["phones"] = {**track.to_dict(), "lag_frames": profile.phonetic.lead, "from_cache": from_cache}
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
                                     loudness=envelope(job.line.mono_at(16_000), job.fps, n))
        report["driver_decision"] = (f"phonetic: phones by {track.path} ({track.reason}); "
                                     f"{explained:.0%} of the voiced frames fall on a phone")
        report["phonetic"] = {**plan.report, "lead_measurement": profile.phonetic.info.get("lead")}
        self._frame_phones, self._frame_visemes = list(plan.phones), list(plan.visemes)

        def phone_targets(begin: int, end: int) -> np.ndarray:
            return inputs.seen(plan.shapes_window(begin, end), begin, end)

        return phone_targets, plan.gate

    def _take_frames(self, job: EngineJob, driver: str, found: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Per range frame, the clip frame whose real mouth paints it (the guide's take), or -1.

        -1 where another driver plans the mouth, where the take has no face, or where it lies further
        than the buffer allows (`TAKE_WINDOW_S`, `TAKE_BUFFER_BYTES`).
        """
        n = job.num_frames
        takes = np.full(n, -1, np.int64)
        if self._time_map is None or driver != "guide":
            return takes
        video = job.video.video
        assert video is not None
        frame_bytes = max(1, video.width * video.height * 4)
        reach = int(min(round(TAKE_WINDOW_S * float(job.fps)), TAKE_BUFFER_BYTES // frame_bytes // 2))
        offsets = np.rint(np.clip(self._time_map, 0, n - 1)).astype(np.int64)
        usable = valid & found[offsets] & (np.abs(offsets - np.arange(n)) <= reach)
        takes[usable] = job.start + offsets[usable]
        return takes


def _guide_decision(matched: bool, wanted: str) -> str:
    """The report's account of the guide alignment. It used to say "the speech driver is used" for every
    unmatched line, while `auto` then took the phonetic driver and `guide` forced the guide anyway."""
    if matched:
        return "matched: the line says the guide's words"
    if wanted == "guide":
        return "not matched: a different line, but --motion-driver guide re-times the clip's take anyway"
    return ("not matched: a different line, so the clip's take is not re-timed "
            "(driver_decision says what drives the mouth)")
