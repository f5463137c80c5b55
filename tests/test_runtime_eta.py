"""The whole-job ETA (`mytalk.core.runtime.eta`): the render ahead is counted before it starts, and its
rate is learned from this runtime's own renders. A clock is passed in, so nothing here is timed."""

from __future__ import annotations

from mytalk.core.face.tracker import STAGE
from mytalk.core.runtime.eta import RENDER_PRIOR_S_PER_FRAME, TRACKING_STAGE, JobEta, RenderRates
from mytalk.core.runtime.protocol import ProgressThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_tracking_stage_name_is_the_trackers() -> None:
    assert TRACKING_STAGE == STAGE


def test_before_the_render_the_eta_adds_the_frames_to_render_at_the_learned_rate() -> None:
    rates, clock = RenderRates(), Clock()
    eta = JobEta(rates, "a.mov", clock=clock)
    assert eta(10, 100, "face tracking", 9.0) == 9.0 + 100 * RENDER_PRIOR_S_PER_FRAME
    assert eta(1, 1, "learning the actor (1/1): phones", None) == 100 * RENDER_PRIOR_S_PER_FRAME
    # The render: its own ETA, and once it ends, its rate for the next job on this clip.
    clock.now = 10.0
    assert eta(1, 100, "render", 30.0) == 30.0
    clock.now = 10.0 + 99 * 0.2
    assert eta(100, 100, "render", 0.0) == 0.0
    assert abs(rates.estimate("a.mov") - 0.2) < 1e-9
    assert abs(rates.estimate("b.mov") - 0.2) < 1e-9, "another clip starts from the last rate seen"
    nxt = JobEta(rates, "a.mov", clock=clock)
    assert abs(nxt(50, 50, "face tracking", None) - 50 * 0.2) < 1e-9  # type: ignore[operator]


def test_jobs_that_render_nothing_keep_the_stage_eta() -> None:
    eta = JobEta(RenderRates(), "a.mov", renders=False)
    assert eta(10, 100, "face tracking", 9.0) == 9.0
    assert eta(100, 100, "face tracking", None) is None


def test_the_throttle_hands_its_stage_eta_to_the_job_eta() -> None:
    clock, events = Clock(), []
    throttle = ProgressThrottle(lambda *e: events.append(e), clock=clock,
                                job_eta=JobEta(RenderRates(), "a.mov", clock=clock))
    throttle(0, 50, "face tracking")
    clock.now = 1.0
    throttle(25, 50, "face tracking")
    assert events[-1] == (25, 50, "face tracking", 1.0 + 50 * RENDER_PRIOR_S_PER_FRAME)
