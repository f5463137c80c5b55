"""Where commits go: one render folder per project, the default in the user's videos folder (never beside the
source), chosen once and remembered in a QSettings file that lives under the test's own MYTALK_HOME."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from PySide6.QtCore import QSettings, Qt
from test_hosts_otio import build_cut

from conftest import media_path
from mytalk.core.userdirs import RENDERS_FOLDER_NAME, default_renders_dir, preferences_file
from mytalk.ui.panel import MyTalkPanel
from mytalk.ui.panel_model.output import MemoryStore, ProjectFolders, RenderFolders, naming_note, project_key

CLIP = "retalking_face2_swalwell.mp4"
OTHER = "hdtf_wda_katiehill_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"


# -- the model -------------------------------------------------------------------------------------


def test_the_default_is_in_the_videos_folder_under_mytalk_home_never_beside_the_clip(isolated_user_dirs: Path) -> None:
    folders = RenderFolders(MemoryStore())
    clip = media_path("video", CLIP)
    assert folders.folder_for(clip) == isolated_user_dirs / "videos" / RENDERS_FOLDER_NAME == default_renders_dir()
    assert folders.folder_for(clip) != clip.parent
    assert preferences_file().is_relative_to(isolated_user_dirs), "tests never touch the user's real preferences"


def test_a_folder_is_remembered_per_project_and_the_default_is_not_stored(tmp_path: Path) -> None:
    store = MemoryStore()
    folders = RenderFolders(store)
    a, b = tmp_path / "a.mov", tmp_path / "cut.otio"
    assert not folders.remember(a, default_renders_dir()) and store.values == {}, "the default is not a choice"
    assert folders.remember(a, tmp_path / "renders A")
    assert not folders.remember(a, tmp_path / "renders A"), "the same choice again changes nothing"
    assert folders.folder_for(a) == tmp_path / "renders A"
    assert folders.folder_for(b) == default_renders_dir(), "another project keeps the default"
    assert list(store.values) == [project_key(a)] and "/" not in project_key(a).split("/", 1)[1]
    assert not folders.remember(None, tmp_path / "x"), "no project, nothing to remember it for"


def test_the_project_is_the_timeline_when_there_is_one_and_an_early_pick_goes_to_the_first_project(
        tmp_path: Path) -> None:
    projects = ProjectFolders(RenderFolders(MemoryStore()))
    clip_a, clip_b, cut = tmp_path / "a.mov", tmp_path / "b.mov", tmp_path / "CUT.otio"
    assert projects.shown(None) == (default_renders_dir(), projects.shown(None)[1])
    assert projects.choose(None, tmp_path / "early") is None and projects.pending == tmp_path / "early"
    assert projects.shown(None)[0] == tmp_path / "early"
    folder, note = projects.shown(clip_a)
    assert folder == tmp_path / "early" and note == "Remembered for a.mov." and projects.pending is None
    assert projects.shown(clip_b)[0] == default_renders_dir()
    projects.timeline = cut
    assert projects.project(clip_a) == projects.project(clip_b) == cut
    assert projects.choose(clip_a, tmp_path / "cut") == f"Commits of CUT.otio go to {tmp_path / 'cut'} from now on"
    assert projects.shown(clip_b)[0] == tmp_path / "cut"
    assert projects.choose(clip_b, tmp_path / "cut") is None, "the same folder again: nothing to say"


def test_the_naming_note_explains_the_exclusive_second_number() -> None:
    note = naming_note(Path("/clips/shot.mov"), (25, 75), ".mov")
    assert note.startswith("Commit writes shot_25-75_v###.mov: frames 25–74")
    assert "frame after Out" in note
    assert "<in>-<out+1>" in naming_note(None, None, ".mov")


# -- the panel -------------------------------------------------------------------------------------


@pytest.fixture
def preferences(tmp_path: Path) -> QSettings:
    """A QSettings of the test's own, in an explicit file: what a host passes to the panel."""
    return QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)


def open_panel(qtbot: Any, preferences: QSettings | None, clip: str | None = CLIP) -> MyTalkPanel:
    panel = MyTalkPanel(start_runtime=False, preferences=preferences,
                        video=media_path("video", clip) if clip else None)
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.show()
    return panel


def type_folder(qtbot: Any, panel: MyTalkPanel, folder: Path) -> None:
    """What an editor does: click the render folder field, replace its text, press Enter."""
    field = panel.settings.output
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, str(folder))
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_the_panel_shows_the_default_and_remembers_a_typed_folder_for_the_clip(
        qtbot: Any, preferences: QSettings, tmp_path: Path) -> None:
    panel = open_panel(qtbot, preferences)
    try:
        assert panel.render_folder == default_renders_dir() != panel.clip.parent  # type: ignore[union-attr]
        assert panel.settings.output_row.isVisible(), "the folder is on screen, outside the scrolled form"
        assert "default" in panel.settings.output.toolTip().lower()
        type_folder(qtbot, panel, tmp_path / "renders")
        assert panel.render_folder == tmp_path / "renders"
        assert "from now on" in panel.status_line.full_text
        panel.load_clip(media_path("video", OTHER))
        assert panel.render_folder == default_renders_dir(), "another clip is another project"
        panel.load_clip(media_path("video", CLIP))
        assert panel.render_folder == tmp_path / "renders"
        assert "Remembered" in panel.settings.output.toolTip()
    finally:
        panel.shutdown()
    again = open_panel(qtbot, QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    try:
        assert again.render_folder == tmp_path / "renders", "the choice outlives the panel"
        # The commit request names that folder (the engine list is what a runtime's hello would give).
        again.settings.set_engines(["copy"])
        assert again.load_line(media_path("audio", LINE))
        again.set_range(10, 20)
        assert again.build_request(kind="commit").output == tmp_path / "renders"
    finally:
        again.shutdown()


def test_a_folder_picked_before_any_clip_goes_to_the_first_project(qtbot: Any, preferences: QSettings,
                                                                   tmp_path: Path) -> None:
    panel = open_panel(qtbot, preferences, clip=None)
    try:
        type_folder(qtbot, panel, tmp_path / "early")
        assert panel.render_folder == tmp_path / "early"
        panel.load_clip(media_path("video", OTHER))
        assert panel.render_folder == tmp_path / "early"
        assert RenderFolders(MemoryStore()).chosen(panel.project) is None
        assert panel.render_folders.chosen(media_path("video", OTHER)) == tmp_path / "early"
    finally:
        panel.shutdown()


def test_with_a_timeline_the_cut_is_the_project_for_every_clip_and_the_choice_is_kept(
        qtbot: Any, tmp_path: Path, isolated_user_dirs: Path) -> None:
    from mytalk.plugin.standalone import StandaloneWindow

    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    window = StandaloneWindow(timeline=cut, start_runtime=False)  # the user's preferences: under MYTALK_HOME
    qtbot.addWidget(window)
    try:
        dock, panel = window.timeline_dock, window.panel
        assert dock is not None and panel.project == cut
        dock.pick_clip(0)
        assert panel.render_folder == default_renders_dir()
        type_folder(qtbot, panel, tmp_path / "cut renders")
        dock.pick_clip(1)  # another clip of the same cut: same project, same folder
        assert panel.clip == media_path("video", CLIP) and panel.render_folder == tmp_path / "cut renders"
    finally:
        window.panel.shutdown()
    assert preferences_file().is_file() and preferences_file().is_relative_to(isolated_user_dirs)
    second = StandaloneWindow(timeline=cut, start_runtime=False)
    qtbot.addWidget(second)
    try:
        assert second.panel.render_folder == tmp_path / "cut renders"
        second.panel.load_clip(media_path("video", CLIP))
        assert second.panel.render_folder == tmp_path / "cut renders"
    finally:
        second.panel.shutdown()
