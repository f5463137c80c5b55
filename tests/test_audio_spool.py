"""The job's line spooled to a file: the same samples as `decode_placed`, read in windows, mixed and hashed
a block at a time, and nothing left on disk."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.audio.phone_cache import line_key
from mytalk.core.media import decode_audio, place_line
from mytalk.core.media.audio import AudioTrack, decode_placed, peak_level
from mytalk.core.media.audio_spool import decode_placed_spooled

PLACEMENTS = [(1, Fraction(0)), (25, Fraction(1, 3)), (7, Fraction(-1, 5)), (40, Fraction(2)),
              (90, Fraction(0)), (10, Fraction(1000))]


def _wav(path: Path, rate: int, seconds: float, channels: int) -> Path:
    """Chirps with a different pitch per channel, as 16-bit PCM."""
    t = np.arange(int(rate * seconds)) / rate
    waves = [0.4 * np.sin(2 * np.pi * (200 + 150 * c) * t * (1 + t)) for c in range(channels)]
    pcm = (np.stack(waves, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few thousand samples, so that a 4 s line crosses many block edges."""
    import mytalk.core.media.audio_spool as spool
    import mytalk.core.media.resample as resample

    monkeypatch.setattr(resample, "BLOCK_OUTPUTS", 5_003)
    monkeypatch.setattr(spool, "READ_SAMPLES", 3_001)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize(("native", "rate", "channels", "file_channels"),
                         [(44_100, 48_000, None, 2), (16_000, 48_000, None, 1), (48_000, 48_000, 2, 2),
                          (22_050, 16_000, 1, 2), (44_100, 48_000, 2, 1)])
def test_a_spooled_line_is_decode_placed_bit_for_bit(tmp_path: Path, native: int, rate: int, channels: int | None,
                                                      file_channels: int) -> None:
    path = _wav(tmp_path / "line.wav", native, 4.0, file_channels)
    for frames, offset in PLACEMENTS:
        expected = decode_placed(path, rate, num_frames=frames, fps=Fraction(25), line_offset_s=offset, channels=channels)
        got = decode_placed_spooled(path, rate, num_frames=frames, fps=Fraction(25), line_offset_s=offset,
                                    channels=channels)
        assert (got.rate, got.channels, got.num_samples) == (expected.rate, expected.channels, expected.num_samples)
        np.testing.assert_array_equal(got.read(0, got.num_samples), expected.samples, err_msg=f"{frames} at {offset}")
        # Windows, across the ends too, are the in-memory track's.
        for lo, hi in [(-100, 50), (1000, 4000), (got.num_samples - 10, got.num_samples + 10)]:
            np.testing.assert_array_equal(got.read(lo, hi), expected.read(lo, hi))
        # The analyses' mono mixes and the phone cache's key are the in-memory line's, value for value.
        for analysis_rate in (16_000, rate):
            np.testing.assert_array_equal(got.mono_at(analysis_rate).samples, expected.mono_at(analysis_rate).samples)
        np.testing.assert_array_equal(got.mono().samples, expected.mono().samples)
        assert line_key(got, None, "en") == line_key(expected, None, "en")
        assert peak_level(got) == float(np.max(np.abs(expected.samples), initial=0.0))


def test_the_spool_files_leave_nothing_behind(tmp_path: Path) -> None:
    """The samples live in unnamed files: the scratch folder stays empty while the job holds them."""
    path = _wav(tmp_path / "line.wav", 44_100, 2.0, 2)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    line = decode_placed_spooled(path, 48_000, num_frames=40, fps=Fraction(25), folder=scratch)
    assert line.num_samples == 76_800 and peak_level(line) > 0.3
    assert list(scratch.iterdir()) == []
    line.close()


def test_forgotten_mixes_are_let_go_and_made_again_the_same(tmp_path: Path) -> None:
    """The job lets go of the 16 kHz mixes once it has planned (38 MB for a ten-minute line); a later
    `mono_at` makes them again, value for value, for the spooled line and an in-memory track alike."""
    path = _wav(tmp_path / "line.wav", 44_100, 2.0, 2)
    spooled = decode_placed_spooled(path, 48_000, num_frames=40, fps=Fraction(25), folder=tmp_path)
    in_memory = decode_placed(path, 48_000, num_frames=40, fps=Fraction(25), channels=None)
    for line in (spooled, in_memory):
        first = line.mono_at(16_000)
        assert line.mono_at(16_000) is first  # remembered while planning
        line.forget_mixes()
        again = line.mono_at(16_000)
        assert again is not first
        np.testing.assert_array_equal(again.samples, first.samples)
    spooled.close()


def test_an_in_memory_track_reads_windows_with_zeros_outside() -> None:
    track = AudioTrack(np.arange(10, dtype=np.float32).reshape(1, 10), 100)
    np.testing.assert_array_equal(track.read(-2, 3), [[0, 0, 0, 1, 2]])
    np.testing.assert_array_equal(track.read(8, 12), [[8, 9, 0, 0]])
    assert peak_level(track) == 9.0


@pytest.mark.media
def test_the_shared_line_spools_bit_for_bit() -> None:
    path = media_path("audio", "jfk_inaugural_en_16k.wav")
    whole = decode_audio(path, 48_000, channels=None)
    for frames, offset in [(250, Fraction(0)), (500, Fraction(3, 2))]:
        expected = place_line(whole, num_frames=frames, fps=Fraction(25), line_offset_s=offset)
        got = decode_placed_spooled(path, 48_000, num_frames=frames, fps=Fraction(25), line_offset_s=offset)
        np.testing.assert_array_equal(got.read(0, got.num_samples), expected.samples)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("rate", [48_000, 16_000, 44_100])
def test_the_recognisers_pcm_is_made_a_block_at_a_time_with_the_same_bytes(tmp_path: Path, rate: int) -> None:
    """16-bit PCM for pocketsphinx, block by block, equals the whole-line conversion byte for byte."""
    from mytalk.core.audio.phonemes import ALIGN_RATE, _to_pcm16
    from mytalk.core.media.resample import resample_poly

    track = decode_audio(_wav(tmp_path / "line.wav", rate, 3.0, 2), rate, channels=None)
    mono = track.mono().samples[0].astype(np.float64)
    if rate != ALIGN_RATE:
        mono = resample_poly(mono, ALIGN_RATE, rate)
    whole = (np.clip(mono, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    assert _to_pcm16(track) == whole and len(whole) == 2 * 3 * ALIGN_RATE


# -- a whole file's sound, spooled: a clip's own sound and the panel's waveforms -------------------------------

@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize(("native", "rate", "channels", "file_channels"),
                         [(48_000, 16_000, 1, 2), (44_100, 8_000, 1, 1), (16_000, 48_000, None, 2), (48_000, 48_000, 2, 1)])
def test_a_whole_sound_decoded_through_a_spool_is_decode_audio_bit_for_bit(
        tmp_path: Path, native: int, rate: int, channels: int | None, file_channels: int) -> None:
    from mytalk.core.media.audio_spool import decode_sound, decode_spooled

    path = _wav(tmp_path / "clip.wav", native, 3.0, file_channels)
    expected = decode_audio(path, rate, channels=channels)
    got = decode_sound(path, rate, channels=channels)
    assert got.samples.shape == expected.samples.shape
    np.testing.assert_array_equal(got.samples, expected.samples)
    # Asked for less than the sound holds: its first samples; for more: the sound, no padding.
    short = decode_spooled(path, rate, 1000, channels=channels)
    np.testing.assert_array_equal(short.read(0, short.num_samples), expected.samples[:, :1000])
    assert decode_spooled(path, rate, 10**7, channels=channels).num_samples == expected.num_samples


@pytest.mark.media
def test_a_clips_sound_is_cut_as_from_the_whole_decode() -> None:
    """`ClipSound` spools the clip's sound; every window it cuts is `place_line`'s cut of the whole decode
    (this clip's picture starts 33 ms into its sound)."""
    from mytalk.core.media.audio import picture_start_in_audio_s
    from mytalk.core.media.clip_sound import ClipSound

    clip = media_path("video", "retalking_face1_man_suit.mp4")
    fps = Fraction(1350, 61)  # its own rate
    whole = decode_audio(clip, 16_000, channels=1)
    shift = picture_start_in_audio_s(clip)
    assert shift != 0
    sound = ClipSound.decode(clip, 16_000)
    for start, frames in [(0, 30), (50, 60), (120, 100), (5000, 10)]:  # the last two run past the end
        expected = place_line(whole, num_frames=frames, fps=fps, line_offset_s=Fraction(start) / fps + shift)
        np.testing.assert_array_equal(sound.frames(start, frames, fps).samples, expected.samples)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="memory is read from Linux's /proc")
def test_a_long_clips_sound_does_not_fill_memory(tmp_path: Path) -> None:
    """Ten minutes of 48 kHz stereo: decoding it whole held over 400 MB at once; spooled, a few blocks."""
    import subprocess
    import sys

    path = tmp_path / "interview.wav"
    rng = np.random.default_rng(0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48_000)
        for _ in range(600):
            out.writeframes((rng.normal(0, 3000, (48_000, 2))).astype("<i2").tobytes())
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from mytalk.core.media.clip_sound import ClipSound\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "sound = ClipSound.decode(Path(sys.argv[1]), 16_000)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    grown_kib = int(done.stdout.strip())
    assert grown_kib < 120_000, f"decoding the clip's sound grew the process by {grown_kib // 1024} MB"
