"""The caches' key of a file (`hashing.cache_key`): a large file is never read whole for it.

A clip's tracking and its actor profile are cached under a key of the file. It was always the file's SHA-256,
so the first preview of a never-seen ten-minute camera original read all 11 GB before it could ask the cache
anything (8-10 s of one core). A file over `WHOLE_HASH_BYTES` is now keyed by its identity (inode, size,
mtime, ctime) and its first and last MiB, which is the trust the digest memo already placed in the
identity. What must hold: a small file's key is still its SHA-256 (the entries cached before are found), a
large file's key is stable and read in two small pieces, any write to the file changes it, a file written
within the racy window is hashed whole, and a job finds what an earlier job cached under it.

The threshold is lowered here (`monkeypatch`) so that a shared clip of a few MB counts as large.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import media_path, settled_copy, wait_until_settled
from mytalk.core import hashing
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic import profile_cache
from mytalk.core.face.cache import load_track
from mytalk.core.face.tracker import TrackerSettings
from mytalk.core.face.video_tracking import track_video
from mytalk.core.hashing import cache_key, file_sha256, known_cache_key, remembered_sha256

pytestmark = pytest.mark.media


def _settled_copy(tmp_path: Path, name: str = "clip.mp4") -> Path:
    """A copy of a shared clip whose identity can be trusted (`FileIdentity.settled`)."""
    return settled_copy(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / name)


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file over 1000 bytes counts as large; whole-file hashing is recorded in the list returned."""
    monkeypatch.setattr(hashing, "WHOLE_HASH_BYTES", 1000)
    hashed: list[Path] = []
    digest = hashing._digest

    def recorded(path: Path, is_cancelled=None) -> str:  # type: ignore[no-untyped-def]
        hashed.append(Path(path))
        return digest(path, is_cancelled)

    monkeypatch.setattr(hashing, "_digest", recorded)
    return hashed


def test_a_small_file_is_keyed_by_its_sha256(tmp_path: Path) -> None:
    """The rule the caches had before: what was cached under a small file's digest is found."""
    clip = _settled_copy(tmp_path)
    assert known_cache_key(clip) is None  # never hashed: a job hashes it beside other work
    assert cache_key(clip) == file_sha256(clip)
    assert known_cache_key(clip) == file_sha256(clip)  # remembered now


def test_a_large_file_is_keyed_without_reading_it_whole(tmp_path: Path, large: list[Path]) -> None:
    clip = _settled_copy(tmp_path)
    key = cache_key(clip)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key != file_sha256(clip)
    large.clear()
    assert cache_key(clip) == key == known_cache_key(clip)  # the same file, the same key, every time
    assert large == []  # never hashed whole
    assert remembered_sha256(clip) is not None  # the digest the check above computed: a report's, apart


def test_any_write_to_a_large_file_changes_its_key(tmp_path: Path, large: list[Path]) -> None:
    """Bytes rewritten in the middle, where the key reads nothing, with the size and the mtime put back (a
    copy tool's `touch -r`): the ctime still moves, so the key does, and no entry of the old bytes is found."""
    clip = _settled_copy(tmp_path)
    key = cache_key(clip)
    stat = os.stat(clip)
    with open(clip, "r+b") as handle:
        handle.seek(stat.st_size // 2)
        handle.write(b"\0\0\0\0")
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(clip).st_size == stat.st_size and os.stat(clip).st_mtime_ns == stat.st_mtime_ns
    wait_until_settled(clip)
    assert cache_key(clip) != key
    copy = tmp_path / "copy.mp4"
    shutil.copy2(clip, copy)  # the same bytes and mtime, another file: learned again, never confused
    wait_until_settled(copy)
    assert cache_key(copy) != cache_key(clip)


def test_a_large_file_written_just_now_is_hashed_whole(tmp_path: Path, large: list[Path]) -> None:
    """Its identity may not show a second write in the same clock tick, so it is not trusted: the key is the
    digest, as before."""
    clip = tmp_path / "fresh.mp4"
    shutil.copyfile(media_path("video", "hdtf_wda_katiehill_512.mp4"), clip)
    assert known_cache_key(clip) is None
    assert cache_key(clip) == file_sha256(clip)
    assert large  # read whole


def test_a_missing_file_has_no_key(tmp_path: Path, large: list[Path]) -> None:
    assert known_cache_key(tmp_path / "missing.mp4") is None
    with pytest.raises(OSError):
        cache_key(tmp_path / "missing.mp4")


def test_tracking_and_profile_cached_under_a_large_files_key_are_found(tmp_path: Path, large: list[Path],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A first job learns and tracks a large clip without hashing it; the next finds both in the caches."""
    monkeypatch.setenv("MYTALK_HOME", str(tmp_path / "home"))
    clip = _settled_copy(tmp_path)
    references = [ReferenceRange(clip, 0, 50)]
    profile, cached = profile_cache.cached_build_profile(references)
    assert not cached
    assert [s.key for s in profile.sources] == [cache_key(clip)]
    again, cached = profile_cache.cached_build_profile(references)
    assert cached
    assert load_track(cache_key(clip), 0, 50, TrackerSettings()) is not None  # the learning's tracking, under the key
    tracked = track_video(clip, 0, 50)
    assert len(tracked) == 50 and sum(o.found for o in tracked) > 40
    assert large == []  # neither job read the file whole


def test_a_profile_saved_before_the_key_had_its_own_name_loads(tmp_path: Path) -> None:
    """Named actors saved by earlier versions hold their sources' "sha256"."""
    from mytalk.core.engines.classic.profile import ProfileSource

    old = {"path": "/clips/a.mov", "sha256": "ab" * 32, "start": 0, "stop": 10, "fps": "25/1"}
    source = ProfileSource.from_dict(old)
    assert source.key == "ab" * 32
    assert ProfileSource.from_dict(source.to_dict()) == source
