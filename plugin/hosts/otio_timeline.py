"""Timeline files as a host: OpenTimelineIO `.otio`, CMX 3600 `.edl` and FCP 7 `.xml`.

`mytalk panel --timeline CUT.otio` lists the cut's clips; the editor picks one by its record
range, the panel gets the matching source frames, and each commit writes a **new** timeline
version next to the cut, `CUT_mytalk_v001.otio` (then v002 ...), with the fixed clip on a track
of its own above the picture, at the same record time. The cut's file is never written.

Several commits in one session accumulate: v002 holds the fix of v001 and the new one, because
the version is built from the original cut plus every fix placed so far.

Format notes (what OTIO's adapters can and cannot carry):
- `.otio` keeps everything, including the `mytalk` provenance metadata on the fixed clip; it is
  always written, whatever the input format.
- `.xml` (FCP 7, also Premiere's and Resolve's interchange) is written as well: the cut's own XML with
  the MyTalk tracks added (`fcp_version`), because OTIO's FCP writer drops every clip's filters.
- A fix is seen as the clip it covers: it gets copies of that clip's effects (a reframe, a crop, an
  opacity, a grade). A clip with a speed change or a keyframed effect is refused (`shot`).
- `.edl` holds a single video track, so the same-format version is an EDL of the fixes only,
  at their record timecodes, to lay over the original cut in the NLE.
- The CMX reader drops the cut's first record timecode (it starts the track at 0), so it is read
  from the first event and added back (to the EDL's records, and as the `.otio`'s global start
  time), and rates come from the media, because an EDL has none.
- Each file type is versioned on its own: `CUT_mytalk_v001.edl` counts only `.edl` files, so the
  first EDL of fixes is v001 even beside earlier `.otio` versions.

Conform: a fix's source range is the render's own timecode (the source's timecode at the in
point, `mytalk.core.media.writer`), and its reel is the render's reel, `MT` and six characters,
written into the EDL as is (8 characters, so never truncated) and never one of the cut's reels,
so a conform cannot link the fix to the camera original or the original to the fix.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname
from xml.etree import ElementTree

import opentimelineio as otio
from opentimelineio import opentime

from mytalk.core.errors import MediaNotFoundError, MyTalkError, RangeError, UsageError
from mytalk.core.jobs.staging import StagedOutputs
from mytalk.core.jobs.versioning import reserve_version
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.media.writer import edl_reel_name, render_reel_name
from mytalk.core.timecode import frames_to_smpte, is_drop_frame_rate, parse_position
from mytalk.plugin.hosts import HostError, Placement, Shot
from mytalk.plugin.hosts.timeline import most_overlapped, stacked_above

if TYPE_CHECKING:
    from mytalk.plugin.hosts.fcp_audio import FcpAudioItems

ADAPTERS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml"}
FIX_TRACK_NAME = "MyTalk"
DEFAULT_EDL_RATE = Fraction(24)
_EDL_EVENT = re.compile(
    r"^(?P<head>\d{3,}\s+\S+\s+\S+\s+\S+(?:\s+\d+)?\s+"
    r"\d{2}:\d{2}:\d{2}[:;]\d{2}\s+\d{2}:\d{2}:\d{2}[:;]\d{2}\s+)"
    r"(?P<rec_in>\d{2}:\d{2}:\d{2}[:;]\d{2})(?P<gap>\s+)(?P<rec_out>\d{2}:\d{2}:\d{2}[:;]\d{2})",
    re.MULTILINE,
)


def rate_of(value: float) -> Fraction:
    """An exact rate from OTIO's float rates: 23.976... -> 24000/1001, 25.0 -> 25."""
    for exact in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001), Fraction(48000, 1001)):
        if abs(float(exact) - value) < 1e-3:
            return exact
    return Fraction(value).limit_denominator(1001)


def media_path(clip: otio.schema.Clip, cut: Path) -> Path | None:
    """The file a clip plays, from its reference's URL (file://, plain or relative to the cut)."""
    reference = clip.media_reference
    url = getattr(reference, "target_url", None)
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(url2pathname(unquote(parsed.path)))
    elif parsed.scheme and len(parsed.scheme) > 1:
        return None  # http(s) and friends: not a local file
    else:
        path = Path(url)
    return path if path.is_absolute() else (cut.parent / path)


@dataclass(frozen=True)
class TimelineClip:
    """One video clip of the cut: record span (frames from the cut's start) and its media."""

    number: int
    name: str
    track_index: int
    track_name: str
    record_start: int
    record_stop: int
    source_start: int
    media: Path | None
    clip: Any

    @property
    def frames(self) -> int:
        return self.record_stop - self.record_start


class OtioTimeline:
    """A cut read through OpenTimelineIO; picks shots and writes new versions with fixes."""

    name = "timeline"
    formats: dict[str, str] = ADAPTERS
    """Suffix -> reader; a subclass for another family of formats supplies its own (and `_read`)."""

    def __init__(self, path: Path, *, rate: Fraction | None = None) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise MediaNotFoundError(f"timeline not found: {self.path}")
        self.suffix = self.path.suffix.lower()
        if self.suffix not in self.formats:
            raise UsageError(f"{self.path.name}: unsupported timeline format; use {', '.join(self.formats)}")
        self._probes: dict[Path, MediaInfo] = {}
        self._clip_list: list[TimelineClip] | None = None  # the cut's clips, listed once (`clips`)
        self._text = self.path.read_text(encoding="utf-8", errors="replace")
        self.timeline = self._read(rate)
        self.fps = self._timeline_rate()
        self.record_offset = self._record_offset()
        self._fixes: list[tuple[int, otio.schema.Clip]] = []
        self._fcp_audio: FcpAudioItems | None = None  # an FCP XML's audio items, read at the first shot

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, rate: Fraction | None) -> otio.schema.Timeline:
        adapter = ADAPTERS[self.suffix]
        try:
            read = self._parse(adapter, rate)
        except MyTalkError:
            raise
        except (otio.exceptions.OTIOError, ValueError, KeyError, TypeError, ElementTree.ParseError) as error:
            # The adapters report a damaged file in their own ways: OTIOError (EDL), ValueError (a JSON
            # syntax error, an FCP XML without a sequence), KeyError (an OTIO object missing a field),
            # ParseError (broken XML). Each is the file's fault, not ours: one line, exit 2.
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UsageError(f"{self.path.name}: cannot be read as {adapter} ({detail}); export the cut again") from None
        return self._one_timeline(read)

    def _one_timeline(self, read: Any) -> otio.schema.Timeline:
        """The timeline in what an adapter returned: a file may hold another OTIO object (a bare clip, a
        dictionary) or a collection of several sequences, and neither names one cut to work on."""
        if isinstance(read, otio.schema.SerializableCollection):
            timelines = [item for item in read if isinstance(item, otio.schema.Timeline)]
            if len(timelines) == 1:
                return timelines[0]
            if timelines:
                names = ", ".join(repr(t.name) for t in timelines[:5])
                raise UsageError(f"{self.path.name}: holds {len(timelines)} sequences ({names}); "
                                 "export the one cut to work on by itself")
        if not isinstance(read, otio.schema.Timeline):
            raise UsageError(f"{self.path.name}: holds no timeline (it reads as {type(read).__name__}); "
                             "export the cut as a timeline")
        return read

    def _parse(self, adapter: str, rate: Fraction | None) -> Any:
        """What the adapter reads from the file (see `_read` for its errors)."""
        if adapter != "cmx_3600":
            return otio.adapters.read_from_string(self._text, adapter)
        # An EDL has no rate of its own: read it, probe its first playable media for the
        # rate, and read again at that rate when it differs.
        if rate is None:
            # A provisional read only to find the media: at a wrong rate, source and record
            # durations may disagree by a frame, which is not an error yet.
            rate = DEFAULT_EDL_RATE
            draft = otio.adapters.read_from_string(self._text, adapter, rate=float(rate),
                                                   ignore_timecode_mismatch=True)
            for clip in draft.find_clips():
                path = media_path(clip, self.path)
                if path is not None and path.is_file():
                    rate = self._probe(path).video.fps  # type: ignore[union-attr]
                    break
        return otio.adapters.read_from_string(self._text, adapter, rate=float(rate))

    def _probe(self, path: Path) -> MediaInfo:
        info = self._probes.get(path)
        if info is None:
            info = self._probes[path] = probe(path)
            if info.video is None:
                raise UsageError(f"{path}: has no video; the clip's media must be a video file")
        return info

    def _timeline_rate(self) -> Fraction:
        for track in self.timeline.video_tracks():
            for item in track:
                return rate_of(item.duration().rate)
        raise UsageError(f"{self.path.name}: the cut has no video clips")

    def _record_offset(self) -> int:
        """Frames of the cut's start timecode (01:00:00:00 is 90000 at 25 fps)."""
        start = self.timeline.global_start_time
        if start is not None:
            return int(round(start.value_rescaled_to(float(self.fps))))
        if self.suffix == ".edl":
            match = _EDL_EVENT.search(self._text)
            if match:
                return parse_position(match.group("rec_in"), self.fps, what="EDL record in")
        return 0

    def record_timecode(self, frame: int) -> str:
        return frames_to_smpte(self.record_offset + frame, self.fps)

    def parse_record(self, text: str) -> int:
        """A typed record position: frames from the cut's start, seconds, or the cut's timecode."""
        raw = text.strip()
        if ":" in raw or ";" in raw:
            return parse_position(raw, self.fps, what="record position") - self.record_offset
        return parse_position(raw, self.fps, what="record position")

    def clips(self) -> list[TimelineClip]:
        """Video clips of every track, top track first, in record order. Listed once: the cut is read once
        and never changed (a version is a copy), and a batch asks for the clip under each of its shots."""
        if self._clip_list is None:
            self._clip_list = self._list_clips()
        return list(self._clip_list)

    def _list_clips(self) -> list[TimelineClip]:
        result: list[TimelineClip] = []
        tracks = list(self.timeline.video_tracks())
        for track_index in reversed(range(len(tracks))):
            track = tracks[track_index]
            if not track.enabled:
                continue
            for item in track:
                if not isinstance(item, otio.schema.Clip):
                    continue
                span = item.range_in_parent()
                start = int(round(span.start_time.value_rescaled_to(float(self.fps))))
                frames = int(round(span.duration.value_rescaled_to(float(self.fps))))
                path = media_path(item, self.path)
                result.append(TimelineClip(len(result) + 1, item.name or (path.name if path else "clip"),
                                           track_index, track.name or f"V{track_index + 1}", start, start + frames,
                                           0, path, item))
        return sorted(result, key=lambda c: (c.record_start, -c.track_index))

    def clip_at(self, record_start: int, record_stop: int | None = None) -> TimelineClip:
        """The clip under a record range: most overlap wins, the upper track on a tie. A clip that plays a
        media file is picked before one that plays none (a title, a lower third, a colour or a generator over
        the shot: nothing there to fix); one of those only where no clip with a file lies under the range."""
        record_stop = record_start + 1 if record_stop is None else record_stop
        if record_stop <= record_start:
            raise RangeError(f"record range {self.record_timecode(record_start)}-{self.record_timecode(record_stop)} "
                             "is empty; put the out after the in")
        clips = self.clips()
        picked = most_overlapped(((clip.record_start, clip.record_stop, clip.track_index, clip)
                                  for clip in clips if clip.media is not None), record_start, record_stop)
        if picked is None:
            picked = most_overlapped(((clip.record_start, clip.record_stop, clip.track_index, clip) for clip in clips),
                                     record_start, record_stop)
        if picked is None:
            raise RangeError(f"no video clip of {self.path.name} lies under "
                             f"{self.record_timecode(record_start)}-{self.record_timecode(record_stop)}; "
                             "mark a range over a clip")
        return picked

    # -- mapping to source frames ----------------------------------------------------------------

    def _source_frame(self, clip: TimelineClip, record_frame: int) -> int:
        """Clip-relative frame of the media shown at `record_frame` (assumes no speed change)."""
        item = clip.clip
        assert clip.media is not None
        info = self._probe(clip.media)
        video = info.video
        assert video is not None
        record_time = opentime.RationalTime(record_frame - clip.record_start, float(self.fps))
        source_time = item.source_range.start_time + record_time.rescaled_to(item.source_range.start_time.rate)
        available = item.media_reference.available_range
        if available is not None:
            origin = available.start_time
        elif video.start_timecode:
            # EDLs give source timecode; the file's own start timecode is its frame 0.
            origin = _timecode_time(video.start_timecode, video.fps)
        else:
            origin = opentime.RationalTime(0, source_time.rate)
        offset = (source_time - origin.rescaled_to(source_time.rate)).to_seconds()
        return int(round(Fraction(offset).limit_denominator(1_000_000) * video.fps))

    def shot(self, record_start: int, record_stop: int | None = None) -> Shot:
        """Pick the clip under [record_start, record_stop) and map that range to source frames.

        The range is clipped to the picked clip; record frames count from the cut's start.
        """
        picked = self.clip_at(record_start, record_stop)
        if picked.media is None:
            raise MediaNotFoundError(f"clip {picked.name!r} at {self.record_timecode(picked.record_start)} has no media "
                                     "file in the cut; relink it in the NLE and export again")
        if not picked.media.is_file():
            raise MediaNotFoundError(f"clip {picked.name!r}: its media {picked.media} is not found; relink it")
        timing = [effect for effect in picked.clip.effects if _changes_time(effect)]
        if timing:
            raise UsageError(f"clip {picked.name!r} has a speed change ({timing[0].name or 'time effect'}); render it "
                             "out first, MyTalk maps frames one to one")
        keyed = [effect for effect in picked.clip.effects if _is_keyframed(effect)]
        if keyed:
            raise UsageError(f"clip {picked.name!r} has a keyframed effect ({keyed[0].name or 'effect'}), which MyTalk "
                             "cannot time on the fix; render the clip with it first, or remove its keyframes")
        info = self._probe(picked.media)
        video = info.video
        assert video is not None
        if video.fps != self.fps:
            raise UsageError(f"clip {picked.name!r} is {float(video.fps):.3f} fps in a {float(self.fps):.3f} fps cut; "
                             "MyTalk needs the clip at the cut's rate")
        start = max(record_start, picked.record_start)
        stop = min(picked.record_stop, record_stop if record_stop is not None else picked.record_stop)
        source_start = self._source_frame(picked, start)
        source_stop = source_start + (stop - start)
        if source_start < 0 or source_stop > video.frame_count:
            raise RangeError(f"clip {picked.name!r} uses frames {source_start}-{source_stop} but {picked.media.name} has "
                             f"{video.frame_count}; the cut and the media disagree, relink the clip")
        return Shot(name=picked.name, video=picked.media, source_start=source_start, source_stop=source_stop,
                    record_start=start, record_fps=self.fps, record_offset=self.record_offset,
                    drop_frame=is_drop_frame_rate(self.fps) or None,
                    host_data={"clip_number": picked.number, "track": picked.track_name},
                    guide_channels=guide_pick(picked.media, self._heard_channels(picked, start, stop)))

    def _heard_channels(self, picked: TimelineClip, start: int, stop: int) -> list[int] | None:
        """The channels (from 1, across the file's streams) of `picked`'s media that the cut plays with it over
        record frames [start, stop), or None where the cut does not say: an FCP 7 XML's audio items name
        theirs (`fcp_audio`); OTIO and EDL cuts keep none."""
        if self.suffix != ".xml" or picked.media is None:
            return None
        if self._fcp_audio is None:
            from mytalk.plugin.hosts.fcp_audio import FcpAudioItems

            self._fcp_audio = FcpAudioItems(self._text, self.path)
        return self._fcp_audio.heard_channels(picked.media, start, stop)

    def current_shot(self) -> Shot:
        """A timeline file has no playhead or marks of its own: the first clip, whole."""
        clips = self.clips()
        if not clips:
            raise UsageError(f"{self.path.name}: the cut has no video clips")
        return self.shot(clips[0].record_start, clips[0].record_stop)

    # -- writing versions ------------------------------------------------------------------------

    def cut_reels(self) -> set[str]:
        """Every reel the cut's clips go by, as an EDL writer names them (upper case, 8 characters):
        the EDL's own reel, else the media's or the clip's name, cut as the CMX writer cuts it."""
        reels: set[str] = set()
        for clip in self.timeline.find_clips():
            reel = clip.metadata.get("cmx_3600", {}).get("reel")
            url = getattr(clip.media_reference, "target_url", None) or ""
            names = [reel] if reel else [getattr(clip.media_reference, "name", None) or os.path.basename(url),
                                         clip.name]
            reels |= {edl_reel_name(name) for name in names if name}
        return reels - {""}

    def _fix_clip(self, render: Path, start: int, frames: int, provenance: dict[str, Any],
                  source: Path | None = None) -> otio.schema.Clip:
        """The fix as a clip: the render's own timecode as its source range, the render's reel as its reel."""
        info = self._probe(render)
        video = info.video
        assert video is not None
        rate = float(video.fps)
        first = _timecode_time(video.start_timecode, video.fps) if video.start_timecode else \
            opentime.RationalTime(0, rate)
        taken = self.cut_reels()
        if source is not None:
            source_video = self._probe(source).video
            taken |= {edl_reel_name(name) for name in (source.name, source_video and source_video.reel_name) if name}
        # mp4 has no place for a reel: then the writer's own choice is made again.
        reel = video.reel_name or render_reel_name(render.name, taken)
        if edl_reel_name(reel) in taken:
            raise HostError(f"{render.name}: its reel {reel} is also a reel of {self.path.name}, so a conform could "
                            "link the wrong media; commit again (a new version gets a new reel)")
        available = opentime.TimeRange(first, opentime.RationalTime(video.frame_count, rate))
        reference = otio.schema.ExternalReference(target_url=str(render.resolve()), available_range=available)
        clip = otio.schema.Clip(name=render.stem, media_reference=reference,
                                source_range=opentime.TimeRange(first, opentime.RationalTime(frames, rate)))
        clip.metadata["mytalk"] = {**provenance, "reel": reel, "source_timecode": video.start_timecode}
        clip.effects.extend(self._covered_effects(start, frames, source))
        # An explicit reel is written as is by the CMX writer, instead of one cut from the file name.
        clip.metadata["cmx_3600"] = {"reel": reel}
        return clip

    def _covered_clip(self, start: int, frames: int, source: Path | None) -> TimelineClip | None:
        """The clip a fix of `source` over record frames [start, start + frames) covers: the clip under them
        (`clip_at`) when it plays that source, else None."""
        if source is None:
            return None
        try:
            covered = self.clip_at(start, start + frames)
        except RangeError:
            return None
        if covered.media is None or os.path.realpath(covered.media) != os.path.realpath(source):
            return None
        return covered

    def _covered_effects(self, start: int, frames: int, source: Path | None) -> list[otio.schema.Effect]:
        """Copies of the effects of the clip the fix covers (its source under the fix's record frames), so the
        fix is seen as the clip is: a reframe, a crop, an opacity, a grade. Time effects and keyframed ones never
        reach here (`shot` refuses such a clip)."""
        covered = self._covered_clip(start, frames, source)
        if covered is None:
            return []
        return [copy.deepcopy(effect) for effect in covered.clip.effects
                if not _changes_time(effect) and not _is_keyframed(effect)]

    def _fix_layers(self) -> list[list[tuple[int, otio.schema.Clip]]]:
        """Every fix so far, (record start, clip), in layers of fixes that do not overlap: each on the lowest
        layer where it fits."""
        layers: list[list[tuple[int, otio.schema.Clip]]] = []
        for start, clip in sorted(self._fixes, key=lambda fix: fix[0]):
            for placed in layers:
                last_start, last_clip = placed[-1]
                if last_start + self._frames_of(last_clip) <= start:
                    placed.append((start, clip))
                    break
            else:
                layers.append([(start, clip)])
        return layers

    def _frames_of(self, clip: otio.schema.Clip) -> int:
        return int(round(clip.source_range.duration.value_rescaled_to(float(self.fps))))

    def _version_timeline(self) -> otio.schema.Timeline:
        """The original cut plus every fix so far. A layer's fixes over one track go on a MyTalk track of their
        own directly above that track, under whatever the cut shows above the clip (a title, a lower third, a
        logo): laid on top of everything, a fix would hide those for its range. A fix that covers no clip of
        the cut goes on top."""
        timeline = copy.deepcopy(self.timeline)
        timeline.name = f"{self.timeline.name or self.path.stem} (MyTalk)"
        if timeline.global_start_time is None and self.record_offset:
            # The cut's start timecode, which the CMX reader drops (01:00:00:00 in most cuts).
            timeline.global_start_time = opentime.RationalTime(self.record_offset, float(self.fps))
        def track_under(fix: tuple[int, otio.schema.Clip]) -> int | None:
            start, clip = fix
            source = clip.metadata.get("mytalk", {}).get("source_clip")
            covered = self._covered_clip(start, self._frames_of(clip), Path(source) if source else None)
            return None if covered is None else covered.track_index

        above: dict[int, list[otio.schema.Track]] = {}
        stacks = stacked_above(self._fix_layers(), track_under, len(self.timeline.video_tracks()) - 1)
        for count, (under, placed) in enumerate(stacks, start=1):
            track = self._fix_track(FIX_TRACK_NAME if count == 1 else f"{FIX_TRACK_NAME} {count}", placed)
            track.metadata["mytalk"] = {"fixes": True}
            above.setdefault(under, []).append(track)
        ordered: list[otio.schema.Track] = []
        video_seen = 0
        for track in list(timeline.tracks):
            ordered.append(track)
            if track.kind == otio.schema.TrackKind.Video:
                ordered.extend(above.pop(video_seen, []))
                video_seen += 1
        ordered.extend(track for tracks in above.values() for track in tracks)  # a cut with no video tracks
        del timeline.tracks[:]
        for track in ordered:
            timeline.tracks.append(track)
        return timeline

    def _fix_track(self, name: str, placed: list[tuple[int, otio.schema.Clip]]) -> otio.schema.Track:
        """A video track holding copies of the fixes (record start, clip), with gaps between them."""
        rate = float(self.fps)
        track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video)
        cursor = 0
        for start, clip in placed:
            if start > cursor:
                track.append(otio.schema.Gap(source_range=opentime.TimeRange(
                    opentime.RationalTime(0, rate), opentime.RationalTime(start - cursor, rate))))
            track.append(copy.deepcopy(clip))
            cursor = start + self._frames_of(clip)
        return track

    @staticmethod
    def fix_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
        """A version's MyTalk tracks, from the bottom of the picture up."""
        return [track for track in timeline.video_tracks() if track.metadata.get("mytalk", {}).get("fixes")]

    def _output_folder(self, fallback: Path) -> Path:
        folder = self.path.parent
        return folder if os.access(folder, os.W_OK) else fallback

    def write_version(self, render: Path, record_start: int, frames: int, provenance: dict[str, Any], *,
                      folder: Path | None = None, source: Path | None = None) -> list[Path]:
        """Add a fix at `record_start` and write the next `CUT_mytalk_vNNN` version; returns the files.

        Always `.otio`; plus the input's own format for `.xml` (whole cut) and `.edl` (the fixes).
        Each format takes its own next free number, and the files appear together or not at all.
        `source` is the fixed clip's media (its reel is avoided when the render has none of its own).
        """
        return self.write_version_with([(render, record_start, frames, provenance, source)], folder=folder)

    def write_version_with(self, fixes: Sequence[tuple[Path, int, int, dict[str, Any], Path | None]], *,
                           folder: Path | None = None) -> list[Path]:
        """Add several fixes, each (render, record_start, frames, provenance, source), and write one version
        holding them all: a batch's shots land in a single new version of the cut, not one version each."""
        added = [(record_start, self._fix_clip(render, record_start, frames, provenance, source))
                 for render, record_start, frames, provenance, source in fixes]
        if not added:
            raise UsageError("no fixes to place in a new version of the cut")
        self._fixes.extend(added)
        try:
            timeline = self._version_timeline()
            suffixes = [".otio"] + ([self.suffix] if self.suffix != ".otio" else [])
            texts = {suffix: self._serialise(timeline, suffix) for suffix in suffixes}
            target = folder or self._output_folder(Path(fixes[0][0]).parent)
            with ExitStack() as reservations:
                paths = [reservations.enter_context(reserve_version(target, f"{self.path.stem}_mytalk", [suffix]))
                         .path(suffix) for suffix in suffixes]
                with StagedOutputs() as staged:
                    for path, suffix in zip(paths, suffixes, strict=True):
                        staged.stage(path).write_text(texts[suffix], encoding="utf-8")
                    staged.commit()
                return paths
        except BaseException:
            del self._fixes[-len(added):]
            raise

    def _serialise(self, timeline: otio.schema.Timeline, suffix: str) -> str:
        try:
            if suffix == ".edl":
                fixes = otio.schema.Timeline(name=f"{timeline.name} fixes")
                # One video track per EDL: the fixes of the first layer (overlapping fixes, rare, stay in the
                # .otio only).
                fixes.tracks.append(self._fix_track(FIX_TRACK_NAME, self._fix_layers()[0]))
                text = otio.adapters.write_to_string(fixes, "cmx_3600", rate=float(self.fps))
                return self._shift_edl_records(text)
            if suffix == ".xml" and self.suffix == ".xml":
                return self._fcp_version(timeline)
            return str(otio.adapters.write_to_string(timeline, ADAPTERS[suffix]))
        except (otio.exceptions.OTIOError, ValueError, ElementTree.ParseError) as error:
            raise HostError(f"cannot write the {suffix} version of {self.path.name}: {error}") from None

    def _fcp_version(self, timeline: otio.schema.Timeline) -> str:
        """The FCP 7 XML version: the cut's own XML with the version's MyTalk tracks added (`fcp_version`)."""
        from mytalk.plugin.hosts.fcp_version import FcpFix, write_fcp_version

        rate = float(self.fps)
        layers: list[list[FcpFix]] = []
        for track in self.fix_tracks(timeline):
            layer = []
            for clip in track.find_clips():
                render = Path(clip.media_reference.target_url)
                info = self._probe(render)
                assert info.video is not None
                mytalk = clip.metadata.get("mytalk", {})
                source = mytalk.get("source_clip")
                sound = info.audio[0] if info.audio else None
                layer.append(FcpFix(
                    record_start=int(round(clip.range_in_parent().start_time.value_rescaled_to(rate))),
                    frames=int(round(clip.source_range.duration.value_rescaled_to(rate))), render=render,
                    render_frames=info.video.frame_count, start_timecode=mytalk.get("source_timecode"),
                    reel=str(mytalk.get("reel", "")), width=info.video.width, height=info.video.height,
                    audio_channels=sound.channels if sound else 0, sample_rate=sound.sample_rate if sound else 0,
                    source=Path(source) if source else None))
            layers.append(layer)
        return write_fcp_version(self._text, self.path, layers, self.fps)

    def _shift_edl_records(self, text: str) -> str:
        """Add the cut's start timecode back to record times (the CMX writer starts at 0)."""
        if not self.record_offset:
            return text

        def shift(match: re.Match[str]) -> str:
            rec_in = parse_position(match.group("rec_in"), self.fps) + self.record_offset
            rec_out = parse_position(match.group("rec_out"), self.fps) + self.record_offset
            return (f"{match.group('head')}{frames_to_smpte(rec_in, self.fps)}{match.group('gap')}"
                    f"{frames_to_smpte(rec_out, self.fps)}")

        return _EDL_EVENT.sub(shift, text)

    def place_result(self, shot: Shot, result: dict[str, Any]) -> Placement:
        """Write a new version with the committed render at the record time of its first frame."""
        render = Path(result["output"])
        start, stop = int(result["start"]), int(result["stop"])
        record_start = shot.record_frame_for(start)
        provenance = {
            "render": str(render),
            "sidecar": result.get("sidecar"),
            "version": result.get("version"),
            "job_id": result.get("job_id"),
            "source_clip": str(shot.video),
            "source_range": [start, stop],
            "record_start": record_start,
            "from_timeline": str(self.path),
        }
        written = self.write_version(render, record_start, stop - start, provenance, source=shot.video)
        otio_file = written[0]
        return Placement(f"placed on track {FIX_TRACK_NAME} at {self.record_timecode(record_start)} in {otio_file.name}",
                         record_start, FIX_TRACK_NAME, otio_file)


def guide_pick(media: Path, numbers: list[int] | None) -> str | None:
    """The `--guide-channels` pick of channels `numbers` (from 1, across the streams) of `media`; None when
    there are none, or they are just what a job hears without a pick (the whole stream `clip_sound_stream`
    chooses), or the file does not have them or cannot be read for its channels (the job then says why)."""
    if not numbers:
        return None
    from mytalk.core.media.channel_pick import sound_channels
    from mytalk.core.media.sound_stream import clip_sound_stream

    try:
        listed = sound_channels(media)
        default = [channel.number for channel in listed if channel.stream_index == clip_sound_stream(media).index]
    except MyTalkError:
        return None
    numbers = sorted(set(numbers))
    if numbers == default or not set(numbers) <= {channel.number for channel in listed}:
        return None
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}-{numbers[-1]}"
    return ",".join(map(str, numbers))


def _changes_time(effect: otio.schema.Effect) -> bool:
    """An OTIO time effect (an EDL's M2 speed, a freeze frame), or an FCP 7 Time Remap read as an effect."""
    if isinstance(effect, otio.schema.TimeEffect):
        return True
    fcp = effect.metadata.get("fcp_xml", {})
    return str(fcp.get("effectid", "") if hasattr(fcp, "get") else "").strip().lower() == "timeremap"


def _is_keyframed(effect: otio.schema.Effect) -> bool:
    """An effect whose parameters move over the clip: FCP 7 XML keeps its keyframes under `keyframe`."""

    def holds_keyframes(value: Any) -> bool:
        if hasattr(value, "items"):
            return any(str(key) == "keyframe" or holds_keyframes(item) for key, item in value.items())
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            return False
        return any(holds_keyframes(item) for item in value)

    return holds_keyframes(effect.metadata)


def _timecode_time(label: str, fps: Fraction) -> opentime.RationalTime:
    """A SMPTE label as OTIO time at `fps`; drop-frame labels (`;`) are counted as drop-frame."""
    return opentime.RationalTime(parse_position(label, fps, what="timecode"), float(fps))


def open_timeline(path: Path) -> OtioTimeline:
    """The manifest's entry for `.otio`, `.edl` and `.xml` cuts (see `mytalk.plugin.loader.open_timeline`)."""
    return OtioTimeline(path)


__all__ = ["ADAPTERS", "FIX_TRACK_NAME", "OtioTimeline", "TimelineClip", "media_path", "open_timeline", "rate_of"]
