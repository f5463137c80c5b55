"""The user cache kept within `MYTALK_CACHE_LIMIT`: whole entries go, least recently used first, never one
in use; a cache hit counts as a use; `mytalk clean` reports and `--cache` empties; a bad limit is one line
and exit code 2; the runtime trims after each job. Entries are written by the product's own writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.audio.line_phones import UtteranceCache
from mytalk.core.cache_budget import (
    DEFAULT_LIMIT,
    RECENT_S,
    cache_entries,
    cache_limit,
    parse_limit,
    trim_cache,
)
from mytalk.core.engines.classic.profile_files import write_profile_folder
from mytalk.core.errors import UsageError
from mytalk.core.face.cache import cache_path, landmarks_path, load_track, save_observations
from mytalk.core.face.observation import FaceObservation
from mytalk.core.face.tracker import TrackerSettings
from mytalk.core.userdirs import user_dirs

HOUR = 3600.0


def _tracking_entry(digest: str, frames: int = 40) -> Path:
    """A real tracking entry (its .npz and .landmarks.npy) written by the tracker's cache writer."""
    rng = np.random.default_rng(len(digest) + frames)
    observations = [FaceObservation(i, True, rng.random((478, 3), np.float32) * 500, 0.9, (0.0, 0.0, 0.0),
                                    (10, 10, 200, 200)) for i in range(frames)]
    return save_observations(observations, digest, 0, frames, TrackerSettings())


def _profile_entry(name: str, crops: int = 30) -> Path:
    """A folder in the shape a learned profile is cached in, written by the profile writer."""
    folder = user_dirs().cache / "classic-profiles" / name
    png = bytes(np.random.default_rng(crops).integers(0, 255, 20_000, np.uint8))
    return write_profile_folder(folder, {"ref_frame": np.arange(100)}, [png] * crops, {"version": 0})


def _age(paths: list[Path], hours: float) -> None:
    """Last used `hours` ago (files, and everything inside folders)."""
    stamp = time.time() - hours * HOUR
    for path in paths:
        for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
            os.utime(item, (stamp, stamp))


def _entry_files(npz: Path) -> list[Path]:
    return [npz, landmarks_path(npz)]


def test_limits_are_sizes_with_binary_units_and_a_bad_one_is_a_usage_error() -> None:
    assert parse_limit("10G") == parse_limit("10 GiB") == 10 * 2**30
    assert parse_limit("500M") == parse_limit("500mb") == 500 * 2**20
    assert parse_limit("2.5g") == int(2.5 * 2**30) and parse_limit("0") == 0 and parse_limit("1234") == 1234
    assert parse_limit("none") is None
    assert cache_limit({}) == DEFAULT_LIMIT and cache_limit({"MYTALK_CACHE_LIMIT": "1K"}) == 1024
    for bad in ("lots", "10 parsecs", "-1G", ""):
        with pytest.raises(UsageError, match="MYTALK_CACHE_LIMIT"):
            parse_limit(bad)


def test_the_entries_used_longest_ago_go_first_and_whole() -> None:
    oldest_track = _tracking_entry("a" * 64)
    newer_track = _tracking_entry("b" * 64)
    profile = _profile_entry("c" * 32)
    phones = UtteranceCache()
    phones.put_json("d" * 40, {"phones": [["AA", 0.0, 0.1]]})
    phone_file = phones.folder / f"{'d' * 40}.json"
    _age(_entry_files(oldest_track), 48)
    _age([profile], 30)
    _age(_entry_files(newer_track), 5)
    _age([phone_file], 2)
    entries = cache_entries()
    sizes = {e.paths[0].name: e.size for e in entries}
    assert sizes[oldest_track.name] == sum(p.stat().st_size for p in _entry_files(oldest_track))
    total = sum(sizes.values())
    # Room for everything but the two oldest: the oldest tracking entry and the profile must go, both whole.
    limit = total - sizes[oldest_track.name] - sizes[profile.name]
    report = trim_cache(limit)
    assert report.removed == 2 and report.before == total and report.after == limit
    assert not any(p.exists() for p in _entry_files(oldest_track)) and not profile.exists()
    assert all(p.exists() for p in _entry_files(newer_track)) and phone_file.exists()
    assert "removed 2 entries used longest ago" in report.summary()
    # Within the limit now: nothing more goes, and the summary says nothing.
    again = trim_cache(limit)
    assert again.removed == 0 and again.summary() == ""


def test_what_was_used_in_the_last_minutes_stays_even_over_the_limit() -> None:
    busy = _tracking_entry("e" * 64)  # just written: a running job may be reading it
    old = _tracking_entry("f" * 64)
    _age(_entry_files(old), RECENT_S / HOUR * 2)
    report = trim_cache(0)
    assert report.removed == 1 and not old.exists()
    assert all(p.exists() for p in _entry_files(busy)) and report.after > 0


def test_a_cache_hit_counts_as_a_use() -> None:
    settings = TrackerSettings()
    hit = _tracking_entry("1" * 64)
    unused = _tracking_entry("2" * 64)
    _age(_entry_files(hit), 72)  # the older of the two, until a job reads it
    _age(_entry_files(unused), 24)
    track = load_track("1" * 64, 0, 40, settings)
    assert track is not None and len(track.landmarks) == 40
    sizes = {e.paths[0]: e.size for e in cache_entries()}
    # The read made it recent: the unused one goes though it was written later.
    trim_cache(sum(sizes.values()) - sizes[unused], now=time.time() + 2 * RECENT_S)
    assert hit.exists() and not unused.exists()
    assert cache_path("1" * 64, 0, 40, settings) == hit


def test_temporary_names_are_left_to_the_clean_up_of_killed_jobs() -> None:
    tracking = user_dirs().tracking_cache
    tracking.mkdir(parents=True, exist_ok=True)
    partial = tracking / f".mytalk-{os.getpid()}-0123456789abcdef.partial.npz"
    partial.write_bytes(b"x" * 1000)
    _age([partial], 48)
    assert trim_cache(0).removed == 0 and partial.exists()


def test_a_killed_profile_save_is_removed_once_stale_and_a_live_one_stays() -> None:
    profiles = user_dirs().cache / "classic-profiles"
    stale = profiles / ".0123abcd.x1y2z3"  # `replace_folder`'s build folder, left by a killed save
    live = profiles / ".4567efgh.a1b2c3"  # one being filled now
    for folder in (stale, live):
        (folder / "crops").mkdir(parents=True)
        (folder / "crops" / "00000.png").write_bytes(b"p" * 5000)
    _age([stale], 48)
    assert trim_cache(0).removed == 1 and not stale.exists() and live.exists()


def test_a_killed_phone_timing_writer_is_cleaned_up() -> None:
    from mytalk.core.jobs.cleanup import clean_leftovers, own_folders

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    folders = [user_dirs().cache / "phones", UtteranceCache().folder]
    assert all(folder in own_folders(user_dirs()) for folder in folders)
    left = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        left.append(folder / f".mytalk-{dead}-0123456789abcdef.partial.json")
        left[-1].write_text("{")
    assert sorted(clean_leftovers().removed) == sorted(left) and not any(p.exists() for p in left)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mytalk.plugin.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_mytalk_clean_keeps_the_limit_says_the_size_and_empties_on_request() -> None:
    old = _tracking_entry("3" * 64, frames=200)
    recent = _tracking_entry("4" * 64)
    _age(_entry_files(old), 48)
    size = sum(p.stat().st_size for p in _entry_files(old))
    kept = _cli("clean")
    assert kept.returncode == 0 and old.exists()
    assert len(kept.stderr.strip().splitlines()) == 1 and "; cache " in kept.stderr
    assert "(limit 10.0 GiB), 0 entries removed" in kept.stderr
    trimmed = _cli("clean", env={"MYTALK_CACHE_LIMIT": str(size)})  # both do not fit: the old one goes
    assert trimmed.returncode == 0 and not old.exists() and recent.exists()
    assert "1 entry removed" in trimmed.stderr
    _age(_entry_files(recent), 1)
    emptied = _cli("clean", "--cache")
    assert emptied.returncode == 0 and not recent.exists() and cache_entries() == []
    assert "cache 0 B" in emptied.stderr


def test_a_bad_limit_stops_a_sync_with_one_line_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    result = _cli("sync", "missing.mov", "--audio", "missing.wav", "-o", str(out),
                  env={"MYTALK_CACHE_LIMIT": "plenty"})
    assert result.returncode == 2 and not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MYTALK_CACHE_LIMIT='plenty'" in lines[0], result.stderr


@pytest.mark.media
def test_a_finished_sync_trims_the_cache_and_says_so(tmp_path: Path) -> None:
    old = _tracking_entry("6" * 64)
    _age(_entry_files(old), 48)
    out = tmp_path / "out.mkv"
    result = _cli("sync", str(media_path("video", "retalking_face2_swalwell.mp4")), "--audio",
                  str(media_path("audio", "jfk_inaugural_en_16k.wav")), "-o", str(out), "--in", "0", "--out", "10",
                  "--engine", "copy", env={"MYTALK_CACHE_LIMIT": "0"})
    assert result.returncode == 0 and out.exists(), result.stderr
    assert not old.exists() and "cache trimmed to its limit: removed 1 entry" in result.stderr


def test_the_runtime_trims_the_cache_after_each_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    old = _tracking_entry("5" * 64)
    _age(_entry_files(old), 48)
    monkeypatch.setenv("MYTALK_CACHE_LIMIT", "0")
    runtime = subprocess.Popen([sys.executable, "-m", "mytalk.plugin.cli", "runtime"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert json.loads(runtime.stdout.readline())["event"] == "hello"  # type: ignore[union-attr]
        assert old.exists()  # nothing is trimmed before a job has run
        # A job that fails (its clip is missing) still ends, and the trim follows every job's end.
        request = {"v": 1, "type": "learn", "id": "l1", "request": {"video": str(tmp_path / "gone.mov")}}
        runtime.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
        runtime.stdin.flush()  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not old.exists()
    finally:
        runtime.stdin.close()  # type: ignore[union-attr]
        runtime.wait(timeout=30)
