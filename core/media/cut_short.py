"""Files cut short: a copy still running, or one that was interrupted, as an editor meets it when a card or a
share is still being copied.

Each container says in its own header how much it holds, written when the file was finished; a cut copy
keeps that header and loses its end. Read against the file's size, the header tells a cut file from a
whole one, and from a recording still running, whose header states no size yet:
- QuickTime/MP4 with its sample table first ("fast start"): the table points past the end of the file;
  with its table last, the top-level boxes end in media data longer than the file and no index before it;
- MXF: the header partition points to a footer partition past the end of the file;
- Matroska: the Segment's size runs past the end of the file;
- AVI (DV, MJPEG, cameras' and capture cards' files): a RIFF chunk's size runs past the end of the file;
- WAV (RIFF, and RF64 and BW64 for the long takes of production recorders), what a replacement line most
  often is: its data chunk's size runs past the end of the file.

An MPEG transport stream (broadcast `.ts`, AVCHD's `.mts` and `.m2ts`) has no such header: it is a run of
fixed-size packets, so a copy cut short is a file that ends inside one (`transport_stream_cut`). Its last
frame is then cut too, and decodes damaged, not as an error: FFmpeg hands out the partial packet and
conceals what is missing. Such a file holds its frames up to the last one whose bytes are all there
(`whole_frames_of_cut_stream`).

`probe` reports what the header lists (`VideoStreamInfo.listed_frames`, `AudioStreamInfo.listed_s`), and
the readers take the error at the first missing packet as the end of the stream (`stream_cut_short`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from mytalk.core.media.wav_chunks import RIFF_UNKNOWN_SIZES, wav_chunks


def index_cut_off(path: Path) -> bool:
    """True for a QuickTime/MP4 file cut before its index: its top-level boxes, read by their headers alone,
    hold no `moov` and end in one (the media data, `mdat`) that says it is longer than what is left of the
    file. A recorder or a copy writes the index last, so this is a file still being written or copied."""
    size = path.stat().st_size
    at, found_moov = 0, False
    with path.open("rb") as handle:
        while at + 8 <= size:
            handle.seek(at)
            header = handle.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if at == 0 and kind != b"ftyp":
                return False  # not QuickTime/MP4
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")  # a 64-bit size, as large media data has
            elif length == 0:
                length = size - at  # "to the end of the file"
            if length < 8 or not all(32 <= byte < 127 for byte in kind):
                return False  # not a box: damage, not a cut
            found_moov = found_moov or kind == b"moov"
            if at + length > size:
                return kind == b"mdat" and not found_moov
            at += length
    return False


TS_PACKET_FORMS = ((188, 0), (192, 4), (204, 0))
"""(packet size, where its sync byte lies) of the transport streams' forms: MPEG-TS; the BDAV form of AVCHD's
and Blu-ray's `.m2ts`, a 4-byte arrival time before each packet; DVB's, 16 bytes of parity after each."""

TS_SYNC = 0x47
"""The byte every transport-stream packet begins with."""


def transport_stream_cut(path: Path) -> bool:
    """True for an MPEG transport stream that ends inside a packet, as a copy cut short leaves it.

    The packet form is the one whose sync byte recurs over the first three packets. The bytes after the last
    whole packet must be the start of the next one (its sync byte where the form puts it): a recorder's
    padding to a sector (zeros) is not a cut. A cut that falls exactly between packets cannot be told from a
    whole file (about 1 copy in 188, or a third of those copied in 64 KiB blocks for `.m2ts`)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(3 * 204 + 4)
        form = next(((packet, sync) for packet, sync in TS_PACKET_FORMS
                     if len(head) > sync + 2 * packet and all(head[sync + k * packet] == TS_SYNC for k in range(3))),
                    None)
        if form is None:
            return False
        packet, sync = form
        whole = size - size % packet
        if whole == size:
            return False
        handle.seek(whole)
        tail = handle.read(packet)
    return len(tail) <= sync or tail[sync] == TS_SYNC


def whole_frames_of_cut_stream(timestamps: list[int], index_of: Callable[[int], int]) -> list[int]:
    """The frames a transport stream cut inside a packet holds whole, from its video packets' timestamps in
    decode order (`index_of` maps one to its frame index). A picture's packet ends only where the next one
    begins, so the demuxer hands out the last one as far as the file goes: it may be whole (the cut fell in
    the sound) or partial, and cannot be told, so it is left out. Every packet after it in decode order is
    missing (with B-frames, some of those are shown before it). So the frames are those before the first
    index that is left out or missing: the first gap in the indices. Returns their timestamps."""
    kept = timestamps[:-1]
    indices = {index_of(pts) for pts in kept}
    count = 0
    while count in indices:
        count += 1
    return [pts for pts in kept if index_of(pts) < count]


def table_end(stream: av.stream.Stream) -> int:
    """Where the last byte of the stream's indexed frames lies (0 without an index)."""
    return max((entry.pos + entry.size for entry in stream.index_entries), default=0)


def stream_cut_short(container: av.container.InputContainer, stream: av.stream.Stream, path: Path) -> bool:
    """True when `stream` is known to end before its file says it does: a QuickTime/MP4 sample table that
    points past the end of the file, or an AVI file whose RIFF chunk runs past it (`VideoStreamInfo.
    listed_frames`), or a transport stream that ends inside a packet (`VideoStreamInfo.ends_mid_packet`).
    Decoding such a stream may end with an error at the first packet whose bytes are missing; readers take
    that as the end of the stream, not as damage to report."""
    formats = container.format.name.split(",")
    if "mov" in formats:
        return table_end(stream) > Path(path).stat().st_size
    if "mpegts" in formats:
        return transport_stream_cut(Path(path))
    return "avi" in formats and riff_past_end(Path(path))


def listed_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path,
                  held: int, fps: Fraction) -> int | None:
    """`VideoStreamInfo.listed_frames`: where the file's own header lists more frames than the `held` ones
    found in it, that count; else None. QuickTime/MP4: the sample table, when it also points past the end of
    the file. MXF: the track's duration in the header partition, when the footer partition it points to lies
    past the end of the file (a file still being recorded states neither). Matroska: the Segment's duration,
    when the Segment's size runs past the end of the file. AVI: the video stream's length in its header
    (OpenDML's total for a file over 1 GB), when a RIFF chunk runs past the end of the file."""
    formats = container.format.name.split(",")
    listed: int | None = None
    if "mov" in formats:
        count = len(stream.index_entries)
        if count == stream.frames and table_end(stream) > path.stat().st_size:
            listed = count
    elif ("mxf" in formats and stream.duration is not None and stream.duration > 0 and stream.time_base
            and _mxf_footer_past_end(path)):
        listed = round(stream.duration * Fraction(stream.time_base) * fps)
    elif "matroska" in formats and container.duration and _matroska_segment_past_end(path):
        listed = round(Fraction(container.duration, av.time_base) * fps)  # the Segment's duration, all tracks
    elif "avi" in formats and riff_past_end(path):
        listed = _avi_listed_frames(path, fps)
    return listed if listed is not None and listed > held else None


def _ebml_size(data: bytes, at: int) -> tuple[int, int] | None:
    """(value, bytes taken) of the EBML variable-size integer at `at`; None when it does not fit in `data` or
    is "unknown" (all value bits set: a live recording's size, not known when it was written)."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        return None
    value = int.from_bytes(data[at : at + length], "big") & ((1 << (7 * length)) - 1)
    return None if value == (1 << (7 * length)) - 1 else (value, length)


def _matroska_segment_past_end(path: Path) -> bool:
    """True when a Matroska file's Segment says it is longer than the file: cut after it was finished.
    A recording still running (or one that crashed) states an unknown size, and is not called cut."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    header = _ebml_size(head, 4) if head[:4] == bytes.fromhex("1a45dfa3") else None  # the EBML header
    if header is None:
        return False
    at = 4 + header[1] + header[0]
    segment = _ebml_size(head, at + 4) if head[at : at + 4] == bytes.fromhex("18538067") else None
    return segment is not None and at + 4 + segment[1] + segment[0] > path.stat().st_size


_MXF_PARTITION_KEY = bytes.fromhex("060e2b34020501010d01020101")
"""The first 13 bytes of an MXF partition pack's key (SMPTE ST 377-1); byte 14 says header, body or footer."""


def _mxf_footer_past_end(path: Path) -> bool:
    """True when the MXF header partition says where the footer partition starts and that is past the end
    of the file: the file was cut after it was finished. A finished file states the offset; one still being
    recorded leaves it 0. The header partition may follow a run-in of up to 64 KiB."""
    with path.open("rb") as handle:
        head = handle.read(65536 + 64)
    at = head.find(_MXF_PARTITION_KEY)
    if at < 0 or at + 17 > len(head) or head[at + 13] != 0x02:  # 0x02: the header partition
        return False
    length_byte, cursor = head[at + 16], at + 17
    if length_byte & 0x80:  # a long-form BER length: its bytes follow
        cursor += length_byte & 0x7F
    footer = head[cursor + 24 : cursor + 32]  # after the versions, KAG size, this and previous partitions
    if len(footer) < 8:
        return False
    offset = int.from_bytes(footer, "big")
    return offset > 0 and at + offset >= path.stat().st_size


_AVI_HEADER_LIMIT = 1 << 20
"""At most this much of an AVI's header list (`hdrl`) is read: stream headers, their formats and OpenDML's
super-indexes, which take a few KiB to a few hundred."""


def riff_past_end(path: Path) -> bool:
    """True when an AVI file's RIFF chunks, followed by their sizes from the start (one, or OpenDML's `AVI `
    then `AVIX` ones past 1 GB), end in one that says it is longer than what is left of the file."""
    size = path.stat().st_size
    at = 0
    with path.open("rb") as handle:
        while at + 12 <= size:
            handle.seek(at)
            header = handle.read(12)
            if header[:4] != b"RIFF" or header[8:12] != (b"AVI " if at == 0 else b"AVIX"):
                return False  # not AVI, or what follows the chunks is not ours to judge
            length = int.from_bytes(header[4:8], "little")
            if length in RIFF_UNKNOWN_SIZES:
                return False
            end = at + 8 + length + (length & 1)
            if end > size:
                return at + 8 + length > size  # a missing pad byte alone is not a cut
            at = end
    return False


@dataclass(frozen=True)
class _AviHeader:
    """What an AVI's header list (`hdrl`) says of its length: the main header's frame count (`avih`, which
    OpenDML limits to the first RIFF chunk), OpenDML's total (`dmlh`), and each stream's kind (`vids`, `auds`)
    and length in seconds (`strh`: its length in its own units of scale / rate), in the streams' order."""

    main_count: int
    odml_total: int
    streams: tuple[tuple[bytes, Fraction | None], ...]


def _avi_header(path: Path) -> _AviHeader | None:
    """The header list of an AVI file (`_AviHeader`); None where it cannot be read."""
    with path.open("rb") as handle:
        head = handle.read(24)
        if head[:4] != b"RIFF" or head[8:12] != b"AVI " or head[12:16] != b"LIST" or head[20:24] != b"hdrl":
            return None
        length = min(int.from_bytes(head[16:20], "little") - 4, _AVI_HEADER_LIMIT)
        body = handle.read(max(length, 0))
    main_count = odml_total = 0
    streams: list[tuple[bytes, Fraction | None]] = []
    for kind, data in _riff_chunks(body):
        if kind == b"avih" and len(data) >= 20:
            main_count = int.from_bytes(data[16:20], "little")
        elif kind == b"strh" and len(data) >= 36:
            scale, rate, count = (int.from_bytes(data[at : at + 4], "little") for at in (20, 24, 32))
            streams.append((data[:4], Fraction(count * scale, rate) if scale > 0 and rate > 0 else None))
        elif kind == b"dmlh" and len(data) >= 4:
            odml_total = int.from_bytes(data[:4], "little")
    return _AviHeader(main_count, odml_total, tuple(streams))


def _avi_listed_frames(path: Path, fps: Fraction) -> int | None:
    """The frames an AVI file's header lists, on MyTalk's grid of `fps`: OpenDML's total where there is one,
    else the first video stream's length at its own rate, else the main header's count. None where the header
    cannot be read or lists none."""
    header = _avi_header(path)
    if header is None:
        return None
    if header.odml_total:
        return header.odml_total
    video = next((seconds for kind, seconds in header.streams if kind == b"vids"), None)
    if video:
        return round(video * fps)
    return header.main_count or None


def _avi_listed_seconds(path: Path, index: int) -> float | None:
    """The seconds an AVI file's header lists for its sound stream number `index` (the streams' order, as
    FFmpeg numbers them); None where it lists none."""
    header = _avi_header(path)
    if header is None or index >= len(header.streams) or header.streams[index][0] != b"auds":
        return None
    seconds = header.streams[index][1]
    return float(seconds) if seconds else None


def _riff_chunks(body: bytes) -> list[tuple[bytes, bytes]]:
    """The leaf chunks of a RIFF list's body, in order, with the lists inside it (`strl`, `odml`) opened."""
    chunks: list[tuple[bytes, bytes]] = []
    at = 0
    while at + 8 <= len(body):
        kind, length = body[at : at + 4], int.from_bytes(body[at + 4 : at + 8], "little")
        data = body[at + 8 : at + 8 + length]
        if kind == b"LIST" and len(data) >= 4:
            chunks.extend(_riff_chunks(data[4:]))
        else:
            chunks.append((kind, data))
        at += 8 + length + (length & 1)
    return chunks


def sound_cut_short(container: av.container.InputContainer, stream: av.stream.Stream,
                    path: Path) -> tuple[float, float] | None:
    """(seconds the header lists, seconds the file holds) of an audio stream cut short, or None for a whole
    one: a WAV whose data chunk runs past the end of the file, an AVI whose RIFF chunk does, a Matroska file
    whose Segment does, an MXF file whose footer partition lies past it (Avid's and cameras' media, a line as
    often as a clip), or a QuickTime/MP4 stream whose sample table does (the sound held then ends at the
    first sample whose bytes are missing)."""
    formats = container.format.name.split(",")
    if "wav" in formats:
        return _wav_cut_short(path)
    if "avi" in formats and riff_past_end(path):
        listed = _avi_listed_seconds(path, stream.index)
        if stream.duration and stream.time_base:  # FFmpeg's, from the packets it found in the file
            held = float(stream.duration * Fraction(stream.time_base))
        elif container.duration:
            held = container.duration / av.time_base
        else:
            return None
        return (listed, held) if listed is not None and listed > held else None
    if ("matroska" in formats and _matroska_segment_past_end(path)) or ("mxf" in formats and _mxf_footer_past_end(path)):
        # The header's duration (Matroska's Segment, MXF's track in the header partition) against the packets
        # the file still holds.
        if stream.duration and stream.time_base:
            listed = float(stream.duration * Fraction(stream.time_base))
        elif container.duration and "matroska" in formats:
            listed = container.duration / av.time_base  # the Segment's duration, all tracks
        else:
            return None
        demuxed = _demuxed_end_s(path, stream.index)
        return (listed, demuxed) if demuxed is not None and listed > demuxed else None
    if "mov" not in formats or stream.time_base is None or not stream.index_entries:
        return None
    size = path.stat().st_size
    entries = stream.index_entries
    missing = [entry.timestamp for entry in entries if entry.pos + entry.size > size]
    if not missing:
        return None
    start = min(entry.timestamp for entry in entries)
    held = float((min(missing) - start) * Fraction(stream.time_base))
    listed = float(stream.duration * Fraction(stream.time_base)) if stream.duration else held
    return (listed, held) if listed > held else None


def _demuxed_end_s(path: Path, index: int) -> float | None:
    """Seconds from stream `index`'s first packet to the end of its last whole one, read from the packets
    (a file of its own, so the caller's container keeps its place). Matroska states no sample table: only
    its packets say how much sound a cut file holds. A line's are few and small; a cut clip's are read
    once more when it is probed, which only a file cut short costs."""
    first: int | None = None
    end: int | None = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams[index]
            if stream.time_base is None:
                return None
            try:
                for packet in container.demux(stream):
                    if packet.pts is None or packet.size == 0:
                        continue
                    first = packet.pts if first is None else min(first, packet.pts)
                    end = max(end or packet.pts, packet.pts + (packet.duration or 0))
            except av.error.FFmpegError:
                pass  # the missing bytes end the packets
            time_base = Fraction(stream.time_base)
    except (av.error.FFmpegError, OSError):
        return None
    return None if first is None or end is None else float((end - first) * time_base)


def _wav_cut_short(path: Path) -> tuple[float, float] | None:
    """(seconds the data chunk lists, seconds the file holds) of a WAV file cut short, or None. The chunks
    before the data (`fmt `, `bext`, `iXML`, padding) are followed by their sizes; a data size left unset
    (0, or all ones without a `ds64`), as a recording still running leaves it, is not called cut."""
    size = path.stat().st_size
    byte_rate = 0
    with path.open("rb") as handle:
        for chunk in wav_chunks(handle, size):
            if chunk.kind == b"fmt ":
                handle.seek(chunk.at)
                body = handle.read(min(chunk.length, 16))
                byte_rate = int.from_bytes(body[8:12], "little") if len(body) >= 12 else 0
            elif chunk.kind == b"data":
                if not chunk.sized or byte_rate <= 0 or chunk.at + chunk.length <= size:
                    return None
                return chunk.length / byte_rate, (size - chunk.at) / byte_rate
    return None
