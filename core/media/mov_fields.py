"""An interlaced picture's field order, written into a finished QuickTime file's `fiel` atom.

QuickTime says how a video track's pictures hold their fields in a `fiel` extension of the track's sample
description: two bytes, the number of fields (1 progressive, 2 interlaced) and which is first. FFmpeg's
muxer writes it from the stream's field order for every codec but one: for DNxHD and DNxHR it writes
Avid's own atoms instead (`ACLR`, `APRG`, `ARES`) and no `fiel`. Avid reads the DNx frame headers, but
FFmpeg, and the editors built on it, read the field order of a DNx `.mov` from `fiel` alone: a 1080i
DNxHD render, coded as fields, probed "unknown" and was taken for progressive pictures.

`write_field_order` sets it once the writer has finished the file: it replaces the two bytes of a `fiel`
the sample description already has, or adds the 10-byte atom at the end of that description and grows
each atom around it by 10 bytes (before the four zero bytes FFmpeg ends a DNx description with). Only the movie header (`moov`) changes; a file whose `moov` comes before
its media data (as a "fast start" file's does) would need every chunk offset moved too, and is left as it
was (False): the caller then says the field order is lost.

Only atom headers are read on the way down to the video track's sample description; the media data is
never read or moved.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FIEL_VALUES: dict[str, bytes] = {
    "progressive": bytes((1, 0)),
    "tt": bytes((2, 1)),
    "bb": bytes((2, 6)),
    "tb": bytes((2, 9)),
    "bt": bytes((2, 14)),
}
"""The `fiel` atom's two bytes for each of FFmpeg's field order names (`probe.FIELD_ORDER_NAMES`): field count,
then the detail QuickTime defines (1: upper field stored and shown first; 6: lower field first; 9 and 14: the
fields stored in one order and shown in the other), as FFmpeg's QuickTime muxer and demuxer map them."""

FIEL_SIZE = 10
"""A `fiel` atom: 4 bytes of size, 4 of type, 2 of data."""

VIDEO_SAMPLE_ENTRY_HEADER = 78
"""Bytes of a video sample description before its extension atoms, after its own size and type: reserved (6),
data reference (2), version and revision (4), vendor (4), temporal and spatial quality (8), width and height
(4), resolutions (8), data size (4), frame count (2), compressor name (32), depth (2), colour table (2)."""

STSD_HEADER = 8
"""Bytes of `stsd` before its sample descriptions: version and flags (4), entry count (4)."""


@dataclass(frozen=True)
class Atom:
    """One atom of the file: its type, where it starts, where its data starts and where it ends, and how
    wide its size field is (the 32-bit size at `start`, or the 64-bit one after the type)."""

    kind: bytes
    start: int
    data: int
    end: int
    wide: bool


def _atoms(read: _Reader, start: int, end: int) -> list[Atom]:
    """The atoms laid one after another in [start, end)."""
    found: list[Atom] = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", read(pos, 8))
        data, wide = pos + 8, False
        if size == 1:
            size = struct.unpack(">Q", read(pos + 8, 8))[0]
            data, wide = pos + 16, True
        elif size == 0:
            size = end - pos  # the last atom runs to the end of its parent (or of the file)
        if size < data - pos or pos + size > end:
            raise ValueError(f"atom {kind!r} at byte {pos} does not fit in its parent")
        found.append(Atom(kind, pos, data, pos + size, wide))
        pos += size
    return found


class _Reader:
    """Reads byte ranges of an open file; short reads are malformed files."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def __call__(self, pos: int, count: int) -> bytes:
        self._handle.seek(pos)
        chunk = self._handle.read(count)
        if len(chunk) != count:
            raise ValueError(f"the file ends inside an atom header at byte {pos}")
        return chunk


def _child(read: _Reader, parent: Atom, kind: bytes) -> Atom | None:
    return next((atom for atom in _atoms(read, parent.data, parent.end) if atom.kind == kind), None)


def _video_sample_entry(read: _Reader, moov: Atom) -> list[Atom] | None:
    """The atoms from `moov` down to the first video track's first sample description, outermost first."""
    for trak in (a for a in _atoms(read, moov.data, moov.end) if a.kind == b"trak"):
        mdia = _child(read, trak, b"mdia")
        hdlr = None if mdia is None else _child(read, mdia, b"hdlr")
        # hdlr: version and flags (4), component type (4), then the handler type.
        if mdia is None or hdlr is None or hdlr.data + 12 > hdlr.end or read(hdlr.data + 8, 4) != b"vide":
            continue
        minf = _child(read, mdia, b"minf")
        stbl = None if minf is None else _child(read, minf, b"stbl")
        stsd = None if stbl is None else _child(read, stbl, b"stsd")
        if minf is None or stbl is None or stsd is None:
            return None
        entries = _atoms(read, stsd.data + STSD_HEADER, stsd.end)
        if not entries or entries[0].data + VIDEO_SAMPLE_ENTRY_HEADER > entries[0].end:
            return None
        return [moov, trak, mdia, minf, stbl, stsd, entries[0]]
    return None


def _extensions_end(read: _Reader, entry: Atom) -> int:
    """Where a new extension atom of the sample description `entry` goes: before the 32-bit zero that may end
    its list of atoms (FFmpeg ends a DNx description's Avid atoms with one, as QuickTime allows), else at
    its end."""
    pos = entry.data + VIDEO_SAMPLE_ENTRY_HEADER
    while pos + 8 <= entry.end:
        size = struct.unpack(">I", read(pos, 4))[0]
        if size == 0:
            return pos
        if size < 8 or pos + size > entry.end:
            raise ValueError(f"sample description atom at byte {pos} does not fit")
        pos += size
    if pos + 4 <= entry.end and read(pos, 4) == bytes(4):
        return pos
    return entry.end


def write_field_order(path: Path, field_order: str) -> bool:
    """Set the field order (a `FIEL_VALUES` name) of the first video track of the finished QuickTime file
    `path`, in place. False, with the file unchanged, when it cannot: no video track, no movie header, a
    movie header before the media data, or a malformed file."""
    value = FIEL_VALUES.get(field_order)
    if value is None:
        return False
    with open(path, "r+b") as handle:
        read = _Reader(handle)
        try:
            top = _atoms(read, 0, os.fstat(handle.fileno()).st_size)
            moov = next((a for a in top if a.kind == b"moov"), None)
            if moov is None or any(a.kind == b"mdat" and a.start > moov.start for a in top):
                return False  # growing the header would move media data that chunk offsets point at
            chain = _video_sample_entry(read, moov)
            if chain is None:
                return False
            entry = chain[-1]
            at = _extensions_end(read, entry)
            extensions = _atoms(read, entry.data + VIDEO_SAMPLE_ENTRY_HEADER, at)
        except ValueError:
            return False
        fiel = next((a for a in extensions if a.kind == b"fiel" and a.end - a.data >= 2), None)
        if fiel is not None:
            handle.seek(fiel.data)
            handle.write(value)
            return True
        if any(not atom.wide and atom.end - atom.start + FIEL_SIZE > 0xFFFFFFFF for atom in chain):
            return False  # a 32-bit size would overflow (a movie header of 4 GB: not one this writer makes)
        # Grow every atom from the sample description up to `moov` by the new atom's size, then put the
        # atom at the description's end and the rest of the header after it.
        for atom in chain:
            handle.seek(atom.start + 8 if atom.wide else atom.start)
            size = atom.end - atom.start + FIEL_SIZE
            handle.write(struct.pack(">Q", size) if atom.wide else struct.pack(">I", size))
        handle.seek(at)
        rest = handle.read()
        handle.seek(at)
        handle.write(struct.pack(">I4s", FIEL_SIZE, b"fiel") + value + rest)
    return True
