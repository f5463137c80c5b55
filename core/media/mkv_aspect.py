"""A non-square pixel's shape written into a finished Matroska file: the video track's display size.

Matroska keeps the shape of a DV, HDV or anamorphic clip's pixels as its video track's display size
(DisplayWidth and DisplayHeight, here as the display aspect ratio, as FFmpeg writes it). FFmpeg's muxer
takes it from a stream field that PyAV cannot set, so an FFV1 .mkv of such a clip would play squeezed.
Once the writer has finished the file, `write_display_aspect` rewrites that track's `Video` element in
place, taking the few bytes it needs from the `Void` the muxer leaves in the same track entry (room kept
for a codec's private data), and recomputes the `Tracks` element's CRC-32. Nothing else in the file
moves: no size, offset, seek entry or cue changes. A file whose track entry has no such room is left as
it was, and the caller says the aspect is lost.

Only what EBML needs is read: element IDs and sizes (variable-length integers) down to the track's own
elements; the rest of the file is never touched.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

SEGMENT = 0x18538067
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_TYPE = 0x83
VIDEO = 0xE0
PIXEL_WIDTH = 0xB0
PIXEL_HEIGHT = 0xBA
DISPLAY_WIDTH = 0x54B0
DISPLAY_HEIGHT = 0x54BA
DISPLAY_UNIT = 0x54B2
ASPECT_RATIO_TYPE = 0x54B3
VOID = 0xEC
CRC32 = 0xBF
VIDEO_TRACK = 1
UNIT_ASPECT_RATIO = 3
"""DisplayUnit 3: DisplayWidth and DisplayHeight give the display aspect ratio, not a size in pixels."""

HEAD_BYTES = 1 << 20
"""How far into the file the track list is looked for (FFmpeg writes it in the first few hundred bytes)."""


@dataclass(frozen=True)
class Element:
    """One EBML element of a buffer: its ID, where it starts, and where its data starts and ends."""

    id: int
    start: int
    data: int
    end: int


def _read_id(buf: bytes, pos: int) -> tuple[int, int]:
    """An element ID (its length marker kept, as IDs are written) and its length in bytes."""
    first = buf[pos]
    length = next((n for n in range(1, 5) if first & (0x80 >> (n - 1))), 0)
    if not length or pos + length > len(buf):
        raise ValueError("not an EBML element ID")
    return int.from_bytes(buf[pos:pos + length], "big"), length


def _read_size(buf: bytes, pos: int) -> tuple[int | None, int]:
    """A data size and its length in bytes; None for EBML's "unknown size" (every value bit set)."""
    first = buf[pos]
    length = next((n for n in range(1, 9) if first & (0x80 >> (n - 1))), 0)
    if not length or pos + length > len(buf):
        raise ValueError("not an EBML size")
    value = int.from_bytes(buf[pos:pos + length], "big") & ((1 << (7 * length)) - 1)
    return (None if value == (1 << (7 * length)) - 1 else value), length


def _elements(buf: bytes, start: int, end: int) -> Iterator[Element]:
    """The elements one after another in buf[start:end], an element of unknown size running to `end`. One
    that runs past `end` is yielded too (a Segment's clusters run past the head that was read): check
    `Element.end` before reading it."""
    pos = start
    while pos < end:
        eid, id_length = _read_id(buf, pos)
        size, size_length = _read_size(buf, pos + id_length)
        data = pos + id_length + size_length
        stop = end if size is None else data + size
        yield Element(eid, pos, data, stop)
        pos = stop


def _children(buf: bytes, start: int, end: int) -> list[Element]:
    """Every element in buf[start:end], which must hold them whole."""
    out = list(_elements(buf, start, end))
    if out and out[-1].end > end:
        raise ValueError("an element runs past its parent")
    return out


def _size_bytes(size: int, length: int | None = None) -> bytes:
    """`size` as an EBML size of `length` bytes (the shortest that holds it when None)."""
    lengths = [length] if length is not None else list(range(1, 9))
    for n in lengths:
        if size < (1 << (7 * n)) - 1:
            return ((1 << (7 * n)) | size).to_bytes(n, "big")
    raise ValueError(f"size {size} does not fit in {length} bytes")


def _uint_element(eid: int, value: int) -> bytes:
    data = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + _size_bytes(len(data)) + data


def _void(total: int) -> bytes:
    """A Void element exactly `total` bytes long (0 for none; 1 byte cannot be a Void)."""
    if total == 0:
        return b""
    for n in range(1, 9):
        payload = total - 1 - n
        if payload >= 0 and payload < (1 << (7 * n)) - 1:
            return bytes([VOID]) + _size_bytes(payload, n) + bytes(payload)
    raise ValueError(f"no Void is {total} bytes long")


def _uint(buf: bytes, element: Element) -> int:
    return int.from_bytes(buf[element.data:element.end], "big")


def _display_video(buf: bytes, video: Element, sample_aspect: Fraction) -> bytes | None:
    """The Video element's data rewritten with the display aspect ratio of `sample_aspect` pixels; None
    without its pixel size."""
    children = _children(buf, video.data, video.end)
    sizes = {child.id: _uint(buf, child) for child in children if child.id in (PIXEL_WIDTH, PIXEL_HEIGHT)}
    if len(sizes) != 2 or not all(sizes.values()):
        return None
    shown = Fraction(sizes[PIXEL_WIDTH] * sample_aspect.numerator, sizes[PIXEL_HEIGHT] * sample_aspect.denominator)
    kept = b"".join(buf[c.start:c.end] for c in children
                    if c.id not in (DISPLAY_WIDTH, DISPLAY_HEIGHT, DISPLAY_UNIT, ASPECT_RATIO_TYPE))
    return (kept + _uint_element(DISPLAY_WIDTH, shown.numerator) + _uint_element(DISPLAY_HEIGHT, shown.denominator)
            + _uint_element(DISPLAY_UNIT, UNIT_ASPECT_RATIO))


def _patched_entry(buf: bytes, entry: Element, sample_aspect: Fraction) -> bytes | None:
    """The track entry's bytes with its Video element rewritten and the Void after it shortened to keep the
    entry's length; None when it is not a video track or has no Void that can give the bytes."""
    children = _children(buf, entry.data, entry.end)
    kinds = [c for c in children if c.id == TRACK_TYPE]
    videos = [c for c in children if c.id == VIDEO]
    if len(kinds) != 1 or _uint(buf, kinds[0]) != VIDEO_TRACK or len(videos) != 1:
        return None
    video = videos[0]
    payload = _display_video(buf, video, sample_aspect)
    if payload is None:
        return None
    for void in (c for c in children if c.id == VOID and c.start >= video.end):
        # The Video's size may be written longer than it needs (EBML allows it): a Void cannot be 1 byte.
        for size_length in range(1, 9):
            try:
                new_video = bytes([VIDEO]) + _size_bytes(len(payload), size_length) + payload
            except ValueError:
                continue
            left = void.end - void.start - (len(new_video) - (video.end - video.start))
            if left == 0 or left >= 2:
                return (buf[entry.start:video.start] + new_video + buf[video.end:void.start] + _void(left)
                        + buf[void.end:entry.end])
    return None


def patched_head(buf: bytes, sample_aspect: Fraction) -> tuple[int, bytes] | None:
    """Where the `Tracks` element starts in `buf` (a Matroska file's head) and its bytes with the video
    track's display aspect written, the same length; None when that cannot be done in place."""
    try:
        segment = next((e for e in _elements(buf, 0, len(buf)) if e.id == SEGMENT), None)
        if segment is None:
            return None
        tracks = next((e for e in _elements(buf, segment.data, min(segment.end, len(buf))) if e.id == TRACKS), None)
        if tracks is None or tracks.end > len(buf):
            return None
        entries = _children(buf, tracks.data, tracks.end)
    except (ValueError, IndexError):
        return None
    crc = entries[0] if entries and entries[0].id == CRC32 else None
    covered = crc.end if crc is not None else tracks.data
    if crc is not None and buf[crc.data:crc.end] != zlib.crc32(buf[covered:tracks.end]).to_bytes(4, "little"):
        return None  # not the file we think it is: leave it alone
    for entry in entries:
        try:
            patched = _patched_entry(buf, entry, sample_aspect) if entry.id == TRACK_ENTRY else None
        except (ValueError, IndexError):
            return None
        if patched is None:
            continue
        body = buf[covered:entry.start] + patched + buf[entry.end:tracks.end]
        head = buf[tracks.start:covered]
        if crc is not None:
            head = buf[tracks.start:crc.data] + zlib.crc32(body).to_bytes(4, "little")
        return tracks.start, head + body
    return None


def write_display_aspect(path: Path, sample_aspect: Fraction) -> bool:
    """Give the Matroska file at `path` the display aspect of `sample_aspect` pixels, in place; False (the file
    untouched) when its video track has no room for it."""
    with open(path, "r+b") as handle:
        head = handle.read(HEAD_BYTES)
        found = patched_head(head, sample_aspect)
        if found is None:
            return False
        offset, data = found
        handle.seek(offset)
        handle.write(data)
        handle.flush()
    return True
