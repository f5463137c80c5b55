"""The panel's channel pick for a poly line: offered beside Line… for a line of several channels, by the
recorder's names; a pick goes into every request (preview, commit, the line's timing ahead), keys the
visemes, and redraws the lane from those channels alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.poly_wav import ixml_chunk, write_poly_wav
from conftest import copy_engine_panel, media_path
from mytalk.core.media.audio import decode_audio
from mytalk.core.media.line_channels import sound_channels
from mytalk.ui.line_channels_box import channel_choices
from mytalk.ui.panel import MyTalkPanel
from mytalk.ui.panel_model.request import line_learn_request
from mytalk.ui.waveform import DISPLAY_RATE

CLIP = "retalking_face2_swalwell.mp4"
MONO_LINE = "jfk_inaugural_en_16k.wav"
NAMES = ("MIX L", "MIX R", "BOOM", "LAV 2")


def _poly(folder: Path) -> Path:
    """Two seconds of four channels told apart by pitch and level, named in iXML."""
    t = np.arange(96000) / 48000
    channels = np.stack([amp * np.sin(2 * np.pi * f * t) for f, amp in ((220, 0.1), (330, 0.1), (440, 0.6), (550, 0.3))])
    return write_poly_wav(folder / "take.wav", channels, before={b"iXML": ixml_chunk(NAMES)})


def test_the_choices_are_all_then_a_stereo_pair_then_each_channel(tmp_path: Path) -> None:
    assert channel_choices(sound_channels(_poly(tmp_path))) == [
        ("All channels (4, mixed)", None), ("Ch 1 MIX L", "1"), ("Ch 2 MIX R", "2"), ("Ch 3 BOOM", "3"),
        ("Ch 4 LAV 2", "4")]
    assert channel_choices(sound_channels(media_path("audio", MONO_LINE))) == []


@pytest.fixture
def panel(qtbot: Any) -> Iterator[MyTalkPanel]:
    with copy_engine_panel(qtbot, CLIP) as widget:
        yield widget


@pytest.mark.media
def test_a_poly_line_offers_its_channels_and_a_pick_reaches_every_request(qtbot: Any, panel: MyTalkPanel,
                                                                          tmp_path: Path) -> None:
    poly = _poly(tmp_path)
    assert panel.load_line(poly)
    box = panel.line_channels_box
    assert box.isVisible() and box.count() == 5 and box.pick() is None
    assert "take.wav has 4 channels: the mouth follows them all, mixed" in panel.status_line.text()
    qtbot.waitUntil(lambda: panel.waveform.line is not None and panel.waveform.line.size > 0, timeout=30_000)
    mixed = panel.waveform.line.copy()
    panel.set_range(10, 30)
    assert panel.build_request(kind="preview").audio_channels is None
    key_before = panel.model.track_key()

    box.choose("3")
    assert panel.model.line_channels == "3"
    assert panel.status_line.text() == "take.wav: the mouth and the render follow Ch 3 BOOM"
    assert panel.build_request(kind="preview").audio_channels == "3"
    assert panel.build_request(kind="commit").audio_channels == "3"
    learn = line_learn_request(panel.model.inputs(), panel.settings.values())
    assert learn is not None and learn.audio_channels == "3"
    assert panel.model.track_key() != key_before, "visemes timed from all the channels are not drawn for one"
    # The lane is the boom alone: its level, not the mix's.
    boom = decode_audio(poly, DISPLAY_RATE, channels=1, rows=(2,)).samples[0]
    qtbot.waitUntil(lambda: panel.waveform.line is not None and panel.waveform.line.size == boom.size
                    and not np.array_equal(panel.waveform.line, mixed), timeout=30_000)
    assert np.allclose(panel.waveform.line, boom, atol=1e-6)

    # A mono line next: nothing to pick, and no pick carried over.
    assert panel.load_line(media_path("audio", MONO_LINE))
    assert not box.isVisible() and panel.model.line_channels is None
    assert panel.build_request(kind="preview").audio_channels is None
