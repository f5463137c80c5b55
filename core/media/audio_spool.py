"""A job's replacement line kept in a file instead of memory, decoded and resampled a block at a time.

The line is as long as the range: ten minutes of 48 kHz float32 is 110 MB a channel, and decoding it
whole held its native samples, their resampled copy and the placed copy at once (about three times
that). A job reads the line in order anyway: the analyses ask once for a 16 kHz mono mix
(`mono_at`), and the muxer takes it a frame's worth at a time. So `decode_placed_spooled` decodes the
file into an anonymous temporary file, resamples it from there block by block into a second one, and
`SpooledAudio.read` hands out windows with positioned reads (no memory map: the pages of a map stay
in the process's resident memory once touched). The samples are `decode_placed`'s, bit for bit.

The files are `frame_arrays.ScratchFrames`: they have no name, so they go away with the object or
the process, crash included.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from mytalk.core.frame_arrays import ScratchFrames
from mytalk.core.media.audio import (
    AudioTrack,
    _checked_request,
    _decode_native,
    _reduced,
    _with_channels,
    decode_audio,
    decode_audio_span,
    mono_mix,
    mono_mix_at,
    placement,
    probe_audio_rate,
    sound_seconds,
)
from mytalk.core.media.resample import resample_blocks, resampled_length, resampler_reach

READ_SAMPLES = 1 << 18
"""Samples per channel read at once when the line is swept (5.5 s at 48 kHz, 1 MB a channel)."""


class _SampleFile:
    """(channels, n) float32 samples kept as `ScratchFrames` rows (one row: a sample's channels).

    `count` is how far the samples go: a decode does not know its end, so it is the furthest sample
    written, or the length given. Reads outside [0, count) give zeros, as `AudioTrack.read` does.
    """

    def __init__(self, channels: int, capacity: int, folder: Path | None, count: int = 0) -> None:
        self.channels = int(channels)
        self._rows = ScratchFrames(capacity, (self.channels,), np.float32, folder=folder)
        self.count = int(count)

    def write(self, start: int, samples: np.ndarray) -> None:
        """Store (channels, k) samples as samples [start, start + k)."""
        self._rows.write(start, np.asarray(samples, np.float32).T)
        self.count = max(self.count, start + samples.shape[1])

    def read(self, lo: int, hi: int) -> np.ndarray:
        """(channels, hi - lo) float32 samples [lo, hi), zeros outside [0, count)."""
        out = np.zeros((self.channels, max(0, hi - lo)), np.float32)
        a, b = max(lo, 0), min(hi, self.count)
        if b > a:
            out[:, a - lo : b - lo] = self._rows.read(a, b).T
        return out

    def close(self) -> None:
        self._rows.close()


class SpooledAudio:
    """Float32 audio (full scale 1.0) of `channels` channels at `rate` Hz, held in a temporary file.

    It answers what a job asks of its line (`mytalk.core.media.audio.AudioSource`): its size, windows of
    samples, and its mono mix at an analysis rate, made once a block at a time and kept in memory.
    """

    def __init__(self, store: _SampleFile, rate: int) -> None:
        self._store = store
        self.rate = int(rate)
        self._mono: dict[int, AudioTrack] = {}

    @property
    def channels(self) -> int:
        return self._store.channels

    @property
    def num_samples(self) -> int:
        return self._store.count

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.rate

    def read(self, lo: int, hi: int) -> np.ndarray:
        """(channels, hi - lo) float32 samples [lo, hi); zeros outside the line."""
        return self._store.read(lo, hi)

    def mono(self) -> AudioTrack:
        """The mix of all channels at the line's own rate, in memory (`AudioTrack.mono`, value for value).

        Only the phone recogniser asks for it, when a line's phones are not cached yet."""
        mixed = np.empty((1, self.num_samples), np.float32)
        for lo in range(0, self.num_samples, READ_SAMPLES):
            block = self.read(lo, min(self.num_samples, lo + READ_SAMPLES))
            mixed[0, lo : lo + block.shape[1]] = mono_mix(block)
        return AudioTrack(mixed, self.rate)

    def mono_at(self, rate: int) -> AudioTrack:
        """`AudioTrack.mono_at`, value for value: the mono mix at `rate`, made once per rate a block at a time."""
        known = self._mono.get(rate)
        if known is not None:
            return known
        made = mono_mix_at(self.read, self.num_samples, self.rate, rate)
        made.samples.flags.writeable = False  # shared by every analysis of the job: none may change it
        return self._mono.setdefault(rate, made)

    def forget_mixes(self) -> None:
        """Let go of the mixes `mono_at` remembers: at 16 kHz, 38 MB for a ten-minute line, which the job
        needs while it plans the motion and not while it renders (`mytalk.core.jobs.sync`)."""
        self._mono.clear()

    def close(self) -> None:
        self._store.close()


class _Irregular(Exception):
    """The stream changed rate or channel count part-way: it is decoded whole instead (`decode_placed`)."""


def decode_placed_spooled(
    path: str | Path,
    rate: int,
    *,
    num_frames: int,
    fps: Fraction,
    line_offset_s: Fraction = Fraction(0),
    channels: int | None = None,
    folder: Path | None = None,
    stream_index: int | None = None,
    rows: tuple[int, ...] | None = None,
) -> SpooledAudio:
    """`decode_placed(path, rate, ...)`, bit for bit, spooled to a temporary file in `folder` (default:
    the system's): the memory is a few blocks, whatever the line's length.

    Raises what `decode_placed` raises (`MediaNotFoundError`, `MediaFormatError`, `AudioError`).
    """
    path, rate = Path(path), _checked_request(rate, channels)
    first, count = placement(rate, num_frames=num_frames, fps=fps, line_offset_s=line_offset_s)
    return _spooled_span(path, rate, first, max(0, int(count)), channels, folder, stream_index, rows)


def decode_spooled(path: str | Path, rate: int, count: int, *, channels: int | None = None,
                   folder: Path | None = None, stream_index: int | None = None,
                   rows: tuple[int, ...] | None = None) -> SpooledAudio:
    """``decode_audio(path, rate, channels=…, stream_index=…)``, bit for bit, up to `count` samples (give
    more than the sound holds to get all of it), spooled like `decode_placed_spooled`: a whole clip's
    sound without holding it (an hour of 48 kHz stereo decoded in memory peaked at over 4 GB). Raises as
    `decode_audio` does."""
    path, rate = Path(path), _checked_request(rate, channels)
    return _spooled_span(path, rate, 0, max(0, int(count)), channels, folder, stream_index, rows, to_sound=True)


def spool_sound(path: str | Path, rate: int, *, channels: int | None = 1, stream_index: int | None = None,
                folder: Path | None = None, rows: tuple[int, ...] | None = None) -> AudioTrack | SpooledAudio:
    """The whole sound of `path` as `decode_audio` gives it, spooled (`decode_spooled`, a second of slack
    past the length the container states); in memory when the file states no length."""
    seconds = sound_seconds(Path(path), stream_index)
    if seconds is None:
        return decode_audio(path, rate, channels=channels, stream_index=stream_index, rows=rows)
    return decode_spooled(path, rate, int((seconds + 1.0) * rate), channels=channels, stream_index=stream_index,
                          folder=folder, rows=rows)


def decode_sound(path: str | Path, rate: int, *, channels: int | None = 1, stream_index: int | None = None,
                 folder: Path | None = None, rows: tuple[int, ...] | None = None) -> AudioTrack:
    """``decode_audio(path, rate, …)``, bit for bit, in memory at `rate` only: the native samples go
    through a spool file, so a long file at a low rate (a waveform's 8 kHz) costs what its answer does."""
    sound = spool_sound(path, rate, channels=channels, stream_index=stream_index, folder=folder, rows=rows)
    if isinstance(sound, AudioTrack):
        return sound
    try:
        return AudioTrack(sound.read(0, sound.num_samples), sound.rate)
    finally:
        sound.close()


def _spooled_span(path: Path, rate: int, first: int, count: int, channels: int | None, folder: Path | None,
                  stream_index: int | None, rows: tuple[int, ...] | None = None, to_sound: bool = False) -> SpooledAudio:
    """Samples [first, first + count) of the file's sound at `rate`, as `decode_audio_span` gives them;
    `to_sound`: ending where the sound does when that is sooner (as `decode_audio` ends)."""
    native_rate = probe_audio_rate(path, stream_index)
    up, down = _reduced(rate, native_rate)
    # As `decode_audio_span`: native samples [lo, hi) hold every input of the wanted outputs, and lo
    # sits on the output grid, so the kept part resampled is the whole file's, shifted.
    reach = resampler_reach(up, down)
    lo = max(0, (first * down // up - reach) // down * down)
    hi = max(lo, (first + count) * down // up + reach + 1)
    stores: list[_SampleFile] = []

    def keep(chunk: np.ndarray, at: int) -> None:
        if not stores:
            stores.append(_SampleFile(chunk.shape[0] if channels is None else channels, hi - lo, folder))
        native = stores[0]
        if channels is None and chunk.shape[0] != native.channels:
            raise _Irregular
        if channels == 1 and chunk.shape[0] > 1:
            chunk = mono_mix(chunk)[None]
        elif chunk.shape[0] != native.channels:
            chunk = np.broadcast_to(chunk, (native.channels, chunk.shape[1]))
        native.write(at, chunk)

    try:
        kept_rate, empty, decoded = _decode_native(path, stream_index, keep=(lo, hi), sink=keep, rows=rows)
        width = _with_channels(empty, channels).shape[0]  # the channels of the file as decoded, as requested
        if kept_rate != native_rate or (stores and stores[0].channels != width):
            raise _Irregular
    except _Irregular:
        for store in stores:
            store.close()
        if to_sound:
            whole = decode_audio(path, rate, channels=channels, stream_index=stream_index, rows=rows)
            return _spooled(AudioTrack(whole.samples[:, first : first + count], rate), folder)
        return _spooled(decode_audio_span(path, rate, first, count, channels=channels, stream_index=stream_index,
                                          rows=rows), folder)
    out = _SampleFile(width, count, folder, count=count)  # silence until written
    if not stores:
        if to_sound:
            out.count = 0
        return SpooledAudio(out, rate)  # the span lies wholly outside the sound: silence
    kept = stores[0]
    shift = lo * up // down  # output index of the kept part's first sample
    length = -(-decoded * up // down)  # samples of the file at `rate`, as far as it was decoded
    if to_sound:
        out.count = max(0, min(count, length - first))
    dst0 = max(0, shift - first, -first)
    dst1 = min(count, length - first, shift + resampled_length(kept.count, up, down) - first)
    per_channel = [resample_blocks(lambda a, b, c=c: kept.read(a, b)[c], kept.count, up, down)
                   for c in range(kept.channels)]
    for parts in zip(*per_channel, strict=True):
        start, size = parts[0][0], parts[0][1].size
        # Resampled sample `start + j` of the kept part is output sample `shift + start + j - first`.
        offset = shift + start - first
        a, b = max(dst0, offset), min(dst1, offset + size)
        if b > a:
            out.write(a, np.stack([values[a - offset : b - offset] for _, values in parts]))
    kept.close()
    return SpooledAudio(out, rate)


def _spooled(track: AudioTrack, folder: Path | None) -> SpooledAudio:
    """An in-memory track written to a spool file."""
    store = _SampleFile(track.channels, track.num_samples, folder, count=track.num_samples)
    for lo in range(0, track.num_samples, READ_SAMPLES):
        store.write(lo, track.samples[:, lo : lo + READ_SAMPLES])
    return SpooledAudio(store, track.rate)
