"""The line's channel pick beside Line…: which microphone of a poly WAV or a camera file the mouth follows.

Shown only for a line with more than one channel. Its choices are every channel alone, by number and the
recorder's name ("3 BOOM"), a stereo pair's two channels together where the file has one, and all of them
mixed, which is what a line without a pick gets (`SyncRequest.audio_channels` None). A choice's text is what
`--audio-channels` takes, so the panel and the command line pick the same way.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QSizePolicy, QWidget

from mytalk.core.media.line_channels import SoundChannel

ALL_CHANNELS = "All channels"


def channel_choices(channels: list[SoundChannel]) -> list[tuple[str, str | None]]:
    """(caption, `--audio-channels` text) of each choice, all channels (None) first; empty for a line of one
    channel, where there is nothing to pick."""
    if len(channels) < 2:
        return []
    choices: list[tuple[str, str | None]] = [(f"{ALL_CHANNELS} ({len(channels)}, mixed)", None)]
    streams = sorted({c.stream_index for c in channels})
    for stream in streams:
        held = [c for c in channels if c.stream_index == stream]
        if len(held) == 2 and len(channels) > 2:
            # A stereo stream among others (a mix on 1-2 of a poly take): both of it, kept as a pair.
            choices.append((f"{held[0].words} + {held[1].words}", f"{held[0].number}-{held[1].number}"))
    choices.extend((f"Ch {c.words}", str(c.number)) for c in channels)
    return choices


class LineChannelsBox(QComboBox):
    """Pick the line's channels; `picked` gives the `--audio-channels` text (None: all of them)."""

    picked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lineChannels")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay the transport's
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.setToolTip("Which channels of the line the mouth follows and the render carries: the actor's "
                        "microphone of a poly take (boom, lavalier), or all of them mixed")
        self.currentIndexChanged.connect(lambda _index: self.picked.emit(self.pick()))
        self.hide()

    def set_channels(self, channels: list[SoundChannel]) -> None:
        """Offer the choices of a newly opened line (all channels picked); hidden for a line of one channel.
        Says nothing through `picked`: a new line starts with no pick."""
        self.blockSignals(True)
        try:
            self.clear()
            for caption, text in channel_choices(channels):
                self.addItem(caption, text)
            self.setCurrentIndex(0)
        finally:
            self.blockSignals(False)
        self.setVisible(self.count() > 0)

    def pick(self) -> str | None:
        """The `--audio-channels` text of the choice (None: all channels, or no line of several)."""
        data = self.currentData() if self.count() else None
        return None if data is None else str(data)

    def choose(self, text: str | None) -> bool:
        """Select the choice whose `--audio-channels` text is `text` (a restored or scripted pick); False when
        the line offers no such choice."""
        index = self.findData(text) if text is not None else (0 if self.count() else -1)
        if index < 0:
            return False
        self.setCurrentIndex(index)
        return True
