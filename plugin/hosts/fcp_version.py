"""A new version of an FCP 7 XML cut (Premiere, Final Cut Pro 7, Resolve) with MyTalk's fixes laid in.

The version is the cut's own XML with additions, as the MLT host writes its versions (`mlt_version`).
OpenTimelineIO's FCP writer rebuilds a cut from what its reader kept, and its reader keeps a clip's
filters only as names: written back, every clip of the cut lost its motion, crop, opacity and colour
filters, and a version that does not look like the cut is no version of it. So here:

- everything in the cut stays as it was (its sequences, tracks, clip items, filters, transitions, audio,
  markers and the sequence's timecode);
- each layer of fixes over one track becomes a new video track directly above that track (under whatever
  the cut shows above the clip: a title, a lower third, a logo), one clip item per fix at its record frames,
  playing the render from its first frame (a linked item's `<link>` names its video track by number, so
  the numbers of the tracks above move up): its `<file>` names the render with
  its own timecode and reel (`MT` and six characters), so a conform links the fix to the render and never
  to the camera original;
- each fix's clip item gets copies of the filters of the clip item it covers (the same file under the
  range, most overlap, the upper track on a tie), so the fix is seen through the same Basic Motion, crop,
  opacity and grade as the clip: the fix is rendered from the ungraded source. A filter applies over the
  frames of its clip item that its `<start>`/`<end>` name, and the copy over the same frames of the fix.
  A speed change (Time Remap) and a keyframed filter are not copied: the host refuses such a clip before
  any job (`OtioTimeline.shot`);
- the sound is left as it is: as in the `.otio` version, the fix is a picture item, and its render holds
  the new line for the editor to lay.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

from mytalk.core.timecode import frames_to_smpte, is_drop_frame_rate, parse_position
from mytalk.plugin.hosts.fcp_xml_items import ClipItem, clip_items, file_paths, int_or_none, main_sequence
from mytalk.plugin.hosts.timeline import most_overlapped, stacked_above
from mytalk.plugin.hosts.xml_ids import FreshIds

TIME_EFFECT_IDS = frozenset({"timeremap"})
"""FCP 7 effect ids that change a clip's timing (Premiere and FCP 7 write a speed change as Time Remap)."""


@dataclass(frozen=True)
class FcpFix:
    """One fix to lay in: its record frames, its render and what the render's `<file>` says of it."""

    record_start: int
    frames: int
    render: Path
    render_frames: int
    start_timecode: str | None
    reel: str
    width: int
    height: int
    audio_channels: int
    sample_rate: int
    source: Path | None


def is_time_filter(element: ElementTree.Element) -> bool:
    """A filter that changes the clip's timing: MyTalk maps frames one to one."""
    return (element.findtext("./effect/effectid") or "").strip().lower() in TIME_EFFECT_IDS


def is_keyframed_filter(element: ElementTree.Element) -> bool:
    """A filter whose parameters move over the clip."""
    return element.find(".//keyframe") is not None


def write_fcp_version(text: str, cut: Path, layers: list[list[FcpFix]], fps: Fraction) -> str:
    """The cut's XML with each layer of fixes on a new video track of its main sequence, directly above the
    track of the clips it covers (a fix that covers none: on top)."""
    parser = ElementTree.XMLParser(target=ElementTree.TreeBuilder(insert_comments=True, insert_pis=True))
    root = ElementTree.fromstring(text, parser=parser)
    sequence = main_sequence(root)
    video = sequence.find("./media/video") if sequence is not None else None
    if sequence is None or video is None:
        raise ValueError("the XML has no sequence with video")
    covered = list(clip_items(sequence, "video", file_paths(root, cut)))
    ids = _Ids(root)
    tracks = video.findall("track")
    items = {id(fix): _covered_item(covered, fix) for layer in layers for fix in layer}

    def track_under(fix: FcpFix) -> int | None:
        item = items[id(fix)]
        return None if item is None else tracks.index(item.track)

    added: dict[int, int] = {}
    for above, fixes in stacked_above([sorted(layer, key=lambda f: f.record_start) for layer in layers],
                                      track_under, len(tracks) - 1):
        track = ElementTree.Element("track")
        for fix in fixes:
            track.append(_clip_item(fix, fps, ids, items[id(fix)]))
        _text(track, "enabled", "TRUE")
        _text(track, "locked", "FALSE")
        # Directly above the track of the clip it covers (after the MyTalk tracks already there), under what the
        # cut shows above that clip; after the last element of the picture when the cut has no video track.
        anchor = list(video).index(tracks[above]) + 1 if tracks else len(video)
        video.insert(anchor + added.get(above, 0), track)
        added[above] = added.get(above, 0) + 1
    _renumber_video_links(sequence, tracks, video.findall("track"))
    _define_files_once(video)
    ElementTree.indent(root, space="  ")
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n{body}\n'


def _renumber_video_links(sequence: ElementTree.Element, before: list[ElementTree.Element],
                          after: list[ElementTree.Element]) -> None:
    """A clip item's `<link>` names a linked picture item by its video track's number (from 1), which moves up
    where a MyTalk track went in below it. Only the main sequence's own items: a nested sequence's links name
    its own tracks."""
    moved = {str(number): str(after.index(track) + 1) for number, track in enumerate(before, start=1)}
    items = sequence.findall("./media/video/track/clipitem") + sequence.findall("./media/audio/track/clipitem")
    for link in (link for item in items for link in item.findall("link")):
        index = link.find("trackindex")
        if (link.findtext("mediatype") or "").strip() == "video" and index is not None:
            index.text = moved.get((index.text or "").strip(), index.text)


class _Ids(FreshIds):
    """Element ids the document does not use yet, numbered as FCP 7 numbers them (`clipitem-1`)."""

    def __init__(self, root: ElementTree.Element) -> None:
        super().__init__((element.get("id", "") for element in root.iter() if element.get("id")), separator="-",
                         first=1)


def _define_files_once(video: ElementTree.Element) -> None:
    """A render placed twice (two fixes of one render, or a later version keeping an earlier fix) is defined
    in full by its first `<file>`; later ones name its id alone, as the format does."""
    first: dict[str, str] = {}
    for element in video.iter("file"):
        key, url = element.get("id", ""), element.findtext("pathurl")
        if not key.startswith("mytalk-file") or url is None:
            continue
        if url in first:
            element.clear()
            element.set("id", first[url])
        else:
            first[url] = key


def _covered_item(items: list[ClipItem], fix: FcpFix) -> ClipItem | None:
    """The clip item of the fix's source under its range: most overlap, the upper (later) track on a tie."""
    if fix.source is None:
        return None
    wanted = os.path.realpath(fix.source)  # a link to the file is the file
    candidates = ((item.start, item.end, order, item) for order, item in enumerate(items)
                  if os.path.realpath(item.media) == wanted)
    return most_overlapped(candidates, fix.record_start, fix.record_start + fix.frames)


def _rate(parent: ElementTree.Element, fps: Fraction) -> None:
    rate = ElementTree.SubElement(parent, "rate")
    _text(rate, "timebase", str(round(fps)))
    _text(rate, "ntsc", "TRUE" if fps.denominator == 1001 else "FALSE")


def _text(parent: ElementTree.Element, tag: str, value: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, tag)
    element.text = value
    return element


def _clip_item(fix: FcpFix, fps: Fraction, ids: _Ids, covered: ClipItem | None) -> ElementTree.Element:
    item = ElementTree.Element("clipitem", id=ids.new("mytalk-clipitem"))
    _text(item, "name", fix.render.stem)
    _text(item, "enabled", "TRUE")
    _text(item, "duration", str(fix.render_frames))
    _rate(item, fps)
    _text(item, "start", str(fix.record_start))
    _text(item, "end", str(fix.record_start + fix.frames))
    _text(item, "in", "0")
    _text(item, "out", str(fix.frames))
    item.append(_file(fix, fps, ids))
    if covered is not None:
        item.extend(_filter_copies(covered, fix))
    return item


def _file(fix: FcpFix, fps: Fraction, ids: _Ids) -> ElementTree.Element:
    """The render as a `<file>`: where it is, its length, its own timecode and reel, what it holds."""
    element = ElementTree.Element("file", id=ids.new("mytalk-file"))
    _text(element, "name", fix.render.name)
    _text(element, "pathurl", "file://localhost" + quote(fix.render.resolve().as_posix()))
    _rate(element, fps)
    _text(element, "duration", str(fix.render_frames))
    label = fix.start_timecode or frames_to_smpte(0, fps)
    timecode = ElementTree.SubElement(element, "timecode")
    _rate(timecode, fps)
    _text(timecode, "string", label)
    _text(timecode, "frame", str(parse_position(label, fps, what="timecode")))
    _text(timecode, "displayformat", "DF" if is_drop_frame_rate(fps) and ";" in label else "NDF")
    reel = ElementTree.SubElement(timecode, "reel")
    _text(reel, "name", fix.reel)
    media = ElementTree.SubElement(element, "media")
    picture = ElementTree.SubElement(ElementTree.SubElement(media, "video"), "samplecharacteristics")
    _rate(picture, fps)
    _text(picture, "width", str(fix.width))
    _text(picture, "height", str(fix.height))
    if fix.audio_channels:
        sound = ElementTree.SubElement(media, "audio")
        characteristics = ElementTree.SubElement(sound, "samplecharacteristics")
        _text(characteristics, "depth", "16")
        _text(characteristics, "samplerate", str(fix.sample_rate))
        _text(sound, "channelcount", str(fix.audio_channels))
    return element


def _filter_copies(covered: ClipItem, fix: FcpFix) -> list[ElementTree.Element]:
    """Copies of the covered item's filters over the fix's frames of it: a filter's `<start>`/`<end>` count
    from its clip item's first frame, the fix's from the fix's, `offset` frames later."""
    offset = fix.record_start - covered.start
    copies = []
    for original in covered.element.findall("filter"):
        if is_time_filter(original) or is_keyframed_filter(original):
            continue
        effect = copy.deepcopy(original)
        first, last = int_or_none(original.findtext("start")), int_or_none(original.findtext("end"))
        if first is not None and first >= 0:
            first = max(0, first - offset)
            effect.find("start").text = str(first)  # type: ignore[union-attr]
        if last is not None and last >= 0:
            last = min(fix.frames, last - offset)
            effect.find("end").text = str(last)  # type: ignore[union-attr]
        if first is not None and last is not None and first >= 0 and last >= 0 and last <= first:
            continue  # the filter covers none of the fix's frames
        copies.append(effect)
    return copies


__all__ = ["FcpFix", "is_keyframed_filter", "is_time_filter", "write_fcp_version"]
