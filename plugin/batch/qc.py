"""What the editor checks before trusting a shot of a batch, measured on MyTalk's own render.

For each rendered shot, from the file that was delivered (not from the plan):

- **sync**: the mouth's aperture, tracked on the render, against the envelope of the render's own
  sound, cross-correlated over ±`MAX_LAG_FRAMES` (`core.quality.av_sync`, the evaluation suite's
  measure): the offset (frames; positive when the sound comes after the mouth) and the confidence
  (the correlation at that offset);
- **closed in silence**: the share of the line's pauses (≥ 5 frames, 30 dB under its speech) where
  the mouth on screen is closed;
- **faceless frames**: frames the job passed through untouched because the subject was not found
  (from the shot's report), and its warnings;
- a **thumbnail strip** of five frames of the render.

A shot is **flagged for review** when its confidence is under `REVIEW_CONFIDENCE`, its offset is
more than `REVIEW_OFFSET_FRAMES` away from 0, its mouth is open in most of its pauses, or a third
of its frames had no face. The thresholds are the evaluation's: a real-footage sync peak under 0.3
is not trusted there either, and one or two frames is what the shared clips' real footage measures.
Speech shorter than about 4 s correlates weakly even when perfectly in sync, so a short shot is
flagged more easily: the report says so next to the figure, and flagging errs towards a look.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.quality.av_sync import (
    MAX_LAG_FRAMES,
    audio_envelope,
    av_lag,
    closed_share,
    loudness_db,
    silent_frames,
)

REVIEW_CONFIDENCE = 0.3
REVIEW_OFFSET_FRAMES = 2
REVIEW_CLOSED_SHARE = 0.5
REVIEW_FACELESS_SHARE = 1 / 3
THUMBNAILS = 5
THUMB_HEIGHT = 120
ANALYSIS_RATE = 16_000


@dataclass(frozen=True)
class ShotQc:
    """The figures of one rendered shot, and why it is flagged (empty: not flagged)."""

    frames: int
    seconds_of_speech: float
    offset_frames: int | None
    confidence: float | None
    closed_in_silence: float | None
    silent_frames: int
    faceless_frames: int
    warnings: list[str]
    thumbnails: str | None
    flags: list[str]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flagged": self.flagged}


def measure_shot(render: Path, report_path: Path, thumbnails: Path | None = None) -> ShotQc:
    """Measure a rendered shot (its report gives the faceless frames and warnings); write its thumbnails."""
    from mytalk.core.face.canonical import mouth_aperture
    from mytalk.core.face.video_tracking import track_video
    from mytalk.core.media.audio import decode_audio
    from mytalk.core.media.probe import probe

    info = probe(render)
    assert info.video is not None
    fps, count = info.video.fps, info.video.frame_count
    observations = track_video(render, 0, count)
    landmarks = np.stack([o.landmarks for o in observations]).astype(np.float64)
    aperture = np.asarray(mouth_aperture(landmarks), np.float64)
    aperture[[not o.found for o in observations]] = np.nan
    samples = decode_audio(render, ANALYSIS_RATE, channels=1).samples[0] if info.audio else np.zeros(0, np.float32)
    envelope = audio_envelope(samples, ANALYSIS_RATE, fps, count)
    sync = av_lag(aperture, envelope, max_lag=MAX_LAG_FRAMES)
    silent = silent_frames(loudness_db(samples, ANALYSIS_RATE, fps, count))
    closed = closed_share(aperture, silent)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    faceless = len(report.get("tracking", {}).get("faceless_frames", []))
    warnings = [str(w) for w in report.get("warnings", [])]
    speech = float(Fraction(count - int(silent.sum())) / fps)
    flags = _flags(sync.lag, sync.peak, closed, faceless, count)
    strip = _thumbnail_strip(render, count, thumbnails) if thumbnails is not None else None
    return ShotQc(count, round(speech, 2), sync.lag, None if sync.peak is None else round(sync.peak, 3),
                  None if closed is None else round(closed, 3), int(silent.sum()), faceless, warnings,
                  None if strip is None else str(strip), flags)


def _flags(offset: int | None, confidence: float | None, closed: float | None, faceless: int, frames: int) -> list[str]:
    flags: list[str] = []
    if confidence is None:
        flags.append("no sync figure: too few frames with a face")
    elif confidence < REVIEW_CONFIDENCE:
        flags.append(f"low sync confidence {confidence:.2f} (under {REVIEW_CONFIDENCE})")
    if offset is not None and abs(offset) > REVIEW_OFFSET_FRAMES:
        flags.append(f"sync offset {offset:+d} frames (more than {REVIEW_OFFSET_FRAMES})")
    if closed is not None and closed < REVIEW_CLOSED_SHARE:
        flags.append(f"mouth closed in only {closed:.0%} of the line's pauses")
    if frames and faceless / frames > REVIEW_FACELESS_SHARE:
        flags.append(f"{faceless} of {frames} frames had no face and passed through")
    return flags


def _thumbnail_strip(render: Path, count: int, target: Path) -> Path:
    """Five frames of the render side by side, `THUMB_HEIGHT` px high, as a JPEG (written atomically)."""
    import cv2

    from mytalk.core.atomic import AtomicFile
    from mytalk.core.media.reader import FrameReader

    wanted = sorted({round(i * (count - 1) / (THUMBNAILS - 1)) for i in range(THUMBNAILS)}) if count > 1 else [0]
    tiles: list[np.ndarray] = []
    with FrameReader(render) as reader:
        for frame in reader.frames(0, count):
            if frame.index in wanted:
                rgb = frame.to_rgb()
                width = max(1, round(rgb.shape[1] * THUMB_HEIGHT / rgb.shape[0]))
                tiles.append(cv2.resize(rgb, (width, THUMB_HEIGHT), interpolation=cv2.INTER_AREA))
    strip = cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", strip, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError(f"{target.name}: the thumbnail strip could not be encoded")
    target.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(target) as temp:
        temp.write_bytes(data.tobytes())
    return target
