"""The transport model: playhead, in/out marks and J/K/L shuttle, in pure Python.

The panel's widgets are thin Qt adapters over this model (napari `_qt` style): key presses
become method calls here, and the widgets redraw when the model reports a change. Keeping it
free of Qt makes the editing habits testable without a display and reusable by other hosts.

Frames are clip-relative indices (frame 0 is the clip's first frame). Editors click the *last*
frame they want as the out mark, so `mark_out` is inclusive; `range()` returns the half-open
`(start, stop)` that the core uses everywhere else (stop = mark_out + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from mytalk.core.timecode import frames_to_smpte, is_drop_frame_rate, nominal_rate, parse_position

Listener = Callable[[str], None]
"""Called with what changed: "position", "marks", "speed" or "clip"."""

SHUTTLE_SPEEDS = (1, 2, 4, 8)
"""Successive L (or J) presses: 1x, 2x, 4x, 8x, as in Avid, Premiere and Resolve."""


@dataclass(frozen=True)
class ClipTiming:
    """What the transport needs to know about a clip: length (frames), rate, source timecode."""

    frame_count: int
    fps: Fraction
    start_timecode: str | None = None

    @property
    def drop_frame(self) -> bool:
        """True at 29.97/59.94 unless the file's own timecode says non-drop (':' separator)."""
        if not is_drop_frame_rate(self.fps):
            return False
        if self.start_timecode:
            return any(sep in self.start_timecode for sep in ";,")
        return True


class Transport:
    """Playhead, marks and shuttle speed of one clip; notifies listeners on every change."""

    def __init__(self) -> None:
        self.timing: ClipTiming | None = None
        self.position = 0
        self.mark_in: int | None = None
        self.mark_out: int | None = None
        self.speed = 0
        self._k_held = False
        self._listeners: list[Listener] = []

    # -- observers -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)

    # -- clip ------------------------------------------------------------------------------------

    def set_clip(self, timing: ClipTiming | None) -> None:
        """Load a clip (or unload with None): playhead to 0, marks cleared, stopped."""
        self.timing = timing
        self.position = 0
        self.mark_in = self.mark_out = None
        self.speed = 0
        self._changed("clip")

    @property
    def frame_count(self) -> int:
        return self.timing.frame_count if self.timing else 0

    @property
    def fps(self) -> Fraction:
        return self.timing.fps if self.timing else Fraction(25)

    # -- playhead --------------------------------------------------------------------------------

    def seek(self, frame: int) -> None:
        """Move the playhead, clamped to the clip."""
        if not self.timing:
            return
        clamped = max(0, min(self.frame_count - 1, int(frame)))
        if clamped != self.position:
            self.position = clamped
            self._changed("position")

    def step(self, frames: int) -> None:
        """Step by whole frames (arrow keys); stops playback first, as editors expect."""
        self.stop()
        self.seek(self.position + frames)

    def step_seconds(self, seconds: int) -> None:
        """Shift+arrow: step by whole timecode seconds (the nominal rate, 30 at 29.97)."""
        self.step(seconds * nominal_rate(self.fps))

    def go_to_start(self) -> None:
        self.stop()
        self.seek(0)

    def go_to_end(self) -> None:
        self.stop()
        self.seek(self.frame_count - 1)

    def go_to_in(self) -> None:
        if self.mark_in is not None:
            self.stop()
            self.seek(self.mark_in)

    def go_to_out(self) -> None:
        if self.mark_out is not None:
            self.stop()
            self.seek(self.mark_out)

    # -- marks -----------------------------------------------------------------------------------

    def set_in(self, frame: int | None = None) -> str | None:
        """Mark in at `frame` (default: the playhead).

        An in after the out mark keeps both marks and swaps them, so the range runs from the old
        out to the new in: no mark the editor set is dropped. Returns a note saying so (for the
        panel's status line), or None when the marks were in order."""
        if not self.timing:
            return None
        frame = self._clamp(self.position if frame is None else frame)
        note = None
        if self.mark_out is not None and frame > self.mark_out:
            self.mark_in, self.mark_out = self.mark_out, frame
            note = (f"In {self.timecode(frame)} is after Out: the marks were swapped, "
                    f"In {self.timecode(self.mark_in)}, Out {self.timecode(self.mark_out)}")
        else:
            self.mark_in = frame
        self._changed("marks")
        return note

    def set_out(self, frame: int | None = None) -> str | None:
        """Mark out at `frame` (default: the playhead), inclusive.

        An out before the in mark keeps both marks and swaps them, so the range runs from the new
        out to the old in: no mark the editor set is dropped. Returns a note saying so, or None."""
        if not self.timing:
            return None
        frame = self._clamp(self.position if frame is None else frame)
        note = None
        if self.mark_in is not None and frame < self.mark_in:
            self.mark_in, self.mark_out = frame, self.mark_in
            note = (f"Out {self.timecode(frame)} is before In: the marks were swapped, "
                    f"In {self.timecode(self.mark_in)}, Out {self.timecode(self.mark_out)}")
        else:
            self.mark_out = frame
        self._changed("marks")
        return note

    def _clamp(self, frame: int) -> int:
        return max(0, min(self.frame_count - 1, int(frame)))

    def set_range(self, start: int, stop: int) -> None:
        """Set both marks from a half-open range (stop exclusive), as hosts and the core give it."""
        if not self.timing:
            return
        start = max(0, min(self.frame_count - 1, int(start)))
        stop = max(start + 1, min(self.frame_count, int(stop)))
        self.mark_in, self.mark_out = start, stop - 1
        self._changed("marks")

    def clear_in(self) -> None:
        self.mark_in = None
        self._changed("marks")

    def clear_out(self) -> None:
        self.mark_out = None
        self._changed("marks")

    def clear_marks(self) -> None:
        self.mark_in = self.mark_out = None
        self._changed("marks")

    def range(self) -> tuple[int, int] | None:
        """The marked range as (start, stop), stop exclusive; an open side extends to the clip edge."""
        if not self.timing or (self.mark_in is None and self.mark_out is None):
            return None
        start = self.mark_in if self.mark_in is not None else 0
        stop = self.mark_out + 1 if self.mark_out is not None else self.frame_count
        return start, stop

    # -- shuttle (J/K/L) -------------------------------------------------------------------------

    def play(self, speed: int = 1) -> None:
        if not self.timing or speed == self.speed:
            return
        self.speed = speed
        self._changed("speed")

    def stop(self) -> None:
        if self.speed:
            self.speed = 0
            self._changed("speed")

    def toggle_play(self) -> None:
        """Space: play forward at 1x, or stop."""
        if self.speed:
            self.stop()
        else:
            self.play(1)

    def shuttle_forward(self) -> None:
        """L: play forward, each further press faster; with K held, step one frame forward."""
        if self._k_held:
            self.step(1)
            return
        self.play(self._next_speed(+1))

    def shuttle_reverse(self) -> None:
        """J: play backward, each further press faster; with K held, step one frame back."""
        if self._k_held:
            self.step(-1)
            return
        self.play(self._next_speed(-1))

    def _next_speed(self, direction: int) -> int:
        if self.speed == 0 or (self.speed > 0) != (direction > 0):
            return direction
        magnitude = abs(self.speed)
        faster = next((s for s in SHUTTLE_SPEEDS if s > magnitude), SHUTTLE_SPEEDS[-1])
        return direction * faster

    def press_k(self) -> None:
        """K: stop. While K is held, J and L step single frames (the K+J / K+L habit)."""
        self._k_held = True
        self.stop()

    def release_k(self) -> None:
        self._k_held = False

    def tick(self, frames: int = 1) -> bool:
        """Advance playback by `frames` ticks at the current speed; stop at either end.

        Returns True while still playing. The panel calls this from its playback timer.
        """
        if not self.speed or not self.timing:
            return False
        target = self.position + self.speed * frames
        if target >= self.frame_count - 1 or target <= 0:
            self.seek(target)
            self.stop()
            return False
        self.seek(target)
        return True

    # -- display ---------------------------------------------------------------------------------

    def timecode(self, frame: int | None = None, *, source: bool = True) -> str:
        """SMPTE label of a frame (default: the playhead), drop-frame aware.

        With `source=True` the clip's own start timecode is added, as editors read it off the
        file; otherwise the label counts from 00:00:00:00.
        """
        frame = self.position if frame is None else frame
        drop = self.timing.drop_frame if self.timing else False
        if source and self.timing and self.timing.start_timecode:
            frame += parse_position(self.timing.start_timecode, self.fps, what="start timecode")
        return frames_to_smpte(frame, self.fps, drop=drop)

    def duration_timecode(self) -> str | None:
        marked = self.range()
        if marked is None:
            return None
        drop = self.timing.drop_frame if self.timing else False
        return frames_to_smpte(marked[1] - marked[0], self.fps, drop=drop)

    def parse(self, text: str) -> int:
        """A typed position (frames, 2.5s, SMPTE, @source TC) as a clip-relative frame.

        Plain SMPTE typed into the timecode field is read as *source* timecode when the clip has
        one, because that is the number the editor sees in the field; `@` works too.
        """
        raw = text.strip()
        start_tc = self.timing.start_timecode if self.timing else None
        if start_tc and ":" in raw and not raw.startswith("@"):
            raw = "@" + raw
        return parse_position(raw, self.fps, source_start=start_tc, what="timecode")
