"""Content hashes of input files, computed once per file version.

Reports and caches key on SHA-256 of the whole file so a render can be reproduced exactly. A
large camera original takes seconds to hash, and preview and commit both need it, so the digest
is remembered in the cache folder under (resolved path, size, mtime): a changed file gets a
new digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mytalk.core.userdirs import UserDirs, user_dirs

_CHUNK = 4 * 1024 * 1024


def _digest_uncached(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def file_sha256(path: Path, dirs: UserDirs | None = None) -> str:
    """SHA-256 hex digest of a file, reusing an earlier digest of the same path, size and mtime."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = hashlib.sha256(f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    folder = (dirs or user_dirs()).cache / "hashes"
    memo = folder / f"{key}.json"
    try:
        cached = json.loads(memo.read_text())
        if cached.get("path") == str(resolved) and len(cached.get("sha256", "")) == 64:
            return str(cached["sha256"])
    except (OSError, ValueError):
        pass
    digest = _digest_uncached(resolved)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = memo.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps({"path": str(resolved), "sha256": digest}))
        os.replace(temp, memo)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return digest
