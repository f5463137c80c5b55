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

The caches (tracking, profiles) need a key that changes whenever the bytes can have changed, not the
digest itself, so a large file is keyed by its identity (`cache_key`), read in two small pieces, instead of
being read whole first: a ten-minute ProRes original took 8-10 s of one core to hash before its first
preview could ask the tracking cache anything. The key trusts the identity exactly as the memo above does.
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


WHOLE_HASH_BYTES = 256 * 1024 * 1024
"""Files up to this size are keyed by their SHA-256 (`cache_key`): hashing them costs at most about 0.2 s,
and a copy of such a file finds the entries the original made."""

IDENTITY_KEY_VERSION = 1
"""Bumped when what goes into an identity key changes."""

_EDGE_BYTES = 1024 * 1024
"""How much of each end of a large file an identity key reads: the container's headers and index (a
`moov` atom or an MXF footer), so two files can share a key only if these are the same bytes too."""


def cache_key(path: Path, dirs: UserDirs | None = None, *, is_cancelled: Callable[[], bool] | None = None) -> str:
    """A 64-hex-digit key for the caches: what was computed from this file's bytes is stored under it.

    A file up to `WHOLE_HASH_BYTES`, or one whose identity cannot be trusted yet (changed within
    `RACY_WINDOW_NS`, or on Windows), is keyed by its SHA-256 (`file_sha256`). A larger one is keyed by its
    `FileIdentity` (but its device) and the first and last MiB of its bytes: the key changes whenever the file
    is written, renamed or copied (its ctime or inode), which is the trust `file_sha256`'s memo already
    places in the identity, but it never reads the whole file. A copy of a large clip is learned again
    rather than found; what is computed from the same bytes is the same, so only time is lost.

    Once a file has settled, the rule depends only on the file, so every job that asks for its key gets the
    same one (a preview and its commit read the same cache entries); a large file written within the last
    2 s is keyed by its digest until then, which costs a second learning, never a wrong entry.
    `is_cancelled`: as `file_sha256`'s. Raises OSError when the file cannot be read, `InputChangedError` when
    it changed while it was read."""
    resolved = Path(path).resolve()
    identity = FileIdentity.of(resolved)
    if not _keyed_by_identity(identity):
        return file_sha256(resolved, dirs, is_cancelled=is_cancelled)
    # Not the device: a drive plugged in again may get another device number, and the same file would be
    # learned again; two files sharing inode, size, mtime and ctime to the nanosecond, and first and last MiB
    # too, do not happen by chance.
    digest = hashlib.sha256(f"mytalk identity key v{IDENTITY_KEY_VERSION}\0{identity.inode}"
                            f"\0{identity.size}\0{identity.mtime_ns}\0{identity.ctime_ns}\0".encode())
    with open(resolved, "rb") as handle:
        digest.update(handle.read(_EDGE_BYTES))
        handle.seek(max(0, identity.size - _EDGE_BYTES))
        digest.update(handle.read(_EDGE_BYTES))
    if FileIdentity.of(resolved) != identity:
        raise changed_error(Path(path))
    return digest.hexdigest()


def _keyed_by_identity(identity: FileIdentity) -> bool:
    """Whether `cache_key` keys a file of this identity by the identity (large, and settled) or by its digest."""
    return identity.size > WHOLE_HASH_BYTES and identity.settled(time.time_ns())


def known_cache_key(path: Path, dirs: UserDirs | None = None) -> str | None:
    """`cache_key(path)` when it needs no more than a memo or two small reads, else None: the file would
    have to be hashed whole first (a small file never hashed, or a large one just written), which a job can
    start beside other work (`profile_cache`)."""
    resolved = Path(path).resolve()
    try:
        if _keyed_by_identity(FileIdentity.of(resolved)):
            return cache_key(resolved, dirs)
    except (OSError, InputChangedError):
        return None
    return remembered_sha256(resolved, dirs)


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
