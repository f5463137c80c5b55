"""A committed render put back in Blender's sequencer, on new strips above the shot.

The render holds exactly the marked frames, so its movie strip starts at the marks' first scene
frame and lasts the range's length: channels stacked higher are drawn on top, and the fix covers
the original for exactly those frames. Its sound (the line, muxed for exactly the range) goes on
the next free channel, muted while the line's own strip plays (it and its channel unmuted): the editor placed the line
there and hears it, and Blender sums every sound strip, so an unmuted copy would play the line twice
over the range (6 dB up, with a jump at each edge). Nothing that was in the scene is moved, trimmed or
changed.

Each new strip carries its provenance as custom properties (`mytalk_*`, Strip ▸ Custom
Properties), so a render found in a .blend later can be traced to its source, line and report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import marks
from .shot import BlenderShot, all_strips, sibling_strips

PROVENANCE_PREFIX = "mytalk_"
_TRANSFORM = ("offset_x", "offset_y", "scale_x", "scale_y", "rotation", "filter")
_CROP = ("min_x", "max_x", "min_y", "max_y")
_COLOUR = ("color_saturation", "color_multiply", "use_flip_x", "use_flip_y", "use_float", "alpha_mode")
"""The strip's own colour settings (Strip ▸ Color, Transform ▸ Mirror): how the shot's pixels are shown."""


@dataclass(frozen=True)
class Placed:
    """Names and channels of the new strips, and a sentence for the status bar."""

    movie: str
    movie_channel: int
    sound: str | None
    sound_channel: int | None
    description: str


def provenance(shot: BlenderShot, result: dict[str, Any], *, engine: str, mytalk_version: str) -> dict[str, Any]:
    """The custom properties of both new strips (ID properties: strings, ints and floats only)."""
    return {
        "source_file": str(shot.video),
        "source_start": int(result.get("start", shot.source.start)),
        "source_stop": int(result.get("stop", shot.source.stop)),
        "line_file": str(shot.line),
        "line_offset_s": float(shot.line_offset_s),
        "engine": engine,
        "version": mytalk_version,
        "render_version": int(result.get("version", 0)),
        "report": str(result.get("sidecar", "")),
        "codec": str(result.get("codec", "")),
        **({"line_channels": shot.line_channels} if shot.line_channels else {}),
        **({"guide_channels": shot.guide_channels} if shot.guide_channels else {}),
    }


def _unusable_channels(editor: Any) -> list[int]:
    """Locked or muted channels: a strip placed there could not be edited or would not show."""
    channels = getattr(editor, "channels", None)
    if channels is None:
        return []
    return [index for index, channel in enumerate(channels) if index > 0 and (channel.lock or channel.mute)]


def _copy_picture_settings(source: Any, target: Any) -> None:
    """The fix has the source's size, so the source strip's transform and crop place it identically
    (a clip added with Fit or Fill to another resolution is scaled the same), and its colour settings show it
    as the shot is shown."""
    for name in _TRANSFORM:
        if hasattr(source.transform, name):
            setattr(target.transform, name, getattr(source.transform, name))
    if hasattr(source.transform, "origin"):
        target.transform.origin = tuple(source.transform.origin)
    for name in _CROP:
        setattr(target.crop, name, getattr(source.crop, name))
    target.blend_type, target.blend_alpha = source.blend_type, source.blend_alpha
    if hasattr(source, "colorspace_settings"):
        target.colorspace_settings.name = source.colorspace_settings.name
    for name in _COLOUR:
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))


def _modifiers_not_copied(source: Any) -> list[str]:
    """The shot's strip modifiers (a Color Balance, Curves, ...), which the fix does not get: the editor is told to
    copy them (Strip ▸ Modifiers ▸ Copy to Selected Strips). Blender 5.0.1 as a module, where this add-on is tested,
    crashes in `Strip.modifiers.new` itself, so a copy made here could not be proved."""
    return [str(modifier.name) for modifier in getattr(source, "modifiers", ())]


def _line_heard(editor: Any, shot: BlenderShot) -> bool:
    """Whether the line's own strip plays: not muted, on a channel not muted. Where it plays, the render's
    sound holds the same samples at the same frames. False when the line is a chosen file (no strip)."""
    if shot.line_strip is None:
        return False
    strip = next((s for s in all_strips(editor) if s.name == shot.line_strip), None)
    if strip is None or strip.type != "SOUND" or strip.mute:
        return False
    channels = getattr(editor, "channels", None)
    return not (channels is not None and 0 < int(strip.channel) < len(channels) and channels[int(strip.channel)].mute)


def _hidden_under(strips: Any, below: int, above: int, start: int, stop: int) -> list[str]:
    """Picture strips of the scene on channels between the shot's (`below`) and the fix's (`above`) that show
    over scene frames [start, stop): a title, a lower third, an overlay. The fix is drawn over them there. A
    channel right above the shot is taken when free; these are what made it not free. MyTalk's own earlier
    fixes are left out: a new fix is meant to cover them."""
    return [str(s.name) for s in strips
            if below < int(s.channel) < above and s.type != "SOUND" and not s.mute
            and int(s.frame_final_start) < stop and start < int(s.frame_final_end)
            and PROVENANCE_PREFIX + "source_file" not in s.keys()]


def _occupied(strips: Any, *, ignore: tuple[Any, ...] = ()) -> list[tuple[int, int, int]]:
    return [(int(s.channel), int(s.frame_final_start), int(s.frame_final_end)) for s in strips if s not in ignore]


def _fit_length(strip: Any, start: int, frames: int) -> None:
    """Trim a strip to exactly `frames` from `start` (a muxed sound may run a fraction of a frame long)."""
    if int(strip.frame_final_end) > start + frames:
        strip.frame_final_end = start + frames


def place(scene: Any, source_strip: Any, shot: BlenderShot, result: dict[str, Any], properties: dict[str, Any]) -> Placed:
    """Add the render's movie and sound strips on the first free channels above the shot."""
    editor = scene.sequence_editor
    strips = sibling_strips(editor, source_strip)
    output = Path(str(result["output"]))
    frames = int(result.get("frames") or (int(result["stop"]) - int(result["start"])))
    start = shot.scene_range.start + (int(result["start"]) - shot.source.start)
    stop = start + frames
    unusable = _unusable_channels(editor)
    channel = marks.free_channel(_occupied(strips), above=int(source_strip.channel), start=start, stop=stop,
                                 unusable=unusable)
    name = output.stem
    movie = strips.new_movie(name=name, filepath=str(output), channel=channel, frame_start=start)
    _fit_length(movie, start, frames)
    _copy_picture_settings(source_strip, movie)
    left = _modifiers_not_copied(source_strip)
    for key, value in properties.items():
        movie[PROVENANCE_PREFIX + key] = value
    sound = None
    sound_channel: int | None = None
    try:
        sound_channel = marks.free_channel(_occupied(strips), above=channel, start=start, stop=stop, unusable=unusable)
        sound = strips.new_sound(name=f"{name} line", filepath=str(output), channel=sound_channel, frame_start=start)
    except (marks.Refused, RuntimeError):
        sound = None  # a render whose sound Blender cannot read still places its picture
    muted = False
    if sound is not None:
        _fit_length(sound, start, frames)
        for key, value in properties.items():
            sound[PROVENANCE_PREFIX + key] = value
        muted = sound.mute = _line_heard(editor, shot)
    placed_frames = int(movie.frame_final_duration)
    warning = "" if placed_frames == frames else f" (Blender placed {placed_frames} of {frames} frames: check the file)"
    hidden = _hidden_under(strips, int(source_strip.channel), channel, start, stop)
    if hidden:
        them = "it" if len(hidden) == 1 else "them"
        warning += (f"; the fix is drawn over {', '.join(repr(name) for name in hidden)} there: move {them} above "
                    f"channel {channel} to show {them} over the fix")
    if left:
        warning += (f"; the shot's modifiers ({', '.join(left)}) are not on the fix: select the fix, then the shot "
                    "(active), and use Strip ▸ Modifiers ▸ Copy to Selected Strips")
    where = f"channel {channel}" + (", without its sound" if sound is None else
                                     f", its sound muted on {sound_channel} (the line's strip plays it)" if muted else
                                     f", its sound on {sound_channel}")
    description = f"placed {output.name} at frame {start} on {where}{warning}"
    return Placed(movie.name, channel, sound.name if sound is not None else None,
                  sound_channel if sound is not None else None, description)


__all__ = ["PROVENANCE_PREFIX", "Placed", "place", "provenance"]
