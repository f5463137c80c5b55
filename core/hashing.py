"""Content hashes of input files that are always of the bytes a job read.

Reports key on the SHA-256 of each whole input so a render can be reproduced exactly. A large
camera original takes seconds to hash, and preview and commit both need it, so a digest is
remembered in the cache folder. The key used to be (path, size, mtime); a file rewritten in place
with its mtime set back (`touch -r`, `rsync -t`, many copy tools) kept its old digest, and the
report then vouched for bytes that were no longer there.

The key is now the file's `FileIdentity`: device, inode, size, mtime and **ctime**. The kernel
sets ctime to the current time on every write, rename, chmod or utime, and no system call can set
it back, so a rewritten file never matches an old entry. On any doubt the file is hashed in full:
- a file changed within `RACY_WINDOW_NS` of the hash (the clock's and the file system's timestamp
  granularity: a second write in the same tick could leave ctime unchanged) is not remembered;
- on Windows, where `st_ctime` is the creation time, nothing is remembered;
- a file whose identity differs before and after hashing raises `InputChangedError`.

A job also passes the identity it saw before it read the file (`expect`): if the file changed
since, the job's frames came from other bytes than the hash, and it fails instead of reporting.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.atomic import write_atomically
from mytalk.core.errors import InputChangedError, JobCancelledError
from mytalk.core.userdirs import UserDirs, user_dirs

_CHUNK = 4 * 1024 * 1024
RACY_WINDOW_NS = 2_000_000_000
"""Files changed this recently are hashed every time: FAT stores times to 2 s, ext4 to a jiffy."""

CACHE_KEY_VERSION = 2
"""Bumped when the key changes, so entries made under the old (path, size, mtime) key are never read."""


@dataclass(frozen=True)
class FileIdentity:
    """What changes whenever a file's bytes can have changed: (device, inode, size, mtime, ctime)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        stat = os.stat(path)
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)

    def settled(self, now_ns: int) -> bool:
        """True when a later change is sure to show in the identity (see `RACY_WINDOW_NS`)."""
        return os.name != "nt" and now_ns - max(self.mtime_ns, self.ctime_ns) > RACY_WINDOW_NS


def changed_error(path: Path) -> InputChangedError:
    return InputChangedError(
        f"{path}: the file changed while MyTalk was reading it; nothing was written - "
        "render again once nothing else is writing to it"
    )


def memo_folder(dirs: UserDirs | None = None) -> Path:
    """Where remembered digests live (the clean-up scans it for a killed writer's temporary file)."""
    return (dirs or user_dirs()).cache / "hashes"


def _digest(path: Path, is_cancelled: Callable[[], bool] | None = None) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if is_cancelled is not None and is_cancelled():
                raise JobCancelledError(f"{path}: hashing stopped")
            sha.update(chunk)
    return sha.hexdigest()


def _memo(resolved: Path, identity: FileIdentity, dirs: UserDirs | None) -> tuple[Path, str]:
    """(the memo file of a file of this identity, the key text it must hold)."""
    key_text = (f"v{CACHE_KEY_VERSION}\0{resolved}\0{identity.device}\0{identity.inode}\0{identity.size}"
                f"\0{identity.mtime_ns}\0{identity.ctime_ns}")
    key = hashlib.sha256(key_text.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return memo_folder(dirs) / f"{key}.json", key_text.replace("\0", "|")


def _remembered(memo: Path, key_text: str) -> str | None:
    try:
        cached = json.loads(memo.read_text())
        if cached.get("key") == key_text and len(cached.get("sha256", "")) == 64:
            return str(cached["sha256"])
    except (OSError, ValueError, AttributeError):
        pass
    return None


def remembered_sha256(path: Path, dirs: UserDirs | None = None) -> str | None:
    """The digest `file_sha256` remembers for the file as it is now, or None when it would have to hash it
    (never seen, changed since, or changed too recently to be remembered). Reads no more than the memo: a
    job that finds None can start the hashing beside other work (`profile_cache`)."""
    resolved = Path(path).resolve()
    try:
        identity = FileIdentity.of(resolved)
    except OSError:
        return None
    return _remembered(*_memo(resolved, identity, dirs))


def file_sha256(path: Path, dirs: UserDirs | None = None, *, expect: FileIdentity | None = None,
                is_cancelled: Callable[[], bool] | None = None) -> str:
    """SHA-256 hex digest of a file's bytes, reusing an earlier digest only of the same identity.

    With `expect`, raises `InputChangedError` unless the file still has that identity (the one the
    caller saw before it read the file). `is_cancelled`, asked every 4 MB: True stops the hashing with
    `JobCancelledError` (a hash on a thread of its own, which no signal reaches).
    """
    resolved = Path(path).resolve()
    before = FileIdentity.of(resolved)
    if expect is not None and before != expect:
        raise changed_error(Path(path))
    memo, key_text = _memo(resolved, before, dirs)
    folder = memo.parent
    remembered = _remembered(memo, key_text)
    if remembered is not None:
        return remembered
    digest = _digest(resolved, is_cancelled)
    after = FileIdentity.of(resolved)
    if after != before:
        raise changed_error(Path(path))
    if after.settled(time.time_ns()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(memo, json.dumps({"key": key_text, "path": str(resolved), "sha256": digest}))
        except (OSError, UnicodeEncodeError):
            pass  # a read-only cache only costs a re-hash next time
    return digest
