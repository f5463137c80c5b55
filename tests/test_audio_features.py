"""Speech features and voice activity on real speech: shapes on any fps, rate independence,
frame timing, speaker normalisation, pauses found where the envelope says, silence unvoiced."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.audio import (
    SpeakerNormaliser,
    alignment_features,
    envelope,
    find_pauses,
    frame_features,
    log_mel,
    speech_probability,
    voiced_frames,
)
from mytalk.core.audio.activity import bool_runs
from mytalk.core.media import AudioTrack, decode_audio

FPS_CASES = [Fraction(25), Fraction(30000, 1001), Fraction(1350, 61)]
JFK = "jfk_inaugural_en_16k.wav"
NOISY = "dreamtalk_noisy_meeting_snr10_en_16k.wav"
KIMK = "gfpgan_kimk_speech_en_48k.mp3"


def _frames(track: AudioTrack, fps: Fraction) -> int:
    return int(track.duration_s * fps)


@pytest.fixture(scope="module")
def jfk16() -> AudioTrack:
    return decode_audio(media_path("audio", JFK), 16000)


@pytest.fixture(scope="module")
def jfk44() -> AudioTrack:
    return decode_audio(media_path("audio", JFK), 44100)


def _tone(rate: int, freq: float, seconds: float, start_s: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * (t >= start_s)).astype(np.float32)


def test_log_mel_shape_and_rate_independence() -> None:
    """A 1 kHz tone lands in the same mel band at the same level at 16, 44.1 and 48 kHz."""
    peaks, levels = [], []
    for rate in (16000, 44100, 48000):
        x = _tone(rate, 1000.0, 1.0)
        mel = log_mel(x, rate)
        assert mel.shape == (x.size // int(round(rate / 80)) + 1, 80)
        assert mel.dtype == np.float32
        middle = mel[20:-20]
        peaks.append(int(np.bincount(middle.argmax(axis=1)).argmax()))
        levels.append(float(middle.max(axis=1).mean()))
    assert len(set(peaks)) == 1
    assert max(levels) - min(levels) < 0.05  # log10 units: within 0.5 dB


def test_log_mel_silence_is_finite() -> None:
    mel = log_mel(np.zeros(1600, np.float32), 16000)
    assert np.isfinite(mel).all() and mel.shape == (9, 80)  # 0.1 s at 80 frames/s, both ends
    assert np.isfinite(log_mel(np.zeros(3, np.float32), 16000)).all()


@pytest.mark.media
@pytest.mark.parametrize("fps", FPS_CASES, ids=str)
def test_frame_features_same_per_frame_at_16k_and_44k(jfk16: AudioTrack, jfk44: AudioTrack, fps: Fraction) -> None:
    n = _frames(jfk16, fps)
    a = frame_features(jfk16, fps, n)
    b = frame_features(jfk44, fps, n)
    assert a.shape == b.shape == (n, 5 * 80)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    # Same speech, two sample rates: the resampler's roll-off near 7.6 kHz is the only difference.
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    assert float(np.abs(a - b).mean()) < 0.1
    assert alignment_features(jfk16, fps, n).shape == alignment_features(jfk44, fps, n).shape == (n, 26)


def test_frame_features_context_layout() -> None:
    """Block order is n-2, n-1, n, n+1, n+2, with the edge frame repeated past either end."""
    rate, fps = 16000, Fraction(25)
    track = AudioTrack(_tone(rate, 440.0, 2.0) * np.linspace(0, 1, 32000, dtype=np.float32), rate)
    feats = frame_features(track, fps, 50, context=2)
    centre = frame_features(track, fps, 50, context=0)
    assert centre.shape == (50, 80)
    blocks = feats.reshape(50, 5, 80)
    assert np.array_equal(blocks[10, 2], centre[10])
    assert np.array_equal(blocks[10, 0], centre[8]) and np.array_equal(blocks[10, 4], centre[12])
    assert np.array_equal(blocks[0, 0], centre[0]) and np.array_equal(blocks[49, 4], centre[49])


@pytest.mark.parametrize("fps", FPS_CASES, ids=str)
def test_frame_features_onset_lands_on_its_frame(fps: Fraction) -> None:
    """A tone starting exactly at frame 40's first sample makes frame 40 the first loud frame."""
    rate = 16000
    onset_s = float(40 / fps)
    track = AudioTrack(_tone(rate, 1000.0, 3.0, start_s=onset_s), rate)
    level = frame_features(track, fps, 60, context=0).max(axis=1)
    jump = np.diff(level)
    assert int(np.argmax(jump)) + 1 == 40
    assert level[38] < level[42] - 3.0  # log10: frame 38 is 30 dB quieter than inside the tone


def test_frame_features_past_the_end_are_silence() -> None:
    rate, fps = 16000, Fraction(25)
    track = AudioTrack(_tone(rate, 300.0, 1.0), rate)
    feats = frame_features(track, fps, 40, context=0)
    assert feats.shape == (40, 80)
    assert np.allclose(feats[30:], feats[30])  # 1 s of audio = 25 frames; later frames are the floor
    assert feats[30].max() < feats[10].max() - 3.0


@pytest.mark.media
def test_speaker_normaliser_maps_two_speakers_to_one_space(jfk16: AudioTrack) -> None:
    fps = Fraction(25)
    other = decode_audio(media_path("audio", KIMK), 16000)
    results = []
    for track in (jfk16, other):
        n = _frames(track, fps)
        feats = frame_features(track, fps, n)
        voiced = voiced_frames(track, fps, n)
        assert 0.4 < voiced.mean() < 0.95
        results.append((feats, voiced, SpeakerNormaliser().fit(feats, voiced)))
    (fa, va, na), (fb, vb, nb) = results
    # Raw features: the two voices (two microphones, 1961 and today) sit far apart.
    raw_gap = np.abs(fa[va].mean(0) - fb[vb].mean(0)).mean() / fa[va].std(0).mean()
    assert raw_gap > 0.3
    for feats, voiced, norm in results:
        z = norm.transform(feats)[voiced]
        assert np.abs(z.mean(0)).max() < 1e-3
        assert np.allclose(z.std(0), 1.0, atol=1e-3)
    # Each voice normalised by the other's statistics stays off: per-speaker fitting is what aligns them.
    crossed = np.abs(nb.transform(fa)[va].mean(0)).mean()
    assert crossed > 0.3


def test_speaker_normaliser_edge_cases() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(3.0, 2.0, (100, 4))
    with pytest.raises(RuntimeError):
        SpeakerNormaliser().transform(feats)
    few = np.zeros(100, bool)
    few[:3] = True  # too few voiced frames: fit on all frames
    norm = SpeakerNormaliser().fit(feats, few)
    assert np.allclose(norm.transform(feats).mean(0), 0.0, atol=1e-5)
    restored = SpeakerNormaliser.from_state(norm.state())
    assert np.allclose(restored.transform(feats), norm.transform(feats), atol=1e-5)
    constant = SpeakerNormaliser().fit(np.ones((20, 3)))
    assert np.isfinite(constant.transform(np.ones((5, 3)))).all()
    with pytest.raises(ValueError):
        norm.transform(np.ones((5, 3)))
    with pytest.raises(ValueError):
        SpeakerNormaliser().fit(feats, np.ones(99, bool))


# --- voice activity ------------------------------------------------------------------------


@pytest.mark.media
def test_jfk_phrase_pauses_are_unvoiced(jfk16: AudioTrack) -> None:
    """Pauses found independently from the 1-4 kHz envelope (25 dB down for >= 0.3 s) are unvoiced,
    and the loud frames are voiced."""
    fps = Fraction(25)
    n = _frames(jfk16, fps)
    env = envelope(jfk16, fps, n)
    quiet = env < env.max() - 25 / 20 * np.log(10)
    pauses = [(s, e) for s, e, q in bool_runs(quiet) if q and e - s >= 8 and s > 0 and e < n]
    # "...Americans | ask not | what your country can do for you | ask what you can do..."
    assert len(pauses) >= 3
    voiced = voiced_frames(jfk16, fps, n)
    for start, end in pauses:
        inner = slice(start + (end - start) // 5, end - (end - start) // 5)
        assert not voiced[inner].any(), (start, end)
    loud = env > env.max() - 10 / 20 * np.log(10)
    assert voiced[loud].mean() > 0.97
    prob = speech_probability(jfk16, fps, n)
    assert prob.shape == (n,) and prob.dtype == np.float32
    assert prob[voiced].mean() > 0.8 and prob[~voiced].mean() < 0.2
    found = find_pauses(jfk16)
    for start, end in pauses:
        middle = (start + end) / 2 / 25
        assert any(a <= middle <= b for a, b in found), (middle, found)


@pytest.mark.media
@pytest.mark.parametrize(
    "name", [JFK, NOISY, KIMK, "hdtf_radio31_en_16k.wav", "iplap_lecture_en_44k.wav", "retalking_audio1_en_44k.wav"]
)
def test_no_pause_shorter_than_the_minimum(name: str) -> None:
    """Between syllables the mouth keeps moving: every inner unvoiced run lasts >= 0.15 s - 1 frame."""
    track = decode_audio(media_path("audio", name), 16000)
    fps = Fraction(30000, 1001)
    n = _frames(track, fps)
    voiced = voiced_frames(track, fps, n)
    assert 0.5 < voiced.mean() < 0.95
    inner = [e - s for s, e, v in bool_runs(voiced) if not v and s > 0 and e < n]
    assert all(length >= 3 for length in inner), inner


@pytest.mark.media
def test_noisy_speech_still_has_pauses_and_speech() -> None:
    track = decode_audio(media_path("audio", NOISY), 16000)
    fps = Fraction(25)
    n = _frames(track, fps)
    voiced = voiced_frames(track, fps, n)
    # 10 dB SNR meeting noise: speech from about 0.2 s to 5.4 s, then noise only.
    assert 0.6 < voiced.mean() < 0.9
    assert voiced[int(1.0 * 25) : int(5.0 * 25)].mean() > 0.85
    assert voiced[int(5.6 * 25) : int(6.0 * 25)].mean() == 0.0
    assert not voiced[:3].any()


def test_silence_is_unvoiced() -> None:
    fps = Fraction(30000, 1001)
    silence = AudioTrack(np.zeros((1, 16000 * 3), np.float32), 16000)
    assert not voiced_frames(silence, fps, 80).any()
    assert speech_probability(silence, fps, 80).max() == 0.0
    assert np.isfinite(envelope(silence, fps, 80)).all()
    assert find_pauses(silence) == []
    features = alignment_features(silence, fps, 80)
    assert np.isfinite(features).all() and np.isfinite(frame_features(silence, fps, 80)).all()


@pytest.mark.media
def test_envelope_is_the_evaluation_envelope(jfk16: AudioTrack) -> None:
    from benchmarks.eval.metrics import audio_envelope

    fps = Fraction(1350, 61)
    n = _frames(jfk16, fps)
    assert np.allclose(envelope(jfk16, fps, n), audio_envelope(jfk16.samples[0], 16000, fps, n))


def test_import_loads_no_models() -> None:
    code = "import sys, mytalk.core.audio; assert 'pocketsphinx' not in sys.modules and 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
