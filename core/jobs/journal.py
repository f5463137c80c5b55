"""The job journal: a small record per running job of every path it may leave behind.

A job's temporary files sit in a folder of its own (`mytalk.core.jobs.staging`), under the user's
scratch folder or, where that is another mount than the target's (only a rename within one mount
is atomic), hidden beside their targets; its version locks sit in the cache. A process killed with
SIGKILL (or by the OOM killer, or a power cut) runs no clean-up, so nothing but a record kept
elsewhere can say where its leftovers are. Before a job creates any such path it adds it to its record, a JSON file in the
user cache (`<cache>/journal/<pid>-<token>.json`), and it deletes the record once every path is
either in place or gone. A record whose owner process is gone is therefore a list of exactly what
to undo; `mytalk.core.jobs.cleanup` does that at the start of the next run and in `mytalk clean`.

The owner is recorded as host, pid and the process's start time (from /proc where there is one),
so a pid reused by an unrelated process after a reboot is not taken for the job.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mytalk.core.atomic import write_atomically
from mytalk.core.filelock import release, try_lock
from mytalk.core.userdirs import UserDirs, user_dirs

log = logging.getLogger("mytalk.journal")

RECORD_FORMAT = "mytalk-job-journal"
RECORD_VERSION = 1


def journal_folder(dirs: UserDirs | None = None) -> Path:
    """Where this user's job records live (under the cache, so `MYTALK_HOME` moves it)."""
    return (dirs or user_dirs()).cache / "journal"


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class Owner:
    """The process a record belongs to."""

    host: str
    pid: int
    started: str | None

    @classmethod
    def current(cls) -> Owner:
        return cls(platform.node(), os.getpid(), _process_start(os.getpid()))

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "started": self.started}

    @classmethod
    def from_dict(cls, data: Any) -> Owner | None:
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int) or not isinstance(data.get("host"), str):
            return None
        started = data.get("started")
        return cls(data["host"], data["pid"], started if isinstance(started, str) else None)

    def is_gone(self) -> bool:
        """True when the owner has certainly exited; a process on another host is never judged."""
        if self.host != platform.node():
            return False
        if self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, another user's
        except OSError:
            return False
        # Alive: still ours only if it started when ours did (pids are reused).
        now = _process_start(self.pid)
        return self.started is not None and now is not None and now != self.started


class JobRecord:
    """One job's record; every change is written (atomically) before the path it names exists.

    `folder=None`, or a cache that cannot be written, keeps the record in memory only: the job
    still cleans up after itself, and only a SIGKILL's leftovers would go unrecorded, which is
    logged once rather than failing a render over its cache folder.
    """

    def __init__(self, folder: Path | None = None, *, kind: str = "job") -> None:
        self.owner = Owner.current()
        self.folder = folder
        self.path: Path | None = None
        if folder is not None:
            self.path = folder / f"{self.owner.pid}-{secrets.token_hex(6)}.json"
        self.data: dict[str, Any] = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "kind": kind,
                                     "owner": self.owner.to_dict(), "state": "staging", "files": [], "locks": [],
                                     "folders": []}
        self._warned = False

    def save(self) -> bool:
        """Write the record; False (and one warning) when the journal folder cannot be written."""
        if self.path is None:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The half-written record of a process killed here has a temporary name with its pid,
            # which the clean-up's scan of this folder deletes; `handle_orphans` never reads it.
            write_atomically(self.path, json.dumps(self.data))
            return True
        except OSError as error:
            if not self._warned:
                log.warning("cannot write the job journal in %s (%s); a killed job's files would not be found",
                            self.path.parent, error.strerror or error)
                self._warned = True
            return False

    def add_file(self, temp: Path, target: Path) -> dict[str, Any]:
        """Record a temporary file that will become `target`; returns its entry (also updated in place)."""
        entry: dict[str, Any] = {"temp": str(temp), "target": str(target), "backup": None, "dev": None, "ino": None}
        self.data["files"].append(entry)
        self.save()
        return entry

    def add_folder(self, folder: Path) -> None:
        """Record the job's own folder for its temporary files (removed whole once they are dealt with)."""
        self.data["folders"].append(str(folder))
        self.save()

    def add_lock(self, lock: Path) -> None:
        self.data["locks"].append(str(lock))
        self.save()

    def drop_lock(self, lock: Path) -> None:
        """Forget a lock this job tried and did not get: it is another job's, never this one's to remove."""
        if str(lock) in self.data["locks"]:
            self.data["locks"].remove(str(lock))
            self.save()

    def set_state(self, state: str) -> None:
        self.data["state"] = state
        self.save()

    def close(self) -> None:
        """Forget the record: everything it named is in place or removed."""
        if self.path is not None:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass


def handle_orphans(folder: Path, recover: Callable[[dict[str, Any]], bool]) -> int:
    """Call `recover(record)` for each record whose owner is gone; delete those it returns True for.

    Each record is locked while it is handled, so two runs starting together never undo the same
    job twice, and a run killed while handling one leaves it for the next. Records that cannot be
    read are left for a person to look at. Returns how many records were handled.
    """
    try:
        paths = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
    except OSError:
        return 0
    handled = 0
    for path in paths:
        try:
            descriptor = try_lock(path, create=False)
        except OSError:
            continue
        if descriptor is None:
            continue  # another run is handling it, or it was just removed
        done = False
        try:
            data = json.loads(path.read_text())
            owner = Owner.from_dict(data.get("owner")) if isinstance(data, dict) else None
            if owner is not None and data.get("format") == RECORD_FORMAT and owner.is_gone():
                done = recover(data)
                handled += 1
        except (OSError, ValueError):
            pass
        finally:
            release(path, descriptor, remove=done)
    return handled
