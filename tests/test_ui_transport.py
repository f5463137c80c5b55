"""Marks from keys and the SMPTE display, drop-frame included, in the real panel (offscreen).

The 29.97 drop-frame clip is written here with PyAV, with a QuickTime timecode track that
starts two frames before a minute boundary, so the display must skip the labels ;00 and ;01.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import Qt

from conftest import media_path
from mytalk.core.timecode import frames_to_smpte
from mytalk.ui.panel import MyTalkPanel
from mytalk.ui.transport import ClipTiming, Transport

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames, no timecode track


def write_ntsc_clip(path: Path, frames: int, start_timecode: str) -> Path:
    """A small 29.97 fps clip whose QuickTime timecode track starts at `start_timecode`."""
    with av.open(str(path), "w", format="mov") as container:
        container.metadata["timecode"] = start_timecode
        stream = container.add_stream("mpeg4", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            picture = np.full((48, 64, 3), (index * 9) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def panel(qtbot) -> MyTalkPanel:  # type: ignore[no-untyped-def]
    widget = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(widget)
    widget.resize(1100, 720)
    widget.show()
    yield widget
    widget.shutdown()


def press(qtbot, widget, *keys: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        qtbot.keyClick(widget, key, modifier)


def test_i_and_o_mark_the_playhead_and_arrows_step_frames(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    assert panel.load_clip(media_path("video", CLIP))
    t = panel.transport
    press(qtbot, panel, *[Qt.Key.Key_Right] * 10)
    press(qtbot, panel, Qt.Key.Key_I)
    press(qtbot, panel, Qt.Key.Key_Right, modifier=Qt.KeyboardModifier.ShiftModifier)  # one second = 25 frames
    press(qtbot, panel, Qt.Key.Key_Left, Qt.Key.Key_O)
    assert (t.mark_in, t.mark_out, t.range()) == (10, 34, (10, 35))
    assert panel.timecode.marks_text == "In 00:00:00:10   Out (incl.) 00:00:01:09   Dur 00:00:01:00"
    press(qtbot, panel, Qt.Key.Key_Home)
    assert t.position == 0 and panel.timecode.text == "00:00:00:00"
    press(qtbot, panel, Qt.Key.Key_Down)
    assert t.position == 34
    press(qtbot, panel, Qt.Key.Key_Up)
    assert t.position == 10
    press(qtbot, panel, Qt.Key.Key_End)
    assert t.position == 124 and panel.timecode.text == "00:00:04:24"
    press(qtbot, panel, Qt.Key.Key_O, modifier=Qt.KeyboardModifier.AltModifier)
    assert t.range() == (10, 125), "an open out mark extends to the end of the clip"
    press(qtbot, panel, Qt.Key.Key_X, modifier=Qt.KeyboardModifier.AltModifier)
    assert t.range() is None
    assert panel.preview_button.isEnabled() is False


def test_keys_reach_the_panel_from_the_viewer_but_not_from_text_fields(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    assert panel.load_clip(media_path("video", CLIP))
    panel.viewer.setFocus()
    press(qtbot, panel.viewer, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_I)
    assert panel.transport.mark_in == 2
    panel.settings.output.setFocus()
    press(qtbot, panel.settings.output, Qt.Key.Key_I)
    assert panel.transport.mark_in == 2 and panel.settings.output.text().endswith("i")


def test_jkl_shuttle_and_space(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    assert panel.load_clip(media_path("video", CLIP))
    t = panel.transport
    press(qtbot, panel, Qt.Key.Key_L)
    assert t.speed == 1
    press(qtbot, panel, Qt.Key.Key_L, Qt.Key.Key_L)
    assert t.speed == 4
    press(qtbot, panel, Qt.Key.Key_J)
    assert t.speed == -1, "J after L reverses at 1x"
    qtbot.keyPress(panel, Qt.Key.Key_K)
    assert t.speed == 0
    start = t.position
    press(qtbot, panel, Qt.Key.Key_L, Qt.Key.Key_L, Qt.Key.Key_J)  # K held: single frames
    assert t.speed == 0 and t.position == min(start + 1, 124)
    qtbot.keyRelease(panel, Qt.Key.Key_K)
    press(qtbot, panel, Qt.Key.Key_Space)
    assert t.speed == 1
    qtbot.waitUntil(lambda: t.position > start + 3, timeout=3000)  # the playback timer moves it
    press(qtbot, panel, Qt.Key.Key_Space)
    assert t.speed == 0


def test_drop_frame_clip_shows_semicolon_timecode_from_its_source_timecode(qtbot, panel: MyTalkPanel,  # type: ignore[no-untyped-def]
                                                                         tmp_path: Path) -> None:
    clip = write_ntsc_clip(tmp_path / "ntsc.mov", 12, "00:00:59;28")
    assert panel.load_clip(clip)
    assert panel.timecode.rate.text() == "29.97 DF"
    assert panel.timecode.text == "00:00:59;28"
    press(qtbot, panel, Qt.Key.Key_I, Qt.Key.Key_Right, Qt.Key.Key_Right)
    # ;00 and ;01 do not exist at minute 1: the frame after 59;29 is 01:00;02.
    assert panel.timecode.text == "00:01:00;02"
    press(qtbot, panel, Qt.Key.Key_O)
    assert panel.timecode.marks_text == "In 00:00:59;28   Out (incl.) 00:01:00;02   Dur 00:00:00;03"
    # Typing source timecode jumps there (and a label that cannot exist is refused).
    panel.timecode.field.setText("00:01:00;05")
    qtbot.keyClick(panel.timecode.field, Qt.Key.Key_Return)
    assert panel.transport.position == 5
    panel.timecode.field.setText("00:01:00;00")
    qtbot.keyClick(panel.timecode.field, Qt.Key.Key_Return)
    assert panel.transport.position == 5 and "does not exist in drop-frame" in panel.timecode.field.toolTip()


def test_transport_timecode_at_drop_frame_rates_matches_the_core() -> None:
    t = Transport()
    t.set_clip(ClipTiming(frame_count=20000, fps=Fraction(30000, 1001)))
    for frame in (0, 1799, 1800, 17982, 17983):
        t.seek(frame)
        assert t.timecode() == frames_to_smpte(frame, Fraction(30000, 1001))
    t.seek(1800)
    assert t.timecode() == "00:01:00;02"
    t.set_clip(ClipTiming(frame_count=500, fps=Fraction(60000, 1001), start_timecode="00:00:59:56"))
    assert t.timing is not None and not t.timing.drop_frame, "a ':' source timecode means non-drop"
    assert t.timecode() == "00:00:59:56"
    t.set_clip(ClipTiming(frame_count=500, fps=Fraction(24000, 1001)))
    t.seek(24)
    assert t.timecode() == "00:00:01:00"


def test_marks_stay_ordered_and_ranges_are_half_open() -> None:
    t = Transport()
    t.set_clip(ClipTiming(frame_count=100, fps=Fraction(25)))
    t.seek(50)
    assert t.set_out() is None
    t.seek(60)
    note = t.set_in()
    assert (t.mark_in, t.mark_out) == (50, 60), "an in after the out keeps both marks, swapped"
    assert note == "In 00:00:02:10 is after Out: the marks were swapped, In 00:00:02:00, Out 00:00:02:10"
    t.seek(20)
    note = t.set_out()
    assert (t.mark_in, t.mark_out, t.range()) == (20, 50, (20, 51)), "an out before the in: swapped too"
    assert note is not None and note.startswith("Out 00:00:00:20 is before In: the marks were swapped")
    t.set_range(10, 20)
    assert (t.mark_in, t.mark_out, t.range()) == (10, 19, (10, 20))
    assert t.duration_timecode() == "00:00:00:10"
