"""The editing keys work wherever the focus is in the window, not only when the panel itself has it: after
Enter in the timecode field, after a click in the job list, on a combo box. Inside a text field keys are
typing, and Esc gives the keyboard back. Every key goes to the widget that has the focus, as a real
keyboard's would (QTest events sent to `QApplication.focusWidget()`, or to the window when nothing has it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from conftest import media_path
from mytalk.plugin.standalone import StandaloneWindow
from mytalk.ui.jobs import JobEntry

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames


@pytest.fixture
def window(qtbot: Any) -> Iterator[StandaloneWindow]:
    win = StandaloneWindow(media_path("video", CLIP), start_runtime=False)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    win.activateWindow()
    assert QTest.qWaitForWindowActive(win, 5000)
    yield win
    win.panel.shutdown()


def focused(window: QWidget) -> QWidget:
    """Where a key typed now goes: the focus widget, or the active window when nothing has the focus."""
    return QApplication.focusWidget() or window


def press(window: QWidget, *keys: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    for key in keys:
        QTest.keyClick(focused(window), key, modifier)


def test_after_enter_in_the_timecode_field_i_and_the_arrows_work(qtbot: Any, window: StandaloneWindow) -> None:
    panel, t = window.panel, window.panel.transport
    field = panel.timecode.field
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is field
    field.selectAll()
    QTest.keyClicks(field, "40")
    press(window, Qt.Key.Key_Return)
    assert t.position == 40
    assert focused(window) is not field, "Enter hands the keyboard back"
    press(window, Qt.Key.Key_I, Qt.Key.Key_Right, Qt.Key.Key_Right)
    assert (t.mark_in, t.position) == (40, 42)
    press(window, Qt.Key.Key_O)
    assert t.range() == (40, 43)


def test_after_a_click_in_the_job_list_the_arrows_jkl_i_and_o_still_work(qtbot: Any, window: StandaloneWindow) -> None:
    panel, t = window.panel, window.panel.transport
    panel.jobs.add(JobEntry("j1", "preview", "Preview 00:00:01:00 – 00:00:01:24  (25 fr)"))
    row = panel.jobs.row("j1")
    assert row is not None
    qtbot.mouseClick(row.status, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    t.seek(10)
    press(window, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Right)
    assert t.position == 13
    press(window, Qt.Key.Key_Left)
    assert t.position == 12
    press(window, Qt.Key.Key_I)
    press(window, Qt.Key.Key_Right, modifier=Qt.KeyboardModifier.ShiftModifier)
    press(window, Qt.Key.Key_O)
    assert t.range() == (12, 38)
    press(window, Qt.Key.Key_L)
    assert t.speed == 1
    QTest.keyPress(focused(window), Qt.Key.Key_K)
    assert t.speed == 0
    QTest.keyClick(focused(window), Qt.Key.Key_L)  # K held: one frame
    assert t.speed == 0
    QTest.keyRelease(focused(window), Qt.Key.Key_K)
    press(window, Qt.Key.Key_Home)
    assert t.position == 0


def test_a_combo_box_with_the_focus_does_not_eat_the_arrows(qtbot: Any, window: StandaloneWindow) -> None:
    panel, t = window.panel, window.panel.transport
    codec = panel.settings.codec
    before = codec.currentData()
    codec.setFocus()
    assert QApplication.focusWidget() is codec
    press(window, Qt.Key.Key_Down, Qt.Key.Key_Right)
    assert codec.currentData() == before, "Down went to the panel (go to out), not to the codec list"
    assert t.position == 1


def test_keys_in_a_text_field_are_typing_and_esc_gives_them_back(qtbot: Any, window: StandaloneWindow) -> None:
    panel, t = window.panel, window.panel.transport
    transcript = panel.settings.transcript
    qtbot.mouseClick(transcript.viewport(), Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is transcript
    press(window, Qt.Key.Key_I, Qt.Key.Key_O, Qt.Key.Key_Space, Qt.Key.Key_L, Qt.Key.Key_Right)
    assert transcript.toPlainText() == "io l" and t.mark_in is None and t.speed == 0 and t.position == 0
    press(window, Qt.Key.Key_Escape)
    assert focused(window) is panel, "Esc leaves the field for the panel"
    press(window, Qt.Key.Key_Right, Qt.Key.Key_I)
    assert (t.position, t.mark_in) == (1, 1)
    assert transcript.toPlainText() == "io l", "what was typed stays"
    # The timecode field is a text field too: I there is typing, not a mark.
    qtbot.mouseClick(panel.timecode.field, Qt.MouseButton.LeftButton)
    press(window, Qt.Key.Key_I)
    assert t.mark_in == 1
    press(window, Qt.Key.Key_Escape)
    assert focused(window) is panel and panel.timecode.text == t.timecode()


def test_keys_reach_the_panel_with_nothing_focused(qtbot: Any, window: StandaloneWindow) -> None:
    t = window.panel.transport
    while (widget := QApplication.focusWidget()) is not None:
        widget.clearFocus()
    QTest.keyClick(window, Qt.Key.Key_Right)
    QTest.keyClick(window, Qt.Key.Key_I)
    assert (t.position, t.mark_in) == (1, 1)
