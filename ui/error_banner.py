"""The panel's error strip: what went wrong, and on which frame, with Restart when it helps."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from mytalk.ui.buttons import tool_button

_COLOURS = {"error": ("#4a1717", "#ffb4ab"), "info": ("#17324a", "#b4dcff")}
"""(background, text) per kind: red for what failed, blue for what the editor should know."""


class ErrorBanner(QFrame):
    """A dismissible strip across the top of the panel: what went wrong, and on which frame."""

    restartRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.restart = tool_button(self, "Restart runtime", "Start a new runtime process",
                                   lambda: self.restartRequested.emit())
        self.restart.hide()
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.restart)
        layout.addWidget(close)
        self.kind = "error"
        self.hide()

    def show_message(self, text: str, kind: str = "error", *, offer_restart: bool = False) -> None:
        """Show `text` as an "error" or an "info"; `offer_restart` adds the Restart runtime button."""
        self.kind = kind
        background, foreground = _COLOURS.get(kind, _COLOURS["error"])
        self.setStyleSheet(f"#errorBanner {{ background: {background}; border-radius: 4px; }} "
                           f"#errorBanner QLabel {{ color: {foreground}; }}")
        self.label.setText(text)
        self.restart.setVisible(offer_restart)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()
