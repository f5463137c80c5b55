"""Playback: a precise timer moves the transport, and with sound the sound card leads.

The Qt side of `mytalk.ui.panel_model.clock`: the timer, the audio device and the transport meet
here, so the panel only says "the speed changed" and "stop". At 1x the sound plays from the file
the model names (the preview's proxy inside its range, which carries the new line; else the
clip) and the picture follows the sound's position; shuttle speeds and silent machines step frames.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer

from mytalk.ui.panel_model.clock import SoundClock, tick_interval_ms
from mytalk.ui.playback import AudioPlayback
from mytalk.ui.transport import Transport

SoundSource = Callable[[int], tuple[Path, float] | None]
"""Frame -> (file, seconds into it) to play from, or None when there is nothing to hear."""


class Player(QObject):
    """Drives `transport` while it plays; `audio` gives the sound and, when it plays, the clock."""

    def __init__(self, transport: Transport, audio: AudioPlayback, sound_source: SoundSource,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.transport = transport
        self.audio = audio
        self._sound_source = sound_source
        self._clock: SoundClock | None = None
        # A child timer, so that it dies with the panel; precise, because a coarse timer's 5 %
        # slack is a visible stutter at 25 fps.
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._on_tick)

    def on_speed_changed(self) -> None:
        """Follow the transport's new speed: stop, or tick at the clip's rate (with sound at 1x)."""
        speed = self.transport.speed
        self._clock = None
        if not speed:
            self.timer.stop()
            self.audio.stop()
            return
        self.timer.start(tick_interval_ms(self.transport.fps))
        if speed == 1:
            self._start_sound()

    def stop(self) -> None:
        """Silence and stop ticking (teardown); the transport is left as it is."""
        self.timer.stop()
        self.audio.stop()

    def _start_sound(self) -> None:
        position = self.transport.position
        source = self._sound_source(position)
        if source is None:
            return
        path, seconds = source
        if self.audio.play(path, seconds):
            self._clock = SoundClock(position, seconds)

    def _on_tick(self) -> None:
        audio_s = self.audio.position_seconds() if self._clock is not None else None
        if self._clock is not None and audio_s is not None and self.transport.speed == 1:
            target = self._clock.frame_at(audio_s, self.transport.fps)
            if target >= self.transport.frame_count - 1:
                self.transport.stop()
            self.transport.seek(target)
            return
        self.transport.tick()
