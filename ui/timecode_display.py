"""SMPTE timecode of the playhead and the marks, drop-frame aware; type a position to jump.

Labels come from `mytalk.core.timecode` via `Transport.timecode`, so the panel, the CLI and the
reports agree to the frame: `HH:MM:SS:FF`, and `HH:MM:SS;FF` for drop-frame 29.97/59.94.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from mytalk.core.errors import MyTalkError
from mytalk.core.timecode import format_fps
from mytalk.ui.transport import Transport


def _mono(point_size: int | None = None, bold: bool = False) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size:
        font.setPointSize(point_size)
    font.setBold(bold)
    return font


FIELD_TIP = ("Playhead. Type frames (120), seconds (2.5s) or timecode (01:00:05:00) and press Enter to jump; "
             "Esc leaves the field")
ACCEPTED_FORMS = "frames (120), seconds (2.5s) or timecode (01:00:05:00, ; for drop-frame)"
OUT_TIP = ("Out is the last frame of the range, inclusive, as editors mark it. File names and the command "
           "line count the range's end exclusively: a commit of In 10 to Out 34 is named _10-35_")
NO_TC = "--:--:--:--"


class TimecodeDisplay(QWidget):
    """Playhead timecode (editable), rate and drop-frame flag, and the In / Out (incl.) / Dur readouts.

    Typing frames (`120`), seconds (`2.5s`) or timecode (`01:00:05:00`, read as the clip's
    source timecode when it has one) and pressing Enter moves the playhead and gives the keyboard
    back to the panel (`entered`). A bad entry keeps the field, turns it red and says what is wrong
    and which forms work (`rejected`, with the message; also the field's tooltip).
    """

    positionTyped = Signal(int)
    entered = Signal()
    rejected = Signal(str)

    def __init__(self, transport: Transport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transport = transport
        self.field = QLineEdit(self)
        self.field.setObjectName("timecodeField")
        self.field.setFont(_mono(14, bold=True))
        self.field.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.field.setMinimumWidth(self.field.fontMetrics().horizontalAdvance("00:00:00;00") + 28)
        self.field.setMaximumWidth(self.field.minimumWidth() + 20)
        self.field.setToolTip(FIELD_TIP)
        self.rate = QLabel(self)
        self.rate.setObjectName("rateLabel")
        self.in_label = self._readout("inLabel", "In", "In: the first frame of the range")
        self.out_label = self._readout("outLabel", "Out (incl.)", OUT_TIP)
        self.dur_label = self._readout("durLabel", "Dur", "Duration of the marked range (Out − In + 1 frames)")
        self.readouts = (self.in_label, self.out_label, self.dur_label)
        self.field.returnPressed.connect(self._on_entered)
        self.field.textEdited.connect(lambda _text: self._clear_error())
        self.field.installEventFilter(self)
        transport.subscribe(self._on_transport)
        self.refresh()

    def _readout(self, name: str, caption: str, tip: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setFont(_mono())
        label.setToolTip(tip)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # As wide as its longest text (a timecode past 10 hours), so a narrow panel never cuts one.
        label.setMinimumWidth(label.fontMetrics().horizontalAdvance(f"{caption} 00:00:00;00") + 4)
        return label

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.field and event.type() == QEvent.Type.FocusOut:
            # Left without Enter (Esc, a click elsewhere): the field shows the playhead again.
            self.field.setText(self.transport.timecode() if self.transport.timing else NO_TC)
            self._clear_error()
        return False

    def _on_transport(self, what: str) -> None:
        if what in ("position", "marks", "clip"):
            self.refresh()

    @property
    def text(self) -> str:
        """The playhead timecode as shown."""
        return self.field.text()

    @property
    def marks_text(self) -> str:
        """The three readouts as one line: `In 00:00:00:10   Out (incl.) 00:00:01:09   Dur 00:00:01:00`."""
        return "   ".join(label.text() for label in self.readouts)

    def refresh(self) -> None:
        transport = self.transport
        if not transport.timing:
            self.field.setText(NO_TC)
            self.field.setEnabled(False)
            self.rate.setText("")
            self._set_marks(NO_TC, NO_TC, NO_TC)
            return
        self.field.setEnabled(True)
        if not self.field.hasFocus() or self.field.text() != transport.timecode():
            self.field.setText(transport.timecode())
            self._clear_error()
        drop = "DF" if transport.timing.drop_frame else "NDF"
        self.rate.setText(f"{format_fps(transport.fps)} {drop}")
        mark_in = transport.timecode(transport.mark_in) if transport.mark_in is not None else NO_TC
        mark_out = transport.timecode(transport.mark_out) if transport.mark_out is not None else NO_TC
        self._set_marks(mark_in, mark_out, transport.duration_timecode() or NO_TC)

    def _set_marks(self, mark_in: str, mark_out: str, duration: str) -> None:
        self.in_label.setText(f"In {mark_in}")
        self.out_label.setText(f"Out (incl.) {mark_out}")
        self.dur_label.setText(f"Dur {duration}")

    def _reject(self, message: str) -> None:
        self.field.setStyleSheet("QLineEdit { border: 2px solid #d33; }")
        self.field.setToolTip(message)
        self.rejected.emit(message)

    def _clear_error(self) -> None:
        self.field.setStyleSheet("")
        self.field.setToolTip(FIELD_TIP)

    def _on_entered(self) -> None:
        typed = self.field.text().strip()
        last = self.transport.frame_count - 1
        try:
            frame = self.transport.parse(typed)
        except MyTalkError as error:
            message = str(error)
            if "frames (" not in message:  # the parser's own message may already list the forms
                message += f"; type {ACCEPTED_FORMS}"
            self._reject(message)
            return
        if not 0 <= frame <= last:
            self._reject(f"{typed} is outside the clip: frames 0–{last}, "
                         f"{self.transport.timecode(0)}–{self.transport.timecode(last)}")
            return
        self._clear_error()
        self.transport.stop()
        self.transport.seek(frame)
        self.positionTyped.emit(frame)
        self.refresh()
        self.entered.emit()
