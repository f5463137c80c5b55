"""Write the fixed range as a new file that matches the source: size, rate, bit depth, colour tags.

The writer is atomic: it encodes into a hidden temporary file next to the target (a short name of
fixed length, see `mytalk.core.tempnames`, so a long target name cannot push it over the file
system's limit) and renames it onto the target only when everything was written and flushed. A
failed or cancelled render leaves nothing at the target path. A job that delivers several files
at once passes its own ``temp_path`` instead and puts the file in place itself
(`mytalk.core.jobs.staging`).

Every packet goes to the muxer through one place, which turns ffmpeg's and the OS's errors (a full
disk, a lost share) into an `OutputError` that says what to do.

Timing: the output is constant-rate at the source's ``fps`` (an exact Fraction, 24000/1001 stays
24000/1001) with frame ``n`` at pts ``n`` in a time base of ``1/fps``, so it contains exactly the
written frames, whatever the source's own timestamps were.

Containers: FFV1 goes into .mkv only, because this ffmpeg build's mov muxer refuses FFV1
("'mov' format does not support 'ffv1' codec"); ProRes into .mov; DNxHR into .mov or MXF OP1a
(.mxf, what an Avid imports or links, at the frame rates its muxer knows: `MXF_RATES`); H.264 into
.mp4, .mov or .mkv. Audio is pcm_s24le in mov/mkv/mxf (sample-exact) and AAC in mp4 (the encoder
adds its usual priming/padding, so an mp4 preview's audio is not sample-exact).

Rotation: when the source has a display rotation, the same display matrix is written on the
output stream (`VideoStream.set_display_rotation`), so players and editors show it the same way;
the pixels are never rotated. MP4/MOV store it in the track header and Matroska as projection
pose. A non-square pixel's shape goes into QuickTime's `pasp` atom and, for Matroska, into the video
track's display size once the file is finished (`mkv_aspect`): FFmpeg's muxer would take it from a
stream field PyAV cannot set.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import cast

import av
import av.error
import numpy as np

from mytalk.core.atomic import AtomicFile, undo_on_failure
from mytalk.core.errors import OutputError, UsageError, describe_os_error
from mytalk.core.media.audio import AudioSource
from mytalk.core.media.field_chroma import convert_by_field, needs_field_chroma
from mytalk.core.media.field_marks import FieldMarker, top_field_first
from mytalk.core.media.mkv_aspect import write_display_aspect
from mytalk.core.media.mov_fields import write_field_order
from mytalk.core.media.probe import (
    COLOR_PRIMARIES_NAMES,
    COLOR_RANGE_NAMES,
    COLOR_SPACE_NAMES,
    COLOR_TRC_NAMES,
    FIELD_ORDER_NAMES,
    VideoStreamInfo,
    frame_index_for_pts,
    pix_fmt_has_alpha,
)
from mytalk.core.tempnames import temp_path
from mytalk.core.timecode import source_timecode_at

_CONTAINER_FORMATS = {".mov": "mov", ".mp4": "mp4", ".mkv": "matroska", ".mxf": "mxf"}

SWSCALE_THREADS = 1
"""Threads for the conversion to the codec's pixel format. swscale's own slice threads (PyAV's default,
one per core) leave garbage in the first 8 luma samples of each slice's first row when converting 4:2:0
to 4:2:2 or 4:4:4 at 10 bits (ProRes, 10-bit DNxHR): values off by up to 208 of 1023, different on
every run (measured with FFmpeg 8's libswscale 9.5 in PyAV 18: rows 640 and 1280 of a 1080x1920 frame
on two cores). One thread converts exactly, so the same frames always give the same file."""

# swscale only knows a few YUV matrices; anything else (bt2020c, ycgco, ...) falls back to bt709.
_SWS_MATRIX = {
    "bt709": 1,
    "fcc": 4,
    "bt470bg": 5,
    "smpte170m": 5,
    "smpte240m": 7,
    "bt2020nc": 9,
    "bt2020c": 9,
}


def _no_options(source: VideoStreamInfo) -> dict[str, str]:
    return {}


def _codec_supports(encoder: str, pix_fmt: str) -> bool:
    formats = av.Codec(encoder, "w").video_formats or ()
    return any(f.name == pix_fmt for f in formats)


def _ffv1_pix_fmt(source: VideoStreamInfo) -> str:
    # Lossless must mean bit-exact: keep the source layout whenever FFV1 can store it.
    if _codec_supports("ffv1", source.pix_fmt):
        return source.pix_fmt
    if source.pix_fmt.endswith("be") and _codec_supports("ffv1", source.pix_fmt[:-2] + "le"):
        return source.pix_fmt[:-2] + "le"  # the same samples, low byte first (16-bit gray PNG)
    if source.pix_fmt.startswith("yuvj"):
        # yuvj* is yuv* with full range implied; same samples, the range goes into the tags.
        plain = "yuv" + source.pix_fmt[4:]
        if _codec_supports("ffv1", plain):
            return plain
    if source.pix_fmt.startswith(("rgb", "bgr", "gbr", "argb", "abgr")):
        if source.has_alpha:
            return "gbrap16le" if source.bit_depth > 8 else "bgra"
        return "gbrp16le" if source.bit_depth > 8 else "bgr0"
    return "yuv444p16le" if source.bit_depth > 8 else "yuv444p"


def _h264_pix_fmt(source: VideoStreamInfo) -> str:
    if source.bit_depth > 8 and _codec_supports("libx264", "yuv420p10le"):
        return "yuv420p10le"
    return "yuv420p"


def _h264_field_options(source: VideoStreamInfo, top_first: bool) -> dict[str, str] | None:
    """PAFF/MBAFF, as 1080i cameras and broadcast encoders write it. x264 codes 4:2:0 fields only when each
    field has an even number of lines (a 486-line NTSC frame does not)."""
    if source.height % 4:
        return None
    return {"flags": "+ildct+ilme", "x264-params": f"interlaced=1:{'tff' if top_first else 'bff'}=1"}


DNXHD_FIELD_RATES = {Fraction(25): "185M", Fraction(30000, 1001): "220M"}
"""DNxHD's bit rates for 1080i50 and 1080i59.94 at Avid's top quality: 185 and 220 Mb/s (185X and 220X with a
10-bit source, the encoder choosing the variant by the pixel format)."""


def _dnxhr_field_options(source: VideoStreamInfo, top_first: bool) -> dict[str, str] | None:
    """FFmpeg codes DNxHR as frames only (it refuses interlaced coding for every DNxHR profile). A 1080i50 or
    1080i59.94 clip is coded as DNxHD instead, the DNx of the same family that codes fields, as an Avid's
    own 1080i media is; other interlaced clips are coded as frames (`fields_dropped`)."""
    if (source.width, source.height) != (1920, 1080) or Fraction(source.fps) not in DNXHD_FIELD_RATES:
        return None
    return {"profile": "dnxhd", "b": DNXHD_FIELD_RATES[Fraction(source.fps)], "flags": "+ildct"}


@dataclass(frozen=True)
class CodecPreset:
    """One ``--codec`` choice: encoder, allowed containers and how to pick the pixel format."""

    name: str
    encoder: str
    extensions: tuple[str, ...]
    pix_fmt: Callable[[VideoStreamInfo], str]
    options: Callable[[VideoStreamInfo], dict[str, str]] = _no_options
    min_size: tuple[int, int] = (1, 1)
    even_size: bool = False
    description: str = ""
    field_options: Callable[[VideoStreamInfo, bool], dict[str, str] | None] | None = None
    """Options that make the encoder code an interlaced source's pictures as two fields, upper field first
    or not (`field_marks`); None, or None for that source: it codes frames only, so a render of an
    interlaced clip carries its field order as a container tag at most (`fields_dropped`)."""


CODEC_PRESETS: dict[str, CodecPreset] = {
    preset.name: preset
    for preset in (
        CodecPreset(
            "ffv1",
            "ffv1",
            (".mkv",),
            _ffv1_pix_fmt,
            # Level 3 with slice CRCs is the archival profile; g=1 makes every frame a keyframe
            # so editors can scrub and cut anywhere.
            lambda source: {"level": "3", "slicecrc": "1", "g": "1"},
            description="FFV1 lossless, source pixel format kept",
            # FFV1 codes frames whole, but each frame says whether it is interlaced and which field is first
            # (its slice header's picture structure), from the frame's own flags: marked, a render of an
            # interlaced clip decodes as its source did, and is read field by field when it is fixed again
            # (`composite.planes.frame_layout`). No encoder option is needed.
            field_options=lambda source, top_first: {},
        ),
        CodecPreset(
            "prores",
            "prores_ks",
            (".mov",),
            lambda source: "yuv422p10le",
            lambda source: {"profile": "3", "vendor": "apl0"},
            description="Apple ProRes 422 HQ, 10-bit 4:2:2",
            field_options=lambda source, top_first: {"flags": "+ildct"},
        ),
        CodecPreset(
            "prores4444",
            "prores_ks",
            (".mov",),
            # ProRes 4444 is the ProRes that carries a matte: a source with one keeps it.
            lambda source: "yuva444p10le" if source.has_alpha else "yuv444p10le",
            lambda source: {"profile": "4", "vendor": "apl0"},
            description="Apple ProRes 4444, 10-bit 4:4:4 (with the source's alpha)",
            field_options=lambda source, top_first: {"flags": "+ildct"},
        ),
        CodecPreset(
            "dnxhr",
            "dnxhd",
            (".mov", ".mxf"),
            lambda source: "yuv422p10le" if source.bit_depth > 8 else "yuv422p",
            lambda source: {"profile": "dnxhr_hqx" if source.bit_depth > 8 else "dnxhr_hq"},
            min_size=(256, 120),
            description="Avid DNxHR HQ (8-bit) or HQX (10-bit), 4:2:2; a 1080i clip as DNxHD 185/220 (X) fields",
            field_options=_dnxhr_field_options,
        ),
        CodecPreset(
            "h264",
            "libx264",
            (".mp4", ".mov", ".mkv"),
            _h264_pix_fmt,
            lambda source: {"crf": "18", "preset": "fast"},
            even_size=True,
            description="H.264 for previews, 4:2:0",
            field_options=_h264_field_options,
        ),
    )
}

_DEFAULT_CODEC = {".mkv": "ffv1", ".mov": "prores", ".mp4": "h264", ".mxf": "dnxhr"}


def default_codec_for(path: str | Path, source: VideoStreamInfo | None = None) -> str:
    """The ``--codec`` to use when none is given: .mkv -> ffv1, .mov -> prores, .mp4 -> h264, .mxf -> dnxhr; a `source`
    with an alpha plane (a keyed actor) makes .mov ProRes 4444, which keeps it, where 422 HQ would drop it."""
    suffix = Path(path).suffix.lower()
    try:
        codec = _DEFAULT_CODEC[suffix]
    except KeyError:
        raise UsageError(
            f"{path}: unsupported output extension {suffix or '(none)'!r}; use .mov, .mkv, .mp4 or .mxf"
        ) from None
    if source is not None and source.has_alpha and codec == "prores":
        return "prores4444"
    return codec


def field_options(codec: str, source: VideoStreamInfo) -> dict[str, str] | None:
    """The encoder options that code an interlaced `source`'s pictures as fields in its order; None when
    `codec` codes only frames, or cannot code this source's fields."""
    preset = CODEC_PRESETS.get(codec)
    if not source.interlaced or preset is None or preset.field_options is None:
        return None
    return preset.field_options(source, top_field_first(source.field_order))


def fields_dropped(codec: str, source: VideoStreamInfo) -> bool:
    """Whether a `codec` render of an interlaced `source` is not coded as fields: its field order is then only
    a tag, which FFV1 always has (Matroska's FieldOrder; FFV1 codes frames whole and keeps every line) and a
    DNx `.mov` gets once it is finished (`VideoWriter.fields_tagged`). FFmpeg's DNxHR encoder codes frames
    only: only 1080i50 and 1080i59.94 have a DNx that codes fields (DNxHD). H.264 of a 4:2:0 clip whose
    fields have an odd number of lines cannot be coded as fields either."""
    return source.interlaced and codec != "ffv1" and field_options(codec, source) is None


def alpha_dropped(codec: str, source: VideoStreamInfo) -> bool:
    """Whether writing `source` with `codec` loses its alpha plane (the render is then opaque)."""
    if not source.has_alpha or codec not in CODEC_PRESETS:
        return False
    return not pix_fmt_has_alpha(CODEC_PRESETS[codec].pix_fmt(source))


MXF_RATES = frozenset(Fraction(n, d) for n, d in ((24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (48, 1),
                                                   (50, 1), (60000, 1001), (60, 1)))
"""The frame rates FFmpeg's MXF (OP1a) muxer has an edit rate for; it refuses any other when it starts."""


def check_codec_container(codec: str, path: str | Path, source: VideoStreamInfo | None = None) -> None:
    """Raise `UsageError` when ``codec`` is unknown or cannot go into ``path``'s container, or (given the
    `source`) when that container cannot hold its frame rate."""
    preset = CODEC_PRESETS.get(codec)
    if preset is None:
        raise UsageError(f"unknown codec {codec!r}; choose one of {', '.join(CODEC_PRESETS)}")
    suffix = Path(path).suffix.lower()
    if suffix not in preset.extensions:
        raise UsageError(
            f"{path}: codec {codec!r} cannot be written to {suffix or 'a file without extension'}; "
            f"use {' or '.join(preset.extensions)} for {codec}"
        )
    if suffix == ".mxf" and source is not None and Fraction(source.fps) not in MXF_RATES:
        rate = Fraction(source.fps)
        label = str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"
        raise UsageError(
            f"{path}: MXF holds 24000/1001, 24, 25, 30000/1001, 30, 48, 50, 60000/1001 or 60 fps and the clip "
            f"runs at {label} fps; render to .mov instead"
        )


def check_output_path(out: Path, inputs: Sequence[Path]) -> None:
    """Raise `OutputError` unless ``out`` can be written without touching an input.

    Checks that ``out`` is not any of ``inputs`` (same file through links, or same resolved path)
    and that its folder exists and is writable, by really creating and removing a probe file
    there. Never creates the folder.
    """
    out = Path(out)
    resolved = out.expanduser().resolve()
    for source in inputs:
        source = Path(source)
        same = False
        if out.exists() and source.exists():
            same = os.path.samefile(out, source)
        same = same or resolved == source.expanduser().resolve()
        if same:
            raise OutputError(
                f"{out}: is the input {source}; never write over source media, pick a new output name"
            )
    if resolved.is_dir():
        raise OutputError(f"{out}: is a folder; give a file name such as {out / 'clip_v001.mov'}")
    try:
        mode: int | None = os.stat(out).st_mode
    except OSError:
        mode = None  # absent (or a dangling link): a new file
    if mode is not None and not stat.S_ISREG(mode):
        # Renaming onto a FIFO or device node replaces the node itself (as root, /dev/null).
        raise OutputError(f"{out}: is a device, FIFO or socket, not a file; give the name of a file to write")
    folder = resolved.parent
    if not folder.is_dir():
        raise OutputError(
            f"{out}: the folder {folder} does not exist; create it or pick another output folder"
        )
    name_bytes = len(os.fsencode(resolved.name))
    if name_bytes > _name_max(folder):
        raise OutputError(
            f"{out}: the file name is {name_bytes} bytes long and this folder allows at most "
            f"{_name_max(folder)}; choose a shorter name"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: the folder {folder} is not writable; pick another output folder")
    try:
        # A MyTalk temporary name: the one thing a process killed right here leaves in the output
        # folder is one that `mytalk clean FOLDER` recognises as a dead job's.
        probe_name = temp_path(folder / "write-check")
        os.close(os.open(probe_name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe_name)
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot create files in {folder} ({exc.strerror}); pick another output folder"
        ) from exc


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the folder's file system accepts; 255 where it cannot say."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255


def proxy_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    """Output size: the source's, or scaled to at most ``max_height`` lines with even sides."""
    if max_height is None or height <= max_height:
        return width, height
    scale = max_height / height
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


REEL_NAME_LENGTH = 8
"""CMX 3600 keeps 8 characters of a reel name; ours fit whole, so no EDL writer truncates them."""
_REEL_PREFIX = "MT"


def edl_reel_name(name: str) -> str:
    """The reel an EDL writer makes up for a file or clip name that has none of its own.

    OpenTimelineIO's CMX 3600 writer (and most NLEs) take the base name without its extension, keep
    letters, digits and spaces, and cut it to 8 characters: `retalking_face2.mp4` -> `retalkin`.
    Upper case, for comparing: reel names are matched case-insensitively in a conform.
    """
    base = re.sub(r"[.][a-zA-Z]+$", "", name.replace("\\", "/").rsplit("/", 1)[-1])
    return re.sub(r"[^ a-zA-Z0-9]+", "", base)[:REEL_NAME_LENGTH].strip().upper()


def render_reel_name(name: str, avoid: Iterable[str] = ()) -> str:
    """The reel name of a render called `name`: `MT` and six characters from a hash of the name.

    A conform links media by reel and source timecode. A render carries the source's timecode, so
    it must not also carry the source's reel, or an EDL could relink the fix to the camera original
    (an EDL writer cuts both `interview_take2_0-25_v001.mov` and `interview_take2.mov` to `intervie`). The
    name is 8 characters, so no EDL truncates it; each version of a render gets its own; and it
    is never one of `avoid` (the inputs' reels, compared after the same 8-character truncation).
    """
    taken = {edl_reel_name(reel) for reel in avoid if reel}
    for salt in range(1000):
        digest = hashlib.sha256(f"{name}#{salt}".encode() if salt else name.encode()).digest()
        reel = _REEL_PREFIX + base64.b32encode(digest).decode("ascii")[: REEL_NAME_LENGTH - len(_REEL_PREFIX)]
        if reel not in taken:
            return reel
    raise AssertionError("a thousand hashes all collided with the inputs' reels")  # pragma: no cover


def _source_reels(source: VideoStreamInfo, inputs: Sequence[Path]) -> list[str]:
    """Every reel an input may already go by: its own reel tag, and the name an EDL gives its file."""
    return [reel for reel in (source.reel_name, *(Path(path).name for path in inputs)) if reel]


def _rational_time_base(fps: Fraction) -> Fraction:
    return Fraction(fps.denominator, fps.numerator)


class VideoWriter:
    """Encodes frames (and optionally a replacement audio track) into a new file atomically.

    Use it as a context manager: a clean exit finalises and renames the file onto ``path``; an
    exception inside the block, or `abort()`, deletes everything it wrote. ``source`` gives the
    size, frame rate, bit depth, colour tags and rotation to reproduce. ``audio`` is muxed as
    pcm_s24le (mov/mkv) or AAC (mp4), interleaved with the video and exactly as long as the track.
    Conform metadata (what an EDL or AAF links the render by): a timecode that starts at the
    source timecode of the first written frame (`source_timecode_at`: the source's own start
    timecode plus that frame, or clip-relative when the source has none; a tmcd track in mov/mp4,
    a TIMECODE tag in mkv), and a reel name of its own (`render_reel_name`; the tmcd track's
    source reference in mov, a REEL_NAME tag in mkv; mp4 has no place for it). The first frame is
    ``first_frame`` (a clip-relative index) when given, else read from the first written frame's
    own timestamps (a decoded source frame, or a copy of one, carries them), else frame 0.
    ``start_timecode`` ("HH:MM:SS:FF") overrides the timecode and ``reel_name`` the reel.

    ``temp_path`` (a path on the same mount as ``path``) makes the writer encode there and leave the
    finished file for the caller to put in place; without it `close` renames the file onto ``path`` itself.

    ``proxy_height`` makes a preview proxy instead of a mezzanine: frames are scaled down to at
    most that many lines (even sizes, aspect kept) and H.264 uses its fastest preset. Previews
    are for judging sync, so encode speed matters more than bits; commits never use it.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        codec: str,
        source: VideoStreamInfo,
        audio: AudioSource | None = None,
        inputs: Sequence[Path] = (),
        start_timecode: str | None = None,
        first_frame: int | None = None,
        reel_name: str | None = None,
        proxy_height: int | None = None,
        temp_path: Path | None = None,
    ) -> None:
        self.path = Path(path)
        check_codec_container(codec, self.path)
        check_output_path(self.path, inputs)
        self.preset = CODEC_PRESETS[codec]
        self.source = source
        self.audio = audio
        self.proxy = proxy_height is not None
        self.width, self.height = proxy_size(source.width, source.height, proxy_height)
        self._check_size()
        self.frames_written = 0
        self._audio_written = 0  # samples per channel already sent to the encoder
        self._closed = False
        # With a caller's temp_path the caller puts the finished file in place (a job's one
        # commit step); otherwise close() renames it onto `path` itself.
        self._place_on_close = temp_path is None
        self._file = AtomicFile(self.path, temp_path)
        self.temp_path = self._file.temp
        self._container: av.container.OutputContainer | None = None
        self._audio_stream: av.audio.stream.AudioStream | None = None
        self._audio_layout = "mono"
        self._fields: FieldMarker | None = None  # set by `_open` for a render that codes fields
        self.aspect_kept = True
        """Whether the file says its pixels' shape: False only for a Matroska file of non-square pixels that
        had no room for its display size (`mkv_aspect`), which then plays squeezed."""
        self.fields_tagged = False
        """Whether a DNx `.mov` of an interlaced clip says its field order in a `fiel` atom, which FFmpeg's
        muxer leaves out for DNx and `close` writes (`mov_fields`)."""
        self.reel_name = reel_name or render_reel_name(self.path.name, _source_reels(source, inputs))
        self.start_timecode: str | None = None  # decided by the first frame unless given
        try:
            self._open()
            if start_timecode:
                self._set_timecode(start_timecode)
            elif first_frame is not None:
                self._set_timecode(self._timecode_of(first_frame))
        except BaseException:
            self.abort()
            raise

    def _check_size(self) -> None:
        s, p = self, self.preset
        min_w, min_h = p.min_size
        if s.width < min_w or s.height < min_h:
            raise UsageError(
                f"{self.path}: {p.name} needs at least {min_w}x{min_h} pixels but the source is "
                f"{s.width}x{s.height}; use --codec prores or ffv1"
            )
        if p.even_size and (s.width % 2 or s.height % 2):
            raise UsageError(
                f"{self.path}: {p.name} needs an even width and height but the source is "
                f"{s.width}x{s.height}; use --codec prores or ffv1"
            )

    def _open(self) -> None:
        s = self.source
        fmt = _CONTAINER_FORMATS[self.path.suffix.lower()]
        try:
            # bitexact: no random segment or track UIDs and no wall-clock dates in the container, so the same
            # request gives the same bytes wherever it runs (a batch's local and Ray workers, a re-render).
            self._container = container = av.open(str(self.temp_path), mode="w", format=fmt,
                                                  container_options={"fflags": "+bitexact"})
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(
                f"{self.path}: cannot create the output file ({_reason(exc)}); pick another output folder"
            ) from exc
        self.pix_fmt = self.preset.pix_fmt(s)
        self.time_base = _rational_time_base(s.fps)
        options = self.preset.options(s)
        if self.proxy and self.preset.encoder == "libx264":
            options = {**options, "preset": "ultrafast", "crf": "18"}
        # A proxy is scaled across the fields: it is shown as pictures, so it is coded and tagged as such.
        fields = None if self.proxy else field_options(self.preset.name, s)
        if fields is not None:
            options = {**options, **fields}
        stream = cast(
            av.video.stream.VideoStream,
            container.add_stream(self.preset.encoder, rate=s.fps, options=options),
        )
        stream.width = self.width
        stream.height = self.height
        stream.pix_fmt = self.pix_fmt
        ctx = stream.codec_context
        ctx.time_base = self.time_base
        ctx.framerate = s.fps
        stream.time_base = self.time_base
        stream.thread_type = "AUTO"
        self._fields = (FieldMarker(self.width, self.height, self.pix_fmt, self.time_base,
                                    top_first=top_field_first(s.field_order)) if fields is not None else None)
        # Tags only, never a conversion: an ungraded mezzanine must carry the source's tags.
        default_range = 2 if s.pix_fmt.startswith("yuvj") else 0  # yuvj* means full range
        self._color_tags = {
            "color_range": _code(COLOR_RANGE_NAMES, s.color_range, default_range),
            "colorspace": _code(COLOR_SPACE_NAMES, s.color_space, 2),
            "color_primaries": _code(COLOR_PRIMARIES_NAMES, s.color_primaries, 2),
            "color_trc": _code(COLOR_TRC_NAMES, s.color_trc, 2),
        }
        for name, value in self._color_tags.items():
            setattr(ctx, name, value)
        if s.rotation:
            stream.set_display_rotation(s.rotation)
        if s.sample_aspect != 1:
            # Anamorphic or HDV pixels: without the tag an editor shows the render squeezed. A proxy is
            # scaled by the same factor on both axes, so its pixels keep the source's aspect too.
            ctx.sample_aspect_ratio = s.sample_aspect
        if s.interlaced and not self.proxy:
            # The source's field order as a tag (QuickTime `fiel`, Matroska FieldOrder), so an editor
            # plays and deinterlaces the render as it does the original; untagged, it would take two fields
            # for one progressive picture. ProRes and H.264 also code the pictures as fields, marked frame
            # by frame (`field_marks`), as a 1080i camera's files are; FFV1 codes frames (lossless, the
            # samples are the source's line for line) and keeps the tag; a DNx .mov gets its tag when it is
            # finished (`close`, `mov_fields`); DNxHR in MXF, and H.264 of a clip whose fields x264 cannot
            # code, are read as progressive (`fields_dropped`: the job warns). A proxy is scaled across the
            # fields and left untagged.
            ctx.field_order = next(code for code, name in FIELD_ORDER_NAMES.items() if name == s.field_order)
        # mov writes it as the tmcd track's source reference, mkv as the track's REEL_NAME tag, MXF as a
        # tape source package, which its muxer takes from the file's own metadata.
        stream.metadata["reel_name"] = self.reel_name
        if fmt == "mxf":
            container.metadata["reel_name"] = self.reel_name
        self._video = stream

        if self.audio is not None:
            if self.audio.channels > 2:
                raise UsageError(
                    f"{self.path}: the audio has {self.audio.channels} channels; mix it to mono or stereo first"
                )
            layout = "mono" if self.audio.channels == 1 else "stereo"
            encoder = "aac" if fmt == "mp4" else "pcm_s24le"
            options = {"b": "256k"} if encoder == "aac" else {}
            astream = cast(
                av.audio.stream.AudioStream,
                container.add_stream(encoder, rate=self.audio.rate, layout=layout, options=options),
            )
            astream.time_base = Fraction(1, self.audio.rate)
            astream.codec_context.time_base = Fraction(1, self.audio.rate)
            self._audio_stream = astream
            self._audio_layout = layout

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- writing ---------------------------------------------------------------------------

    def _as_frame(self, frame: av.VideoFrame | np.ndarray, pix_fmt: str | None) -> av.VideoFrame:
        s = self.source
        if isinstance(frame, np.ndarray):
            array, fmt = frame, pix_fmt or s.pix_fmt
            try:
                frame = av.VideoFrame.from_ndarray(array, format=fmt)
            except (ValueError, TypeError, AssertionError) as exc:
                raise UsageError(
                    f"{self.path}: frame {self.frames_written} is an array of shape {array.shape} "
                    f"{array.dtype} that is not a {fmt} picture ({exc})"
                ) from exc
        if (frame.width, frame.height) != (s.width, s.height):
            raise UsageError(
                f"{self.path}: frame {self.frames_written} is {frame.width}x{frame.height} but the output is "
                f"{s.width}x{s.height}; frames must keep the source size"
            )
        if (self.width, self.height) != (s.width, s.height):
            return frame.reformat(width=self.width, height=self.height, format=self.pix_fmt, interpolation="BILINEAR",
                                  threads=SWSCALE_THREADS)
        if frame.format.name == self.pix_fmt:
            # Same layout: hand the decoded frame over untouched so lossless output is bit-exact.
            return frame
        matrix = _SWS_MATRIX.get(s.color_space or "", 1 if s.height >= 720 else 5)
        range_code = self._color_tags["color_range"] or 1  # untagged YUV is limited range
        name = frame.format.name
        is_rgb_in = name.startswith(("rgb", "bgr", "gbr", "argb", "abgr", "rgba", "bgra"))
        # RGB->YUV must use the source's matrix and range, or skin tones shift (swscale's default
        # is BT.601 limited). YUV->YUV with the same matrix and range only resamples chroma or
        # bit depth, and yuvj->yuv with both ranges full is a bit-exact copy.

        def convert(picture: av.VideoFrame) -> av.VideoFrame:
            return picture.reformat(
                format=self.pix_fmt,
                src_colorspace=matrix,
                dst_colorspace=matrix,
                src_color_range=2 if is_rgb_in or name.startswith("yuvj") else range_code,
                dst_color_range=range_code,
                threads=SWSCALE_THREADS,
            )

        if s.interlaced and needs_field_chroma(name, self.pix_fmt, frame.height):
            # 4:2:0 fields (HDV, AVCHD, 1080i H.264) to ProRes' or DNxHR's 4:2:2: each field's chroma from
            # its own rows only (`field_chroma`).
            return convert_by_field(frame, self.pix_fmt, convert)
        return convert(frame)

    def write(self, frame: av.VideoFrame | np.ndarray, *, pix_fmt: str | None = None) -> None:
        """Append one frame (it becomes frame ``frames_written`` of the output).

        ``frame`` is an `av.VideoFrame` in any pixel format, or an ndarray in PyAV's
        ``from_ndarray`` layout for ``pix_fmt`` (default: the source's pixel format; pass
        ``"rgb24"`` for (H, W, 3) uint8 RGB). A frame already in the codec's pixel format is
        passed through without conversion. Its pts, picture type and colour tags are overwritten
        (with the output's, i.e. the source's, tags).
        """
        if self._closed or self._container is None:
            raise UsageError(f"{self.path}: the writer is already closed; open a new one")
        if self.start_timecode is None:
            self._set_timecode(self._timecode_of(self._source_index(frame)))
        out = self._as_frame(frame, pix_fmt)
        n = self.frames_written
        out.pts = n
        out.time_base = self.time_base
        if self._fields is not None:
            out = self._fields.mark(out)
        # A decoded frame remembers its I/P/B type and libx264 obeys it; let the encoder decide.
        out.pict_type = 0
        for name, value in self._color_tags.items():
            setattr(out, name, value)
        self._mux(lambda: self._video.encode(out), f"frame {n}")
        self.frames_written = n + 1
        if self.audio is not None:
            # Keep audio up to the end of this frame so the muxer interleaves without buffering.
            self._write_audio_until(round(Fraction(n + 1) * self.audio.rate / self.source.fps))

    def _source_index(self, frame: av.VideoFrame | np.ndarray) -> int:
        """Clip-relative index of a frame that still carries the source's timestamps; 0 otherwise."""
        s = self.source
        if not isinstance(frame, av.VideoFrame) or frame.pts is None or frame.time_base is None:
            return 0
        if Fraction(frame.time_base) != s.time_base:
            return 0  # not the source's clock: a frame made from an array, or resampled
        index = frame_index_for_pts(frame.pts, s.start_pts, s.time_base, s.fps)
        return min(max(index, 0), max(s.frame_count - 1, 0))

    def _timecode_of(self, first_frame: int) -> str:
        try:
            return source_timecode_at(first_frame, self.source.fps, self.source.start_timecode)
        except UsageError:
            # A source label that cannot exist at its own rate (a broken tmcd track): clip-relative.
            return source_timecode_at(first_frame, self.source.fps)

    def _set_timecode(self, label: str) -> None:
        """Must happen before the first packet is muxed: the container header carries it."""
        assert self._container is not None
        self._container.metadata["timecode"] = label
        self.start_timecode = label

    def _write_audio_until(self, end: int) -> None:
        assert self.audio is not None and self._audio_stream is not None and self._container is not None
        end = min(end, self.audio.num_samples)
        start = self._audio_written
        if end <= start:
            return
        chunk = self.audio.read(start, end)
        stream = self._audio_stream
        if stream.codec_context.name == "pcm_s24le":
            # 24-bit PCM travels as s32 with the low byte zero; round and clip ourselves so the
            # stored samples are a deterministic function of the float input.
            ints = (
                np.clip(np.round(chunk.astype(np.float64) * 8388608.0), -8388608, 8388607).astype(np.int32)
                << 8
            )
            aframe = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(ints.T).reshape(1, -1), format="s32", layout=self._audio_layout
            )
        else:
            aframe = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk, dtype=np.float32), format="fltp", layout=self._audio_layout
            )
        aframe.sample_rate = self.audio.rate
        aframe.pts = start
        aframe.time_base = Fraction(1, self.audio.rate)
        self._mux(lambda: stream.encode(aframe), f"the audio up to sample {end}")
        self._audio_written = end

    def _mux(self, encode: Callable[[], list[av.Packet]], what: str) -> None:
        """Encode and mux; every failure (disk full, lost share, encoder error) is an OutputError."""
        assert self._container is not None
        try:
            self._container.mux(encode())
        except (av.error.FFmpegError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise OutputError(f"{self.path}: writing {what} failed: {_reason(exc)}") from exc
            raise OutputError(f"{self.path}: encoding {what} failed ({exc}); try another --codec") from exc

    # -- finishing -------------------------------------------------------------------------

    def close(self) -> None:
        """Flush the encoders, finalise the container and move it onto ``path``."""
        if self._closed:
            return
        if self.frames_written == 0:
            self.abort()
            raise OutputError(
                f"{self.path}: no frames were written, so nothing was saved; check the frame range"
            )
        with undo_on_failure(self.abort, lambda exc: f"{self.path}: cannot save the file ({_reason(exc)})"):
            try:
                assert self._container is not None
                self._mux(lambda: self._video.encode(None), "the last frames")
                if self.audio is not None and self._audio_stream is not None:
                    self._write_audio_until(self.audio.num_samples)
                    audio_stream = self._audio_stream
                    self._mux(lambda: audio_stream.encode(None), "the end of the audio")
                self._container.close()
                self._container = None
                if self.path.suffix.lower() == ".mkv" and self.source.sample_aspect != 1:
                    # Matroska's display size comes from a stream field PyAV cannot set: written here. H.264
                    # also says it in its own headers (VUI), which players read when the container does not.
                    self.aspect_kept = (write_display_aspect(self.temp_path, Fraction(self.source.sample_aspect))
                                        or self.preset.name == "h264")
                if self.path.suffix.lower() == ".mov" and self.preset.encoder == "dnxhd" and self.source.interlaced \
                        and not self.proxy:
                    # FFmpeg writes Avid's atoms for DNx in place of `fiel`: without it, FFmpeg-based editors read
                    # a 1080i DNxHD render as progressive, and a DNxHR render's woven fields as one picture.
                    self.fields_tagged = write_field_order(self.temp_path, self.source.field_order)
                if self._place_on_close:
                    self._file.commit()
                self._closed = True
            except av.error.FFmpegError as exc:
                raise OutputError(
                    f"{self.path}: finishing the file failed ({_reason(exc)}); check free disk space"
                ) from exc

    def __del__(self) -> None:
        # A writer dropped without close() must not leave a hidden partial file behind.
        if not getattr(self, "_closed", True):
            self.abort()

    def abort(self) -> None:
        """Stop writing and delete the temporary file; nothing is left at ``path``."""
        self._closed = True
        # getattr: a constructor that failed half-way (a bad option, an unopenable file) gets here
        # from __del__ before every attribute exists.
        container, self._container = getattr(self, "_container", None), None
        if container is not None:
            try:
                container.close()
            except (av.error.FFmpegError, OSError):
                pass  # the file is deleted next; a failing trailer does not matter
        file = getattr(self, "_file", None)
        if file is not None:
            file.discard()


def _reason(error: BaseException) -> str:
    """What went wrong, without repeating our own temporary file's name to the user."""
    if isinstance(error, OSError) and error.errno is not None:
        return describe_os_error(OSError(error.errno, error.strerror or str(error)))
    return str(error)


def _code(names: Mapping[int, str], name: str | None, unspecified: int) -> int:
    """Inverse of the probe's colour-name tables; unknown or None -> ffmpeg's 'unspecified'."""
    if name is None:
        return unspecified
    for code, value in names.items():
        if value == name:
            return int(code)
    return unspecified
