"""All of a job's files appear together, complete, or none of them do; what was there stays.

A job delivers several files: the render, its report, a commit's sidecar. Each is first written in
full under a temporary name (`stage`) in the job's own folder, never in the folder it is delivered
to: a job killed with SIGKILL leaves nothing in the editor's render folder. The job folder lives
under the user's scratch folder (`staging_root`) when that is on the same mounted file system as
the target, because only a rename within one mount is atomic; otherwise it is a hidden folder
beside the target. Only when everything that can fail has succeeded (encoding, hashing, writing
the report) does `commit` put them all in place, in one step:

1. every temporary file is flushed to the disk (fsync), and its inode is recorded;
2. a target that already exists is kept as a hard-linked backup (a rename where the file system
   has no hard links), so it can be put back;
3. the temporary files are renamed onto their targets; then the folders are flushed;
4. the backups are deleted.

A failure in step 3 (a folder gone, a disk turned read-only) puts every target back as it was
before the command, from the backups, and deletes what was placed. Stop signals are held for
the length of the step (`hold_interrupts`), so Ctrl-C or SIGTERM cannot cut it in two.

Every path (and the job folder) is written to the job's journal record (`mytalk.core.jobs.journal`)
before it exists, with the step's state. If the process is killed anyway (SIGKILL, power),
`recover` does from the record what the process could not: before the record says "committed" it rolls back exactly as
above, deciding by inode whether a target is still the file the job placed, so a newer file that
someone else wrote there meanwhile is never touched; after "committed" it only deletes the
backups. Either way it then removes the job folder.

A target claimed as new (`claim_new`: a reserved version, `mytalk.core.jobs.versioning`) is never
replaced: if a file appeared there while the job ran (another machine committing the same version
into a shared folder), the commit fails and saves nothing rather than overwrite it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from mytalk.core.atomic import undo_on_failure
from mytalk.core.errors import OutputError, describe_os_error
from mytalk.core.interrupts import Interrupted, hold_interrupts
from mytalk.core.jobs.journal import JobRecord, journal_folder
from mytalk.core.tempnames import parse_temp_name, temp_path
from mytalk.core.userdirs import UserDirs, user_dirs

_NO_HARD_LINKS = {errno.EPERM, errno.EMLINK, errno.EXDEV, getattr(errno, "ENOTSUP", -1), getattr(errno, "EOPNOTSUPP", -1)}


def staging_root(dirs: UserDirs | None = None) -> Path:
    """Where jobs keep the files they have not delivered yet, one hidden folder per job."""
    return (dirs or user_dirs()).scratch / "staging"


_claimed: set[str] = set()
_claimed_lock = threading.Lock()


def _key(path: Path) -> str:
    return os.path.abspath(os.fspath(path))


@contextmanager
def claim_new(paths: Iterable[Path]) -> Iterator[None]:
    """Within the block, a job of this process that delivers one of `paths` never replaces a file
    there: the paths are new files (a reserved version), and one that exists is someone else's."""
    keys = {_key(path) for path in paths}
    with _claimed_lock:
        _claimed.update(keys)
    try:
        yield
    finally:
        with _claimed_lock:
            _claimed.difference_update(keys)


def _is_claimed(path: Path) -> bool:
    with _claimed_lock:
        return _key(path) in _claimed


def _mount_point(path: Path) -> str | None:
    """The mount point `path` lies under (Linux /proc/self/mountinfo), or None where unknown.

    Two folders on one file system mounted twice (a bind mount, a container volume) share st_dev,
    yet rename(2) between them fails with EXDEV: only the mount says whether a rename is atomic.
    """
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best: str | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        # Spaces, tabs, newlines and backslashes in mount points are written as octal escapes.
        point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best)):
            best = point  # a later mount on the same point hides the earlier one
    return best


def same_mount(a: Path, b: Path) -> bool:
    """True when a file can be renamed from folder `a` into folder `b` atomically (one mount)."""
    try:
        if os.stat(a).st_dev != os.stat(b).st_dev:
            return False
    except OSError:
        return False
    return _mount_point(a) == _mount_point(b)


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


def remove_job_folders(folders: Iterable[str | Path]) -> list[Path]:
    """Delete a job's own folders once the files it recorded are dealt with; returns any that still
    held something else (removed with their content). Only folders with a MyTalk temporary name are
    touched, and none that holds a backup (it may be the only copy of a user's file)."""
    removed: list[Path] = []
    for name in folders:
        folder = Path(name)
        if parse_temp_name(folder.name) is None or not folder.is_dir() or folder.is_symlink():
            continue
        try:
            folder.rmdir()  # empty: its files were counted as they were removed
            continue
        except OSError:
            pass
        try:
            inside = list(folder.iterdir())
        except OSError:
            continue
        names = [parse_temp_name(p.name) for p in inside]
        if any(name is not None and name.kind == "backup" for name in names):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed


def recover(record: dict[str, Any]) -> list[Path]:
    """Finish or undo what a dead job's journal record describes; returns the paths it touched."""
    entries = [e for e in record.get("files", []) if isinstance(e, dict) and e.get("temp") and e.get("target")]
    touched = finish(entries) if record.get("state") == "committed" else roll_back(entries)
    folders = [f for f in record.get("folders", []) if isinstance(f, str)]
    return touched + remove_job_folders(folders)


class StagedOutputs:
    """The files one job will deliver; use as a context manager, and call `commit` last.

    Leaving the block without a successful `commit` (an error, a cancel, a stop signal) deletes
    every staged file: targets are untouched.
    """

    def __init__(self, journal: Path | None = None, *, root: Path | None = None) -> None:
        """`journal`: the job-journal folder; `root`: where job folders go (default `staging_root()`)."""
        self._record = JobRecord(journal if journal is not None else journal_folder())
        self._root = root if root is not None else staging_root()
        self._folders: dict[Path, Path] = {}  # a target's folder, or the root -> this job's folder there
        self._entries: list[dict[str, Any]] = []
        self._done = False
        self._committed = False

    def stage(self, target: Path) -> Path:
        """The temporary path to write `target`'s content to (recorded before it exists)."""
        if self._done:
            raise RuntimeError("this job's files were already committed or discarded")
        target = Path(target)
        temp = self._temp_for(target, "partial")
        entry = self._record.add_file(temp, target)
        entry["new"] = _is_claimed(target)
        self._entries.append(entry)
        return temp

    def _temp_for(self, target: Path, kind: str) -> Path:
        return self._job_folder(target.parent) / temp_path(target, kind).name

    def _job_folder(self, parent: Path) -> Path:
        """This job's folder for files bound for `parent`: under the root when a rename from there
        into `parent` is atomic, else hidden in `parent` itself. Recorded before it exists."""
        home = self._root
        try:
            home.mkdir(parents=True, exist_ok=True)
            if not same_mount(home, parent):
                home = parent
        except OSError:
            home = parent
        folder = self._folders.get(home)
        if folder is not None:
            return folder
        folder = temp_path(home / "job")
        self._record.add_folder(folder)
        try:
            folder.mkdir()
        except OSError as error:
            raise OutputError(f"cannot write in {home}: {describe_os_error(error)}; choose another folder") from None
        self._folders[home] = folder
        return folder

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
                    if entry.get("new"):
                        _place_new(temp, target)
                    else:
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
                if entry.get("new"):
                    raise OutputError(f"{target}: another job wrote this version while this one ran (a second "
                                      "machine committing into the same folder?); nothing was saved, commit again")
                entry["backup"] = str(self._temp_for(target, "backup"))

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
        """Remove the job folders and drop the journal record, unless a file it names could not be
        removed (a read-only disk): then it stays, and the first run after this process is gone
        removes the file."""
        if remaining(self._entries):
            return
        remove_job_folders(self._folders.values())
        self._record.close()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()


def _place_new(temp: Path, target: Path) -> None:
    """Put `temp` at `target` only if nothing is there: a hard link cannot replace a file, where a
    rename would. File systems without hard links get a check just before the rename."""
    try:
        os.link(temp, target, follow_symlinks=False)
        return
    except FileExistsError:
        raise OutputError(f"{target}: another job wrote this version while this one ran; nothing was saved, "
                          "commit again") from None
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
    if os.path.lexists(target):
        raise OutputError(f"{target}: another job wrote this version while this one ran; nothing was saved, "
                          "commit again")
    os.replace(temp, target)


def _keep_backup(target: Path, backup: Path) -> None:
    """Keep the file at `target` reachable as `backup` while the new one is renamed over it."""
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        os.rename(target, backup)  # FAT, exFAT, some SMB shares: no hard links
