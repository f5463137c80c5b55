"""Small synthetic clips whose frames carry their own index, for frame-accuracy tests.

Each frame shows its source frame number as 8 bits in 16x16 px black/white blocks along the top
row, with the complement of those bits in the row below as a check, over a moving texture so that
inter-frame codecs really predict. Blocks of 16 px survive lossy 4:2:0 compression; `read_stamp`
samples only their centres and refuses a stamp whose check row does not match.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

BLOCK = 16
BITS = 8
DEFAULT_SIZE = (128, 96)  # width, height in px: 8 blocks wide, room for texture below the stamp


def stamp_rgb(index: int, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1]) -> np.ndarray:
    """(H, W, 3) uint8 RGB picture stamped with ``index`` (0..255)."""
    if width < BITS * BLOCK or height < 2 * BLOCK:
        raise ValueError(f"frames must be at least {BITS * BLOCK}x{2 * BLOCK} px to carry a stamp")
    y, x = np.mgrid[0:height, 0:width]
    texture = (96 + 40 * np.sin((x + 3 * index) / 7.0) * np.cos((y - 2 * index) / 9.0)).astype(np.uint8)
    img = np.stack([texture, np.roll(texture, index, axis=1), texture[::-1]], axis=2)
    for bit in range(BITS):
        on = (index >> bit) & 1
        x0 = bit * BLOCK
        img[0:BLOCK, x0 : x0 + BLOCK] = 255 if on else 0
        img[BLOCK : 2 * BLOCK, x0 : x0 + BLOCK] = 0 if on else 255
    return img


def read_stamp(picture: av.VideoFrame | np.ndarray) -> int:
    """The index stamped into a decoded frame (any pix_fmt) or an RGB/gray array."""
    if isinstance(picture, av.VideoFrame):
        gray = picture.to_ndarray(format="gray").astype(np.float32)
    else:
        gray = picture.astype(np.float32)
        if gray.ndim == 3:
            gray = gray.mean(axis=2)
    value = 0
    for bit in range(BITS):
        x0 = bit * BLOCK + 4
        top = gray[4 : BLOCK - 4, x0 : x0 + 8].mean() > 128
        check = gray[BLOCK + 4 : 2 * BLOCK - 4, x0 : x0 + 8].mean() > 128
        if top == check:
            raise ValueError(f"unreadable stamp: bit {bit} and its check block agree")
        value |= int(top) << bit
    return value


def plane_arrays(frame: av.VideoFrame) -> list[np.ndarray]:
    """Each plane of a planar frame as a 2-D array of its samples (uint8 or uint16), padding removed."""
    wide = _bytes_per_sample(frame)
    out = []
    for plane in frame.planes:
        raw = np.frombuffer(bytes(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
        row = raw[:, : plane.width * wide].copy()
        out.append(row.view("<u2") if wide == 2 else row)
    return out


def _bytes_per_sample(frame: av.VideoFrame) -> int:
    return 2 if max(c.bits for c in frame.format.components) > 8 else 1


def _yuv10(index: int, width: int, height: int) -> av.VideoFrame:
    """A yuv422p10le frame with true 10-bit detail (luma values that are not multiples of 4)."""
    rgb = stamp_rgb(index, width, height)
    y8 = rgb.mean(axis=2)
    luma = np.clip(64 + y8 * (876 / 255), 64, 940).astype(np.uint16)
    luma[2 * BLOCK :] += np.uint16(1) + (np.arange(width, dtype=np.uint16) % 3)  # sub-8-bit ramps
    chroma = np.full((height, width), 512, np.uint16) + (np.arange(width, dtype=np.uint16) % 5)
    return av.VideoFrame.from_ndarray(np.stack([luma, chroma, chroma[::-1]]), format="yuv422p10le")


def write_clip(
    path: Path,
    *,
    codec: str,
    pix_fmt: str = "yuv420p",
    num_frames: int = 72,
    fps: Fraction = Fraction(24000, 1001),
    size: tuple[int, int] = DEFAULT_SIZE,
    options: dict[str, str] | None = None,
    gop: int = 12,
    max_b_frames: int | None = None,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    colour_tags: bool = False,
    rotation: int = 0,
    timecode: str | None = None,
    ten_bit_content: bool = False,
    bit_rate: int | None = None,
    field_order: int | None = None,
) -> Path:
    """Encode ``num_frames`` stamped frames; ``pts`` (in ``time_base``, default 1/fps) makes VFR.
    ``field_order``: FFmpeg's AVFieldOrder for the stream's tag (2 top field first, 3 bottom)."""
    width, height = size
    with av.open(str(path), mode="w") as container:
        if timecode:
            container.metadata["timecode"] = timecode
        stream = cast(
            av.video.stream.VideoStream, container.add_stream(codec, rate=fps, options=options or {})
        )
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        ctx = stream.codec_context
        tb = time_base or Fraction(fps.denominator, fps.numerator)
        ctx.time_base = tb
        ctx.gop_size = gop
        if max_b_frames is not None:
            ctx.max_b_frames = max_b_frames
        if bit_rate:
            ctx.bit_rate = bit_rate
        if colour_tags:  # bt709 limited range, the usual HD tagging
            ctx.color_range, ctx.colorspace, ctx.color_primaries, ctx.color_trc = 1, 1, 1, 1
        if rotation:
            stream.set_display_rotation(rotation)
        if field_order is not None:
            ctx.field_order = field_order
        for i in range(num_frames):
            if ten_bit_content:
                frame = _yuv10(i, width, height)
            else:
                frame = av.VideoFrame.from_ndarray(stamp_rgb(i, width, height), format="rgb24")
            frame = frame.reformat(format=pix_fmt, dst_colorspace=1, dst_color_range=1)
            if colour_tags:
                frame.color_range, frame.colorspace, frame.color_primaries, frame.color_trc = 1, 1, 1, 1
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


_X264 = "keyint=12:min-keyint=12:scenecut=0:bframes=3:b-adapt=0:b-pyramid=normal"


def make_h264(path: Path, **kw: object) -> Path:
    """libx264 with 3 B-frames (pyramid) and a keyframe every 12 frames."""
    options = {"preset": "veryfast", "x264-params": _X264, "crf": "16"}
    return write_clip(path, codec="libx264", options=options, **kw)  # type: ignore[arg-type]


def make_interlaced_h264(path: Path, *, top_first: bool = True, **kw: object) -> Path:
    """libx264 coding fields (PAFF/MBAFF), as 1080i cameras and broadcast encoders write, tagged top or
    bottom field first."""
    params = f"keyint=12:min-keyint=12:scenecut=0:interlaced=1:{'tff' if top_first else 'bff'}=1"
    options = {"preset": "veryfast", "x264-params": params, "crf": "16", "flags": "+ildct+ilme"}
    return write_clip(path, codec="libx264", options=options, field_order=2 if top_first else 3,  # type: ignore[arg-type]
                      **kw)


def make_hevc(path: Path, **kw: object) -> Path:
    """libx265 with B-frames and x265's default open GOPs (CRA keyframes with leading pictures)."""
    params = "keyint=12:min-keyint=12:scenecut=0:bframes=3:b-adapt=0:log-level=error"
    options = {"preset": "ultrafast", "x265-params": params, "crf": "18"}
    return write_clip(path, codec="libx265", options=options, **kw)  # type: ignore[arg-type]


def make_mpeg4(path: Path, **kw: object) -> Path:
    """MPEG-4 part 2 with 2 B-frames between references."""
    kw.setdefault("bit_rate", 2_000_000)
    return write_clip(path, codec="mpeg4", max_b_frames=2, **kw)  # type: ignore[arg-type]


def make_mpeg2(path: Path, **kw: object) -> Path:
    """MPEG-2 video with 2 B-frames between references, as HDV and XDCAM cameras and broadcast write it: in a
    transport stream (`.ts`) or a program stream (`.mpg`) by the path's suffix."""
    kw.setdefault("bit_rate", 4_000_000)
    return write_clip(path, codec="mpeg2video", max_b_frames=2, **kw)  # type: ignore[arg-type]


def make_prores(path: Path, **kw: object) -> Path:
    """ProRes 422 HQ (prores_ks profile 3), 10-bit yuv422p10le, in .mov."""
    return write_clip(path, codec="prores_ks", pix_fmt="yuv422p10le", options={"profile": "3"}, **kw)  # type: ignore[arg-type]


def make_prores_10bit(path: Path, **kw: object) -> Path:
    """ProRes 422 HQ whose pictures use the full 10-bit precision (an 8-bit path would lose it)."""
    return make_prores(path, ten_bit_content=True, **kw)


def make_ffv1(path: Path, **kw: object) -> Path:
    """FFV1 (lossless) in .mkv with a keyframe every 12 frames."""
    return write_clip(path, codec="ffv1", **kw)  # type: ignore[arg-type]


VFR_STEPS = (1, 1, 2, 1, 1, 1, 2, 1, 3, 1, 1, 1)  # ticks each frame is held; 2 and 3 are drops


def vfr_pts(num_frames: int) -> list[int]:
    """Irregular presentation times in ticks: some frames held for 2 or 3 ticks."""
    pts, t = [], 0
    for i in range(num_frames):
        pts.append(t)
        t += VFR_STEPS[i % len(VFR_STEPS)]
    return pts


def make_vfr(
    path: Path, *, num_frames: int = 60, tick_rate: Fraction = Fraction(25), **kw: object
) -> tuple[Path, list[int]]:
    """Variable-frame-rate H.264 (B-frames) or FFV1 (for .mkv); returns the path and the pts written."""
    pts = vfr_pts(num_frames)
    tb = 1 / Fraction(tick_rate)
    if path.suffix == ".mkv":
        make_ffv1(path, num_frames=num_frames, fps=Fraction(tick_rate), pts=pts, time_base=tb, **kw)
    else:
        make_h264(path, num_frames=num_frames, fps=Fraction(tick_rate), pts=pts, time_base=tb, **kw)
    return path, pts


def make_click_wav(
    path: Path,
    *,
    rate: int,
    num_samples: int,
    clicks: Sequence[int],
    channels: int = 1,
    amplitude: float = 0.9,
) -> Path:
    """16-bit WAV of silence with a single-sample impulse at each sample position in ``clicks``."""
    data = np.zeros((num_samples, channels), dtype=np.int16)
    for position in clicks:
        data[position, :] = int(amplitude * 32767)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono" if channels == 1 else "stereo")
        for start in range(0, num_samples, 4096):
            chunk = np.ascontiguousarray(data[start : start + 4096]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=stream.layout.name)
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_silent_wav(path: Path, *, rate: int = 16000) -> Path:
    """A valid 16-bit mono WAV header with zero samples."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"")
    return path


def as_m2ts(source: Path, target: Path) -> Path:
    """`source`'s picture (512 x 512) as an AVCHD camera's `.m2ts` holds it: H.264 with B-frames in a transport
    stream of 192-byte packets, which has no index of its keyframes."""
    with av.open(str(source)) as original, av.open(str(target), "w", format="mpegts",
                                                   options={"mpegts_m2ts_mode": "1"}) as copy:
        video = copy.add_stream("libx264", rate=25, options={"bf": "3"})
        video.width, video.height, video.pix_fmt = 512, 512, "yuv420p"
        for index, frame in enumerate(original.decode(video=0)):
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
            picture.pts = index
            copy.mux(video.encode(picture))
        copy.mux(video.encode(None))
    return target
