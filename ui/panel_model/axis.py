"""The time axis that the scrub bar, the waveform and the viseme lane share: frame <-> x pixel.

All three lanes sit in one column, one above the other, and an editor reads them straight down: the
playhead, a mark, a mouth closure and the burst of a "p" must be at the same x in each. So they
take their mapping from here, with the same margins, rather than each from its own formula: the
whole clip, frame 0 at `MARGIN_PX` and the end of the last frame at `width - MARGIN_PX`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

MARGIN_PX = 10
"""Left and right margin of every lane: room for the playhead handle and the in/out brackets."""
TICK_MIN_PX = 90
"""Labelled ticks are at least this far apart: a timecode label is about 80 px wide."""


@dataclass(frozen=True)
class TimeAxis:
    """The clip's `frame_count` frames at `fps` across a lane `width` pixels wide."""

    frame_count: int
    fps: Fraction
    width: float
    margin: float = MARGIN_PX

    @property
    def inner(self) -> float:
        """Pixels between the margins: where frames are."""
        return max(1.0, self.width - 2 * self.margin)

    @property
    def _count(self) -> int:
        return max(1, self.frame_count)

    def x_of_frame(self, frame: float) -> float:
        """Left edge (px) of `frame`; `frame_count` maps to the right end of the track."""
        return self.margin + self.inner * frame / self._count

    def frame_at(self, x: float) -> int:
        """The frame under pixel `x` (not clamped to the clip)."""
        return int((x - self.margin) / self.inner * self._count // 1)

    def x_of_seconds(self, seconds: float) -> float:
        """x of clip time `seconds` (frame 0 starts at 0 s)."""
        return self.x_of_frame(seconds * float(self.fps))

    def seconds_at(self, x: float) -> float:
        return (x - self.margin) / self.inner * self._count / float(self.fps)

    def span_seconds(self) -> tuple[float, float]:
        """Clip time at x = 0 and at x = width, margins included: what a lane that maps time linearly
        onto its whole width (an envelope, viseme blocks) must be given to line up with the others."""
        return self.seconds_at(0.0), self.seconds_at(self.width)

    def tick_step(self, min_px: float = TICK_MIN_PX) -> int:
        """Frames between labelled ticks: one second, doubled (or x5 past ten seconds) until the
        labels are at least `min_px` apart."""
        fps = max(1, round(self.fps))
        step = fps
        while step * self.inner / self._count < min_px and step < self._count:
            step *= 2 if step < fps * 10 else 5 if step % (fps * 10) == 0 else 2
        return step

    def ticks(self, min_px: float = TICK_MIN_PX) -> range:
        """Frames of the labelled ticks, from frame 0."""
        return range(0, self.frame_count, self.tick_step(min_px))
