"""Editing keys wherever the focus is: an application event filter in front of the panel's widgets.

Qt gives a key to the focused widget, and widgets eat what they understand: a scroll area (the job
list) takes the arrows, a combo box Up and Down, a check box Space. With no focus widget at all
(after Enter in the timecode field, or a click on empty space) the key goes to the window, which
is not the panel when the panel is docked in one. Either way I, O and the arrows did nothing.

So the panel's keys are taken here, before any widget sees them, for every widget inside the
panel and inside the extra roots a host adds (the standalone window adds itself, for its docks and
for keys that arrive with nothing focused). Text fields are the exception: there a key is typing,
and Esc leaves the field and gives the keyboard back to the panel. Dialogs are windows of their
own and never in scope.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

KeyHandler = Callable[[QKeyEvent], bool]
"""Takes a key event; True when it was an editing key and has been acted on."""


def is_text_input(widget: QWidget | None) -> bool:
    """A widget where keys are typing: an editable line, text box, spin box or editable combo box."""
    if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, QAbstractSpinBox)


class KeyRouter(QObject):
    """Sends key presses and releases inside `home` (and `add_root`s) to the panel's handlers.

    Installed on the QApplication by `install`; `uninstall` takes it off (the panel does on shutdown).
    """

    def __init__(self, home: QWidget, press: KeyHandler, release: KeyHandler) -> None:
        super().__init__(home)
        self.home = home
        self._press = press
        self._release = release
        self._roots: list[QWidget] = [home]
        self._installed = False

    def add_root(self, widget: QWidget) -> None:
        """Route keys from `widget` and everything in it (same window) too."""
        if widget not in self._roots:
            self._roots.append(widget)

    def install(self) -> None:
        app = QApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True

    def uninstall(self) -> None:
        app = QApplication.instance()
        if app is not None and self._installed:
            app.removeEventFilter(self)
            self._installed = False

    def in_scope(self, widget: QWidget) -> bool:
        for root in self._roots:
            try:
                if root is widget or root.isAncestorOf(widget):
                    return True
            except RuntimeError:  # a root whose C++ side is gone (a closed dock)
                continue
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) or not isinstance(watched, QWidget):
            return False
        if not isinstance(event, QKeyEvent) or not self.in_scope(watched):
            return False
        if is_text_input(watched):
            return self._leave_field(event)
        if isinstance(watched, QMenuBar):
            return False  # Alt (or F10) put the menu bar in keyboard mode: the arrows walk its menus
        focus = QApplication.focusWidget()
        if is_text_input(focus) and focus is not None and watched.isAncestorOf(focus):
            return False  # a key the text field passed up to its parents (Up in a line edit): still typing
        return self._press(event) if kind == QEvent.Type.KeyPress else self._release(event)

    def _leave_field(self, event: QKeyEvent) -> bool:
        """Esc in a text field: the field keeps what was typed, the panel gets the keyboard back."""
        if event.type() != QEvent.Type.KeyPress or event.key() != Qt.Key.Key_Escape:
            return False
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        self.home.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True
