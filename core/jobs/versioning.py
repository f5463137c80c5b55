"""Versioned output names that never overwrite anything: `<stem>_v001.mov`, then `_v002`, ...

Editors keep every render: a re-render of the same range must land beside the last one, never on
top of it, because the old version may already sit in a cut. A version number counts as taken
when *any* file of that version exists (the picture, its sidecar JSON, or a reservation left by a
render still in progress), so a picture and its sidecar always share one number.

A slot is reserved by creating a hidden lock file with `O_EXCL`, which the file system makes
atomic: two panels committing the same range at the same moment get v001 and v002, not one file
written twice. The lock is removed when the render ends, whether it succeeded or not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.errors import OutputError

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


def _taken(folder: Path, stem: str, version: int, suffixes: Sequence[str]) -> bool:
    if _lock_path(folder, stem, version).exists():
        return True
    return any((folder / version_name(stem, version, suffix)).exists() for suffix in suffixes)


def next_version(folder: Path, stem: str, suffixes: Sequence[str]) -> int:
    """The lowest version whose files (one per suffix) and reservation are all absent.

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
def reserve_version(folder: Path, stem: str, suffixes: Sequence[str]) -> Iterator[VersionSlot]:
    """Reserve the next free version of `stem` in `folder` for the duration of the block.

    Yields the slot; the caller writes `slot.path(suffix)` for each suffix. The reservation (a
    hidden `.stem_vNNN.lock`) is removed on exit; files the caller wrote stay.
    """
    if not suffixes:
        raise ValueError("reserve_version needs at least one suffix")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the output folder {folder}: {error.strerror}; choose another folder") from None
    safe = safe_stem(stem)
    for _attempt in range(MAX_VERSION):
        version = next_version(folder, safe, suffixes)
        lock = _lock_path(folder, safe, version)
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue  # another render took this number between the scan and the lock: try the next
        except OSError as error:
            raise OutputError(f"cannot write to the output folder {folder}: {error.strerror}; choose another folder") from None
        os.close(descriptor)
        # Re-check after locking: a file of this version may have appeared between scan and lock.
        if any((folder / version_name(safe, version, s)).exists() for s in suffixes):
            lock.unlink(missing_ok=True)
            continue
        try:
            yield VersionSlot(folder, safe, version, {s: folder / version_name(safe, version, s) for s in suffixes})
        finally:
            lock.unlink(missing_ok=True)
        return
    raise OutputError(f"{folder}: could not reserve a version of {safe}; too many renders at once, try again")
