"""The container a commit is written to: MXF for an Avid, MOV or MP4 for the rest, picked once per codec.

The CLI wrote DNxHR to .mxf or .mov as its `-o` said; the panel always used a codec's first container, so an
Avid editor got DNxHR in MOV. The settings' Wrapper list offers every container the codec's preset allows,
the commit request names it (`<folder>/<clip>.mxf`, `commands.commit_target`) and the choice is remembered.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from test_ui_panel_model import settings_values

from conftest import media_path
from mytalk.core.jobs.commands import commit_target
from mytalk.core.media.probe import probe
from mytalk.core.media.writer import CODEC_PRESETS
from mytalk.ui.panel import MyTalkPanel
from mytalk.ui.panel_model.output import MemoryStore, WrapperChoices
from mytalk.ui.panel_model.request import RequestInputs, build_request, learn_request
from mytalk.ui.settings import SettingsPanel

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps: a rate MXF holds
LINE = "jfk_inaugural_en_16k.wav"
READY_MS = 60_000
JOB_MS = 180_000


def test_a_commit_names_its_wrapper_and_a_preview_or_a_learn_does_not(tmp_path: Path) -> None:
    clip, line = tmp_path / "shot.mov", tmp_path / "line.wav"
    inputs = RequestInputs(clip, line, (10, 35))
    values = settings_values(codec="dnxhr", output=tmp_path / "renders", wrapper=".mxf")
    commit = build_request(inputs, values, kind="commit")
    assert commit.output == tmp_path / "renders" / "shot.mxf"
    assert commit_target(commit, "dnxhr") == (tmp_path / "renders", ".mxf"), "versions go in the folder, as MXF"
    assert build_request(inputs, values, kind="preview").output == tmp_path / "renders"
    learn = learn_request(clip, values, None)
    assert learn is not None and learn.output != commit.output
    mov = build_request(inputs, settings_values(output=tmp_path / "renders", wrapper=".mov"), kind="commit")
    assert mov.output == tmp_path / "renders", "a codec's first container: the folder alone, as before"
    assert commit_target(mov, "prores") == (tmp_path / "renders", ".mov")


def test_a_wrapper_is_remembered_per_codec() -> None:
    store = MemoryStore()
    choices = WrapperChoices(store)
    assert choices.chosen("dnxhr") is None
    choices.remember("dnxhr", ".mxf")
    assert choices.chosen("dnxhr") == ".mxf" and choices.chosen("h264") is None
    assert store.values == {"wrappers/dnxhr": ".mxf"}


def test_the_wrapper_list_follows_the_codec_and_keeps_each_codecs_pick(qtbot: Any) -> None:
    form = SettingsPanel()
    qtbot.addWidget(form)
    codec = form.widgets["codec"]
    picked: list[tuple[str, str]] = []
    form.wrapperChosen.connect(lambda c, s: picked.append((c, s)))

    def show(name: str) -> list[str]:
        codec.setCurrentIndex(codec.findData(name))  # type: ignore[attr-defined]
        return [form.wrapper.itemData(i) for i in range(form.wrapper.count())]

    assert show("prores") == [".mov"] and not form.wrapper.isEnabled() and form.values()["wrapper"] == ".mov"
    assert show("dnxhr") == list(CODEC_PRESETS["dnxhr"].extensions) == [".mov", ".mxf"]
    assert form.wrapper.isEnabled() and form.wrapper_suffix() == ".mov", "a codec's first container by default"
    form.wrapper.setCurrentIndex(1)
    form.wrapper.activated.emit(1)  # what a click on the item sends
    assert picked == [("dnxhr", ".mxf")] and form.values()["wrapper"] == ".mxf"
    assert show("h264") == [".mp4", ".mov", ".mkv"] and form.wrapper_suffix() == ".mp4"
    assert show("dnxhr") and form.wrapper_suffix() == ".mxf", "the pick comes back with its codec"
    form.set_wrapper("h264", ".mkv")
    form.set_wrapper("prores", ".mxf")  # not a container ProRes is written to here: ignored
    assert show("h264") and form.wrapper_suffix() == ".mkv"
    assert show("prores") and form.wrapper_suffix() == ".mov"


def test_mxf_is_greyed_for_a_clip_at_a_rate_it_cannot_hold_and_the_pick_comes_back_after(qtbot: Any) -> None:
    form = SettingsPanel()
    qtbot.addWidget(form)
    codec = form.widgets["codec"]
    codec.setCurrentIndex(codec.findData("dnxhr"))  # type: ignore[attr-defined]
    form.set_wrapper("dnxhr", ".mxf")
    assert form.wrapper_suffix() == ".mxf"
    form.set_clip_rate(Fraction(15))  # a webcam's or an animatic's rate: FFmpeg's MXF muxer refuses it
    item = form.wrapper.model().item(form.wrapper.findData(".mxf"))  # type: ignore[attr-defined]
    assert not item.isEnabled() and "15 fps" in item.toolTip()
    assert form.wrapper_suffix() == ".mov" and not form.wrapper.isEnabled(), "MOV is all that is left"
    form.set_clip_rate(Fraction(30000, 1001))
    assert form.wrapper_suffix() == ".mxf" and form.wrapper.isEnabled(), "the editor's pick, for a clip it fits"


@pytest.fixture
def panel(qtbot: Any, tmp_path: Path) -> Any:
    preferences = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    widget = MyTalkPanel(video=media_path("video", CLIP), audio=media_path("audio", LINE), preferences=preferences)
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    widget.settings.output.setText(str(tmp_path / "renders"))
    qtbot.waitUntil(widget.runtime.is_ready, timeout=READY_MS)
    widget.settings.select_engine("classic")
    yield widget
    widget.shutdown()


def test_an_avid_editor_commits_dnxhr_in_mxf_and_the_next_panel_remembers_it(qtbot: Any, panel: MyTalkPanel,
                                                                            tmp_path: Path) -> None:
    codec = panel.settings.widgets["codec"]
    codec.setCurrentIndex(codec.findData("dnxhr"))  # type: ignore[attr-defined]
    mxf = panel.settings.wrapper.findData(".mxf")
    panel.settings.wrapper.setCurrentIndex(mxf)
    panel.settings.wrapper.activated.emit(mxf)
    panel.set_range(10, 35)
    assert f"{Path(CLIP).stem}_10-35_v###.mxf" in panel.naming_label.text()
    job_id = panel.start_commit()
    assert job_id
    qtbot.waitUntil(lambda: panel.jobs.entries[job_id].finished, timeout=JOB_MS)
    entry = panel.jobs.entries[job_id]
    assert entry.state == "done", entry.message
    out = tmp_path / "renders"
    stem = f"{Path(CLIP).stem}_10-35"
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}_v001.json", f"{stem}_v001.mxf"]
    info = probe(out / f"{stem}_v001.mxf")
    assert info.container.startswith("mxf") and info.video is not None and info.video.codec == "dnxhd"
    assert info.video.frame_count == 25 and info.audio is not None
    assert panel.render_folder == out, "the folder is remembered, not the file the request named"
    again = MyTalkPanel(video=media_path("video", CLIP), start_runtime=False,
                        preferences=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    try:
        again_codec = again.settings.widgets["codec"]
        again_codec.setCurrentIndex(again_codec.findData("dnxhr"))  # type: ignore[attr-defined]
        assert again.settings.wrapper_suffix() == ".mxf"
    finally:
        again.shutdown()
