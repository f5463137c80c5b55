"""Sound for playback, through QtMultimedia when the system has it.

QtMultimedia needs the platform's audio stack (PulseAudio/PipeWire on Linux); on a headless
render node or in CI it cannot load, and the panel must still work, silently. So it is imported
lazily and every call degrades to a no-op with `available == False` and a reason to show.

Even when it loads, there may be no device to hear: no sound server running, no card, a remote
session. Qt then only prints "No audio device detected" to stderr, which an editor never sees, and
plays on against a null sink (its clock still runs, so the picture keeps time). `silent` and
`reason` say so, `statusChanged` fires when it changes (a headset plugged in), and the panel shows
the reason on screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal

log = logging.getLogger("mytalk.ui.playback")

NO_DEVICE = "No audio device or sound server found: playback is silent"


class AudioPlayback(QObject):
    """Plays the audio of a media file from a given time; the video follows its clock.

    `has_output` says whether the system has an audio output now (default: QtMultimedia's device
    list); a host with its own audio routing, or a test, can answer instead.
    """

    statusChanged = Signal()
    """`silent` or `reason` changed."""

    def __init__(self, parent: QObject | None = None, *, has_output: Callable[[], bool] | None = None) -> None:
        super().__init__(parent)
        self._player: Any = None
        self._output: Any = None
        self._devices: Any = None
        self._source: Path | None = None
        self._has_output = has_output
        self.reason = ""
        """Why playback is silent ("" while sound plays)."""
        self._loaded = False

    def load(self) -> bool:
        """Load QtMultimedia and its backend now; True when there is a player.

        Call it on the GUI thread before any worker thread starts. Creating the first player
        dlopens the FFmpeg backend, whose start-up calls back into Python: if a worker thread is
        importing an extension module at that moment (scipy, lazily, for a waveform), each holds
        what the other waits for (the dynamic loader's lock, the GIL) and the panel freezes. Seen
        here twice in six runs of the playback test before it was loaded up front.
        """
        return self._load()

    def _load(self) -> bool:
        if self._loaded:
            return self._player is not None
        self._loaded = True
        try:
            from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
        except ImportError as error:
            self.reason = f"Audio playback unavailable ({error}): playback is silent"
            log.info(self.reason)
            self.statusChanged.emit()
            return False
        self._player = QMediaPlayer(self)
        self._output = QAudioOutput(self)
        self._player.setAudioOutput(self._output)
        if self._has_output is None:
            from PySide6.QtMultimedia import QMediaDevices

            self._devices = QMediaDevices(self)
            self._devices.audioOutputsChanged.connect(self.refresh)
        self.refresh()
        return True

    def _output_present(self) -> bool:
        if self._has_output is not None:
            return bool(self._has_output())
        from PySide6.QtMultimedia import QMediaDevices

        return bool(QMediaDevices.audioOutputs())

    def refresh(self) -> None:
        """Look at the audio outputs again (Qt calls this when they change); emits `statusChanged`."""
        if self._player is None:
            return
        present = self._output_present()
        if present and self._devices is not None:
            # An output made while there was none stays on the null device: follow the new default.
            from PySide6.QtMultimedia import QMediaDevices

            self._output.setDevice(QMediaDevices.defaultAudioOutput())
        reason = "" if present else NO_DEVICE
        if reason != self.reason:
            self.reason = reason
            if reason:
                log.info(reason)
            self.statusChanged.emit()

    @property
    def silent(self) -> bool:
        """Nothing will be heard: QtMultimedia cannot load, or there is no output device."""
        self._load()
        return bool(self.reason)

    @property
    def available(self) -> bool:
        return self._load()

    def play(self, path: Path, from_seconds: float) -> bool:
        """Start playing `path` at `from_seconds`; False when QtMultimedia cannot load. Without an output
        device Qt plays to a null sink: nothing is heard, but its clock runs and the picture follows it."""
        if not self._load():
            return False
        if self._source != path:
            self._player.setSource(QUrl.fromLocalFile(str(path)))
            self._source = path
        self._player.setPosition(int(from_seconds * 1000))
        self._player.play()
        return True

    @property
    def source(self) -> Path | None:
        """The file whose sound was last played (the clip, or a preview proxy with the new line)."""
        return self._source

    @property
    def is_playing(self) -> bool:
        return self._player is not None and bool(self._player.isPlaying())

    def stop(self) -> None:
        if self._player is not None:
            self._player.pause()

    def close(self) -> None:
        """Let go of the file, before the player is deleted. Deleting a QMediaPlayer that has played,
        with no audio device, hangs its FFmpeg backend (Qt 6.11 here, every time after 1.5 s of play);
        with its source cleared first it does not.

        Only `setSource` is called here, never `stop` first: PySide6 releases the GIL for `setSource`
        (its typesystem says `allow-thread`) but not for `stop`, and `stop` waits on a lock of the
        backend's thread while that thread, destroying an object of its own, waits for the GIL to ask
        whether Python overrides a method of our player. A cleared source stops playback as well. That
        deadlock froze one panel test's teardown in 25 runs of the playback tests, and a CI run. A player
        never given a file is left alone."""
        if self._player is not None and self._source is not None:
            self._player.setSource(QUrl())
        self._source = None

    def position_seconds(self) -> float | None:
        """Where the audio is (s), when it is playing; the video clock follows it."""
        if self._player is None or not self._player.isPlaying():
            return None
        return float(self._player.position()) / 1000.0
