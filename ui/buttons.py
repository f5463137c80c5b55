"""The panel's push buttons: made one way, so that none of them ever takes the keyboard focus.

A focused button turns Space into "press this button"; in an editor Space is play/stop, and the panel's
keys must work wherever the focus is (`mytalk.ui.key_router`). So every button the panel's parts make
comes from `tool_button`, which leaves the focus where it was.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget


def tool_button(parent: QWidget, text: str, tip: str, slot: Callable[[], object] | None = None, *,
                checkable: bool = False) -> QPushButton:
    """A button captioned `text`, explained by `tip`, calling `slot` when clicked, that never takes the focus."""
    button = QPushButton(text, parent)
    button.setToolTip(tip)
    button.setCheckable(checkable)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if slot is not None:
        button.clicked.connect(slot)
    return button


def fit_caption(button: QPushButton, minimum: int = 30) -> None:
    """Make `button` as wide as its caption: the style's 80 px minimum would push a row of short captions
    (the slip's "−1 fr", "+10 ms") past a 1024 px window."""
    button.setFixedWidth(max(minimum, button.fontMetrics().horizontalAdvance(button.text()) + 18))
