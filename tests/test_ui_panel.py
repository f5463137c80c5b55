"""The whole panel loop against the real runtime child process: preview with A/B, commit versions,
cancel, and a killed runtime that the panel survives and restarts."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from conftest import REPO_ROOT, media_path
from mytalk.core.engines import available_engines
from mytalk.core.jobs.commands import JobSession
from mytalk.core.jobs.request import SyncRequest
from mytalk.plugin.loader import discover, load_entry
from mytalk.ui.panel import MyTalkPanel, create_panel

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames
LINE = "jfk_inaugural_en_16k.wav"
READY_MS = 60_000
JOB_MS = 120_000


def pick_engine() -> str:
    engines = available_engines()
    return "classic" if "classic" in engines else engines[0]


@pytest.fixture
def panel(qtbot, tmp_path: Path) -> Any:  # type: ignore[no-untyped-def]
    widget = create_panel(video=media_path("video", CLIP), audio=media_path("audio", LINE))
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    widget.settings.output.setText(str(tmp_path / "renders"))
    qtbot.waitUntil(widget.runtime.is_ready, timeout=READY_MS)
    widget.settings.select_engine(pick_engine())
    yield widget
    widget.shutdown()


def wait_finished(qtbot, panel: MyTalkPanel, job_id: str) -> Any:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: panel.jobs.entries[job_id].finished, timeout=JOB_MS)
    return panel.jobs.entries[job_id]


def test_the_runtime_is_a_child_process_with_the_tests_user_folder(panel: MyTalkPanel) -> None:
    assert panel.runtime.pid() not in (None, os.getpid())
    assert panel.settings.engines() == available_engines()
    assert panel.settings.values()["engine"] == pick_engine()


def test_preview_through_the_runtime_shows_b_and_wipes_against_a(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    panel.set_range(25, 50)
    with qtbot.waitSignal(panel.previewReady, timeout=JOB_MS) as ready:
        job_id = panel.start_preview()
    assert job_id is not None
    preview = ready.args[0]
    assert (preview["start"], preview["stop"]) == (25, 50) and Path(preview["path"]).is_file()
    entry = wait_finished(qtbot, panel, job_id)
    assert entry.state == "done" and entry.output == Path(preview["path"])
    assert panel.viewer.mode == "B" and panel.viewer.shows_b and panel.transport.position == 25
    panel.set_view_mode("wipe")
    assert panel.viewer.shows_b
    qtbot.keyClick(panel, Qt.Key.Key_Backslash)
    assert panel.viewer.mode == "A"
    qtbot.keyClick(panel, Qt.Key.Key_Backslash)
    assert panel.viewer.mode == "B"
    # Outside the previewed range there is no B frame to show.
    panel.transport.seek(80)
    qtbot.waitUntil(lambda: not panel.viewer.shows_b, timeout=5000)
    assert panel.viewer.caption == "outside the preview range"


def test_commit_writes_v001_then_v002_with_sidecars(qtbot, panel: MyTalkPanel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    panel.set_range(10, 35)
    panel.nudge_frames(2)  # the line starts two frames later: audio-in -0.08 s
    committed: list[dict[str, Any]] = []
    panel.committed.connect(committed.append)
    first = panel.start_commit()
    second = panel.start_commit()
    assert first and second
    assert wait_finished(qtbot, panel, first).state == "done"
    assert wait_finished(qtbot, panel, second).state == "done"
    out = tmp_path / "renders"
    stem = f"{Path(CLIP).stem}_10-35"
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}_v001.json", f"{stem}_v001.mov",
                                                     f"{stem}_v002.json", f"{stem}_v002.mov"]
    assert [c["version"] for c in committed] == [1, 2]
    sidecar = json.loads((out / f"{stem}_v001.json").read_text())
    assert sidecar["settings"]["audio_in"] == "-0.080000s"
    assert sidecar["range"]["frames"] == 25 and sidecar["inputs"]["video"]["sha256"]
    assert panel.jobs.entries[second].message == f"wrote {stem}_v002.mov"


def test_cancel_leaves_no_files(qtbot, panel: MyTalkPanel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    panel.set_range(0, 125)
    job_id = panel.start_commit()
    assert job_id
    qtbot.waitUntil(lambda: panel.jobs.entries[job_id].state == "running", timeout=JOB_MS)
    panel.jobs.row(job_id).cancel.click()  # the job row's own Cancel button
    entry = wait_finished(qtbot, panel, job_id)
    assert entry.state == "cancelled", entry.message
    out = tmp_path / "renders"
    assert not out.exists() or list(out.iterdir()) == []
    assert not panel.banner.isVisible(), "a cancel is not an error"


def test_a_killed_runtime_is_reported_and_restarted_and_the_panel_keeps_working(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    panel.set_range(0, 125)
    job_id = panel.start_commit()
    assert job_id
    qtbot.waitUntil(lambda: panel.jobs.entries[job_id].state == "running", timeout=JOB_MS)
    old_pid = panel.runtime.pid()
    assert old_pid
    with qtbot.waitSignal(panel.runtime.restarted, timeout=READY_MS):
        os.kill(old_pid, signal.SIGKILL)
    assert panel.isVisible()
    entry = panel.jobs.entries[job_id]
    assert entry.state == "failed" and "runtime" in entry.message
    assert panel.runtime.pid() not in (None, old_pid)
    # The banner now speaks of the new runtime as running and of the old one in the past, never "crashed"
    # beside "running"; it is a note (blue), not an error, and offers no restart.
    assert panel.banner.kind == "info" and panel.banner.isVisible(), panel.banner.text
    assert panel.banner.text.startswith("The runtime was restarted and is ready (the previous one was killed")
    assert "crashed" not in panel.banner.text and not panel.banner.restart.isVisible()
    assert "runtime ready" in panel.runtime_label.text()
    # The new runtime renders.
    panel.set_range(0, 5)
    preview = panel.start_preview()
    assert preview and wait_finished(qtbot, panel, preview).state == "done"


def test_a_restart_replaces_the_crash_report_but_not_a_later_error(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The client's signals as it sends them after an unexpected exit, without a process to kill."""
    widget = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(widget)
    try:
        crash = "the MyTalk runtime exited with status 1; restarting it\nRuntimeError: boom"
        widget.runtime.crashed.emit(crash)
        assert widget.banner.kind == "error" and widget.banner.text == crash
        widget.runtime.restarted.emit()
        assert widget.banner.kind == "info"
        assert widget.banner.text == ("The runtime was restarted and is ready (the previous one exited with status 1). "
                                      "Queue the job again.")
        widget.runtime.crashed.emit(crash)
        widget.show_error("mark the range to fix first: I at the first frame, O at the last")
        widget.runtime.restarted.emit()
        assert widget.banner.kind == "error" and widget.banner.text.startswith("mark the range"), "a later error stays"
    finally:
        widget.shutdown()


def test_errors_name_what_is_missing(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(widget)
    assert widget.start_preview() is None
    assert "open a clip first" in widget.banner.text
    assert widget.load_clip(Path("/nonexistent/clip.mov")) is False
    assert "not found" in widget.banner.text
    widget.shutdown()


def test_clicking_the_face_picks_it_and_shows_the_tracked_box(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    panel.set_range(10, 35)
    qtbot.waitUntil(panel.viewer.has_picture, timeout=5000)
    target = panel.viewer.from_source(422, 397).toPoint()
    qtbot.mouseClick(panel.viewer, Qt.MouseButton.LeftButton, pos=target)
    x, y = panel.settings.face_point or (0.0, 0.0)
    assert abs(x - 422) < 3 and abs(y - 397) < 3
    request = panel.build_request()
    assert request.face is not None and request.face.split(",")[0] in {"420", "421", "422", "423", "424"}
    # With the face tracker installed the runtime answers with the subject's box around the click.
    qtbot.waitUntil(lambda: not panel.model.face.pending, timeout=JOB_MS)
    if importlib.util.find_spec("mediapipe") is not None:
        assert panel.viewer.face_boxes, "the tracker is installed, so the picked face gets its box"
        x0, y0, x1, y1 = panel.viewer.face_boxes[0]
        assert x0 < x < x1 and y0 < y < y1


def test_the_plugin_loader_opens_the_panel_and_runs_commands_from_the_manifest(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (record,) = discover([REPO_ROOT / "manifest.json"])
    assert record.ok, record.error
    widget = load_entry(record, "panel")(None, video=media_path("video", CLIP), audio=media_path("audio", LINE))
    qtbot.addWidget(widget)
    try:
        qtbot.waitUntil(widget.runtime.is_ready, timeout=READY_MS)
        assert widget.transport.frame_count == 125
    finally:
        widget.shutdown()
    session = JobSession(preview_dir=tmp_path / "previews")
    request = SyncRequest(video=media_path("video", CLIP), audio=media_path("audio", LINE), output=tmp_path,
                          in_point="0", out_point="5", engine=pick_engine())
    result = load_entry(record, "commands.preview")(session, request, lambda *a: None, lambda: False)
    assert result.frames == 5 and result.path.is_file()
    assert load_entry(record, "commands.cancel")(session, result.job_id) is False


def test_the_preview_plays_with_the_new_line_and_the_picture_follows_the_sound(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    if not panel.audio.available:
        pytest.skip(f"QtMultimedia cannot load on this machine ({panel.audio.reason}); .ci/run installs libpulse0")
    panel.set_range(25, 100)
    with qtbot.waitSignal(panel.previewReady, timeout=JOB_MS) as ready:
        job_id = panel.start_preview()
    wait_finished(qtbot, panel, job_id)
    proxy = Path(ready.args[0]["path"])
    panel.transport.seek(25)
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    # The sound is the proxy's, which carries the replacement line, not the clip's own track.
    assert panel.audio.source == proxy
    qtbot.waitUntil(lambda: panel.audio.is_playing, timeout=15_000)  # the player loads the file first
    qtbot.waitUntil(lambda: (panel.audio.position_seconds() or 0.0) > 1.0, timeout=15_000)
    heard = panel.audio.position_seconds()
    shown = panel.transport.position
    assert heard is not None
    # The picture follows the sound clock (one timer tick of slack on a loaded machine).
    fps = float(panel.transport.fps)
    assert abs((shown - 25) - heard * fps) <= 3, (shown, heard)
    assert panel.viewer.shows_b
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert not panel.audio.is_playing and panel.transport.speed == 0


def test_the_first_frame_of_a_preview_shows_at_once_while_the_rest_renders(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    panel.set_range(25, 100)
    with qtbot.waitSignal(panel.previewFirstFrame, timeout=JOB_MS) as first:
        job_id = panel.start_preview()
    assert (first.args[0]["start"], first.args[0]["stop"]) == (25, 100)
    assert panel.transport.position == 25 and panel.viewer.shows_b
    if panel.preview is None:  # the proxy is still rendering: B is the poster, and says so
        assert "rendering" in panel.viewer.caption
    entry = wait_finished(qtbot, panel, job_id)
    assert entry.state == "done" and entry.output is not None and entry.output.suffix == ".mp4"
    assert panel.poster is None and panel.preview is not None and panel.viewer.shows_b


def test_marks_are_prepared_in_the_background_and_the_preview_streams_its_frames(qtbot, panel: MyTalkPanel) -> None:  # type: ignore[no-untyped-def]
    events: list[dict[str, Any]] = []
    panel.runtime.eventReceived.connect(events.append)
    panel.set_range(25, 100)
    # The clip, the line and the marks are set: the runtime prepares that range without being asked.
    qtbot.waitUntil(lambda: panel.anticipation.preparation.job_id is not None, timeout=READY_MS)
    prepared = panel.anticipation.preparation.job_id
    qtbot.waitUntil(lambda: panel.anticipation.preparation.done, timeout=JOB_MS)
    assert any(e.get("id") == prepared and e["event"] == "done" for e in events)
    assert "Ready to preview" in panel.preview_button.toolTip()
    assert not panel.jobs.entries, "a preparation is not a job of the list"
    job_id = panel.start_preview()
    assert job_id is not None
    shown: list[int] = []
    # While the proxy renders, B shows each streamed frame on its own frame.
    qtbot.waitUntil(lambda: panel.model.preview.stream is not None or panel.jobs.entries[job_id].finished, timeout=JOB_MS)
    stream = panel.model.preview.stream
    if stream is not None and stream.ready > 1:
        panel.transport.seek(stream.start + stream.ready - 1)
        panel._render_now()
        if panel.model.preview.stream is not None:  # not replaced by the proxy in between
            shown.append(panel.transport.position)
            assert panel.viewer.shows_b and "rendering" in panel.viewer.caption
    entry = wait_finished(qtbot, panel, job_id)
    assert entry.state == "done" and panel.model.preview.stream is None and panel.preview is not None
    mine = [e for e in events if e.get("id") == job_id]
    assert [e["ready"] for e in mine if e["event"] == "preview-frames"][-1] == 75
    tracking = [e for e in mine if e["event"] == "progress" and e["stage"] == "face tracking"]
    # Opened at 0 (the count the whole-job ETA needs), then whole at once: the preview found the prepared tracking.
    assert [(e["done"], e["total"]) for e in tracking] == [(0, 75), (75, 75)], tracking
    # A new mark makes the old preparation stale: a new one is sent for the new range.
    panel.set_range(30, 100)
    qtbot.waitUntil(lambda: panel.anticipation.preparation.job_id not in (None, prepared), timeout=READY_MS)


def test_the_actor_is_learned_as_soon_as_a_clip_is_open_and_a_new_clip_cancels_the_old_learning(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Before any line or mark: learning the actor is most of a first preview's wait, and needs only the clip."""
    long_clip = media_path("video", "hdtf_wda_katiehill_512.mp4")  # 8 s: its learning is still running below
    widget = create_panel(video=long_clip)
    qtbot.addWidget(widget)
    events: list[dict[str, Any]] = []
    widget.runtime.eventReceived.connect(events.append)
    try:
        qtbot.waitUntil(widget.runtime.is_ready, timeout=READY_MS)
        widget.settings.select_engine("classic")
        qtbot.waitUntil(lambda: widget.anticipation.learning.running, timeout=READY_MS)
        first = widget.anticipation.learning.job_id
        assert widget.anticipation.preparation.job_id is None, "no line, no marks: nothing else to prepare"
        assert widget.load_clip(media_path("video", CLIP))
        qtbot.waitUntil(lambda: widget.anticipation.learning.job_id not in (None, first), timeout=READY_MS)
        second = widget.anticipation.learning.job_id
        qtbot.waitUntil(lambda: not widget.anticipation.learning.running, timeout=JOB_MS)
        answers = {e["id"]: e for e in events if e.get("event") in ("done", "error")}
        assert answers[first]["event"] == "error" and answers[first]["code"] == "JobCancelledError", answers[first]
        assert answers[second]["event"] == "done" and answers[second]["result"]["learned"] is True, answers[second]
        assert not widget.banner.isVisible() and not widget.jobs.entries, "learning is the panel's own business"
        # The line and the marks follow: their preparation finds the actor learned.
        widget.load_line(media_path("audio", LINE))
        # The picked line's phones are timed ahead too, without cancelling the actor's learning.
        qtbot.waitUntil(lambda: widget.anticipation.line_learning.job_id is not None, timeout=READY_MS)
        line_job = widget.anticipation.line_learning.job_id
        qtbot.waitUntil(lambda: not widget.anticipation.line_learning.running, timeout=JOB_MS)
        answers = {e["id"]: e for e in events if e.get("event") in ("done", "error")}
        assert answers[line_job]["event"] == "done" and answers[line_job]["result"]["line_timed"] is True, answers[line_job]
        assert answers[second]["event"] == "done"
        widget.set_range(25, 75)
        qtbot.waitUntil(lambda: widget.anticipation.preparation.done, timeout=JOB_MS)
        stages = {e["stage"] for e in events if e.get("id") == widget.anticipation.preparation.job_id and e["event"] == "progress"}
        assert not any(stage.startswith("learning") for stage in stages), stages
    finally:
        widget.shutdown()
