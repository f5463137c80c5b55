"""Learning an actor from a file never hashed before: the hash runs beside the first reading of the footage.

`profile_cache.cached_build_profile` keys a profile by its references' SHA-256. A ten-minute camera original took
7.7 s to hash and then 4.2 s to decode its sound, one after the other; now the sound is read while the file is
hashed. What must not change: the key (a profile learned that way is found by the next job, whose digest is
remembered), the profile itself, and the memo's rules (`hashing.remembered_sha256`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import media_path, settled_copy
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic import profile_cache
from mytalk.core.engines.classic.profile_builder import build_profile, read_footage
from mytalk.core.errors import JobCancelledError, MediaFormatError
from mytalk.core.hashing import file_sha256, remembered_sha256

pytestmark = pytest.mark.media


def _settled_copy(tmp_path: Path) -> Path:
    """A copy of a shared clip, old enough for its digest to be remembered (`FileIdentity.settled`)."""
    return settled_copy(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / "clip.mp4")


def test_a_digest_is_remembered_only_once_hashed_and_only_for_the_same_file(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path)
    assert remembered_sha256(clip) is None
    digest = file_sha256(clip)
    assert remembered_sha256(clip) == digest
    with open(clip, "r+b") as handle:  # the same size, other bytes: a rewrite in place
        handle.seek(100)
        handle.write(b"\0")
    assert remembered_sha256(clip) is None
    assert remembered_sha256(tmp_path / "missing.mp4") is None


def test_a_profile_learned_while_its_file_was_hashed_is_found_by_the_next_job(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path)
    references = [ReferenceRange(clip, 0, 50)]
    assert remembered_sha256(clip) is None
    _, cached = profile_cache.cached_build_profile(references)
    assert not cached
    assert remembered_sha256(clip) == file_sha256(clip)
    again, cached = profile_cache.cached_build_profile(references)
    assert cached  # the same key: the digest computed beside the reading is the file's
    assert [s.key for s in again.sources] == [file_sha256(clip)]  # a small file: its SHA-256


def test_footage_read_ahead_learns_the_profile_read_as_it_goes() -> None:
    references = [ReferenceRange(media_path("video", "hdtf_wda_katiehill_512.mp4"), 0, 50)]
    ahead = build_profile(references, use_cache=False, footage=read_footage(references))
    plain = build_profile(references, use_cache=False)
    for name in ("shapes", "aperture", "phones", "envelope"):
        np.testing.assert_array_equal(getattr(ahead.frames, name), getattr(plain.frames, name))
    np.testing.assert_array_equal(ahead.appearance.rows, plain.appearance.rows)
    assert all(np.array_equal(a, b) for a, b in zip(ahead.appearance.crops, plain.appearance.crops, strict=True))


def test_a_stopped_hash_raises_and_remembers_nothing(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path)
    with pytest.raises(JobCancelledError):
        file_sha256(clip, is_cancelled=lambda: True)
    assert remembered_sha256(clip) is None


def test_footage_that_cannot_be_read_says_why_and_stops_the_hash_beside_it(tmp_path: Path) -> None:
    """A reference without a picture fails the reading at once: its error is the one raised, not the stopped
    hash's."""
    sound = tmp_path / "line.wav"
    shutil.copyfile(media_path("audio", "jfk_inaugural_en_16k.wav"), sound)
    assert remembered_sha256(sound) is None
    with pytest.raises(MediaFormatError, match="has no video"):
        profile_cache.cached_build_profile([ReferenceRange(sound, 0, 10)])
