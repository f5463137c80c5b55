"""Kdenlive (`.kdenlive`) and Shotcut (`.mlt`) projects as a timeline host.

`open_timeline(path)` (the manifest's entry point for both suffixes) returns an `MltTimeline`: the
same host as an `.otio` cut (`OtioTimeline`: `clips()`, `shot()`, `parse_record`,
`record_timecode`, `place_result`), reading the project's MLT XML itself
(`mytalk.plugin.hosts.mlt_project`) and writing each version as the project's own XML plus the
fixes (`mytalk.plugin.hosts.mlt_version`): `CUT_mytalk_v001.kdenlive` (or `.mlt`) beside the cut,
and the `.otio` every timeline host writes, each format numbered on its own. The cut is never
written.

Why not Kdenlive's OTIO adapter (`otio-kdenlive-adapter` 0.0.3, the last release): it is marked
deprecated and inactive by its authors (Kdenlive reads OTIO natively since 25.04) and prints a
banner to stdout on every call; its writer rebuilds the whole project from OTIO, with a fixed
1920x1080 profile and no transitions (no track compositing, no audio mix), so the version would
neither look nor sound like the cut; and it cannot read Shotcut projects. Reading and writing the
MLT XML directly keeps everything we do not touch, and one reader serves Kdenlive and Shotcut alike.

The cut has no start timecode in MLT: record frames and the timecode shown count from 00:00:00:00.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio import opentime

from mytalk.plugin.hosts.mlt_project import MltProject, prop
from mytalk.plugin.hosts.mlt_version import Fix, write_mlt_version
from mytalk.plugin.hosts.otio_timeline import OtioTimeline, TimelineClip, media_path

FORMATS = {".kdenlive": "kdenlive", ".mlt": "mlt"}


class MltTimeline(OtioTimeline):
    """A Kdenlive or Shotcut project: picks shots like any cut, writes versions in the project's format."""

    formats = FORMATS

    def _read(self, rate: Fraction | None) -> otio.schema.Timeline:
        self.project = MltProject(self.path, self._text)
        return _as_otio(self.project, self.path.stem)

    def _timeline_rate(self) -> Fraction:
        return self.project.fps

    def _heard_channels(self, picked: TimelineClip, start: int, stop: int) -> list[int] | None:
        """Every channel of the streams (`_heard_streams`) the cut plays of `picked`'s media; None when no
        clip says which."""
        streams = self._heard_streams(picked, start, stop)
        if streams is None or picked.media is None:
            return None
        from mytalk.core.errors import MyTalkError
        from mytalk.core.media.channel_pick import sound_channels

        try:
            return [channel.number for channel in sound_channels(picked.media) if channel.stream_index in streams]
        except MyTalkError:
            return None

    def _heard_streams(self, picked: TimelineClip, start: int, stop: int) -> set[int] | None:
        """The `audio_index` (FFmpeg's stream index, as MLT's avformat producer takes it) of every clip of
        `picked`'s media whose sound the cut plays over record frames [start, stop): Kdenlive's audio
        instance of the clip on an audio track (one per stream the editor enabled), Shotcut's clip itself. A
        clip playing no sound (`audio_index` -1) adds nothing; None when no such clip says which stream."""
        streams: set[int] = set()
        told = False
        for track in self.timeline.tracks:
            if not track.enabled or not track.metadata.get("mlt", {}).get("plays_audio", False):
                continue
            for item in track:
                if not isinstance(item, otio.schema.Clip) or media_path(item, self.path) != picked.media:
                    continue
                span = item.range_in_parent()
                first = int(round(span.start_time.value_rescaled_to(float(self.fps))))
                last = first + int(round(span.duration.value_rescaled_to(float(self.fps))))
                index = item.metadata.get("mlt", {}).get("audio_index")
                if min(stop, last) <= max(start, first) or index is None:
                    continue
                told = True
                if int(index) >= 0:
                    streams.add(int(index))
        return streams if told else None

    def write_version_with(self, fixes: Sequence[tuple[Path, int, int, dict[str, Any], Path | None]], *,
                           folder: Path | None = None) -> list[Path]:
        """As `OtioTimeline.write_version_with` (and so `write_version`), with the project's own format
        first: the file the editor opens, which `place_result` names."""
        written = super().write_version_with(fixes, folder=folder)
        return sorted(written, key=lambda path: path.suffix.lower() != self.suffix)

    def _serialise(self, timeline: otio.schema.Timeline, suffix: str) -> str:
        if suffix != self.suffix:
            return super()._serialise(timeline, suffix)
        layers = [[self._fix(item) for item in track if isinstance(item, otio.schema.Clip)]
                  for track in self.fix_tracks(timeline)]
        # A fresh parse: the writer edits the tree in place, and the cut's own tree stays as read.
        return write_mlt_version(MltProject(self.path, self._text), layers)

    def _fix(self, clip: otio.schema.Clip) -> Fix:
        rate = float(self.fps)
        span = clip.range_in_parent()
        render = Path(clip.media_reference.target_url)
        video = self._probe(render).video
        assert video is not None
        provenance = dict(clip.metadata.get("mytalk", {}))
        source = provenance.get("source_clip")
        return Fix(record_start=int(round(span.start_time.value_rescaled_to(rate))),
                   frames=int(round(span.duration.value_rescaled_to(rate))), render=render,
                   render_frames=video.frame_count, source=Path(source) if source else None,
                   provenance={key: _plain(provenance.get(key)) for key in
                               ("render", "sidecar", "version", "job_id", "source_clip", "source_range", "reel")})


def _audio_index(producer: Any) -> int | None:
    """The producer's `audio_index`: the FFmpeg stream index MLT plays its sound from, -1 for none; None when
    it is not set or not one stream (`all`)."""
    text = prop(producer, "audio_index")
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """OTIO metadata (AnyVector, AnyDictionary) as plain JSON values."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in value.items()}
    return [_plain(item) for item in value]


def open_timeline(path: Path) -> MltTimeline:
    """The manifest's entry point for `.kdenlive` and `.mlt` cuts."""
    return MltTimeline(Path(path))


def _as_otio(project: MltProject, name: str) -> otio.schema.Timeline:
    """The project's tracks as OTIO tracks (one per playlist that holds clips), bottom track first."""
    rate = float(project.fps)
    timeline = otio.schema.Timeline(name=name)
    for track in project.tracks:
        for playlist, plays in zip(track.playlists, track.plays_audio, strict=True):
            entries = project.entries(playlist)
            if not entries:
                continue
            kind = otio.schema.TrackKind.Audio if track.audio else otio.schema.TrackKind.Video
            otio_track = otio.schema.Track(name=track.name, kind=kind)
            otio_track.enabled = track.enabled
            otio_track.metadata["mlt"] = {"track_index": track.index, "playlist": playlist.get("id"),
                                          "plays_audio": plays}
            cursor = 0
            for entry in entries:
                if entry.record_start > cursor:
                    otio_track.append(otio.schema.Gap(source_range=opentime.TimeRange(
                        opentime.RationalTime(0, rate), opentime.RationalTime(entry.record_start - cursor, rate))))
                otio_track.append(_clip(project, entry.producer_id, entry.source_in, entry.frames))
                cursor = entry.record_stop
            timeline.tracks.append(otio_track)
    return timeline


def _clip(project: MltProject, producer_id: str, source_in: int, frames: int) -> otio.schema.Clip:
    rate = float(project.fps)
    media = project.media(producer_id)
    producer = project.by_id[producer_id]
    reference: otio.core.MediaReference
    if media is not None:
        reference = otio.schema.ExternalReference(target_url=str(media), available_range=opentime.TimeRange(
            opentime.RationalTime(0, rate), opentime.RationalTime(project.length(producer), rate)))
    else:
        reference = otio.schema.MissingReference()
    clip = otio.schema.Clip(name=project.name_of(producer_id), media_reference=reference,
                            source_range=opentime.TimeRange(opentime.RationalTime(source_in, rate),
                                                            opentime.RationalTime(frames, rate)))
    speed = project.speed(producer_id)
    if speed != 1.0:
        # A timewarp: the host refuses to map frames one to one through it (as for OTIO speed effects).
        clip.effects.append(otio.schema.LinearTimeWarp(name=f"speed {speed:g}x", time_scalar=speed))
    clip.metadata["mlt"] = {"producer": producer_id, "audio_index": _audio_index(producer)}
    return clip


__all__ = ["FORMATS", "MltTimeline", "open_timeline"]
