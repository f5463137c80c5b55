"""No audio device or sound server: the panel says so on screen (Qt only tells stderr), and playback runs
silently, the picture moving on its own clock. The playback object reports the state; these tests give it
the device answer (`has_output`) instead of the machine's, so they hold on any machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from conftest import media_path
from mytalk.ui.panel import MyTalkPanel
from mytalk.ui.playback import NO_DEVICE, AudioPlayback

CLIP = "retalking_face2_swalwell.mp4"


@pytest.fixture
def device() -> dict[str, bool]:
    return {"present": False}


@pytest.fixture
def panel(qtbot: Any, device: dict[str, bool]) -> Iterator[MyTalkPanel]:
    playback = AudioPlayback(has_output=lambda: device["present"])
    widget = MyTalkPanel(start_runtime=False, video=media_path("video", CLIP), playback=playback)
    qtbot.addWidget(widget)
    widget.resize(1100, 720)
    widget.show()
    yield widget
    widget.shutdown()


def test_without_an_audio_device_the_panel_says_playback_is_silent(qtbot: Any, panel: MyTalkPanel,
                                                                   device: dict[str, bool]) -> None:
    assert panel.audio.silent
    assert panel.audio_note.isVisible() and "silent" in panel.audio_note.text()
    assert panel.audio_note.toolTip() == panel.audio.reason
    if not panel.audio.available:  # QtMultimedia cannot load here: that is the reason shown, and it stays
        assert "unavailable" in panel.audio.reason
        return
    assert panel.audio.reason == NO_DEVICE
    # A device appears (a headset plugged in; Qt calls refresh on its device-list signal): the note goes.
    device["present"] = True
    panel.audio.refresh()
    assert not panel.audio.silent and not panel.audio_note.isVisible()
    device["present"] = False
    panel.audio.refresh()
    assert panel.audio_note.isVisible()


def test_silent_playback_still_plays_the_picture(qtbot: Any, panel: MyTalkPanel) -> None:
    t = panel.transport
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert t.speed == 1
    qtbot.waitUntil(lambda: t.position >= 5, timeout=10_000)  # the picture moves, with nothing to hear
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert t.speed == 0 and panel.audio_note.isVisible()


def test_the_default_playback_reports_this_machines_state_on_screen(qtbot: Any) -> None:
    widget = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(widget)
    widget.show()
    try:
        assert widget.audio_note.isVisible() == widget.audio.silent
        assert widget.audio_note.toolTip() == widget.audio.reason
    finally:
        widget.shutdown()
