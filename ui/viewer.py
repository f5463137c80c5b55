"""The picture: the original (A), the MyTalk proxy (B), or a wipe between them; click picks the face.

A normal QWidget that paints QImages, so it works in any host (no OpenGL context, no native
video sink to fight with inside another application's window). Frames arrive as RGB arrays from
`FrameDecoder`; the widget only scales, composes and draws overlays.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from mytalk.core.face.display import DisplayGeometry

MODES = ("A", "B", "wipe")
_WIPE_GRAB_PX = 8


def to_qimage(rgb: np.ndarray) -> QImage:
    """An owned QImage copy of an (H, W, 3) uint8 RGB array."""
    array = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class ViewerWidget(QWidget):
    """Draws A, B or a wipe, with the face pick and face boxes as overlays.

    Coordinates given to and emitted by the widget are *source* pixels (the clip's full
    resolution, as stored), whatever the display copy's size: that is what `--face X,Y` means. A clip
    with a display rotation or non-square pixels (`set_geometry`) is drawn turned and desqueezed, as
    players show it, and its points are still stored pixels.
    """

    facePicked = Signal(float, float)
    wipeMoved = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(213, 120)  # a 1024x700 window with the timeline dock and an error banner still fits
        self.setMouseTracking(True)
        self._a: QImage | None = None
        self._b: QImage | None = None
        self._source_size: tuple[int, int] | None = None
        self._geometry: DisplayGeometry | None = None
        self.mode = "A"
        self.wipe = 0.5
        self.face_point: tuple[float, float] | None = None
        self.face_boxes: list[tuple[float, float, float, float]] = []
        self.placeholder = "Open a clip to start: File ▸ Open clip, or drop a file here"
        self.caption = ""
        self._dragging_wipe = False

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    # -- content ---------------------------------------------------------------------------------

    def set_source_size(self, size: tuple[int, int] | None) -> None:
        self._source_size = size
        self.update()

    def set_geometry(self, geometry: DisplayGeometry | None) -> None:
        """How the clip is shown: turned by its display rotation, stretched by its pixel aspect."""
        self._geometry = None if geometry is None or geometry.is_identity else geometry
        self.update()

    def set_frames(self, a: np.ndarray | None, b: np.ndarray | None = None) -> None:
        """Show `a` (the original) and optionally `b` (the proxy of the same frame), both as stored: they
        are turned here, and `image_rect`'s shape desqueezes them as they are drawn."""
        turns = self._geometry.quarter_turns if self._geometry is not None else 0
        self._a = to_qimage(np.rot90(a, turns)) if a is not None else None
        self._b = to_qimage(np.rot90(b, turns)) if b is not None else None
        self.update()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"viewer mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.update()

    def set_wipe(self, fraction: float) -> None:
        self.wipe = min(1.0, max(0.0, fraction))
        self.update()

    def set_face_point(self, point: tuple[float, float] | None) -> None:
        self.face_point = point
        self.update()

    def set_face_boxes(self, boxes: list[tuple[float, float, float, float]]) -> None:
        """Boxes as (x0, y0, x1, y1) in source pixels."""
        self.face_boxes = boxes
        self.update()

    def has_picture(self) -> bool:
        return self._a is not None or self._b is not None

    @property
    def shows_b(self) -> bool:
        return self._b is not None and self.mode in ("B", "wipe")

    # -- geometry --------------------------------------------------------------------------------

    def image_rect(self) -> QRectF:
        """Where the picture is drawn: aspect-correct, centred, letterboxed."""
        image = self._a or self._b
        if self._geometry is not None:
            width, height = self._geometry.shown_size
        elif self._source_size:
            width, height = self._source_size
        elif image is not None:
            width, height = image.width(), image.height()
        else:
            return QRectF()
        scale = min(self.width() / width, self.height() / height)
        w, h = width * scale, height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_source(self, point: QPointF) -> tuple[float, float] | None:
        rect = self.image_rect()
        if rect.isEmpty() or not rect.contains(point) or not self._source_size:
            return None
        width, height = self._geometry.shown_size if self._geometry is not None else self._source_size
        x, y = (point.x() - rect.x()) / rect.width() * width, (point.y() - rect.y()) / rect.height() * height
        if self._geometry is None:
            return x, y
        stored = self._geometry.points_to_stored(np.array([x, y], np.float64))
        return float(stored[0]), float(stored[1])

    def from_source(self, x: float, y: float) -> QPointF:
        rect = self.image_rect()
        if self._geometry is not None:
            (width, height), (x, y) = self._geometry.shown_size, self._geometry.point_to_display(x, y)
        else:
            width, height = self._source_size or (1, 1)
        return QPointF(rect.x() + x / width * rect.width(), rect.y() + y / height * rect.height())

    def _wipe_x(self) -> float:
        rect = self.image_rect()
        return rect.x() + self.wipe * rect.width()

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor(18, 18, 20))
        rect = self.image_rect()
        if not self.has_picture() or rect.isEmpty():
            painter.setPen(QColor(150, 150, 155))
            painter.drawText(self.rect().adjusted(24, 24, -24, -24),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()
            return
        first = self._b if (self.mode == "B" and self._b is not None) else (self._a or self._b)
        assert first is not None
        painter.drawImage(rect, first)
        if self.mode == "wipe" and self._b is not None:
            x = self._wipe_x()
            painter.save()
            painter.setClipRect(QRectF(x, rect.y(), rect.right() - x, rect.height()))
            painter.drawImage(rect, self._b)
            painter.restore()
            painter.setPen(QPen(QColor(255, 214, 10), 2))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            painter.setBrush(QColor(255, 214, 10))
            painter.drawEllipse(QPointF(x, rect.center().y()), 6, 6)
        self._paint_overlays(painter, rect)
        painter.end()

    def _paint_overlays(self, painter: QPainter, rect: QRectF) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(80, 200, 255), 1.5))
        for x0, y0, x1, y1 in self.face_boxes:
            painter.drawRect(QRectF(self.from_source(x0, y0), self.from_source(x1, y1)).normalized())
        if self.face_point is not None:
            centre = self.from_source(*self.face_point)
            painter.setPen(QPen(QColor(80, 200, 255), 2))
            painter.drawEllipse(centre, 9, 9)
            painter.drawLine(centre + QPointF(-14, 0), centre + QPointF(-5, 0))
            painter.drawLine(centre + QPointF(5, 0), centre + QPointF(14, 0))
            painter.drawLine(centre + QPointF(0, -14), centre + QPointF(0, -5))
            painter.drawLine(centre + QPointF(0, 5), centre + QPointF(0, 14))
        labels: list[tuple[str, float, Qt.AlignmentFlag]] = []
        if self._b is not None:
            if self.mode == "wipe":
                labels = [("A  original", rect.x() + 8, Qt.AlignmentFlag.AlignLeft),
                          ("B  MyTalk", rect.right() - 8, Qt.AlignmentFlag.AlignRight)]
            elif self.mode == "B":
                labels = [("B  MyTalk preview", rect.x() + 8, Qt.AlignmentFlag.AlignLeft)]
            else:
                labels = [("A  original", rect.x() + 8, Qt.AlignmentFlag.AlignLeft)]
        if self.caption:
            labels.append((self.caption, rect.right() - 8, Qt.AlignmentFlag.AlignRight))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        row = 0
        for text, x, align in labels:
            width = metrics.horizontalAdvance(text) + 12
            left = x if align == Qt.AlignmentFlag.AlignLeft else x - width
            y = rect.y() + 8 + (row * (metrics.height() + 10) if align == Qt.AlignmentFlag.AlignRight and self.mode != "wipe" else 0)
            box = QRectF(left, y, width, metrics.height() + 6)
            painter.fillRect(box, QColor(0, 0, 0, 160))
            painter.setPen(QColor(240, 240, 240))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            if align == Qt.AlignmentFlag.AlignRight:
                row += 1

    # -- mouse -----------------------------------------------------------------------------------

    def _near_wipe(self, x: float) -> bool:
        return self.mode == "wipe" and self._b is not None and abs(x - self._wipe_x()) <= _WIPE_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        position = event.position()
        if self._near_wipe(position.x()):
            self._dragging_wipe = True
            return
        source = self.to_source(position)
        if source is not None:
            self.set_face_point(source)
            self.facePicked.emit(source[0], source[1])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._dragging_wipe:
            rect = self.image_rect()
            if rect.width() > 0:
                self.set_wipe((position.x() - rect.x()) / rect.width())
                self.wipeMoved.emit(self.wipe)
            return
        self.setCursor(Qt.CursorShape.SplitHCursor if self._near_wipe(position.x()) else Qt.CursorShape.CrossCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging_wipe = False
        super().mouseReleaseEvent(event)
