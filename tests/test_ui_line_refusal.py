"""A bad replacement line is refused like a bad clip: the error is shown, the line in use stays the line,
and Preview and Commit stay as they were (so P still previews the good line, not a job bound to fail)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ui_transport import write_ntsc_clip

from conftest import copy_engine_panel, media_path
from mytalk.ui.panel import MyTalkPanel

CLIP = "retalking_face2_swalwell.mp4"
LINE = "jfk_inaugural_en_16k.wav"


def text_file(folder: Path) -> Path:
    path = folder / "notes.wav"
    path.write_text("not audio at all\n" * 20)
    return path


def truncated_header(folder: Path) -> Path:
    """The first 44 bytes of a WAV: a RIFF header cut inside its format chunk."""
    path = folder / "cut_header.wav"
    path.write_bytes(media_path("audio", LINE).read_bytes()[:44])
    return path


def truncated_samples(folder: Path) -> Path:
    """A readable header and 28 samples: what an interrupted copy leaves."""
    path = folder / "cut_short.wav"
    path.write_bytes(media_path("audio", LINE).read_bytes()[:100])
    return path


def silent_video(folder: Path) -> Path:
    """A video without a sound track, offered as the line."""
    return write_ntsc_clip(folder / "no_sound.mov", 6, "00:00:00;00")


def truncated_video(folder: Path) -> Path:
    path = folder / "cut.mp4"
    path.write_bytes(media_path("video", CLIP).read_bytes()[:50_000])
    return path


@pytest.fixture
def panel(qtbot: Any) -> Iterator[MyTalkPanel]:
    with copy_engine_panel(qtbot, CLIP) as widget:
        yield widget


@pytest.mark.parametrize(("make", "says"), [
    (text_file, "not a readable video or audio file"),
    (truncated_header, "not a readable video or audio file"),
    (truncated_samples, "looks truncated"),
    (silent_video, "has no sound"),
    (truncated_video, "the file is cut short"),  # its index (moov) was to come after the 50 KB kept
])
def test_a_bad_line_is_refused_and_the_previous_line_is_kept(qtbot: Any, panel: MyTalkPanel, tmp_path: Path,
                                                             make: Callable[[Path], Path], says: str) -> None:
    good = media_path("audio", LINE)
    assert panel.load_line(good)
    qtbot.waitUntil(lambda: panel.waveform.line.size > 0, timeout=30_000)
    panel.set_range(25, 50)
    before = (panel.preview_button.isEnabled(), panel.commit_button.isEnabled(), panel.open_line_button.text())
    assert before[:2] == (True, True)

    bad = make(tmp_path)
    assert panel.load_line(bad) is False
    assert panel.line == good, "the previous line is still the line"
    assert (panel.preview_button.isEnabled(), panel.commit_button.isEnabled(), panel.open_line_button.text()) == before
    assert panel.banner.isVisible() and says in panel.banner.text and bad.name in panel.banner.text
    assert f"The line stays {good.name}" in panel.banner.text
    assert panel.waveform.line.size > 0, "the good line's waveform is still drawn"
    assert panel.build_request(kind="preview").audio == good, "P previews the good line"


def test_a_bad_first_line_leaves_the_panel_without_one(panel: MyTalkPanel, tmp_path: Path) -> None:
    panel.set_range(25, 50)
    assert panel.load_line(text_file(tmp_path)) is False
    assert panel.line is None and not panel.preview_button.isEnabled() and not panel.commit_button.isEnabled()
    assert "The line stays" not in panel.banner.text
