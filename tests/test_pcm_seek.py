"""A span of an uncompressed sound is reached by seeking, with the samples a decode from the start gives.

Learning an actor from a long clip reads its own sound under a 20 s sample; decoding a ten-minute camera
original's PCM from the start for it took 4.2 s. `audio._PcmSeek` seeks a PCM stream to just before the span
and checks every frame's timestamp against where the frames before it end; any doubt decodes from the start.
`ClipSound` of a long PCM sound reads only the spans asked for (`clip_sound.PcmSpans`). What must hold is bit
equality with the decode from the start, in WAV (stereo and 5.1) and QuickTime, at several rates and spans, up
to and past the end; and that the seek is taken, and that a miss falls back.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mytalk.core.media import audio, clip_sound
from mytalk.core.media.audio import decode_audio, decode_audio_span, place_samples
from mytalk.core.media.audio_spool import spool_sound
from mytalk.core.media.clip_sound import ClipSound, PcmSpans


def _pcm_file(path: Path, seconds: float, *, rate: int = 48_000, layout: str = "stereo", codec: str = "pcm_s16le",
              video: bool = False) -> Path:
    """`seconds` of noise, a different level every second, as PCM in `path` (WAV, or QuickTime beside a tiny
    picture when `video`)."""
    rng = np.random.default_rng(7)
    channels = av.AudioLayout(layout).nb_channels
    with av.open(str(path), "w") as out:
        picture = None
        if video:
            picture = out.add_stream("mpeg4", rate=25)
            picture.width, picture.height, picture.pix_fmt = 64, 64, "yuv420p"
        sound = out.add_stream(codec, rate=rate)
        sound.layout = layout
        fmt = {"pcm_s16le": "s16", "pcm_s24le": "s32"}[codec]
        total = int(seconds * rate)
        done = 0
        while done < total:
            n = min(4800, total - done)
            level = 0.05 + 0.9 * ((done // rate) % 10) / 10
            samples = (rng.standard_normal((n, channels)) * level * 0.3).clip(-1, 1)
            scale = 2**15 - 1 if fmt == "s16" else 2**31 - 256
            frame = av.AudioFrame.from_ndarray((samples * scale).astype(np.int16 if fmt == "s16" else np.int32)
                                               .reshape(1, -1), format=fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = done
            for packet in sound.encode(frame):
                out.mux(packet)
            done += n
        for packet in sound.encode(None):
            out.mux(packet)
        if picture is not None:
            for i in range(int(seconds * 25)):
                image = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i % 255, np.uint8), format="rgb24")
                image.pts = i
                for packet in picture.encode(image):
                    out.mux(packet)
            for packet in picture.encode(None):
                out.mux(packet)
    return path


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pcm_file(tmp_path_factory.mktemp("pcm") / "long.wav", 75.0)


@pytest.fixture(scope="module")
def long_wav_51(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six channels: each frame goes through the downmix (`_decode_native`) before it is placed."""
    return _pcm_file(tmp_path_factory.mktemp("pcm") / "long51.wav", 75.0, layout="5.1")


@pytest.fixture(scope="module")
def long_mov(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pcm_file(tmp_path_factory.mktemp("pcm") / "long.mov", 75.0, layout="mono", codec="pcm_s24le", video=True)


SPANS = [(12.0, 4.0), (40.3, 3.01), (59.99, 0.5), (73.5, 4.0), (80.0, 1.0)]
"""(start, length) in seconds: past the seek threshold, odd offsets, across the end, wholly past it."""


@pytest.mark.parametrize("rate", [16_000, 48_000, 44_100])
@pytest.mark.parametrize("which", ["long_wav", "long_wav_51", "long_mov"])
def test_a_seeked_span_is_the_whole_decodes_samples(which: str, rate: int, request: pytest.FixtureRequest,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = request.getfixturevalue(which)
    whole = decode_audio(path, rate)
    landed: list[int] = []
    seek = audio._PcmSeek.__init__

    def recorded(self, container, stream, lo, native_rate):  # type: ignore[no-untyped-def]
        landed.append(lo)
        seek(self, container, stream, lo, native_rate)

    monkeypatch.setattr(audio._PcmSeek, "__init__", recorded)
    for start_s, length_s in SPANS:
        first, count = int(start_s * rate), int(length_s * rate)
        span = decode_audio_span(path, rate, first, count)
        np.testing.assert_array_equal(span.samples, place_samples(whole, first, count).samples)
    assert len(landed) == len(SPANS)  # every span was reached by a seek


def test_a_seek_that_misses_decodes_from_the_start(long_wav: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame whose timestamp is not where the frames before it end is a miss (here: every frame)."""

    def missed(self, frame, expected):  # type: ignore[no-untyped-def]
        raise audio._SeekMissed

    monkeypatch.setattr(audio._PcmSeek, "position_of", missed)
    rate = 16_000
    first, count = int(30.2 * rate), 3 * rate
    np.testing.assert_array_equal(decode_audio_span(long_wav, rate, first, count).samples,
                                  place_samples(decode_audio(long_wav, rate), first, count).samples)


def test_a_span_near_the_start_is_decoded_from_it(long_wav: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio._PcmSeek, "__init__", lambda *a: pytest.fail("sought"))
    rate = 16_000
    span = decode_audio_span(long_wav, rate, 2 * rate, rate)
    np.testing.assert_array_equal(span.samples, place_samples(decode_audio(long_wav, rate), 2 * rate, rate).samples)


def test_a_long_pcm_clips_own_sound_is_read_by_spans_and_matches_the_spooled_one(long_mov: Path) -> None:
    sound = ClipSound.decode(long_mov, 16_000)
    assert isinstance(sound.track, PcmSpans)
    spooled = ClipSound(spool_sound(long_mov, 16_000, channels=1, stream_index=sound.track.stream_index),
                        sound.picture_start_s)
    fps = Fraction(25)
    for start in (0, 300, 1000, 1850):  # the last runs past the end: zeros there, in both
        np.testing.assert_array_equal(sound.frames(start, 100, fps).samples, spooled.frames(start, 100, fps).samples)


def test_a_short_or_compressed_sound_is_spooled_whole(tmp_path: Path) -> None:
    short = _pcm_file(tmp_path / "short.mov", 8.0, layout="mono", video=True)
    assert not isinstance(ClipSound.decode(short, 16_000).track, PcmSpans)
    with av.open(str(tmp_path / "aac.m4a"), "w") as out:
        stream = out.add_stream("aac", rate=48_000)
        stream.layout = "mono"
        for i in range(0, 48_000 * 70, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48_000, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert PcmSpans.of(tmp_path / "aac.m4a", 16_000, 0) is None


def test_a_span_read_twice_is_decoded_once(long_mov: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Learning reads each reference's sound twice: the second read is the first one's samples, not a decode."""
    sound = ClipSound.decode(long_mov, 16_000)
    assert isinstance(sound.track, PcmSpans)
    decoded: list[int] = []
    span = audio.decode_audio_span

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        decoded.append(1)
        return span(*args, **kwargs)

    monkeypatch.setattr(clip_sound, "decode_audio_span", counted)  # what `PcmSpans.read` calls
    first = sound.frames(1000, 100, Fraction(25))
    first.samples[:] = 0  # the caller's copy: changing it changes nothing kept
    again = sound.frames(1000, 100, Fraction(25))
    assert len(decoded) == 1
    np.testing.assert_array_equal(again.samples, span(long_mov, 16_000, *audio.placement(
        16_000, num_frames=100, fps=Fraction(25), line_offset_s=Fraction(1000, 25) + sound.picture_start_s),
        stream_index=sound.track.stream_index).samples)
