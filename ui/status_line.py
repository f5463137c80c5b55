"""The panel's status line: one line along the bottom for what the editor should know now.

Notes that need no decision (the marks were swapped, a typed position was refused and why) go here
rather than into the error banner, which stays for failures. The whole text is also the tooltip, in
case the panel is too narrow to show it (the line then ends in "…").
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from mytalk.ui.elided_label import ElidedLabel

_COLOURS = {"info": "", "warning": "#c69026", "error": "#e5534b"}


class StatusLine(ElidedLabel):
    """A one-line label: `show_note(text, kind)` with kind "info", "warning" or "error"; `clear_note`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("statusLine")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.fontMetrics().height() + 4)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.kind = "info"

    def show_note(self, text: str, kind: str = "info") -> None:
        self.kind = kind
        colour = _COLOURS.get(kind, "")
        self.setStyleSheet(f"QLabel#statusLine {{ color: {colour}; }}" if colour else "")
        self.setText(text)

    def clear_note(self) -> None:
        self.show_note("")
