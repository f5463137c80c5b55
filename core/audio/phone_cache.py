"""On-disk cache of a line's phone timing, so previewing the same line again skips pocketsphinx.

An editor previews a replacement line many times (a nudge of the in point, another mask mode, a
different openness), and timing its phones is the largest fixed cost of a short job: about 1 s
of the 4 s that a one-second range of a 512 px clip took. The phones depend only on the line's samples as the job places them,
the transcript and the language, so an entry is keyed by exactly those (a hash of the samples, not
the file's name: a re-exported line with the same name must miss) and by `PHONE_CACHE_VERSION`.

Entries are small JSON files written atomically (`core.atomic.AtomicFile`); one that cannot be read
is a miss and is rewritten. Nothing in them is executable: no pickles.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mytalk.core.atomic import AtomicFile
from mytalk.core.audio.noise_suppression import NOISE_RULE
from mytalk.core.audio.phone_timing import PhoneTrack, phone_track
from mytalk.core.audio.phonemes import TIMING_RULE
from mytalk.core.cache_budget import touch
from mytalk.core.media.audio import AudioSource, sweep
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress
from mytalk.core.userdirs import UserDirs, user_dirs

PHONE_CACHE_VERSION = 1
"""Bump when phone timing changes what it returns for the same audio (a new model, new rules)."""


def line_key(line: AudioSource, transcript: str | None, language: str) -> str:
    """Hex sha256 of everything the phone track depends on: samples, rate, transcript, language, and how the
    line is timed and heard (`TIMING_RULE`, `noise_suppression.NOISE_RULE`).

    The samples are hashed a block at a time, channel after channel: the same bytes in the same order
    as the whole (channels, n) array, so the key is unchanged, but the line is never copied whole."""
    digest = hashlib.sha256()
    header = {"v": PHONE_CACHE_VERSION, "rate": line.rate, "shape": [line.channels, line.num_samples],
              "transcript": transcript or "", "language": language, "timing": TIMING_RULE, "noise": NOISE_RULE}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for channel in range(line.channels):
        for block in sweep(line):
            digest.update(np.ascontiguousarray(block[channel], np.float32).tobytes())
    return digest.hexdigest()


def cached_phone_track(
    line: AudioSource,
    *,
    transcript: str | None = None,
    language: str = "en",
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    folder: Path | None = None,
) -> tuple[PhoneTrack, bool]:
    """(the line's phone track, whether it came from the cache); see `phone_timing.phone_track`."""
    root = folder if folder is not None else user_dirs().cache / "phones"
    path = root / f"{line_key(line, transcript, language)[:40]}.json"
    try:
        cached = PhoneTrack.from_dict(json.loads(path.read_text(encoding="utf-8")))
        touch(path)  # used now: the cache's trim (`mytalk.core.cache_budget`) removes entries used longest ago
        return cached, True
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    track = phone_track(line, transcript=transcript, language=language, progress=progress, is_cancelled=is_cancelled)
    try:
        UserDirs.ensure(root)
        with AtomicFile(path) as temp:
            temp.write_text(json.dumps(track.to_dict()), encoding="utf-8")
    except OSError:
        pass  # a cache that cannot be written costs time, never the job
    return track, False
