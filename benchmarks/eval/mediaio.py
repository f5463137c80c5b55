"""The suite's own media reading and writing, kept independent of `mytalk.core.media`.

A yardstick must not share the code it measures: if the product's reader were off by one frame,
a suite that decoded the source with the same reader would never notice. So this module decodes
with plain PyAV, numbering frames by the editor's rule (clip-relative indices on the
constant-rate grid: index = round((pts - first pts) · fps)), and it writes the reference tools'
outputs (`references.py`) and the speed protocol's transcode floor with plain PyAV too.

Audio is returned as mono float32 aligned to the first video frame: sample 0 is the instant
frame 0 is shown. A video whose audio starts later or earlier than its picture (an AAC priming
offset in an MP4 edit list, for instance) is padded or trimmed so the two share one clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import cast

import av
import av.error
import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

LINE_RATE = 48_000
"""Rate (Hz) of the replacement lines the suite writes: the post-production standard."""

ANALYSIS_RATE = 16_000
"""Rate (Hz) the suite analyses audio at: enough for the 1-4 kHz band of the AV-lag envelope."""


@dataclass(frozen=True)
class ClipInfo:
    """What the suite needs to know about a clip. `frame_count` is counted from the packets."""

    path: Path
    fps: Fraction
    frame_count: int
    width: int
    height: int
    pix_fmt: str
    has_audio: bool
    color: tuple[int, int, int, int] = (2, 0, 2, 2)
    """ffmpeg codes of (colorspace, color_range, color_primaries, color_trc); 2/0 = unspecified.

    Kept so the suite's own outputs carry the source's tags: a yuv → RGB conversion reads them,
    and an untagged BT.709 copy would convert differently and shift every landmark slightly."""

    @property
    def duration_s(self) -> float:
        return float(self.frame_count / self.fps)

    def seconds(self, frames: float) -> float:
        """Frames → seconds at this clip's rate."""
        return float(frames / self.fps)

    def frames(self, seconds: float) -> int:
        """Seconds → the nearest frame at this clip's rate."""
        return int(math.floor(Fraction(seconds) * self.fps + Fraction(1, 2)))


def probe_clip(path: Path) -> ClipInfo:
    """Rate, size, pixel format and exact frame count of a clip (demux only, no decoding).

    Raises `av.error.FFmpegError` (or `OSError`) when the file is not a video: the suite only
    probes its own inputs and the tool's outputs, where that is a finding, not a user error.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        fps = stream_fps(stream)
        time_base = Fraction(stream.time_base or Fraction(1, 90_000))
        has_audio = bool(container.streams.audio)
        ctx = stream.codec_context
        width, height, pix_fmt = ctx.width, ctx.height, ctx.pix_fmt or "unknown"
        color = (int(ctx.colorspace), int(ctx.color_range), int(ctx.color_primaries), int(ctx.color_trc))
        stamps = _packet_stamps(container, stream)
    if not stamps:
        return ClipInfo(Path(path), fps, 0, width, height, pix_fmt, has_audio, color)
    first = min(stamps)
    last_index = max(_grid_index(s, first, time_base, fps) for s in stamps)
    return ClipInfo(Path(path), fps, last_index + 1, width, height, pix_fmt, has_audio, color)


def stream_fps(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's average rate (Hz), falling back to the guessed rate, as MyTalk's probe does."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else Fraction(25)


def _packet_stamps(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> list[int]:
    """Presentation (else decode) timestamps of the stream's real packets, demux only."""
    stamps: list[int] = []
    for packet in container.demux(stream):
        if packet.size <= 0 or packet.is_discard:
            continue
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is not None:
            stamps.append(int(stamp))
    return stamps


def _grid_index(pts: int, first_pts: int, time_base: Fraction, fps: Fraction) -> int:
    return math.floor((pts - first_pts) * time_base * fps + Fraction(1, 2))


class _LateSeek(Exception):
    """A seek landed after the wanted frame; decode from the first packet instead."""


def iter_frames(
    path: Path, start: int = 0, stop: int | None = None, *, seek: bool = False
) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decoded frames [start, stop) as (index, frame), in the file's own pixel format.

    Frames are placed on the editor's constant-rate grid by timestamp, the rule MyTalk documents
    for every clip (`mytalk.core.media.probe`): index = floor((pts - first pts) · time_base · fps
    + 1/2); a gap repeats the latest earlier frame; when two frames land on one index the later
    one wins. Variable-rate phone footage (the shared 22.13 fps clip is a 30 fps stream with
    dropped frames) depends on that rule, so the suite implements it itself rather than trusting
    the product's reader.

    By default decodes from the first packet: slower, but it cannot land on the wrong frame, which
    is what a measurement needs. `seek=True` jumps to the keyframe before `start` first (what any
    editing tool does; the speed protocol's transcode floor uses it), falling back to the first
    packet when the seek lands too late.
    """
    if start < 0:
        raise ValueError(f"{path}: frame {start} is before the first frame (0)")
    if seek and start > 0:
        frames = _iter_frames(path, start, stop, seek=True)
        try:
            first = next(frames, None)
        except _LateSeek:
            first = None
        if first is not None:
            yield first
            yield from frames
            return
    yield from _iter_frames(path, start, stop, seek=False)


def first_pts(path: Path) -> int:
    """Smallest presentation timestamp among the video packets (demuxer-discarded ones excluded)."""
    with av.open(str(path)) as container:
        stamps = _packet_stamps(container, container.streams.video[0])
    return min(stamps) if stamps else 0


def _iter_frames(path: Path, start: int, stop: int | None, *, seek: bool) -> Iterator[tuple[int, av.VideoFrame]]:
    origin = first_pts(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = stream_fps(stream)
        time_base = Fraction(stream.time_base or Fraction(1, 90_000))
        if seek:
            container.seek(origin + int(Fraction(start) / fps / time_base), stream=stream, backward=True)
        want = start
        held: av.VideoFrame | None = None
        held_index = -1
        for frame in container.decode(stream):
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                continue
            index = _grid_index(pts, origin, time_base, fps)
            if index < 0 or index < held_index:
                continue  # pre-roll before the first frame, or a stray out-of-order timestamp
            if held is not None and index > want:
                if held_index > want:
                    raise _LateSeek(f"{path}: decoding started at frame {held_index}, after {want}")
                while want < index:
                    if stop is not None and want >= stop:
                        return
                    yield want, held
                    want += 1
            held, held_index = frame, index
        if seek and held is not None and held_index > want:
            raise _LateSeek(f"{path}: decoding started at frame {held_index}, after {want}")
        while held is not None and want <= held_index and (stop is None or want < stop):
            yield want, held
            want += 1


def count_frames(path: Path) -> int:
    """Frames a file actually decodes to (the robust protocol's exact count)."""
    return sum(1 for _ in iter_frames(path))


def frame_planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """The frame's planes as 2-D sample arrays in its own pixel format: no conversion at all.

    Each plane is (plane height, plane width): uint8 for 8-bit formats, uint16 for 9-16-bit
    ones (little-endian, as ffmpeg's native formats are). Line padding is cut off.
    """
    bits = max(c.bits for c in frame.format.components)
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    planes = []
    for plane in frame.planes:
        row = plane.line_size // dtype.itemsize
        data = np.frombuffer(memoryview(plane), dtype=dtype).reshape(-1, row)
        planes.append(data[: plane.height, : plane.width])
    return planes


def bit_depth(frame: av.VideoFrame) -> int:
    """Bits per sample of the frame's format (8, 10, 12, 16)."""
    return max(c.bits for c in frame.format.components)


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB, for trackers and contact sheets only (never for pixel comparisons)."""
    return frame.to_ndarray(format="rgb24")


def to_gray(frame: av.VideoFrame) -> np.ndarray:
    """(H, W) float32 luma on an 8-bit scale (0-255), straight from the Y plane when there is one."""
    name = frame.format.name
    if name.startswith(("yuv", "yuvj", "nv", "gray")):
        luma = frame_planes(frame)[0].astype(np.float32)
        bits = bit_depth(frame)
        return luma / (1 << (bits - 8)) if bits > 8 else luma
    rgb = to_rgb(frame).astype(np.float32)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def decode_audio_mono(path: Path, rate: int = ANALYSIS_RATE) -> np.ndarray | None:
    """A file's first audio stream as mono float32 at `rate` Hz.

    In a video, sample 0 is aligned to the first video frame's instant; an audio-only file starts
    at its first decoded sample (ffmpeg has already dropped MP3/AAC encoder delay).
    Returns None when the file has no audio stream, and an empty array when it has no samples.
    Resampling is zero-phase (`resample_poly` compensates its delay), so no lag is introduced.
    """
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        astream = container.streams.audio[0]
        video_start: float | None = None
        if container.streams.video:
            vstream = container.streams.video[0]
            if vstream.start_time is not None and vstream.time_base is not None:
                video_start = float(vstream.start_time * vstream.time_base)
        chunks: list[np.ndarray] = []
        native = int(astream.codec_context.sample_rate or rate)
        first_time: float | None = None
        for frame in container.decode(astream):
            if first_time is None and frame.pts is not None and frame.time_base is not None:
                first_time = float(frame.pts * frame.time_base)
            native = frame.sample_rate or native
            raw = frame.to_ndarray()
            data = raw.astype(np.float32)
            if frame.format.is_planar:
                mono = data.mean(axis=0)
            else:
                mono = data.reshape(-1, frame.layout.nb_channels).mean(axis=1)
            if raw.dtype.kind == "u":  # 8-bit PCM is offset binary
                mono = (mono - 128.0) / 127.0
            elif raw.dtype.kind == "i":
                mono /= float(2 ** (8 * raw.dtype.itemsize - 1) - 1)
            chunks.append(mono)
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if native != rate and samples.size:
        divisor = math.gcd(native, rate)
        samples = resample_poly(samples, rate // divisor, native // divisor).astype(np.float32)
    # Put sample 0 at the first picture's instant: pad when the sound starts later, trim when earlier.
    offset = 0 if video_start is None else round(((first_time or 0.0) - video_start) * rate)
    if offset > 0:
        samples = np.concatenate([np.zeros(offset, np.float32), samples])
    elif offset < 0:
        samples = samples[-offset:]
    return samples.astype(np.float32)


def frame_bounds(num_frames: int, fps: Fraction, rate: int) -> np.ndarray:
    """Sample index where each frame starts, plus the end: (num_frames + 1,) int64, exact for any rate."""
    return np.array([(t * rate * fps.denominator) // fps.numerator for t in range(num_frames + 1)], dtype=np.int64)


def audio_segment(samples: np.ndarray, rate: int, start_s: float, num_samples: int) -> np.ndarray:
    """`num_samples` samples from time `start_s` (may be negative), zero-padded outside the track."""
    first = round(start_s * rate)
    out = np.zeros(num_samples, np.float32)
    lo, hi = max(first, 0), min(first + num_samples, samples.size)
    if hi > lo:
        out[lo - first : hi - first] = samples[lo:hi]
    return out


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Mono 16-bit PCM WAV: the format every editor and every tool reads."""
    pcm = np.clip(np.round(np.asarray(samples, np.float64) * 32767.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(str(path), rate, pcm)


def read_wav(path: Path, rate: int) -> np.ndarray:
    """A WAV (or any audio file) as mono float32 at `rate`; empty when it has no samples."""
    samples = decode_audio_mono(path, rate)
    return np.zeros(0, np.float32) if samples is None else samples


_ENCODERS = {"ffv1": "ffv1", "h264": "libx264", "prores": "prores_ks"}
_FFV1_OPTIONS = {"level": "3", "g": "1", "slicecrc": "1"}


class SimpleWriter:
    """Writes frames in their own pixel format plus a mono audio line, interleaved, with plain PyAV.

    Used only by the suite's reference tools and the speed protocol's transcode floor. The audio
    is pcm_s16le in Matroska and AAC in MP4, cut per frame so the muxer never buffers much.
    """

    def __init__(
        self,
        path: Path,
        *,
        codec: str,
        fps: Fraction,
        width: int,
        height: int,
        pix_fmt: str,
        audio: np.ndarray | None = None,
        audio_rate: int = LINE_RATE,
        color: tuple[int, int, int, int] | None = None,
    ) -> None:
        if codec not in _ENCODERS:
            raise ValueError(f"codec {codec!r}: the suite's writer knows {', '.join(_ENCODERS)}")
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.audio = audio
        self.audio_rate = audio_rate
        self.frames_written = 0
        self._audio_written = 0
        self._container = av.open(str(self.path), mode="w")
        options = _FFV1_OPTIONS if codec == "ffv1" else {}
        stream = cast(av.video.stream.VideoStream, self._container.add_stream(_ENCODERS[codec], rate=self.fps, options=options))
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt if codec != "prores" else "yuv422p10le"
        stream.codec_context.time_base = Fraction(fps.denominator, fps.numerator)
        stream.time_base = Fraction(fps.denominator, fps.numerator)
        stream.thread_type = "AUTO"
        if color is not None:
            ctx = stream.codec_context
            ctx.colorspace, ctx.color_range, ctx.color_primaries, ctx.color_trc = color
        self._video = stream
        self._audio_stream: av.audio.stream.AudioStream | None = None
        if audio is not None:
            encoder = "aac" if self.path.suffix.lower() == ".mp4" else "pcm_s16le"
            astream = cast(av.audio.stream.AudioStream, self._container.add_stream(encoder, rate=audio_rate, layout="mono"))
            astream.time_base = Fraction(1, audio_rate)
            self._audio_stream = astream
            self._resampler = av.AudioResampler(
                format=astream.codec_context.format.name, layout="mono", rate=audio_rate
            )

    def __enter__(self) -> SimpleWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._container.close()
            self.path.unlink(missing_ok=True)

    def write(self, frame: av.VideoFrame) -> None:
        """Encode one frame as the next output frame; its audio slice goes in right after it."""
        out = frame.reformat(format=self._video.pix_fmt) if frame.format.name != self._video.pix_fmt else frame
        out.pts = self.frames_written
        out.time_base = self._video.codec_context.time_base
        for packet in self._video.encode(out):
            self._container.mux(packet)
        self.frames_written += 1
        self._write_audio_until(self.frames_written)

    def _write_audio_until(self, frames: int) -> None:
        if self.audio is None or self._audio_stream is None:
            return
        end = min(self.audio.size, (frames * self.audio_rate * self.fps.denominator) // self.fps.numerator)
        if end <= self._audio_written:
            return
        chunk = self.audio[self._audio_written : end]
        pcm = np.clip(np.round(chunk * 32767.0), -32768, 32767).astype(np.int16)[None, :]
        aframe = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        aframe.sample_rate = self.audio_rate
        aframe.pts = self._audio_written
        aframe.time_base = Fraction(1, self.audio_rate)
        for converted in self._resampler.resample(aframe):
            for packet in self._audio_stream.encode(converted):
                self._container.mux(packet)
        self._audio_written = end

    def close(self) -> None:
        """Flush the encoders and finish the file."""
        for packet in self._video.encode(None):
            self._container.mux(packet)
        if self._audio_stream is not None:
            if self.audio is not None and self._audio_written < self.audio.size:
                self._write_audio_until(10**12)
            for converted in self._resampler.resample(None):
                for packet in self._audio_stream.encode(converted):
                    self._container.mux(packet)
            for packet in self._audio_stream.encode(None):
                self._container.mux(packet)
        self._container.close()


def audio_sample_count(path: Path) -> tuple[int, int] | None:
    """(samples per channel, rate) of a file's first audio stream, or None without audio."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            total, rate = 0, int(stream.codec_context.sample_rate or 0)
            for frame in container.decode(stream):
                total += frame.samples
                rate = frame.sample_rate or rate
            return total, rate
    except av.error.FFmpegError:
        return None
