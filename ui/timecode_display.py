"""SMPTE timecode of the playhead and the marks, drop-frame aware; type a position to jump.

Labels come from `mytalk.core.timecode` via `Transport.timecode`, so the panel, the CLI and the
reports agree to the frame: `HH:MM:SS:FF`, and `HH:MM:SS;FF` for drop-frame 29.97/59.94.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from mytalk.core.errors import MyTalkError
from mytalk.core.timecode import format_fps
from mytalk.ui.transport import Transport


def _mono(point_size: int | None = None, bold: bool = False) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size:
        font.setPointSize(point_size)
    font.setBold(bold)
    return font


class TimecodeDisplay(QWidget):
    """Playhead timecode (editable), rate and drop-frame flag, and In / Out / Duration.

    Typing frames (`120`), seconds (`2.5s`) or timecode (`01:00:05:00`, read as the clip's
    source timecode when it has one) and pressing Enter moves the playhead. A bad entry keeps the
    field, turns it red and says why in the tooltip.
    """

    positionTyped = Signal(int)

    def __init__(self, transport: Transport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transport = transport
        self.field = QLineEdit(self)
        self.field.setObjectName("timecodeField")
        self.field.setFont(_mono(14, bold=True))
        self.field.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.field.setMinimumWidth(self.field.fontMetrics().horizontalAdvance("00:00:00;00") + 28)
        self.field.setMaximumWidth(self.field.minimumWidth() + 20)
        self.field.setToolTip("Playhead. Type frames, seconds (2.5s) or timecode and press Enter to jump")
        self.rate = QLabel(self)
        self.rate.setObjectName("rateLabel")
        self.marks = QLabel(self)
        self.marks.setObjectName("marksLabel")
        self.marks.setFont(_mono())
        self.marks.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field)
        layout.addWidget(self.rate)
        layout.addSpacing(12)
        layout.addWidget(self.marks, 1)
        self.field.returnPressed.connect(self._on_entered)
        transport.subscribe(self._on_transport)
        self.refresh()

    def _on_transport(self, what: str) -> None:
        if what in ("position", "marks", "clip"):
            self.refresh()

    @property
    def text(self) -> str:
        """The playhead timecode as shown."""
        return self.field.text()

    def refresh(self) -> None:
        transport = self.transport
        if not transport.timing:
            self.field.setText("--:--:--:--")
            self.field.setEnabled(False)
            self.rate.setText("")
            self.marks.setText("In --:--:--:--   Out --:--:--:--   Dur --:--:--:--")
            return
        self.field.setEnabled(True)
        if not self.field.hasFocus() or self.field.text() != transport.timecode():
            self.field.setText(transport.timecode())
        self.field.setStyleSheet("")
        drop = "DF" if transport.timing.drop_frame else "NDF"
        self.rate.setText(f"{format_fps(transport.fps)} {drop}")
        mark_in = transport.timecode(transport.mark_in) if transport.mark_in is not None else "--:--:--:--"
        mark_out = transport.timecode(transport.mark_out) if transport.mark_out is not None else "--:--:--:--"
        self.marks.setText(f"In {mark_in}   Out {mark_out}   Dur {transport.duration_timecode() or '--:--:--:--'}")

    def _on_entered(self) -> None:
        try:
            frame = self.transport.parse(self.field.text())
        except MyTalkError as error:
            self.field.setStyleSheet("QLineEdit { border: 2px solid #d33; }")
            self.field.setToolTip(str(error))
            return
        self.field.setToolTip("Playhead. Type frames, seconds (2.5s) or timecode and press Enter to jump")
        self.transport.stop()
        self.transport.seek(frame)
        self.positionTyped.emit(frame)
        self.refresh()
        self.field.clearFocus()
