"""The speech features without scipy.fft: numpy's rfft and `dct2_ortho` against scipy, bit for bit.

`features.log_mel` took its spectrum with scipy.fft.rfft and `features.cepstra` its cepstra with
scipy.fft.dct; importing scipy.fft cost about 0.3 s of every job. numpy runs the same pocketfft plan
for the spectrum, and `dct2_ortho` runs pocketfft's DCT-II around numpy's inverse real FFT; the
guide alignment and the speech driver must not move by a bit because of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import pytest
import scipy.fft

from import_probe import modules_loaded_by
from mytalk.core.audio import features
from mytalk.core.audio.dct import dct2_ortho, root_cosines
from mytalk.core.media.audio import AudioTrack

RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


@contextmanager
def _scipy_rfft(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`features` computing its spectrum with scipy's rfft, as the code did before."""
    with monkeypatch.context() as patch:
        patch.setattr(features.np.fft, "rfft", scipy.fft.rfft)
        yield


@pytest.mark.parametrize("rate", RATES)
def test_spectrum_frames_are_scipys(rate: int) -> None:
    """The very call of `log_mel`: Hann-windowed frames, zero-padded to the rate's FFT size."""
    rng = np.random.default_rng(rate)
    win = int(round(features.WIN_S * rate))
    n_fft = features._n_fft(rate, win)
    for rows in (1, 3, 81):
        frames = rng.standard_normal((rows, win)) * np.hanning(win + 2)[1:-1]
        assert np.array_equal(np.fft.rfft(frames, n=n_fft, axis=1), scipy.fft.rfft(frames, n=n_fft, axis=1))


@pytest.mark.parametrize("rate", RATES)
def test_log_mel_is_unchanged(rate: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(rate + 1)
    for seconds in (0.001, 0.3, 2.0):
        samples = (rng.standard_normal(max(1, int(seconds * rate))) * 0.1).astype(np.float32)
        got = features.log_mel(samples, rate)
        with _scipy_rfft(monkeypatch):
            expected = features.log_mel(samples, rate)
        assert np.array_equal(got, expected)


def test_dct_matches_scipy_on_every_length() -> None:
    """Odd and even lengths, primes (pocketfft's Bluestein plan) and the cepstra's 80 mel bands."""
    rng = np.random.default_rng(0)
    for n in [*range(1, 130), 160, 211, 256, 320, 422, 500, 997, 1000]:
        for scale in (1e-6, 1.0, 1e4):
            x = rng.standard_normal((int(rng.integers(1, 9)), n)) * scale
            expected = scipy.fft.dct(x, type=2, norm="ortho", axis=-1)
            assert np.array_equal(dct2_ortho(x), expected), n


def test_dct_of_log_mel_rows() -> None:
    """Many rows of realistic values (log10 power, -10..0), several leading axes, float32 input."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        x = rng.uniform(-10.0, 0.0, (int(rng.integers(1, 300)), features.N_MELS))
        assert np.array_equal(dct2_ortho(x), scipy.fft.dct(x, type=2, norm="ortho", axis=-1))
    x = rng.uniform(-10.0, 0.0, (3, 4, 80)).astype(np.float32)
    assert np.array_equal(dct2_ortho(x), scipy.fft.dct(x.astype(np.float64), type=2, norm="ortho", axis=-1))
    with pytest.raises(ValueError):
        dct2_ortho(np.zeros((2, 0)))


def test_root_table_is_cosines_to_rounding() -> None:
    """pocketfft's split table, rebuilt here, is cos(2πi/n) to rounding, though not always numpy's rounding
    of it (hence rebuilt rather than taken from np.cos)."""
    for n in (4, 12, 320, 4 * 997):
        roots = root_cosines(n, n // 2)
        np.testing.assert_allclose(roots, np.cos(2 * np.pi * np.arange(1, n // 2 + 1) / n), rtol=0, atol=1e-15)
    with pytest.raises(ValueError):
        root_cosines(8, 5)


def test_cepstra_and_frame_features_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-frame mels (past the line's end too), their cepstra, the speech driver's stacked features."""
    rng = np.random.default_rng(5)
    for rate in (16000, 48000):
        track = AudioTrack((rng.standard_normal((1, 3 * rate)) * 0.05).astype(np.float32), rate)
        mel = features.mel_per_frame(track, Fraction(30000, 1001), 100)
        stacked = features.frame_features(track, Fraction(25), 80)
        with _scipy_rfft(monkeypatch):
            assert np.array_equal(mel, features.mel_per_frame(track, Fraction(30000, 1001), 100))
            assert np.array_equal(stacked, features.frame_features(track, Fraction(25), 80))
        expected = scipy.fft.dct(np.asarray(mel, np.float64), type=2, norm="ortho", axis=-1)[..., : features.N_CEPS]
        assert np.array_equal(features.cepstra(mel), expected)


def test_alignment_features_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide driver's DTW features, with and without a voiced mask, against the scipy-built ones."""
    rng = np.random.default_rng(9)
    track = AudioTrack((rng.standard_normal((1, 4 * 16000)) * 0.05).astype(np.float32), 16000)
    voiced = rng.random(100) > 0.3
    got = [features.alignment_features(track, Fraction(25), 100), features.alignment_features(track, Fraction(25), 100,
                                                                                             voiced=voiced)]
    with _scipy_rfft(monkeypatch):
        monkeypatch.setattr(features, "dct2_ortho", lambda x: scipy.fft.dct(x, type=2, norm="ortho", axis=-1))
        expected = [features.alignment_features(track, Fraction(25), 100),
                    features.alignment_features(track, Fraction(25), 100, voiced=voiced)]
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_features_import_no_scipy() -> None:
    assert modules_loaded_by(
        "from fractions import Fraction\n"
        "import numpy as np\n"
        "from mytalk.core.audio.features import alignment_features, frame_features\n"
        "from mytalk.core.media.audio import AudioTrack\n"
        "track = AudioTrack(np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32) * 0.1, 16000)\n"
        "alignment_features(track, Fraction(25), 25); frame_features(track, Fraction(25), 25)\n") == []
