"""The row that slips the line against the picture: a frame or 10 ms either way, back to zero, and where it is.

A dialogue editor lines a replacement up by ear and eye, then moves it by the frame, or by less than a frame
when a consonant lands early. Each button names its key (`mytalk.ui.keymap`), and the label states the slip
as the panel's model words it (`panel_model.slip.Slip.label`), so a drag on the waveform, a key and a button all read the
same afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from mytalk.ui.buttons import fit_caption, tool_button


class SlipBar(QWidget):
    """"Slip line", −1 fr, −10 ms, 0, +10 ms, +1 fr, and the slip as text (`show_slip`)."""

    def __init__(self, *, nudge_frames: Callable[[int], None], nudge_seconds: Callable[[Fraction], None],
                 reset: Callable[[], None], step_s: Fraction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        ms = round(step_s * 1000)
        earlier_frame = tool_button(self, "−1 fr", "Slip the line one frame earlier (,)", lambda: nudge_frames(-1))
        later_frame = tool_button(self, "+1 fr", "Slip the line one frame later (.)", lambda: nudge_frames(1))
        earlier = tool_button(self, f"−{ms} ms", f"Slip the line {ms} ms earlier (Shift+,)",
                              lambda: nudge_seconds(-step_s))
        later = tool_button(self, f"+{ms} ms", f"Slip the line {ms} ms later (Shift+.)", lambda: nudge_seconds(step_s))
        zero = tool_button(self, "0", "Line starts at the in point (audio-in 0)", reset)
        self.offset_label = QLabel(self)
        self.offset_label.setObjectName("offsetLabel")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Slip line", self))
        for button in (earlier_frame, earlier, zero, later, later_frame):
            fit_caption(button)
            row.addWidget(button)
        row.addWidget(self.offset_label)
        row.addStretch(1)

    def show_slip(self, text: str) -> None:
        """State where the line sits now (the model's words for it)."""
        self.offset_label.setText(text)
