"""Exact facts about a clip: frame count, frame rate, colour tags, timecode, without decoding it.

Frame index rule (the VFR rule)
-------------------------------
Every frame MyTalk talks about is a clip-relative index on a constant-rate grid of ``fps`` frames per
second, where ``fps`` is the video stream's average rate (``avg_frame_rate``, falling back to the
guessed and then the base rate). A decoded frame with presentation timestamp ``pts`` has the index::

    index = round_half_up((pts - start_pts) * time_base * fps)

with ``start_pts`` the smallest presentation timestamp among the stream's packets (packets that the
demuxer marks as discarded, e.g. edit-list pre-roll, do not count) and ties going to the later frame
(``floor(x + 1/2)``). See `frame_index_for_pts`.

For constant-rate files this numbers the frames 0, 1, 2, ... in presentation order. For
variable-frame-rate files the clip is mapped onto the constant rate ``fps`` by timestamps: output
frame ``n`` shows the latest source frame whose index is <= ``n``. A gap in the indices is filled by
repeating the previous source frame, and when two source frames round to the same index the later
one replaces the earlier one. ``frame_count = max(index) + 1``.

The reader (`mytalk.core.media.reader`) follows exactly this rule, so ``frame_count`` is the number
of frames it yields for the whole clip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from mytalk.core.errors import MediaFormatError, MediaNotFoundError
from mytalk.core.media.cut_short import (
    index_cut_off,
    listed_frames,
    sound_cut_short,
    table_end,
    transport_stream_cut,
    whole_frames_of_cut_stream,
)
from mytalk.core.media.field_marks import top_field_first

# ffmpeg's names for the AVColor* enums (libavutil/pixdesc.c); "unspecified" and "reserved" map to None.
COLOR_RANGE_NAMES: Mapping[int, str] = {1: "tv", 2: "pc"}
COLOR_SPACE_NAMES: Mapping[int, str] = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
    9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc", 13: "chroma-derived-c",
    14: "ictcp",
}  # fmt: skip
COLOR_PRIMARIES_NAMES: Mapping[int, str] = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
    10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
COLOR_TRC_NAMES: Mapping[int, str] = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
    10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10",
    15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}  # fmt: skip


def frame_index_for_pts(pts: int, start_pts: int, time_base: Fraction, fps: Fraction) -> int:
    """Clip-relative frame index (frames) of a presentation timestamp (``time_base`` units).

    Implements the module's frame index rule with exact rational arithmetic, so 23.976 fps in a
    1/1000 (Matroska) time base still lands on whole frames.
    """
    return math.floor((pts - start_pts) * time_base * fps + Fraction(1, 2))


def _fraction_str(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, Fraction):
        return _fraction_str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


@dataclass(frozen=True)
class VideoStreamInfo:
    """The video stream of a clip; counts are frames, rates frames per second, times seconds."""

    index: int
    codec: str
    profile: str | None
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    start_pts: int
    frame_count: int
    duration_s: float
    pix_fmt: str
    bit_depth: int
    color_range: str | None
    color_space: str | None
    color_primaries: str | None
    color_trc: str | None
    rotation: int
    start_timecode: str | None
    is_vfr: bool
    has_b_frames: bool
    reel_name: str | None = None
    """The tape/reel name a conform links by (QuickTime's tmcd source reference, Matroska's REEL_NAME)."""
    sample_aspect: Fraction = Fraction(1)
    """Width ÷ height of one stored pixel: 1 for square pixels; 4/3 for HDV's 1440x1080 shown 1920 wide,
    2 for a 2x anamorphic camera original. Players show the picture `width × sample_aspect` wide."""
    field_order: str = "unknown"
    """How the stream says its lines were scanned (FFmpeg's names): "progressive"; "tt" (top field first,
    coded and shown: 1080i), "bb" (bottom field first: PAL and NTSC DV), "tb" or "bt" (coded one way and
    shown the other); "unknown" when neither the container nor the codec says."""
    listed_frames: int | None = None
    """How many frames the file's own index (a QuickTime/MP4 sample table) lists, where that is more than
    `frame_count`, the frames the file holds: a copy cut short (still running, or interrupted) keeps the
    index written at its start (MXF: the track's duration in its header; Matroska: the Segment's duration). None
    for a whole file, and for a file whose header states no size (a recording still running).
    MyTalk works on the frames there are and says so (`cut_short_note`)."""
    ends_mid_packet: bool = False
    """True for a transport stream (`.ts`, AVCHD's `.mts`/`.m2ts`) that ends inside a packet: a copy cut short,
    in a format whose header lists no length. `frame_count` then counts only the frames whose bytes are all in
    the file (`cut_short.whole_frames_of_cut_stream`): the last one is partial and decodes damaged."""

    @property
    def interlaced(self) -> bool:
        """True when the stream says its frames hold two fields."""
        return self.field_order in INTERLACED_FIELD_ORDERS

    @property
    def lower_field_first(self) -> bool:
        """True when the stream says its lower field is shown first ("bb", "tb"): PAL and NTSC DV, most SD.
        Its frames are tracked and painted at that field's instant (`media.decoded_fields`)."""
        return self.interlaced and not top_field_first(self.field_order)

    @property
    def cut_short_note(self) -> str | None:
        """What to tell the editor about a file cut short (`listed_frames`, `ends_mid_packet`), or None for a whole
        file."""
        if self.ends_mid_packet and self.listed_frames is None:
            return (f"the file is cut short: it ends inside a packet, as a copy still running or interrupted leaves "
                    f"it; MyTalk sees only the {self.frame_count} frames before the cut, so copy the file again "
                    "for the rest")
        if self.listed_frames is None:
            return None
        return _cut_short_note(f"{self.listed_frames} frames", f"{self.frame_count}", "sees")

    @property
    def has_alpha(self) -> bool:
        """True when the pixel format carries an alpha plane (ProRes 4444 with a matte decodes to yuva*)."""
        return pix_fmt_has_alpha(self.pix_fmt)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; Fractions become ``"num/den"`` strings so 24000/1001 survives exactly."""
        return _json_safe(asdict(self))


def _cut_short_note(listed: str, held: str, perceives: str) -> str:
    """The sentence that names a file cut short, for its picture ("sees") or its sound ("hears")."""
    return (f"the file is cut short: its header lists {listed} and it holds {held}, as a copy still running or "
            f"interrupted leaves it; MyTalk {perceives} only those {held}, so copy the file again for the rest")


@dataclass(frozen=True)
class AudioStreamInfo:
    """One audio stream: ``sample_rate`` in Hz, ``duration_s`` in seconds (0.0 when unknown)."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    listed_s: float | None = None
    """How many seconds the file's header lists for this stream, where that is more than `duration_s`, the
    seconds it holds: a copy cut short (a WAV's data chunk, a QuickTime/MP4 sample table). None for a
    whole stream, and for a recording still running, whose header states no size."""
    ends_mid_packet: bool = False
    """True for a transport stream's sound whose file ends inside a packet (`VideoStreamInfo.ends_mid_packet`):
    cut short, by how much no header says."""

    @property
    def cut_short_note(self) -> str | None:
        """What to tell the editor about a sound cut short (`listed_s`, `ends_mid_packet`), or None for a whole
        one."""
        if self.ends_mid_packet and self.listed_s is None:
            return (f"the file is cut short: it ends inside a packet, as a copy still running or interrupted leaves "
                    f"it; MyTalk hears only its {self.duration_s:.2f} s of sound, so copy the file again for the "
                    "rest")
        if self.listed_s is None:
            return None
        return _cut_short_note(f"{self.listed_s:.2f} s of sound", f"{self.duration_s:.2f} s", "hears")

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class MediaInfo:
    """Everything `probe` learnt about one file."""

    path: Path
    container: str
    duration_s: float
    video: VideoStreamInfo | None
    audio: tuple[AudioStreamInfo, ...] = field(default_factory=tuple)
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (paths as strings, Fractions as ``"num/den"``)."""
        return {
            "path": str(self.path),
            "container": self.container,
            "duration_s": self.duration_s,
            "video": self.video.to_dict() if self.video else None,
            "audio": [stream.to_dict() for stream in self.audio],
            "size_bytes": self.size_bytes,
        }

    @property
    def sound_cut_short_note(self) -> str | None:
        """The first audio stream's `cut_short_note`: what to tell the editor about a line whose sound is cut
        short. None when every stream is whole."""
        return next((stream.cut_short_note for stream in self.audio if stream.cut_short_note), None)


def open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading, turning ffmpeg's errors into errors the user can act on."""
    if not path.exists():
        raise MediaNotFoundError(f"{path}: file not found; check the path or pick another clip")
    if path.is_dir():
        raise MediaFormatError(f"{path}: is a folder, not a media file; pick a video or audio file")
    if not path.is_file():
        # A FIFO would block the decoder for ever and /dev/zero never ends: only files are media.
        raise MediaFormatError(
            f"{path}: is a device, FIFO or socket, not a media file; pick a video or audio file"
        )
    try:
        return av.open(str(path), mode="r")
    except FileNotFoundError as exc:
        raise MediaNotFoundError(f"{path}: file not found; check the path or pick another clip") from exc
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        if index_cut_off(path):
            raise MediaFormatError(
                f"{path}: the file is cut short: its media data runs past its end and its index, which is "
                "written last, is missing, as a copy still running or interrupted leaves it; copy the file again"
            ) from exc
        raise MediaFormatError(
            f"{path}: not a readable video or audio file ({exc.__class__.__name__}); "
            "pick a file that plays in your editor or re-export it"
        ) from exc


def main_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream; cover art (attached pictures) does not count."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _codec_name(stream: av.stream.Stream) -> str:
    # The descriptor name ("mp3", "h264"), not the decoder's ("mp3float"), matches ffprobe.
    ctx = stream.codec_context
    return ctx.codec.canonical_name if ctx is not None else "unknown"


def pix_fmt_has_alpha(pix_fmt: str) -> bool:
    """Whether FFmpeg's pixel format `pix_fmt` has an alpha component (False for a name it does not know)."""
    try:
        return any(component.is_alpha for component in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):
        return False


RATE_SANITY = 4
"""A header's frame rate more than this many times away from the one the packets' timestamps show is not
believed: raw DV (`.dv`) reports 60000 fps for 29.97 fps NTSC, which numbered its 60 frames 0-118118."""


def _stream_fps(stream: av.video.stream.VideoStream, path: Path, timestamps: list[int],
                time_base: Fraction) -> Fraction:
    """The nominal rate: the stream's average, else FFmpeg's guess, else its base rate, the first of them
    that agrees (within `RATE_SANITY`) with the median spacing of the packets' timestamps."""
    rates = [Fraction(rate) for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate)
             if rate is not None and rate > 0]
    if not rates:
        raise MediaFormatError(
            f"{path}: the video stream has no frame rate; re-export it with a fixed frame rate"
        )
    ordered = sorted(timestamps)
    steps = sorted(b - a for a, b in zip(ordered, ordered[1:], strict=False) if b > a)
    if not steps:
        return rates[0]
    shown = 1 / (steps[len(steps) // 2] * time_base)  # frames a second, as the timestamps space them
    for rate in rates:
        if shown / RATE_SANITY <= rate <= shown * RATE_SANITY:
            return rate
    return rates[0]


def _bit_depth(pix_fmt: str) -> int:
    try:
        return max(component.bits for component in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):
        return 8


def _tag(container: av.container.InputContainer, stream: av.stream.Stream, name: str) -> str | None:
    # ffmpeg exposes a QuickTime tmcd track as `timecode` metadata on the video stream and on the
    # data stream, and its reel as `reel_name` on the data stream only; Matroska keeps both as tags
    # (TIMECODE on the segment, REEL_NAME on the track). Keys differ in case between muxers.
    sources = [stream.metadata, container.metadata]
    sources += [s.metadata for s in container.streams if s.type == "data"]
    for metadata in sources:
        for key, value in metadata.items():
            if key.lower() == name and value:
                return str(value)
    return None


def _timecode(container: av.container.InputContainer, stream: av.stream.Stream) -> str | None:
    return _tag(container, stream, "timecode")


FIELD_ORDER_NAMES: dict[int, str] = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
"""FFmpeg's `AVFieldOrder` values and its own short names for them (`-field_order` of ffmpeg's options)."""

INTERLACED_FIELD_ORDERS = ("tt", "bb", "tb", "bt")
DV_SD_HEIGHTS = (480, 576)
"""Standard-definition DV's frame heights (NTSC, PAL): always interlaced, lower field first (IEC 61834,
SMPTE 314M), as FFmpeg's DV decoder flags each frame; neither a raw DV, an AVI nor a QuickTime file without
a `fiel` atom says so in its stream."""


def _field_order(stream: av.video.stream.VideoStream) -> str:
    """The stream's field order: the container's (a QuickTime `fiel` atom, Matroska's FieldOrder) or,
    without one, what FFmpeg read from the codec's headers while probing."""
    return FIELD_ORDER_NAMES.get(int(stream.codec_context.field_order or 0), "unknown")


DNX_HEADER_PREFIX = bytes((0x00, 0x00, 0x02, 0x80))
"""The first four bytes of every DNxHD and DNxHR picture's header."""


def _dnx_field_order(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> str:
    """The field order a DNx stream's first picture says in its own header, for a file whose container
    does not: FFmpeg's QuickTime muxer writes no `fiel` for DNx (as `mov_fields` explains), so a 1080i DNxHD
    `.mov` from FFmpeg-based tools probes "unknown". Byte 5 of the header: bit 1 set for a picture coded as
    two fields, and bit 0 which of them comes first in the packet (clear: the upper one), as FFmpeg's DNxHD
    decoder reads it. Reads one packet of the probe's open `container`, from its start (the frame count may
    have demuxed to its end). "unknown" when the picture cannot be read."""
    head = b""
    try:
        container.seek(0)
        for packet in container.demux(stream):
            if packet.size:
                head = bytes(packet)[:6]
                break
    except (av.error.FFmpegError, OSError, ValueError):
        return "unknown"
    if len(head) < 6 or head[:4] != DNX_HEADER_PREFIX:
        return "unknown"
    if not head[5] & 0x02:
        return "progressive"
    return "bb" if head[5] & 0x01 else "tt"


def _sample_aspect(stream: av.video.stream.VideoStream) -> Fraction:
    """The stored pixel's aspect: the container's (a QuickTime `pasp` atom) before the codec's, as FFmpeg
    guesses it; 1 when neither says or a value is unusable (0, or beyond 1:4-4:1)."""
    for value in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if value is not None and value.numerator > 0 and value.denominator > 0:
            aspect = Fraction(value.numerator, value.denominator)
            if Fraction(1, 4) <= aspect <= 4:
                return aspect
    return Fraction(1)


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise display rotation in degrees, normalised to 0/90/180/270.

    PyAV does not expose stream side data, but the decoder attaches the container's display
    matrix to every frame, so decode the first frame only.
    """
    try:
        container.seek(0, stream=stream, backward=True)
        for frame in container.decode(stream):
            return round(frame.rotation) % 360
    except (av.error.FFmpegError, ValueError):
        return 0
    return 0


HEAD_PACKETS = 64
"""Packets the index path demuxes from the start: the first pictures in presentation order (an open GOP's
leading B-frames included) lie among them, so their smallest timestamp is the clip's first."""


def _demuxed_timestamps(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                        path: Path) -> tuple[list[int], bool]:
    """(every coded frame's presentation timestamp, in decode order; whether decode order differs from
    presentation order) by demuxing the whole stream without decoding: exact, because every coded frame
    is one packet, but it reads every byte of the file."""
    timestamps: list[int] = []
    reordered = False
    last_pts: int | None = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                raise MediaFormatError(
                    f"{path}: video packet {len(timestamps)} has no timestamp; "
                    "remux the clip into .mov or .mkv so frames can be located exactly"
                )
            if last_pts is not None and pts < last_pts:
                reordered = True  # decode order differs from display order: B-frames
            last_pts = pts
            timestamps.append(pts)
    except av.error.FFmpegError as exc:
        raise MediaFormatError(
            f"{path}: the video stream is damaged after {len(timestamps)} frames ({exc}); re-export the clip"
        ) from exc
    return timestamps, reordered


def _indexed_timestamps(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                        path: Path) -> tuple[list[int], bool] | None:
    """`_demuxed_timestamps`' answer read from a QuickTime/MP4 sample table instead of the frames, or None
    where it cannot be read exactly that way (then the frames are demuxed).

    Demuxing reads every byte: an hour of 1080p ProRes 422 HQ is about 80 GB, minutes of disk or network
    for each probe, and every job probes its clip. The sample table gives each frame's decode time and
    where its bytes lie. At a constant rate (decode times one frame apart) and with no edit-list discards,
    the presentation times are the decode times moved by one constant, the reorder delay: that delay is
    read from the first `HEAD_PACKETS` packets, and every one of those must land on the moved grid. A
    table that points past the end of the file (a truncated copy) is not believed."""
    if "mov" not in container.format.name.split(","):
        return None
    entries = stream.index_entries
    count = len(entries)
    if count < 2 or count != stream.frames:
        return None
    decode_times: list[int] = []
    for entry in entries:
        if entry.is_discard or entry.size <= 0:
            return None
        decode_times.append(entry.timestamp)
    if table_end(stream) > path.stat().st_size:
        return None  # the table promises frames the file does not hold: demux finds where it ends
    step = decode_times[1] - decode_times[0]
    if step <= 0 or any(b - a != step for a, b in zip(decode_times, decode_times[1:], strict=False)):
        return None  # variable rate or an irregular table
    head: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            if packet.pts is None:
                return None
            head.append(packet.pts)
            if len(head) >= min(count, HEAD_PACKETS):
                break
    except av.error.FFmpegError:
        return None
    if len(head) < min(count, HEAD_PACKETS):
        return None
    shift = min(head) - decode_times[0]
    presented = [t + shift for t in decode_times]
    grid = set(presented)
    if any(pts not in grid for pts in head):
        return None
    reordered = any(b < a for a, b in zip(head, head[1:], strict=False))
    return presented, reordered


def _video_info(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path,
    ends_mid_packet: bool = False,
) -> VideoStreamInfo:
    ctx = stream.codec_context
    if stream.time_base is None:
        raise MediaFormatError(f"{path}: the video stream has no time base; re-export the clip")
    time_base = Fraction(stream.time_base)

    indexed = _indexed_timestamps(container, stream, path)
    if indexed is not None:
        timestamps, reordered = indexed
    else:
        timestamps, reordered = _demuxed_timestamps(container, stream, path)
    if not timestamps:
        raise MediaFormatError(f"{path}: the video stream has no frames; pick another clip")

    fps = _stream_fps(stream, path, timestamps, time_base)
    if ends_mid_packet and len(timestamps) > 1:
        first_pts = min(timestamps[:-1])
        timestamps = whole_frames_of_cut_stream(
            timestamps, lambda pts: frame_index_for_pts(pts, first_pts, time_base, fps))
    start_pts = min(timestamps)
    indices = sorted(frame_index_for_pts(pts, start_pts, time_base, fps) for pts in timestamps)
    frame_count = indices[-1] + 1
    # Constant rate means the timestamps land on every grid index exactly once.
    is_vfr = indices != list(range(frame_count))

    pix_fmt = ctx.pix_fmt or (ctx.format.name if ctx.format else "unknown")
    profile = stream.profile or ctx.profile
    codec = _codec_name(stream)
    field_order = _field_order(stream)
    if field_order == "unknown" and codec == "dnxhd":
        field_order = _dnx_field_order(container, stream)
    elif field_order == "unknown" and codec == "dvvideo" and ctx.height in DV_SD_HEIGHTS:
        field_order = "bb"
    return VideoStreamInfo(
        index=stream.index,
        codec=codec,
        profile=str(profile) if profile else None,
        width=ctx.width,
        height=ctx.height,
        fps=fps,
        time_base=time_base,
        start_pts=start_pts,
        frame_count=frame_count,
        duration_s=float(frame_count / fps),
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(pix_fmt),
        color_range=COLOR_RANGE_NAMES.get(ctx.color_range),
        color_space=COLOR_SPACE_NAMES.get(ctx.colorspace)
        if ctx.colorspace != 0 or pix_fmt.startswith("gbr")
        else None,
        color_primaries=COLOR_PRIMARIES_NAMES.get(ctx.color_primaries),
        color_trc=COLOR_TRC_NAMES.get(ctx.color_trc),
        rotation=_rotation(container, stream),
        start_timecode=_timecode(container, stream),
        is_vfr=is_vfr,
        has_b_frames=reordered or bool(ctx.has_b_frames),
        reel_name=_tag(container, stream, "reel_name"),
        sample_aspect=_sample_aspect(stream),
        field_order=field_order,
        listed_frames=listed_frames(container, stream, path, len(timestamps), fps),
        ends_mid_packet=ends_mid_packet,
    )


def _audio_info(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, path: Path,
    ends_mid_packet: bool = False,
) -> AudioStreamInfo:
    ctx = stream.codec_context
    if stream.duration is not None and stream.time_base is not None:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration_s = container.duration / av.time_base
    else:
        duration_s = 0.0
    cut = sound_cut_short(container, stream, path)
    if cut is not None:
        duration_s = min(duration_s, cut[1])  # a QuickTime table lists the missing samples' time too
    return AudioStreamInfo(
        index=stream.index,
        codec=_codec_name(stream),
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
        duration_s=duration_s,
        listed_s=cut[0] if cut is not None and cut[0] > duration_s else None,
        ends_mid_packet=ends_mid_packet,
    )


def probe(path: str | Path) -> MediaInfo:
    """Describe a media file, counting its video frames exactly (demux only, no decoding).

    Raises `MediaNotFoundError` for a missing file and `MediaFormatError` for anything ffmpeg cannot
    read as audio or video. Nothing is cached: probing a changed file gives fresh answers.
    """
    path = Path(path)
    with open_input(path) as container:
        stream = main_video_stream(container)
        # A transport stream states no length: cut short, it ends inside a packet (one look at the file's end).
        cut = "mpegts" in container.format.name.split(",") and transport_stream_cut(path)
        audio = tuple(_audio_info(container, s, path, cut) for s in container.streams.audio)
        if stream is None and not audio:
            raise MediaFormatError(f"{path}: has no video or audio stream; pick a clip with picture or sound")
        video = _video_info(container, stream, path, cut) if stream is not None else None
        if video is not None:
            duration_s = video.duration_s
        elif container.duration is not None and not any(a.listed_s for a in audio):
            duration_s = container.duration / av.time_base
        else:
            duration_s = max(a.duration_s for a in audio)  # a sound cut short: what it holds
        return MediaInfo(
            path=path,
            container=container.format.name,
            duration_s=float(duration_s),
            video=video,
            audio=audio,
            size_bytes=path.stat().st_size,
        )
