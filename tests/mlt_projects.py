"""Cuts as Kdenlive and Shotcut write them, for the MLT host's tests.

The layouts follow the editors' own files (checked against Kdenlive's test projects and Shotcut's
MLT XML notes), not our reader: Kdenlive 23.04+ (document version 1.1) keeps each track in a tractor
of two playlists, audio tracks below video tracks, an AV clip split into a video instance and an
audio instance of one bin clip, a sequence tractor named by a UUID, `mix` and `qtblend` transitions
added per track, and a last "project tractor" that plays the sequence. Shotcut keeps each track as a
playlist (`shotcut:video` plays picture and sound), a `background` playlist of black, and a `mix`
plus a (bottom-track, disabled) `frei0r.cairoblend` transition per track.

A shot is `(media, first source frame, frames)`; the shots are laid end to end from record frame 0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

Shot = tuple[Path, int, int]
SEQUENCE_UUID = "{6d2c1f0e-8a41-4a53-9a0b-2f9d5c3e7b10}"


def clock(frames: int, fps: Fraction) -> str:
    """MLT's clock form, HH:MM:SS.mmm, as both editors write times."""
    millis = round(Fraction(frames) / fps * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _prop(element: ET.Element, name: str, value: str) -> None:
    ET.SubElement(element, "property", name=name).text = value


def _profile(root: ET.Element, fps: Fraction, size: tuple[int, int]) -> None:
    ET.SubElement(root, "profile", description=f"{size[0]}x{size[1]} {float(fps):g} fps", width=str(size[0]),
                  height=str(size[1]), progressive="1", sample_aspect_num="1", sample_aspect_den="1",
                  display_aspect_num=str(size[0]), display_aspect_den=str(size[1]),
                  frame_rate_num=str(fps.numerator), frame_rate_den=str(fps.denominator), colorspace="601")


def _write(root: ET.Element, path: Path) -> Path:
    ET.indent(root, space=" ")
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return path


def write_kdenlive(path: Path, shots: list[Shot], *, fps: Fraction = Fraction(25), size: tuple[int, int] = (512, 512),
                   lengths: dict[Path, int], audio_index: dict[Path, int] | None = None,
                   overlay: Overlay | None = None) -> Path:
    """A Kdenlive 24 project: tracks A2, A1, V1, V2 (bottom to top); every shot on V1 with its sound on A1.
    `audio_index`: the FFmpeg stream each file's sound is played from (as Kdenlive's clip properties pick one
    of a camera's streams), 1 where not given."""
    streams = audio_index or {}
    total = sum(frames for _, _, frames in shots)
    root = ET.Element("mlt", LC_NUMERIC="C", producer="main_bin", version="7.22.0", root=str(path.parent))
    _profile(root, fps, size)
    black = ET.SubElement(root, "producer", id="producer0", attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    for name, value in (("length", "2147483647"), ("eof", "continue"), ("resource", "black"),
                        ("aspect_ratio", "1"), ("mlt_service", "color"), ("kdenlive:playlistid", "black_track"),
                        ("mlt_image_format", "rgba"), ("set.test_audio", "0")):
        _prop(black, name, value)
    media = sorted({shot[0] for shot in shots}, key=str)
    bin_ids = {file: str(4 + number) for number, file in enumerate(media)}
    chains: dict[tuple[Path, str], str] = {}
    count = 0

    def chain(file: Path, role: str) -> str:
        nonlocal count
        key = (file, role)
        if key not in chains:
            element = ET.SubElement(root, "chain", id=f"chain{count}", out=clock(lengths[file] - 1, fps))
            count += 1
            for name, value in (("length", str(lengths[file])), ("eof", "pause"), ("resource", str(file)),
                                ("mlt_service", "avformat-novalidate"), ("seekable", "1"),
                                ("audio_index", str(streams.get(file, 1))),
                                ("video_index", "0"), ("kdenlive:clipname", file.stem), ("kdenlive:clip_type", "0"),
                                ("kdenlive:folderid", "-1"), ("kdenlive:id", bin_ids[file])):
                _prop(element, name, value)
            if role == "audio":
                _prop(element, "set.test_audio", "0")
                _prop(element, "set.test_image", "1")
            elif role == "video":
                _prop(element, "set.test_audio", "1")
                _prop(element, "set.test_image", "0")
            chains[key] = element.get("id", "")
        return chains[key]

    for file in media:
        chain(file, "bin")
    tracks: list[str] = []
    playlist_count = 0
    for label, audio in (("A2", True), ("A1", True), ("V1", False), ("V2", False)):
        playlists = []
        for sub in range(2):
            playlist = ET.Element("playlist", id=f"playlist{playlist_count}")
            playlist_count += 1
            if audio:
                _prop(playlist, "kdenlive:audio_track", "1")
            if sub == 0 and label in ("A1", "V1"):
                for file, first, frames in shots:
                    entry = ET.SubElement(playlist, "entry", producer=chain(file, "audio" if audio else "video"),
                                          attrib={"in": clock(first, fps), "out": clock(first + frames - 1, fps)})
                    _prop(entry, "kdenlive:id", bin_ids[file])
            if sub == 0 and label == "V2" and overlay is not None:
                _overlay_entries(root, playlist, overlay, fps)
            root.append(playlist)
            playlists.append(playlist.get("id", ""))
        tractor = ET.SubElement(root, "tractor", id=f"tractor{len(tracks)}", attrib={"in": clock(0, fps)})
        if audio:
            _prop(tractor, "kdenlive:audio_track", "1")
        for name, value in (("kdenlive:trackheight", "67"), ("kdenlive:timeline_active", "1"),
                            ("kdenlive:collapsed", "0")):
            _prop(tractor, name, value)
        for playlist_id in playlists:
            ET.SubElement(tractor, "track", hide="video" if audio else "audio", producer=playlist_id)
        tracks.append(tractor.get("id", ""))
    sequence = ET.SubElement(root, "tractor", id=SEQUENCE_UUID, attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    for name, value in (("kdenlive:uuid", SEQUENCE_UUID), ("kdenlive:clipname", "Sequence 1"),
                        ("kdenlive:sequenceproperties.hasAudio", "1"), ("kdenlive:sequenceproperties.hasVideo", "1"),
                        ("kdenlive:sequenceproperties.activeTrack", "2"),
                        ("kdenlive:sequenceproperties.tracksCount", "4"),
                        ("kdenlive:sequenceproperties.documentuuid", SEQUENCE_UUID),
                        ("kdenlive:producer_type", "17"), ("kdenlive:id", "3"), ("kdenlive:clip_type", "0"),
                        ("kdenlive:sequenceproperties.audioTarget", "1"),
                        ("kdenlive:sequenceproperties.videoTarget", "2"),
                        ("kdenlive:sequenceproperties.groups",
                         '[\n    {\n        "children": [\n            {\n                "data": "2:0",\n'
                         '                "leaf": "clip",\n                "type": "Leaf"\n            },\n'
                         '            {\n                "data": "1:0",\n                "leaf": "clip",\n'
                         '                "type": "Leaf"\n            }\n        ],\n        "type": "AVSplit"\n'
                         "    }\n]\n"),
                        ("kdenlive:sequenceproperties.guides", "[\n]\n")):
        _prop(sequence, name, value)
    ET.SubElement(sequence, "track", producer="producer0")
    for track_id in tracks:
        ET.SubElement(sequence, "track", producer=track_id)
    for index, label in enumerate(("A2", "A1", "V1", "V2"), start=1):
        transition = ET.SubElement(sequence, "transition", id=f"transition{index - 1}")
        _prop(transition, "a_track", "0")
        _prop(transition, "b_track", str(index))
        if label.startswith("A"):
            for name, value in (("mlt_service", "mix"), ("kdenlive_id", "mix"), ("internal_added", "237"),
                                ("always_active", "1"), ("accepts_blanks", "1"), ("sum", "1")):
                _prop(transition, name, value)
        else:
            for name, value in (("compositing", "0"), ("distort", "0"), ("rotate_center", "0"),
                                ("mlt_service", "qtblend"), ("kdenlive_id", "qtblend"), ("internal_added", "237"),
                                ("always_active", "1")):
                _prop(transition, name, value)
    main_bin = ET.SubElement(root, "playlist", id="main_bin")
    for name, value in (("kdenlive:docproperties.audioChannels", "2"),
                        ("kdenlive:docproperties.kdenliveversion", "24.02.2"),
                        ("kdenlive:docproperties.profile", "custom"),
                        ("kdenlive:docproperties.uuid", SEQUENCE_UUID), ("kdenlive:docproperties.version", "1.1"),
                        ("kdenlive:docproperties.opensequences", SEQUENCE_UUID),
                        ("kdenlive:docproperties.activetimeline", SEQUENCE_UUID), ("xml_retain", "1")):
        _prop(main_bin, name, value)
    for file in media:
        ET.SubElement(main_bin, "entry", producer=chains[(file, "bin")],
                      attrib={"in": clock(0, fps), "out": clock(lengths[file] - 1, fps)})
    ET.SubElement(main_bin, "entry", producer=SEQUENCE_UUID, attrib={"in": clock(0, fps), "out": clock(0, fps)})
    project = ET.SubElement(root, "tractor", id=f"tractor{len(tracks)}",
                            attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    _prop(project, "kdenlive:projectTractor", "1")
    ET.SubElement(project, "track", producer=SEQUENCE_UUID, attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    return _write(root, path)


def write_shotcut(path: Path, shots: list[Shot], *, fps: Fraction = Fraction(25), size: tuple[int, int] = (512, 512),
                  lengths: dict[Path, int], audio_index: dict[Path, int] | None = None,
                  overlay: Overlay | None = None) -> Path:
    """A Shotcut 24 project: the black background and one video track V1 that plays every shot with its sound.
    `audio_index`: as `write_kdenlive`'s (Shotcut's clip properties pick the stream the same way). `overlay`: a
    colour clip on a video track V2 above, blended onto V1 as Shotcut blends its tracks."""
    streams = audio_index or {}
    total = sum(frames for _, _, frames in shots)
    root = ET.Element("mlt", LC_NUMERIC="C", version="7.22.0", title="Shotcut version 24.02.29", producer="main_bin")
    _profile(root, fps, size)
    main_bin = ET.SubElement(root, "playlist", id="main_bin")
    _prop(main_bin, "xml_retain", "1")
    black = ET.SubElement(root, "producer", id="black", attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    for name, value in (("length", clock(total, fps)), ("eof", "pause"), ("resource", "0"), ("aspect_ratio", "1"),
                        ("mlt_service", "color"), ("mlt_image_format", "rgba"), ("set.test_audio", "0")):
        _prop(black, name, value)
    background = ET.SubElement(root, "playlist", id="background")
    ET.SubElement(background, "entry", producer="black", attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    chains: dict[Path, str] = {}
    for file in sorted({shot[0] for shot in shots}, key=str):
        element = ET.SubElement(root, "chain", id=f"chain{len(chains)}", out=clock(lengths[file] - 1, fps))
        for name, value in (("length", clock(lengths[file], fps)), ("eof", "pause"), ("resource", str(file)),
                            ("mlt_service", "avformat-novalidate"), ("seekable", "1"),
                            ("audio_index", str(streams.get(file, 1))),
                            ("video_index", "0"), ("mute_on_pause", "0"), ("shotcut:caption", file.name),
                            ("xml", "was here")):
            _prop(element, name, value)
        chains[file] = element.get("id", "")
    playlist = ET.SubElement(root, "playlist", id="playlist0")
    _prop(playlist, "shotcut:video", "1")
    _prop(playlist, "shotcut:name", "V1")
    for file, first, frames in shots:
        ET.SubElement(playlist, "entry", producer=chains[file],
                      attrib={"in": clock(first, fps), "out": clock(first + frames - 1, fps)})
    tractor = ET.SubElement(root, "tractor", id="tractor0", title="Shotcut version 24.02.29",
                            attrib={"in": clock(0, fps), "out": clock(total - 1, fps)})
    for name, value in (("shotcut", "1"), ("shotcut:projectAudioChannels", "2"), ("shotcut:projectFolder", "0")):
        _prop(tractor, name, value)
    ET.SubElement(tractor, "track", producer="background")
    ET.SubElement(tractor, "track", producer="playlist0")
    mix = ET.SubElement(tractor, "transition", id="transition0")
    for name, value in (("a_track", "0"), ("b_track", "1"), ("mlt_service", "mix"), ("always_active", "1"),
                        ("sum", "1")):
        _prop(mix, name, value)
    blend = ET.SubElement(tractor, "transition", id="transition1")
    for name, value in (("a_track", "0"), ("b_track", "1"), ("version", "0.1"), ("mlt_service", "frei0r.cairoblend"),
                        ("threads", "0"), ("disable", "1")):
        _prop(blend, name, value)
    if overlay is not None:
        upper = ET.Element("playlist", id="playlist1")
        _prop(upper, "shotcut:video", "1")
        _prop(upper, "shotcut:name", "V2")
        _overlay_entries(root, upper, overlay, fps)
        root.insert(list(root).index(tractor), upper)
        ET.SubElement(tractor, "track", producer="playlist1")
        for number, service, extra in ((2, "mix", (("a_track", "0"), ("sum", "1"))),
                                       (3, "qtblend", (("a_track", "1"), ("compositing", "0")))):
            transition = ET.SubElement(tractor, "transition", id=f"transition{number}")
            for name, value in (*extra, ("b_track", "2"), ("mlt_service", service), ("always_active", "1")):
                _prop(transition, name, value)
    return _write(root, path)


@dataclass(frozen=True)
class Overlay:
    """A colour clip over record frames [start, start + frames), as a title or a lower third lies over a shot: a
    colour with alpha (`0xRRGGBBAA`, MLT's colour producer)."""

    start: int
    frames: int
    colour: str


def _overlay_entries(root: ET.Element, playlist: ET.Element, overlay: Overlay, fps: Fraction) -> None:
    producer = ET.SubElement(root, "producer", id="overlay_colour",
                             attrib={"in": clock(0, fps), "out": clock(overlay.frames - 1, fps)})
    for name, value in (("length", clock(overlay.frames, fps)), ("eof", "pause"), ("resource", overlay.colour),
                        ("mlt_service", "color"), ("mlt_image_format", "rgba"), ("set.test_audio", "0")):
        _prop(producer, name, value)
    root.remove(producer)
    root.insert(0 if root.find("profile") is None else list(root).index(root.find("profile")) + 1, producer)
    if overlay.start:
        ET.SubElement(playlist, "blank", length=clock(overlay.start, fps))
    ET.SubElement(playlist, "entry", producer="overlay_colour",
                  attrib={"in": clock(0, fps), "out": clock(overlay.frames - 1, fps)})
