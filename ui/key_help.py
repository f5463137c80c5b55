"""The keyboard help: the panel's keys as a two-column table, one row per entry, never wrapped."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mytalk.ui.keymap import KEY_HELP


class KeyHelpDialog(QDialog):
    """`KEY_HELP` in a table sized to its contents: each entry on one row, keys left, action right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MyTalk keyboard")
        self.setObjectName("keyHelp")
        self.table = QTableWidget(len(KEY_HELP), 2, self)
        self.table.setHorizontalHeaderLabels(("Key", "Action"))
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for row, (keys, action) in enumerate(KEY_HELP):
            key_item = QTableWidgetItem(keys)
            font = key_item.font()
            font.setBold(True)
            key_item.setFont(font)
            self.table.setItem(row, 0, key_item)
            self.table.setItem(row, 1, QTableWidgetItem(action))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        frame = 2 * self.table.frameWidth()
        width = sum(self.table.columnWidth(c) for c in range(2)) + frame
        height = header.height() + sum(self.table.rowHeight(r) for r in range(len(KEY_HELP))) + frame
        self.table.setFixedSize(width, height)
        note = QLabel("Keys work wherever the focus is in the panel, except while typing in a text or number "
                      "field (Esc leaves it).", self)
        note.setWordWrap(True)
        note.setMaximumWidth(width)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(note)
        layout.addWidget(buttons)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetFixedSize)

    def rows(self) -> list[tuple[str, str]]:
        """The table's rows as shown."""
        return [(self._text(row, 0), self._text(row, 1)) for row in range(self.table.rowCount())]

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""
