"""The DaVinci Resolve adapter against `fake_resolve`, a FAKE of exactly the documented scripting
calls (Resolve cannot run here). The renders placed back are real commits of a shared clip."""

from __future__ import annotations

import ast
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from fake_resolve import FakeResolve, FakeTimeline, resolve_with_clip
from test_ui_transport import write_ntsc_clip

from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.core.errors import MediaNotFoundError, RangeError, UsageError
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.plugin.hosts import HostError
from mytalk.plugin.hosts.resolve import ResolveHost, install_launcher, launcher_source, parse_frame_rate

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames
LINE = "jfk_inaugural_en_16k.wav"


def pick_engine() -> str:
    engines = available_engines()
    return "classic" if "classic" in engines else engines[0]


def commit(shot: Any, out: Path) -> dict[str, Any]:
    request = SyncRequest(video=shot.video, audio=media_path("audio", LINE), output=out, engine=pick_engine(),
                          in_point=str(shot.source_start), out_point=str(shot.source_stop))
    return commands.commit(commands.JobSession(preview_dir=out / "previews"), request).to_dict()


def test_reads_marks_current_clip_and_rate_through_the_documented_calls() -> None:
    fake = resolve_with_clip(media_path("video", CLIP))
    assert fake.timeline is not None
    fake.timeline.marks = {"video": {"in": 60, "out": 84}, "audio": {"in": 60, "out": 84}}
    shot = ResolveHost(fake).current_shot()
    # Item at 90050 shows source frame 20; marks 60-84 (inclusive) from the start at 90000.
    assert (shot.source_start, shot.source_stop, shot.record_start) == (30, 55, 60)
    assert shot.record_timecode == "01:00:02:10" and shot.record_fps == Fraction(25)
    assert shot.video == media_path("video", CLIP)
    assert fake.methods_called() == [
        "GetProjectManager", "GetCurrentProject", "GetCurrentTimeline", "GetSetting", "GetSetting",
        "GetStartFrame", "GetCurrentVideoItem", "GetMediaPoolItem", "GetClipProperty", "GetStart", "GetEnd",
        "GetMarkInOut", "GetLeftOffset", "GetName", "GetName"]


def test_without_marks_the_whole_current_clip_is_the_shot() -> None:
    shot = ResolveHost(resolve_with_clip(media_path("video", CLIP))).current_shot()
    assert (shot.source_start, shot.source_stop, shot.record_start) == (20, 100, 50)


def test_result_is_imported_placed_on_a_new_track_at_the_record_frame_and_marked(tmp_path: Path) -> None:
    fake = resolve_with_clip(media_path("video", CLIP))
    assert fake.timeline is not None
    fake.timeline.marks = {"video": {"in": 60, "out": 84}}
    host = ResolveHost(fake)
    shot = host.current_shot()
    result = commit(shot, tmp_path / "renders")
    fake.calls.clear()
    placement = host.place_result(shot, result)
    assert placement.description == "placed on V2 at 01:00:02:10 in Resolve, with the shot's grade and framing"
    conversation = [(method, args) for _, method, args in fake.calls]
    assert ("ImportMedia", ([{"FilePath": result["output"]}],)) in conversation
    assert ("AddTrack", ("video",)) in conversation
    append = next(args[0][0] for method, args in conversation if method == "AppendToTimeline")
    assert {k: v for k, v in append.items() if k != "mediaPoolItem"} == {
        "startFrame": 0, "endFrame": 24, "mediaType": 1, "trackIndex": 2, "recordFrame": 90060}
    placed = fake.timeline.video_tracks[1][0]
    assert (placed.start, placed.end) == (90060, 90085), "same record time as the marked range"
    marker = placed.markers[0]
    assert (marker.frame, marker.color, marker.name, marker.duration) == (0, "Purple", "MyTalk v001", 1)
    provenance = json.loads(marker.custom_data)["mytalk"]
    assert provenance["render"] == result["output"] and provenance["sidecar"] == result["sidecar"]
    assert provenance["source_range"] == [30, 55]
    assert fake.timeline.video_tracks[0][0].start == 90050, "the original clip is untouched"


def test_the_fix_takes_the_shots_grade_and_inspector_settings(tmp_path: Path) -> None:
    """The fix is rendered from the ungraded, unframed source: it gets the shot's grade (CopyGrades) and the
    Inspector's transform, crop and composite (SetProperty), but not its retime or dynamic zoom."""
    fake = resolve_with_clip(media_path("video", CLIP))
    assert fake.timeline is not None
    fake.timeline.marks = {"video": {"in": 60, "out": 84}}
    shot_item = fake.timeline.video_tracks[0][0]
    look = {"ZoomX": 1.25, "ZoomY": 1.25, "Pan": 40.0, "Tilt": -12.5, "CropBottom": 12.0, "Opacity": 85.0,
            "FlipX": True, "CompositeMode": 4}
    shot_item.properties.update({**look, "DynamicZoomEase": 2, "RetimeProcess": 3})
    shot_item.grade = "warm day, lifted blacks"
    host = ResolveHost(fake)
    shot = host.current_shot()
    result = commit(shot, tmp_path / "renders")
    placement = host.place_result(shot, result)
    placed = fake.timeline.video_tracks[1][0]
    assert placed.grade == "warm day, lifted blacks"
    assert {key: placed.properties[key] for key in look} == look
    assert (placed.properties["DynamicZoomEase"], placed.properties["RetimeProcess"]) == (0, 0), "frames one to one"
    assert placement.description.endswith("in Resolve, with the shot's grade and framing")

    # Resolve refusing the grade is said, with where to do it by hand; so is a setting it refuses.
    shot_item.grades_copy = False
    shot_item.properties["Sharpness"] = 0.4  # not an Inspector key MyTalk copies: never asked for
    placement = host.place_result(shot, result)
    assert placement.description.endswith("; not copied from the shot: its grade (copy it on the Color page)")
    assert fake.timeline.video_tracks[2][0].grade is None
    assert "Sharpness" not in fake.timeline.video_tracks[2][0].properties


def test_a_fix_of_a_clip_the_host_did_not_read_says_its_look_was_not_copied(tmp_path: Path) -> None:
    fake = resolve_with_clip(media_path("video", CLIP))
    host = ResolveHost(fake)
    shot = host.current_shot()
    result = commit(shot, tmp_path / "renders")
    placement = ResolveHost(fake).place_result(shot, result)  # a new host: the panel restarted since the shot
    assert placement.description.endswith("; the shot's grade and Inspector settings were not copied (its clip was "
                                          "not read): copy them")


def test_drop_frame_timeline_reports_drop_frame_record_timecode(tmp_path: Path) -> None:
    clip = write_ntsc_clip(tmp_path / "ntsc.mov", 40, "00:00:00;00")
    start = 107892  # 01:00:00;00 at 29.97 drop-frame
    fake = resolve_with_clip(clip, fps="29.97", drop_frame=True, start_frame=start, record_start=start + 1800,
                             left_offset=0, frames=40)
    shot = ResolveHost(fake).current_shot()
    assert shot.record_fps == Fraction(30000, 1001)
    assert shot.record_timecode == "01:01:00;02"


@pytest.mark.parametrize(
    ("text", "rate"),
    [("23.976", Fraction(24000, 1001)), ("29.97", Fraction(30000, 1001)), ("29.97 DF", Fraction(30000, 1001)),
     ("25", Fraction(25)), ("59.94", Fraction(60000, 1001)), (24, Fraction(24))],
)
def test_frame_rate_settings_become_exact_rates(text: Any, rate: Fraction) -> None:
    assert parse_frame_rate(text) == rate


def test_errors_say_what_to_do_in_resolve(tmp_path: Path) -> None:
    with pytest.raises(HostError, match="External scripting"):
        ResolveHost(None)
    with pytest.raises(HostError, match="no timeline is open"):
        ResolveHost(FakeResolve(None)).current_shot()
    offline = resolve_with_clip(tmp_path / "gone.mov")
    with pytest.raises(MediaNotFoundError, match="offline"):
        ResolveHost(offline).current_shot()
    outside = resolve_with_clip(media_path("video", CLIP))
    assert outside.timeline is not None
    outside.timeline.marks = {"video": {"in": 500, "out": 510}}
    with pytest.raises(RangeError, match="do not cover"):
        ResolveHost(outside).current_shot()
    wrong_rate = resolve_with_clip(media_path("video", CLIP), fps="29.97")
    with pytest.raises(UsageError, match="25.000 fps in a 29.970 fps timeline"):
        ResolveHost(wrong_rate).current_shot()
    empty = FakeResolve(FakeTimeline([], "Empty", "25", False, 0))
    with pytest.raises(HostError, match="park the playhead"):
        ResolveHost(empty).current_shot()


def test_the_fake_refuses_undocumented_calls() -> None:
    fake = resolve_with_clip(media_path("video", CLIP))
    with pytest.raises(AttributeError):
        fake.GetProjectManager().GetCurrentProject().GetCurrentTimeline().GetItemListInTrack("video", 1)  # type: ignore[union-attr]


def test_launcher_is_filled_with_the_interpreter_and_installs_into_the_scripts_folder(tmp_path: Path) -> None:
    source = launcher_source("/opt/mytalk/bin/python")
    assert '"/opt/mytalk/bin/python"' in source and "@MYTALK_PYTHON@" not in source
    ast.parse(source)
    target = install_launcher(tmp_path / "Scripts" / "Utility", python="/opt/mytalk/bin/python")
    assert target.name == "MyTalk.py" and target.read_text() == source
    import mytalk.resources.resolve_launcher as launcher  # importing it starts nothing

    assert launcher.MYTALK_PYTHON
