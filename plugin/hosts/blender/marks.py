"""Blender's sequencer time mapped onto MyTalk's clip-relative frames (plain Python, no bpy).

Blender's numbers, converted here and nowhere else:

- a movie strip's `frame_start` is the scene frame where the strip's content frame 0 would sit,
  whatever is trimmed; `frame_offset_start`/`frame_offset_end` are soft trims (the content does not
  move), so the visible part is `[frame_final_start, frame_final_end)` with the end exclusive;
- `animation_offset_start` is a hard trim: the content starts that many frames into the file, so
  scene frame `f` shows source frame `f - frame_start + animation_offset_start`;
- the scene's rate is `render.fps / render.fps_base` (25/1, 24000/1001 as 24/1.001...);
- the preview range's `frame_preview_end` is inclusive, and so is the second marker here, so a
  range marked either way covers the same frames;
- a sound strip plays sound time `(f - frame_start + animation_offset_start) / fps + sound_offset`
  at scene frame `f` (`sound_offset` in seconds).

MyTalk counts frames from the clip's first frame, with the out point exclusive (`mytalk sync --in
--out`). Every refusal is a `Refused` whose message says what to change in Blender.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

RATE_TOLERANCE = Fraction(1, 1000)
"""Relative difference under which a clip's rate (Blender reads it as a float, e.g. 29.97002997)
counts as the scene's; a real mismatch (25 against 24, 29.97 against 30) is far larger."""


class Refused(Exception):
    """The operator cannot run on this scene; the message says what to change (shown as an ERROR)."""


@dataclass(frozen=True)
class SceneRange:
    """Scene frames `[start, stop)` to fix, and which marks they came from (for the report)."""

    start: int
    stop: int
    source: str

    @property
    def frames(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class SourceRange:
    """The same range as frames of the strip's file (`mytalk sync --in start --out stop`)."""

    start: int
    stop: int


def scene_rate(fps: int, fps_base: float) -> Fraction:
    """The scene's exact frame rate: NTSC bases (1.001) come back as 24000/1001, 30000/1001..."""
    base = Fraction(fps_base).limit_denominator(10000)
    if base <= 0 or fps <= 0:
        raise Refused(f"the scene's frame rate ({fps}/{fps_base}) is not valid; set it in Output Properties ▸ Format")
    return Fraction(fps) / base


def check_rates(scene_fps: Fraction, clip_fps: float, clip_name: str) -> None:
    """Refuse a clip whose rate is not the scene's: Blender would show it at the wrong speed or drop
    frames, and MyTalk never re-times the user's clip."""
    if clip_fps <= 0 or abs(Fraction(clip_fps) - scene_fps) > scene_fps * RATE_TOLERANCE:
        raise Refused(f"clip {clip_name!r} is {clip_fps:.3f} fps in a {float(scene_fps):.3f} fps scene; set the scene's "
                      "frame rate to the clip's (Output Properties ▸ Format) before fixing it")


def marked_range(*, use_preview_range: bool, preview_start: int, preview_end: int, marker_frames: Sequence[int],
                 strip_start: int, strip_stop: int) -> SceneRange:
    """The marks, in the order of precedence: the scene's preview range (when on), else the first two
    timeline markers (both inclusive), else the strip's own visible range; clipped to the strip.

    A range that misses the strip is refused rather than silently narrowed to nothing.
    """
    if use_preview_range:
        start, stop, source = preview_start, preview_end + 1, "preview range"
    elif len(marker_frames) >= 2:
        first, second = sorted(marker_frames)[:2]
        start, stop, source = first, second + 1, "markers"
    else:
        start, stop, source = strip_start, strip_stop, "strip"
    if stop <= start:
        raise Refused(f"the {source} is empty ({start}-{stop - 1}); mark at least one frame")
    clipped_start, clipped_stop = max(start, strip_start), min(stop, strip_stop)
    if clipped_stop <= clipped_start:
        raise Refused(f"the {source} ({start}-{stop - 1}) does not overlap the active strip ({strip_start}-"
                      f"{strip_stop - 1}); mark a range over the shot")
    return SceneRange(clipped_start, clipped_stop, source)


def whole_frame(value: float, what: str) -> int:
    """Blender stores strip positions as floats; MyTalk's marks are whole frames."""
    if abs(value - round(value)) > 1e-6:
        raise Refused(f"{what} is at frame {value}, between two frames; snap it to a whole frame")
    return int(round(value))


def source_range(marks: SceneRange, *, frame_start: int, animation_offset_start: int, frame_count: int,
                 clip_name: str) -> SourceRange:
    """Scene frames of the marks as frames of the strip's file (`[start, stop)`)."""
    start = marks.start - frame_start + animation_offset_start
    stop = start + marks.frames
    if start < 0 or stop > frame_count:
        raise Refused(f"the marks map to frames {start}-{stop - 1} of {clip_name!r}, which has {frame_count}; "
                      "the strip reaches past its file (a still-frame extension?): mark inside the footage")
    return SourceRange(start, stop)


def line_offset_frames(marks: SceneRange, *, sound_frame_start: int, sound_animation_offset_start: int) -> int:
    """Frames of the line (at the scene's rate) that lie before the in point: MyTalk's `--audio-in`.
    Negative when the line starts after the in point (MyTalk pads the head with silence)."""
    return marks.start - sound_frame_start + sound_animation_offset_start


def line_offset_seconds(offset_frames: int, scene_fps: Fraction, sound_offset_s: float) -> Fraction:
    """The same offset in exact seconds, with the sound strip's own `sound_offset` added."""
    return Fraction(offset_frames) / scene_fps + Fraction(sound_offset_s).limit_denominator(1_000_000)


def audio_in_argument(offset_frames: int, sound_offset_s: float, scene_fps: Fraction) -> str:
    """`--audio-in` as MyTalk parses it: whole frames when the sound has no sub-frame offset (exact),
    else seconds to the microsecond (well under a sample at 48 kHz)."""
    if sound_offset_s == 0:
        return str(offset_frames)
    seconds = line_offset_seconds(offset_frames, scene_fps, sound_offset_s)
    return f"{float(seconds):.6f}s"


def free_channel(occupied: Sequence[tuple[int, int, int]], *, above: int, start: int, stop: int,
                 unusable: Sequence[int] = (), highest: int = 128) -> int:
    """The lowest channel above `above` where `[start, stop)` overlaps none of the `occupied`
    `(channel, frame_final_start, frame_final_end)` strips and that is not `unusable` (locked or muted)."""
    for channel in range(above + 1, highest + 1):
        if channel in unusable:
            continue
        if not any(c == channel and s < stop and e > start for c, s, e in occupied):
            return channel
    raise Refused(f"no free channel above {above} over frames {start}-{stop - 1}; clear a channel above the shot")


__all__ = ["RATE_TOLERANCE", "Refused", "SceneRange", "SourceRange", "audio_in_argument", "check_rates",
           "free_channel", "line_offset_frames", "line_offset_seconds", "marked_range", "scene_rate",
           "source_range", "whole_frame"]
