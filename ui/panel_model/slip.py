"""The line's slip against the picture: the request's `audio_in`, kept as exact seconds.

`audio_in` is the time *in the line* that lands on the in point, so slipping the line later
against the picture lowers it. Offsets are `Fraction` seconds because a 29.97 frame is 1001/30000 s:
floats would drift after a few nudges and the request would no longer say what the editor set.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

NUDGE_S = Fraction(10, 1000)
"""Shift+, and Shift+. slip by 10 ms: finer than a frame, coarser than anyone hears as a change."""


def audio_in_text(seconds: Fraction) -> str:
    """`audio_in` as the request string: seconds with microsecond precision (`-0.040000s`),
    far below one audio sample, so the string loses nothing the render could use."""
    return f"{float(seconds):.6f}s"


@dataclass
class Slip:
    """Where the line sits against the in point; the waveform draws it, requests carry it."""

    audio_in: Fraction = Fraction(0)

    def set(self, audio_in: Fraction) -> bool:
        """Take a slip from elsewhere (a drag on the waveform); True when it changed."""
        value = Fraction(audio_in)
        changed = value != self.audio_in
        self.audio_in = value
        return changed

    def nudge(self, seconds: Fraction) -> Fraction:
        """Move the line later against the picture by `seconds` (negative: earlier)."""
        self.audio_in -= Fraction(seconds)
        return self.audio_in

    def nudge_frames(self, frames: int, fps: Fraction) -> Fraction:
        """Move the line by whole frames of the clip (at `fps` frames per second)."""
        return self.nudge(Fraction(frames) / fps)

    def reset(self) -> Fraction:
        """The line's first sample on the in point again."""
        self.audio_in = Fraction(0)
        return self.audio_in

    def request_text(self) -> str:
        return audio_in_text(self.audio_in)

    def label(self, fps: Fraction) -> str:
        """The slip as the editor reads it: the line's shift against the picture, positive = later."""
        frames = float(self.audio_in * fps)
        shift_ms = -float(self.audio_in) * 1000 + 0.0  # + 0.0 turns -0.0 into 0.0
        return f"{shift_ms:+.0f} ms ({-frames + 0.0:+.2f} fr)"
