"""A clip's own sound, as learning reads it: a span at a time, on the picture's clock.

Learning the actor reads the clip's sound under each reference window (its phones, `profile_builder`). A clip's
sound may be long (a ten-minute take) and compressed or not; `ClipSound` holds it so that each window costs what
it reads: an uncompressed sound over `SPANS_AFTER_S` is read a span at a time (`PcmSpans`, seeking), any other
is decoded once into a spool file (`audio_spool`), never into memory. Both give the samples a decode of the whole
file gives (`audio.decode_audio`), and `ClipSound.frames` cuts them under exact pictures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from mytalk.core.media.audio import (
    AudioSource,
    AudioTrack,
    decode_audio_span,
    picture_start_in_audio_s,
    placement,
    sound_seconds,
)
from mytalk.core.media.audio_spool import spool_sound
from mytalk.core.media.channel_pick import ChannelPick
from mytalk.core.media.probe import open_input
from mytalk.core.media.sound_stream import clip_sound_stream

SPANS_AFTER_S = 30.0
"""A clip's PCM sound longer than this is read a span at a time (`PcmSpans`) instead of spooled whole: a clip
longer than 30 s is learned from a sample of itself (`engines.default_reference`), a shorter one whole."""


@dataclass(frozen=True)
class PcmSpans:
    """A long PCM stream's sound, mono at `rate`, read a span at a time: `read(lo, hi)` is samples [lo, hi) of
    `decode_audio(path, rate, stream_index=...)` bit for bit, zeros outside the sound (`decode_audio_span`,
    which seeks to the span in an uncompressed stream, `_PcmSeek`).

    Learning reads each reference's sound twice (to send it to the phone helper, then for its rows), so the
    spans read are kept (`KEPT_SPANS`, a 4 s window at 16 kHz is 256 KB) and a second read decodes nothing."""

    path: Path
    rate: int
    stream_index: int
    rows: tuple[int, ...] | None = None
    """Only these channels of the stream (the editor's pick, `ChannelPick.rows`), None for all of them."""
    _read: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    KEPT_SPANS = 16
    """How many spans are kept: a long clip's sample is four windows."""

    @classmethod
    def of(cls, path: Path, rate: int, stream_index: int, rows: tuple[int, ...] | None = None) -> PcmSpans | None:
        """Spans of the stream when it is PCM and longer than `SPANS_AFTER_S`, else None (spool it whole)."""
        with open_input(path) as container:
            stream = container.streams[stream_index]
            if not (stream.codec_context.name or "").startswith("pcm_"):
                return None
        seconds = sound_seconds(Path(path), stream_index)
        return cls(Path(path), int(rate), stream_index, rows) if seconds is not None and seconds > SPANS_AFTER_S else None

    def read(self, lo: int, hi: int) -> np.ndarray:
        known = self._read.get((lo, hi))
        if known is None:
            known = decode_audio_span(self.path, self.rate, lo, max(0, hi - lo), channels=1,
                                      stream_index=self.stream_index, rows=self.rows).samples
            if len(self._read) >= self.KEPT_SPANS:
                self._read.pop(next(iter(self._read)))  # the oldest
            self._read[(lo, hi)] = known
        return known.copy()  # the caller's to change


@dataclass(frozen=True, eq=False)
class ClipSound:
    """A clip's own sound, decoded once, and where its first picture falls on that sound's clock.

    `decode_audio` puts sample 0 at the first decoded sample, but a container may start the picture
    later than the sound (`picture_start_in_audio_s`); `frames` applies that offset, so the sound
    it returns is the sound of exactly those pictures.

    The sound is kept in a temporary file (`audio_spool`), not in memory: decoding a clip whole held its
    native samples at once, 1.4 GB of RSS for a 20-minute clip with 48 kHz stereo, to learn from 20 s of it.
    An uncompressed (PCM) sound over `SPANS_AFTER_S` is not decoded whole at all: each span asked for is
    decoded on its own (`PcmSpans`), the same samples, so a long camera original's sound costs what the
    sample learned from does (a ten-minute clip's took 4.2 s to spool).
    """

    track: AudioSource | PcmSpans
    picture_start_s: Fraction

    @classmethod
    def decode(cls, path: Path, rate: int, folder: Path | None = None, pick: ChannelPick | None = None) -> ClipSound:
        """The clip's sound as mono at `rate` Hz, from the stream that carries it (`sound_stream`: not an
        unplugged input's silent one), or only the channels the editor picked (`pick`: the actor's microphone
        of a two-hander's production sound, `--guide-channels`), spooled in `folder` (default: the system's
        temporary folder, which may be memory: jobs pass MyTalk's scratch folder); raises as `decode_audio`
        does."""
        index = clip_sound_stream(path).index if pick is None else pick.stream_index
        rows = None if pick is None else pick.rows
        spans = PcmSpans.of(path, rate, index, rows)
        track = spans if spans is not None else spool_sound(path, rate, channels=1, stream_index=index, folder=folder,
                                                            rows=rows)
        return cls(track, picture_start_in_audio_s(path, index))

    def frames(self, start: int, num_frames: int, fps: Fraction) -> AudioTrack:
        """The sound under pictures [start, start + num_frames) at `fps`: exactly
        round(num_frames * rate / fps) samples, sample 0 at the start of picture `start` (as `place_line`
        cuts them, zeros outside the sound)."""
        offset = Fraction(start) / fps + self.picture_start_s
        first, count = placement(self.track.rate, num_frames=num_frames, fps=fps, line_offset_s=offset)
        return AudioTrack(self.track.read(first, first + count), self.track.rate)
