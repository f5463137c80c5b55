"""decode_audio and place_line: right durations, and sample-exact placement of a line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import media_factory as mf
from conftest import media_path
from mytalk.core.errors import AudioError, MediaFormatError, MediaNotFoundError, UsageError
from mytalk.core.media import AudioTrack, VideoWriter, decode_audio, place_line, probe
from mytalk.core.media.clip_sound import ClipSound

SHARED_AUDIO = [
    "dreamtalk_noisy_meeting_snr10_en_16k.wav",
    "hdtf_radio31_en_16k.wav",  # stereo
    "iplap_lecture_en_44k.wav",
    "jfk_inaugural_en_16k.wav",
    "retalking_audio1_en_44k.wav",
    "gfpgan_kimk_speech_en_48k.mp3",
]


@pytest.mark.media
@pytest.mark.parametrize("name", SHARED_AUDIO)
@pytest.mark.parametrize("rate", [16000, 48000])
def test_shared_audio_duration(name: str, rate: int) -> None:
    path = media_path("audio", name)
    stream = probe(path).audio[0]
    track = decode_audio(path, rate)
    assert track.rate == rate and track.channels == 1
    assert track.samples.dtype == np.float32
    # MP3 carries encoder padding that the container duration does not always account for.
    tolerance_s = 0.030 if name.endswith(".mp3") else 0.001
    assert abs(track.num_samples - stream.duration_s * rate) <= tolerance_s * rate
    # Upsampling a clipped recording overshoots full scale a little between the old samples.
    assert 0.001 < float(np.abs(track.samples).max()) <= 1.1


@pytest.mark.media
def test_stereo_kept_or_averaged() -> None:
    path = media_path("audio", "hdtf_radio31_en_16k.wav")
    stereo = decode_audio(path, 16000, channels=None)
    mono = decode_audio(path, 16000)
    assert stereo.channels == 2 and mono.channels == 1
    assert np.allclose(mono.samples[0], stereo.samples.mean(axis=0), atol=1e-7)
    assert np.allclose(stereo.mono().samples, mono.samples, atol=1e-7)


@pytest.fixture
def clicks48(tmp_path: Path) -> Path:
    return mf.make_click_wav(
        tmp_path / "clicks48.wav", rate=48000, num_samples=48000, clicks=[1000, 4801, 20000]
    )


def _click_positions(track: AudioTrack, count: int) -> list[int]:
    """Sample positions of the ``count`` strongest isolated peaks, in time order."""
    signal = np.abs(track.samples[0]).copy()
    found = []
    for _ in range(count):
        peak = int(np.argmax(signal))
        found.append(peak)
        signal[max(0, peak - 50) : peak + 50] = 0
    return sorted(found)


def test_impulses_decode_at_their_sample(clicks48: Path) -> None:
    track = decode_audio(clicks48, 48000)
    assert track.num_samples == 48000
    assert _click_positions(track, 3) == [1000, 4801, 20000]
    assert track.samples[0, 1000] == pytest.approx(0.9, abs=1e-4)


def test_place_line_is_sample_exact(clicks48: Path) -> None:
    line = decode_audio(clicks48, 48000)
    fps = Fraction(24000, 1001)
    placed = place_line(line, num_frames=24, fps=fps, line_offset_s=Fraction(1000, 48000))
    assert placed.num_samples == 48048  # 24 frames at 23.976 fps, exactly
    assert _click_positions(placed, 3) == [0, 3801, 19000]
    # A negative offset starts the line 480 samples (10 ms) late.
    later = place_line(line, num_frames=24, fps=fps, line_offset_s=Fraction(-1, 100))
    assert _click_positions(later, 3) == [1480, 5281, 20480]
    assert not later.samples[:, :1480].any()


def test_place_line_lengths_and_padding() -> None:
    line = AudioTrack(np.ones((2, 1000), np.float32), 48000)
    assert place_line(line, num_frames=1, fps=Fraction(30000, 1001)).num_samples == 1602  # 1601.6 rounds up
    assert place_line(line, num_frames=0, fps=Fraction(25)).num_samples == 0
    padded = place_line(line, num_frames=2, fps=Fraction(25))  # 3840 samples, line only 1000 long
    assert padded.channels == 2 and padded.num_samples == 3840
    assert padded.samples[:, :1000].all() and not padded.samples[:, 1000:].any()
    beyond = place_line(line, num_frames=2, fps=Fraction(25), line_offset_s=Fraction(1))
    assert not beyond.samples.any()
    silence_first = place_line(line, num_frames=2, fps=Fraction(25), line_offset_s=Fraction(-3840, 48000))
    assert not silence_first.samples.any()
    with pytest.raises(UsageError):
        place_line(line, num_frames=-1, fps=Fraction(25))


def test_resampled_impulse_lands_within_one_sample(tmp_path: Path) -> None:
    clicks = [441, 1000, 22050, 30001]
    wav = mf.make_click_wav(tmp_path / "clicks44.wav", rate=44100, num_samples=44100, clicks=clicks)
    line = decode_audio(wav, 48000)
    assert line.num_samples == 48000
    expected = [round(Fraction(c * 48000, 44100)) for c in clicks]
    for got, want in zip(_click_positions(line, 4), expected, strict=True):
        assert abs(got - want) <= 1, (got, want)
    # Placing after resampling: the click at 44.1k sample 22050 (0.5 s) lands on output sample 0.
    placed = place_line(line, num_frames=25, fps=Fraction(25), line_offset_s=Fraction(1, 2))
    assert abs(int(np.argmax(np.abs(placed.samples[0]))) - 0) <= 1


def test_empty_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="has no audio samples; pick a file with sound"):
        decode_audio(mf.make_silent_wav(tmp_path / "empty.wav"), 16000)
    with pytest.raises(MediaNotFoundError):
        decode_audio(tmp_path / "missing.wav", 16000)
    text = tmp_path / "line.wav"
    text.write_text("not audio")
    with pytest.raises(MediaFormatError, match="line.wav"):
        decode_audio(text, 16000)
    silent_video = mf.make_h264(tmp_path / "silent.mp4", num_frames=3)
    with pytest.raises(MediaFormatError, match="no audio stream"):
        decode_audio(silent_video, 16000)
    with pytest.raises(UsageError):
        decode_audio(silent_video, 16000, channels=6)


def test_video_own_audio_round_trip(tmp_path: Path) -> None:
    """A track muxed into a .mov by VideoWriter decodes back to the same samples."""
    source_clip = mf.make_ffv1(tmp_path / "src.mkv", num_frames=10)
    source = probe(source_clip).video
    assert source is not None
    rng = np.random.default_rng(3)
    track = AudioTrack(rng.uniform(-0.5, 0.5, (1, 19000)).astype(np.float32), 48000)
    out = tmp_path / "with_sound.mov"
    with VideoWriter(out, codec="prores", source=source, audio=track) as writer:
        for _ in range(10):
            writer.write(np.zeros((source.height * 3 // 2, source.width), np.uint8))
    back = decode_audio(out, 48000)
    assert back.num_samples == 19000
    assert np.abs(back.samples - track.samples).max() <= 1 / 2**23
    with pytest.raises(MediaFormatError, match="not an audio stream"):
        decode_audio(out, 48000, stream_index=0)  # stream 0 is the picture


@pytest.mark.media
def test_shared_video_audio() -> None:
    path = media_path("video", "wav2lip_pr600_man_720p_cutaway.mov")  # audio is stream 0, video 1
    info = probe(path)
    track = decode_audio(path, 16000)
    assert abs(track.duration_s - info.audio[0].duration_s) <= 0.030
    same = decode_audio(path, 16000, stream_index=0)
    assert np.array_equal(same.samples, track.samples)
    with pytest.raises(MediaFormatError, match="audio streams: 0"):
        decode_audio(path, 16000, stream_index=1)


def test_audio_track_basics() -> None:
    track = AudioTrack(np.array([[0.5, -0.5, 1.0], [0.5, 0.5, 0.0]]), 8000)
    assert track.samples.dtype == np.float32
    assert (track.channels, track.num_samples, track.duration_s) == (2, 3, 3 / 8000)
    assert np.allclose(track.mono().samples, [[0.5, 0.0, 0.5]])
    assert AudioTrack(np.zeros(5), 100).channels == 1
    with pytest.raises(ValueError):
        AudioTrack(np.zeros((2, 2, 2)), 100)
    with pytest.raises(ValueError):
        AudioTrack(np.zeros((1, 2)), 0)


def test_resampled_keeps_the_timing_and_returns_the_track_itself_at_its_own_rate() -> None:
    from mytalk.core.media.audio import AudioTrack

    rate = 48_000
    click = np.zeros((2, rate), np.float32)
    click[:, 12_000] = 1.0  # at 0.25 s
    track = AudioTrack(click, rate)
    assert track.resampled(rate) is track
    low = track.resampled(16_000)
    assert low.rate == 16_000 and low.samples.shape == (2, 16_000) and low.samples.dtype == np.float32
    # Zero-phase: the click stays at 0.25 s (sample 4000), in every channel.
    assert (np.abs(low.samples).argmax(axis=1) == 4_000).all()


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)])
def test_a_clips_own_sound_is_cut_on_the_pictures_clock(fps: Fraction) -> None:
    """Picture n's sound starts at n / fps + the picture's start on the sound's clock, and ranges tile."""
    rate = 16_000
    ramp = np.arange(rate * 4, dtype=np.float32)  # the sample index is the value
    sound = ClipSound(AudioTrack(ramp, rate), picture_start_s=Fraction(33, 1000))
    part = sound.frames(10, 20, fps)
    assert part.num_samples == round(Fraction(20) * rate / fps)
    assert part.samples[0, 0] == round((Fraction(10) / fps + Fraction(33, 1000)) * rate)
    whole = sound.frames(0, 40, fps).samples[0]
    first, second = sound.frames(0, 17, fps).samples[0], sound.frames(17, 23, fps).samples[0]
    # At 25 fps a frame is exactly 640 samples, so ranges tile exactly; at 29.97 within a sample.
    joined = np.concatenate([first, second])
    assert abs(joined.size - whole.size) <= 1
    assert np.abs(joined[: min(joined.size, whole.size)] - whole[: joined.size]).max() <= (0 if fps == 25 else 1)


def _stereo_wav(path: Path, rate: int, seconds: float) -> Path:
    import wave

    n = int(rate * seconds)
    t = np.arange(n) / rate
    left = 0.4 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 0.7 * t)
    right = 0.3 * np.random.default_rng(5).normal(size=n).clip(-1, 1)
    pcm = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


PLACEMENTS = [(1, Fraction(0)), (25, Fraction(1, 3)), (7, Fraction(-1, 5)), (40, Fraction(2)),
              (500, Fraction(0)), (10, Fraction(1000))]


@pytest.mark.parametrize(("native", "rate", "channels"), [(44_100, 48_000, None), (44_100, 16_000, 1),
                                                          (48_000, 48_000, 2), (22_050, 48_000, 1)])
def test_a_placed_line_is_decoded_bit_for_bit_without_holding_the_file(tmp_path: Path, native: int, rate: int,
                                                                       channels: int | None) -> None:
    """A job keeps only the placed part of its line (a slice of a long stem, say), and gets exactly the
    samples that decoding the whole file and placing it gives: inside, across both ends, and past the end."""
    from mytalk.core.media.audio import decode_placed

    path = _stereo_wav(tmp_path / "line.wav", native, 3.0)
    whole = decode_audio(path, rate, channels=channels)
    for frames, offset in PLACEMENTS:
        expected = place_line(whole, num_frames=frames, fps=Fraction(25), line_offset_s=offset)
        got = decode_placed(path, rate, num_frames=frames, fps=Fraction(25), line_offset_s=offset, channels=channels)
        assert got.rate == expected.rate and got.samples.shape == expected.samples.shape, (frames, offset)
        np.testing.assert_array_equal(got.samples, expected.samples, err_msg=f"{frames} frames at {offset} s")


@pytest.mark.media
@pytest.mark.parametrize(("kind", "name", "rate"), [("audio", "jfk_inaugural_en_16k.wav", 48_000),
                                                    ("video", "hdtf_wda_katiehill_512.mp4", 16_000)])
def test_a_placed_line_from_shared_media_is_bit_for_bit_the_whole_decode(kind: str, name: str, rate: int) -> None:
    from mytalk.core.media.audio import decode_placed

    path = media_path(kind, name)
    whole = decode_audio(path, rate, channels=1)
    for frames, offset in PLACEMENTS:
        expected = place_line(whole, num_frames=frames, fps=Fraction(25), line_offset_s=offset)
        got = decode_placed(path, rate, num_frames=frames, fps=Fraction(25), line_offset_s=offset, channels=1)
        np.testing.assert_array_equal(got.samples, expected.samples, err_msg=f"{frames} frames at {offset} s")
