"""The probes of the clips a long-lived front end's jobs read, kept while each file stays as it was.

`probe` counts a clip's frames exactly. A QuickTime or MP4 file answers from its sample table in
milliseconds, but a transport stream (AVCHD's `.mts`/`.m2ts`, broadcast `.ts`) and a program stream have
no index, so every probe demuxes the whole file: 0.18 s for a 60 s 1080p clip at 24 Mb/s from the page
cache, seconds for a camera's 2 GB clip and more over a network share. The runtime's preview and commit
each resolved their request twice (the command, then the job), and the panel previews the same clip
again and again. A warm preview's first frame is due within a second, so a long AVCHD clip spent it all
on probes of a file that had not changed.

A probe is reused only for the same file as it was: the file's identity (device, inode, size, modification
and change times) is taken before the probe and compared with the identity when it is reused, and a file
changed within the last `hashing.RACY_WINDOW_NS` (where a change might not show in its times) is never
remembered. Anything else is probed again.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from mytalk.core.hashing import FileIdentity
from mytalk.core.jobs.request import ResolvedRequest, SyncRequest, resolve_request
from mytalk.core.media.probe import MediaInfo, probe

KEPT = 16
"""Clips remembered at once: a session's clips and their references, with the ones used longest ago
forgotten first."""


def file_identity(path: Path) -> FileIdentity | None:
    """The file's identity now, or None when it cannot be read (the probe that follows says why)."""
    try:
        return FileIdentity.of(path)
    except OSError:
        return None


@dataclass
class ClipProbes:
    """Probes by file, each with the identity the file had just before it was probed. Thread-safe: the
    runtime answers requests on one thread and runs jobs on another."""

    kept: int = KEPT
    _known: OrderedDict[Path, tuple[FileIdentity, MediaInfo]] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def known(self, path: Path, identity: FileIdentity | None) -> MediaInfo | None:
        """The probe of `path` when the file still has `identity` (taken by the caller now); else None."""
        if identity is None:
            return None
        key = _key(path)
        with self._lock:
            entry = self._known.get(key)
            if entry is None or entry[0] != identity:
                return None
            self._known.move_to_end(key)
            return entry[1]

    def remember(self, path: Path, identity: FileIdentity | None, info: MediaInfo) -> None:
        """Keep `info`, probed after `identity` was taken, unless the file changed too recently for a later
        change to show in its identity."""
        if identity is None or not identity.settled(time.time_ns()):
            return
        key = _key(path)
        with self._lock:
            self._known[key] = (identity, info)
            self._known.move_to_end(key)
            while len(self._known) > self.kept:
                self._known.popitem(last=False)

    def probe(self, path: Path) -> MediaInfo:
        """`probe(path)`, reused when the file has not changed since it was probed, and remembered otherwise."""
        identity = file_identity(path)
        info = self.known(path, identity)
        if info is None:
            info = probe(path)
            self.remember(path, identity, info)
        return info

    def resolve(self, request: SyncRequest, identity: FileIdentity | None = None) -> ResolvedRequest:
        """`resolve_request`, with the clip's probe reused when the file has not changed since it was
        probed, and remembered otherwise. `identity`: the clip's, taken by the caller before (a job takes
        every input's at its start); taken now when None."""
        identity = identity or file_identity(request.video)
        resolved = resolve_request(request, self.known(request.video, identity))
        self.remember(request.video, identity, resolved.info)
        return resolved


def _key(path: Path) -> Path:
    """One key per file however it is named (relative or not); the identity still decides."""
    return Path(os.path.abspath(path))
