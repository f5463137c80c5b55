"""The phone input of a phone-fed motion model (`motion.model phone_features = "visemes"`).

A line's phone track (ARPAbet phones with times, from `mytalk.core.audio.phone_timing`: forced
alignment of the transcript when there is one, else recognition) becomes the viseme coverage of
each video frame, (T, 11) float32: the share of frame n's display interval [n/fps, (n+1)/fps)
spent in each viseme (`phonemes.viseme_coverage`). The interval is the one the audio tokens are
averaged over (`audio_encoder.frame_positions`), so phones and audio are on the same frame grid,
and the fps is a Fraction, never rounded.

A line without usable phones (recognition found nothing, the transcript could not be aligned)
gets zeros, not "rest": zeros mean "unknown" to the model (it is trained with some windows
zeroed, `motion.train phone_dropout`), whereas "rest" would claim the actor is silent.

Training clips are timed the same way from their own sound (`dataset.py`), and stored with the
shard as the track's JSON (`track_json` / `phones_from_json`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from mytalk.core.audio.phonemes import Phone, viseme_coverage
from mytalk.core.engines.mytalk.motion import NUM_VISEMES
from mytalk.core.media.audio import AudioSource
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress


@dataclass(frozen=True)
class LinePhones:
    """The phones of one line or clip (seconds from its first sample) and the timer's account of them.

    summary: the phone track's `to_dict()` (path, reason, confidence, language, words, phones…),
    what the engine report shows under "phones".
    """

    phones: tuple[Phone, ...]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return bool(self.phones) and self.summary.get("path") != "none"


def time_phones(line: AudioSource, *, transcript: str | None = None, language: str = "en", timer: Any = None,
                progress: ProgressFn = no_progress, is_cancelled: CancelFn = never_cancelled) -> LinePhones:
    """The phone track of `line` (transcript when given, else recognition), heard as the classic engine hears a
    line (a noisy line's steady noise suppressed); see `phone_timing.phone_track`.

    timer: a `PhoneTimer` to reuse (its decoders load once), e.g. across the clips of a dataset.
    Raises UsageError for a language espeak-ng does not know; bad or silent audio gives no phones.
    """
    from mytalk.core.audio.phone_timing import phone_track

    track = phone_track(line, transcript=transcript, language=language, progress=progress,
                        is_cancelled=is_cancelled, timer=timer)
    return LinePhones(tuple(track.phones), _jsonable(track.to_dict()))


def _jsonable(data: Any) -> Any:
    """The track's dict as plain, strict JSON types (what a shard and a report can hold): tuples become
    lists, non-finite numbers (a confidence of -inf when no word path was possible) become None."""
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(v) for v in data]
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if data is None or isinstance(data, bool | int | str):
        return data
    return str(data)


def frame_visemes(phones: LinePhones | None, fps: Fraction, num_frames: int) -> np.ndarray:
    """Viseme coverage (num_frames, 11) float32 of frames 0.. of the line; zeros when the phones are unusable."""
    if phones is None or not phones.usable:
        return np.zeros((num_frames, NUM_VISEMES), np.float32)
    return viseme_coverage(list(phones.phones), Fraction(fps), num_frames)


def track_json(phones: LinePhones) -> str:
    """JSON of a clip's phones and their summary, as stored in a dataset shard."""
    rows = [[p.label, p.start_s, p.end_s, p.word] for p in phones.phones]
    return json.dumps({"phones": rows, "summary": {k: v for k, v in phones.summary.items() if k != "phones"}})


def phones_from_json(text: str) -> LinePhones:
    """Inverse of `track_json`."""
    data = json.loads(text)
    phones = tuple(Phone(str(r[0]), float(r[1]), float(r[2]), str(r[3])) for r in data["phones"])
    return LinePhones(phones, dict(data.get("summary", {})))
