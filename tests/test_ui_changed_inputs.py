"""A clip or a line replaced on disk after the panel opened it (re-exported under the same name, a copy that
was still running, a re-recorded line) is opened again before any job renders it: Preview or Commit then sends
nothing, says so, and keeps the marks where they still fit; the next press renders the file as it is now. So a
commit is never made from a file other than the one the editor was looking at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.ui.panel import MyTalkPanel, create_panel
from mytalk.ui.panel_model.opened import OpenedFiles

SHORT = "retalking_face2_swalwell.mp4"  # 125 frames, 844 x 844
LONG = "hdtf_wda_katiehill_512.mp4"  # 200 frames, 512 x 512
LINE = "jfk_inaugural_en_16k.wav"


def _replace(target: Path, source: Path) -> None:
    """Put `source`'s bytes at `target` as an export does: written beside it, then renamed over it."""
    staged = target.with_name(target.name + ".part")
    shutil.copyfile(source, staged)
    os.replace(staged, target)


@pytest.fixture
def offline(qtbot: Any, tmp_path: Path) -> Iterator[MyTalkPanel]:
    """A panel without a runtime, over copies of a shared clip and line in a folder of the test's."""
    clip, line = tmp_path / "take.mp4", tmp_path / "line.wav"
    shutil.copyfile(media_path("video", LONG), clip)
    shutil.copyfile(media_path("audio", LINE), line)
    panel = MyTalkPanel(start_runtime=False, video=clip, audio=line)
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()


def test_a_replaced_clip_is_opened_again_and_nothing_is_sent(offline: MyTalkPanel, tmp_path: Path) -> None:
    panel = offline
    assert panel.model.changed_inputs() == []
    panel.set_range(10, 60)
    _replace(tmp_path / "take.mp4", media_path("video", SHORT))
    assert panel.model.changed_inputs() == [tmp_path / "take.mp4"]
    assert panel.start_preview() is None
    assert not panel.runtime.is_running(), "nothing was sent"
    assert panel.transport.frame_count == 125 and panel.info is not None and panel.info.video.width == 844  # type: ignore[union-attr]
    assert panel.transport.range() == (10, 60), "the marks fit the new clip and are kept"
    note = panel.status_line.full_text
    assert panel.status_line.kind == "warning"
    assert note == "take.mp4 changed on disk since it was opened: it is open again as it is now; check it, then press Preview again"
    assert panel.model.changed_inputs() == []


def test_marks_past_the_new_clips_end_are_cleared_not_clamped(offline: MyTalkPanel, tmp_path: Path) -> None:
    panel = offline
    panel.set_range(100, 180)
    _replace(tmp_path / "take.mp4", media_path("video", SHORT))
    assert panel.start_commit() is None and not panel.runtime.is_running()
    assert panel.transport.range() is None
    assert panel.status_line.full_text.endswith("the marks no longer fit it and were cleared")


def test_a_rerecorded_line_is_opened_again(offline: MyTalkPanel, tmp_path: Path) -> None:
    panel = offline
    panel.set_range(10, 60)
    line = tmp_path / "line.wav"
    with av.open(str(tmp_path / "new.wav"), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000)
        stream.layout = "mono"
        tone = (3000 * np.sin(np.arange(16000 * 3) * 2 * np.pi * 220 / 16000)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    _replace(line, tmp_path / "new.wav")
    assert panel.start_commit() is None and not panel.runtime.is_running()
    assert panel.status_line.full_text.startswith("line.wav changed on disk since it was opened")
    assert panel.line == line and panel.model.changed_inputs() == []


def test_a_clip_gone_from_disk_is_named_and_nothing_is_sent(offline: MyTalkPanel, tmp_path: Path) -> None:
    panel = offline
    panel.set_range(10, 60)
    (tmp_path / "take.mp4").unlink()
    assert panel.start_preview() is None and not panel.runtime.is_running()
    assert panel.status_line.full_text == "take.mp4 changed on disk since it was opened, and take.mp4 cannot be read now"
    assert "not found" in panel.banner.text


def test_the_commit_after_the_reopen_renders_the_file_as_it_is_now(qtbot: Any, tmp_path: Path) -> None:
    clip = tmp_path / "take.mp4"
    shutil.copyfile(media_path("video", SHORT), clip)
    panel = create_panel(video=clip, audio=media_path("audio", LINE))
    qtbot.addWidget(panel)
    try:
        panel.settings.output.setText(str(tmp_path / "renders"))
        qtbot.waitUntil(panel.runtime.is_ready, timeout=60_000)
        panel.settings.select_engine("classic" if "classic" in available_engines() else available_engines()[0])
        panel.set_range(0, 25)
        _replace(clip, media_path("video", LONG))
        assert panel.start_commit() is None
        job_id = panel.start_commit()
        assert job_id is not None
        qtbot.waitUntil(lambda: panel.jobs.entries[job_id].finished, timeout=180_000)
        entry = panel.jobs.entries[job_id]
        assert entry.state == "done", entry.message
        assert entry.output is not None
        with av.open(str(entry.output)) as rendered, av.open(str(media_path("video", LONG))) as now:
            out = next(rendered.decode(video=0)).to_ndarray(format="rgb24")
            src = next(now.decode(video=0)).to_ndarray(format="rgb24")
        assert out.shape == src.shape == (512, 512, 3)
        top = slice(0, 200)  # above the mouth: the clip's own pixels
        assert np.abs(out[top].astype(int) - src[top].astype(int)).mean() < 3
    finally:
        panel.shutdown()


def test_opened_files_name_each_changed_file_once_and_ignore_files_never_opened(tmp_path: Path) -> None:
    take, other = tmp_path / "take.mov", tmp_path / "other.wav"
    take.write_bytes(b"first")
    other.write_bytes(b"line")
    opened = OpenedFiles()
    opened.opened(take)
    assert opened.changed([take, take, other, None]) == []
    take.write_bytes(b"second, longer")
    other.write_bytes(b"changed, but never opened")
    assert opened.changed([take, take, other, None]) == [take], "a clip that is its own line is named once"
    opened.opened(take)
    assert opened.changed([take]) == []
