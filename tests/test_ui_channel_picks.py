"""The panel's channel picks: beside Line…, a poly line's channels, by the recorder's names, which go into every
request (preview, commit, the line's timing ahead), key the visemes and redraw the lower lane; beside Clip…, a
camera clip's own channels heard as the guide, which go into every request and both learned ahead, and redraw the
upper lane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.poly_wav import ixml_chunk, write_poly_wav
from conftest import copy_engine_panel, media_path
from mytalk.core.media.audio import decode_audio
from mytalk.core.media.channel_pick import sound_channels
from mytalk.ui.channels_box import channel_choices
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
    # The take opened again: its boom, as picked before (remembered per file, across panels).
    assert panel.load_line(poly)
    assert panel.model.line_channels == "3" and box.currentText() == "Ch 3 BOOM"
    assert panel.status_line.text() == "take.wav: the mouth and the render follow Ch 3 BOOM, as picked for this line before"
    assert panel.build_request(kind="preview").audio_channels == "3"
    box.choose(None)  # back to all of them: that sticks too
    assert panel.load_line(poly) and panel.model.line_channels is None


@pytest.mark.media
def test_a_camera_clips_channels_are_offered_as_the_guide_and_a_pick_reaches_every_request(
        qtbot: Any, panel: MyTalkPanel, tmp_path: Path) -> None:
    """A camera file of four titled mono streams: the box beside Clip… says what a job hears without a pick (the
    first stream), a pick goes into the preview, the commit and both requests learned ahead (learning hears it),
    the upper lane is redrawn from it, and a new clip starts without one."""
    from benchmarks.camera_take import write_camera_take
    from mytalk.core.jobs.request import SyncRequest
    from mytalk.core.runtime.protocol import sync_request_from_json

    t = np.arange(48000 * 2) / 48000
    tones = np.stack([amp * np.sin(2 * np.pi * f * t) for f, amp in ((220, 0.1), (330, 0.1), (440, 0.6), (550, 0.3))])
    camera = write_camera_take(media_path("video", CLIP), tones, 48000, NAMES, tmp_path / "camera.mov")
    assert panel.load_clip(camera)
    box = panel.guide_channels_box
    assert box.isVisible() and box.pick() is None
    assert [box.itemText(i) for i in range(box.count())] == [
        "Guide: Default: 1 MIX L", "Guide: Ch 1 MIX L", "Guide: Ch 2 MIX R", "Guide: Ch 3 BOOM", "Guide: Ch 4 LAV 2"]
    assert ("camera.mov has 4 channels: the guide and the actor's learning hear 1 MIX L; pick the actor's "
            "microphone beside Clip…") in panel.status_line.text()
    first = decode_audio(camera, DISPLAY_RATE, channels=1, stream_index=1).samples[0]
    qtbot.waitUntil(lambda: panel.waveform.production.size == first.size, timeout=30_000)
    assert np.allclose(panel.waveform.production, first, atol=1e-6)
    assert panel.load_line(media_path("audio", MONO_LINE))
    panel.set_range(10, 30)
    assert panel.build_request(kind="preview").guide_channels is None

    box.choose("3")
    assert panel.model.guide_channels == "3"
    assert panel.status_line.text() == "camera.mov: the guide and the actor's learning hear Ch 3 BOOM"
    for request in (panel.build_request(kind="preview"), panel.build_request(kind="commit"),
                    line_learn_request(panel.model.inputs(), panel.settings.values()),
                    panel.anticipation._learn_request()):
        assert isinstance(request, SyncRequest) and request.guide_channels == "3"
    # What the runtime is sent carries it (the wire's own form).
    wired = sync_request_from_json(json.loads(json.dumps(panel.build_request(kind="preview").to_dict())))
    assert wired.guide_channels == "3"
    boom = decode_audio(camera, DISPLAY_RATE, channels=1, stream_index=3).samples[0]
    qtbot.waitUntil(lambda: panel.waveform.production.size == boom.size
                    and np.allclose(panel.waveform.production, boom, atol=1e-6), timeout=30_000)

    # The camera clip opened again: the boom, as picked for it before, and the upper lane drawn from it.
    assert panel.load_line(media_path("audio", MONO_LINE)) and panel.load_clip(media_path("video", CLIP))
    assert panel.load_clip(camera)
    assert panel.model.guide_channels == "3" and box.currentText() == "Guide: Ch 3 BOOM"
    assert panel.status_line.text() == ("camera.mov: the guide and the actor's learning hear Ch 3 BOOM, as picked "
                                        "for this clip before")
    qtbot.waitUntil(lambda: panel.waveform.production.size == boom.size
                    and np.allclose(panel.waveform.production, boom, atol=1e-6), timeout=30_000)

    # Back to the shared clip (one stereo stream, both heard): no pick carried over.
    assert panel.load_clip(media_path("video", CLIP))
    assert panel.model.guide_channels is None and box.pick() is None
    assert box.currentText() == "Guide: All channels (2, mixed)"
    panel.set_range(10, 30)
    assert panel.build_request(kind="preview").guide_channels is None
