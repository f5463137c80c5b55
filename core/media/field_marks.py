"""Frames marked as interlaced, with their first field, for the encoders that code fields.

An interlaced source (1080i, DV) holds two fields per frame, taken 1/50 s apart. ProRes and H.264 code
such a picture as two fields when told to (`+ildct`, x264's `interlaced`), and write which field comes
first into each coded picture: ProRes' frame header, H.264's picture timing. Both encoders read that
order from the frame's own flags, not from the stream, and PyAV cannot set them (a frame's
`interlaced_frame` is read-only and it has no top-field-first at all). So the frames pass through
FFmpeg's `setfield` filter, which sets the two flags and nothing else: the picture's buffers are the same
ones, so a frame's samples reach the encoder untouched.

Which field is first is the one shown first. FFmpeg's "tb" and "bt" name a coded order that differs
from the shown one (a field-swapped capture); the shown order is what a player and an encoder follow.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter

TOP_FIRST_ORDERS = ("tt", "bt")
"""FFmpeg field orders (`VideoStreamInfo.field_order`) whose upper field is shown first."""


def top_field_first(field_order: str) -> bool:
    """Whether a clip of FFmpeg's `field_order` ("tt", "bb", "tb", "bt") shows its upper field first."""
    return field_order in TOP_FIRST_ORDERS


class FieldMarker:
    """Marks each frame of one size and pixel format as interlaced, upper or lower field first.

    One filter graph, kept for the whole render: a frame goes in and the same picture comes out with
    its flags set, one for one (`setfield` holds no frame back).
    """

    def __init__(self, width: int, height: int, pix_fmt: str, time_base: Fraction, *, top_first: bool) -> None:
        self.top_first = top_first
        self._graph = av.filter.Graph()
        source = self._graph.add_buffer(width=width, height=height, format=av.VideoFormat(pix_fmt), time_base=time_base)
        mark = self._graph.add("setfield", "tff" if top_first else "bff")
        sink = self._graph.add("buffersink")
        source.link_to(mark)
        mark.link_to(sink)
        self._graph.configure()

    def mark(self, frame: av.VideoFrame) -> av.VideoFrame:
        """`frame`'s picture, flagged as interlaced with this marker's first field. Its pts and time base
        must be set (the filter's clock); they come back unchanged."""
        self._graph.push(frame)
        marked = self._graph.pull()
        assert isinstance(marked, av.VideoFrame)
        return marked
