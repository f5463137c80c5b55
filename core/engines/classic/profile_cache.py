"""Temporary profiles (`--reference`) kept in the user cache folder between jobs, keyed by what
they were learned from, so learning the same actor twice costs a load, not a rebuild."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mytalk.core.audio.phone_timing import FOOTAGE_PHONES, PhoneTimer
from mytalk.core.audio.phone_workers import PhoneWorkers
from mytalk.core.audio.phonemes import TIMING_RULE
from mytalk.core.cache_budget import touch
from mytalk.core.composite.one_instant import RULE as ONE_INSTANT_RULE
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_builder import FootageRead, build_profile, read_footage
from mytalk.core.engines.classic.profile_crops import MAX_APPEARANCE
from mytalk.core.engines.classic.profile_files import PROFILE_VERSION
from mytalk.core.errors import MediaFormatError
from mytalk.core.face.tracker import TrackerSettings
from mytalk.core.media.probe import MediaInfo
from mytalk.core.media.sound_stream import RULE_VERSION as SOUND_RULE
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress


def cached_build_profile(
    references: Sequence[ReferenceRange],
    *,
    exclude_audio: Sequence[ReferenceRange] = (),
    tracker_settings: TrackerSettings | None = None,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    timer: PhoneTimer | None = None,
    phone_workers: PhoneWorkers | None = None,
    defer: Callable[[Callable[[], None]], None] | None = None,
    probed: Mapping[Path, MediaInfo] | None = None,
) -> tuple[ActorProfile, bool]:
    """A temporary profile (`build_profile`), kept in the user cache folder between jobs.

    Previewing and then committing a line, or syncing several lines of one shot, learn the same
    actor from the same references: the profile is keyed by the references' cache keys
    (`hashing.cache_key`: the SHA-256 of a file up to 256 MB, the identity of a larger one) and
    ranges, the audio exclusions, the tracker settings and `PROFILE_VERSION`, and rebuilt only when
    one of them changes. Returns (profile, whether it came from the cache). An unreadable entry is a
    miss and is rebuilt. `phone_workers`: as `build_profile`'s. `defer`: where to hand the saving of a
    profile just built (`JobResources.defer`: after the job's first frame; the crops' PNG encoding and the
    writing took 0.5-0.8 s of a cold preview's first frame); None: saved before this returns. `probed`: what
    the caller has probed of the files already, by path as the references name them (a job's probe of its
    clip): a transport stream has no index, so each probe of an AVCHD clip demuxes all of it.

    A large reference file is never read whole for its key. One that must be hashed (never seen and small
    enough to be keyed by its hash, or written within the last seconds) is hashed on a thread while this one
    reads what learning starts with (`read_footage`: the file's probe and its own sound), which needs no key.
    That reading is wasted only when the profile is then found in the cache under a file never hashed
    before (a copy of one learned already).
    """
    import hashlib

    from mytalk.core.userdirs import user_dirs

    settings = tracker_settings or TrackerSettings()
    read = FootageRead(infos=dict(probed or {}))
    digests, footage = _digests_and_footage(references, exclude_audio, read)
    key_data = {
        "version": PROFILE_VERSION,
        "references": [_reference_key(r, digests[Path(r.path)]) for r in references],
        "exclude_audio": [(digests[Path(r.path)], r.start, r.stop) for r in exclude_audio],
        "tracker": settings.key(),
        "max_appearance": MAX_APPEARANCE,
        "sound": SOUND_RULE,  # which stream is a clip's own sound (learned from before the rule: stream 0)
        "phones": TIMING_RULE,  # each utterance timed as on fresh decoders (`phonemes.forget_history`)
        "footage_phones": FOOTAGE_PHONES,  # the footage's phones from the phone loop alone (`footage_track`)
        "one_instant": ONE_INSTANT_RULE,  # an interlaced reference's crops taken to one instant (`one_instant`)
    }
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:32]
    folder = user_dirs().cache / "classic-profiles" / key
    if (folder / "profile.json").is_file():
        try:
            profile = ActorProfile.load(folder)
            touch(folder / "profile.json")  # used now: the cache's trim removes entries used longest ago
            return profile, True
        except MediaFormatError:
            pass  # damaged or stale: rebuilt below and overwritten
    profile = build_profile(references, exclude_audio=exclude_audio, tracker_settings=settings,
                            progress=progress, is_cancelled=is_cancelled, timer=timer, phone_workers=phone_workers,
                            footage=footage if footage is not None else read)

    def save() -> None:
        try:
            profile.save(folder)
        except OSError:
            pass  # a read-only cache only costs a rebuild next time

    if defer is None:
        save()
    else:
        defer(save)
    return profile, False


def _reference_key(reference: ReferenceRange, digest: str) -> list[Any]:
    """A reference in the profile's key: its file's key and range, and the channels its sound was picked from
    (a pick is other sound, so other phones: another profile). Without a pick, the key profiles had before
    picks existed."""
    key: list[Any] = [digest, reference.start, reference.stop]
    if reference.channels is not None:
        key.append([reference.channels.stream_index, *reference.channels.rows])
    return key


def _digests_and_footage(references: Sequence[ReferenceRange], exclude_audio: Sequence[ReferenceRange],
                         read: FootageRead) -> tuple[dict[Path, str], FootageRead | None]:
    """The cache key of every file named (`hashing.cache_key`, by path as named), and, when one of them had to
    be hashed whole first (a small file never hashed, a large one written within the last seconds), what
    `read_footage` reads of the references into `read`, read while that file was hashed (else None: nothing is
    read before the cache is asked)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from mytalk.core.hashing import cache_key, known_cache_key

    paths = list(dict.fromkeys(Path(r.path) for r in (*references, *exclude_audio)))
    digests = {path: known_cache_key(path) for path in paths}
    unknown = [path for path, digest in digests.items() if digest is None]
    if not unknown:
        return {path: str(digest) for path, digest in digests.items()}, None
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-references") as pool:
        hashing = pool.submit(lambda: [cache_key(path, is_cancelled=stop.is_set) for path in unknown])
        try:
            footage = read_footage(references, read)
        except BaseException:
            stop.set()  # the reading failed or was interrupted (a signal reaches only this thread): stop hashing
            raise
        hashed = hashing.result()
    digests.update(zip(unknown, hashed, strict=True))
    return {path: str(digest) for path, digest in digests.items()}, footage
