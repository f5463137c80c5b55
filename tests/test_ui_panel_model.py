"""The panel's Qt-free model: requests built from the editor's state, and runtime events as state
transitions. Plain pytest on plain data (no display, no qtbot); the events are made by the
runtime protocol's own constructors, so they are the shapes the real runtime sends."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import REPO_ROOT
from mytalk.core.errors import MyTalkError
from mytalk.core.jobs.commands import TrackResult
from mytalk.core.runtime import protocol
from mytalk.core.userdirs import default_renders_dir
from mytalk.ui.keymap import Command, command_for
from mytalk.ui.panel_model import JobView, PanelModel, Poster, PreviewRange, RequestInputs, build_request
from mytalk.ui.panel_model.clock import SoundClock, tick_interval_ms
from mytalk.ui.panel_model.files import drop_target, line_button_text
from mytalk.ui.panel_model.preview import OUTSIDE_CAPTION, POSTER_CAPTION
from mytalk.ui.panel_model.request import range_label
from mytalk.ui.panel_model.slip import Slip
from mytalk.ui.panel_model.status import offers_restart, restarted_message, runtime_status
from mytalk.ui.panel_model.visemes import viseme_outcome
from mytalk.ui.transport import ClipTiming, Transport
from mytalk.ui.viseme_track import TrackKey

FPS = Fraction(25)
NTSC = Fraction(30000, 1001)
QT_FREE_MODULES = [
    "mytalk.ui.panel_model",
    "mytalk.ui.panel_model.axis",
    "mytalk.ui.panel_model.clock",
    "mytalk.ui.panel_model.events",
    "mytalk.ui.panel_model.face",
    "mytalk.ui.panel_model.files",
    "mytalk.ui.panel_model.model",
    "mytalk.ui.panel_model.output",
    "mytalk.ui.panel_model.preview",
    "mytalk.ui.panel_model.request",
    "mytalk.ui.panel_model.slip",
    "mytalk.ui.panel_model.status",
    "mytalk.ui.panel_model.visemes",
    "mytalk.ui.keymap",
]


def settings_values(**overrides: Any) -> dict[str, Any]:
    """What the settings form's `values()` gives: SyncRequest keyword arguments, engine and output."""
    values: dict[str, Any] = {"engine": "copy", "motion_driver": "auto", "guide": "auto", "transcript": None,
                              "language": "en", "openness": 1.0, "smoothing": 0.5, "mask_mode": "auto",
                              "handles": 0, "codec": "prores", "output": None, "face": None}
    values.update(overrides)
    return values


@pytest.fixture
def model(tmp_path: Path) -> PanelModel:
    """A panel model over a 125-frame 25 fps clip with a line, nothing marked yet."""
    clip, line = tmp_path / "shot.mov", tmp_path / "line.wav"
    clip.write_bytes(b"")
    line.write_bytes(b"")
    transport = Transport()
    transport.set_clip(ClipTiming(125, FPS))
    panel = PanelModel(transport)
    panel.set_clip(clip)
    panel.set_line(line)
    return panel


# -- layering --------------------------------------------------------------------------------------


def test_the_model_imports_no_qt() -> None:
    code = ("import importlib, sys\n"
            f"for name in {QT_FREE_MODULES!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'cv2')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the panel model pulled in Qt or OpenCV: {result.stdout}"


# -- requests --------------------------------------------------------------------------------------


def test_a_request_carries_the_range_the_slip_the_picked_face_and_the_settings(model: PanelModel,
                                                                              tmp_path: Path) -> None:
    model.transport.set_range(10, 35)
    model.slip.nudge_frames(2, FPS)  # the line starts two frames later against the picture
    model.face.pick((422.4, 397.6))
    request = model.build_request(settings_values(output=tmp_path / "renders", handles=4, openness=1.2,
                                                  transcript="my fellow Americans"))
    assert (request.video, request.audio, request.output) == (model.clip, model.line, tmp_path / "renders")
    assert (request.in_point, request.out_point) == ("10", "35")
    assert request.audio_in == "-0.080000s"
    assert request.face == "422,398"
    assert (request.engine, request.handles, request.openness) == ("copy", 4, 1.2)
    assert request.transcript == "my fellow Americans"
    # What the runtime reads back off the wire is the same request.
    assert protocol.sync_request_from_json(protocol.sync_request_to_json(request)) == request


def test_the_marks_give_a_half_open_range_and_an_open_side_runs_to_the_clip_edge(model: PanelModel) -> None:
    model.transport.set_in(100)  # no out mark: up to the last frame
    request = model.build_request(settings_values(), kind="preview")
    assert (request.in_point, request.out_point) == ("100", "125")
    model.transport.set_out(20)  # out before in: the marks swap, both stay
    request = model.build_request(settings_values(), kind="preview")
    assert (request.in_point, request.out_point) == ("20", "101")


def test_a_preview_without_an_output_folder_names_the_default_render_folder_not_the_clips(model: PanelModel) -> None:
    model.transport.set_range(0, 5)
    output = model.build_request(settings_values(), kind="preview").output
    assert output == default_renders_dir() and output != model.clip.parent  # type: ignore[union-attr]


def test_the_face_comes_from_the_pick_not_from_the_form(model: PanelModel) -> None:
    model.transport.set_range(0, 5)
    assert model.build_request(settings_values(face="1,1"), kind="preview").face is None
    model.face.pick((640, 360))
    assert model.build_request(settings_values(), kind="preview").face == "640,360"
    model.face.clear()
    assert model.build_request(settings_values(), kind="preview").face is None


@pytest.mark.parametrize(("inputs", "values", "kind", "message"), [
    (dict(clip=None), {}, "preview", "open a clip first"),
    (dict(line=None), {}, "preview", "open the replacement line first"),
    (dict(marked=None), {}, "preview", "mark the range to fix first"),
    ({}, dict(engine=None), "preview", "no engine is available yet"),
    ({}, {}, "commit", "choose the render folder for commits"),
])
def test_a_missing_input_is_named(tmp_path: Path, inputs: dict[str, Any], values: dict[str, Any], kind: str,
                                  message: str) -> None:
    state = {"clip": tmp_path / "shot.mov", "line": tmp_path / "line.wav", "marked": (0, 10), **inputs}
    with pytest.raises(MyTalkError, match=message):
        build_request(RequestInputs(**state), settings_values(**values), kind=kind)


def test_readiness_and_the_track_key_follow_clip_line_range_and_slip(model: PanelModel) -> None:
    assert not model.ready() and model.track_key() is None
    model.transport.set_range(25, 50)
    assert model.ready()
    key = model.track_key()
    assert key == TrackKey(str(model.clip), str(model.line), 25, 50, Fraction(0))
    model.slip.nudge(Fraction(1, 100))
    assert model.track_key() != key and model.track_key().audio_in == Fraction(-1, 100)  # type: ignore[union-attr]


def test_a_job_label_shows_the_out_mark_inclusive() -> None:
    transport = Transport()
    transport.set_clip(ClipTiming(125, FPS))
    assert range_label("preview", 25, 50, transport.timecode) == "Preview 00:00:01:00 – 00:00:01:24  (25 fr)"


# -- the slip --------------------------------------------------------------------------------------


def test_frame_nudges_at_29_97_stay_exact_and_read_as_the_editor_means_them() -> None:
    slip = Slip()
    for _ in range(3):
        slip.nudge_frames(1, NTSC)
    assert slip.audio_in == Fraction(-3 * 1001, 30000)
    assert slip.request_text() == "-0.100100s"
    assert slip.label(NTSC) == "+100 ms (+3.00 fr)"
    slip.nudge(Fraction(-10, 1000))
    assert slip.label(FPS) == "+90 ms (+2.25 fr)"
    assert slip.reset() == 0 and slip.label(FPS) == "+0 ms (+0.00 fr)"
    assert slip.set(Fraction(1, 25)) and not slip.set(Fraction(1, 25))


# -- runtime events ----------------------------------------------------------------------------------


def test_a_track_answer_draws_the_box_on_its_frame_only(model: PanelModel) -> None:
    model.face.pick((422, 397))
    fields = model.face.track_fields(model.clip, 40)
    assert fields == {"video": str(model.clip), "start": 40, "stop": 41, "face": "422,397"}
    model.face.sent("t1")
    progress = model.on_event(protocol.progress_event("t1", 0, 1, "track", None), None)
    assert progress.face_box is None and not progress.job and model.face.owns("t1")
    frames = [{"index": 40, "found": True, "box": [380.0, 330.0, 470.0, 450.0], "landmarks": 478}]
    done = model.on_event(protocol.done_event("t1", TrackResult("t1", 40, 41, frames).to_dict()), None)
    assert done.face_box == (380.0, 330.0, 470.0, 450.0) and not model.face.pending
    assert not model.face.drop_box_off(40)
    assert model.face.drop_box_off(41) and model.face.box is None
    assert not model.face.drop_box_off(40), "a dropped box does not come back"


def test_a_track_without_a_face_or_a_tracker_keeps_the_point_and_draws_nothing(model: PanelModel) -> None:
    model.face.pick((10, 10))
    model.face.sent("t1")
    model.face.sent("t2")
    nothing = [{"index": 3, "found": False, "box": None, "landmarks": 0}]
    assert model.on_event(protocol.done_event("t1", TrackResult("t1", 3, 4, nothing).to_dict()), None).face_box is None
    failed = model.on_event(protocol.error_event("t2", "face tracking is not installed", "NotInstalledError"), None)
    assert failed.face_box is None and failed.error is None and not model.face.pending
    assert model.face.point == (10.0, 10.0)


def test_an_event_for_no_known_request_shows_only_its_error(model: PanelModel) -> None:
    error = model.on_event(protocol.error_event("p1", "request line is not JSON", "ProtocolError"), None)
    assert error.error == "request line is not JSON" and not error.job
    assert model.on_event(protocol.done_event("p2", {}), None).error is None


def test_a_preview_shows_its_poster_then_its_proxy(model: PanelModel, tmp_path: Path) -> None:
    model.transport.set_range(25, 100)
    request = model.build_request(settings_values(), kind="preview")
    model.job_sent("j1", request)
    job = JobView("preview")
    running = model.on_event(protocol.progress_event("j1", 3, 75, "render", 1.5), job)
    assert running.job and not (running.poster or running.proxy) and running.visemes is None

    poster_event = protocol.preview_poster_event("j1", tmp_path / "a_25-100_j1.first.png", 25, 100)
    reaction = model.on_event(poster_event, job)
    assert reaction.poster and not reaction.proxy
    image = np.zeros((4, 6, 3), np.uint8)
    poster = model.preview.show_poster(Poster.from_event(reaction.event, image))
    assert poster.as_dict() == {"start": 25, "stop": 100, "id": "j1"}
    b = model.preview.b_frame(25)
    assert b.poster is poster and b.proxy_index is None and b.caption == POSTER_CAPTION
    assert model.preview.b_frame(26).poster is None and model.preview.b_frame(26).caption == ""

    proxy_path = tmp_path / "a_25-100_j1.mp4"
    ready = model.on_event(protocol.preview_ready_event("j1", proxy_path, {"start": 25, "stop": 100, "frames": 75}),
                           job)
    assert ready.proxy and not ready.poster
    proxy = model.preview.take_proxy(PreviewRange.from_event(ready.event))
    assert model.preview.poster is None
    assert proxy.as_dict() == {"path": str(proxy_path), "start": 25, "stop": 100, "id": "j1"}
    assert model.preview.b_frame(30).proxy_index == 5 and model.preview.b_frame(30).caption == ""
    assert model.preview.b_frame(100).proxy_index is None and model.preview.b_frame(100).caption == OUTSIDE_CAPTION
    # Sound inside the range is the proxy's (it carries the new line); outside, the clip's own.
    assert model.sound_source(50) == (proxy_path, 1.0)
    assert model.sound_source(10) == (model.clip, 0.4)

    done = model.on_event(protocol.done_event("j1", {"path": str(proxy_path), "start": 25, "stop": 100}), job)
    assert done.committed is None and done.visemes is not None
    key, result = done.visemes
    assert key == TrackKey(str(model.clip), str(model.line), 25, 100, Fraction(0)) and result["start"] == 25
    assert "j1" not in model.job_keys


def test_a_failed_or_cancelled_preview_takes_its_poster_off_b(model: PanelModel, tmp_path: Path) -> None:
    for job_id, code in (("j1", "JobCancelledError"), ("j2", "EngineError")):
        model.on_event(protocol.preview_poster_event(job_id, tmp_path / "p.png", 0, 10), JobView("preview"))
        model.preview.show_poster(Poster(np.zeros((2, 2, 3), np.uint8), 0, 10, job_id))
        other = model.on_event(protocol.error_event("other", "no", code), JobView("preview"))
        assert not other.poster_dropped and model.preview.poster is not None
        reaction = model.on_event(protocol.error_event(job_id, "stopped", code), JobView("preview"))
        assert reaction.poster_dropped and model.preview.poster is None
        assert model.preview.b_frame(0).poster is None


def test_a_crash_error_gets_the_frame_of_the_last_progress_event(model: PanelModel) -> None:
    # As RuntimeClient reports each open request when the runtime dies: no frame, code RuntimeCrashed.
    crash = protocol.error_event("j1", "commit stopped: the MyTalk runtime crashed", "RuntimeCrashed") | {"v": 1}
    reaction = model.on_event(crash, JobView("commit", current_frame=57))
    assert reaction.event["frame"] == 57 and reaction.event["code"] == "RuntimeCrashed"
    assert crash["frame"] is None, "the runtime's own event is left as it came"
    named = model.on_event(protocol.error_event("j2", "bad frame", "MediaFormatError", 12), JobView("commit", 57))
    assert named.event["frame"] == 12
    before = model.on_event(protocol.error_event("j3", "no engine", "NotInstalledError"), JobView("commit"))
    assert before.event["frame"] is None


def test_a_finished_commit_hands_its_result_to_the_host(model: PanelModel, tmp_path: Path) -> None:
    model.transport.set_range(10, 35)
    model.job_sent("j1", model.build_request(settings_values(output=tmp_path)))
    result = {"output": str(tmp_path / "shot_10-35_v001.mov"), "sidecar": str(tmp_path / "shot_10-35_v001.json"),
              "version": 1}
    reaction = model.on_event(protocol.done_event("j1", result), JobView("commit"))
    assert reaction.committed == result and reaction.visemes is not None and reaction.visemes[1] == result
    assert model.on_event(protocol.done_event("j9", result), JobView("preview")).committed is None


# -- visemes of a finished job ---------------------------------------------------------------------


def test_a_commit_draws_the_visemes_of_its_sidecar_and_a_stale_result_says_nothing(tmp_path: Path) -> None:
    key = TrackKey("a.mov", "b.wav", 25, 30, Fraction(0))
    frames = [{"index": 25 + i, "face_found": True, "viseme": v} for i, v in enumerate(["closed"] * 2 + ["open"] * 3)]
    sidecar = tmp_path / "a_25-30_v001.json"
    sidecar.write_text(json.dumps({"frames": frames, "engine": {"name": "classic"}}))
    drawn = viseme_outcome("commit", key, {"sidecar": str(sidecar)}, FPS, key)
    assert drawn.track is not None and [r.viseme for r in drawn.track.runs] == ["closed", "open"]
    none = {"report": {"frames": [{"index": 25}], "engine": {"name": "copy"}}}
    assert viseme_outcome("preview", key, none, FPS, key).empty_text == "The last preview reported no visemes (engine copy)"
    slipped = TrackKey("a.mov", "b.wav", 25, 30, Fraction(1, 25))
    assert viseme_outcome("preview", key, none, FPS, slipped) == viseme_outcome("preview", key, {}, FPS, None)
    assert viseme_outcome("commit", key, {"sidecar": str(tmp_path / "gone.json")}, FPS, key).empty_text == (
        "The last commit reported no visemes")


# -- keys, clock, files, status --------------------------------------------------------------------


@pytest.mark.parametrize(("key", "mods", "command"), [
    ("I", {}, Command("set_in")),
    ("I", {"alt": True}, Command("clear_in")),
    ("O", {"shift": True}, Command("set_out")),
    ("X", {"alt": True}, Command("clear_marks")),
    ("X", {}, None),
    ("K", {}, Command("press_k")),
    ("K", {"auto_repeat": True}, Command("none")),
    ("Left", {}, Command("step", -1)),
    ("Right", {"shift": True}, Command("step_seconds", 1)),
    ("Comma", {}, Command("nudge_frames", -1)),
    ("Period", {"shift": True}, Command("nudge_ms", 10)),
    ("Less", {"shift": True}, Command("nudge_ms", -10)),
    ("Backslash", {}, Command("toggle_ab")),
    ("Bar", {"shift": True}, Command("wipe")),
    ("P", {}, Command("preview")),
    ("P", {"control": True}, None),
    ("Space", {"control": True}, None),
    ("Q", {}, None),
])
def test_the_key_map(key: str, mods: dict[str, bool], command: Command | None) -> None:
    assert command_for(key, **mods) == command


def test_every_transport_command_names_a_transport_method() -> None:
    from mytalk.ui.keymap import BINDINGS

    panel_verbs = {"none", "step", "step_seconds", "nudge_frames", "nudge_ms", "toggle_ab", "wipe", "preview"}
    for binding in BINDINGS:
        assert binding.command.name in panel_verbs or callable(getattr(Transport, binding.command.name, None)), binding


def test_the_picture_follows_the_sound_clock() -> None:
    clock = SoundClock(origin_frame=25, origin_s=0.0)
    assert clock.frame_at(1.0, FPS) == 50 and clock.frame_at(1.039, FPS) == 50 and clock.frame_at(1.04, FPS) == 51
    assert SoundClock(300, 2.0).frame_at(3.0, NTSC) == 329
    assert (tick_interval_ms(FPS), tick_interval_ms(NTSC), tick_interval_ms(Fraction(5000))) == (40, 33, 1)


@pytest.mark.parametrize(("name", "has_clip", "alt", "target"), [
    ("line.wav", False, False, "line"),
    ("line.M4A", True, False, "line"),
    ("shot.mov", False, True, "clip"),
    ("shot.mov", True, False, "clip"),
    ("shot.mp4", True, True, "line"),
    ("notes.txt", True, True, None),
])
def test_a_dropped_file_opens_as_clip_or_line(name: str, has_clip: bool, alt: bool, target: str | None) -> None:
    assert drop_target(Path(name), has_clip=has_clip, alt=alt) == target


def test_long_line_names_are_shortened_on_the_button() -> None:
    assert line_button_text(Path("/a/line.wav")) == "Line: line.wav"
    assert line_button_text(Path("/a/" + "x" * 40 + ".wav")) == "Line: " + "x" * 25 + "…"


def test_the_runtime_status_and_the_banner_after_a_restart() -> None:
    assert runtime_status("ready", {"mytalk": "0.1.0"}) == ("#57ab5a", "runtime ready · MyTalk 0.1.0")
    assert runtime_status("starting", None) == ("#c69026", "runtime starting…")
    assert runtime_status("crashed", None) == ("#e5534b", "runtime stopped")
    crash = "the MyTalk runtime crashed (killed by a signal); restarting it\nTraceback (most recent call last):"
    assert not offers_restart(crash)
    assert offers_restart("the MyTalk runtime exited with status 1; press Restart runtime to try again")
    assert restarted_message(crash) == ("The runtime was restarted and is ready (the previous one was killed by a "
                                        "signal). Queue the job again.")


@pytest.mark.parametrize(("crash", "fate"), [
    ("the MyTalk runtime crashed (killed by a signal); restarting it\nTraceback (most recent call last):",
     "the previous one was killed by a signal"),
    ("the MyTalk runtime exited with status 3; restarting it", "the previous one exited with status 3"),
    ("the runtime could not start (/usr/bin/python -m mytalk.core.runtime): No such file; restarting it",
     "the previous one could not start"),
    ("something else entirely", "the previous one stopped"),
])
def test_the_banner_after_a_restart_never_says_crashed_and_running_together(crash: str, fate: str) -> None:
    message = restarted_message(crash)
    assert message == f"The runtime was restarted and is ready ({fate}). Queue the job again."
    assert "crashed" not in message and "restarting it" not in message and "Traceback" not in message


def test_the_panels_preparations_are_its_own_business_even_once_superseded() -> None:
    from mytalk.ui.panel_model.prepare import Preparation

    prep = Preparation()
    first = {"video": "/a.mov", "audio": "/l.wav", "in_point": "0", "out_point": "25"}
    second = {**first, "out_point": "50"}
    assert prep.due(first)
    prep.sent("r1", first)
    assert not prep.due(first) and prep.status(first) == "Preparing the marked range…"
    assert prep.stale(first) is None and prep.stale(second) == "r1" and prep.stale(None) == "r1"
    prep.sent("r2", second)  # r1 was cancelled: its answer comes later and must not be shown as an error
    assert prep.owns("r1") and prep.owns("r2")
    assert prep.finished("r1", ok=False) is False and not prep.owns("r1")
    assert prep.running and prep.status(second) == "Preparing the marked range…"
    assert prep.finished("r2", ok=True) and prep.status(second) == "Ready to preview" and not prep.owns("r2")
    prep.covered(first)  # a preview of `first` was sent: it fills the caches itself
    assert not prep.due(first) and prep.due(second)


def _video(**changes: Any) -> Any:
    from dataclasses import replace

    from mytalk.core.media.probe import VideoStreamInfo

    base = VideoStreamInfo(index=0, codec="h264", profile=None, width=1440, height=1080, fps=Fraction(25),
                           time_base=Fraction(1, 25), start_pts=0, frame_count=250, duration_s=10.0,
                           pix_fmt="yuv420p", bit_depth=8, color_range=None, color_space=None, color_primaries=None,
                           color_trc=None, rotation=0, start_timecode=None, is_vfr=False, has_b_frames=False)
    return replace(base, **changes)


def test_the_clip_line_names_size_shown_size_fields_matte_rate_and_frames() -> None:
    from mytalk.ui.panel_model.files import clip_summary

    assert clip_summary("a.mov", _video(), "25 NDF") == "a.mov   1440×1080   25 NDF   250 frames"
    hdv = _video(sample_aspect=Fraction(4, 3), field_order="tb")
    assert clip_summary("hdv.m2t", hdv, "25 NDF", (1920, 1080)) == ("hdv.m2t   1440×1080 (shown 1920×1080) interlaced, lower field "
                                                     "first   25 NDF   250 frames")
    phone = _video(width=1920, height=1080, rotation=90, pix_fmt="yuva444p10le")
    assert clip_summary("p.mov", phone, "30 NDF", (1080, 1920)).startswith("p.mov   1920×1080 (shown 1080×1920), with alpha   ")
    cut = _video(frame_count=90, listed_frames=250)
    assert clip_summary("c.mp4", cut, "25 NDF").endswith("   90 frames of 250 listed (cut short)")
    cut_stream = _video(frame_count=90, ends_mid_packet=True)  # a transport stream lists no length
    assert clip_summary("c.mts", cut_stream, "25 NDF").endswith("   90 frames (cut short)")
