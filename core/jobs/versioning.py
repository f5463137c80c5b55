"""Versioned output names that never overwrite anything: `<stem>_v001.mov`, then `_v002`, ...

Editors keep every render: a re-render of the same range must land beside the last one, never on
top of it, because the old version may already sit in a cut. A version number counts as taken
when *any* file of that version exists (the picture, its sidecar JSON, or a reservation left by a
render still in progress), so a picture and its sidecar always share one number.

A slot is reserved by locking a lock file (`mytalk.core.filelock`): two panels committing the same
range at the same moment get v001 and v002, not one file written twice. There is one lock per
file a version will write (the picture, the sidecar), so a number is taken only for the suffixes
that use it: a timeline's `.edl` versions count apart from its `.otio` ones. Lock files live in the
user's cache (`lock_folder`), named for the output folder's identity (device and inode) and the
file's name, never in the render folder: a killed commit leaves nothing there. The lock is
removed when the render ends, whether it succeeded or not; the kernel drops the lock of a killed
process, so a lock file left by one is free to take over (a stale lock never burns a version
number), and the job journal names it, so the next start or `mytalk clean` removes it.

Commits from another machine (or another user's cache) into a shared folder do not see these
locks; the reserved paths are claimed as new files (`mytalk.core.jobs.staging.claim_new`), so if
two such commits pick the same number, the second one fails with nothing saved instead of
replacing the first.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.errors import OutputError
from mytalk.core.filelock import is_locked, release, try_lock
from mytalk.core.jobs.journal import JobRecord, journal_folder
from mytalk.core.jobs.staging import claim_new
from mytalk.core.userdirs import UserDirs, user_dirs

VERSION_DIGITS = 3
MAX_VERSION = 999
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(text: str) -> str:
    """A file-name-safe version of a clip name: spaces and separators become `_`.

    Timecode colons and slashes are not allowed in file names on every system the output may be
    copied to (Windows, SMB shares), so names keep only letters, digits, `.`, `_` and `-`.
    """
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")
    return cleaned or "clip"


def version_name(stem: str, version: int, suffix: str) -> str:
    """`clip_0-120` + 3 + `.mov` -> `clip_0-120_v003.mov`."""
    return f"{stem}_v{version:0{VERSION_DIGITS}d}{suffix}"


def lock_folder(dirs: UserDirs | None = None) -> Path:
    """Where version reservations are locked: the user's cache, never the render folder."""
    return (dirs or user_dirs()).cache / "locks"


def lock_path(folder: Path, name: str, locks: Path | None = None) -> Path:
    """The lock file that reserves the file `name` (`clip_0-25_v001.mov`) in `folder`, under `locks`.

    Named for the folder's device and inode, so every spelling of its path (a symlink, a relative
    path) finds the same lock, hashed with the name so that a 250-byte clip name still fits.
    """
    try:
        info = os.stat(folder)
        identity = f"{info.st_dev}:{info.st_ino}"
    except OSError:
        identity = os.path.realpath(folder)
    digest = hashlib.sha256(f"{identity}/{name}".encode()).hexdigest()[:32]
    return (locks if locks is not None else lock_folder()) / f"{digest}.lock"


def _locks_of(folder: Path, stem: str, version: int, suffixes: Sequence[str], locks: Path | None) -> list[Path]:
    return [lock_path(folder, version_name(stem, version, suffix), locks) for suffix in sorted(set(suffixes))]


def _files_exist(folder: Path, stem: str, version: int, suffixes: Sequence[str]) -> bool:
    return any(os.path.lexists(folder / version_name(stem, version, suffix)) for suffix in suffixes)


def _taken(folder: Path, stem: str, version: int, suffixes: Sequence[str], locks: Path | None) -> bool:
    return _files_exist(folder, stem, version, suffixes) or \
        any(is_locked(lock) for lock in _locks_of(folder, stem, version, suffixes, locks))


def next_version(folder: Path, stem: str, suffixes: Sequence[str], *, locks: Path | None = None) -> int:
    """The lowest version whose files (one per suffix) are absent and that no running job holds.

    Versions are filled from the bottom: if v001 was deleted by hand, the next render is v001
    again rather than leaving a hole, because nothing can then be overwritten either way. Only the
    given suffixes count: a timeline's `.edl` versions are numbered apart from its `.otio` ones.
    """
    for version in range(1, MAX_VERSION + 1):
        if not _taken(folder, stem, version, suffixes, locks):
            return version
    raise OutputError(
        f"{folder}: versions v001-v{MAX_VERSION} of {stem} all exist; move old renders away or choose another folder"
    )


@dataclass(frozen=True)
class VersionSlot:
    """A reserved version: the paths to write, one per suffix, keyed by suffix."""

    folder: Path
    stem: str
    version: int
    paths: dict[str, Path]

    @property
    def label(self) -> str:
        return f"v{self.version:0{VERSION_DIGITS}d}"

    def path(self, suffix: str) -> Path:
        return self.paths[suffix]


@contextmanager
def reserve_version(folder: Path, stem: str, suffixes: Sequence[str], *,
                    journal: Path | None = None, locks: Path | None = None) -> Iterator[VersionSlot]:
    """Reserve the next free version of `stem` in `folder` for the duration of the block.

    Yields the slot; the caller writes `slot.path(suffix)` for each suffix, through a job's staged
    commit (`mytalk.core.jobs.staging`), which never replaces a file that appears there meanwhile.
    The reservation (a lock file per suffix in `locks`, default `lock_folder()`, held locked) is
    removed on exit; files the caller wrote stay. `journal` is the job-journal folder (default:
    the user's) that records the lock files.
    """
    if not suffixes:
        raise ValueError("reserve_version needs at least one suffix")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the output folder {folder}: {error.strerror}; choose another folder") from None
    safe = safe_stem(stem)
    locks = locks if locks is not None else lock_folder()
    try:
        locks.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create MyTalk's lock folder {locks}: {error.strerror}; "
                          "check the user cache folder (or MYTALK_HOME)") from None
    record = JobRecord(journal if journal is not None else journal_folder(), kind="version-lock")
    for version in range(1, MAX_VERSION + 1):
        if _files_exist(folder, safe, version, suffixes):
            continue
        held: list[tuple[Path, int]] = []
        try:
            for lock in _locks_of(folder, safe, version, suffixes, locks):
                record.add_lock(lock)  # before the file can exist, so a killed job's lock is found
                descriptor = try_lock(lock)
                if descriptor is None:
                    record.drop_lock(lock)
                    break  # a running render holds this number for one of our suffixes: try the next
                held.append((lock, descriptor))
        except OSError as error:
            _release_all(held)
            record.close()
            raise OutputError(f"cannot write to MyTalk's lock folder {locks}: {error.strerror}; "
                              "check the user cache folder (or MYTALK_HOME)") from None
        # Re-check after locking: a file of this version may have appeared between scan and lock.
        if len(held) < len(set(suffixes)) or _files_exist(folder, safe, version, suffixes):
            _release_all(held)
            continue
        paths = {s: folder / version_name(safe, version, s) for s in suffixes}
        try:
            with claim_new(paths.values()):
                yield VersionSlot(folder, safe, version, paths)
        finally:
            _release_all(held)
            record.close()
        return
    record.close()
    raise OutputError(
        f"{folder}: versions v001-v{MAX_VERSION} of {safe} all exist; move old renders away or choose another folder"
    )


def _release_all(held: list[tuple[Path, int]]) -> None:
    for lock, descriptor in reversed(held):
        release(lock, descriptor)
