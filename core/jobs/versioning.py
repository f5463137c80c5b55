"""Versioned output names that never overwrite anything: `<stem>_v001.mov`, then `_v002`, ...

Editors keep every render: a re-render of the same range must land beside the last one, never on
top of it, because the old version may already sit in a cut. A version number counts as taken
when *any* file of that version exists (the picture, its sidecar JSON, or a reservation left by a
render still in progress), so a picture and its sidecar always share one number.

A slot is reserved by locking a hidden lock file (`mytalk.core.filelock`): two panels committing
the same range at the same moment get v001 and v002, not one file written twice. The lock is
removed when the render ends, whether it succeeded or not. The kernel drops the lock of a killed
process, so a lock file left by one is free to take over: a killed commit no longer burns its
version number for good. The lock file is also named in the job journal, so `mytalk clean` tidies
it away if no later commit of that clip does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.errors import OutputError
from mytalk.core.filelock import is_locked, release, try_lock
from mytalk.core.jobs.journal import JobRecord, journal_folder

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


def _lock_path(folder: Path, stem: str, version: int) -> Path:
    return folder / f".{version_name(stem, version, '.lock')}"


def _files_exist(folder: Path, stem: str, version: int, suffixes: Sequence[str]) -> bool:
    return any(os.path.lexists(folder / version_name(stem, version, suffix)) for suffix in suffixes)


def _taken(folder: Path, stem: str, version: int, suffixes: Sequence[str]) -> bool:
    return _files_exist(folder, stem, version, suffixes) or is_locked(_lock_path(folder, stem, version))


def next_version(folder: Path, stem: str, suffixes: Sequence[str]) -> int:
    """The lowest version whose files (one per suffix) are absent and that no running job holds.

    Versions are filled from the bottom: if v001 was deleted by hand, the next render is v001
    again rather than leaving a hole, because nothing can then be overwritten either way.
    """
    for version in range(1, MAX_VERSION + 1):
        if not _taken(folder, stem, version, suffixes):
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
                    journal: Path | None = None) -> Iterator[VersionSlot]:
    """Reserve the next free version of `stem` in `folder` for the duration of the block.

    Yields the slot; the caller writes `slot.path(suffix)` for each suffix. The reservation (a
    hidden `.stem_vNNN.lock`, held locked) is removed on exit; files the caller wrote stay.
    `journal` is the job-journal folder (default: the user's) that records the lock file.
    """
    if not suffixes:
        raise ValueError("reserve_version needs at least one suffix")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the output folder {folder}: {error.strerror}; choose another folder") from None
    safe = safe_stem(stem)
    record = JobRecord(journal if journal is not None else journal_folder(), kind="version-lock")
    for version in range(1, MAX_VERSION + 1):
        if _files_exist(folder, safe, version, suffixes):
            continue
        lock = _lock_path(folder, safe, version)
        record.add_lock(lock)  # before the file can exist, so a killed job's lock is found
        try:
            descriptor = try_lock(lock)
        except OSError as error:
            record.close()
            raise OutputError(f"cannot write to the output folder {folder}: {error.strerror}; choose another folder") from None
        if descriptor is None:
            continue  # a running render holds this number: try the next
        # Re-check after locking: a file of this version may have appeared between scan and lock.
        if _files_exist(folder, safe, version, suffixes):
            release(lock, descriptor)
            continue
        try:
            yield VersionSlot(folder, safe, version, {s: folder / version_name(safe, version, s) for s in suffixes})
        finally:
            release(lock, descriptor)
            record.close()
        return
    record.close()
    raise OutputError(
        f"{folder}: versions v001-v{MAX_VERSION} of {safe} all exist; move old renders away or choose another folder"
    )
