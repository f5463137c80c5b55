"""Production audio and the replacement line on one time axis; drag or nudge to slip the line.

The slip is the request's `audio_in`: the time *in the line* that lands on the in point. Dragging
the line right by 40 ms makes it start 40 ms later against the picture, so `audio_in` drops by
40 ms. Offsets are kept as exact `Fraction` seconds (a 29.97 frame is 1001/30000 s) and sent as
a seconds string with microsecond precision, far below one audio sample.

The view shares the scrub bar's time axis (`mytalk.ui.panel_model.axis.TimeAxis`: the whole clip,
the same margins), so a frame is at the same x in both, and it draws its own time ruler on top.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from mytalk.ui.panel_model.axis import TimeAxis
from mytalk.ui.transport import Transport

DISPLAY_RATE = 8000
"""Audio is decoded at this rate (Hz) for drawing: plenty for a per-pixel envelope."""

_LANE_GAP = 4
RULER_H = 16
"""Height (px) of the time ruler above the lanes."""


def envelope(samples: np.ndarray, rate: int, t0: float, t1: float, width: int, offset_s: float = 0.0) -> np.ndarray:
    """Per-pixel (min, max) of mono `samples` over clip time [t0, t1), shape (width, 2).

    `offset_s` is the clip time of sample 0 (the line's placement). Pixels outside the audio are
    (0, 0), so silence and absence look the same: a flat line.
    """
    out = np.zeros((max(1, width), 2), dtype=np.float32)
    if samples.size == 0 or t1 <= t0 or width <= 0:
        return out
    edges = ((np.linspace(t0, t1, width + 1) - offset_s) * rate).astype(np.int64)
    edges = np.clip(edges, 0, samples.size)
    filled = edges[1:] > edges[:-1]
    if not filled.any():
        return out
    # reduceat takes the min/max of samples[edges[i]:edges[i+1]] for every pixel at once; the
    # extra last index bounds the final pixel, and empty pixels (no audio there) stay at zero.
    index = np.minimum(edges, samples.size - 1)
    out[:, 0] = np.where(filled, np.minimum.reduceat(samples, index)[:-1], 0.0)
    out[:, 1] = np.where(filled, np.maximum.reduceat(samples, index)[:-1], 0.0)
    return out


class WaveformView(QWidget):
    """Two lanes on the clip's time axis: production audio (top) and the placed line (bottom)."""

    offsetChanged = Signal(object)  # Fraction: the new audio_in in seconds

    def __init__(self, transport: Transport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transport = transport
        self.production: np.ndarray = np.zeros(0, dtype=np.float32)
        self.line: np.ndarray = np.zeros(0, dtype=np.float32)
        self.audio_in = Fraction(0)
        self.message = "No replacement line: open one with “Line…”"
        self._drag_from: tuple[float, Fraction] | None = None
        self._envelopes: dict[tuple[int, int, float, float, int, float], np.ndarray] = {}
        self.setMinimumHeight(84 + RULER_H)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("Drag the line (bottom lane) to slip it against the picture; "
                        "',' and '.' nudge by a frame, Shift for 10 ms")
        transport.subscribe(lambda what: self.update())

    def sizeHint(self) -> QSize:
        return QSize(600, 96 + RULER_H)

    # -- content ---------------------------------------------------------------------------------

    def set_production(self, samples: np.ndarray | None) -> None:
        """Mono samples at `DISPLAY_RATE` of the clip's own audio, or None."""
        self.production = np.zeros(0, np.float32) if samples is None else np.asarray(samples, np.float32).ravel()
        self.update()

    def set_line(self, samples: np.ndarray | None) -> None:
        """Mono samples at `DISPLAY_RATE` of the replacement line, or None."""
        self.line = np.zeros(0, np.float32) if samples is None else np.asarray(samples, np.float32).ravel()
        self.update()

    def set_audio_in(self, seconds: Fraction) -> None:
        self.audio_in = Fraction(seconds)
        self.update()

    # -- time axis -------------------------------------------------------------------------------

    def in_seconds(self) -> Fraction:
        """Clip time of the in point (the start of the clip when no in mark is set)."""
        marked = self.transport.range()
        start = marked[0] if marked else 0
        return Fraction(start) / self.transport.fps

    def line_start_s(self) -> float:
        """Clip time (s) where the line's first sample sits."""
        return float(self.in_seconds() - self.audio_in)

    def axis(self) -> TimeAxis:
        """The scrub bar's mapping at this widget's width (the two are equally wide, one above the other)."""
        return TimeAxis(self.transport.frame_count, self.transport.fps, self.width())

    def view_span(self) -> tuple[float, float]:
        """Clip time (s) at the left and the right edge of the widget, margins included."""
        return self.axis().span_seconds()

    def x_of(self, seconds: float) -> float:
        return self.axis().x_of_seconds(seconds)

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(26, 26, 30))
        lane_h = (self.height() - RULER_H - _LANE_GAP) / 2
        top = QRectF(0, RULER_H, self.width(), lane_h)
        bottom = QRectF(0, RULER_H + lane_h + _LANE_GAP, self.width(), lane_h)
        t0, t1 = self.view_span()
        fps = float(self.transport.fps)
        marked = self.transport.range()
        if marked and self.transport.frame_count:
            x0, x1 = self.x_of(marked[0] / fps), self.x_of(marked[1] / fps)
            painter.fillRect(QRectF(x0, RULER_H, x1 - x0, self.height() - RULER_H), QColor(70, 130, 220, 50))
        self._ruler(painter)
        self._lane(painter, top, self.production, 0.0, QColor(120, 200, 140), t0, t1)
        labels = [(top, "production")]
        if self.line.size:
            self._lane(painter, bottom, self.line, self.line_start_s(), QColor(255, 190, 60), t0, t1)
            labels.append((bottom, f"line  slip {-float(self.audio_in) * 1000 + 0.0:+.1f} ms"))
        else:
            painter.setPen(QColor(140, 140, 145))
            painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter, self.message)
        if self.transport.frame_count:
            x = self.x_of(self.transport.position / fps)
            painter.setPen(QPen(QColor(235, 70, 70), 1.5))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        # The lanes' names go over the playhead: parked at the clip's first frames, it crossed their first
        # letters ("roduction").
        for lane, label in labels:
            self._label(painter, lane, label)
        painter.end()

    def _ruler(self, painter: QPainter) -> None:
        """Timecode ticks on the shared axis: labelled where the scrub bar labels, and a minor tick per
        frame when frames are 4 px apart or more (else five per label)."""
        ruler = QRectF(0, 0, self.width(), RULER_H)
        painter.fillRect(ruler, QColor(38, 38, 43))
        if not self.transport.frame_count:
            return
        axis = self.axis()
        step = axis.tick_step()
        minor = 1 if axis.inner / max(1, axis.frame_count) >= 4 else max(1, step // 5)
        painter.setPen(QColor(110, 110, 118))
        for frame in range(0, axis.frame_count + 1, minor):
            x = axis.x_of_frame(frame)
            painter.drawLine(QPointF(x, RULER_H - 4), QPointF(x, RULER_H))
        painter.setPen(QColor(170, 170, 178))
        metrics = painter.fontMetrics()
        right = axis.x_of_frame(axis.frame_count)
        for frame in axis.ticks():
            x = axis.x_of_frame(frame)
            painter.drawLine(QPointF(x, 2), QPointF(x, RULER_H))
            label = self.transport.timecode(frame)
            if x + 3 + metrics.horizontalAdvance(label) < right:
                painter.drawText(QPointF(x + 3, RULER_H - 4), label)

    def _lane(self, painter: QPainter, lane: QRectF, samples: np.ndarray, offset: float, colour: QColor,
              t0: float, t1: float) -> None:
        width = max(1, int(lane.width()))
        key = (id(samples), samples.size, t0, t1, width, offset)
        env = self._envelopes.get(key)
        if env is None:
            # Repaints follow the playhead every frame; the envelope only changes with the view.
            env = envelope(samples, DISPLAY_RATE, t0, t1, width, offset)
            if len(self._envelopes) > 8:
                self._envelopes.clear()
            self._envelopes[key] = env
        peak = float(np.abs(env).max()) or 1.0
        mid = lane.center().y()
        half = lane.height() / 2 - 2
        painter.setPen(QPen(colour, 1))
        for x in range(width):
            low, high = env[x]
            painter.drawLine(QPointF(x, mid - high / peak * half), QPointF(x, mid - low / peak * half))

    @staticmethod
    def _label(painter: QPainter, lane: QRectF, label: str) -> None:
        """A lane's name, in its top left corner."""
        metrics = painter.fontMetrics()
        box = QRectF(lane.x() + 4, lane.y() + 2, metrics.horizontalAdvance(label) + 8, metrics.height() + 2)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(220, 220, 225))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)

    # -- slipping --------------------------------------------------------------------------------

    def nudge(self, seconds: Fraction) -> None:
        """Move the line later against the picture by `seconds` (negative: earlier)."""
        self.audio_in -= Fraction(seconds)
        self.update()
        self.offsetChanged.emit(self.audio_in)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.line.size:
            self._drag_from = (event.position().x(), self.audio_in)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is None:
            return
        x0, audio_in0 = self._drag_from
        t0, t1 = self.view_span()
        seconds_per_px = (t1 - t0) / max(1, self.width())  # the axis is linear across the whole width
        moved = Fraction((event.position().x() - x0) * seconds_per_px).limit_denominator(1_000_000)
        self.audio_in = audio_in0 - moved
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self._drag_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.offsetChanged.emit(self.audio_in)


def offset_text(seconds: Fraction) -> str:
    """`audio_in` as the request string: seconds with microsecond precision (`-0.040000s`)."""
    return f"{float(seconds):.6f}s"
