"""The tracker's finishing passes (subject choice, smoothing) over overlapping windows of a long range.

The tracker's frame loop is causal, but two passes after it look at more than one frame:

- the subject choice (`subject.py`) judges each appearance of a face against the subject's shape;
- the smoothing (`smoothing.py`) runs its One-Euro filter forwards and then backwards over each run.

Run over the whole range, both need every raw observation at once: 478 points a frame, so a
ten-minute range held about 90 MB of meshes (and twice that while smoothing) before the first one was
final. Here they run a window at a time instead. A window's frames are final once the tracker is
`context` frames past its end; each pass sees the window and `context` frames either side:

- the smoothing's filters start `context` frames before the window and come back from `context`
  frames after it. Its slowest filter (1 Hz, the face's rigid points) forgets a start-up
  difference by a factor of 0.8 a frame at 25 fps, so two seconds of context leave about 1e-5 of it
  (`tests/test_track_windows.py` measures the windowed meshes against the whole-range ones);
- the first window with a lasting, plausible face finds the subject as the whole-range pass would;
  later windows judge their faces against that subject's shape (`subject.decide_subject`), so a
  window of cutaway or of another person is never taken for the subject.

A range no longer than one window plus its context is finished in one piece, exactly as before.
Memory is the window and its context, whatever the range's length.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from mytalk.core.face.canonical import pose_fits
from mytalk.core.face.observation import FaceObservation, landmark_box
from mytalk.core.face.smoothing import SmoothingParams, light_points, smooth_landmarks
from mytalk.core.face.subject import decide_subject

FINISH_WINDOW_S = 10.0
"""Seconds of frames finished together: 250 meshes (1.4 MB) at 25 fps. A job paints a long range behind
the tracker (`engines.track_feed`), so its first frame waits for about this much more tracking."""

FINISH_CONTEXT_S = 2.0
"""Seconds either side of a window that its passes also read; see the module docstring."""


class WindowedFinish:
    """Raw observations in, in order; final ones out (subject chosen, smoothed), in order.

    `push` takes each raw observation as the tracker makes it and returns the observations that became
    final; `finish` returns the rest once the range is done.

    first_is_subject: the editor pointed at a face (`--face`): see `subject.decide_subject`.
    smoothing: the filters, or None to leave the meshes as tracked.
    window, context: in frames; by default `FINISH_WINDOW_S` and `FINISH_CONTEXT_S` at `fps`.
    """

    def __init__(self, fps: float, *, first_is_subject: bool, smoothing: SmoothingParams | None,
                 window: int | None = None, context: int | None = None) -> None:
        self.fps = float(fps)
        self.first_is_subject = first_is_subject
        self.smoothing = smoothing
        self.window = max(1, int(window if window is not None else math.ceil(FINISH_WINDOW_S * self.fps)))
        self.context = max(0, int(context if context is not None else math.ceil(FINISH_CONTEXT_S * self.fps)))
        self._raw: list[FaceObservation] = []
        self._cuts: set[int] = set()
        self._base = 0
        """Range position of `_raw[0]`: the raw observations before it are no one's context any more."""
        self._final = 0
        """Range positions before this one have been handed out."""
        self._reference: np.ndarray | None = None
        self._light: np.ndarray | None = None
        """The lightly smoothed points, measured on the first finished window with a face."""

    @property
    def pushed(self) -> int:
        """Raw observations taken so far."""
        return self._base + len(self._raw)

    @property
    def held(self) -> int:
        """Raw observations kept: at most a window and twice its context, whatever the range's length."""
        return len(self._raw)

    def push(self, observation: FaceObservation, cut: bool = False) -> list[FaceObservation]:
        """Add the next raw observation (`cut`: it starts a new shot); returns the ones now final."""
        if cut:
            self._cuts.add(self.pushed)
        self._raw.append(observation)
        # Strictly past one window and its context: a range that fits in one is finished whole, in `finish`.
        if self.pushed > self._final + self.window + self.context:
            return self._finish_window(self._final + self.window)
        return []

    def finish(self) -> list[FaceObservation]:
        """The observations not yet handed out, final."""
        if self._final >= self.pushed:
            return []
        return self._finish_window(self.pushed)

    def _finish_window(self, stop: int) -> list[FaceObservation]:
        """Make range positions [`_final`, stop) final, reading `context` either side."""
        begin = self._final
        lo, hi = max(self._base, begin - self.context), min(self.pushed, stop + self.context)
        span = [replace(o, warnings=list(o.warnings)) for o in self._raw[lo - self._base : hi - self._base]]
        cuts = {c - lo for c in self._cuts if lo < c < hi}
        decision = decide_subject([o.landmarks for o in span], [o.found for o in span], [o.index for o in span],
                                  first_is_subject=self.first_is_subject, cuts=cuts,
                                  reference_shape=self._reference)
        if self._reference is None and decision.established:
            self._reference = decision.reference_shape
        for run in decision.rejected:
            for k, obs in enumerate(span):
                if obs.found and run.first <= obs.index <= run.last:
                    note = f"frame {obs.index}: a face was tracked but not taken as the subject: {run.reason}"
                    span[k] = FaceObservation.missing(obs.index, note, obs.box)
                    span[k].warnings[:0] = obs.warnings
                    span[k].rejected = run.reason
        if self.smoothing is not None:
            self._smooth(span, whole=begin == 0 and stop == self.pushed)
        done = span[begin - lo : stop - lo]
        self._final = stop
        keep_from = max(self._base, stop - self.context)
        del self._raw[: keep_from - self._base]
        self._base = keep_from
        self._cuts = {c for c in self._cuts if c > keep_from}
        return done

    def _smooth(self, observations: list[FaceObservation], whole: bool) -> None:
        """Smooth the found meshes in place (`smoothing.smooth_landmarks`), with their boxes and poses.

        whole: the span is the whole range, and each of its runs measures its own lightly smoothed
        points as before windows existed; otherwise the first window measures them for all."""
        assert self.smoothing is not None
        found = np.array([o.found for o in observations])
        if found.sum() < 3:
            return
        raw = np.stack([o.landmarks for o in observations])
        if not whole and self._light is None:
            self._light = light_points(raw[found])
        smoothed = smooth_landmarks(raw, found, self.fps, self.smoothing, light=None if whole else self._light)
        at = np.flatnonzero(found)
        poses = pose_fits(smoothed[at])[0]
        for k, pose in zip(at, poses, strict=True):
            lm = smoothed[k]
            observations[k] = replace(observations[k], landmarks=lm, box=landmark_box(lm),
                                      pose=(float(pose[0]), float(pose[1]), float(pose[2])))
