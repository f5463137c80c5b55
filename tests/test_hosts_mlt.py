"""Kdenlive and Shotcut projects as timelines, judged by MLT's own renderer.

A 4-second cut of two shared clips (`hdtf_wda_bobmenendez_512.mp4` frames 0-50, then
`hdtf_wda_katiehill_512.mp4` frames 60-110) is written as Kdenlive and Shotcut write it
(`mlt_projects`). One real commit (classic engine, the JFK line, FFV1) of record 60-85 (Katie's
frames 70-95) is placed by the MLT host; `melt` renders the cut and the version, and PyAV checks
every frame and the sound:

- picture: the render's frame against the fix's frame inside the range and the source frame
  outside, as mean absolute difference in 8-bit RGB levels, within `PICTURE_TOLERANCE` (melt's own
  colour conversion), below the distance to a neighbouring frame; every frame must match its own
  frame better than its neighbours (`assert_frame_accurate`), so a one-frame shift or two swapped
  frames fail; and where the fix changed the picture (the mouth), the render is the fix and not
  the original under it (`assert_the_fix_not_the_source`);
- sound: the render over the range correlates with the fix's sound (the new line) and not with
  the original's; outside the range it is the original cut's render, sample for sample up to MLT's
  own seek (correlation with `melt`'s render of the cut).
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import mlt_projects
import mlt_render
import numpy as np
import pytest
from camera_files import four_microphone_take

from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.core.errors import MyTalkError, UsageError
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.plugin.hosts.mlt_effects import covered_clip, is_sound_effect
from mytalk.plugin.hosts.mlt_project import MltProject, MltTrack, mlt_clock, mlt_time, prop
from mytalk.plugin.hosts.mlt_timeline import MltTimeline, open_timeline
from mytalk.plugin.hosts.mlt_version import Fix, write_mlt_version

FIRST, SECOND = "hdtf_wda_bobmenendez_512.mp4", "hdtf_wda_katiehill_512.mp4"  # 25 fps, 512x512, 200 frames
LINE = "jfk_inaugural_en_16k.wav"
RANGE = (60, 85)  # record frames: Katie's frames 70-95
SUFFIXES = [".kdenlive", ".mlt"]
PICTURE_TOLERANCE = 0.6
"""Mean absolute difference (8-bit RGB levels, whole frame) allowed between melt's frame and the expected
one (the fix's inside the range, the source's outside). melt's own colour conversion leaves at most
0.19 here; neighbouring frames are at least 1.1 apart in the source and 5.0 in the fix."""
MOUTH_TOLERANCE = 3.0
"""The same, only where the fix changed the picture (`CHANGED_LEVELS`): melt leaves at most 1.4 there,
while the original under the fix is at least 22 levels away."""
SOUND_MATCH = 0.9
"""Lowest correlation that counts as the same sound (identical sound measures 0.99 or more)."""
SOUND_UNRELATED = 0.5
"""Highest correlation allowed with the sound that must NOT be heard (unrelated speech measures under 0.2)."""

needs_melt = pytest.mark.skipif(mlt_render.melt_command() is None,
                                reason="MLT's `melt` (Debian package melt) and, without a display, xvfb-run are "
                                       "needed to render Kdenlive/Shotcut projects; install them to run this test")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shots() -> list[mlt_projects.Shot]:
    return [(media_path("video", FIRST), 0, 50), (media_path("video", SECOND), 60, 50)]


def write_cut(folder: Path, suffix: str) -> Path:
    lengths = {file: 200 for file, _, _ in shots()}
    writer = mlt_projects.write_kdenlive if suffix == ".kdenlive" else mlt_projects.write_shotcut
    return writer(folder / f"CUT{suffix}", shots(), lengths=lengths)


def mytalk_track(project: MltProject, name: str = "MyTalk") -> MltTrack:
    """The version's new video track of that name."""
    (track,) = [t for t in project.tracks if t.name == name and not t.audio]
    return track


def source_frame(record: int) -> tuple[str, int]:
    return (FIRST, record) if record < 50 else (SECOND, record + 10)


# -- reading -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_project_lists_its_clips_and_maps_a_record_range_to_source_frames(tmp_path: Path, suffix: str) -> None:
    host = open_timeline(write_cut(tmp_path, suffix))
    assert isinstance(host, MltTimeline) and host.fps == Fraction(25) and host.record_offset == 0
    clips = host.clips()
    assert [(c.track_name, c.media.name if c.media else None, c.record_start, c.record_stop) for c in clips] == [
        ("V1", FIRST, 0, 50), ("V1", SECOND, 50, 100)]
    shot = host.shot(*RANGE)
    assert (shot.video.name, shot.source_start, shot.source_stop, shot.record_start) == (SECOND, 70, 95, 60)
    assert shot.record_timecode == "00:00:02:10" and host.record_timecode(100) == "00:00:04:00"
    assert host.parse_record("00:00:02:10") == 60
    # A range over the cut picks the clip under most of it, clipped to that clip.
    assert (host.shot(40, 70).source_start, host.shot(40, 70).source_stop) == (60, 80)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_manifest_opens_both_suffixes_with_the_mlt_host(tmp_path: Path, suffix: str) -> None:
    from mytalk.plugin.hosts.timeline import TimelineHost
    from mytalk.plugin.loader import open_timeline as open_with_manifest
    from mytalk.plugin.manifest import load_manifest

    cut = write_cut(tmp_path, suffix)
    host = open_with_manifest([load_manifest(Path(__file__).resolve().parent.parent / "manifest.json")], cut)
    assert isinstance(host, MltTimeline) and isinstance(host, TimelineHost) and host.path == cut


def test_kdenlive_tracks_are_named_as_kdenlive_shows_them(tmp_path: Path) -> None:
    project = MltProject(tmp_path / "CUT.kdenlive", write_cut(tmp_path, ".kdenlive").read_text())
    assert project.flavour == "kdenlive" and project.sequence.get("id") == mlt_projects.SEQUENCE_UUID
    assert [(t.index, t.name, t.audio) for t in project.tracks] == [
        (1, "A2", True), (2, "A1", True), (3, "V1", False), (4, "V2", False)]


@pytest.mark.media
def test_kdenlive_references_to_tracks_move_with_the_tracks_put_in(tmp_path: Path) -> None:
    """A fix over V1 puts an audio track at the bottom and a video track between V1 and V2: every index that
    names V1 or a track above it moves up by one for the audio track, and those above V1 by one more."""
    cut = write_cut(tmp_path, ".kdenlive")
    text = cut.read_text().replace('"data": "2:0"', '"data": "3:10"').replace('"data": "1:0"', '"data": "2:0"', 1)
    project = MltProject(cut, text)  # groups: V2 (Kdenlive's 3, from its first real track) and V1 (2)
    fix = Fix(record_start=60, frames=25, render=tmp_path / "fix.mkv", render_frames=25,
              source=media_path("video", SECOND).resolve())
    version = MltProject(tmp_path / "v.kdenlive", write_mlt_version(project, [[fix]]))
    assert [(t.index, t.name, t.audio) for t in version.tracks] == [
        (1, "MyTalk", True), (2, "A2", True), (3, "A1", True), (4, "V1", False), (5, "MyTalk", False),
        (6, "V3", False)]
    properties = {p.get("name", "").rsplit(".", 1)[-1]: p.text or "" for p in version.sequence.findall("property")}
    assert '"data": "5:10"' in properties["groups"] and '"data": "3:0"' in properties["groups"], properties["groups"]
    assert (properties["activeTrack"], properties["videoTarget"], properties["audioTarget"],
            properties["tracksCount"]) == ("3", "3", "2", "6")
    # Compositing in stack order: V1 (4), then the fix (5), then the old V2 (6), each onto track 0.
    composites = [(prop(t, "a_track"), prop(t, "b_track")) for t in version.sequence.findall("transition")
                  if prop(t, "mlt_service") != "mix"]
    assert composites == [("0", "4"), ("0", "5"), ("0", "6")], composites


@pytest.mark.parametrize(("text", "times"), [
    ("124", 124), ("00:00:04.960", 124), ("00:00:04:24", 124), ("01:00:00.000", 90000), ("00:04.960", 124)])
def test_mlt_times_read_as_frames(text: str, times: int) -> None:
    assert mlt_time(text, Fraction(25)) == times


def test_clock_times_round_trip_at_ntsc_rates() -> None:
    rate = Fraction(30000, 1001)
    assert all(mlt_time(mlt_clock(frame, rate), rate) == frame for frame in range(0, 200_000, 997))


BAD_PROJECTS = [
    ("not-mlt", "<tractor/>", "not <mlt>"),
    ("not-xml", "<mlt><profile", "not readable as MLT XML"),
    ("no-profile", "<mlt><tractor id='t'/></mlt>", "no <profile>"),
    ("no-timeline", "<mlt><profile frame_rate_num='25'/><producer id='p'/></mlt>", "has no timeline"),
    ("bad-time", "<mlt><profile frame_rate_num='25'/><playlist id='p'><blank length='soon'/></playlist>"
                 "<tractor id='t'><track producer='p'/><track producer='p'/></tractor></mlt>", "not frames"),
]


@pytest.mark.parametrize(("text", "message"), [row[1:] for row in BAD_PROJECTS], ids=[row[0] for row in BAD_PROJECTS])
def test_a_broken_project_is_refused_with_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    cut = tmp_path / "CUT.mlt"
    cut.write_text(text)
    with pytest.raises(UsageError, match=message) as refused:
        open_timeline(cut).clips()
    assert isinstance(refused.value, MyTalkError) and "\n" not in str(refused.value)


# -- a real fix, rendered by melt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Committed:
    folder: Path
    result: dict[str, Any]


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Committed:
    """One classic-engine commit of Katie's frames 70-95 with the JFK line, FFV1, shared by both formats."""
    folder = tmp_path_factory.mktemp("mlt_commit")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(folder / "home"))
        engines = available_engines()
        request = SyncRequest(video=media_path("video", SECOND), audio=media_path("audio", LINE),
                              output=folder / "renders" / "fix.mkv", codec="ffv1",
                              engine="classic" if "classic" in engines else engines[0], in_point="70", out_point="95")
        result = commands.commit(commands.JobSession(preview_dir=folder / "previews"), request).to_dict()
    return Committed(folder, result)


def assert_frame_accurate(rendered: list[np.ndarray], expected: list[np.ndarray], what: str,
                          tolerance: float) -> list[float]:
    """Each rendered frame is its expected frame within tolerance, and nearer to it than to its neighbours."""
    assert len(rendered) == len(expected), what
    differences = []
    for index, (frame, wanted) in enumerate(zip(rendered, expected, strict=True)):
        difference = mlt_render.mean_abs_difference(frame, wanted)
        assert difference <= tolerance, f"{what}: frame {index} differs by {difference:.2f} levels"
        for neighbour in (index - 1, index + 1):
            if 0 <= neighbour < len(expected):
                other = mlt_render.mean_abs_difference(frame, expected[neighbour])
                assert difference < other, f"{what}: frame {index} looks more like frame {neighbour}"
        differences.append(difference)
    return differences


CHANGED_LEVELS = 12
"""Where the fix differs from the source by more than this (8-bit levels, any channel), the fix changed
the picture: the mouth. Whole-frame differences hide it (the mouth is a few percent of the frame)."""


def assert_the_fix_not_the_source(rendered: list[np.ndarray], fix: list[np.ndarray],
                                  source: list[np.ndarray]) -> list[tuple[float, float]]:
    """Where the fix changed the picture, each rendered frame is the fix (within `MOUTH_TOLERANCE`) and
    at least twice as far from the source: the version shows the fix, not the original under it."""
    measured = []
    for index, (frame, fixed, original) in enumerate(zip(rendered, fix, source, strict=True)):
        changed = np.abs(fixed.astype(np.int16) - original.astype(np.int16)).max(axis=2) > CHANGED_LEVELS
        if changed.sum() < 50:
            continue  # a frame the engine left (almost) as it was
        off_fix = float(np.abs(frame.astype(np.int16) - fixed.astype(np.int16))[changed].mean())
        off_source = float(np.abs(frame.astype(np.int16) - original.astype(np.int16))[changed].mean())
        assert off_fix <= MOUTH_TOLERANCE and off_source >= 2 * off_fix, (index, off_fix, off_source)
        measured.append((off_fix, off_source))
    assert len(measured) >= len(rendered) // 2, "the fix changed too few frames to tell it from the source"
    return measured


def expected_source_frames(start: int, stop: int) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    for record in range(start, stop):
        name, frame = source_frame(record)
        frames.extend(mlt_render.frames_rgb(media_path("video", name), frame, frame + 1))
    return frames


def seconds(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Record frames [start, stop) of a sound at `AUDIO_RATE`."""
    per_frame = mlt_render.AUDIO_RATE // 25
    return samples[start * per_frame:stop * per_frame]


@needs_melt
@pytest.mark.media
@pytest.mark.slow
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_melt_renders_the_version_with_the_fix_over_the_range_and_the_cut_elsewhere(
        tmp_path: Path, committed: Committed, suffix: str) -> None:
    cut = write_cut(tmp_path, suffix)
    before = digest(cut)
    host = open_timeline(cut)
    shot = host.shot(*RANGE)
    placement = host.place_result(shot, committed.result)
    version = tmp_path / f"CUT_mytalk_v001{suffix}"
    assert placement.timeline_file == version and placement.record_start == RANGE[0]
    assert placement.description.endswith(f"at 00:00:02:10 in {version.name}")
    assert sorted(p.name for p in tmp_path.glob("CUT_mytalk_*")) == sorted([version.name, "CUT_mytalk_v001.otio"])
    assert digest(cut) == before, "the cut's own file is never written"

    # The version: the cut's tracks as they were, plus the fix on a new track named MyTalk directly above the
    # track of the clip it covers (V1; Kdenlive's cut has an empty V2 above it, which stays above).
    project = MltProject(version, version.read_text())
    names = [(t.name, t.audio) for t in project.tracks]
    assert names[names.index(("V1", False)) + 1] == ("MyTalk", False)
    fix_track = mytalk_track(project)
    entries = project.entries(fix_track.playlists[0])
    assert [(e.record_start, e.frames) for e in entries] == [(RANGE[0], RANGE[1] - RANGE[0])]
    chain = project.by_id[entries[0].producer_id]
    assert prop(chain, "resource") == committed.result["output"] and prop(chain, "mytalk:sidecar")
    if suffix == ".kdenlive":
        assert names[0] == ("MyTalk", True), "Kdenlive keeps audio tracks under the video tracks"

    out = tmp_path / "render"
    out.mkdir()
    original = mlt_render.render(cut, out / "cut.mkv")
    rendered = mlt_render.render(version, out / "version.mkv")
    fix = Path(committed.result["output"])

    # Picture: the fix inside the range, the cut's source frames outside, frame for frame.
    picture = mlt_render.frames_rgb(rendered)
    assert len(picture) == 100
    inside = assert_frame_accurate(picture[RANGE[0]:RANGE[1]], mlt_render.frames_rgb(fix), "inside the range",
                                   PICTURE_TOLERANCE)
    outside = assert_frame_accurate(picture[:RANGE[0]] + picture[RANGE[1]:],
                                    expected_source_frames(0, RANGE[0]) + expected_source_frames(RANGE[1], 100),
                                    "outside the range", PICTURE_TOLERANCE)
    mouth = assert_the_fix_not_the_source(picture[RANGE[0]:RANGE[1]], mlt_render.frames_rgb(fix),
                                          expected_source_frames(*RANGE))
    print(f"{suffix}: inside max {max(inside):.3f}, outside max {max(outside):.3f} levels; where the fix "
          f"changed the picture: off the fix by at most {max(m[0] for m in mouth):.2f}, off the source by at "
          f"least {min(m[1] for m in mouth):.2f}")

    doc_frame = os.environ.get("MYTALK_MLT_DOC_FRAME")  # docs/hosts/melt_frame.png is made this way
    if doc_frame and suffix == ".kdenlive":
        record = RANGE[0] + 12
        name, frame = source_frame(record)
        mlt_render.write_side_by_side(
            mlt_render.frames_rgb(media_path("video", name), frame, frame + 1)[0], picture[record],
            (f"source: {name} frame {frame}", f"melt, {version.name} at {host.record_timecode(record)}"),
            Path(doc_frame))

    # Sound: the new line over the range, the cut's own sound elsewhere.
    heard, cut_sound, line = mlt_render.sound(rendered), mlt_render.sound(original), mlt_render.sound(fix)
    range_frames = RANGE[1] - RANGE[0]
    with_line = mlt_render.correlation(seconds(heard, *RANGE), seconds(line, 0, range_frames))
    with_old = mlt_render.correlation(seconds(heard, *RANGE), seconds(cut_sound, *RANGE))
    assert with_line >= SOUND_MATCH and with_old <= SOUND_UNRELATED, (with_line, with_old)
    kept = [mlt_render.correlation(seconds(heard, start, stop), seconds(cut_sound, start, stop))
            for start, stop in ((0, RANGE[0]), (RANGE[1], 100))]
    assert min(kept) >= SOUND_MATCH, kept
    print(f"{suffix}: range with line {with_line:.3f}, with old sound {with_old:.3f}, outside with the cut "
          f"{min(kept):.3f}")


@needs_melt
@pytest.mark.media
@pytest.mark.slow
def test_overlapping_fixes_stack_on_a_second_track_and_v002_keeps_both(tmp_path: Path, committed: Committed) -> None:
    cut = write_cut(tmp_path, ".mlt")
    host = open_timeline(cut)
    shot = host.shot(*RANGE)
    host.place_result(shot, committed.result)
    placement = host.place_result(shot, committed.result)
    assert placement.timeline_file == tmp_path / "CUT_mytalk_v002.mlt"
    project = MltProject(placement.timeline_file, placement.timeline_file.read_text())
    assert [t.name for t in project.tracks] == ["V1", "MyTalk", "MyTalk 2"]
    # The original's sound is split once around the range, whatever the number of fixes over it.
    pieces = [(e.record_start, e.frames) for e in project.entries(project.tracks[0].playlists[0])]
    assert pieces == [(0, 50), (50, 10), (60, 25), (85, 15)]
    assert mlt_render.render(placement.timeline_file, tmp_path / "v002.mkv").is_file()


GRADE_RAMP = "0=0.45;49=0.95"
"""A keyframed Brightness (MLT `brightness`, `level`) over Katie's clip in the cut: from 45 % at its first
frame to 95 % at its last, so each frame of the range has its own grade (a copy a frame late or early, or
timed from the fix's first frame instead of the clip's, shows at every frame)."""
GRADE_TOLERANCE = 1.0
"""Mean absolute difference (8-bit RGB levels) allowed between the version's frame and the graded cut's,
away from the mouth: melt's conversion and the fix's codec, graded twice."""


def grade_katie(cut: Path, suffix: str) -> None:
    """Give Katie's clip in the cut the ramp, as the editors keep a clip's effect: a `filter` in its timeline
    entry (Kdenlive's video instance), timed by the entry's `in` and `out`; and in Shotcut, whose clip plays
    both, a sound effect too, which the fix must not get."""
    project = MltProject(cut, cut.read_text())
    katie = media_path("video", SECOND).resolve()
    for track in project.tracks:
        if track.audio:
            continue
        for entry in project.entries(track.playlists[0]):
            if (project.media(entry.producer_id) or Path()).resolve() != katie:
                continue
            grade = ET.SubElement(entry.element, "filter", id="filter_grade",
                                  attrib={"in": entry.element.get("in", ""), "out": entry.element.get("out", "")})
            for name, value in (("mlt_service", "brightness"), ("level", GRADE_RAMP), ("kdenlive_id", "brightness")):
                ET.SubElement(grade, "property", name=name).text = value
            if suffix == ".mlt":
                gain = ET.SubElement(entry.element, "filter", id="filter_gain")
                for name, value in (("mlt_service", "volume"), ("level", "-6"), ("shotcut:filter", "audioGain")):
                    ET.SubElement(gain, "property", name=name).text = value
    cut.write_text(ET.tostring(project.root, encoding="unicode"))


@pytest.mark.media
def test_effect_copies_keep_their_source_frames_and_leave_sound_and_mutes(tmp_path: Path) -> None:
    """Without melt: which of a clip's effects the fix gets, and how each copy is timed."""
    cut = write_cut(tmp_path, ".mlt")
    project = MltProject(cut, cut.read_text())
    katie = media_path("video", SECOND).resolve()
    entry = next(e for e in project.entries(project.tracks[0].playlists[0])
                 if (project.media(e.producer_id) or Path()).resolve() == katie)
    chain = project.by_id[entry.producer_id]
    effects = {"lut": ({}, "avfilter.lut3d", chain), "crop": ({"in": "00:00:02.400", "out": "00:00:04.360"}, "crop", None),
               "gain": ({}, "volume", None), "eq": ({}, "avfilter.equalizer", None), "blur": ({}, "avfilter.avgblur", None),
               "mute": ({}, "volume", None), "fade": ({"in": "60", "out": "69"}, "brightness", None),
               "tail": ({"in": "95", "out": "109"}, "brightness", None)}
    for name, (times, service, holder) in effects.items():
        element = ET.SubElement(entry.element if holder is None else holder, "filter", id=name, attrib=times)
        ET.SubElement(element, "property", name="mlt_service").text = service
        if name == "mute":
            ET.SubElement(element, "property", name="mytalk:mute").text = "1"
    track = project.tracks[0].service
    for name, times, service in (("track_lut", {}, "avfilter.lut3d"), ("track_pan", {}, "panner"),
                                 ("track_title", {"in": "00:00:03.000", "out": "99"}, "dynamictext"),
                                 ("track_head", {"in": "0", "out": "59"}, "brightness")):
        element = ET.SubElement(track, "filter", id=name, attrib=times)
        ET.SubElement(element, "property", name="mlt_service").text = service
    fix = Fix(record_start=60, frames=25, render=tmp_path / "fix.mkv", render_frames=25, source=katie)
    version = MltProject(tmp_path / "v.mlt", write_mlt_version(project, [[fix]]))
    placed = version.entries(mytalk_track(version).playlists[0])[0].element.findall("filter")
    # The clip's producer first (measured from her frame 0: the fix starts at her frame 70), then the entry's,
    # then the track's (measured from the timeline's frame 0: the fix starts at record frame 60); the sound
    # (gain, equaliser, pan) and MyTalk's own mute are not the picture's, and neither a fade over her frames
    # 60-69, an effect from her frame 95 on, nor a track effect that ends at record frame 59 touches the fix.
    assert [(prop(f, "mytalk:copied_from"), f.get("in"), f.get("out")) for f in placed] == [
        ("lut", "-70", None), ("crop", "-10", "39"), ("blur", "-70", None), ("track_lut", "-60", None),
        ("track_title", "15", "39")]
    assert len({f.get("id") for f in version.root.iter("filter")}) == len(list(version.root.iter("filter")))
    assert is_sound_effect(ET.fromstring('<filter><property name="shotcut:filter">audioPan</property></filter>'))
    assert covered_clip(version, media_path("video", FIRST), 60, 85) is None, "Bob is not under the range"


TRACK_RAMP = "0=0.5;99=1.0"
"""A keyframed Brightness on the track that holds Katie's clip, measured in the timeline's frames (the
cut's 100), so each frame of the range has its own grade."""


def grade_katies_track(cut: Path) -> None:
    """Give the track that holds Katie's clip the ramp, as the editors keep a track effect: a `filter` in
    the track's tractor (Kdenlive) or in its playlist (Shotcut)."""
    project = MltProject(cut, cut.read_text())
    track = next(t for t in project.tracks if not t.audio)
    grade = ET.SubElement(track.service, "filter", id="track_grade")
    for name, value in (("mlt_service", "brightness"), ("level", TRACK_RAMP), ("kdenlive_id", "brightness")):
        ET.SubElement(grade, "property", name=name).text = value
    cut.write_text(ET.tostring(project.root, encoding="unicode"))


def assert_the_version_looks_like_the_graded_cut(cut: Path, version: Path, fix_render: Path, out: Path,
                                                 what: str) -> None:
    """Away from the mouth, each frame of the range in melt's render of the version is melt's render of the
    graded cut (nearer its own frame than either neighbour), far from the ungraded fix; after the range the
    version is the cut."""
    out.mkdir()
    graded = mlt_render.frames_rgb(mlt_render.render(cut, out / "cut.mkv"))
    picture = mlt_render.frames_rgb(mlt_render.render(version, out / "version.mkv"))
    fix = mlt_render.frames_rgb(fix_render)
    source = expected_source_frames(*RANGE)
    differences = []
    for index, record in enumerate(range(*RANGE)):
        kept = np.abs(fix[index].astype(np.int16) - source[index].astype(np.int16)).max(axis=2) <= CHANGED_LEVELS
        off = [float(np.abs(picture[record].astype(np.int16) - graded[other].astype(np.int16))[kept].mean())
               for other in (record - 1, record, record + 1)]
        ungraded = float(np.abs(picture[record].astype(np.int16) - fix[index].astype(np.int16))[kept].mean())
        assert off[1] <= GRADE_TOLERANCE and off[1] < min(off[0], off[2]), (record, off)
        assert ungraded > 5 * GRADE_TOLERANCE, (record, ungraded)
        differences.append((off[1], ungraded))
    outside = assert_frame_accurate(picture[RANGE[1]:], graded[RANGE[1]:], "after the range", PICTURE_TOLERANCE)
    print(f"{what}: away from the mouth the version is the graded cut within {max(d[0] for d in differences):.2f} "
          f"levels (the ungraded fix: {min(d[1] for d in differences):.1f} or more); after the range "
          f"{max(outside):.2f}")


def place_the_commit(cut: Path, committed: Committed) -> tuple[Path, MltProject, ET.Element]:
    """The module's commit placed in a version of `cut`: the version's file, the version read back, and the
    fix's entry on its MyTalk track."""
    host = open_timeline(cut)
    placement = host.place_result(host.shot(*RANGE), committed.result)
    assert placement.timeline_file is not None
    project = MltProject(placement.timeline_file, placement.timeline_file.read_text())
    return placement.timeline_file, project, project.entries(mytalk_track(project).playlists[0])[0].element


@needs_melt
@pytest.mark.media
@pytest.mark.slow
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_fix_is_seen_through_the_clips_own_keyframed_effect(tmp_path: Path, committed: Committed,
                                                                suffix: str) -> None:
    cut = write_cut(tmp_path, suffix)
    grade_katie(cut, suffix)
    version, _, fix_entry = place_the_commit(cut, committed)
    copied = [(f.get("in"), f.get("out"), prop(f, "mlt_service"), prop(f, "level")) for f in fix_entry.findall("filter")]
    # Katie's entry starts at her frame 60 and the fix at her frame 70: the copy is timed ten frames earlier.
    assert copied == [("-10", "39", "brightness", GRADE_RAMP)], copied
    assert_the_version_looks_like_the_graded_cut(cut, version, Path(committed.result["output"]), tmp_path / "render",
                                                 f"{suffix}, clip effect")


@needs_melt
@pytest.mark.media
@pytest.mark.slow
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_fix_is_seen_through_its_tracks_keyframed_effect(tmp_path: Path, committed: Committed,
                                                             suffix: str) -> None:
    """A track effect applies to its own track only, and the fix lies on a MyTalk track above it."""
    cut = write_cut(tmp_path, suffix)
    grade_katies_track(cut)
    version, project, fix_entry = place_the_commit(cut, committed)
    copied = [(f.get("in"), f.get("out"), prop(f, "level"), prop(f, "mytalk:copied_from"))
              for f in fix_entry.findall("filter")]
    # Timed in the timeline's frames: the fix's first frame is record frame 60.
    assert copied == [("-60", None, TRACK_RAMP, "track_grade")], copied
    mytalk = mytalk_track(project)
    assert mytalk.service.findall("filter") + mytalk.playlists[0].findall("filter") == [], "the fix's own track"
    assert_the_version_looks_like_the_graded_cut(cut, version, Path(committed.result["output"]), tmp_path / "render",
                                                 f"{suffix}, track effect")


OVERLAY = mlt_projects.Overlay(start=50, frames=50, colour="0x2040ff80")
"""A half-transparent blue over Katie's whole clip (record 50-99) on V2, as a title or a lower third lies over a
shot: the fix goes under it, as her clip is."""


@needs_melt
@pytest.mark.media
@pytest.mark.slow
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_what_the_cut_shows_above_the_clip_stays_above_the_fix(tmp_path: Path, committed: Committed,
                                                               suffix: str) -> None:
    lengths = {file: 200 for file, _, _ in shots()}
    writer = mlt_projects.write_kdenlive if suffix == ".kdenlive" else mlt_projects.write_shotcut
    cut = writer(tmp_path / f"CUT{suffix}", shots(), lengths=lengths, overlay=OVERLAY)
    version, project, _ = place_the_commit(cut, committed)
    video = [t.name for t in project.tracks if not t.audio]
    assert video == ["V1", "MyTalk", "V3" if suffix == ".kdenlive" else "V2"], video
    if suffix == ".mlt":  # the fix's track is blended onto V1 before V2 is, so V2 is drawn over it
        blends = [(prop(t, "a_track"), prop(t, "b_track")) for t in project.sequence.findall("transition")
                  if prop(t, "mlt_service") != "mix" and prop(t, "disable") != "1"]
        assert blends == [("1", "2"), ("1", "3")], blends
    assert_the_version_looks_like_the_graded_cut(cut, version, Path(committed.result["output"]), tmp_path / "render",
                                                 f"{suffix}, overlay above the clip")


# -- the stream of a camera's sound that the cut plays -------------------------------------------------------

@pytest.fixture(scope="module")
def camera_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A four-microphone camera file (`camera_files`): MIX L, MIX R, BOOM (the actor), LAV B (another line)."""
    return four_microphone_take(tmp_path_factory.mktemp("camera"))


@pytest.mark.media
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_shot_guides_with_the_camera_stream_the_cut_plays(tmp_path: Path, camera_take: Path, suffix: str) -> None:
    """The editor picked the boom (stream 3) of a four-input camera file in the clip's properties: the shot's
    guide pick is channel 3; the default stream (1, the mix) gives no pick, and a clip playing no sound says
    nothing either."""
    writer = mlt_projects.write_kdenlive if suffix == ".kdenlive" else mlt_projects.write_shotcut
    picks = {}
    for stream in (3, 1, 4, -1):
        cut = writer(tmp_path / f"CUT_{stream}{suffix}", [(camera_take, 0, 100)], lengths={camera_take: 200},
                     audio_index={camera_take: stream})
        picks[stream] = MltTimeline(cut).shot(10, 60).guide_channels
    assert picks == {3: "3", 1: None, 4: "4", -1: None}


@needs_melt
@pytest.mark.media
@pytest.mark.slow
def test_melt_plays_the_stream_the_shot_guides_with_and_the_panel_picks_it(qtbot: Any, tmp_path: Path,
                                                                          camera_take: Path) -> None:
    """MLT's `audio_index` is FFmpeg's stream index: melt's render of a Kdenlive cut that plays stream 3 sounds
    as the BOOM channel, not the other actor's lavalier, and the panel opened on the shot guides with BOOM."""
    cut = mlt_projects.write_kdenlive(tmp_path / "CUT.kdenlive", [(camera_take, 0, 100)], lengths={camera_take: 200},
                                      audio_index={camera_take: 3})
    heard = mlt_render.sound(mlt_render.render(cut, tmp_path / "cut.mkv"))
    boom, lav = mlt_render.sound(camera_take, 3), mlt_render.sound(camera_take, 4)
    with_boom = mlt_render.correlation(seconds(heard, 10, 90), seconds(boom, 10, 90))
    with_lav = mlt_render.correlation(seconds(heard, 10, 90), seconds(lav, 10, 90))
    assert with_boom >= SOUND_MATCH and with_lav <= SOUND_UNRELATED, (with_boom, with_lav)
    print(f"melt, audio_index 3: with BOOM {with_boom:.3f}, with LAV B {with_lav:.3f}")

    from mytalk.plugin.standalone import StandaloneWindow

    window = StandaloneWindow(audio=media_path("audio", LINE), timeline=cut, start_runtime=False)
    qtbot.addWidget(window)
    try:
        assert window.timeline_dock is not None
        window.timeline_dock.pick_clip(0)
        panel = window.panel
        assert panel.clip == camera_take and panel.transport.range() == (0, 100)
        assert panel.model.guide_channels == "3" and panel.guide_channels_box.caption() == "Ch 3 BOOM"
        assert "the guide and the actor's learning hear what the cut plays" in panel.status_line.full_text
        assert "Ch 3 BOOM" in panel.status_line.full_text
    finally:
        window.panel.shutdown()


@pytest.mark.media
def test_a_batch_of_the_cut_guides_each_shot_with_the_stream_the_cut_plays(tmp_path: Path, camera_take: Path) -> None:
    """`mytalk batch` of a Kdenlive cut: each shot's job hears the stream its clip plays in the cut, unless the
    batch's own `--guide-channels` says otherwise."""
    from mytalk.plugin.batch.plan import plan_batch

    cut = mlt_projects.write_kdenlive(tmp_path / "CUT.kdenlive", [(camera_take, 0, 100)], lengths={camera_take: 200},
                                      audio_index={camera_take: 3})
    stem = media_path("audio", LINE)
    planned = plan_batch(MltTimeline(cut), stem=stem, face_check=lambda video, frames: True)
    assert [job.guide_channels for job in planned.jobs] == ["3"]
    told = plan_batch(MltTimeline(cut), stem=stem, face_check=lambda video, frames: True, guide_channels="1")
    assert [job.guide_channels for job in told.jobs] == ["1"]
