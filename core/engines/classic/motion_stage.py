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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mytalk.core.engines.base import EngineJob
from mytalk.core.engines.classic.geometry import (
    LOWER_MID_POS,
    UPPER_MID_POS,
    Poses,
    fit_poses,
    frontalise,
    lower_face_index,
)
from mytalk.core.engines.classic.job_profile import job_profile
from mytalk.core.engines.classic.motion import (
    finish_plan,
    frontal_to_canonical,
    nose_taper,
    subnasale_canonical,
)
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.controls import check_mask_and_strengths
from mytalk.core.engines.stages import JobResources, MotionPlan
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.errors import UsageError
from mytalk.core.face.canonical import apply_transform, invert_transform, similarity_to_canonical_batch
from mytalk.core.face.regions import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from mytalk.core.progress import CancelFn, ProgressFn
from mytalk.core.settings import check_attributes, shipped_settings

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
    """What every driver reads: the job, the actor, and the range's tracked lower face.

    source: (T, P, 2) the tracked lower face in each frame's canonical frame; frontal: (T, P, 3) the same
    turned to face the camera; found: (T,) bool; poses and transforms: each frame's head pose and
    frame → canonical similarity.
    """

    job: EngineJob
    profile: ActorProfile
    source: np.ndarray
    frontal: np.ndarray
    found: np.ndarray
    poses: Poses
    transforms: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.job.num_frames


@dataclass(frozen=True)
class DriverResult:
    """A driver's raw targets (T, P, 2) canonical, the voicing gate (T,), and its decisions for the report."""

    driver: str
    target: np.ndarray
    gate: np.ndarray
    report: dict[str, Any]


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

    def check(self, job: EngineJob, resources: JobResources) -> None:
        s = job.settings
        check_attributes(shipped_settings(), s, ("motion_driver",))
        check_mask_and_strengths(job)
        if s.motion_driver == "guide" and job.guide is None:
            raise UsageError("--motion-driver guide needs the clip's own sound over the range; drop --guide none "
                             "or use --motion-driver speech")

    def report(self) -> dict[str, Any]:
        return self._report

    def plan(self, job: EngineJob, tracked: TrackedRange, resources: JobResources, progress: ProgressFn,
             is_cancelled: CancelFn) -> MotionPlan:
        profile, from_cache = job_profile(job, tracked, resources, progress, is_cancelled)
        n = job.num_frames
        lm, found = tracked.landmarks, tracked.found  # float32; point subsets go to float64 where used
        poses = fit_poses(lm, found)
        transforms, _ = similarity_to_canonical_batch(lm)
        lf = lower_face_index()
        source = apply_transform(lm[:, lf], transforms)
        valid = found & np.isfinite(source).all(axis=(1, 2)) & poses.ok

        inputs = DriveInputs(job, profile, source, frontalise(lm[:, lf], poses), found, poses, transforms)
        drive = self._drive(inputs, progress, is_cancelled)
        driver, target = drive.driver, drive.target
        closed = frontal_to_canonical(np.repeat(profile.speech.closed[None], n, axis=0), poses, transforms)
        template = int(np.flatnonzero(valid)[0]) if valid.any() else 0
        taper = nose_taper(source[template], subnasale_canonical(lm[template : template + 1], transforms[template : template + 1])[0])
        valid &= np.isfinite(target).all(axis=(1, 2))
        points, lower, figures = finish_plan(
            np.where(valid[:, None, None], target, source), source, closed, valid, taper,
            openness=job.settings.openness, smoothing=job.settings.smoothing, mask_mode=job.settings.mask_mode,
            driver=driver,
        )
        pixels = np.full((n, lf.size, 2), np.nan)
        if valid.any():
            pixels[valid] = apply_transform(points[valid], invert_transform(transforms[valid]))
        motion_report = {**drive.report, **figures}
        # The line's phone track sits at the top of the engine report, where every engine puts it
        # (the panel's viseme lane reads it there); the motion section keeps the decisions.
        phones = motion_report.pop("phones", None)
        self._report = {
            "driver": driver,
            **({"phones": phones} if phones is not None else {}),
            "motion": motion_report,
            "profile": {**profile.summary(), "from_cache": from_cache,
                        "appearance_source_frames": profile.appearance_frames()},
            "controls": {"openness": job.settings.openness, "smoothing": job.settings.smoothing,
                         "mask_mode": job.settings.mask_mode, "quality": job.settings.quality,
                         "motion_driver": job.settings.motion_driver},
        }
        return MotionPlan(points=pixels, point_index=lf, valid=valid, lower_face=np.asarray(lower, bool),
                          aperture=planned_aperture_px(pixels, lm), driver=driver, report=motion_report,
                          phones=tuple(self._frame_phones), visemes=tuple(self._frame_visemes),
                          takes=self._take_frames(job, driver, found, valid))

    def _drive(self, inputs: DriveInputs, progress: ProgressFn, is_cancelled: CancelFn) -> DriverResult:
        """Pick the driver and compute its raw targets, gate and report."""
        job, n = inputs.job, inputs.num_frames
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
        from mytalk.core.engines.classic.speech_driver import speech_gate

        if use_guide and inputs.found.any():
            from mytalk.core.engines.classic.guide_driver import retime_mouth

            assert alignment is not None
            target, pose_blend = retime_mouth(inputs.source, inputs.frontal, inputs.found, alignment.time_map,
                                              inputs.poses, inputs.transforms)
            report["pose_blended_frames"] = int((pose_blend > 0.5).sum())
            self._time_map = np.asarray(alignment.time_map, np.float64)
            return DriverResult("guide", target, speech_gate(job.line, job.fps, n), report)

        prob = speech_gate(job.line, job.fps, n)
        if wanted in ("auto", "phonetic"):
            planned = self._drive_phonetic(inputs, prob, report, progress, is_cancelled)
            if planned is not None:
                return DriverResult("phonetic", planned[0], planned[1], report)
        closures = None
        if job.settings.transcript:
            from mytalk.core.engines.classic.speech_driver import transcript_closures

            closures, reason = transcript_closures(job.line.mono().resampled(16_000), job.settings.transcript, job.fps, n)
            report["transcript"] = {"used": closures is not None, **({"reason": reason} if reason else {}),
                                    **({"closure_frames": int(closures.sum())} if closures is not None else {})}
        speech = inputs.profile.speech
        shapes, gate = speech.predict(job.line, job.fps, n, speech_prob=prob, closures=closures)
        report["speech"] = {"lag_frames": speech.lag, "speaking_frames": int((prob > 0.5).sum()),
                            "rest_frames": int((gate < 0.5).sum())}
        return DriverResult("speech", frontal_to_canonical(shapes, inputs.poses, inputs.transforms), gate, report)

    def _drive_phonetic(self, inputs: DriveInputs, prob: np.ndarray, report: dict[str, Any], progress: ProgressFn,
                        is_cancelled: CancelFn) -> tuple[np.ndarray, np.ndarray] | None:
        """Targets (T, P, 2) and gate (T,) planned from the line's phones, or None to use the speech driver.

        The phone track and the decision go into the report either way.
        """
        from mytalk.core.audio.activity import envelope
        from mytalk.core.audio.phone_cache import cached_phone_track
        from mytalk.core.engines.classic.phonetic_driver import SIL, phone_coverage

        job, profile, n = inputs.job, inputs.profile, inputs.num_frames
        language = job.settings.language or "en"
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
                                     loudness=envelope(job.line.mono().resampled(16_000), job.fps, n))
        report["driver_decision"] = (f"phonetic: phones by {track.path} ({track.reason}); "
                                     f"{explained:.0%} of the voiced frames fall on a phone")
        report["phonetic"] = {**plan.report, "lead_measurement": profile.phonetic.info.get("lead")}
        self._frame_phones, self._frame_visemes = list(plan.phones), list(plan.visemes)
        return frontal_to_canonical(plan.shapes, inputs.poses, inputs.transforms), plan.gate

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
