"""The scrub bar, the waveform (with its time ruler) and the viseme lane share one time axis: a frame is at
the same x in all three, margins included, so an editor reads a mark, a mouth shape and a "p" straight down."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor

from conftest import shown_panel
from mytalk.ui.panel import MyTalkPanel
from mytalk.ui.panel_model.axis import MARGIN_PX, TimeAxis
from mytalk.ui.waveform import RULER_H

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames


def test_the_axis_maps_frames_between_the_margins_and_back() -> None:
    axis = TimeAxis(125, Fraction(25), 520)
    assert axis.x_of_frame(0) == MARGIN_PX and axis.x_of_frame(125) == 520 - MARGIN_PX
    assert axis.x_of_seconds(1.0) == axis.x_of_frame(25) == MARGIN_PX + 500 * 25 / 125
    assert [axis.frame_at(axis.x_of_frame(f) + 0.5) for f in (0, 1, 50, 124)] == [0, 1, 50, 124]
    t0, t1 = axis.span_seconds()  # what a lane mapping time onto its whole width must be given
    assert t0 < 0 < 5 < t1 and abs((axis.x_of_seconds(2.0) - 0) / 520 - (2.0 - t0) / (t1 - t0)) < 1e-9
    assert list(axis.ticks()) == [0, 25, 50, 75, 100] and axis.tick_step() == 25
    assert TimeAxis(125, Fraction(25), 200).tick_step() == 100, "labels stay apart on a narrow lane"


@pytest.fixture
def panel(qtbot: Any) -> Iterator[MyTalkPanel]:
    widget = shown_panel(qtbot, CLIP)
    widget.set_range(25, 50)
    yield widget
    widget.shutdown()


def test_a_frame_is_at_the_same_x_in_the_scrub_bar_the_waveform_and_the_viseme_lane(panel: MyTalkPanel) -> None:
    fps = float(panel.transport.fps)

    def in_panel(widget: Any, x: float) -> float:
        return widget.mapTo(panel, QPoint(0, 0)).x() + x

    assert panel.scrub_bar.width() == panel.waveform.width() == panel.visemes.width()
    for frame in (0, 1, 25, 50, 77, 124, 125):
        scrub = in_panel(panel.scrub_bar, panel.scrub_bar.x_of(frame))
        wave = in_panel(panel.waveform, panel.waveform.x_of(frame / fps))
        lane = in_panel(panel.visemes, panel.visemes.axis().x_of_seconds(frame / fps))
        assert abs(scrub - wave) < 1e-6 and abs(scrub - lane) < 1e-6, (frame, scrub, wave, lane)
    # The lanes that map time onto their whole width (envelopes, viseme blocks) get the same span.
    assert panel.waveform.view_span() == panel.visemes.view_span()
    t0, t1 = panel.waveform.view_span()
    width = panel.waveform.width()
    assert abs((1.0 - t0) / (t1 - t0) * width - panel.scrub_bar.x_of(25)) < 1e-6


def test_the_waveform_has_a_time_ruler_with_ticks_where_the_scrub_bar_has_them(panel: MyTalkPanel) -> None:
    image = panel.waveform.grab().toImage()
    ratio = image.width() / panel.waveform.width()
    background = QColor(38, 38, 43)
    axis = panel.waveform.axis()
    for frame in axis.ticks():
        # A labelled tick runs the ruler's full height (a frame tick only its bottom 4 px); within a pixel of x.
        x = axis.x_of_frame(frame) * ratio
        near = {image.pixelColor(int(x) + dx, y).name() for dx in (-1, 0, 1) for y in range(3, RULER_H - 5)}
        assert near != {background.name()}, f"no tick at frame {frame} (x={x:.1f})"
    # Frames are 8 px apart at this width: each gets a short tick at the ruler's bottom.
    assert axis.inner / axis.frame_count >= 4
    x = axis.x_of_frame(13) * ratio
    assert {image.pixelColor(int(x) + dx, RULER_H - 2).name() for dx in (-1, 0, 1)} != {background.name()}
    assert list(axis.ticks()) == list(panel.scrub_bar.axis().ticks())


def test_the_lane_names_stay_readable_over_the_playhead(panel: MyTalkPanel) -> None:
    """Parked on the clip's first frame, the playhead runs through the lanes' names (drawn at their left);
    the names are drawn over it, so it shows there only dimmed by their box, never at full red."""
    panel.transport.seek(0)
    panel.waveform.repaint()
    image = panel.waveform.grab().toImage()
    ratio = image.width() / panel.waveform.width()
    x = panel.waveform.x_of(0.0) * ratio
    lane_h = (panel.waveform.height() - RULER_H) / 2
    metrics = panel.waveform.fontMetrics()
    assert 4 < x / ratio < 4 + metrics.horizontalAdvance("production"), "the playhead crosses the name here"
    name_rows = range(int((RULER_H + 4) * ratio), int((RULER_H + 2 + metrics.height()) * ratio))
    playhead = QColor(235, 70, 70)

    def full_red(colour: QColor) -> bool:
        return abs(colour.red() - playhead.red()) + abs(colour.green() - playhead.green()) < 40

    crossing = [image.pixelColor(int(x) + dx, y) for dx in (-1, 0, 1) for y in name_rows]
    assert not any(full_red(c) for c in crossing), "the playhead is drawn over the lane's name"
    below = [image.pixelColor(int(x) + dx, int((RULER_H + lane_h - 4) * ratio)) for dx in (-1, 0, 1)]
    assert any(full_red(c) for c in below), "the playhead itself is still drawn through the lane"
