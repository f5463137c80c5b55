"""The playback clock: with sound, the sound card's position says which frame to show.

A timer alone drifts from the audio within seconds (timer jitter, a slow decode), and lips that
lead or trail the line by two frames are exactly what the editor is judging. So while sound
plays at 1x, the frame is computed from the audio position and the timer only asks when to look;
without sound (shuttle speeds, no audio device), the timer steps frames itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


def tick_interval_ms(fps: Fraction) -> int:
    """The playback timer's period: one frame at `fps`, at least 1 ms."""
    return max(1, int(round(1000 / float(fps))))


@dataclass(frozen=True)
class SoundClock:
    """Frame `origin_frame` was on screen when the sound started at `origin_s` seconds of its file."""

    origin_frame: int
    origin_s: float

    def frame_at(self, audio_s: float, fps: Fraction) -> int:
        """The frame to show while the sound is at `audio_s` seconds of its file."""
        return self.origin_frame + int((audio_s - self.origin_s) * float(fps))
