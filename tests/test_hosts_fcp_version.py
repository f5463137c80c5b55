"""An FCP 7 XML cut as Resolve exports it, with each clip's filters: the shot is not refused for them, and the
XML version is the cut's own XML with the fix on a new track, seen through the covered clip's filters.

Resolve writes every video clip item with a Basic Motion, a Crop and an Opacity filter (their defaults when the
editor changed nothing), each with `<enabled>`, `<start>` and `<end>`; Premiere writes the ones the editor set.
The cut here: Bob's frames 0-50 at record 0-50, then Katie's frames 50-150 at record 50-150 cropped 10 % at the
bottom, with their sound on A1, a marker, at 01:00:00:00. One real commit of record 60-80 (Katie's frames 60-80)
is placed; the version is read back as XML and through OpenTimelineIO.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import opentimelineio as otio
import pytest

from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.core.errors import UsageError
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media.probe import probe
from mytalk.plugin.hosts.otio_timeline import FIX_TRACK_NAME, OtioTimeline

pytestmark = pytest.mark.media

BOB, KATIE = "hdtf_wda_bobmenendez_512.mp4", "hdtf_wda_katiehill_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"
RATE = "<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>"
RANGE = (60, 80)


def _filter(name: str, effect_id: str, parameters: dict[str, str], frames: int, extra: str = "") -> str:
    values = "".join(f"<parameter><name>{key}</name><parameterid>{key}</parameterid>{value}</parameter>"
                     for key, value in parameters.items())
    return (f"<filter><enabled>TRUE</enabled><start>0</start><end>{frames}</end><effect><name>{name}</name>"
            f"<effectid>{effect_id}</effectid><effectcategory>motion</effectcategory><effecttype>motion</effecttype>"
            f"<mediatype>video</mediatype>{values}{extra}</effect></filter>")


def resolve_filters(frames: int, crop_bottom: int = 0, keyframed: bool = False) -> str:
    """Resolve's three filters of a video clip item; `keyframed`: its opacity fading in over 10 frames."""
    opacity = ("<keyframe><when>0</when><value>0</value></keyframe><keyframe><when>10</when><value>100</value>"
               "</keyframe>" if keyframed else "<value>100</value>")
    return (_filter("Basic Motion", "basic", {"scale": "<value>100</value>", "rotation": "<value>0</value>"}, frames)
            + _filter("Crop", "crop", {"left": "<value>0</value>", "right": "<value>0</value>",
                                       "top": "<value>0</value>", "bottom": f"<value>{crop_bottom}</value>"}, frames)
            + _filter("Opacity", "opacity", {"opacity": opacity}, frames))


def _item(number: int, name: str, start: int, end: int, first: int, file: str, filters: str) -> str:
    return (f'<clipitem id="clipitem-{number}"><name>{name}</name><enabled>TRUE</enabled><duration>200</duration>{RATE}'
            f"<start>{start}</start><end>{end}</end><in>{first}</in><out>{first + end - start}</out>{file}"
            f"<compositemode>normal</compositemode>{filters}</clipitem>")


def _file(number: int, media: Path) -> str:
    return (f'<file id="file-{number}"><name>{media.name}</name><pathurl>file://localhost{media.as_posix()}</pathurl>'
            f"{RATE}<duration>200</duration><media><video><samplecharacteristics>{RATE}<width>512</width>"
            "<height>512</height></samplecharacteristics></video><audio><samplecharacteristics><depth>16</depth>"
            "<samplerate>16000</samplerate></samplecharacteristics><channelcount>1</channelcount></audio></media></file>")


def resolve_cut(path: Path, *, katie_filters: str | None = None, upper: str = "", upper_audio: str = "") -> Path:
    """The module's cut (its docstring), as Resolve exports FCP 7 XML; `upper`: the items of a second video
    track, `upper_audio` of a second audio track."""
    bob, katie = media_path("video", BOB), media_path("video", KATIE)
    filters = resolve_filters(100, crop_bottom=10) if katie_filters is None else katie_filters
    video = (_item(1, "bob", 0, 50, 0, _file(1, bob), resolve_filters(50))
             + _item(2, "katie", 50, 150, 50, _file(2, katie), filters))
    audio = (_item(3, "bob", 0, 50, 0, '<file id="file-1"/>', "")
             + _item(4, "katie", 50, 150, 50, '<file id="file-2"/>', ""))
    if upper:
        video += f"<enabled>TRUE</enabled><locked>FALSE</locked></track><track>{upper}"
    if upper_audio:
        audio += f"<enabled>TRUE</enabled><locked>FALSE</locked></track><track>{upper_audio}"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="5">
  <!-- exported by the test as Resolve writes it -->
  <sequence id="sequence-1">
    <name>CUT</name><duration>150</duration>{RATE}
    <marker><name>check line</name><in>70</in><out>-1</out></marker>
    <media>
      <video><track>{video}<enabled>TRUE</enabled><locked>FALSE</locked></track></video>
      <audio><track>{audio}<enabled>TRUE</enabled><locked>FALSE</locked></track></audio>
    </media>
    <timecode>{RATE}<string>01:00:00:00</string><frame>90000</frame><displayformat>NDF</displayformat></timecode>
  </sequence>
</xmeml>
""", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Placed:
    cut: Path
    version: Path
    otio_version: Path
    result: dict[str, Any]


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Placed:
    """One classic-engine commit of the shot at record 60-80, placed in a version of the cut."""
    folder = tmp_path_factory.mktemp("fcp_version")
    cut = resolve_cut(folder / "CUT.xml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(folder / "home"))
        host = OtioTimeline(cut)
        shot = host.shot(*RANGE)
        assert (shot.video, shot.source_start, shot.source_stop) == (media_path("video", KATIE), 60, 80)
        engines = available_engines()
        request = SyncRequest(video=shot.video, audio=media_path("audio", LINE), output=folder / "renders",
                              engine="classic" if "classic" in engines else engines[0],
                              in_point=str(shot.source_start), out_point=str(shot.source_stop))
        result = commands.commit(commands.JobSession(preview_dir=folder / "previews"), request).to_dict()
        placement = host.place_result(shot, result)
    assert placement.description.endswith("at 01:00:02:10 in CUT_mytalk_v001.otio")
    return Placed(cut, folder / "CUT_mytalk_v001.xml", folder / "CUT_mytalk_v001.otio", result)


def _canonical(element: ElementTree.Element) -> bytes:
    return ElementTree.canonicalize(ElementTree.tostring(element), strip_text=True).encode()


def test_the_xml_version_is_the_cut_with_a_track_added(placed: Placed) -> None:
    cut, version = ElementTree.parse(placed.cut).getroot(), ElementTree.parse(placed.version).getroot()
    assert placed.version.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>')
    assert "exported by the test" in placed.version.read_text(), "the cut's comment is kept"
    # Every clip item of the cut, its filters, its audio, its marker and its timecode, as they were.
    for path in ("./sequence/media/video/track/clipitem", "./sequence/media/audio/track/clipitem",
                 "./sequence/marker", "./sequence/timecode"):
        assert [_canonical(e) for e in version.findall(path)[:len(cut.findall(path))]] == \
            [_canonical(e) for e in cut.findall(path)], path
    tracks = version.findall("./sequence/media/video/track")
    assert len(tracks) == 2 and len(version.findall("./sequence/media/audio/track")) == 1
    (item,) = tracks[1].findall("clipitem")
    times = [item.findtext(tag) for tag in ("start", "end", "in", "out")]
    assert times == ["60", "80", "0", "20"], times
    render = Path(placed.result["output"])
    file = item.find("file")
    assert file is not None and file.findtext("pathurl") == f"file://localhost{render.resolve().as_posix()}"
    video = probe(render).video
    assert video is not None and file.findtext("./timecode/string") == video.start_timecode
    reel = file.findtext("./timecode/reel/name")
    assert reel and reel.startswith("MT") and reel == video.reel_name


def test_the_fix_is_seen_through_the_covered_clips_filters(placed: Placed) -> None:
    version = ElementTree.parse(placed.version).getroot()
    katie = version.find("./sequence/media/video/track/clipitem[@id='clipitem-2']")
    fix = version.find("./sequence/media/video/track[2]/clipitem")
    assert katie is not None and fix is not None
    copies, originals = fix.findall("filter"), katie.findall("filter")
    assert [f.findtext("./effect/name") for f in copies] == ["Basic Motion", "Crop", "Opacity"]
    for copied, original in zip(copies, originals, strict=True):
        assert _canonical(copied.find("effect")) == _canonical(original.find("effect"))  # type: ignore[arg-type]
        assert (copied.findtext("start"), copied.findtext("end")) == ("0", "20"), "over the fix's own 20 frames"
    # OpenTimelineIO reads the version: the cut's clips keep their effects, and so does the fix.
    timeline = otio.adapters.read_from_file(str(placed.version))
    effects = [[e.name for e in clip.effects] for track in timeline.video_tracks() for clip in track.find_clips()]
    assert effects == [["Basic Motion", "Crop", "Opacity"]] * 3
    # The .otio version's fix carries them too.
    written = otio.adapters.read_from_file(str(placed.otio_version))
    (fix_clip,) = [t for t in written.video_tracks() if t.name == FIX_TRACK_NAME][0].find_clips()
    assert [e.name for e in fix_clip.effects] == ["Basic Motion", "Crop", "Opacity"]


def test_a_second_commit_stacks_and_keeps_the_first(placed: Placed, tmp_path: Path) -> None:
    """Versions accumulate: v002 holds the first fix and the second, on tracks of their own where they overlap."""
    host = OtioTimeline(placed.cut)
    shot = host.shot(*RANGE)
    for _ in range(2):
        host.place_result(shot, placed.result)
    version = ElementTree.parse(placed.cut.parent / "CUT_mytalk_v003.xml").getroot()
    tracks = version.findall("./sequence/media/video/track")
    assert [len(t.findall("clipitem")) for t in tracks] == [2, 1, 1]
    items = [e.get("id") for e in version.iter("clipitem")]
    assert len(items) == len(set(items)), "every clip item has its own id"
    # The render is defined once, by the first fix that plays it; the others name its id.
    files = [(e.get("id"), e.findtext("pathurl")) for e in tracks[1].iter("file")] + \
        [(e.get("id"), e.findtext("pathurl")) for t in tracks[2:] for e in t.iter("file")]
    assert files == [("mytalk-file-1", f"file://localhost{Path(placed.result['output']).resolve().as_posix()}"),
                     ("mytalk-file-1", None)], files
    timeline = otio.adapters.read_from_file(str(placed.cut.parent / "CUT_mytalk_v003.xml"))
    assert [[(c.range_in_parent().start_time.value, c.media_reference.target_url.endswith(".mov"))
             for c in t.find_clips()] for t in timeline.video_tracks()][1:] == [[(60.0, True)], [(60.0, True)]]


@pytest.mark.parametrize(("filters", "says"), [
    (resolve_filters(100, keyframed=True), "keyframed effect (Opacity)"),
    (resolve_filters(100) + _filter("Time Remap", "timeremap", {"speed": "<value>50</value>"}, 100),
     "speed change (Time Remap)"),
])
def test_a_clip_whose_filters_cannot_be_carried_is_refused_in_one_line(tmp_path: Path, filters: str,
                                                                       says: str) -> None:
    host = OtioTimeline(resolve_cut(tmp_path / "CUT.xml", katie_filters=filters))
    with pytest.raises(UsageError, match=r"clip 'katie' has a " + says.replace("(", r"\(").replace(")", r"\)")):
        host.shot(*RANGE)
    assert host.shot(10, 20).source_start == 10, "Bob's clip, with its default filters, is still fixed"


def _link(item: str, kind: str, track: int) -> str:
    return (f"<link><linkclipref>{item}</linkclipref><mediatype>{kind}</mediatype><trackindex>{track}</trackindex>"
            "<clipindex>1</clipindex></link>")


LOWER_THIRD = ('<generatoritem id="generatoritem-1"><name>Katie Hill, lower third</name><enabled>TRUE</enabled>'
               f"<duration>35</duration>{RATE}<start>55</start><end>90</end><in>0</in><out>35</out>"
               "<effect><name>Text</name><effectid>Text</effectid><effectcategory>Text</effectcategory>"
               "<effecttype>generator</effecttype><mediatype>video</mediatype></effect></generatoritem>")
"""A title over the shot on V2, as an editor puts a name under a speaker."""


def test_what_the_cut_shows_above_the_clip_stays_above_the_fix(placed: Placed, tmp_path: Path) -> None:
    """A lower third on V2 over the range, and on V2 before it a picture-in-picture of Bob linked to its sound
    on A2: the shot is Katie's clip under the title, the fix goes directly above her track, and the link names
    V2's item by its track's new number."""
    pip = _item(5, "bob pip", 0, 30, 100, '<file id="file-1"/>', _link("clipitem-6", "audio", 2))
    pip = pip.replace("</clipitem>", _link("clipitem-5", "video", 2) + "</clipitem>")
    pip_sound = _item(6, "bob pip", 0, 30, 100, '<file id="file-1"/>',
                      _link("clipitem-5", "video", 2) + _link("clipitem-6", "audio", 2))
    cut = resolve_cut(tmp_path / "CUT.xml", upper=pip + LOWER_THIRD, upper_audio=pip_sound)
    host = OtioTimeline(cut)
    shot = host.shot(*RANGE)
    assert (shot.video, shot.source_start) == (media_path("video", KATIE), 60), "the title is not the shot"
    host.place_result(shot, placed.result)

    version = ElementTree.parse(tmp_path / "CUT_mytalk_v001.xml").getroot()
    tracks = version.findall("./sequence/media/video/track")
    assert [[e.get("id") for e in t if e.tag in ("clipitem", "generatoritem")] for t in tracks] == [
        ["clipitem-1", "clipitem-2"], ["mytalk-clipitem-1"], ["clipitem-5", "generatoritem-1"]]
    links = {(item.get("id"), link.findtext("linkclipref")): link.findtext("trackindex")
             for item in version.iter("clipitem") for link in item.findall("link")}
    assert links == {("clipitem-5", "clipitem-6"): "2", ("clipitem-5", "clipitem-5"): "3",
                     ("clipitem-6", "clipitem-5"): "3", ("clipitem-6", "clipitem-6"): "2"}, links
    # OpenTimelineIO reads the version's picture in the same order; the .otio version has it so too.
    for written in (tmp_path / "CUT_mytalk_v001.xml", tmp_path / "CUT_mytalk_v001.otio"):
        timeline = otio.adapters.read_from_file(str(written))
        names = [[clip.name for clip in track.find_clips()] for track in timeline.video_tracks()]
        assert names[1] == [Path(placed.result["output"]).stem] and "Katie Hill, lower third" in names[2], names
