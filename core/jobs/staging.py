"""All of a job's files appear together, complete, or none of them do; what was there stays.

A job delivers several files: the render, its report, a commit's sidecar. Each is first written in
full under a temporary name beside its target (`stage`). Only when everything that can fail has
succeeded (encoding, hashing, writing the report) does `commit` put them all in place, in one step:

1. every temporary file is flushed to the disk (fsync), and its inode is recorded;
2. a target that already exists is kept as a hard-linked backup (a rename where the file system
   has no hard links), so it can be put back;
3. the temporary files are renamed onto their targets; then the folders are flushed;
4. the backups are deleted.

A failure in step 3 (a folder gone, a disk turned read-only) puts every target back as it was
before the command, from the backups, and deletes what was placed. Stop signals are held for
the length of the step (`hold_interrupts`), so Ctrl-C or SIGTERM cannot cut it in two.

Every path is written to the job's journal record (`mytalk.core.jobs.journal`) before it exists,
with the step's state. If the process is killed anyway (SIGKILL, power), `recover` does from the
record what the process could not: before the record says "committed" it rolls back exactly as
above, deciding by inode whether a target is still the file the job placed, so a newer file that
someone else wrote there meanwhile is never touched; after "committed" it only deletes the
backups.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from mytalk.core.atomic import undo_on_failure
from mytalk.core.errors import OutputError, describe_os_error
from mytalk.core.interrupts import Interrupted, hold_interrupts
from mytalk.core.jobs.journal import JobRecord, journal_folder
from mytalk.core.tempnames import temp_path

_NO_HARD_LINKS = {errno.EPERM, errno.EMLINK, errno.EXDEV, getattr(errno, "ENOTSUP", -1), getattr(errno, "EOPNOTSUPP", -1)}


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError:
        return False


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.lstat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _fsync(path: Path, *, folder: bool = False) -> None:
    """Flush a file's data (or a folder's entries) to the disk; file systems that cannot are skipped."""
    try:
        descriptor = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    except OSError:
        if folder:
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError as error:
        if not folder and error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(descriptor)


def roll_back(entries: list[dict[str, Any]]) -> list[Path]:
    """Undo a commit that did not finish: every target as before, temporary files and backups gone.

    Safe to run more than once and after a crash: a target is only replaced or removed while it
    is still the file the job placed (same device and inode). Returns the paths removed or
    restored; raises nothing.
    """
    touched: list[Path] = []
    for entry in reversed(entries):
        target = Path(entry["target"])
        placed = (entry.get("dev"), entry.get("ino")) if entry.get("ino") is not None else None
        now = _identity(target)
        backup = Path(entry["backup"]) if entry.get("backup") else None
        try:
            if backup is not None and os.path.lexists(backup):
                if now is None or now == placed:
                    os.replace(backup, target)  # the old file goes back where it was
                    touched.append(target)
                elif _remove(backup):
                    touched.append(backup)  # the target is still the old file (hard-linked backup)
            elif placed is not None and now == placed and _remove(target):
                touched.append(target)  # a new file the job placed; nothing was there before
        except OSError:
            pass
        if _remove(Path(entry["temp"])):
            touched.append(Path(entry["temp"]))
    return touched


def remaining(entries: list[dict[str, Any]]) -> list[Path]:
    """Temporary files and backups of `entries` that still exist (a disk that turned read-only)."""
    return [Path(entry[key]) for entry in entries for key in ("temp", "backup")
            if entry.get(key) and os.path.lexists(entry[key])]


def finish(entries: list[dict[str, Any]]) -> list[Path]:
    """After a complete commit: delete the backups (and any temporary file still about)."""
    removed = []
    for entry in entries:
        for key in ("backup", "temp"):
            if entry.get(key) and _remove(Path(entry[key])):
                removed.append(Path(entry[key]))
    return removed


def recover(record: dict[str, Any]) -> list[Path]:
    """Finish or undo what a dead job's journal record describes; returns the paths it touched."""
    entries = [e for e in record.get("files", []) if isinstance(e, dict) and e.get("temp") and e.get("target")]
    if record.get("state") == "committed":
        return finish(entries)
    return roll_back(entries)


class StagedOutputs:
    """The files one job will deliver; use as a context manager, and call `commit` last.

    Leaving the block without a successful `commit` (an error, a cancel, a stop signal) deletes
    every staged file: targets are untouched.
    """

    def __init__(self, journal: Path | None = None) -> None:
        self._record = JobRecord(journal if journal is not None else journal_folder())
        self._entries: list[dict[str, Any]] = []
        self._done = False
        self._committed = False

    def stage(self, target: Path) -> Path:
        """The temporary path to write `target`'s content to (recorded before it exists)."""
        if self._done:
            raise RuntimeError("this job's files were already committed or discarded")
        temp = temp_path(Path(target))
        self._entries.append(self._record.add_file(temp, Path(target)))
        return temp

    @property
    def targets(self) -> list[Path]:
        return [Path(entry["target"]) for entry in self._entries]

    def commit(self) -> None:
        """Put every staged file in place at once; on failure leave every target as it was.

        A stop signal that arrives during the step is acted on once it is over; if the files were
        put in place, the `Interrupted` it raises lists them in `saved`.
        """
        if self._done:
            raise RuntimeError("this job's files were already committed or discarded")
        try:
            self._commit()
        except Interrupted as stop:
            if self._committed:
                stop.saved = [str(target) for target in self.targets]
            raise

    def _commit(self) -> None:
        with hold_interrupts():
            with undo_on_failure(self.discard, lambda error: f"{describe_os_error(error)}; nothing was saved"):
                self._prepare()
            self._record.set_state("committing")
            with undo_on_failure(self._undo_placing, lambda error: f"{describe_os_error(error)}; nothing was saved, "
                                 "the files that were there are as before"):
                for entry in self._entries:
                    target, temp = Path(entry["target"]), Path(entry["temp"])
                    if entry["backup"]:
                        _keep_backup(target, Path(entry["backup"]))
                    os.replace(temp, target)
                for folder in dict.fromkeys(Path(entry["target"]).parent for entry in self._entries):
                    _fsync(folder, folder=True)
            self._record.set_state("committed")
            self._committed = True
            finish(self._entries)
            self._done = True
            self._close_record()

    def _prepare(self) -> None:
        for entry in self._entries:
            temp, target = Path(entry["temp"]), Path(entry["target"])
            if not temp.is_file():
                raise OutputError(f"{target}: its temporary file {temp.name} is gone; nothing was saved, render again")
            _fsync(temp)
            stat = os.lstat(temp)
            entry["dev"], entry["ino"] = stat.st_dev, stat.st_ino
            if target.is_dir() and not target.is_symlink():
                raise OutputError(f"{target}: a folder appeared where the file goes; nothing was saved, move it away")
            if os.path.lexists(target):
                entry["backup"] = str(temp_path(target, "backup"))

    def _undo_placing(self) -> None:
        """A commit failed while files were being put in place: every target back as it was."""
        roll_back(self._entries)
        self._done = True
        self._close_record()

    def discard(self) -> None:
        """Delete every staged file; the targets are untouched."""
        if self._done:
            return
        self._done = True
        roll_back(self._entries)
        self._close_record()

    def _close_record(self) -> None:
        """Drop the journal record, unless a file it names could not be removed (a read-only disk):
        then it stays, and the first run after this process is gone removes the file."""
        if not remaining(self._entries):
            self._record.close()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()


def _keep_backup(target: Path, backup: Path) -> None:
    """Keep the file at `target` reachable as `backup` while the new one is renamed over it."""
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        os.rename(target, backup)  # FAT, exFAT, some SMB shares: no hard links
