"""A job's ETA for the whole job, not just the stage it is in.

A preview reports its stages one after another (face tracking, learning the actor, the line's
phones, planning, render), each with its own `done` of `total`. An ETA made from the current
stage alone says "2 s" while the range is tracked and then jumps to half a minute when the
render starts: the editor cannot plan around it. `JobEta` adds the render still ahead to every
estimate made before it: the frames to render (the range and its handles, which is exactly what
the job's "face tracking" stage counts) at the seconds per frame that this runtime's own renders
of the same clip took (`RenderRates`), or of the last clip it rendered, or a prior measured on a
two-core laptop CPU for a 512-720 line clip. The stages between (the line's phones, planning)
are short and not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

TRACKING_STAGE = "face tracking"
"""`mytalk.core.face.tracker.STAGE`, spelled out: importing the tracker here would load the face stack into
a runtime that has not tracked anything yet (a test keeps the two equal)."""
RENDER_STAGE = "render"
RENDER_PRIOR_S_PER_FRAME = 0.05
"""Before this runtime has rendered anything: about what a 512 px clip's final render costs a frame
on two cores (0.02 s) and a 720p one's (0.06 s), rounded up."""


class RenderRates:
    """Seconds per rendered frame, learned per clip from this runtime's finished render stages."""

    def __init__(self) -> None:
        self._by_clip: dict[str, float] = {}
        self._last: float | None = None

    def learn(self, clip: str, seconds: float, frames: int) -> None:
        if frames <= 0 or seconds <= 0:
            return
        rate = seconds / frames
        self._by_clip[clip] = rate
        self._last = rate

    def estimate(self, clip: str) -> float:
        return self._by_clip.get(clip, self._last if self._last is not None else RENDER_PRIOR_S_PER_FRAME)


class JobEta:
    """Turns (done, total, stage, the stage's own ETA) into the whole job's ETA, and learns the render rate.

    `clip` keys the learned rate; `renders` is False for jobs that paint nothing (track, prepare)."""

    def __init__(self, rates: RenderRates, clip: str, *, renders: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = rates
        self._clip = clip
        self._renders = renders
        self._clock = clock
        self._frames: int | None = None
        self._render_first: tuple[float, int] | None = None

    def __call__(self, done: int, total: int, stage: str, stage_eta: float | None) -> float | None:
        if stage == RENDER_STAGE:
            now = self._clock()
            if self._render_first is None:
                self._render_first = (now, done)
            elif total > 0 and done >= total:
                began, first_done = self._render_first
                self._rates.learn(self._clip, now - began, done - first_done)
            return stage_eta
        if stage == TRACKING_STAGE and self._frames is None and total > 0:
            self._frames = total  # the range and its handles: what the render will paint
        if not self._renders or self._frames is None:
            return stage_eta
        ahead = self._frames * self._rates.estimate(self._clip)
        return ahead if stage_eta is None else stage_eta + ahead
