"""The standalone window on small screens: it fits 1024x700 (timeline dock included), the In / Out / Dur
readouts and the codec list are whole at 1280x720 and 1024x700, the settings and the job list scroll
instead of clipping, the View menu brings a closed dock back, and the keyboard help is a table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QWidget
from test_hosts_otio import build_cut

from conftest import media_path
from mytalk.plugin.standalone import StandaloneWindow
from mytalk.ui.jobs import JobEntry
from mytalk.ui.keymap import KEY_HELP

CLIP = "hdtf_wda_katiehill_512.mp4"  # 25 fps, 200 frames
LINE = "jfk_inaugural_en_16k.wav"
SMALL_SCREENS = [(1280, 720), (1024, 700)]


@pytest.fixture
def window(qtbot: Any) -> Iterator[StandaloneWindow]:
    win = StandaloneWindow(media_path("video", CLIP), media_path("audio", LINE), start_runtime=False)
    qtbot.addWidget(win)
    win.show()
    win.panel.set_range(25, 75)
    yield win
    win.panel.shutdown()


@pytest.fixture
def cut(tmp_path: Path) -> Path:
    path = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(path))
    return path


def resize(window: QWidget, width: int, height: int) -> None:
    window.resize(width, height)
    QApplication.processEvents()
    assert (window.width(), window.height()) == (width, height), "the window cannot shrink that far"


def needed_width(widget: QWidget) -> int:
    """What the widget's contents need: a line edit's text (its size hint is a generic 17 characters),
    anything else its size hint."""
    if isinstance(widget, QLineEdit):
        return widget.fontMetrics().horizontalAdvance(widget.text()) + 12
    if isinstance(widget, QPushButton):  # the style's 80 px minimum is not what the caption needs
        return widget.fontMetrics().horizontalAdvance(widget.text()) + 8
    return widget.sizeHint().width()


def assert_whole(widget: QWidget, window: QWidget) -> None:
    """Shown, given at least the width its contents ask for, not covered or cut by a parent's edge."""
    name = widget.objectName() or type(widget).__name__
    assert widget.isVisible(), name
    assert widget.width() >= needed_width(widget), (name, widget.width(), needed_width(widget))
    assert widget.visibleRegion().boundingRect() == widget.rect(), (name, widget.visibleRegion().boundingRect())
    assert window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())), name


def test_the_window_fits_1024x700_with_and_without_the_timeline_dock(qtbot: Any, window: StandaloneWindow,
                                                                      cut: Path) -> None:
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    with_dock = StandaloneWindow(audio=media_path("audio", LINE), timeline=cut, start_runtime=False)
    qtbot.addWidget(with_dock)
    try:
        with_dock.show()
        assert with_dock.timeline_dock is not None
        with_dock.timeline_dock.pick_clip(0)
        hint = with_dock.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 700, hint
        with_dock.panel.show_error("the MyTalk runtime exited with status 1; restarting it")
        hint = with_dock.minimumSizeHint()
        assert hint.height() <= 700, f"a one-line error banner too: {hint}"
        resize(with_dock, 1024, 700)
        # The dock starts small: the picture gets the height, the cut is a strip under it.
        assert with_dock.timeline_dock.height() < 0.3 * with_dock.height()
        for label in with_dock.panel.timecode.readouts:
            assert_whole(label, with_dock)
    finally:
        with_dock.panel.shutdown()


@pytest.mark.parametrize(("width", "height"), SMALL_SCREENS)
def test_the_readouts_and_the_codec_list_are_whole_on_a_small_screen(window: StandaloneWindow, width: int,
                                                                     height: int) -> None:
    resize(window, width, height)
    panel = window.panel
    assert [label.text() for label in panel.timecode.readouts] == [
        "In 00:00:01:00", "Out (incl.) 00:00:02:24", "Dur 00:00:02:00"]
    bar = panel.transport_bar
    for widget in (*panel.timecode.readouts, panel.timecode.field, panel.timecode.rate, panel.settings.codec,
                   panel.preview_button, panel.commit_button, bar.mark_in_button, bar.mark_out_button):
        assert_whole(widget, window)
    codec = panel.settings.codec
    for index in range(codec.count()):  # whichever codec is picked, its name fits the list's width
        codec.setCurrentIndex(index)
        assert codec.fontMetrics().horizontalAdvance(codec.currentText()) + 24 <= codec.width(), codec.currentText()
    clip_label = panel.clip_label
    shown = clip_label.shown_text()
    assert shown == clip_label.full_text or shown.endswith("…"), "a long clip line ends in …, never cut mid-letter"


def test_the_settings_and_the_job_list_scroll_rather_than_squeeze(qtbot: Any, cut: Path) -> None:
    window = StandaloneWindow(audio=media_path("audio", LINE), timeline=cut, start_runtime=False)
    qtbot.addWidget(window)
    try:
        window.show()
        resize(window, 1024, 700)
        panel = window.panel
        scroll = panel.settings_scroll
        assert scroll.widget().isAncestorOf(panel.settings)
        assert scroll.verticalScrollBar().maximum() > 0, "the form is taller than its room: it scrolls"
        for widget in panel.settings.widgets.values():
            assert widget.height() >= widget.minimumSizeHint().height(), widget.objectName()
        assert panel.settings.width() <= scroll.viewport().width(), "never sideways"
        for index in range(12):
            panel.jobs.add(JobEntry(f"j{index}", "preview", f"Preview {index}"))
        job_scroll = panel.jobs.findChild(type(scroll))
        assert job_scroll is not None
        qtbot.waitUntil(lambda: job_scroll.verticalScrollBar().maximum() > 0, timeout=5000)  # the relayout is posted
        rows = [panel.jobs.row(f"j{index}") for index in range(12)]
        assert all(row is not None and row.height() >= row.minimumSizeHint().height() for row in rows)
    finally:
        window.panel.shutdown()


def test_the_view_menu_brings_a_closed_timeline_dock_back(qtbot: Any, cut: Path) -> None:
    window = StandaloneWindow(timeline=cut, start_runtime=False)
    qtbot.addWidget(window)
    try:
        window.show()
        dock = window.timeline_dock
        assert dock is not None and dock.isVisible()
        toggle = next(action for action in window.view_menu.actions() if action.text() == "&Timeline")
        assert toggle is dock.toggleViewAction() and toggle.isChecked()
        dock.close()  # the dock's own ✕
        assert not dock.isVisible() and not toggle.isChecked()
        toggle.trigger()
        assert dock.isVisible() and toggle.isChecked()
        window.open_timeline(cut)  # a new cut replaces the dock and its menu entry
        entries = [action.text() for action in window.view_menu.actions() if action.isVisible()]
        assert entries == ["&Timeline"] and window.timeline_dock is not dock
    finally:
        window.panel.shutdown()


def test_the_keyboard_help_is_a_table_with_one_unwrapped_row_per_entry(window: StandaloneWindow) -> None:
    dialog = window.show_keys()
    QApplication.processEvents()
    table = dialog.table
    assert dialog.rows() == list(KEY_HELP)
    assert not table.wordWrap()
    metrics = table.fontMetrics()
    for row in range(table.rowCount()):
        for column in range(2):
            item = table.item(row, column)  # the keys are bold: measured in their own font
            assert QFontMetrics(item.font()).horizontalAdvance(item.text()) <= table.columnWidth(column), item.text()
        assert table.rowHeight(row) < 2 * metrics.lineSpacing(), "one line per entry"
    assert table.horizontalScrollBar().maximum() == 0 and table.verticalScrollBar().maximum() == 0
    assert_whole(table, dialog)
    dialog.close()
