"""`mytalk actor build | list | remove`: manage the classic engine's actor profiles.

    mytalk actor build NAME FOOTAGE[:IN-OUT] ... [--face X,Y] [--channels PICK] [--quiet]
    mytalk actor list [--json]
    mytalk actor remove NAME

Profiles live under the user data folder (`user_dirs().actors`, honouring MYTALK_HOME); `mytalk sync
--actor NAME` uses one instead of learning from `--reference` on every run. The command line
parser lives in `mytalk.plugin.cli`; this module only does the work, so the panel and the runtime
can call the same functions.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mytalk.core.engines.base import ReferenceRange
from mytalk.core.errors import UsageError
from mytalk.core.progress import ProgressFn, no_progress


def parse_footage(spec: str) -> ReferenceRange:
    """`clip.mov`, `clip.mov:IN-OUT` (frames, seconds or timecode, as `--in`/`--out`) → a range."""
    from mytalk.core.jobs.request import parse_range, probe_video
    from mytalk.core.settings import split_media_spec

    path, span = split_media_spec(spec)
    info = probe_video(path)
    assert info.video is not None
    if span:
        start, stop = parse_range(span, info, label=f"footage {path.name}")
    else:
        start, stop = 0, info.video.frame_count
    return ReferenceRange(path, start, stop)


def build(name: str, footage: Sequence[str], *, face: str | None = None, channels: str | None = None,
          progress: ProgressFn = no_progress, out: TextIO = sys.stderr) -> Path:
    """Learn the actor from `footage` specs and store the profile as `name` (replacing one of that name).
    `channels`: which channels of each footage file's sound are the actor's microphone (`--guide-channels`
    text, checked against every file before anything is learned); None: each file's first stream with sound."""
    from mytalk.core.engines.actors import check_actor_name, profile_folder
    from mytalk.core.engines.classic.profile_builder import build_profile
    from mytalk.core.face.tracker import TrackerSettings
    from mytalk.core.jobs.request import parse_face_point

    check_actor_name(name)
    if not footage:
        raise UsageError("actor build: give at least one FOOTAGE[:IN-OUT] to learn the actor from")
    ranges = [parse_footage(spec) for spec in footage]
    if channels is not None:
        from dataclasses import replace

        from mytalk.core.media.channel_pick import pick_channels

        picks = {path: pick_channels(channels, path, what="--channels")
                 for path in dict.fromkeys(Path(r.path) for r in ranges)}
        ranges = [replace(r, channels=picks[Path(r.path)]) for r in ranges]
    began = time.perf_counter()
    profile = build_profile(ranges, name=name, tracker_settings=TrackerSettings(face_point=parse_face_point(face)),
                            progress=progress)
    folder = profile.save(profile_folder(name))
    summary = profile.summary()
    out.write(
        f"built actor {name!r}: {summary['frames_with_face']} frames with a face, {summary['appearance_frames']} "
        f"mouths, lag {profile.speech.lag} frames, in {time.perf_counter() - began:.1f} s -> {folder}\n"
    )
    for note in profile.notes:
        out.write(f"note: {note}\n")
    return folder


def list_actors(*, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    """Print the stored profiles (a table, or JSON with `as_json`); returns how many there are."""
    from mytalk.core.engines.actors import actors_folder
    from mytalk.core.engines.classic.profile_store import list_profiles

    profiles = list_profiles()
    if as_json:
        out.write(json.dumps({"folder": str(actors_folder()), "actors": profiles}, indent=2) + "\n")
        return len(profiles)
    if not profiles:
        out.write(f"no actor profiles in {actors_folder()}; build one with 'mytalk actor build NAME FOOTAGE'\n")
        return 0
    for p in profiles:
        if "error" in p:
            out.write(f"{p['name']}\t{p['error']}\n")
            continue
        footage = ", ".join(f"{Path(s['path']).name}:{s['start']}-{s['stop']}" for s in p["sources"])
        stale = "" if p["usable"] else "\t(old version: rebuild)"
        out.write(f"{p['name']}\t{p['appearance_frames']} mouths\t{footage}\t{p['created']}{stale}\n")
    return len(profiles)


def remove(name: str, *, out: TextIO = sys.stderr) -> Path:
    """Delete the profile `name`."""
    from mytalk.core.engines.classic.profile_store import remove_profile

    folder = remove_profile(name)
    out.write(f"removed actor {name!r} ({folder})\n")
    return folder
