"""The text forms of user inputs that are not manifest settings: `X,Y` face points and `FILE[:IN-OUT]`.

Each form has one parser, shared by the CLI, the runtime, the panel, `actor build` and `dataset
build`, so a position or a footage range is read the same way wherever it is typed. Ranges are
only split off here; they are read against the clip by `mytalk.core.jobs.request.parse_range`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from mytalk.core.errors import UsageError

__all__ = ["GUIDE_MODES", "VIDEO_SUFFIXES", "parse_face_point", "split_media_spec"]

GUIDE_MODES: tuple[str, ...] = ("auto", "none")
"""`--guide`: use the clip's own audio over the range to align the line (auto), or never (none)."""

VIDEO_SUFFIXES: tuple[str, ...] = (".mov", ".mp4", ".mkv", ".mxf", ".avi", ".m4v", ".webm")
# A file that does not exist yet is still read as FILE:RANGE when FILE has a video extension, so
# the error names the missing file rather than calling the whole text a bad range. The path part
# is matched lazily: a timecode range (`a.mov:00:00:01:00-00:00:02:00`) holds colons too.
_MEDIA_PREFIX = re.compile(
    rf"^(?P<path>.+?(?:{'|'.join(re.escape(s) for s in VIDEO_SUFFIXES)}))(?::(?P<range>.*))?$", re.IGNORECASE
)


def parse_face_point(text: str | None) -> tuple[float, float] | None:
    """`--face X,Y` (frame pixels, spaces allowed) as a point; None for no text (pick the largest face)."""
    if text is None or not text.strip():
        return None
    parts = text.replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"--face {text!r}: give the face position as X,Y in pixels, e.g. --face 640,360") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise UsageError(f"--face {text!r}: X and Y must be finite pixel coordinates, e.g. --face 640,360")
    return x, y


def split_media_spec(spec: str | Path) -> tuple[Path, str | None]:
    """`FILE` or `FILE:IN-OUT` -> (path, range text, or None when no range is given).

    An existing file wins over a split (a file name may hold a colon); otherwise the path ends at
    the first colon after which the text before it names an existing file or a video file. The
    range text is returned as written (frames, seconds or timecode, as `--in`/`--out`).
    """
    text = str(spec).strip()
    whole = Path(text).expanduser()
    if whole.exists():
        return whole, None
    for index, char in enumerate(text):
        if char == ":" and index > 0 and Path(text[:index]).expanduser().exists():
            return Path(text[:index]).expanduser(), text[index + 1 :]
    match = _MEDIA_PREFIX.match(text)
    if match:
        return Path(match.group("path")).expanduser(), match.group("range")
    return whole, None
