"""Exclusive locks on lock files that die with their process.

A lock file created with `O_EXCL` stays behind when its owner is killed, and whoever finds it
cannot tell a running job from a dead one: a commit killed mid-render burnt its version number
for good. `flock` locks belong to the open file, so the kernel drops them when the process dies,
whatever killed it. A lock file that exists but is not locked is therefore free to take over.

Taking one over is only safe while the path still names the file that was locked: an owner that
finishes unlinks the path and then closes, so a waiter that locked the old file checks the
path's inode after locking and retries on a mismatch.

Where `fcntl` is missing (Windows) `O_EXCL` creation is the lock, as before: a killed job's lock
file then stays until `mytalk clean` removes it.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_ATTEMPTS = 8


def try_lock(path: Path, *, create: bool = True) -> int | None:
    """An open descriptor holding `path` locked, or None when a live process holds it.

    With `create=False` a missing path is not created (None is returned). Raises OSError when the
    folder cannot be written.
    """
    if fcntl is None:
        if not create:
            return None
        try:
            return os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        except FileExistsError:
            return None
    for _attempt in range(_ATTEMPTS):
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            descriptor = os.open(path, flags, 0o644)
        except FileNotFoundError:
            if not create:
                return None
            raise
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        except OSError:
            os.close(descriptor)
            raise
        try:
            here = os.stat(path)
            mine = os.fstat(descriptor)
            if (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino):
                return descriptor
        except FileNotFoundError:
            pass
        os.close(descriptor)  # the owner removed it between our open and our lock: look again
        if not create:
            return None
    return None


def is_locked(path: Path) -> bool:
    """True when a live process holds `path` (an existing lock file nobody holds is free)."""
    if not path.exists():
        return False
    if fcntl is None:
        return True
    descriptor = try_lock(path, create=False)
    if descriptor is None:
        return path.exists()
    os.close(descriptor)
    return False


def release(path: Path, descriptor: int, *, remove: bool = True) -> None:
    """Remove `path` (while still holding it, so no one locks a file that is going away) and unlock."""
    try:
        if remove:
            path.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        os.close(descriptor)
