"""Marks and typed positions say what happened: Out before In swaps the marks and says so (nothing is cleared
silently), a bad timecode entry says what is wrong and what is accepted, Out is labelled inclusive and the
commit's file name explains its exclusive second number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from conftest import shown_panel
from mytalk.ui.panel import MyTalkPanel

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames


@pytest.fixture
def panel(qtbot: Any) -> Iterator[MyTalkPanel]:
    widget = shown_panel(qtbot, CLIP)
    yield widget
    widget.shutdown()


def test_out_before_in_keeps_both_marks_swapped_and_says_so(qtbot: Any, panel: MyTalkPanel) -> None:
    t = panel.transport
    t.seek(60)
    qtbot.keyClick(panel, Qt.Key.Key_I)
    assert panel.status_line.full_text == ""
    t.seek(20)
    qtbot.keyClick(panel, Qt.Key.Key_O)
    assert (t.mark_in, t.mark_out) == (20, 60), "the marks were swapped, not cleared"
    note = panel.status_line.full_text
    assert note == ("Out 00:00:00:20 is before In: the marks were swapped, In 00:00:00:20, Out 00:00:02:10")
    assert panel.status_line.kind == "warning"
    # The In / Out buttons go the same way as the keys.
    t.seek(100)
    panel.transport_bar.mark_in_button.click()
    assert (t.mark_in, t.mark_out) == (60, 100) and "In 00:00:04:00 is after Out" in panel.status_line.full_text
    t.seek(110)
    panel.transport_bar.mark_out_button.click()
    assert (t.mark_in, t.mark_out) == (60, 110) and panel.status_line.full_text == "", "an ordinary mark clears the note"


@pytest.mark.parametrize(("typed", "says"), [
    ("abc", "use frames (120), seconds (2.5s, 400ms) or SMPTE timecode"),
    ("00:00:01;05", "drop-frame timecode (';') only exists at 29.97 and 59.94"),
    ("9999", "outside the clip: frames 0–124, 00:00:00:00–00:00:04:24"),
    ("-3", "outside the clip: frames 0–124"),
])
def test_a_bad_timecode_entry_says_what_is_wrong_and_what_is_accepted(qtbot: Any, panel: MyTalkPanel, typed: str,
                                                                      says: str) -> None:
    """A position that cannot be read names the forms that can; one outside the clip names the clip's range."""
    field = panel.timecode.field
    panel.transport.seek(12)
    field.setFocus()
    field.setText(typed)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert panel.transport.position == 12
    message = panel.status_line.full_text
    assert says in message and panel.status_line.kind == "error"
    if "outside" not in says:
        assert "frames (120)" in message and "timecode (" in message, "the accepted forms are named"
    assert field.toolTip() == message and "border" in field.styleSheet()
    # A good entry clears it all.
    field.setText("40")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert panel.transport.position == 40 and panel.status_line.full_text == "" and field.styleSheet() == ""


def test_out_is_labelled_inclusive_and_the_commit_name_is_explained(panel: MyTalkPanel) -> None:
    panel.set_range(25, 75)  # frames 25-74
    timecode = panel.timecode
    assert timecode.out_label.text() == "Out (incl.) 00:00:02:24"
    assert "inclusive" in timecode.out_label.toolTip() and "_10-35_" in timecode.out_label.toolTip()
    assert "inclusive" in panel.transport_bar.mark_out_button.toolTip()
    note = panel.naming_label.text()
    assert note.startswith("Commit writes retalking_face2_swalwell_25-75_v###.mov: frames 25–74")
    assert "frame after Out" in note
    assert "exclusive" in panel.naming_label.toolTip() and str(panel.render_folder) in panel.naming_label.toolTip()
    panel.settings.codec.setCurrentIndex(panel.settings.codec.findData("h264"))
    assert "_25-75_v###.mp4" in panel.naming_label.text(), "the suffix follows the codec"
