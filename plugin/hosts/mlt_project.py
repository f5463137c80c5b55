"""MLT XML projects (Kdenlive `.kdenlive`, Shotcut `.mlt`) read into their tracks and clips.

Both editors save their timeline as MLT XML, the format MLT's `melt` renders; they differ only in
how a track is held:
- **Kdenlive** (20.08+; 23.04+ adds sequences, document version 1.1): each track is a tractor of
  two playlists (the second holds same-track mixes), marked `kdenlive:audio_track` for audio, with
  `hide="audio"` on a video track's playlists. An AV clip is split into a video instance on a video
  track and an audio instance on an audio track. Audio tracks come first (bottom), then video
  tracks. The last tractor (`kdenlive:projectTractor`) plays the active sequence, a tractor named
  by a UUID.
- **Shotcut**: each track is a playlist (`shotcut:video` plays picture and sound, `shotcut:audio`
  is sound only), after a `background` playlist of black.
- Any other MLT XML: a track is whatever the played tractor's `<track>` names; `hide="video"`
  makes it an audio track.

What `melt` plays is the last top-level service of the document; a tractor with one track that is
itself a tractor (Kdenlive's project tractor) is looked through to the sequence.

Times in MLT XML are frames (`124`), clock time (`00:00:04.960`, what both editors write) or SMPTE
(`00:00:04:24`), all at the profile's frame rate. Clock time is rounded to milliseconds by the
writer, so it is read back to the nearest frame.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from mytalk.core.errors import UsageError

PLAYABLE = ("tractor", "playlist", "producer", "chain", "multitrack")
"""Top-level elements that MLT's XML loader can hand to a consumer (the last one is played)."""
MEDIA_SERVICES = ("avformat", "avformat-novalidate", "timewarp", "qimage", "pixbuf")
"""Producer services whose `resource` is a media file (not a colour, a title or a generator)."""
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:[.,]\d+)?)$")
_SMPTE = re.compile(r"^(\d+):(\d+):(\d+)[:;](\d+)$")


def mlt_time(text: str | None, fps: Fraction, *, default: int = 0) -> int:
    """Frames of an MLT time value: `124`, `00:00:04.960` (clock) or `00:00:04:24` (SMPTE)."""
    if text is None or not text.strip():
        return default
    raw = text.strip()
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    match = _SMPTE.match(raw)
    if match:
        hours, minutes, seconds, frames = (int(part) for part in match.groups())
        nominal = round(fps)
        return ((hours * 60 + minutes) * 60 + seconds) * nominal + frames
    match = _CLOCK.match(raw)
    if match:
        hours = int(match.group(1) or 0)
        clock = Fraction(match.group(3).replace(",", ".")) + 60 * (int(match.group(2)) + 60 * hours)
        return round(clock * fps)
    raise UsageError(f"MLT time {raw!r} is not frames, HH:MM:SS.mmm or HH:MM:SS:FF; save the project again")


def mlt_clock(frames: int, fps: Fraction) -> str:
    """Frames as MLT clock time (HH:MM:SS.mmm), as Kdenlive and Shotcut write it.

    Milliseconds round-trip exactly to frames at every rate up to 500 fps: the error is at most
    half a millisecond, far less than half a frame.
    """
    millis = round(Fraction(frames) / fps * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def prop(element: ET.Element, name: str) -> str | None:
    """An MLT property (`<property name=...>value</property>`) of an element, or None."""
    for child in element.findall("property"):
        if child.get("name") == name:
            return child.text or ""
    return None


def set_prop(element: ET.Element, name: str, value: str) -> None:
    """Set an MLT property, adding it after the element's other properties when it is new."""
    for child in element.findall("property"):
        if child.get("name") == name:
            child.text = value
            return
    properties = element.findall("property")
    new = ET.Element("property", name=name)
    new.text = value
    element.insert(list(element).index(properties[-1]) + 1 if properties else 0, new)


@dataclass(frozen=True)
class MltEntry:
    """One `<entry>` of a playlist: its record span (profile frames) and the source frame it starts at."""

    record_start: int
    frames: int
    source_in: int
    producer_id: str
    element: ET.Element

    @property
    def record_stop(self) -> int:
        return self.record_start + self.frames


@dataclass(frozen=True)
class MltTrack:
    """A track of the played tractor: its index there (0 is the bottom), name, kind and playlists."""

    index: int
    name: str
    audio: bool
    enabled: bool
    playlists: tuple[ET.Element, ...]
    plays_audio: tuple[bool, ...]
    """Per playlist: whether MLT plays its sound (not hidden on the playlist's track or above)."""
    service: ET.Element
    """What the played tractor's `<track>` names: Kdenlive's tractor of the two playlists, else the playlist.
    A track effect is a `<filter>` in it (and Kdenlive's in the tractor)."""


class MltProject:
    """An MLT XML document, its profile and the tracks of the tractor it plays."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        try:
            parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
            self.root = ET.fromstring(text, parser=parser)
        except ET.ParseError as error:
            raise UsageError(f"{path.name}: not readable as MLT XML ({error}); save the project again") from None
        if self.root.tag != "mlt":
            raise UsageError(f"{path.name}: its root element is <{self.root.tag}>, not <mlt>; "
                             "open a Kdenlive or Shotcut project file")
        self.by_id: dict[str, ET.Element] = {e.get("id", ""): e for e in self.root.iter() if e.get("id")}
        self.fps = self._profile_rate()
        self.flavour = self._flavour()
        self.sequence = self._played_tractor()
        self.tracks = self._tracks()

    # -- document --------------------------------------------------------------------------------

    def _profile_rate(self) -> Fraction:
        profile = self.root.find("profile")
        if profile is None:
            raise UsageError(f"{self.path.name}: has no <profile> (frame rate); save it from Kdenlive or Shotcut")
        try:
            return Fraction(int(profile.get("frame_rate_num", "")), int(profile.get("frame_rate_den", "1")))
        except (ValueError, ZeroDivisionError):
            raise UsageError(f"{self.path.name}: its profile has no valid frame rate; "
                             "set the project's video settings and save it again") from None

    def _flavour(self) -> str:
        main_bin = self.by_id.get("main_bin")
        if main_bin is not None and any((p.get("name") or "").startswith("kdenlive:") for p in main_bin):
            return "kdenlive"
        if any(prop(tractor, "shotcut") is not None for tractor in self.root.findall("tractor")):
            return "shotcut"
        return "mlt"

    def _played_tractor(self) -> ET.Element:
        played = [child for child in self.root if child.tag in PLAYABLE and child.get("id") != "main_bin"]
        if not played or played[-1].tag != "tractor":
            raise UsageError(f"{self.path.name}: has no timeline (the last service is not a tractor); "
                             "save a project with a timeline")
        tractor = played[-1]
        # Kdenlive's project tractor wraps the active sequence: look through one-track wrappers
        # (each once: a file that wraps a tractor in itself must not hang the panel).
        seen = {id(tractor)}
        while True:
            tracks = tractor.findall("track")
            inner = self.by_id.get(tracks[0].get("producer", "")) if len(tracks) == 1 else None
            if inner is None or inner.tag != "tractor" or id(inner) in seen:
                return tractor
            seen.add(id(inner))
            tractor = inner

    def is_background(self, element: ET.Element) -> bool:
        """The black track under everything: Kdenlive's `black_track`, Shotcut's `background`."""
        if element.get("id") in ("black_track", "background") or prop(element, "kdenlive:playlistid") == "black_track":
            return True
        entries = element.findall("entry")
        return element.tag == "playlist" and bool(entries) and all(
            prop(self.by_id.get(e.get("producer", ""), ET.Element("x")), "mlt_service") == "color" for e in entries)

    def _tracks(self) -> list[MltTrack]:
        tracks: list[MltTrack] = []
        elements = self.sequence.findall("track")
        audio_seen = video_seen = 0
        audio_total = sum(1 for element in elements if self._is_audio(element))
        # Names as the editors show them: V1 is the lowest video track; Kdenlive's A1 is the audio
        # track nearest the video (the last one), Shotcut's A1 the first.
        for index, element in enumerate(elements):
            service = self.by_id.get(element.get("producer", ""))
            if service is None:
                raise UsageError(f"{self.path.name}: track {index} plays {element.get('producer')!r}, which the "
                                 "file does not define; save the project again")
            if index == 0 and self.is_background(service):
                continue
            audio = self._is_audio(element)
            hide = element.get("hide", "")
            if service.tag == "tractor":  # a Kdenlive track: two playlists
                inner = service.findall("track")
                playlists = tuple(self.by_id[t.get("producer", "")] for t in inner if t.get("producer") in self.by_id)
                plays = tuple(hide not in ("audio", "both") and t.get("hide", "") not in ("audio", "both")
                              for t in inner if t.get("producer") in self.by_id)
                hidden_video = hide in ("video", "both") or all(t.get("hide") in ("video", "both") for t in inner)
            else:
                playlists = (service,)
                plays = (hide not in ("audio", "both"),)
                hidden_video = hide in ("video", "both")
            if audio:
                audio_seen += 1
                default = f"A{audio_total - audio_seen + 1}" if self.flavour == "kdenlive" else f"A{audio_seen}"
            else:
                video_seen += 1
                default = f"V{video_seen}"
            name = prop(service, "kdenlive:track_name") or prop(service, "shotcut:name") or default
            tracks.append(MltTrack(index, name, audio, not (hidden_video if not audio else hide == "both"),
                                   playlists, plays, service))
        return tracks

    def _is_audio(self, track: ET.Element) -> bool:
        service = self.by_id.get(track.get("producer", ""))
        if service is None:
            return False
        if prop(service, "kdenlive:audio_track") == "1" or prop(service, "shotcut:audio") == "1":
            return True
        if prop(service, "shotcut:video") == "1":
            return False
        return track.get("hide") == "video"

    # -- clips -----------------------------------------------------------------------------------

    def entries(self, playlist: ET.Element) -> list[MltEntry]:
        """The playlist's entries with their record frames, blanks counted (`length`, profile frames)."""
        result: list[MltEntry] = []
        cursor = 0
        for child in playlist:
            if child.tag == "blank":
                cursor += mlt_time(child.get("length"), self.fps)
            elif child.tag == "entry":
                producer = self.by_id.get(child.get("producer", ""))
                if producer is None:
                    raise UsageError(f"{self.path.name}: playlist {playlist.get('id')} uses "
                                     f"{child.get('producer')!r}, which the file does not define")
                first = mlt_time(child.get("in") or producer.get("in"), self.fps)
                last = mlt_time(child.get("out") or producer.get("out"), self.fps,
                                default=self.length(producer) - 1)
                frames = last - first + 1
                result.append(MltEntry(cursor, frames, first, child.get("producer", ""), child))
                cursor += frames
        return result

    def length(self, producer: ET.Element) -> int:
        """A producer's length in profile frames (its `length` property, else its `out` + 1)."""
        length = prop(producer, "length")
        if length:
            return mlt_time(length, self.fps)
        return mlt_time(producer.get("out"), self.fps) + 1

    def media(self, producer_id: str) -> Path | None:
        """The media file a producer plays: Kdenlive's original for a proxy, a timewarp's own file."""
        producer = self.by_id.get(producer_id)
        if producer is None or (prop(producer, "mlt_service") or "avformat") not in MEDIA_SERVICES:
            return None
        resource = (prop(producer, "kdenlive:originalurl") or prop(producer, "warp_resource")
                    or prop(producer, "resource"))
        if not resource:
            return None
        if prop(producer, "mlt_service") == "timewarp" and not prop(producer, "warp_resource"):
            resource = resource.split(":", 1)[1] if ":" in resource else resource
        return self.resolve(resource)

    def resolve(self, resource: str) -> Path:
        """A resource as an absolute path: relative ones are under the document's `root` (MLT's rule)."""
        parsed = urlparse(resource)
        path = Path(url2pathname(unquote(parsed.path))) if parsed.scheme == "file" else Path(resource)
        if path.is_absolute():
            return path
        base = Path(self.root.get("root") or "") if self.root.get("root") else self.path.parent
        return base / path

    def speed(self, producer_id: str) -> float:
        """The producer's playback speed (1.0 unless it is a timewarp)."""
        producer = self.by_id.get(producer_id)
        if producer is None or prop(producer, "mlt_service") != "timewarp":
            return 1.0
        try:
            return float(prop(producer, "warp_speed") or "1")
        except ValueError:
            return 1.0

    def name_of(self, producer_id: str) -> str:
        producer = self.by_id.get(producer_id, ET.Element("x"))
        media = self.media(producer_id)
        return (prop(producer, "kdenlive:clipname") or prop(producer, "shotcut:caption")
                or (media.name if media else producer_id))


__all__ = ["MEDIA_SERVICES", "MltEntry", "MltProject", "MltTrack", "mlt_clock", "mlt_time", "prop", "set_prop"]
