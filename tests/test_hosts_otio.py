"""Timeline round trips: a cut built with OpenTimelineIO around a shared clip, written as .otio and
as a CMX 3600 EDL; a clip is picked by record range, mapped to source frames, committed, and a new
timeline version carries the fix on a new track at the same record time. The cut is untouched."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from opentimelineio import opentime

import media_factory as mf
from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.core.errors import UsageError
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media import probe
from mytalk.plugin.hosts import attach
from mytalk.plugin.hosts.otio_timeline import FIX_TRACK_NAME, OtioTimeline

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames
OTHER = "hdtf_wda_katiehill_512.mp4"  # 25 fps, 200 frames
LINE = "jfk_inaugural_en_16k.wav"
RATE = 25.0


def pick_engine() -> str:
    engines = available_engines()
    return "classic" if "classic" in engines else engines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_cut(*, with_available_range: bool = True) -> otio.schema.Timeline:
    """V1: 50 frames of another clip, then frames 20-100 of CLIP at record 50-130; starts at 01:00:00:00."""
    timeline = otio.schema.Timeline(name="CUT", global_start_time=opentime.from_timecode("01:00:00:00", RATE))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for name, file, first, frames, total in (("intro", OTHER, 0, 50, 200), ("swalwell", CLIP, 20, 80, 125)):
        available = opentime.TimeRange(opentime.RationalTime(0, RATE), opentime.RationalTime(total, RATE))
        reference = otio.schema.ExternalReference(target_url=str(media_path("video", file)),
                                                  available_range=available if with_available_range else None)
        track.append(otio.schema.Clip(name=name, media_reference=reference, source_range=opentime.TimeRange(
            opentime.RationalTime(first, RATE), opentime.RationalTime(frames, RATE))))
    return timeline


def commit_shot(shot: Any, out: Path) -> dict[str, Any]:
    session = commands.JobSession(preview_dir=out / "previews")
    request = SyncRequest(video=shot.video, audio=media_path("audio", LINE), output=out, engine=pick_engine(),
                          in_point=str(shot.source_start), out_point=str(shot.source_stop))
    return commands.commit(session, request).to_dict()


def fix_track(timeline: otio.schema.Timeline) -> otio.schema.Track:
    tracks = [t for t in timeline.video_tracks() if t.name == FIX_TRACK_NAME]
    assert len(tracks) == 1, [t.name for t in timeline.video_tracks()]
    return tracks[0]


def test_clips_are_listed_with_record_ranges_and_picked_by_record_range(tmp_path: Path) -> None:
    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    host = OtioTimeline(cut)
    assert host.fps == Fraction(25) and host.record_offset == 90000
    clips = host.clips()
    assert [(c.name, c.record_start, c.record_stop) for c in clips] == [("intro", 0, 50), ("swalwell", 50, 130)]
    # A range that straddles the cut picks the clip with most overlap and is clipped to it.
    shot = host.shot(45, 85)
    assert (shot.name, shot.source_start, shot.source_stop, shot.record_start) == ("swalwell", 20, 55, 50)
    assert shot.record_timecode == "01:00:02:00"
    assert host.parse_record("01:00:02:10") == 60
    assert host.shot(host.parse_record("01:00:02:10"), host.parse_record("01:00:03:10")).source_start == 30


def test_otio_round_trip_through_the_panel_writes_a_new_version_with_the_fix_on_a_new_track(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mytalk.ui.panel import create_panel

    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    before = digest(cut)
    host = OtioTimeline(cut)
    shot = host.shot(60, 85)  # record 60-85 = CLIP frames 30-55
    assert (shot.source_start, shot.source_stop) == (30, 55)

    panel = create_panel(audio=media_path("audio", LINE))
    qtbot.addWidget(panel)
    try:
        attach(panel, host, shot)
        assert panel.clip == media_path("video", CLIP) and panel.transport.range() == (30, 55)
        panel.settings.output.setText(str(tmp_path / "renders"))
        qtbot.waitUntil(panel.runtime.is_ready, timeout=60_000)
        panel.settings.select_engine(pick_engine())
        with qtbot.waitSignal(panel.committed, timeout=120_000) as committed:
            job_id = panel.start_commit()
        assert committed.args[0]["version"] == 1
        assert "CUT_mytalk_v001.otio" in panel.jobs.entries[job_id].message
    finally:
        panel.shutdown()

    assert digest(cut) == before, "the cut's own file is never written"
    version = tmp_path / "CUT_mytalk_v001.otio"
    timeline = otio.adapters.read_from_file(str(version))
    assert timeline.global_start_time == opentime.from_timecode("01:00:00:00", RATE)
    assert [t.name for t in timeline.video_tracks()] == ["V1", FIX_TRACK_NAME]
    fixes = [item for item in fix_track(timeline) if isinstance(item, otio.schema.Clip)]
    assert len(fixes) == 1
    fix = fixes[0]
    assert fix.range_in_parent() == opentime.TimeRange(opentime.RationalTime(60, RATE), opentime.RationalTime(25, RATE))
    render = Path(fix.media_reference.target_url)
    assert render == tmp_path / "renders" / f"{Path(CLIP).stem}_30-55_v001.mov" and render.is_file()
    assert list(fix.metadata["mytalk"]["source_range"]) == [30, 55]
    assert fix.metadata["mytalk"]["sidecar"].endswith("_v001.json")


def test_a_second_fix_makes_v002_holding_both(tmp_path: Path) -> None:
    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    host = OtioTimeline(cut)
    first, second = host.shot(0, 10), host.shot(100, 110)
    host.place_result(first, commit_shot(first, tmp_path / "renders"))
    placement = host.place_result(second, commit_shot(second, tmp_path / "renders"))
    assert placement.timeline_file == tmp_path / "CUT_mytalk_v002.otio"
    assert placement.description.endswith("at 01:00:04:00 in CUT_mytalk_v002.otio")
    timeline = otio.adapters.read_from_file(str(placement.timeline_file))
    starts = [c.range_in_parent().start_time.value for c in fix_track(timeline) if isinstance(c, otio.schema.Clip)]
    assert starts == [0, 100]


def test_edl_round_trip_maps_source_timecode_and_writes_otio_and_an_edl_of_the_fixes(tmp_path: Path) -> None:
    cut = tmp_path / "CUT.edl"
    otio.adapters.write_to_file(build_cut(with_available_range=False), str(cut), adapter_name="cmx_3600")
    before = digest(cut)
    host = OtioTimeline(cut)
    assert host.fps == Fraction(25), "the EDL's rate comes from its media"
    shot = host.shot(70, 95)
    assert (shot.name, shot.source_start, shot.source_stop) == ("swalwell", 40, 65)
    result = commit_shot(shot, tmp_path / "renders")
    placement = host.place_result(shot, result)
    assert digest(cut) == before
    assert sorted(p.name for p in tmp_path.glob("CUT_mytalk_*")) == ["CUT_mytalk_v001.edl", "CUT_mytalk_v001.otio"]
    timeline = otio.adapters.read_from_file(str(placement.timeline_file))
    clip = next(c for c in fix_track(timeline) if isinstance(c, otio.schema.Clip))
    assert clip.range_in_parent().start_time.value == 70
    fixes_edl = otio.adapters.read_from_file(str(tmp_path / "CUT_mytalk_v001.edl"), rate=RATE)
    edl_clip = next(iter(fixes_edl.find_clips()))
    assert edl_clip.media_reference.target_url == result["output"]
    assert edl_clip.source_range.duration.value == 25


def test_an_edl_starting_at_one_hour_keeps_its_record_timecode(tmp_path: Path) -> None:
    clip = media_path("video", CLIP)
    cut = tmp_path / "REEL1.edl"
    cut.write_text(
        "TITLE: REEL1\nFCM: NON-DROP FRAME\n\n"
        "001  SWAL     V     C        00:00:00:20 00:00:04:00 01:00:10:00 01:00:13:05\n"
        f"* FROM CLIP NAME:  swalwell\n* FROM CLIP: {clip}\n"
    )
    host = OtioTimeline(cut)
    assert host.parse_record("01:00:10:00") == 0, "record frames count from the cut's first event"
    shot = host.shot(host.parse_record("01:00:11:00"), host.parse_record("01:00:12:00"))
    assert (shot.source_start, shot.source_stop, shot.record_timecode) == (45, 70, "01:00:11:00")
    placement = host.place_result(shot, commit_shot(shot, tmp_path / "renders"))
    text = (tmp_path / "REEL1_mytalk_v001.edl").read_text()
    assert "01:00:11:00 01:00:12:00" in text, text
    assert placement.description.endswith("at 01:00:11:00 in REEL1_mytalk_v001.otio")


def test_fcp_xml_cut_gets_an_xml_version_too(tmp_path: Path) -> None:
    cut = tmp_path / "CUT.xml"
    otio.adapters.write_to_file(build_cut(), str(cut), adapter_name="fcp_xml")
    host = OtioTimeline(cut)
    shot = host.shot(50, 60)
    assert (shot.source_start, shot.source_stop) == (20, 30)
    host.place_result(shot, commit_shot(shot, tmp_path / "renders"))
    xml_version = otio.adapters.read_from_file(str(tmp_path / "CUT_mytalk_v001.xml"))
    assert len(xml_version.video_tracks()) == 2


def test_a_range_with_no_clip_is_refused(tmp_path: Path) -> None:
    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    with pytest.raises(IndexError, match="no video clip"):
        OtioTimeline(cut).shot(500, 510)


@pytest.mark.parametrize("name, text, says", [
    ("broken.otio", "not json", "cannot be read as otio_json"),
    ("empty.otio", "", "cannot be read as otio_json"),
    ("dictionary.otio", "{}", "holds no timeline"),
    ("list.otio", "[1, 2]", "holds no timeline"),
    ("clip.otio", '{"OTIO_SCHEMA": "Clip.2", "name": "x"}', "cannot be read as otio_json"),
    ("broken.xml", "<xmeml", "cannot be read as fcp_xml"),
    ("other.xml", '<?xml version="1.0"?><foo/>', "cannot be read as fcp_xml"),
    ("broken.edl", "garbage\n001 AX V C 00:00:00:00\n", "cannot be read as cmx_3600"),
])
def test_a_damaged_cut_is_a_usage_error_naming_the_file(tmp_path: Path, name: str, text: str, says: str) -> None:
    """Each adapter reports damage its own way (a JSON syntax error is a ValueError, an OTIO object missing
    a field a KeyError, broken XML a ParseError): all are one line naming the file, never an internal error."""
    cut = tmp_path / name
    cut.write_text(text)
    with pytest.raises(UsageError, match=f"^{name}: {says}"):
        OtioTimeline(cut)


def test_an_fcp_xml_of_several_sequences_asks_for_one(tmp_path: Path) -> None:
    cut = tmp_path / "PROJECT.xml"
    first, second = build_cut(), build_cut()
    first.name, second.name = "REEL 1", "REEL 2"
    otio.adapters.write_to_file(otio.schema.SerializableCollection(children=[first, second]), str(cut),
                                adapter_name="fcp_xml")
    with pytest.raises(UsageError, match="holds 2 sequences .'REEL 1', 'REEL 2'.; export the one cut"):
        OtioTimeline(cut)


# -- conform metadata (issue #16) ------------------------------------------------------------------------

SOURCE_TC = "10:00:00:00"


def timecoded_source(folder: Path) -> tuple[Path, Path]:
    """A 25 fps clip whose timecode track starts at 10:00:00:00, named so that an EDL's 8-character reel of
    the clip and of its renders would be the same (`intervie`), and a replacement line."""
    clip = mf.make_h264(folder / "interview_take2.mov", num_frames=100, fps=Fraction(25), timecode=SOURCE_TC)
    line = mf.make_click_wav(folder / "line.wav", rate=48000, num_samples=48000 * 2, clicks=[1000, 40000])
    return clip, line


def commit_copy(shot: Any, line: Path, out: Path) -> dict[str, Any]:
    """Commit a shot with the `copy` engine (the conform metadata is the same for every engine)."""
    session = commands.JobSession(preview_dir=out / "previews")
    request = SyncRequest(video=shot.video, audio=line, output=out, engine="copy",
                          in_point=str(shot.source_start), out_point=str(shot.source_stop))
    return commands.commit(session, request).to_dict()


def test_an_edl_at_one_hour_keeps_its_start_and_the_fix_has_the_sources_timecode_and_its_own_reel(
        tmp_path: Path) -> None:
    clip, line = timecoded_source(tmp_path)
    cut = tmp_path / "REEL1.edl"
    cut.write_text(
        "TITLE: REEL1\nFCM: NON-DROP FRAME\n\n"
        "001  intervie V     C        10:00:00:20 10:00:03:00 01:00:00:00 01:00:02:05\n"
        f"* FROM CLIP NAME:  interview\n* FROM CLIP: {clip}\n"
    )
    host = OtioTimeline(cut)
    assert host.record_offset == 90000 and "INTERVIE" in host.cut_reels()
    shot = host.shot(host.parse_record("01:00:01:00"), host.parse_record("01:00:02:00"))
    assert (shot.source_start, shot.source_stop) == (45, 70), "10:00:01:20 is frame 45 of a clip starting at 10:00"
    result = commit_copy(shot, line, tmp_path / "renders")
    render = Path(result["output"])
    fix_tc = "10:00:01:20"  # the source's timecode at the in point
    rendered = probe(render).video
    assert rendered is not None and (rendered.start_timecode, rendered.frame_count) == (fix_tc, 25)
    reel = rendered.reel_name
    assert reel is not None and len(reel) == 8 and reel.upper() != "INTERVIE"

    placement = host.place_result(shot, result)

    # The .otio keeps the cut's start and puts the fix at its record time, sourced at its own timecode.
    timeline = otio.adapters.read_from_file(str(placement.timeline_file))
    assert placement.timeline_file == tmp_path / "REEL1_mytalk_v001.otio"
    assert timeline.global_start_time == opentime.from_timecode("01:00:00:00", RATE)
    fix = next(c for c in fix_track(timeline) if isinstance(c, otio.schema.Clip))
    assert fix.range_in_parent().start_time == opentime.RationalTime(25, RATE)
    assert fix.source_range == opentime.TimeRange(opentime.from_timecode(fix_tc, RATE), opentime.RationalTime(25, RATE))
    assert fix.metadata["cmx_3600"]["reel"] == fix.metadata["mytalk"]["reel"] == reel

    # The EDL of fixes: record times from 01:00:00:00, the source's timecode, the render's own reel.
    text = (tmp_path / "REEL1_mytalk_v001.edl").read_text()
    event = next(line for line in text.splitlines() if line.startswith("001"))
    assert event.split() == ["001", reel, "V", "C", fix_tc, "10:00:02:20", "01:00:01:00", "01:00:02:00"], text
    fixes = otio.adapters.read_from_file(str(tmp_path / "REEL1_mytalk_v001.edl"), rate=RATE)
    edl_fix = next(iter(fixes.find_clips()))
    assert edl_fix.metadata["cmx_3600"]["reel"] == reel != "intervie"
    assert edl_fix.media_reference.target_url == str(render)


def test_each_timeline_file_type_counts_its_own_versions(tmp_path: Path) -> None:
    """Earlier `.otio` versions of a cut of the same name do not push the first EDL of fixes to v003."""
    clip, line = timecoded_source(tmp_path)
    cut = tmp_path / "CUT.edl"
    cut.write_text(
        "TITLE: CUT\nFCM: NON-DROP FRAME\n\n"
        "001  intervie V     C        10:00:00:00 10:00:02:00 01:00:00:00 01:00:02:00\n"
        f"* FROM CLIP NAME:  interview\n* FROM CLIP: {clip}\n"
    )
    for old in ("CUT_mytalk_v001.otio", "CUT_mytalk_v002.otio"):
        (tmp_path / old).write_text("{}")  # versions written for CUT.otio earlier
    host = OtioTimeline(cut)
    shot = host.shot(0, 10)
    host.place_result(shot, commit_copy(shot, line, tmp_path / "renders"))
    assert sorted(p.name for p in tmp_path.glob("CUT_mytalk_*")) == [
        "CUT_mytalk_v001.edl", "CUT_mytalk_v001.otio", "CUT_mytalk_v002.otio", "CUT_mytalk_v003.otio"]
    assert (tmp_path / "CUT_mytalk_v001.otio").read_text() == "{}", "an earlier version is never written"
    second = host.shot(20, 30)
    host.place_result(second, commit_copy(second, line, tmp_path / "renders"))
    assert sorted(p.name for p in tmp_path.glob("CUT_mytalk_*.edl")) == ["CUT_mytalk_v001.edl", "CUT_mytalk_v002.edl"]
    assert (tmp_path / "CUT_mytalk_v004.otio").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "nothing half-written beside the cut"
