"""The original clip's picture effects, carried onto the fix that covers it in an MLT project.

A fix is rendered from the ungraded source: a new mouth on the camera's own pixels. In the cut, the
clip it covers is seen through its effects: a grade (Lift/Gamma/Gain, a LUT), a crop, a transform or
reframe, a fade. Laid on a track above with none of them, the fix would show the ungraded frame over the
graded one for the length of the range, which no conform accepts. So the fix's picture gets copies of
the effects the cut shows the clip through, in the order MLT applies them: the clip's own producer's (a
Kdenlive bin clip effect), the timeline instance's (the entry's), then its track's (a `<filter>` in the
track's playlist, and in Kdenlive's tractor of the track's two playlists). A track effect applies to the
track it is on; the fix lies on a MyTalk track above, so it would otherwise miss a grade or a LUT the
editor put on the whole track.

**Timing.** MLT measures an effect's position, and so its keyframes, from the effect's `in`, in the
frames of the service it is attached to: the source clip's frames for a clip's effect, the timeline's
for a track's. The fix's frames are the render's, whose frame 0 is source frame `s0` and record frame
`r0`. So each copy's `in` and `out` are the original's less `s0` (a clip's effect) or `r0` (a track's):
every keyframe then falls on the same frame of the picture as before, and a fix in the middle of a clip
gets a negative `in` (MLT's own arithmetic; `melt` renders it so, `tests/test_hosts_mlt.py`). An effect
with no `in` is measured from frame 0, so its copy starts at `-s0` or `-r0`. Times are written as
frames: MLT reads a negative clock time (`-00:00:00.400`) as something else.

Sound effects are not copied: the fix's sound is the new line, and the original's sound under the range
is muted (`mlt_version`). Kdenlive keeps them on the audio instance, which is not read; in Shotcut, whose
clips play both, they are told apart by their MLT service and Shotcut's filter name (`is_sound_effect`).
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mytalk.plugin.hosts.mlt_project import MltEntry, MltProject, MltTrack, mlt_time, prop, set_prop
from mytalk.plugin.hosts.timeline import most_overlapped

SOUND_SERVICES = frozenset({
    "volume", "panner", "audiolevel", "audiochannels", "audiomap", "audioseam", "channelcopy", "mono", "mix",
    "resample", "loudness", "loudness_meter", "dynamic_loudness", "dynamictext_audio", "sox", "jackrack",
    "avfilter.aecho", "avfilter.acompressor", "avfilter.agate", "avfilter.alimiter", "avfilter.aresample",
    "avfilter.highpass", "avfilter.lowpass", "avfilter.bandpass", "avfilter.bandreject", "avfilter.equalizer",
    "avfilter.bass", "avfilter.treble", "avfilter.compand", "avfilter.dynaudnorm", "avfilter.loudnorm",
    "avfilter.extrastereo", "avfilter.stereotools", "avfilter.stereowiden", "avfilter.volume",
    "avfilter.anlmdn", "avfilter.afftdn", "avfilter.deesser", "avfilter.adelay", "avfilter.apulsator",
})
"""MLT services that change sound only (MLT's own, and the FFmpeg ones both editors offer)."""

SOUND_SERVICE_PREFIXES = ("ladspa", "lv2", "vst2", "sox.", "avfilter.a")
"""Plug-in families that are sound only: LADSPA, LV2 and VST2 hosts, SoX effects, and FFmpeg's audio
filters, whose names start with `a` (but for the picture filters in `PICTURE_AVFILTERS_STARTING_WITH_A`)."""

PICTURE_AVFILTERS_STARTING_WITH_A = frozenset({"avfilter.avgblur", "avfilter.amplify", "avfilter.atadenoise"})
"""FFmpeg picture filters whose names start with `a`, and so are not taken for sound filters."""


def is_sound_effect(element: ET.Element) -> bool:
    """Whether an MLT filter changes only the sound: by its service, or by Shotcut's name for its effect
    (`audioGain`, `audioPan`, `fadeInVolume`, ...)."""
    service = (prop(element, "mlt_service") or "").strip()
    if service in PICTURE_AVFILTERS_STARTING_WITH_A:
        return False
    if service in SOUND_SERVICES or service.startswith(SOUND_SERVICE_PREFIXES):
        return True
    shotcut = prop(element, "shotcut:filter") or ""
    return shotcut.startswith("audio") or shotcut in ("fadeInVolume", "fadeOutVolume")


@dataclass(frozen=True)
class CoveredClip:
    """The clip a fix covers in the cut's picture: its timeline entry, the playlist and track that hold it,
    and the source and record frames under the fix's first frame."""

    entry: MltEntry
    playlist: ET.Element
    track: MltTrack
    source_start: int
    record_start: int


def covered_clip(project: MltProject, source: Path, record_start: int, record_stop: int) -> CoveredClip | None:
    """The picture entry of `source` the fix covers: on a video track, overlapping [record_start,
    record_stop) most (the higher track on a tie, as the picture shows it); None when no picture entry plays
    it there."""
    media = source.resolve()
    candidates = ((entry.record_start, entry.record_stop, track.index, (entry, playlist, track))
                  for track in project.tracks if not track.audio and track.enabled
                  for playlist in track.playlists for entry in project.entries(playlist)
                  if (project.media(entry.producer_id) or Path()).resolve() == media)
    picked = most_overlapped(candidates, record_start, record_stop)
    if picked is None:
        return None
    entry, playlist, track = picked
    return CoveredClip(entry, playlist, track, entry.source_in + record_start - entry.record_start, record_start)


def _effects_over(project: MltProject, covered: CoveredClip) -> list[tuple[ET.Element, int]]:
    """The effects the cut shows `covered` through, in the order MLT applies them, each with the frame of
    its own clock under the fix's frame 0: the source frame for the producer's and the entry's, the record
    frame for the playlist's and the track tractor's."""
    producer = project.by_id.get(covered.entry.producer_id)
    clip = (producer.findall("filter") if producer is not None else []) + covered.entry.element.findall("filter")
    track = covered.playlist.findall("filter")
    if covered.track.service is not covered.playlist:
        track += covered.track.service.findall("filter")
    return [(e, covered.source_start) for e in clip] + [(e, covered.record_start) for e in track]


def picture_effects(project: MltProject, covered: CoveredClip, frames: int,
                    new_id: Callable[[str], str]) -> list[ET.Element]:
    """Copies of the effects the cut shows `covered` through (its producer's, its entry's, then its
    track's), re-timed to the fix's `frames` frames (the module's docstring), each with a fresh id from
    `new_id` and a `mytalk:copied_from` naming the original. MyTalk's own mute, sound-only effects and
    effects whose frames all lie outside the fix's (a fade at the clip's head) are left out."""
    copies = []
    for original, under_first in _effects_over(project, covered):
        if prop(original, "mytalk:mute") == "1" or is_sound_effect(original):
            continue
        first = mlt_time(original.get("in"), project.fps) - under_first
        last = None if original.get("out") is None else mlt_time(original.get("out"), project.fps) - under_first
        if first > frames - 1 or (last is not None and last <= 0):
            # MLT applies an effect at frames in..out, and reads an `out` of 0 as "no end": a copy ending at
            # the fix's frame 0 would run over all of it, so one ending there or before is not made.
            continue
        effect = copy.deepcopy(original)
        effect.set("id", new_id("mytalk_filter"))
        effect.set("in", str(first))
        if last is not None:
            effect.set("out", str(last))
        set_prop(effect, "mytalk:copied_from", original.get("id") or prop(original, "mlt_service") or "filter")
        copies.append(effect)
    return copies


__all__ = ["CoveredClip", "covered_clip", "is_sound_effect", "picture_effects"]
