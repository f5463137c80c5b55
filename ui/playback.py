"""Sound for playback, through QtMultimedia when the system has it.

QtMultimedia needs the platform's audio stack (PulseAudio/PipeWire on Linux); on a headless
render node or in CI it cannot load, and the panel must still work, silently. So it is imported
lazily and every call degrades to a no-op with `available == False` and a reason to show.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl

log = logging.getLogger("mytalk.ui.playback")


class AudioPlayback(QObject):
    """Plays the audio of a media file from a given time; the video follows its clock."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player: Any = None
        self._output: Any = None
        self._source: Path | None = None
        self.reason = ""
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
            self.reason = f"audio playback unavailable ({error}); playing silently"
            log.info(self.reason)
            return False
        self._player = QMediaPlayer(self)
        self._output = QAudioOutput(self)
        self._player.setAudioOutput(self._output)
        return True

    @property
    def available(self) -> bool:
        return self._load()

    def play(self, path: Path, from_seconds: float) -> bool:
        """Start playing `path` at `from_seconds`; False when there is no audio output."""
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

    def position_seconds(self) -> float | None:
        """Where the audio is (s), when it is playing; the video clock follows it."""
        if self._player is None or not self._player.isPlaying():
            return None
        return float(self._player.position()) / 1000.0
