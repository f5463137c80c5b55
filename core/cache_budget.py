"""Keeping the user cache within a size: the entries used longest ago go first.

Everything in these caches can be made again (tracking meshes, learned actor profiles, timed phones,
remembered file hashes, triangulations), but nothing ever removed them, so the cache only grew: a
learned profile is about 6 MB (26 learned from the shared clips averaged 6.3 MB) and tracking keeps
5.7 KB a frame (478 points of 3 float32), so a dialogue editor
working through a feature's few thousand shots would fill the system disk unseen. So the cache has a
limit (`MYTALK_CACHE_LIMIT`, default `DEFAULT_LIMIT`), and `trim_cache` removes whole entries, least
recently used first, until the cache fits.

- **Used** means written or read: a cache hit touches its entry (`touch`), so a clip worked on every
  day keeps its entries however old they are.
- **Entries**, not files: a tracking entry is its `.npz` and its `.landmarks.npy`, a profile its whole
  folder. The file that makes an entry exist (the `.npz`, `profile.json`) is removed first, so a reader
  in another process meets a miss (and rebuilds), never half an entry.
- **Never in use**: an entry used in the last `RECENT_S` is kept even over the limit (a job running
  in another process may be reading it). Hidden files are temporary files of live or killed writers,
  named by their owner, and left to `mytalk.core.jobs.cleanup`. A profile's hidden folders (the build
  and the previous version of `atomic.replace_folder`, whose names say no owner) are entries like any
  other: only one a killed save left stays unused long enough to be removed.
- It runs after a `mytalk sync` (so what the job used counts as used), after a runtime job (at most
  every `server.TRIM_EVERY_S`), and on `mytalk clean`; `mytalk clean --cache` empties it.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.errors import UsageError
from mytalk.core.userdirs import UserDirs, user_dirs

LIMIT_ENV = "MYTALK_CACHE_LIMIT"

DEFAULT_LIMIT = 10 * 2**30
"""10 GiB: about 1.8 million frames of tracking (20 hours at 25 fps), or some 1,500 learned 30 s clips."""

RECENT_S = 600.0
"""Entries used this recently are never removed: a job in another process may be reading them."""

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
          "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40, "tib": 2**40}
_SIZE = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)\s*")


def parse_limit(text: str) -> int | None:
    """`10G`, `500MB`, `2.5GiB`, `0` (cache nothing between jobs) or `none` (no limit) → bytes or None.

    Units are binary (G = GiB), as file managers on Linux and macOS mostly show them. Raises UsageError."""
    if text.strip().lower() in ("none", "unlimited"):
        return None
    match = _SIZE.fullmatch(text.lower())
    if match is None or match["unit"] not in _UNITS:
        raise UsageError(f"{LIMIT_ENV}={text!r}: give a size such as 10G or 500M, 0, or none")
    return int(float(match["number"]) * _UNITS[match["unit"]])


def cache_limit(env: Mapping[str, str] | None = None) -> int | None:
    """The limit in bytes from `MYTALK_CACHE_LIMIT` (None: no limit). Raises UsageError for a bad value."""
    text = (os.environ if env is None else env).get(LIMIT_ENV, "").strip()
    return DEFAULT_LIMIT if not text else parse_limit(text)


@dataclass(frozen=True)
class CacheEntry:
    """One removable unit: its files or folder, its size, and when it was last used."""

    paths: tuple[Path, ...]
    """In removal order: the one that makes the entry exist comes first."""
    size: int
    used: float

    def remove(self) -> int:
        """Delete the entry (whatever is already gone is skipped); returns the bytes freed."""
        freed = 0
        for path in self.paths:
            try:
                if path.is_dir() and not path.is_symlink():
                    size = _tree_size(path)
                    (path / "profile.json").unlink(missing_ok=True)
                    shutil.rmtree(path, ignore_errors=True)
                    freed += size - (_tree_size(path) if path.exists() else 0)
                else:
                    size = path.stat().st_size
                    path.unlink()
                    freed += size
            except OSError:
                continue  # gone already, or held open where that forbids deleting (Windows)
        return freed


def _tree_files(folder: Path) -> Iterator[os.stat_result]:
    """The stat of every file under `folder`; files that vanish meanwhile are skipped."""
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                yield os.lstat(os.path.join(root, name))
            except OSError:
                pass


def _tree_size(folder: Path) -> int:
    return sum(stat.st_size for stat in _tree_files(folder))


def _tree_used(folder: Path) -> float:
    """A folder entry's last use: its marker's time (`touch`ed on each hit), else its newest file's."""
    try:
        return (folder / "profile.json").stat().st_mtime
    except OSError:
        return max((stat.st_mtime for stat in _tree_files(folder)), default=0.0)


def _visible(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return [e for e in os.scandir(folder) if not e.name.startswith(".")]
    except OSError:
        return []


def _file_groups(folder: Path) -> Iterator[CacheEntry]:
    """Files grouped by the name before their first dot (`X.npz` with `X.landmarks.npy`); in each group
    the `.npz` (an entry exists once its `.npz` does, `mytalk.core.face.cache`) goes first."""
    groups: dict[str, list[os.DirEntry[str]]] = {}
    for entry in _visible(folder):
        if entry.is_file(follow_symlinks=False):
            groups.setdefault(entry.name.split(".", 1)[0], []).append(entry)
        elif entry.is_dir(follow_symlinks=False):
            yield from _file_groups(Path(entry.path))
    for files in groups.values():
        stats = []
        for entry in files:
            try:
                stats.append((entry, entry.stat(follow_symlinks=False)))
            except OSError:
                continue
        if stats:
            stats.sort(key=lambda item: not item[0].name.endswith(".npz"))
            yield CacheEntry(tuple(Path(e.path) for e, _ in stats), sum(s.st_size for _, s in stats),
                             max(s.st_mtime for _, s in stats))


def _folder_entries(folder: Path) -> Iterator[CacheEntry]:
    """Each folder is an entry, hidden ones too (see the module's docstring)."""
    try:
        found = list(os.scandir(folder))
    except OSError:
        return
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            path = Path(entry.path)
            yield CacheEntry((path,), _tree_size(path), _tree_used(path))


def cache_entries(dirs: UserDirs | None = None) -> list[CacheEntry]:
    """Every removable entry of the regenerable caches (not previews, job records, scratch or locks)."""
    dirs = dirs or user_dirs()
    entries = [*_file_groups(dirs.tracking_cache), *_file_groups(dirs.cache / "phones"),
               *_file_groups(dirs.cache / "hashes"), *_folder_entries(dirs.cache / "classic-profiles")]
    return entries


def touch(path: Path) -> None:
    """Mark a cache entry used now (its marker file), so the trim keeps it; a read-only cache is fine."""
    try:
        os.utime(path)
    except OSError:
        pass


@dataclass(frozen=True)
class TrimReport:
    """What a trim found and did."""

    before: int
    after: int
    removed: int
    limit: int | None

    def summary(self) -> str:
        """One line: the cache's size, its limit, and what was removed ("" when nothing was)."""
        if not self.removed:
            return ""
        return (f"cache trimmed to its limit: removed {self.removed} entr{'y' if self.removed == 1 else 'ies'} "
                f"used longest ago, {format_size(self.before)} -> {format_size(self.after)} "
                f"(limit {format_size(self.limit)}, {LIMIT_ENV})")


def format_size(size: int | None) -> str:
    if size is None:
        return "none"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def trim_cache(limit: int | None, dirs: UserDirs | None = None, *, everything: bool = False,
               now: float | None = None) -> TrimReport:
    """Remove entries, least recently used first, until the cache holds at most `limit` bytes (None: no
    limit; callers pass `cache_limit()`). Entries used in the last `RECENT_S` stay. `everything`: remove
    every entry not in use (`mytalk clean --cache`). Each entry's time is read again just before it goes,
    so one that another process used meanwhile stays."""
    now = time.time() if now is None else now
    entries = sorted(cache_entries(dirs), key=lambda e: e.used)
    before = total = sum(e.size for e in entries)
    removed = 0
    for entry in entries:
        if not everything and (limit is None or total <= limit):
            break
        if now - entry.used < RECENT_S or now - _used_now(entry) < RECENT_S:
            continue
        total -= entry.remove()
        removed += 1
    return TrimReport(before, total, removed, None if everything else limit)


def _used_now(entry: CacheEntry) -> float:
    path = entry.paths[0]
    try:
        return _tree_used(path) if path.is_dir() else path.stat().st_mtime
    except OSError:
        return 0.0  # gone: nothing to keep
