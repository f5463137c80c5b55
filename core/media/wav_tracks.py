"""The names a production recorder gave the tracks of a polyphonic WAV: BOOM, LAV ANNA, MIX L.

A location sound recorder writes every input of a take into one interleaved ("poly") Broadcast WAV,
and names the tracks in its metadata, so that an editor picks the boom or a lavalier by name rather
than by a channel number that changes with the recordist's routing. Two places hold the names:

- the `iXML` chunk (the iXML specification, 1.5 and later): `TRACK_LIST/TRACK`, each with its
  `INTERLEAVE_INDEX` (its channel in the file, from 1) and `NAME`; older files give only the
  `CHANNEL_INDEX`, the recorder's track number, which is the file's order when it is all there is;
- the `bext` chunk's Description, where Sound Devices, Zaxcom and others write `sTRK1=BOOM`
  lines, numbered in the file's order.

FFmpeg reads neither into metadata, so the chunks are read here. The chunks before and after the
audio data are walked by their sizes (RF64 and BW64 take theirs from `ds64`); the data itself is
never read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from mytalk.core.media.wav_chunks import wav_chunks

__all__ = ["wav_track_names"]

_NAME_CHUNK_LIMIT = 1 << 20
"""An iXML chunk is a few kilobytes; one larger than this is not read (a damaged size)."""
_BEXT_TRACK = re.compile(r"^s?TRK(\d+)=(.*)$", re.IGNORECASE)


def wav_track_names(path: Path) -> dict[int, str]:
    """Channel number in the file (from 1) -> the track's name, from iXML, else from `bext`; {} when the
    file is not a WAV, names nothing, or cannot be read (the names only label a choice)."""
    try:
        chunks = _name_chunks(path)
    except OSError:
        return {}
    names = _ixml_names(chunks.get(b"iXML", b""))
    return names or _bext_names(chunks.get(b"bext", b""))


def _name_chunks(path: Path) -> dict[bytes, bytes]:
    """The `iXML` and `bext` chunks' bodies, wherever they sit: recorders write them before the audio,
    and some editors' tools append them after it."""
    found: dict[bytes, bytes] = {}
    with path.open("rb") as handle:
        for chunk in wav_chunks(handle, path.stat().st_size):
            if chunk.kind in (b"iXML", b"bext") and chunk.length <= _NAME_CHUNK_LIMIT:
                handle.seek(chunk.at)
                found[chunk.kind] = handle.read(chunk.length)
                if len(found) == 2:
                    break
    return found


def _ixml_names(body: bytes) -> dict[int, str]:
    """The TRACK_LIST's names by interleave index (by channel index where a track gives no other)."""
    text = body.rstrip(b"\x00 \r\n\t")
    if not text:
        return {}
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return {}
    names: dict[int, str] = {}
    for track in root.iter("TRACK"):
        name = (track.findtext("NAME") or "").strip()
        where = (track.findtext("INTERLEAVE_INDEX") or track.findtext("CHANNEL_INDEX") or "").strip()
        if name and where.isdigit() and int(where) > 0:
            names.setdefault(int(where), name)
    return names


def _bext_names(body: bytes) -> dict[int, str]:
    """`sTRKn=NAME` lines of the bext Description (its first 256 bytes)."""
    names: dict[int, str] = {}
    description = body[:256].split(b"\x00", 1)[0].decode("latin-1")
    for line in re.split(r"[\r\n]+", description):
        match = _BEXT_TRACK.match(line.strip())
        if match and int(match.group(1)) > 0 and match.group(2).strip():
            names.setdefault(int(match.group(1)), match.group(2).strip())
    return names
