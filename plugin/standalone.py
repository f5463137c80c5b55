"""`mytalk panel [VIDEO] [--audio FILE] [--timeline CUT [--shot N]]`: the panel in a window of its own.

The standalone host works for any editor: pull a shot from the timeline, fix it, put the result
back. With `--timeline` (any cut format a host in the package's `manifest.json` lists: .otio,
CMX 3600 .edl, FCP 7 .xml, Kdenlive, Shotcut) a dock lists the cut's clips with their record
timecode; double-click a clip, or type a record range, and the panel opens the clip's media at the
matching source frames. The file is opened through `mytalk.plugin.loader.open_timeline`, so the
dock knows its host only as a `TimelineHost`. Each commit then writes a new timeline version next
to the cut, and the cut is the project whose render folder the panel remembers. View shows and
hides the docks; Help ▸ Keyboard lists the keys.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mytalk.core.errors import MyTalkError
from mytalk.plugin.hosts import attach
from mytalk.plugin.hosts.timeline import TimelineEntry, TimelineHost
from mytalk.plugin.loader import open_timeline
from mytalk.plugin.manifest import load_manifest
from mytalk.ui.key_help import KeyHelpDialog
from mytalk.ui.panel import MyTalkPanel

INITIAL_SIZE = (1400, 860)
"""The window's first size, shrunk to the screen's free area on smaller screens."""
TIMELINE_DOCK_HEIGHT = 170
"""The timeline dock's first height (px): a header and four clips; the picture gets the rest."""


class TimelineDock(QDockWidget):
    """The cut's clips; pick one (double-click) or a record range to load it into the panel."""

    COLUMNS = ("Track", "Clip", "Record in", "Record out", "Media")

    def __init__(self, host: TimelineHost, panel: MyTalkPanel, parent: QWidget | None = None) -> None:
        super().__init__(f"Timeline — {host.path.name}", parent)
        self.setObjectName("timelineDock")
        self.host = host
        self.panel = panel
        self.clips: Sequence[TimelineEntry] = host.clips()
        self.table = QTableWidget(len(self.clips), len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        for row, clip in enumerate(self.clips):
            values = (clip.track_name, clip.name, host.record_timecode(clip.record_start),
                      host.record_timecode(clip.record_stop), clip.media.name if clip.media else "(no media)")
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        rows = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + 2 * rows + 4)
        self.table.cellDoubleClicked.connect(lambda row, _column: self.pick_clip(row))
        self.record_in = QLineEdit(self)
        self.record_in.setPlaceholderText("record in (01:00:10:00)")
        self.record_out = QLineEdit(self)
        self.record_out.setPlaceholderText("record out")
        use = QPushButton("Use range", self)
        use.clicked.connect(self.pick_range)
        self.status = QLabel("Double-click a clip, or type a record range", self)
        self.status.setWordWrap(True)
        row_layout = QHBoxLayout()
        row_layout.addWidget(self.record_in)
        row_layout.addWidget(self.record_out)
        row_layout.addWidget(use)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addWidget(self.table, 1)
        layout.addLayout(row_layout)
        layout.addWidget(self.status)
        self.setWidget(body)

    def pick_clip(self, row: int) -> None:
        clip = self.clips[row]
        self._use(clip.record_start, clip.record_stop)

    def pick_number(self, number: int) -> bool:
        """Load the cut's clip `number` (as `mytalk batch CUT --list` and the batch report number them)."""
        rows = [row for row, clip in enumerate(self.clips) if clip.number == number]
        if not rows:
            message = f"{self.host.path.name} has no clip {number}; it has clips 1-{len(self.clips)}"
            self.status.setText(message)
            self.panel.show_error(message)
            return False
        self.table.selectRow(rows[0])
        self.pick_clip(rows[0])
        return True

    def pick_range(self) -> None:
        try:
            start = self.host.parse_record(self.record_in.text())
            stop = self.host.parse_record(self.record_out.text()) if self.record_out.text().strip() else None
        except MyTalkError as error:
            self.status.setText(str(error))
            return
        self._use(start, stop)

    def _use(self, record_start: int, record_stop: int | None) -> None:
        try:
            shot = self.host.shot(record_start, record_stop)
        except MyTalkError as error:
            self.status.setText(str(error))
            self.panel.show_error(str(error))
            return
        attach(self.panel, self.host, shot)
        self.status.setText(f"{shot.name}: source frames {shot.source_start}-{shot.source_stop} at "
                            f"{shot.record_timecode}; commits go to {self.host.path.stem}_mytalk_vNNN")


class StandaloneWindow(QMainWindow):
    """The panel as the central widget, with a File menu and the optional timeline dock."""

    def __init__(self, video: Path | None = None, audio: Path | None = None, timeline: Path | None = None,
                 *, shot: int | None = None, start_runtime: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("MyTalk")
        if QApplication.instance() is None:
            raise RuntimeError("StandaloneWindow needs a QApplication")
        self.panel = MyTalkPanel(self, video=video, audio=audio, start_runtime=start_runtime)
        self.setCentralWidget(self.panel)
        self.timeline_dock: TimelineDock | None = None
        # The editing keys work in the docks and with nothing focused too (not only in the panel).
        self.panel.route_keys_from(self)
        menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("Open &clip…", QKeySequence.StandardKey.Open, self.panel.choose_clip),
                                     ("Open &line…", None, self.panel.choose_line),
                                     ("Open &timeline…", None, self.choose_timeline),
                                     ("&Quit", QKeySequence.StandardKey.Quit, self.close)):
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.addAction(action)
        self.view_menu: QMenu = self.menuBar().addMenu("&View")
        self._no_docks = QAction("(no docks: File ▸ Open timeline… adds the timeline)", self)
        self._no_docks.setEnabled(False)
        self.view_menu.addAction(self._no_docks)
        help_menu = self.menuBar().addMenu("&Help")
        keys = QAction("&Keyboard", self)
        keys.triggered.connect(self.show_keys)
        help_menu.addAction(keys)
        self.key_help: KeyHelpDialog | None = None
        if timeline is not None and self.open_timeline(timeline) and shot is not None:
            assert self.timeline_dock is not None
            self.timeline_dock.pick_number(shot)  # a shot flagged in a batch's report, opened from there
        self.resize(*self.initial_size())

    def initial_size(self) -> tuple[int, int]:
        """`INITIAL_SIZE`, or the screen's free area when that is smaller (a 1280x720 laptop)."""
        screen = self.screen()
        if screen is None:
            return INITIAL_SIZE
        free = screen.availableGeometry()
        return min(INITIAL_SIZE[0], free.width()), min(INITIAL_SIZE[1], free.height())

    def choose_timeline(self) -> None:
        try:
            formats = [fmt for host in load_manifest().hosts for fmt in host.formats]
        except MyTalkError as error:
            self.panel.show_error(str(error))
            return
        patterns = " ".join(f"*{fmt}" for fmt in formats)
        path, _ = QFileDialog.getOpenFileName(self, "Open timeline", str(Path.home()),
                                              f"Timelines ({patterns});;All files (*)")
        if path:
            self.open_timeline(Path(path))

    def open_timeline(self, path: Path) -> bool:
        """Open a cut through the host the package's manifest names for its suffix; errors go to the panel."""
        try:
            host = open_timeline([load_manifest()], path)
        except MyTalkError as error:
            self.panel.show_error(str(error))
            return False
        if self.timeline_dock is not None:
            self.view_menu.removeAction(self.timeline_dock.toggleViewAction())
            self.removeDockWidget(self.timeline_dock)
            self.timeline_dock.deleteLater()
        self.timeline_dock = TimelineDock(host, self.panel, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.timeline_dock)
        self.resizeDocks([self.timeline_dock], [TIMELINE_DOCK_HEIGHT], Qt.Orientation.Vertical)
        toggle = self.timeline_dock.toggleViewAction()
        toggle.setText("&Timeline")
        self.view_menu.insertAction(self._no_docks, toggle)
        self._no_docks.setVisible(False)
        self.panel.set_project(path)  # every shot of this cut renders into the cut's folder
        return True

    def show_keys(self) -> KeyHelpDialog:
        """Help ▸ Keyboard: the keys as a table (non-modal, so the keys can be tried while it is open)."""
        if self.key_help is None:
            self.key_help = KeyHelpDialog(self)
        self.key_help.show()
        self.key_help.raise_()
        return self.key_help

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.panel.shutdown()
        super().closeEvent(event)


def run_standalone(video: Path | None = None, audio: Path | None = None, timeline: Path | None = None,
                   shot: int | None = None) -> int:
    """Open the standalone window and run until it closes; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("MyTalk")
    window = StandaloneWindow(video, audio, timeline, shot=shot)
    window.show()
    return int(app.exec())
