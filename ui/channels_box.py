"""A channel pick: which microphone of a poly WAV or a camera file is heard. The panel has two: beside Line…,
the line's channels the mouth follows and the render carries (`--audio-channels`); beside Clip…, the clip's own
channels that are the actor's, which the guide and the actor's learning hear (`--guide-channels`).

Shown only for a file with more than one channel. Its choices are every channel alone, by number and the
recorder's name ("3 BOOM"), a stereo pair's two channels together where the file has one, and all of them
mixed, which is what a file without a pick gets (the request's field None). A choice's text is what the option
takes, so the panel and the command line pick the same way.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QSizePolicy, QWidget

from mytalk.core.media.channel_pick import SoundChannel

ALL_CHANNELS = "All channels"


def channel_choices(channels: list[SoundChannel], heard: list[SoundChannel] | None = None,
                    ) -> list[tuple[str, str | None]]:
    """(caption, option text: `--audio-channels` or `--guide-channels`) of each choice, no pick (None) first;
    empty for a file of one channel, where there is nothing to pick. `heard`: the channels a job without a pick
    reads (the file's first stream with sound, `sound_stream`), when they are not all of them: a camera's four
    mono streams are heard as the first alone, and the first choice says so."""
    if len(channels) < 2:
        return []
    if heard and len(heard) < len(channels):
        unpicked = f"Default: {' + '.join(c.words for c in heard)}" + (" (mixed)" if len(heard) > 2 else "")
    else:
        unpicked = f"{ALL_CHANNELS} ({len(channels)}, mixed)"
    choices: list[tuple[str, str | None]] = [(unpicked, None)]
    streams = sorted({c.stream_index for c in channels})
    for stream in streams:
        held = [c for c in channels if c.stream_index == stream]
        if len(held) == 2 and len(channels) > 2:
            # A stereo stream among others (a mix on 1-2 of a poly take): both of it, kept as a pair.
            choices.append((f"{held[0].words} + {held[1].words}", f"{held[0].number}-{held[1].number}"))
    choices.extend((f"Ch {c.words}", str(c.number)) for c in channels)
    return choices


class ChannelsBox(QComboBox):
    """Pick a file's channels; `picked` gives the option's text (None: all of them). `lead` opens each caption
    ("Guide: "), where two boxes sit side by side."""

    picked = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, name: str, tooltip: str, lead: str = "") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay the transport's
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.setToolTip(tooltip)
        self._lead = lead
        self.currentIndexChanged.connect(lambda _index: self.picked.emit(self.pick()))
        self.hide()

    def set_channels(self, channels: list[SoundChannel], heard: list[SoundChannel] | None = None) -> None:
        """Offer the choices of a newly opened file (no pick: `heard`, as `channel_choices` takes it); hidden for
        a file of one channel. Says nothing through `picked`: a new file starts with no pick."""
        self.blockSignals(True)
        try:
            self.clear()
            for caption, text in channel_choices(channels, heard):
                self.addItem(f"{self._lead}{caption}", text)
            self.setCurrentIndex(0)
        finally:
            self.blockSignals(False)
        self.setVisible(self.count() > 0)

    def caption(self) -> str:
        """The current choice as a note says it, without the `lead` ("Ch 3 BOOM", "Default: 1 MIX L")."""
        return self.currentText().removeprefix(self._lead)

    def hears_all(self) -> bool:
        """Whether the current choice is every channel of the file, mixed (no pick, where that is all of them)."""
        return self.caption().startswith(ALL_CHANNELS)

    def pick(self) -> str | None:
        """The option's text of the choice (None: all channels, or no file of several)."""
        data = self.currentData() if self.count() else None
        return None if data is None else str(data)

    def choose(self, text: str | None) -> bool:
        """Select the choice whose option text is `text` (a restored or scripted pick); False when the file
        offers no such choice."""
        index = self.findData(text) if text is not None else (0 if self.count() else -1)
        if index < 0:
            return False
        self.setCurrentIndex(index)
        return True
