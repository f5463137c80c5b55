"""The row under the viewer: what the viewer shows (A, B, wipe), the transport, the marks and the timecode.

The buttons are the mouse's way to what the keys do (`mytalk.ui.keymap`): stepping, playing and the ends go
straight to the `Transport`; In and Out go through the panel's command runner, as I and O do, so that a swap
of the marks is said in the status line whichever way it was asked for. The view buttons ask the panel to
change the viewer's mode, and show the mode the panel settled on (`show_view_mode`), which the \\ and |
keys may also change.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QStyle, QVBoxLayout, QWidget

from mytalk.ui.buttons import tool_button
from mytalk.ui.keymap import Command
from mytalk.ui.timecode_display import TimecodeDisplay
from mytalk.ui.transport import Transport

VIEW_MODES = ("A", "B", "wipe")
"""The viewer's modes, as `ViewerWidget.set_mode` names them."""


class TransportBar(QWidget):
    """Two rows: the view modes, the transport between In and Out, and the timecode field; then the
    timecode's rate and its In / Out / Dur readouts (laid out here, owned by `timecode`)."""

    def __init__(self, transport: Transport, timecode: TimecodeDisplay, *,
                 run_command: Callable[[Command], None], choose_view: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode_a = tool_button(self, "A", "Original (\\ toggles A/B)", lambda: choose_view("A"), checkable=True)
        self.mode_b = tool_button(self, "B", "MyTalk preview (\\ toggles A/B)", lambda: choose_view("B"),
                                  checkable=True)
        self.mode_wipe = tool_button(self, "Wipe", "Wipe between A and B; drag the yellow line (|)",
                                     lambda: choose_view("wipe"), checkable=True)
        self._modes = QButtonGroup(self)
        for button in (self.mode_a, self.mode_b, self.mode_wipe):
            self._modes.addButton(button)
        self.mode_a.setFixedWidth(32)
        self.mode_b.setFixedWidth(32)
        self.mode_wipe.setFixedWidth(48)
        self.mode_a.setChecked(True)

        t = transport
        icon = self.style().standardIcon
        pixmaps = QStyle.StandardPixmap
        self.to_start_button = tool_button(self, "", "First frame (Home)", t.go_to_start)
        self.back_button = tool_button(self, "", "Step back one frame (Left)", lambda: t.step(-1))
        self.play_button = tool_button(self, "", "Play / stop (Space; J/K/L shuttle)", t.toggle_play)
        self.forward_button = tool_button(self, "", "Step forward one frame (Right)", lambda: t.step(1))
        self.to_end_button = tool_button(self, "", "Last frame (End)", t.go_to_end)
        self._play_icons = (icon(pixmaps.SP_MediaPlay), icon(pixmaps.SP_MediaStop))
        for button, pixmap in ((self.to_start_button, pixmaps.SP_MediaSkipBackward),
                               (self.back_button, pixmaps.SP_MediaSeekBackward),
                               (self.forward_button, pixmaps.SP_MediaSeekForward),
                               (self.to_end_button, pixmaps.SP_MediaSkipForward)):
            button.setIcon(icon(pixmap))
        self.play_button.setIcon(self._play_icons[0])
        self.mark_in_button = tool_button(self, "In", "Mark in at the playhead (I)",
                                          lambda: run_command(Command("set_in")))
        self.mark_out_button = tool_button(self, "Out",
                                           "Mark out at the playhead (O): the last frame of the range, inclusive",
                                           lambda: run_command(Command("set_out")))
        steps = (self.to_start_button, self.back_button, self.play_button, self.forward_button, self.to_end_button)
        for button in steps:
            button.setFixedWidth(34)
        for button in (self.mark_in_button, self.mark_out_button):
            button.setFixedWidth(40)

        controls = QHBoxLayout()
        for button in (self.mode_a, self.mode_b, self.mode_wipe):
            controls.addWidget(button)
        controls.addStretch(1)
        for button in (self.mark_in_button, *steps, self.mark_out_button):
            controls.addWidget(button)
        controls.addStretch(1)
        controls.addWidget(timecode.field)
        readouts = QHBoxLayout()
        readouts.addWidget(timecode.rate)
        readouts.addSpacing(8)
        for label in timecode.readouts:
            readouts.addWidget(label)
        readouts.addStretch(1)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.addLayout(controls)
        rows.addLayout(readouts)

    def show_view_mode(self, mode: str) -> None:
        """Check the button of `mode` ("A", "B" or "wipe")."""
        dict(zip(VIEW_MODES, (self.mode_a, self.mode_b, self.mode_wipe), strict=True))[mode].setChecked(True)

    def show_playing(self, playing: bool) -> None:
        """The play button shows stop while the transport moves."""
        self.play_button.setIcon(self._play_icons[1 if playing else 0])
