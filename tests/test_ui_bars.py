"""The buttons under the viewer do what their keys do, in the real panel (offscreen): the view modes, the
transport and the line's slip, and the error banner's Restart; none of them takes the keyboard focus, so Space stays
play/stop after a click."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from conftest import shown_panel
from mytalk.ui.error_banner import ErrorBanner
from mytalk.ui.panel import MyTalkPanel

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames


@pytest.fixture
def panel(qtbot: Any) -> Iterator[MyTalkPanel]:
    widget = shown_panel(qtbot, CLIP)
    yield widget
    widget.shutdown()


def _button(bar: Any, caption: str) -> QPushButton:
    (button,) = [b for b in bar.findChildren(QPushButton) if b.text() == caption]
    return button


def test_the_view_buttons_and_the_keys_show_one_mode(qtbot: Any, panel: MyTalkPanel) -> None:
    bar = panel.transport_bar
    bar.mode_b.click()
    assert panel.viewer.mode == "B" and bar.mode_b.isChecked() and not bar.mode_a.isChecked()
    bar.mode_wipe.click()
    assert panel.viewer.mode == "wipe" and bar.mode_wipe.isChecked()
    qtbot.keyClick(panel, Qt.Key.Key_Backslash)  # \ toggles A/B: from wipe it goes to A
    assert panel.viewer.mode == "A" and bar.mode_a.isChecked() and not bar.mode_wipe.isChecked()


def test_the_transport_buttons_move_the_playhead_and_play_shows_stop(qtbot: Any, panel: MyTalkPanel) -> None:
    bar, t = panel.transport_bar, panel.transport
    t.seek(50)
    bar.forward_button.click()
    bar.forward_button.click()
    bar.back_button.click()
    assert t.position == 51
    bar.to_end_button.click()
    assert t.position == 124
    bar.to_start_button.click()
    assert t.position == 0
    stopped_icon = bar.play_button.icon().cacheKey()
    bar.play_button.click()
    try:
        assert t.speed != 0
        assert bar.play_button.icon().cacheKey() != stopped_icon, "playing shows the stop icon"
    finally:
        t.stop()
    assert bar.play_button.icon().cacheKey() == stopped_icon


def test_the_slip_buttons_move_the_line_by_a_frame_or_10_ms_and_say_where_it_is(panel: MyTalkPanel) -> None:
    bar = panel.slip_bar
    _button(bar, "+1 fr").click()  # the line one frame later: its audio-in goes one frame back
    assert panel.audio_in == Fraction(-1, 25)
    _button(bar, "−10 ms").click()
    assert panel.audio_in == Fraction(-1, 25) + Fraction(1, 100)
    shown = bar.offset_label.text()
    assert shown == panel.model.slip.label(panel.transport.fps) and shown
    _button(bar, "0").click()
    assert panel.audio_in == 0
    _button(bar, "−1 fr").click()
    _button(bar, "+10 ms").click()
    assert panel.audio_in == Fraction(1, 25) - Fraction(1, 100)
    assert bar.offset_label.text() != shown


def test_no_button_under_the_viewer_takes_the_focus(qtbot: Any, panel: MyTalkPanel) -> None:
    buttons = [*panel.transport_bar.findChildren(QPushButton), *panel.slip_bar.findChildren(QPushButton)]
    assert len(buttons) == 15
    assert all(button.focusPolicy() == Qt.FocusPolicy.NoFocus for button in buttons)
    panel.setFocus()
    panel.transport.seek(10)
    panel.transport_bar.forward_button.click()
    qtbot.keyClick(panel.focusWidget() or panel, Qt.Key.Key_Right)
    assert panel.transport.position == 12, "after a click the arrow keys still step"


def test_the_banners_restart_button_asks_once_and_leaves_the_focus(qtbot: Any) -> None:
    banner = ErrorBanner()
    qtbot.addWidget(banner)
    banner.show()
    banner.show_message("the runtime stopped", offer_restart=True)
    restart = banner.restart
    assert restart.isVisible() and restart.focusPolicy() == Qt.FocusPolicy.NoFocus
    asked: list[bool] = []
    banner.restartRequested.connect(lambda: asked.append(True))
    restart.click()
    assert asked == [True]
