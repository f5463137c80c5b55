"""Which files the panel opens as the clip and which as the replacement line, and which lines it refuses.

Any video can also serve as the line (its sound is used): dropped with Alt held once a clip is
open, or picked in the line dialog. Suffixes decide, not content: probing a file on drag would
stall the drop, and the loaders report an unreadable file with its name anyway.
"""

from __future__ import annotations

from pathlib import Path

from mytalk.core.errors import MediaFormatError, MediaNotFoundError
from mytalk.core.media.probe import MediaInfo, VideoStreamInfo, probe
from mytalk.core.settings import VIDEO_SUFFIXES

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".aac", ".m4a", ".aif", ".aiff", ".ogg"})


def drop_target(path: Path, *, has_clip: bool, alt: bool) -> str | None:
    """"line", "clip" or None (not media) for a file dropped on the panel."""
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES or (has_clip and suffix in VIDEO_SUFFIXES and alt):
        return "line"
    if suffix in VIDEO_SUFFIXES:
        return "clip"
    return None


_FIELDS_SHOWN = {"tt": " interlaced, upper field first", "bt": " interlaced, upper field first",
                 "bb": " interlaced, lower field first", "tb": " interlaced, lower field first"}
"""FFmpeg's field orders as editors read them. "tb" is coded top first and shown bottom first: the order shown
is the one that counts. The render keeps the fields (`VideoWriter`); a proxy does not."""


def clip_summary(name: str, video: VideoStreamInfo, rate: str, shown_size: tuple[int, int] | None = None) -> str:
    """The clip's line at the top of the panel: its name, size (and `shown_size`, the size a turned or
    anamorphic clip is shown at: `DisplayGeometry.shown_size`, which the panel passes so that this module stays
    free of the face package's OpenCV), fields, matte, `rate` as the timecode readout words it, and its frames;
    a clip cut short says so, and how many frames its header lists where it lists any (`VideoStreamInfo.
    listed_frames`; a transport stream lists none, `ends_mid_packet`)."""
    shown = "" if shown_size is None else " (shown {}×{})".format(*shown_size)
    fields = _FIELDS_SHOWN.get(video.field_order, "")
    matte = ", with alpha" if video.has_alpha else ""
    listed = (f" of {video.listed_frames} listed (cut short)" if video.listed_frames is not None
              else " (cut short)" if video.ends_mid_packet else "")
    return (f"{name}   {video.width}×{video.height}{shown}{fields}{matte}   {rate}   "
            f"{video.frame_count} frames{listed}")


def clip_filter() -> str:
    """The clip dialog's name filter."""
    return "Video (" + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES)) + ");;All files (*)"


def line_filter() -> str:
    """The line dialog's name filter: audio files, and videos for their sound."""
    return "Audio (" + " ".join(f"*{s}" for s in sorted(AUDIO_SUFFIXES | set(VIDEO_SUFFIXES))) + ");;All files (*)"


def line_button_text(path: Path) -> str:
    """The Line button's caption once a line is open: its name, shortened to fit the button."""
    return f"Line: {path.name}" if len(path.name) <= 28 else f"Line: {path.name[:25]}…"


MIN_LINE_S = 0.1
"""A replacement line shorter than this is refused: no line of dialogue is, and a file that short is
almost always a truncated copy (a header and a few samples)."""


def check_line(path: Path) -> MediaInfo:
    """Probe `path` as a replacement line; `MyTalkError` says why it cannot be one.

    A line is refused like a bad clip, before it replaces the current one: what the panel cannot
    read would only fail later, in a preview job, with the editor's working line already gone.
    """
    if not path.is_file():
        raise MediaNotFoundError(f"replacement line not found: {path}; pick the file again")
    info = probe(path)
    if not info.audio:
        raise MediaFormatError(f"{path.name}: has no sound; pick an audio file, or a video with the line in its sound")
    duration = max(stream.duration_s for stream in info.audio) or info.duration_s
    if duration < MIN_LINE_S:
        raise MediaFormatError(f"{path.name}: holds only {duration:.3f} s of sound; the file looks truncated, "
                               "copy or export it again")
    return info
