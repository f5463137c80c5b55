"""The top-level chunks of a WAV file, followed by their sizes: what the cut-short check and the recorder's
track names both walk.

A WAV is RIFF up to 4 GB; past it, RF64 (EBU Tech 3306) and BW64 (ITU-R BS.2088), whose data size sits
in a `ds64` chunk while the data chunk's own says all ones. A recorder writes `bext` and `iXML` before the
audio data, and some tools that edit metadata append them after it, so a walk goes past the data by its
size, never reading it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["RIFF_UNKNOWN_SIZES", "WAV_FORMS", "WavChunk", "wav_chunks"]

WAV_FORMS = (b"RIFF", b"RF64", b"BW64")
RIFF_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
"""RIFF sizes a writer leaves until it finishes the chunk (FFmpeg writes all ones, others zero): a recording
still running or one that crashed, not a file cut after it was finished."""


@dataclass(frozen=True)
class WavChunk:
    """One chunk: its four-letter kind, where its body starts, and its size (a data chunk's from `ds64`
    where its own says all ones); `sized` is False for a data chunk whose size was left unset."""

    kind: bytes
    at: int
    length: int
    sized: bool = True


def wav_chunks(handle: BinaryIO, size: int) -> Iterator[WavChunk]:
    """The chunks of the WAV open in `handle` (`size` bytes long), in file order; none when it is not a WAV.
    The caller may read a chunk's body at `chunk.at` before taking the next. The walk ends at the file's end,
    or after a data chunk of unset size, since nothing says where what follows it starts."""
    handle.seek(0)
    head = handle.read(12)
    if len(head) < 12 or head[:4] not in WAV_FORMS or head[8:12] != b"WAVE":
        return
    data_size64: int | None = None
    at = 12
    while at + 8 <= size:
        handle.seek(at)
        header = handle.read(8)
        kind, length = header[:4], int.from_bytes(header[4:8], "little")
        if kind == b"ds64":
            body = handle.read(min(length, 64))
            data_size64 = int.from_bytes(body[8:16], "little") if len(body) >= 16 else None
        if kind == b"data" and length == 0xFFFFFFFF and data_size64 is not None:
            length = data_size64
        elif kind == b"data" and length in RIFF_UNKNOWN_SIZES:
            yield WavChunk(kind, at + 8, length, sized=False)
            return
        yield WavChunk(kind, at + 8, length)
        at += 8 + length + (length & 1)
