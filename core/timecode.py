"""Frame-accurate positions: frames, seconds, SMPTE and drop-frame timecode.

Editors think in frames and in SMPTE timecode; audio tools think in seconds. Everything inside
MyTalk is an integer frame index relative to the clip's first frame, and this module is the one
place that converts. Rates are `Fraction`s (30000/1001, not 29.97) so that an hour of 29.97 never
drifts by a frame.

Accepted position strings (all relative to the clip's first frame unless prefixed with `@`):
- `120` – a frame number;
- `2.5s`, `-0.4s`, `1500ms` – seconds or milliseconds, rounded to the nearest frame;
- `00:00:05:00` – non-drop SMPTE; `00:00:05;00` (or `.`) – drop-frame SMPTE at 29.97/59.94;
- `@01:00:05:00` – source timecode, read against the file's start timecode.
"""

from __future__ import annotations

import re
from fractions import Fraction

from mytalk.core.errors import UsageError

_SMPTE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
_SECONDS = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(s|ms)$")
_FRAMES = re.compile(r"^[+-]?\d+$")


def nominal_rate(fps: Fraction) -> int:
    """Timecode base: the integer frame count per timecode second (30 for 29.97, 24 for 23.976)."""
    return max(1, round(fps))


def is_drop_frame_rate(fps: Fraction) -> bool:
    """Drop-frame timecode exists only for the NTSC rates 30000/1001 and 60000/1001."""
    return fps in (Fraction(30000, 1001), Fraction(60000, 1001))


def _drop_per_minute(fps: Fraction) -> int:
    # SMPTE 12M: 29.97 skips labels :00 and :01 each minute except every tenth; 59.94 skips four.
    return 2 if nominal_rate(fps) == 30 else 4


def smpte_to_frames(hours: int, minutes: int, seconds: int, frames: int, fps: Fraction, drop: bool) -> int:
    """Frame number of a SMPTE label. Raises UsageError for labels that cannot exist."""
    base = nominal_rate(fps)
    if frames >= base or seconds >= 60 or minutes >= 60:
        raise UsageError(
            f"timecode {hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d} is not valid at {float(fps):.3f} fps "
            f"(frames must be below {base}, minutes and seconds below 60)"
        )
    total_minutes = 60 * hours + minutes
    count = (total_minutes * 60 + seconds) * base + frames
    if drop:
        if not is_drop_frame_rate(fps):
            raise UsageError(
                f"drop-frame timecode (';') only exists at 29.97 and 59.94 fps, not at {float(fps):.3f} fps; use ':'"
            )
        dropped = _drop_per_minute(fps)
        if seconds == 0 and frames < dropped and minutes % 10 != 0:
            raise UsageError(
                f"timecode {hours:02d}:{minutes:02d}:{seconds:02d};{frames:02d} does not exist in drop-frame "
                f"(labels ;00-;{dropped - 1:02d} are skipped at the start of each minute except every tenth)"
            )
        count -= dropped * (total_minutes - total_minutes // 10)
    return count


def frames_to_smpte(frame: int, fps: Fraction, drop: bool | None = None) -> str:
    """SMPTE label of a frame number; drop-frame (with ';') by default at 29.97 and 59.94."""
    if drop is None:
        drop = is_drop_frame_rate(fps)
    base = nominal_rate(fps)
    sign = "-" if frame < 0 else ""
    frame = abs(frame)
    if drop and is_drop_frame_rate(fps):
        dropped = _drop_per_minute(fps)
        per_10min = base * 600 - dropped * 9
        per_min = base * 60 - dropped
        tens, rem = divmod(frame, per_10min)
        if rem >= dropped:
            frame += dropped * 9 * tens + dropped * ((rem - dropped) // per_min)
        else:
            frame += dropped * 9 * tens
        sep = ";"
    else:
        sep = ":"
    ff = frame % base
    total_seconds = frame // base
    ss = total_seconds % 60
    mm = (total_seconds // 60) % 60
    hh = total_seconds // 3600
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


def is_smpte_label(text: str) -> bool:
    """True when `text` is written as SMPTE timecode (`01:00:00:00`, drop-frame `01:00:00;00`)."""
    return bool(_SMPTE.match(text.strip()))


def is_drop_frame_label(text: str) -> bool:
    """True when a SMPTE label is written as drop-frame (`;` or `,` before the frames)."""
    return ";" in text or "," in text


def _frames_per_day(fps: Fraction, drop: bool) -> int:
    """Frames in 24 hours of timecode labels (drop-frame skips labels, not frames)."""
    base = nominal_rate(fps)
    if drop and is_drop_frame_rate(fps):
        return 24 * 6 * (base * 600 - _drop_per_minute(fps) * 9)
    return 24 * 3600 * base


def source_timecode_at(frame: int, fps: Fraction, source_start: str | None = None) -> str:
    """The timecode of clip-relative `frame` as a conform sees it: the source's start timecode plus
    `frame`, or the clip-relative label when the source has no timecode.

    Drop-frame follows the source's own label (`;`), so a non-drop 29.97 source stays non-drop; with
    no source timecode it is MyTalk's default (drop-frame at 29.97 and 59.94, as every in and out
    mark is shown). Labels wrap at 24 hours as a timecode track does. Raises `UsageError` when
    `source_start` is not a valid label at `fps`.
    """
    if source_start is None:
        drop = is_drop_frame_rate(fps)
        start = 0
    else:
        drop = is_drop_frame_label(source_start)
        start = parse_position(source_start, fps, what="start timecode")
    return frames_to_smpte((start + frame) % _frames_per_day(fps, drop), fps, drop=drop)


def seconds_to_frame(seconds: Fraction | float, fps: Fraction) -> int:
    """Nearest frame to a time in seconds (half-frames round up, so 0.5 frame → frame 1)."""
    exact = Fraction(seconds) * fps
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


def frame_to_seconds(frame: int, fps: Fraction) -> Fraction:
    return Fraction(frame) / fps


def parse_position(
    text: str,
    fps: Fraction,
    *,
    source_start: str | None = None,
    what: str = "position",
) -> int:
    """Parse a user-typed position into a clip-relative frame number.

    `source_start` is the file's start timecode (e.g. "01:00:00:00"); it is needed only for
    `@`-prefixed source timecode. The result may be negative or past the end: range checks belong
    to the caller, which knows the clip length.
    """
    raw = text.strip()
    if not raw:
        raise UsageError(f"{what}: empty; give frames (120), seconds (2.5s) or timecode (00:00:05:00)")
    if raw.startswith("@"):
        if source_start is None:
            raise UsageError(
                f"{what} {raw!r}: the clip has no source timecode; give the position relative to its first frame "
                f"without '@'"
            )
        return parse_position(raw[1:], fps, what=what) - parse_position(source_start, fps, what="start timecode")
    if _FRAMES.match(raw):
        return int(raw)
    seconds_match = _SECONDS.match(raw)
    if seconds_match:
        value = Fraction(seconds_match.group(1))
        if seconds_match.group(2) == "ms":
            value /= 1000
        return seconds_to_frame(value, fps)
    smpte_match = _SMPTE.match(raw)
    if smpte_match:
        hh, mm, ss, sep, ff = smpte_match.groups()
        return smpte_to_frames(int(hh), int(mm), int(ss), int(ff), fps, drop=sep in ";,")
    raise UsageError(
        f"{what} {raw!r} is not a position; use frames (120), seconds (2.5s, 400ms) or SMPTE timecode "
        f"(00:00:05:00, drop-frame 00:00:05;00)"
    )


def parse_offset_seconds(text: str, fps: Fraction, *, what: str = "offset") -> Fraction:
    """Parse a signed offset into exact seconds: `2.5s` stays in seconds, frames and SMPTE use `fps`.

    Used for `--audio-in`, where seconds must not be rounded to a frame: a replacement line is
    placed to the sample.
    """
    raw = text.strip()
    seconds_match = _SECONDS.match(raw)
    if seconds_match:
        value = Fraction(seconds_match.group(1))
        return value / 1000 if seconds_match.group(2) == "ms" else value
    negative = raw.startswith("-") and not _FRAMES.match(raw)
    frames = parse_position(raw[1:] if negative else raw, fps, what=what)
    return -frame_to_seconds(frames, fps) if negative else frame_to_seconds(frames, fps)


def format_fps(fps: Fraction) -> str:
    """Human rate: 23.976, 29.97, 25, 22.13."""
    if fps.denominator == 1:
        return str(fps.numerator)
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")
