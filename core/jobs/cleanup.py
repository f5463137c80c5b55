"""Remove what killed jobs left behind: the next run does it first, and `mytalk clean` on demand.

Two ways to find leftovers, because a killed process ran none of its own clean-up:
- the job journal (`mytalk.core.jobs.journal`) names every temporary file, backup, job folder and
  lock of a job, wherever they are; a record whose process is gone is undone exactly
  (`mytalk.core.jobs.staging.recover`: targets back as they were, temporary files and the job's
  folder deleted, its version locks removed);
- temporary names say which process wrote them (`mytalk.core.tempnames`), so a folder can be
  scanned too: MyTalk's own folders always (`own_folders`), and the folders given to `mytalk clean`.
  A scan deletes only `partial` files (and scratch and job folders) of dead processes; it never
  deletes a `backup` (without its record, it may be the only copy of a file the user had), nor a
  job folder holding one, but lists it for a person to look at. Version lock files in the cache
  that no process holds are removed too.

Files of running jobs are never touched, whoever runs the clean-up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mytalk.core import filelock
from mytalk.core.filelock import release, try_lock
from mytalk.core.hashing import memo_folder
from mytalk.core.jobs.journal import Owner, handle_orphans, journal_folder
from mytalk.core.jobs.staging import recover, staging_root
from mytalk.core.jobs.versioning import lock_folder
from mytalk.core.tempnames import parse_temp_name
from mytalk.core.userdirs import UserDirs, user_dirs


@dataclass
class CleanReport:
    """What a clean-up did: files removed, targets put back, and files it left for a person."""

    removed: list[Path] = field(default_factory=list)
    restored: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    jobs: int = 0

    @property
    def count(self) -> int:
        return len(self.removed) + len(self.restored)

    def summary(self) -> str:
        """One line for the user; empty when nothing was found."""
        if not self.count and not self.kept:
            return ""
        parts = []
        if self.removed:
            names = ", ".join(str(p) for p in self.removed[:3]) + (", ..." if len(self.removed) > 3 else "")
            parts.append(f"removed {len(self.removed)} file(s) left by interrupted jobs ({names})")
        if self.restored:
            parts.append(f"put back {len(self.restored)} file(s) an interrupted job was replacing "
                         f"({', '.join(str(p) for p in self.restored[:3])})")
        if self.kept:
            parts.append(f"left {len(self.kept)} backup(s) of unknown origin for you to check "
                         f"({', '.join(str(p) for p in self.kept[:3])})")
        return "; ".join(parts)


def _pid_gone(pid: int) -> bool:
    return Owner(Owner.current().host, pid, None).is_gone()


def _recover_record(record: dict[str, Any], report: CleanReport) -> bool:
    targets = {Path(e["target"]) for e in record.get("files", []) if isinstance(e, dict) and e.get("target")}
    for path in recover(record):
        # A target that exists after the undo was put back; anything else that was touched is gone.
        (report.restored if path in targets and os.path.lexists(path) else report.removed).append(path)
    for lock_name in record.get("locks", []):
        if _drop_lock(Path(lock_name), owner_gone=True):
            report.removed.append(Path(lock_name))
    report.jobs += 1
    return True


def _drop_lock(lock: Path, *, owner_gone: bool = False) -> bool:
    """Remove a lock file that no process holds; True when it was removed."""
    if filelock.fcntl is None:
        # No flock (Windows): O_EXCL creation is the lock, so only its dead owner's record may free it.
        if not owner_gone:
            return False
        try:
            lock.unlink()
            return True
        except OSError:
            return False
    try:
        descriptor = try_lock(lock, create=False)
    except OSError:
        return False
    if descriptor is None:  # held by a live job, or already gone
        return False
    release(lock, descriptor)
    return True


def _scan_locks(folder: Path, report: CleanReport) -> None:
    """Lock files in the cache that nobody holds: reservations of commits that were killed."""
    try:
        locks = sorted(folder.glob("*.lock"))
    except OSError:
        return
    for lock in locks:
        if _drop_lock(lock):
            report.removed.append(lock)


def _scan(folder: Path, report: CleanReport) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = parse_temp_name(entry.name)
        if name is None or not _pid_gone(name.pid):
            continue
        path = Path(entry.path)
        if name.kind == "backup":
            report.kept.append(path)
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                # A scratch folder (`mytalk.core.atomic.scratch_folder`) or a job folder
                # (`mytalk.core.jobs.staging`): all of it was the dead job's, unless it holds a backup.
                backups = [p for p in path.iterdir() if (n := parse_temp_name(p.name)) and n.kind == "backup"]
                if backups:
                    report.kept.extend(backups)
                    continue
                shutil.rmtree(path)
            else:
                path.unlink()
            report.removed.append(path)
        except OSError:
            pass


def _scan_journal_temps(folder: Path, report: CleanReport) -> None:
    """Half-written records of processes that are gone, under the name earlier versions gave them
    (`.<pid>-<token>.json.tmp`); records are now written by `mytalk.core.atomic`, whose temporary
    names the ordinary scan finds."""
    try:
        entries = list(folder.glob(".*.json.tmp"))
    except OSError:
        return
    for path in entries:
        pid = path.name[1:].split("-", 1)[0]
        if pid.isdigit() and _pid_gone(int(pid)):
            try:
                path.unlink()
            except OSError:
                pass


def clean_leftovers(folders: Sequence[Path] = (), dirs: UserDirs | None = None) -> CleanReport:
    """Undo what dead jobs left: journal records first, then a scan of the cache and `folders`."""
    dirs = dirs or user_dirs()
    report = CleanReport()
    journal = journal_folder(dirs)
    handle_orphans(journal, lambda record: _recover_record(record, report))
    _scan_journal_temps(journal, report)
    # The jobs' staging folders too: a job whose journal record could not be written is found there.
    for folder in dict.fromkeys([*own_folders(dirs), staging_root(dirs), *map(Path, folders)]):
        _scan(folder, report)
    _scan_locks(lock_folder(dirs), report)
    return report


def own_folders(dirs: UserDirs) -> list[Path]:
    """MyTalk's own folders that its atomic writers (`mytalk.core.atomic`) write into, scanned on
    every clean-up: previews and their posters, job records, remembered hashes, tracking results,
    and the neural actors (a fine-tune's scratch dataset sits beside them). A writer that puts a
    file into another folder of ours adds it here, or a killed job's temporary file stays forever."""
    # The phone timings (`audio.phone_cache`, `audio.line_phones`) write with `AtomicFile` too.
    return [dirs.cache / "previews", journal_folder(dirs), memo_folder(dirs), dirs.tracking_cache,
            dirs.cache / "phones", dirs.cache / "phones" / "utterances", dirs.neural_actors]
