"""The mouth's visemes of a finished render, as a track on the clip's time axis (no Qt).

A sync report carries, per output frame, the viseme and phone the mouth was told to show
(`report["frames"][i]`, `index` = clip frame), and the line's phones in seconds from the in point
(`report["engine_report"]["phones"]`). `track_from_report` turns that into runs of equal visemes
in clip frames and phone and word marks in clip seconds; `VisemeLaneModel` keeps the latest track
and drops it as soon as the clip, the line, the range or the slip differ from the ones it was
rendered with: the visemes describe that render, and drawn against another slip they would lie.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

VISEME_LABELS: dict[str, str] = {
    "rest": "",
    "closed": "closed",
    "lip_teeth": "f/v",
    "dental": "th",
    "alveolar": "t/d",
    "postalveolar": "sh",
    "velar": "k/g",
    "spread": "ee",
    "rounded": "oo",
    "r": "r",
    "open": "open",
}
"""Short names an editor reads at a glance (keys are `mytalk.core.audio.phonemes.VISEMES`)."""

VISEME_COLOURS: dict[str, tuple[int, int, int]] = {
    "rest": (52, 52, 58),
    "closed": (232, 52, 72),  # the shape that matters most: a missed p/b/m is what viewers notice
    "lip_teeth": (245, 150, 40),
    "dental": (205, 180, 85),
    "alveolar": (96, 124, 150),
    "postalveolar": (160, 110, 210),
    "velar": (92, 112, 112),
    "spread": (70, 185, 205),
    "rounded": (70, 115, 235),
    "r": (175, 125, 190),
    "open": (85, 185, 105),
}
_UNKNOWN_COLOUR = (120, 120, 120)

PLACEHOLDER = "Preview to see the mouth's visemes"
_SILENCES = frozenset({"", "SIL", "SP", "SPN", "<SIL>"})


@dataclass(frozen=True)
class TrackKey:
    """What a render's timing depends on: the clip, the line, the range [start, stop), the slip and the line's
    channels picked (None: all of them)."""

    clip: str
    line: str
    start: int
    stop: int
    audio_in: Fraction
    line_channels: str | None = None


@dataclass(frozen=True)
class VisemeRun:
    """Clip frames [start, stop) in which the mouth was told to show one viseme."""

    start: int
    stop: int
    viseme: str
    phones: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return VISEME_LABELS.get(self.viseme, self.viseme)

    @property
    def colour(self) -> tuple[int, int, int]:
        return VISEME_COLOURS.get(self.viseme, _UNKNOWN_COLOUR)


@dataclass(frozen=True)
class TimedText:
    """A phone or a word of the line in clip seconds [start_s, end_s)."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Block:
    """A run as a rectangle: x pixels [x0, x1) of a lane `width` wide."""

    x0: float
    x1: float
    run: VisemeRun


@dataclass(frozen=True)
class VisemeTrack:
    """The visemes of one finished preview or commit, on the clip's time axis."""

    key: TrackKey
    fps: Fraction
    runs: tuple[VisemeRun, ...]
    phones: tuple[TimedText, ...] = ()
    words: tuple[TimedText, ...] = ()
    path: str = ""
    """How the phones were found: "transcript", "words", "phone-loop" or "none"."""
    reason: str = ""
    confidence: float | None = None
    language: str = ""

    def caption(self, detail: int = 2) -> str:
        """One line for the lane: where the phones came from (detail >= 1), and how sure (detail 2)."""
        parts = ["visemes"]
        if self.path and detail >= 1:
            parts.append(self.path + (f" ({self.language})" if self.language else ""))
        if self.confidence is not None and detail >= 2:
            parts.append(f"confidence {self.confidence:.2f}")
        return " · ".join(parts)

    def run_at(self, frame: int) -> VisemeRun | None:
        return next((run for run in self.runs if run.start <= frame < run.stop), None)


def viseme_runs(frames: Sequence[Mapping[str, Any]]) -> tuple[VisemeRun, ...]:
    """Runs of equal visemes over consecutive clip frames; frames without a viseme end a run."""
    runs: list[VisemeRun] = []
    ordered = sorted((frame for frame in frames if isinstance(frame.get("index"), int)), key=lambda f: f["index"])
    for frame in ordered:
        index, viseme, phone = frame["index"], frame.get("viseme"), frame.get("phone")
        if not viseme:
            continue
        last = runs[-1] if runs else None
        if last is not None and last.viseme == viseme and last.stop == index:
            phones = last.phones if not phone or (last.phones and last.phones[-1] == phone) else (*last.phones, phone)
            runs[-1] = VisemeRun(last.start, index + 1, viseme, phones)
        else:
            runs.append(VisemeRun(index, index + 1, str(viseme), (str(phone),) if phone else ()))
    return tuple(runs)


def _phone_marks(phones: Any, in_s: float) -> tuple[tuple[TimedText, ...], tuple[TimedText, ...]]:
    """Phones and words (grouped from the phones' word column) in clip seconds."""
    marks: list[TimedText] = []
    words: list[TimedText] = []
    for item in phones if isinstance(phones, list) else []:
        if not isinstance(item, list | tuple) or len(item) < 3:
            continue
        label, start, end = str(item[0]), float(item[1]) + in_s, float(item[2]) + in_s
        marks.append(TimedText(label, start, end))
        word = item[3] if len(item) > 3 else None
        if not word:
            continue
        if words and words[-1].text == word and abs(words[-1].end_s - start) < 1e-6:
            words[-1] = TimedText(words[-1].text, words[-1].start_s, end)
        else:
            words.append(TimedText(str(word), start, end))
    return tuple(marks), tuple(words)


def track_from_report(report: Mapping[str, Any], key: TrackKey, fps: Fraction) -> VisemeTrack | None:
    """The track of a sync report, or None when the engine reported no visemes (copy, neural)."""
    frames = report.get("frames")
    runs = viseme_runs(frames if isinstance(frames, list) else [])
    if not runs:
        return None
    engine_report = report.get("engine_report")
    info = engine_report.get("phones") if isinstance(engine_report, Mapping) else None
    info = info if isinstance(info, Mapping) else {}
    # Phone times count from the range's in point: the line as placed against the picture.
    phones, words = _phone_marks(info.get("phones"), float(Fraction(key.start) / fps))
    confidence = info.get("confidence")
    # An engine's warning about the phones (a transcript missing words) comes first in the tooltip.
    reason = "\n".join(str(text) for text in (info.get("warning"), info.get("reason")) if text)
    return VisemeTrack(key, Fraction(fps), runs, phones, words, str(info.get("path") or ""),
                       reason, float(confidence) if confidence is not None else None,
                       str(info.get("language") or ""))


def blocks(track: VisemeTrack, t0: float, t1: float, width: float) -> list[Block]:
    """The runs visible in clip seconds [t0, t1) as x ranges of a lane `width` pixels wide."""
    if t1 <= t0 or width <= 0:
        return []
    scale = width / (t1 - t0)
    out: list[Block] = []
    for run in track.runs:
        # Frame n is shown from n/fps until (n+1)/fps: a run covers [start/fps, stop/fps).
        x0 = (float(run.start / track.fps) - t0) * scale
        x1 = (float(run.stop / track.fps) - t0) * scale
        if x1 <= 0 or x0 >= width:
            continue
        out.append(Block(max(0.0, x0), min(float(width), x1), run))
    return out


def text_row(track: VisemeTrack, t0: float, t1: float, width: float, *, min_phone_px: float = 14.0) -> list[tuple[float, float, str]]:
    """The thin text row under the blocks: phones when the zoom leaves room for them, else words."""
    if t1 <= t0 or width <= 0:
        return []
    scale = width / (t1 - t0)
    visible = [p for p in track.phones if p.end_s > t0 and p.start_s < t1 and p.text.upper() not in _SILENCES]
    spans = sorted((p.end_s - p.start_s) * scale for p in visible)
    items = visible if spans and spans[len(spans) // 2] >= min_phone_px else list(track.words)
    return [((item.start_s - t0) * scale, (item.end_s - t0) * scale, item.text)
            for item in items if item.end_s > t0 and item.start_s < t1]


class VisemeLaneModel:
    """The latest track, kept only while the clip, line, range and slip match its render."""

    def __init__(self) -> None:
        self.track: VisemeTrack | None = None

    def set_track(self, track: VisemeTrack | None, current: TrackKey | None) -> bool:
        """Keep `track` if it was rendered for `current`; a late result for an older slip is dropped."""
        if track is not None and track.key != current:
            return False
        self.track = track
        return track is not None

    def clear(self) -> None:
        self.track = None

    def visible(self, current: TrackKey | None) -> VisemeTrack | None:
        """The track to draw against `current`, or None; a track that no longer matches is forgotten."""
        if self.track is not None and self.track.key != current:
            self.track = None
        return self.track


__all__ = [
    "PLACEHOLDER",
    "VISEME_COLOURS",
    "VISEME_LABELS",
    "Block",
    "TimedText",
    "TrackKey",
    "VisemeLaneModel",
    "VisemeRun",
    "VisemeTrack",
    "blocks",
    "text_row",
    "track_from_report",
    "viseme_runs",
]
