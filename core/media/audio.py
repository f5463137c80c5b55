"""Replacement-line audio: decode to float32 at a chosen rate, and place it on a frame range.

Timing is kept exact end to end: decoding keeps every sample the decoder emits (ffmpeg already
drops MP3/AAC encoder delay), resampling is zero-phase (`scipy.signal.resample_poly` compensates
its filter delay), and `place_line` does all frame/sample arithmetic with Fractions, so 23.976 and
29.97 fps ranges get exactly round(frames * rate / fps) samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd
from pathlib import Path
from typing import Protocol, cast

import av
import av.error
import numpy as np

from mytalk.core.errors import AudioError, MediaFormatError, UsageError
from mytalk.core.media.channel_pick import MIXED_ABOVE
from mytalk.core.media.cut_short import stream_cut_short
from mytalk.core.media.probe import open_input
from mytalk.core.media.resample import resample_poly, resample_read, resampler_reach
from mytalk.core.media.sound_stream import clip_sound_stream


@dataclass(frozen=True, eq=False)
class AudioTrack:
    """Float32 audio, full scale = 1.0: ``samples`` has shape (channels, n), ``rate`` is in Hz.

    Values are not clipped: resampling a clipped recording can overshoot 1.0 slightly between
    the original samples, and the writer clips only when it converts to integer PCM.
    """

    samples: np.ndarray
    rate: int
    _mono: dict[int, AudioTrack] = field(default_factory=dict, init=False, repr=False)
    """`mono_at`'s answers by rate: a job's analyses (voice activity, envelope, phones, closures) all ask
    for the line at 16 kHz mono, and a ten-minute line takes seconds to resample."""

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[np.newaxis, :]
        if samples.ndim != 2 or samples.shape[0] < 1:
            raise ValueError(f"audio samples must have shape (channels, n), got {samples.shape}")
        if int(self.rate) <= 0:
            raise ValueError(f"audio rate must be a positive number of Hz, got {self.rate}")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "rate", int(self.rate))

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        """Length in samples (per channel)."""
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.rate

    def read(self, lo: int, hi: int) -> np.ndarray:
        """(channels, hi - lo) float32 samples [lo, hi), zeros outside the track (`AudioSource`)."""
        out = np.zeros((self.channels, max(0, hi - lo)), np.float32)
        a, b = max(lo, 0), min(hi, self.num_samples)
        if b > a:
            out[:, a - lo : b - lo] = self.samples[:, a:b]
        return out

    def mono(self) -> AudioTrack:
        """Average of all channels, shape (1, n)."""
        if self.channels == 1:
            return self
        return AudioTrack(mono_mix(self.samples)[None], self.rate)

    def mono_at(self, rate: int) -> AudioTrack:
        """`mono().resampled(rate)`, value for value, without the mix at the native rate: each block of
        the resampler mixes only the input it reads, so a long stereo line is never mixed down whole
        (the mix in float64 is twice the line's own size). Made once per rate (the samples are never
        changed in place: every reader treats them as read-only)."""
        known = self._mono.get(rate)
        if known is not None:
            return known
        if self.channels == 1:
            if rate == self.rate:
                return self  # not remembered: the track would hold itself
            made = self.resampled(rate)
        else:
            samples = self.samples
            made = mono_mix_at(lambda lo, hi: samples[:, lo:hi], self.num_samples, self.rate, rate)
        made.samples.flags.writeable = False  # shared by every analysis of the job: none may change it
        return self._mono.setdefault(rate, made)

    def forget_mixes(self) -> None:
        """Let go of the mixes `mono_at` remembers (see `mytalk.core.jobs.sync`: once the motion is planned)."""
        self._mono.clear()

    def resampled(self, rate: int) -> AudioTrack:
        """The same sound at `rate` Hz, every channel; zero-phase, so sample 0 keeps its time."""
        if rate == self.rate:
            return self
        return AudioTrack(resample_samples(self.samples, self.rate, rate), rate)


def mono_mix(samples: np.ndarray) -> np.ndarray:
    """(n,) float32 average of (channels, n) samples, summed in float64: every mono mix of a line is this one."""
    return samples.mean(axis=0, dtype=np.float64).astype(np.float32)


def mono_mix_at(read: Callable[[int, int], np.ndarray], num_samples: int, native_rate: int, rate: int) -> AudioTrack:
    """The mono mix (`mono_mix`) of a sound of `num_samples` at `native_rate`, read by `read(lo, hi)` as (channels,
    n) samples, resampled to `rate` a block at a time: each block of the resampler mixes only the input it
    reads (`AudioTrack.mono_at`, `SpooledAudio.mono_at`)."""
    divisor = gcd(native_rate, rate)
    mixed = resample_read(lambda lo, hi: mono_mix(read(lo, hi)), num_samples, rate // divisor, native_rate // divisor,
                          np.float32)
    return AudioTrack(mixed[None], rate)


class AudioSource(Protocol):
    """What a job asks of its replacement line, whether in memory (`AudioTrack`) or in a file
    (`mytalk.core.media.audio_spool.SpooledAudio`): its size, windows of samples, and mono mixes."""

    @property
    def rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def num_samples(self) -> int: ...

    @property
    def duration_s(self) -> float: ...

    def read(self, lo: int, hi: int) -> np.ndarray:
        """(channels, hi - lo) float32 samples [lo, hi), zeros outside the line."""
        ...

    def mono(self) -> AudioTrack: ...

    def mono_at(self, rate: int) -> AudioTrack: ...

    def forget_mixes(self) -> None:
        """Let go of the mono mixes `mono_at` remembers; a later call makes them again."""
        ...


SWEEP_SAMPLES = 1 << 18
"""Samples a channel read at once by `sweep` (5.5 s at 48 kHz)."""


def sweep(source: AudioSource, size: int = SWEEP_SAMPLES) -> Iterator[np.ndarray]:
    """The whole of `source` in order, (channels, <= size) float32 blocks: a line is looked over
    (is it silent, how loud is it at most, what is its hash) without holding it whole."""
    for lo in range(0, source.num_samples, size):
        yield source.read(lo, min(source.num_samples, lo + size))


def peak_level(source: AudioSource) -> float:
    """The largest absolute sample of `source` (0.0 when empty)."""
    return max((float(np.max(np.abs(block), initial=0.0)) for block in sweep(source)), default=0.0)


def resample_samples(samples: np.ndarray, native_rate: int, rate: int) -> np.ndarray:
    """(channels, n) float32 samples from `native_rate` to `rate` Hz by polyphase filtering.

    The resampler is zero-phase (`media.resample`): no delay is added, so a line placed on frame 0 stays there.
    """
    divisor = gcd(native_rate, rate)
    return resample_poly(samples, rate // divisor, native_rate // divisor, np.float32)


def _to_float_planar(frame: av.AudioFrame) -> np.ndarray:
    """(channels, n) float32 from any PCM sample format, scaled exactly like ffmpeg's converters."""
    channels = frame.layout.nb_channels
    data = frame.to_ndarray()
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T  # packed: (1, n*channels) interleaved
    name = frame.format.name.rstrip("p")
    if name == "u8":
        return (data.astype(np.float32) - 128.0) / 128.0
    if name == "s16":
        return data.astype(np.float32) / 32768.0
    if name == "s32":
        return (data.astype(np.float64) / 2147483648.0).astype(np.float32)
    if name == "s64":
        return (data.astype(np.float64) / 9223372036854775808.0).astype(np.float32)
    return data.astype(np.float32)


def _pick_stream(
    container: av.container.InputContainer, path: Path, stream_index: int | None
) -> av.audio.stream.AudioStream:
    if stream_index is None:
        if not container.streams.audio:
            raise MediaFormatError(f"{path}: has no audio stream; pick a file with sound")
        if len(container.streams.audio) == 1:
            return container.streams.audio[0]
        stream_index = clip_sound_stream(path).index  # several: the first that carries sound (`sound_stream`)
    if not 0 <= stream_index < len(container.streams) or container.streams[stream_index].type != "audio":
        available = ", ".join(str(s.index) for s in container.streams.audio) or "none"
        raise MediaFormatError(
            f"{path}: stream {stream_index} is not an audio stream (audio streams: {available}); pick one of those"
        )
    return cast(av.audio.stream.AudioStream, container.streams[stream_index])


def decode_audio(
    path: str | Path,
    rate: int,
    *,
    channels: int | None = 1,
    stream_index: int | None = None,
    rows: tuple[int, ...] | None = None,
) -> AudioTrack:
    """Decode an audio file, or a video's own audio, to float32 at ``rate`` Hz.

    ``channels=1`` averages all channels to mono; ``None`` keeps the source channels (more than two
    are downmixed to stereo by ffmpeg's standard matrix); ``2`` gives stereo (mono is duplicated).
    ``stream_index`` is the container's stream index; by default the file's own sound is used: its first
    audio stream that carries sound (`sound_stream.clip_sound_stream`; the first, unless it is silent).
    ``rows``: only these channels of the stream, in this order, before ``channels`` applies (the editor's
    pick, `channel_pick.ChannelPick.rows`); more than two are mixed to one, none downmixed by ffmpeg.
    Sample 0 is the first sample the decoder emits: the stream's start offset inside a video
    container is not applied here.

    Raises `MediaNotFoundError`, `MediaFormatError` (not audio, no audio stream) and `AudioError`
    (no samples).
    """
    path, rate = Path(path), _checked_request(rate, channels)
    native_rate, samples, _ = _decode_native(path, stream_index, rows=rows)
    samples = _with_channels(samples, channels)
    if native_rate != rate:
        samples = resample_samples(samples, native_rate, rate)
    return AudioTrack(np.ascontiguousarray(samples, dtype=np.float32), rate)


def _checked_request(rate: int, channels: int | None) -> int:
    """The rate as an int, once the rate and channel request are known to be valid."""
    rate = int(rate)
    if rate <= 0:
        raise UsageError(f"audio sample rate must be a positive number of Hz, got {rate}")
    if channels not in (None, 1, 2):
        raise UsageError(f"channels must be 1 (mono), 2 (stereo) or None (as the source), got {channels}")
    return rate


def decode_audio_span(
    path: str | Path,
    rate: int,
    first: int,
    count: int,
    *,
    channels: int | None = 1,
    stream_index: int | None = None,
    rows: tuple[int, ...] | None = None,
) -> AudioTrack:
    """Samples [first, first + count) of ``decode_audio(path, rate, channels=…, rows=…)``, zeros outside the
    sound: what `place_line` would cut from it, without holding the whole file.

    A job's line is often a slice of a long file (a dub stem, a whole take): decoding it whole at 48
    kHz cost 11.5 MB a minute of file whatever the range. The file is decoded from its start (so every
    kept sample is the one a whole decode gives) up to the span's end; only the span and the
    resampler's reach either side are kept, and the resampler starts on a sample of its own grid: the
    result is bit for bit `decode_audio`'s.
    """
    path, rate = Path(path), _checked_request(rate, channels)
    first, count = int(first), max(0, int(count))
    native_rate = probe_audio_rate(path, stream_index)
    up, down = _reduced(rate, native_rate)
    # Native samples [lo, hi) hold every input of output samples [first, first + count): the filter's
    # half-length in native samples either side, and lo on a multiple of `down` so that the output
    # grid of the kept part is the whole file's, shifted by a whole number of samples.
    reach = resampler_reach(up, down)
    lo = max(0, (first * down // up - reach) // down * down)
    hi = max(lo, (first + count) * down // up + reach + 1)
    kept_rate, kept, decoded = _decode_native(path, stream_index, keep=(lo, hi), rows=rows)
    if kept_rate != native_rate:
        # The stream changed rate mid-way (or the header lied): decode whole, as before.
        return place_samples(decode_audio(path, rate, channels=channels, stream_index=stream_index, rows=rows),
                             first, count)
    kept = _with_channels(kept, channels)
    out = np.zeros((kept.shape[0], count), np.float32)
    if kept.shape[1] == 0:
        return AudioTrack(out, rate)  # the span lies wholly outside the sound
    if native_rate != rate:
        kept = resample_samples(kept, native_rate, rate)
    shift = lo * up // down  # output index of the kept part's first sample
    # Samples of the file at `rate`, as far as it was decoded: where decoding stopped early (the file
    # goes on past hi), every wanted output lies before that end anyway.
    length = -(-decoded * up // down)
    dst0 = max(0, shift - first, -first)
    dst1 = min(count, length - first, shift + kept.shape[1] - first)
    if dst1 > dst0:
        out[:, dst0:dst1] = kept[:, first + dst0 - shift : first + dst1 - shift]
    return AudioTrack(out, rate)


def decode_placed(
    path: str | Path,
    rate: int,
    *,
    num_frames: int,
    fps: Fraction,
    line_offset_s: Fraction = Fraction(0),
    channels: int | None = 1,
    stream_index: int | None = None,
    rows: tuple[int, ...] | None = None,
) -> AudioTrack:
    """``place_line(decode_audio(path, rate, channels=…, stream_index=…, rows=…), …)``, bit for bit, holding only
    the placed part."""
    offset, length = placement(int(rate), num_frames=num_frames, fps=fps, line_offset_s=line_offset_s)
    return decode_audio_span(path, rate, offset, length, channels=channels, stream_index=stream_index, rows=rows)


def place_samples(track: AudioTrack, first: int, count: int) -> AudioTrack:
    """Samples [first, first + count) of `track`, zeros outside it."""
    out = np.zeros((track.channels, max(0, count)), np.float32)
    dst0, dst1 = max(0, -first), min(count, track.num_samples - first)
    if dst1 > dst0:
        out[:, dst0:dst1] = track.samples[:, first + dst0 : first + dst1]
    return AudioTrack(out, track.rate)


def _reduced(rate: int, native_rate: int) -> tuple[int, int]:
    divisor = gcd(rate, native_rate)
    return rate // divisor, native_rate // divisor


def probe_audio_rate(path: Path, stream_index: int | None = None) -> int:
    """The sample rate the chosen audio stream declares."""
    with open_input(path) as container:
        stream = _pick_stream(container, path, stream_index)
        return int(stream.codec_context.sample_rate or 0)


SEEK_AFTER_S = 10.0
"""A span starting further than this into a PCM stream is reached by seeking (`_PcmSeek`), not by decoding
everything before it."""


class _SeekMissed(Exception):
    """A seek into a PCM stream did not land where its timestamps said: decode from the start instead."""


class _PcmSeek:
    """Where a seek into an uncompressed stream landed, in samples of a decode from the start.

    Decoding from the start is the only way every sample of a compressed stream keeps its place (a decoder
    started mid-stream primes differently). An uncompressed (PCM) stream has no such state: each packet is its
    own samples, and its timestamp says where they go. Decoding a ten-minute clip's sound to learn from 20 s
    of it took 4.2 s. So, for PCM only, the first frame of the stream is decoded for the timestamp of sample 0,
    the demuxer seeks to just before the span, and every frame decoded from there must sit exactly where its
    timestamp and the frames before it say (`position_of`); the first that does not raises `_SeekMissed`, and
    the span is decoded from the start, as before."""

    def __init__(self, container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                 lo: int, native_rate: int) -> None:
        self.container, self.stream, self.native_rate = container, stream, native_rate
        self.samples_per_tick = Fraction(stream.time_base) * native_rate if stream.time_base else Fraction(0)
        target = (lo - native_rate) / self.samples_per_tick  # a second early: a packet may hold that much
        try:
            self.origin = self._first_pts()
            container.seek(max(0, int(self.origin + target)), stream=stream, backward=True)
        except av.error.FFmpegError:
            raise _SeekMissed from None  # not seekable (a pipe, a damaged index): decode from the start

    @classmethod
    def usable(cls, stream: av.audio.stream.AudioStream, lo: int, native_rate: int) -> bool:
        """A PCM stream with timestamps, and a span far enough in to be worth a seek."""
        name = stream.codec_context.name or ""
        return (name.startswith("pcm_") and stream.time_base is not None and native_rate > 0
                and lo > SEEK_AFTER_S * native_rate)

    def _first_pts(self) -> int:
        for frame in self.container.decode(self.stream):
            if frame.pts is None or frame.samples <= 0:
                raise _SeekMissed
            return int(frame.pts)
        raise _SeekMissed

    def position_of(self, frame: av.AudioFrame, expected: int | None) -> int:
        """The index of the frame's first sample in a decode from the start; raises `_SeekMissed` when its
        timestamp is not on a sample, or not where the frames before it end (`expected`)."""
        if frame.pts is None or not self.samples_per_tick:
            raise _SeekMissed
        at = (frame.pts - self.origin) * self.samples_per_tick
        if at.denominator != 1 or at < 0 or (expected is not None and at != expected):
            raise _SeekMissed
        return int(at)


def _decoded_until_cut(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                       path: Path) -> Iterator[av.AudioFrame]:
    """The stream's frames, decoded; in a copy cut short (`cut_short.stream_cut_short`) they end where its bytes
    do: the error on the first missing packet ends the sound instead of failing the job."""
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError:
        if not stream_cut_short(container, stream, Path(path)):
            raise


def _decode_native(path: Path, stream_index: int | None, keep: tuple[int, int] | None = None,
                   sink: Callable[[np.ndarray, int], None] | None = None, *, seek: bool = True,
                   rows: tuple[int, ...] | None = None) -> tuple[int, np.ndarray, int]:
    """(native rate, (channels, n) float32 samples, samples decoded) at the stream's own rate.

    keep: only native samples [lo, hi) are kept (those before are decoded and dropped, decoding stops
    at hi; in a PCM stream, a span far in is reached by a seek, `_PcmSeek`, with the same samples); None
    keeps all, and the count is then the file's length.
    sink: given, each kept piece goes to `sink(samples, index from lo)` as it is decoded instead of
    being gathered, and the samples returned are empty (`audio_spool` writes them to a file).
    rows: only these channels of each frame, in this order (more than `MIXED_ABOVE` mixed to one), where
    None keeps them all (more than two downmixed to stereo by ffmpeg's matrix).
    """
    try:
        return _decode_native_once(path, stream_index, keep, sink, seek, rows)
    except _SeekMissed:
        return _decode_native_once(path, stream_index, keep, sink, False, rows)


def _picked_rows(frame: av.AudioFrame, rows: tuple[int, ...], path: Path) -> np.ndarray:
    """The channels `rows` of a decoded frame; more than `MIXED_ABOVE` mixed to one, as the render carries them."""
    planar = _to_float_planar(frame)
    if max(rows) >= planar.shape[0]:
        raise MediaFormatError(f"{path}: its sound has {planar.shape[0]} channel(s) in places, not the "
                               f"{max(rows) + 1} the pick needs; re-export the channels wanted as their own file")
    picked = planar[list(rows)]
    return mono_mix(picked)[None] if len(rows) > MIXED_ABOVE else picked


def _decode_native_once(path: Path, stream_index: int | None, keep: tuple[int, int] | None,
                        sink: Callable[[np.ndarray, int], None] | None, seek: bool,
                        rows: tuple[int, ...] | None = None) -> tuple[int, np.ndarray, int]:
    """`_decode_native`, seeking into a PCM stream when `seek` (raises `_SeekMissed` when that fails)."""
    chunks: list[np.ndarray] = []
    native_rate = 0
    position = 0
    width = 0
    with open_input(path) as container:
        stream = _pick_stream(container, path, stream_index)
        native_rate = int(stream.codec_context.sample_rate or 0)
        seeker = (_PcmSeek(container, stream, keep[0], native_rate)
                  if seek and keep is not None and _PcmSeek.usable(stream, keep[0], native_rate) else None)
        # More than two channels: let swresample apply the standard downmix matrix (centre and
        # surrounds at -3 dB); it keeps the rate, so no timing changes.
        downmix: av.AudioResampler | None = None

        def add(chunk: np.ndarray) -> bool:
            """Keep what is wanted of the chunk; False once everything wanted is in hand."""
            nonlocal position, width
            n = chunk.shape[1]
            if n == 0:
                return True
            width = max(width, chunk.shape[0])
            if keep is None:
                if sink is not None:
                    sink(chunk, position)
                else:
                    chunks.append(chunk)
            else:
                lo, hi = max(keep[0], position), min(keep[1], position + n)
                if hi > lo and sink is not None:
                    sink(chunk[:, lo - position : hi - position], lo - keep[0])
                elif hi > lo:
                    chunks.append(chunk[:, lo - position : hi - position])
            position += n
            return keep is None or position < keep[1]

        try:
            wanted = True
            landed = False
            for frame in _decoded_until_cut(container, stream, path):
                if seeker is not None:
                    # Checked before anything of the frame is kept: a miss has handed nothing to `sink` that
                    # the decode from the start does not write again.
                    position = seeker.position_of(frame, position if landed else None)
                    if not landed and keep is not None and position > keep[0]:
                        raise _SeekMissed  # landed past the span's start
                    landed = True
                native_rate = frame.sample_rate or native_rate
                if rows:
                    wanted = add(_picked_rows(frame, rows, path))
                elif frame.layout.nb_channels > 2:
                    if downmix is None:
                        downmix = av.AudioResampler(format="fltp", layout="stereo", rate=native_rate)
                    for f in downmix.resample(frame):
                        wanted = add(_to_float_planar(f)) and wanted
                else:
                    wanted = add(_to_float_planar(frame))
                if not wanted:
                    break  # the span is complete: the rest of a long file is never decoded
            if downmix is not None and wanted:
                for f in downmix.resample(None):
                    add(_to_float_planar(f))
            if seeker is not None and not landed:
                raise _SeekMissed  # sought past the end: the decode from the start says where the sound ends
        except av.error.FFmpegError as exc:
            raise MediaFormatError(
                f"{path}: the audio could not be decoded ({exc}); re-export it as WAV"
            ) from exc
    if position == 0 or native_rate <= 0:
        raise AudioError(f"{path}: has no audio samples; pick a file with sound")
    # A channel-count change mid-stream is rare (broadcast captures); widen mono parts to match.
    samples = (np.concatenate(
        [np.broadcast_to(c, (width, c.shape[1])) if c.shape[0] != width else c for c in chunks], axis=1
    ) if chunks else np.zeros((width, 0), np.float32))
    return native_rate, samples, position


def _with_channels(samples: np.ndarray, channels: int | None) -> np.ndarray:
    if channels == 1 and samples.shape[0] > 1:
        return samples.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    if channels == 2 and samples.shape[0] == 1:
        return np.repeat(samples, 2, axis=0)
    return samples


def place_line(
    line: AudioTrack,
    *,
    num_frames: int,
    fps: Fraction,
    line_offset_s: Fraction = Fraction(0),
) -> AudioTrack:
    """Cut the line to exactly cover ``num_frames`` frames at ``fps``.

    Output sample ``n`` is the line's sample ``n + round(line_offset_s * rate)``, so the line's time
    ``line_offset_s`` (seconds) lands on the range's first frame; a negative offset starts the line
    later, after silence. The result has exactly ``round(num_frames * rate / fps)`` samples, padded
    with zeros or trimmed, and the line's rate and channels.
    """
    rate = line.rate
    offset, length = placement(rate, num_frames=num_frames, fps=fps, line_offset_s=line_offset_s)
    out = np.zeros((line.channels, length), dtype=np.float32)
    # Destination [dst0, dst1) receives source [dst0 + offset, dst1 + offset) clipped to the line.
    dst0 = max(0, -offset)
    dst1 = min(length, line.num_samples - offset)
    if dst1 > dst0:
        out[:, dst0:dst1] = line.samples[:, dst0 + offset : dst1 + offset]
    return AudioTrack(out, rate)


def placement(rate: int, *, num_frames: int, fps: Fraction, line_offset_s: Fraction) -> tuple[int, int]:
    """(first line sample, sample count) at `rate` of a line placed on `num_frames` frames at `fps`,
    its time `line_offset_s` on the range's first frame (`place_line`, `decode_placed`)."""
    if num_frames < 0:
        raise UsageError(f"the range must have 0 or more frames, got {num_frames}")
    fps = Fraction(fps)
    if fps <= 0:
        raise UsageError(f"fps must be positive, got {fps}")
    return round(Fraction(line_offset_s) * rate), round(Fraction(num_frames) * rate / fps)


def picture_start_in_audio_s(path: Path, stream_index: int | None = None) -> Fraction:
    """Where the first picture falls on the clip's audio clock (s): video start time - audio start time.

    Containers may start the picture later than the sound (33 ms in one shared clip, an edit list or
    AAC priming). `decode_audio` puts sample 0 at the first decoded sample, so frame n's sound is at
    n / fps + this offset; ignoring it makes the lips late by the offset everywhere. `stream_index`: the
    audio stream whose clock counts (default: the first audio stream).
    """
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audios = [s for s in container.streams.audio if stream_index is None or s.index == stream_index]
            audio = audios[0] if audios else None
            if video is None or audio is None:
                return Fraction(0)
            v0 = Fraction(video.start_time or 0) * Fraction(video.time_base or 0)
            a0 = Fraction(audio.start_time or 0) * Fraction(audio.time_base or 0)
            return v0 - a0
    except (OSError, av.error.FFmpegError):
        return Fraction(0)


def sound_seconds(path: Path, stream_index: int | None = None) -> float | None:
    """How long the audio stream (default: the file's own sound, as `decode_audio` reads it) says it lasts,
    or the container; None when neither."""
    with open_input(path) as container:
        if stream_index is None and len(container.streams.audio) > 1:
            stream_index = clip_sound_stream(path).index
        streams = [s for s in container.streams.audio if stream_index is None or s.index == stream_index]
        if streams and streams[0].duration is not None and streams[0].time_base is not None:
            return float(streams[0].duration * streams[0].time_base)
        if container.duration is not None:
            return container.duration / av.time_base
    return None
