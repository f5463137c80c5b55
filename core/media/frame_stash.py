"""Decoded frames kept from the tracking pass, so a short range is decoded once, not twice.

A job that has not tracked its range yet reads the range twice: once to track the face, once to
paint and encode. For a short range, the usual ADR line, the decoded frames of the first pass fit in
memory, and keeping them saves the second decode (the bigger share of a ProRes or UHD job's floor).
A long range would not fit: the stash then gives up, lets go of what it held, and the job reads the
range a second time, without tracking it again. Memory stays bounded either way: by the budget.
"""

from __future__ import annotations

from collections.abc import Generator

import av

from mytalk.core.media.reader import SourceFrame

DECODED_RANGE_BUDGET = 256 << 20
"""Bytes of decoded pictures a job may keep between tracking and painting: a 3 s line at 1080p
10-bit 4:2:2 (about 8 MB a frame), or 13 s at 512 px 4:2:0, and still well under a job's other needs."""


def frame_bytes(frame: av.VideoFrame) -> int:
    """Bytes the decoded picture holds, over all its planes."""
    return sum(int(plane.buffer_size) for plane in frame.planes)


class FrameStash:
    """Frames of one range, in order, kept while they fit in `budget` bytes.

    `keep` is called with each frame of the first pass. Once the frames held would pass the budget
    the stash drops them all and keeps nothing more (`complete` is then False): a job must not
    hold a long range in memory, and half a range saves nothing, since the second pass must seek
    and decode from its start anyway.
    """

    def __init__(self, first: int, last: int, budget: int | None = None) -> None:
        self.first, self.last = first, last
        self.budget = DECODED_RANGE_BUDGET if budget is None else budget
        self._frames: list[av.VideoFrame | None] = []
        self._bytes = 0
        self._overflowed = False
        self.offered = 0
        """Frames the first pass decoded and showed to `keep`: 0 when the tracking cache answered."""

    def keep(self, source: SourceFrame) -> None:
        """Hold `source`'s picture while the range still fits in the budget (see the class)."""
        self.offered += 1
        if self._overflowed:
            return
        if source.index != self.first + len(self._frames):
            raise ValueError(f"frame {source.index} kept out of order: expected {self.first + len(self._frames)}")
        self._bytes += frame_bytes(source.frame)
        if self._bytes > self.budget:
            self.release()
            return
        self._frames.append(source.frame)

    def release(self) -> None:
        """Let go of every frame held; the range will be read again."""
        self._frames = []
        self._bytes = 0
        self._overflowed = True

    @property
    def complete(self) -> bool:
        """Whether every frame of [first, last) is held."""
        return not self._overflowed and len(self._frames) == self.last - self.first

    @property
    def nbytes(self) -> int:
        return self._bytes

    def range_reads(self, painted_from_stash: bool) -> int:
        """How many times the job decoded its range: twice only when tracking decoded it and the
        frames did not fit (the report says so, since it is what a long cold job costs)."""
        return 1 if painted_from_stash or self.offered == 0 else 2

    def frames(self, start: int, stop: int) -> Generator[SourceFrame, None, None]:
        """The held frames as a reader gives them for range [start, stop) with its handles
        (`FrameReader.frames`): the ones outside [start, stop) are marked as handles.

        Each frame is let go as it is handed out, so the stash shrinks as the job paints."""
        if not self.complete:
            raise RuntimeError("the stash does not hold the whole range; read it from the file")
        frames, self._frames, self._bytes = self._frames, [], 0
        self._overflowed = True  # handed out once: a second call must read the file
        for offset in range(len(frames)):
            frame, frames[offset] = frames[offset], None
            assert frame is not None
            index = self.first + offset
            yield SourceFrame(index, frame, start <= index < stop)
