"""The scrub bar: clip length, in/out marks, the previewed range and the playhead.

A Qt adapter over `Transport`: it draws the model and turns clicks and drags into `seek`.
Keyboard habits (I/O, J/K/L, arrows, Space) are handled by the panel, so they work wherever the
focus is inside it. Frames map to pixels through `mytalk.ui.panel_model.axis.TimeAxis`, shared
with the waveform and the viseme lane below it, so a frame is at the same x in all three.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from mytalk.ui.panel_model.axis import TimeAxis
from mytalk.ui.transport import Transport

_TOP = 16


class ScrubBar(QWidget):
    """Draws the transport; click or drag to move the playhead (it stops playback first)."""

    def __init__(self, transport: Transport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transport = transport
        self.preview_range: tuple[int, int] | None = None
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        transport.subscribe(self._on_transport)

    def sizeHint(self) -> QSize:
        return QSize(600, 44)

    def _on_transport(self, what: str) -> None:
        if what != "speed":
            self.update()

    def set_preview_range(self, span: tuple[int, int] | None) -> None:
        self.preview_range = span
        self.update()

    # -- geometry --------------------------------------------------------------------------------

    def axis(self) -> TimeAxis:
        return TimeAxis(self.transport.frame_count, self.transport.fps, self.width())

    def _track(self) -> QRectF:
        axis = self.axis()
        return QRectF(axis.margin, _TOP, axis.inner, self.height() - _TOP - 6)

    def x_of(self, frame: float) -> float:
        """Left edge (px) of `frame`; frame_count maps to the right end of the track."""
        return self.axis().x_of_frame(frame)

    def frame_at(self, x: float) -> int:
        return self.axis().frame_at(x)

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = self._track()
        painter.fillRect(self.rect(), self.palette().window())
        painter.fillRect(track, QColor(44, 44, 48))
        transport = self.transport
        if not transport.frame_count:
            painter.setPen(QColor(130, 130, 135))
            painter.drawText(track, Qt.AlignmentFlag.AlignCenter, "no clip")
            painter.end()
            return
        self._paint_ticks(painter, track)
        if self.preview_range:
            start, stop = self.preview_range
            painter.fillRect(QRectF(self.x_of(start), track.bottom() - 5, self.x_of(stop) - self.x_of(start), 5),
                             QColor(255, 214, 10))
        marked = transport.range()
        if marked:
            start, stop = marked
            span = QRectF(self.x_of(start), track.y(), max(2.0, self.x_of(stop) - self.x_of(start)), track.height() - 5)
            painter.fillRect(span, QColor(70, 130, 220, 120))
            painter.setPen(QPen(QColor(110, 170, 255), 2))
            # Bracket-shaped marks above the track, where tick labels never are.
            if transport.mark_in is not None:
                x = self.x_of(transport.mark_in)
                painter.drawLine(int(x), 4, int(x), int(track.bottom()))
                painter.drawLine(int(x), 4, int(x) + 6, 4)
            if transport.mark_out is not None:
                x = self.x_of(transport.mark_out + 1)
                painter.drawLine(int(x), 4, int(x), int(track.bottom()))
                painter.drawLine(int(x) - 6, 4, int(x), 4)
        # Playhead: a line over the frame's left edge with a handle on top, like editing software.
        x = self.x_of(transport.position)
        width = max(1.0, self.x_of(transport.position + 1) - x)
        painter.fillRect(QRectF(x, track.y(), width, track.height()), QColor(230, 60, 60, 90))
        painter.setPen(QPen(QColor(235, 70, 70), 2))
        painter.drawLine(int(x), int(track.y()), int(x), int(track.bottom()))
        painter.setBrush(QColor(235, 70, 70))
        painter.drawPolygon(QPolygonF([QPointF(x - 6, 2), QPointF(x + 6, 2), QPointF(x, 12)]))
        painter.end()

    def _paint_ticks(self, painter: QPainter, track: QRectF) -> None:
        transport = self.transport
        painter.setPen(QColor(150, 150, 155))
        metrics = painter.fontMetrics()
        for frame in self.axis().ticks():
            x = self.x_of(frame)
            painter.drawLine(int(x), int(track.bottom()) - 6, int(x), int(track.bottom()))
            label = transport.timecode(frame)
            if x + metrics.horizontalAdvance(label) < track.right():
                painter.drawText(int(x) + 3, int(track.bottom()) - 8, label)

    # -- mouse -----------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.transport.frame_count:
            self.transport.stop()
            self.transport.seek(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self.transport.frame_count:
            self.transport.seek(self.frame_at(event.position().x()))
