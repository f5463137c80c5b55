"""What the MyTalk panel works on, read from Blender's sequencer: the clip, the marks and the line.

The active movie strip is the shot; the marks come from `marks.marked_range`; the line is the one
selected sound strip that is not the clip's own sound (a movie added with its sound brings a
second strip of the same file, usually selected too), else the file chosen in the panel. All
frame arithmetic is in `marks`, which needs no Blender.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import bpy  # type: ignore[import-not-found]

from . import marks
from .marks import Refused, SceneRange, SourceRange


@dataclass(frozen=True)
class BlenderShot:
    """The marked part of the active movie strip, in scene frames and in frames of its file."""

    strip_name: str
    video: Path
    scene_range: SceneRange
    source: SourceRange
    fps: Fraction
    line: Path
    line_strip: str | None
    audio_in: str
    """`--audio-in` of the request: frames (exact) or seconds."""
    line_offset_s: float
    channel: int
    line_channels: str | None = None
    """The line's channels picked (`--audio-channels` text), None for all of them."""
    guide_channels: str | None = None
    """The clip's own channels picked as the actor's (`--guide-channels` text), None for the default."""

    def channel_fields(self) -> tuple[tuple[str, str], ...]:
        """The picks as the runtime's request fields, only those made."""
        return tuple((name, value) for name, value in (("audio_channels", self.line_channels),
                                                       ("guide_channels", self.guide_channels)) if value)


def strips_of(editor: Any) -> Any:
    """The top-level strips collection: `strips` since Blender 4.4, `sequences` before."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(editor: Any) -> Any:
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def sibling_strips(editor: Any, strip: Any) -> Any:
    """The strips beside `strip`: its meta strip's, or the scene's top level."""
    meta = strip.parent_meta() if hasattr(strip, "parent_meta") else None
    return meta.strips if meta is not None and hasattr(meta, "strips") else strips_of(editor)


def absolute(path: str, library: Any = None) -> Path:
    """A strip's path (Blender writes `//` for relative to the .blend) as an absolute file path."""
    return Path(os.path.normpath(bpy.path.abspath(path, library=library)))


def active_movie(scene: Any) -> Any:
    editor = scene.sequence_editor
    strip = editor.active_strip if editor is not None else None
    if strip is None or strip.type != "MOVIE":
        raise Refused("no movie strip is active; click the shot's movie strip in the sequencer")
    return strip


def _frame_count(strip: Any) -> int:
    # frame_duration is what is left after the hard trims; the file holds these too.
    return int(strip.frame_duration) + int(strip.animation_offset_start) + int(strip.animation_offset_end)


def _check_plain_timing(strip: Any) -> None:
    """Refuse what would make scene frame -> source frame anything but a shift."""
    if getattr(strip, "use_reverse_frames", False):
        raise Refused(f"strip {strip.name!r} plays backwards; turn off Reverse Frames to fix it")
    if getattr(strip, "strobe", 1.0) not in (0.0, 1.0):
        raise Refused(f"strip {strip.name!r} has a strobe of {strip.strobe}; set Strobe to 1 to fix it")
    if abs(getattr(strip, "speed_factor", 1.0) - 1.0) > 1e-9 or len(getattr(strip, "retiming_keys", ())) > 0:
        raise Refused(f"strip {strip.name!r} is retimed; MyTalk needs it at its own speed (remove the retiming)")


def _line(scene: Any, movie: Path, marks_range: SceneRange, fps: Fraction) -> tuple[Path, str | None, str, float]:
    """The line file, its strip's name (None for a chosen file), `--audio-in` and the offset in seconds."""
    editor = scene.sequence_editor
    candidates = [s for s in all_strips(editor)
                  if s.type == "SOUND" and s.select and s.sound is not None
                  and absolute(s.sound.filepath, s.sound.library) != movie]
    if len(candidates) > 1:
        names = ", ".join(sorted(s.name for s in candidates))
        raise Refused(f"{len(candidates)} sound strips are selected ({names}); select only the replacement line")
    if candidates:
        sound = candidates[0]
        path = absolute(sound.sound.filepath, sound.sound.library)
        offset = marks.line_offset_frames(
            marks_range, sound_frame_start=marks.whole_frame(sound.frame_start, f"sound strip {sound.name!r}"),
            sound_animation_offset_start=int(sound.animation_offset_start))
        sound_offset = float(getattr(sound, "sound_offset", 0.0))
        seconds = marks.line_offset_seconds(offset, fps, sound_offset)
        return path, sound.name, marks.audio_in_argument(offset, sound_offset, fps), float(seconds)
    chosen = scene.mytalk.line_file
    if not chosen:
        raise Refused("no line: select the replacement line's sound strip, or choose a line file in the MyTalk panel")
    offset_s = float(scene.mytalk.line_offset)
    return absolute(chosen), None, f"{offset_s:.6f}s", offset_s


def read_shot(scene: Any) -> BlenderShot:
    """The shot under the marks, or `Refused` saying what to select or change."""
    strip = active_movie(scene)
    video = absolute(strip.filepath)
    if not video.is_file():
        raise Refused(f"strip {strip.name!r}: its file {video} is missing; relink it")
    _check_plain_timing(strip)
    fps = marks.scene_rate(scene.render.fps, scene.render.fps_base)
    marks.check_rates(fps, float(strip.fps), strip.name)
    frame_start = marks.whole_frame(strip.frame_start, f"strip {strip.name!r}")
    preview = bool(scene.use_preview_range)
    scene_range = marks.marked_range(
        use_preview_range=preview, preview_start=scene.frame_preview_start, preview_end=scene.frame_preview_end,
        marker_frames=[m.frame for m in scene.timeline_markers], strip_start=int(strip.frame_final_start),
        strip_stop=int(strip.frame_final_end))
    source = marks.source_range(scene_range, frame_start=frame_start,
                                animation_offset_start=int(strip.animation_offset_start),
                                frame_count=_frame_count(strip), clip_name=strip.name)
    line, line_strip, audio_in, offset_s = _line(scene, video, scene_range, fps)
    if not line.is_file():
        raise Refused(f"the line {line} is missing; relink the sound strip or choose another file")
    settings = scene.mytalk
    return BlenderShot(strip.name, video, scene_range, source, fps, line, line_strip, audio_in, offset_s,
                       int(strip.channel), settings.line_channels.strip() or None,
                       settings.guide_channels.strip() or None)


__all__ = ["BlenderShot", "absolute", "active_movie", "all_strips", "read_shot", "sibling_strips", "strips_of"]
