"""Clips packed into tar shards: `shards/shard-NNNNNN.tar`, one `KEY.npz` member per clip.

Why tar: a corpus of 100 000 short clips as 100 000 files is slow on every file system a studio
shares, and a tar shard is what streaming loaders (WebDataset, `tar tf`, object stores) read
sequentially. The dataset's index (`manifest.json`) also keeps each member's byte offset and size,
so a clip is read with one seek and one read, without scanning the shard.

Crash safety without a temporary shard per clip: members are only ever appended, each flushed to
disk before the index names it. After an interruption the shard may end with a member (or half
of one) that the index does not name; `TarShardWriter` cuts the shard back to the end of the last
member the index names before it appends again. A shard rolls over to the next number once it
passes `target_bytes`.

Shard files the index does not name (a shard begun after the index was last saved, or one
emptied by `compact`) are deleted when a writer opens the folder: the parent process that builds
is the only writer, so such a file can only be left over from an interrupted run.

A member that is rewritten (its clip's phones added later, `dataset.ensure_phones`) is appended to
a fresh shard and the index repointed; `compact` then copies the still-live members of the shards
it left stale, so that no shard keeps an old copy of a clip that a sequential reader (`tar tf`,
WebDataset) would stream twice. Every write stays an append, and every step is safe to interrupt.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where arrays are packed, so the CLI's parser stays light
    import numpy as np

DEFAULT_SHARD_BYTES = 256 * 2**20
_SHARD = re.compile(r"^shard-(\d{6})\.tar$")


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A clip's arrays as the bytes of a compressed .npz (loaded back with allow_pickle=False)."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def read_member(shard: Path, offset: int, size: int) -> dict[str, np.ndarray]:
    """The arrays of the member stored at [offset, offset + size) of `shard`."""
    import numpy as np

    with open(shard, "rb") as file:
        file.seek(offset)
        data = file.read(size)
    if len(data) != size:
        raise ValueError(f"the shard ends {size - len(data)} bytes early")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


class TarShardWriter:
    """Appends members to the dataset's newest shard; see the module docstring.

    `ends` maps each shard name to the byte where its last indexed member ends (`shard_ends` of
    the index): anything after it is cut away before the first append, and shard files it does not
    name are deleted. fresh: begin a new shard after the newest instead of appending to it.
    """

    def __init__(self, folder: Path, ends: dict[str, int], target_bytes: int = DEFAULT_SHARD_BYTES,
                 fresh: bool = False) -> None:
        self.folder = folder
        self.target = target_bytes
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(m[1]) for m in map(_SHARD.match, ends) if m]
        self.number = max(numbers) if numbers else 0
        self.end = ends.get(shard_name(self.number), 0)
        for path in folder.glob("shard-*.tar"):
            if path.name not in ends and path.name != self.name:
                path.unlink()
        if fresh and ends:
            self.number, self.end = self.number + 1, 0
        self.file: Any = None

    @property
    def name(self) -> str:
        return shard_name(self.number)

    def _open(self) -> None:
        if self.end >= self.target:
            self.number += 1
            self.end = 0
        path = self.folder / self.name
        self.file = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115 (kept open across appends)
        self.file.truncate(self.end)
        self.file.seek(self.end)

    def append(self, key: str, payload: bytes) -> tuple[str, int, int]:
        """Write `payload` as member `KEY.npz`, durably; returns (shard name, data offset, size)."""
        if self.file is None:
            self._open()
        info = tarfile.TarInfo(f"{key}.npz")
        info.size = len(payload)
        info.mtime = int(time.time())
        header = info.tobuf(format=tarfile.PAX_FORMAT)
        offset = self.end + len(header)
        padding = (-len(payload)) % tarfile.BLOCKSIZE
        self.file.write(header + payload + b"\0" * padding)
        self.end = offset + len(payload) + padding
        # Two zero blocks close the archive for any tar reader; the next append writes over them.
        self.file.write(b"\0" * (2 * tarfile.BLOCKSIZE))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.seek(self.end)
        shard = self.name
        if self.end >= self.target:
            self.close()
        return shard, offset, len(payload)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def member_key(entry: dict[str, Any]) -> str:
    """The member name (without `.npz`) of a clip's index entry: its content hash and frame range,
    so the same clip has the same name in every build, whatever machine or order built it."""
    return f"{entry['sha256'][:24]}-{entry['start']}-{entry['stop']}"


def member_end(entry: dict[str, Any]) -> int:
    """The byte after an indexed member's data and its padding to the tar block size."""
    return int(entry["offset"]) + int(entry["size"]) + (-int(entry["size"])) % tarfile.BLOCKSIZE


def shard_ends(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Where the last indexed member of each tar shard ends, from index entries (version-1 entries,
    a clip in its own `.npz` file, have no offset and are left out)."""
    ends: dict[str, int] = {}
    for entry in entries:
        if "offset" in entry:
            ends[entry["shard"]] = max(ends.get(entry["shard"], 0), member_end(entry))
    return ends


def compact(folder: Path, entries: list[dict[str, Any]], stale: set[str],
            target_bytes: int = DEFAULT_SHARD_BYTES) -> None:
    """Copy the members that `entries` still name in the `stale` shards into fresh shards and
    repoint those entries, in place. The caller saves the index afterwards; the stale shards, now
    named by no entry, are deleted by the next writer (or `remove_unindexed`)."""
    moving = [e for e in entries if "offset" in e and e["shard"] in stale]
    writer = TarShardWriter(folder, shard_ends(entries), target_bytes, fresh=True)
    try:
        for entry in moving:
            with open(folder / entry["shard"], "rb") as file:
                file.seek(int(entry["offset"]))
                payload = file.read(int(entry["size"]))
            shard, offset, size = writer.append(member_key(entry), payload)
            entry.update(shard=shard, offset=offset, size=size)
    finally:
        writer.close()


def remove_unindexed(folder: Path, entries: Iterable[dict[str, Any]]) -> None:
    """Delete the tar shards no index entry names (call only after the index is saved)."""
    named = {e["shard"] for e in entries}
    for path in folder.glob("shard-*.tar"):
        if path.name not in named:
            path.unlink()


def stale_shards(folder: Path, entries: Iterable[dict[str, Any]]) -> set[str]:
    """The tar shards holding a member no index entry names (an old copy of a rewritten clip, or
    the tail of an interrupted write), found from the shards' own headers."""
    live: dict[str, set[int]] = {}
    for entry in entries:
        if "offset" in entry:
            live.setdefault(entry["shard"], set()).add(int(entry["offset"]))
    stale = set()
    for name, offsets in live.items():
        try:
            with tarfile.open(folder / name) as tar:
                if {m.offset_data for m in tar} != offsets:
                    stale.add(name)
        except tarfile.TarError:
            stale.add(name)
    return stale
