"""The viseme lane under the waveform: what the mouth was told to show, frame by frame.

A thin widget over `mytalk.ui.viseme_track`: it shares the scrub bar's and the waveform's time
axis (`mytalk.ui.panel_model.axis.TimeAxis`), draws one coloured block per run of equal visemes
(closures in a strong red, since a missed p/b/m is what viewers notice) with its name when the
block is wide enough, and a text row of the line's phones, or its words when there is no room. `key_source` gives the clip, line, range and slip
as they are now; a track rendered for anything else is never drawn.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from mytalk.ui.panel_model.axis import TimeAxis
from mytalk.ui.viseme_track import PLACEHOLDER, TrackKey, VisemeLaneModel, VisemeTrack, blocks, text_row
from mytalk.ui.waveform import WaveformView

_BLOCK_H = 20
_TEXT_H = 14


class VisemeLane(QWidget):
    """Coloured viseme blocks on the waveform's time axis, or a hint to preview."""

    def __init__(self, waveform: WaveformView, key_source: Callable[[], TrackKey | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("visemeLane")
        self.waveform = waveform
        self.key_source = key_source
        self.model = VisemeLaneModel()
        self.empty_text = PLACEHOLDER
        self.setFixedHeight(_BLOCK_H + _TEXT_H + 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("")
        waveform.transport.subscribe(lambda what: self.update())
        # Dragging the line changes the slip before it is committed: repaint, so the old visemes go.
        waveform.installEventFilter(self)

    def sizeHint(self) -> QSize:
        return QSize(600, _BLOCK_H + _TEXT_H + 4)

    # -- content ---------------------------------------------------------------------------------

    def set_track(self, track: VisemeTrack | None) -> bool:
        """Show `track` if it belongs to the current clip, line, range and slip; True when shown."""
        shown = self.model.set_track(track, self.key_source())
        if shown:
            self.empty_text = PLACEHOLDER
        self.update()
        return shown

    def clear(self, text: str = PLACEHOLDER) -> None:
        """Forget the track; the lane says `text` instead."""
        self.model.clear()
        self.empty_text = text
        self.update()

    def track(self) -> VisemeTrack | None:
        """The track drawn now (None when there is none, or it went stale)."""
        return self.model.visible(self.key_source())

    def visible_blocks(self) -> list[tuple[float, float, str]]:
        """(x0, x1, viseme) of the blocks drawn now, for tests and tooltips."""
        track = self.track()
        if track is None:
            return []
        t0, t1 = self.view_span()
        return [(b.x0, b.x1, b.run.viseme) for b in blocks(track, t0, t1, self.width())]

    def axis(self) -> TimeAxis:
        transport = self.waveform.transport
        return TimeAxis(transport.frame_count, transport.fps, self.width())

    def view_span(self) -> tuple[float, float]:
        """Clip time (s) at the lane's left and right edge: the same axis as the waveform above it."""
        return self.axis().span_seconds()

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(26, 26, 30))
        track = self.track()
        t0, t1 = self.view_span()
        width = self.width()
        fps = float(self.waveform.transport.fps)
        marked = self.waveform.transport.range()
        if marked and self.waveform.transport.frame_count:
            x0, x1 = self.axis().x_of_seconds(marked[0] / fps), self.axis().x_of_seconds(marked[1] / fps)
            painter.fillRect(QRectF(x0, 0, x1 - x0, self.height()), QColor(70, 130, 220, 50))
        if track is None:
            painter.setPen(QColor(140, 140, 145))
            painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, self.empty_text)
        else:
            self._draw_track(painter, track, t0, t1, width)
        if self.waveform.transport.frame_count:
            x = self.axis().x_of_frame(self.waveform.transport.position)
            painter.setPen(QPen(QColor(235, 70, 70), 1.5))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()

    def _draw_track(self, painter: QPainter, track: VisemeTrack, t0: float, t1: float, width: int) -> None:
        metrics = painter.fontMetrics()
        top = 2.0
        drawn = blocks(track, t0, t1, width)
        for block in drawn:
            rect = QRectF(block.x0, top, max(1.0, block.x1 - block.x0), _BLOCK_H)
            painter.fillRect(rect, QColor(*block.run.colour))
            label = block.run.label
            if label and metrics.horizontalAdvance(label) + 4 <= rect.width():
                painter.setPen(QColor(255, 255, 255) if block.run.viseme in ("closed", "rounded", "postalveolar")
                               else QColor(15, 15, 18))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        painter.setPen(QColor(200, 200, 205))
        row_top = top + _BLOCK_H + 1
        for x0, x1, text in text_row(track, t0, t1, width):
            if metrics.horizontalAdvance(text) + 2 <= x1 - x0:
                painter.drawText(QRectF(x0, row_top, x1 - x0, _TEXT_H), Qt.AlignmentFlag.AlignCenter, text)
        # The caption sits in the context before the in point and never covers a block: shorter
        # when room is short (the tooltip has it all), left out when there is none.
        room = (drawn[0].x0 if drawn else width) - 8
        caption = next((text for text in (track.caption(d) for d in (2, 1, 0))
                        if metrics.horizontalAdvance(text) + 8 <= room), None)
        if caption is not None:
            box = QRectF(4, top + 2, metrics.horizontalAdvance(caption) + 8, metrics.height())
            painter.fillRect(box, QColor(0, 0, 0, 160))
            painter.setPen(QColor(220, 220, 225))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, caption)

    # -- tooltips --------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.waveform and event.type() == QEvent.Type.MouseMove and self.model.track is not None:
            self.update()
        return False

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            QToolTip.showText(event.globalPos(), self._tip_at(event.pos().x()), self)
            return True
        return super().event(event)

    def _tip_at(self, x: float) -> str:
        track = self.track()
        if track is None:
            return self.empty_text
        t0, t1 = self.view_span()
        seconds = t0 + x / max(1, self.width()) * (t1 - t0)
        frame = int(seconds * float(track.fps))
        run = track.run_at(frame)
        if run is None:
            return track.caption() + (f"\n{track.reason}" if track.reason else "")
        phones = f" ({' '.join(run.phones)})" if run.phones else ""
        return (f"frames {run.start}–{run.stop - 1}: {run.viseme}{phones}\n{track.caption()}"
                + (f"\n{track.reason}" if track.reason else ""))


__all__ = ["VisemeLane"]
