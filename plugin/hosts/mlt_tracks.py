"""Tracks inserted into an MLT sequence anywhere in its stack, with every reference to a track index moved.

A fix must sit in the picture's stack where the clip it covers sits: directly above that clip's track, and
under every track that was above it (a title, a lower third, a logo, subtitles, a cutaway with its own
opacity). Laid on top of everything instead, it would hide those for the length of the range. MLT XML
names tracks by their index in the sequence tractor, so inserting one moves the others up by one, and
with them everything that names them:

- transitions' `a_track` and `b_track` (index 0 is the black or background track);
- in Kdenlive, the clip groups (`"data": "track:position"`), the active track and the audio and video
  targets, which count from the first real track as 0, and the track count.

**Order of compositing.** MLT applies a tractor's transitions in the order they are written: in Kdenlive,
every video track is composited onto track 0 by a transition of its own, so the later one is drawn over
the earlier. A new track's transition is therefore written before the first transition of any track above
it. In Shotcut a video track is blended onto a video track below; MLT skips a transition whose track an
earlier one has composited away, so a new track is composited onto the track the covered one is composited
onto (or onto the covered track itself, where its own blend is off), before the tracks above do the same
(`composited_onto`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mytalk.plugin.hosts.mlt_project import MltProject, prop, set_prop

_GROUP_DATA = re.compile(r'("data"\s*:\s*")(\d+)(:)')
_TRACK_KEYS = ("a_track", "b_track")


def track_number(transition: ET.Element, name: str) -> int | None:
    """A transition's `a_track` or `b_track`, as a property or an attribute; None when it names none."""
    value = prop(transition, name)
    if value is None:
        value = transition.get(name)
    return int(value) if value is not None and value.strip().isdigit() else None


def set_track_number(transition: ET.Element, name: str, number: int) -> None:
    """Set a transition's `a_track` or `b_track` where it keeps it (an attribute stays an attribute)."""
    if prop(transition, name) is None and transition.get(name) is not None:
        transition.set(name, str(number))
    else:
        set_prop(transition, name, str(number))


def shift_track_references(project: MltProject, at: int, inserted: int) -> None:
    """Move every reference to a track at index `at` or above up by `inserted` (tracks are being put in at
    `at`), and count them in Kdenlive's track count."""
    if not inserted:
        return
    for transition in project.sequence.findall("transition"):
        for name in _TRACK_KEYS:
            number = track_number(transition, name)
            if number is not None and number >= at:
                set_track_number(transition, name, number + inserted)
    if project.flavour != "kdenlive":
        return
    first = at - 1  # Kdenlive's own counts start at the first real track, above the black one
    holders = [project.sequence] + ([project.by_id["main_bin"]] if "main_bin" in project.by_id else [])
    for holder in holders:
        for child in holder.findall("property"):
            name = child.get("name") or ""
            key = name.rsplit(".", 1)[-1]
            if not (name.startswith("kdenlive:sequenceproperties.") or name.startswith("kdenlive:docproperties.")):
                continue
            text = child.text or ""
            if key == "groups" and text:
                child.text = _GROUP_DATA.sub(
                    lambda m: f"{m.group(1)}{int(m.group(2)) + (inserted if int(m.group(2)) >= first else 0)}"
                              f"{m.group(3)}", text)
            elif key in ("activeTrack", "audioTarget", "videoTarget") and text.isdigit() and int(text) >= first:
                child.text = str(int(text) + inserted)
            elif key in ("tracksCount", "tracks") and text.isdigit():
                child.text = str(int(text) + inserted)


def insert_track(project: MltProject, producer: str, at: int) -> None:
    """Put a `<track>` playing `producer` at index `at` of the sequence (past the last: on top), moving every
    reference to the tracks from `at` up."""
    sequence = project.sequence
    tracks = sequence.findall("track")
    shift_track_references(project, at, 1)
    position = list(sequence).index(tracks[at]) if at < len(tracks) else list(sequence).index(tracks[-1]) + 1
    sequence.insert(position, ET.Element("track", producer=producer))


def insert_transitions(project: MltProject, transitions: list[ET.Element], track: int) -> None:
    """Write the transitions of the track at index `track` before the first transition of any track above it
    (so it is drawn under those), else after the sequence's last track or transition."""
    sequence = project.sequence
    children = list(sequence)
    above = [i for i, child in enumerate(children)
             if child.tag == "transition" and (track_number(child, "b_track") or 0) > track]
    position = above[0] if above else max(
        (i for i, child in enumerate(children) if child.tag in ("track", "transition")), default=-1) + 1
    for offset, transition in enumerate(transitions):
        sequence.insert(position + offset, transition)


def composited_onto(project: MltProject, track: int) -> int:
    """The track a new video track directly above `track` is composited onto, so that it is drawn just over
    `track`: where `track`'s own compositing transition is on, its target (Kdenlive's track 0, Shotcut's video
    track below); else `track` itself (Shotcut's V1, whose blend onto the background is off, holds the picture).

    MLT skips a transition whose track an earlier transition has already composited away (it marks that
    frame hidden), so a track must be composited onto one that is still shown (measured with melt: a chain of
    blends, each onto the track below, shows only the top track)."""
    for transition in project.sequence.findall("transition"):
        if prop(transition, "mlt_service") in ("mix", None) or prop(transition, "disable") == "1":
            continue
        if track_number(transition, "b_track") == track:
            return track_number(transition, "a_track") or 0
    return track


__all__ = ["composited_onto", "insert_track", "insert_transitions", "set_track_number", "shift_track_references",
           "track_number"]
