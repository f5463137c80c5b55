"""The standalone host: `mytalk panel --timeline CUT.otio` lists the cut and loads a picked clip."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
from test_hosts_otio import build_cut

from conftest import media_path
from mytalk.plugin.standalone import StandaloneWindow

LINE = "jfk_inaugural_en_16k.wav"


def test_timeline_dock_picks_a_clip_by_double_click_or_record_range(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    window = StandaloneWindow(audio=media_path("audio", LINE), timeline=cut, start_runtime=False)
    qtbot.addWidget(window)
    try:
        dock = window.timeline_dock
        assert dock is not None and dock.table.rowCount() == 2
        assert dock.table.item(1, 2).text() == "01:00:02:00"
        dock.pick_clip(1)
        assert window.panel.clip is not None and window.panel.clip.name == "retalking_face2_swalwell.mp4"
        assert window.panel.transport.range() == (20, 100)
        dock.record_in.setText("01:00:02:10")
        dock.record_out.setText("01:00:03:10")
        dock.pick_range()
        assert window.panel.transport.range() == (30, 55)
        assert window.panel.commit_hook is not None
        dock.record_out.setText("01:00:01:00")
        dock.pick_range()
        assert "is empty" in dock.status.text() and "01:00:02:10" in dock.status.text()
        dock.record_in.setText("02:00:00:00")
        dock.record_out.clear()
        dock.pick_range()
        assert "no video clip" in dock.status.text()
    finally:
        window.panel.shutdown()


def test_a_bad_timeline_is_reported_in_the_panel(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = StandaloneWindow(timeline=tmp_path / "missing.otio", start_runtime=False)
    qtbot.addWidget(window)
    try:
        assert window.timeline_dock is None and "timeline not found" in window.panel.banner.text
    finally:
        window.panel.shutdown()


def test_a_shot_flagged_in_a_batch_report_opens_by_its_clip_number(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`mytalk panel --timeline CUT --shot N`, the command the batch report gives for a flagged shot."""
    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    window = StandaloneWindow(timeline=cut, shot=2, start_runtime=False)
    qtbot.addWidget(window)
    try:
        assert window.panel.clip is not None and window.panel.clip.name == "retalking_face2_swalwell.mp4"
        assert window.panel.transport.range() == (20, 100)
        assert window.timeline_dock is not None and window.timeline_dock.table.currentRow() == 1
        assert not window.timeline_dock.pick_number(3)
        assert "has no clip 3; it has clips 1-2" in window.panel.banner.text
    finally:
        window.panel.shutdown()
