"""A new version of an MLT project (Kdenlive or Shotcut) with MyTalk's fixes laid in.

The version is the cut's own XML with additions, so everything MyTalk does not understand (effects,
titles, guides, bin folders, the profile) is kept as it was:
- each fix render becomes a new clip (`chain`, MLT's avformat producer) carrying `mytalk:*`
  provenance properties; in Kdenlive also a bin clip in `main_bin`, with a video and an audio
  instance as Kdenlive splits every AV clip;
- the fixes go on NEW tracks named `MyTalk` (`MyTalk 2` ... when fixes overlap or cover clips on other
  tracks), at the record time of the range, each directly above the track of the clip it covers, so
  that whatever the cut shows above that clip (a title, a lower third, a logo) stays above the fix
  (`mlt_tracks` moves every reference to the tracks above). Shotcut (and plain MLT) get one track that
  plays the fix's picture and sound; Kdenlive gets that video track and an audio track below the other
  audio tracks (Kdenlive keeps audio tracks under video tracks);
- new tracks get the transitions the editors add to every track: `mix` (sum, onto track 0) for
  sound, and a compositing transition for the picture, written before those of the tracks above: in
  Kdenlive a copy of the one the project gives its tracks (all onto track 0); in Shotcut `qtblend` onto
  the track the covered one is composited onto, or the covered track itself where its own blend is off
  (`mlt_tracks.composited_onto`);
- the fix's picture gets copies of the effects the cut shows the covered clip through (its own and its
  track's: a grade, a crop, a transform), timed to the same frames (`mlt_effects`): the fix is rendered
  ungraded;
- MLT **sums** the sound of all tracks (`mix` with `sum=1`), so a fix on a track of its own would
  play the new line over the old one. The original's sound is therefore muted over the range: each
  entry that plays the fixed clip's own media there is split at the range's edges (as a razor cut
  in the editor would) and the middle piece gets a `volume` filter at -100 dB (Kdenlive's Volume,
  Shotcut's Gain effect). Sound from other media (music, effects, a separately recorded dialogue
  file) is left as it is.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mytalk.plugin.hosts.mlt_effects import CoveredClip, covered_clip, picture_effects
from mytalk.plugin.hosts.mlt_project import MltEntry, MltProject, mlt_clock, prop, set_prop
from mytalk.plugin.hosts.mlt_tracks import composited_onto, insert_track, insert_transitions
from mytalk.plugin.hosts.timeline import stacked_above
from mytalk.plugin.hosts.xml_ids import FreshIds

MUTE_SERVICE = "volume"
MUTE_LEVEL_DB = "-100"
"""The muted piece's level (MLT `volume`'s `level`, dB; its linear `gain` is deprecated): 1e-5 of full
scale, below one step of 16-bit sound, and a value both editors' volume effects hold."""
COMPOSITE_SERVICE = "qtblend"
"""Kdenlive's own track compositing since 21.x, and Shotcut's fallback: MLT's Qt module (needs a display,
or a virtual one such as Xvfb, to render)."""


@dataclass(frozen=True)
class Fix:
    """One fix to lay in: record span (profile frames), its render and the media it replaces."""

    record_start: int
    frames: int
    render: Path
    render_frames: int
    source: Path | None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def record_stop(self) -> int:
        return self.record_start + self.frames


class _Ids(FreshIds):
    """Fresh element ids (`chain0`, as MLT numbers them) and Kdenlive clip ids that the document does not use yet."""

    def __init__(self, project: MltProject) -> None:
        super().__init__(project.by_id)
        ids = [prop(e, "kdenlive:id") for e in project.root.iter()]
        self.next_clip_id = max([int(i) for i in ids if i and i.isdigit()] + [1]) + 1

    def clip_id(self) -> str:
        self.next_clip_id += 1
        return str(self.next_clip_id - 1)


def _element(tag: str, properties: dict[str, str], **attributes: str) -> ET.Element:
    element = ET.Element(tag, attributes)
    for name, value in properties.items():
        ET.SubElement(element, "property", name=name).text = value
    return element


def write_mlt_version(project: MltProject, layers: list[list[Fix]]) -> str:
    """The project's XML with the fixes: `layers[i]` holds fixes that do not overlap, and each layer's fixes
    over one track go on a track of their own directly above it (`MyTalk`, `MyTalk 2`, ... from the bottom).

    `project` must be freshly read: its tree is edited in place.
    """
    fps = project.fps
    root, sequence = project.root, project.sequence
    kdenlive = project.flavour == "kdenlive"
    ids = _Ids(project)
    before_sequence = list(root).index(sequence)
    new_elements: list[ET.Element] = []

    # The clip each fix covers and the effects the cut shows it through, read before anything is split or
    # muted; then mute the original's sound, while the project's tracks still describe the document.
    covered = {id(fix): _covered(project, fix) for fix_layer in layers for fix in fix_layer}
    effects: dict[int, list[ET.Element]] = {}
    for fix in (fix for fix_layer in layers for fix in fix_layer):
        clip = covered[id(fix)]
        effects[id(fix)] = [] if clip is None else picture_effects(project, clip, fix.frames, ids.new)
    def track_under(fix: Fix) -> int | None:
        clip = covered[id(fix)]
        return None if clip is None else clip.track.index

    top = max((track.index for track in project.tracks if not track.audio), default=0)
    stacks = stacked_above(layers, track_under, top)
    for fix_layer in layers:
        for fix in fix_layer:
            _mute_source(project, fix)

    chains: dict[tuple[Path, str], str] = {}
    clip_ids: dict[Path, str] = {}

    def chain(fix: Fix, role: str) -> str:
        key = (fix.render, role)
        if key in chains:
            return chains[key]
        properties = {"length": str(fix.render_frames), "eof": "pause", "resource": str(fix.render),
                      "mlt_service": "avformat-novalidate", "seekable": "1"}
        if kdenlive:
            if fix.render not in clip_ids:
                clip_ids[fix.render] = ids.clip_id()
            properties.update({"kdenlive:clipname": fix.render.stem, "kdenlive:clip_type": "0",
                               "kdenlive:folderid": "-1", "kdenlive:id": clip_ids[fix.render]})
            if role != "bin":
                properties.update({"set.test_audio": "1" if role == "video" else "0",
                                   "set.test_image": "1" if role == "audio" else "0"})
        elif project.flavour == "shotcut":
            properties["shotcut:caption"] = fix.render.name
        properties.update({f"mytalk:{name}": _text(value) for name, value in fix.provenance.items()
                           if value is not None})
        element = _element("chain", properties, id=ids.new("mytalk_chain"), out=mlt_clock(fix.render_frames - 1, fps))
        new_elements.append(element)
        chains[key] = element.get("id", "")
        return chains[key]

    def playlist(fix_layer: list[Fix], role: str, audio: bool) -> ET.Element:
        element = _element("playlist", {"kdenlive:audio_track": "1"} if kdenlive and audio else {},
                           id=ids.new("mytalk_playlist"))
        cursor = 0
        for fix in sorted(fix_layer, key=lambda f: f.record_start):
            if fix.record_start > cursor:
                ET.SubElement(element, "blank", length=mlt_clock(fix.record_start - cursor, fps))
            entry = ET.SubElement(element, "entry", producer=chain(fix, role),
                                  attrib={"in": mlt_clock(0, fps), "out": mlt_clock(fix.frames - 1, fps)})
            if kdenlive:
                ET.SubElement(entry, "property", name="kdenlive:id").text = clip_ids[fix.render]
            if role != "audio":  # the picture: Kdenlive's video instance, Shotcut's one clip
                entry.extend(effects[id(fix)])
            cursor = fix.record_stop
        return element

    names = [("MyTalk" if number == 0 else f"MyTalk {number + 1}") for number in range(len(stacks))]
    # Highest first, so that a track put in lower down moves the ones already in, with everything else.
    placed = list(zip(stacks, names, strict=True))[::-1]
    if kdenlive:
        audio_tracks: list[str] = []
        video_tracks: list[tuple[int, str]] = []
        for (above, fix_layer), name in placed:
            for audio in (False, True):
                filled = playlist(fix_layer, "audio" if audio else "video", audio)
                spare = _element("playlist", {"kdenlive:audio_track": "1"} if audio else {},
                                 id=ids.new("mytalk_playlist"))
                tractor = _element("tractor", {**({"kdenlive:audio_track": "1"} if audio else {}),
                                               "kdenlive:track_name": name, "kdenlive:trackheight": "67",
                                               "kdenlive:timeline_active": "1", "kdenlive:collapsed": "0"},
                                   id=ids.new("mytalk_tractor"), **{"in": mlt_clock(0, fps)})
                for inner in (filled, spare):
                    ET.SubElement(tractor, "track", hide="video" if audio else "audio", producer=inner.get("id", ""))
                new_elements.extend([filled, spare, tractor])
                if audio:
                    audio_tracks.insert(0, tractor.get("id", ""))
                else:
                    video_tracks.append((above, tractor.get("id", "")))
        for fix in (f for layer in layers for f in layer):
            bin_chain = chain(fix, "bin")
            main_bin = project.by_id.get("main_bin")
            if main_bin is not None and not any(e.get("producer") == bin_chain for e in main_bin.findall("entry")):
                ET.SubElement(main_bin, "entry", producer=bin_chain,
                              attrib={"in": mlt_clock(0, fps), "out": mlt_clock(fix.render_frames - 1, fps)})
        # Sound: new audio tracks at the bottom, summed onto track 0 (their order does not matter).
        for offset, producer in enumerate(audio_tracks):
            insert_track(project, producer, 1 + offset)
        mixes = [_transition(ids, "mix", index, kdenlive) for index in range(1, 1 + len(audio_tracks))]
        insert_transitions(project, mixes, len(audio_tracks))
        # Picture: each video track directly above the track it covers, composited in its place in the stack.
        for above, producer in video_tracks:
            at = above + len(audio_tracks) + 1
            insert_track(project, producer, at)
            insert_transitions(project, [_composite(project, ids, at)], at)
    else:
        for (above, fix_layer), name in placed:
            element = playlist(fix_layer, "av", audio=False)
            set_prop(element, "shotcut:video", "1")
            set_prop(element, "shotcut:name", name)
            new_elements.append(element)
            at = above + 1
            onto = composited_onto(project, above)
            insert_track(project, element.get("id", ""), at)
            insert_transitions(project, [_transition(ids, "mix", at, False),
                                         _composite(project, ids, at, a_track=onto)], at)
    for offset, element in enumerate(new_elements):
        root.insert(before_sequence + offset, element)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _covered(project: MltProject, fix: Fix) -> CoveredClip | None:
    """The picture entry the fix covers (`mlt_effects.covered_clip`); None when the fix names no source or no
    picture entry plays it under the range."""
    return None if fix.source is None else covered_clip(project, fix.source, fix.record_start, fix.record_stop)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _transition(ids: _Ids, service: str, b_track: int, kdenlive: bool) -> ET.Element:
    properties = {"a_track": "0", "b_track": str(b_track), "mlt_service": service}
    if kdenlive:
        properties.update({"kdenlive_id": service, "internal_added": "237"})
    properties.update({"always_active": "1", "accepts_blanks": "1", "sum": "1"})
    return _element("transition", properties, id=ids.new("mytalk_transition"))


def _composite(project: MltProject, ids: _Ids, b_track: int, a_track: int = 0) -> ET.Element:
    """The compositing transition of a new video track: a copy of the one Kdenlive gives its own tracks
    (its internal `qtblend` or `frei0r.cairoblend`, all onto track 0), else `qtblend` onto `a_track`."""
    for transition in project.sequence.findall("transition") if project.flavour == "kdenlive" else []:
        if prop(transition, "internal_added") == "237" and prop(transition, "mlt_service") not in ("mix", None) \
                and prop(transition, "disable") != "1":
            element = copy.deepcopy(transition)
            element.set("id", ids.new("mytalk_transition"))
            set_prop(element, "a_track", "0")
            set_prop(element, "b_track", str(b_track))
            return element
    properties = {"a_track": str(a_track), "b_track": str(b_track), "mlt_service": COMPOSITE_SERVICE,
                  "compositing": "0", "distort": "0", "rotate_center": "0", "always_active": "1"}
    if project.flavour == "kdenlive":
        properties.update({"kdenlive_id": COMPOSITE_SERVICE, "internal_added": "237"})
    return _element("transition", properties, id=ids.new("mytalk_transition"))


def _mute_source(project: MltProject, fix: Fix) -> None:
    """Split the entries that play the fix's source media under its range, and mute the middle piece."""
    if fix.source is None:
        return
    source = fix.source.resolve()
    for track in project.tracks:
        for playlist, plays in zip(track.playlists, track.plays_audio, strict=True):
            if not plays:
                continue
            for entry in project.entries(playlist):
                media = project.media(entry.producer_id)
                if media is None or media.resolve() != source:
                    continue
                start, stop = max(entry.record_start, fix.record_start), min(entry.record_stop, fix.record_stop)
                if start < stop and not _is_muted_piece(entry.element):
                    _split_and_mute(project, playlist, entry, start, stop)


def _is_muted_piece(element: ET.Element) -> bool:
    return any(prop(f, "mytalk:mute") == "1" for f in element.findall("filter"))


def _split_and_mute(project: MltProject, playlist: ET.Element, entry: MltEntry, start: int, stop: int) -> None:
    fps = project.fps
    position = list(playlist).index(entry.element)
    playlist.remove(entry.element)
    pieces = [(entry.record_start, start, False), (start, stop, True), (stop, entry.record_stop, False)]
    offset = 0
    for first, last, muted in pieces:
        if last <= first:
            continue
        piece = copy.deepcopy(entry.element)
        piece.set("in", mlt_clock(entry.source_in + first - entry.record_start, fps))
        piece.set("out", mlt_clock(entry.source_in + last - entry.record_start - 1, fps))
        if muted:
            mute = ET.SubElement(piece, "filter")
            mute.extend([_property("mlt_service", MUTE_SERVICE), _property("level", MUTE_LEVEL_DB)])
            if project.flavour == "kdenlive":
                mute.append(_property("kdenlive_id", "volume"))
            elif project.flavour == "shotcut":
                mute.append(_property("shotcut:filter", "audioGain"))
            mute.append(_property("mytalk:mute", "1"))
        playlist.insert(position + offset, piece)
        offset += 1


def _property(name: str, value: str) -> ET.Element:
    element = ET.Element("property", name=name)
    element.text = value
    return element


__all__ = ["Fix", "write_mlt_version"]
