"""Which field of a decoded interlaced frame comes first in time, carried with the frame itself.

An interlaced frame holds two fields taken 1/50 s (1/59.94 s) apart. The frame's time is its first field's:
the upper one in 1080i, HDV and XDCAM, the lower one in PAL and NTSC DV and most SD digital video. MyTalk
tracks and paints an interlaced frame at one instant (`face.field_picture`, `composite.one_instant`), and
that instant must be the frame's own, or the new mouth lands 1/50 s after the sound it was timed to.

The decoder knows each frame's first field, but PyAV does not expose it, so `FrameReader` marks the frames
of a clip whose stream says its lower field comes first (`VideoStreamInfo.lower_field_first`), in the
frame's `opaque` slot, which FFmpeg keeps for its caller and never reads. Whoever holds the frame (the
tracker, the renderers, the neural crops, a frame piece kept for learning) then asks `first_field_row`,
without the clip's probe having to travel with every frame.
"""

from __future__ import annotations

from typing import Any


class LowerFieldFirst:
    """The mark of a frame whose lower field comes first in time. One per frame: PyAV files a frame's
    opaque object under the object's identity and drops that entry when any frame holding it is freed, so
    a mark shared by many frames would vanish from the others with the first one let go."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LowerFieldFirst()"


def mark_lower_field_first(frame: Any) -> None:
    """Mark a decoded `av.VideoFrame` as one whose lower field comes first (its opaque slot is ours)."""
    frame.opaque = LowerFieldFirst()


def first_field_row(frame: Any) -> int:
    """The first frame row of the field an interlaced `av.VideoFrame` shows first: 0 for the upper field
    (even rows), 1 for the lower (odd rows). 0 for a frame not marked otherwise, and for a progressive one."""
    return 1 if frame.interlaced_frame and isinstance(frame.opaque, LowerFieldFirst) else 0
