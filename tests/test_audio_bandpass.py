"""The band-pass of voice activity without scipy.signal: the stored sections are scipy's, and the
Python loop gives scipy's `sosfiltfilt` result (bit for bit on x86-64, to 1e-12 elsewhere)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import butter, sosfilt, sosfiltfilt
from scipy.signal import sosfilt_zi as scipy_sosfilt_zi

from conftest import media_path
from mytalk.core.audio import bandpass
from mytalk.core.audio.activity import ENVELOPE_BAND_HZ, VAD_BAND_HZ
from mytalk.core.audio.bandpass import (
    BUTTER4_BANDPASS_SOS,
    LOOP_MAX_SAMPLES,
    butter4_bandpass,
    sosfilt_zi,
    sosfiltfilt_loop,
)
from mytalk.core.media import decode_audio

EXACT = platform.machine().lower() in ("x86_64", "amd64")
"""scipy's compiled loop is built without fused multiply-add on x86-64; elsewhere it may fuse."""


def _same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float64
    if EXACT:
        assert np.array_equal(ours, theirs), float(np.abs(ours - theirs).max())
    else:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * max(1.0, float(np.abs(theirs).max())))


@pytest.mark.parametrize("key", sorted(BUTTER4_BANDPASS_SOS))
def test_stored_sections_are_scipys_butter(key: tuple[int, float, float]) -> None:
    rate, low, high = key
    expected = butter(4, (low, high), btype="bandpass", fs=rate, output="sos")
    stored = np.array(BUTTER4_BANDPASS_SOS[key])
    np.testing.assert_allclose(stored, expected, rtol=1e-13, atol=0)
    if EXACT:
        assert np.array_equal(stored, expected)
    np.testing.assert_array_equal(sosfilt_zi(stored), scipy_sosfilt_zi(stored))


def test_the_pipelines_rates_and_bands_are_stored() -> None:
    """Voice activity runs at 16 kHz (analysis) and 48 kHz (the output line) in both bands."""
    for rate in (16000, 48000):
        for band in (VAD_BAND_HZ, ENVELOPE_BAND_HZ):
            assert (rate, band[0], min(band[1], 0.45 * rate)) in BUTTER4_BANDPASS_SOS


@pytest.mark.parametrize("key", sorted(BUTTER4_BANDPASS_SOS))
@pytest.mark.parametrize("n", [28, 29, 65, 640, 1921, 16000])
def test_loop_is_scipys_sosfiltfilt(key: tuple[int, float, float], n: int) -> None:
    sos = np.array(BUTTER4_BANDPASS_SOS[key])
    rng = np.random.default_rng(n)
    # Noise, a DC offset (the initial states matter) and a tone, at a quiet level.
    x = 0.05 * rng.standard_normal(n) + 0.3 + 0.2 * np.sin(np.arange(n) * 0.3)
    _same(sosfiltfilt_loop(sos, x), sosfiltfilt(sos, x))
    _same(butter4_bandpass(x, key[0], key[1:]), sosfiltfilt(sos, x))


def test_loop_state_matches_scipys_sosfilt() -> None:
    """One pass with initial states: the recurrence itself, not only the padding around it."""
    sos = np.array(BUTTER4_BANDPASS_SOS[(16000, 300.0, 4000.0)])
    x = np.random.default_rng(1).standard_normal(5000)
    zi = sosfilt_zi(sos) * 0.7
    _same(bandpass._sosfilt4_state(sos, x, zi)[0], sosfilt(sos, x, zi=zi)[0])


@pytest.mark.media
def test_real_speech_matches_scipy() -> None:
    path = media_path("audio", "jfk_inaugural_en_16k.wav")
    samples = decode_audio(path, 16000).mono().samples[0].astype(np.float64)[: 10 * 16000]
    for band in (VAD_BAND_HZ, ENVELOPE_BAND_HZ):
        sos = butter(4, band, btype="bandpass", fs=16000, output="sos")
        _same(butter4_bandpass(samples, 16000, band), sosfiltfilt(sos, samples))


def test_other_rates_and_long_signals_go_to_scipy() -> None:
    x = np.random.default_rng(2).standard_normal(LOOP_MAX_SAMPLES + 1)
    sos = butter(4, VAD_BAND_HZ, btype="bandpass", fs=16000, output="sos")
    np.testing.assert_array_equal(butter4_bandpass(x, 16000, VAD_BAND_HZ), sosfiltfilt(sos, x))
    sos = butter(4, VAD_BAND_HZ, btype="bandpass", fs=22050, output="sos")
    np.testing.assert_array_equal(butter4_bandpass(x[:5000], 22050, VAD_BAND_HZ), sosfiltfilt(sos, x[:5000]))


def test_without_the_compiled_loop_the_python_loop_and_scipy_give_the_same() -> None:
    """Where scipy's compiled loop cannot be loaded on its own, a short line runs the Python loop and a long
    one scipy.signal: the same numbers either way."""
    x = np.random.default_rng(4).standard_normal(LOOP_MAX_SAMPLES + 1)
    sos = butter(4, VAD_BAND_HZ, btype="bandpass", fs=16000, output="sos")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bandpass, "compiled_sosfilt", lambda: None)
        short = x[:LOOP_MAX_SAMPLES]
        _same(butter4_bandpass(short, 16000, VAD_BAND_HZ), sosfiltfilt(sos, short))
        _same(butter4_bandpass(x, 16000, VAD_BAND_HZ), sosfiltfilt(sos, x))


_FRESH_INTERPRETER = """
import hashlib, sys
import numpy as np
from mytalk.core.audio.bandpass import butter4_bandpass
x = np.random.default_rng(5).standard_normal(16000 * 30)
y = butter4_bandpass(x, 16000, (300.0, 4000.0))
imported = "scipy.signal" in sys.modules
import scipy.signal
import scipy.signal._signaltools as tools
from scipy.signal import butter, sosfiltfilt
sos = butter(4, (300.0, 4000.0), btype="bandpass", fs=16000, output="sos")
again = bool(np.array_equal(sosfiltfilt(sos, x), y))
print(hashlib.sha256(y.tobytes()).hexdigest(), imported, again, tools._sosfilt is sys.modules["scipy.signal._sosfilt"]._sosfilt)
"""


def test_a_long_line_is_filtered_without_importing_scipy_signal() -> None:
    """A 30 s line (past `LOOP_MAX_SAMPLES`) is filtered by scipy's compiled loop without the 0.7 s, 75 MB
    import of scipy.signal, with scipy's numbers; scipy.signal imported afterwards reuses that same loop.
    In a fresh interpreter: this module has imported scipy.signal already."""
    done = subprocess.run([sys.executable, "-c", _FRESH_INTERPRETER], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    digest, imported, again, shared = done.stdout.split()
    assert imported == "False"
    assert again == "True" and shared == "True"
    x = np.random.default_rng(5).standard_normal(16000 * 30)
    expected = sosfiltfilt(butter(4, (300.0, 4000.0), btype="bandpass", fs=16000, output="sos"), x)
    if EXACT:
        assert digest == hashlib.sha256(expected.tobytes()).hexdigest()


def test_too_short_or_wrong_sections_are_refused_like_scipy() -> None:
    sos = np.array(BUTTER4_BANDPASS_SOS[(16000, 300.0, 4000.0)])
    with pytest.raises(ValueError):
        sosfiltfilt(sos, np.ones(27))
    with pytest.raises(ValueError):
        sosfiltfilt_loop(sos, np.ones(27))
    with pytest.raises(ValueError):
        sosfiltfilt_loop(sos[:3], np.ones(100))





@pytest.mark.parametrize(("offset", "length"), [(0, 20_002), (200, 20_500), (0, 20_001)])
def test_cumulative_energy_is_the_padded_running_sum_bit_for_bit(offset: int, length: int) -> None:
    """The voice activity's and the envelope's running energy is built in one array instead of four
    copies of the line; the sums must be exactly those of the plain construction."""
    from mytalk.core.audio.activity import _cumulative_energy

    x = np.random.default_rng(offset).normal(size=20_000)
    padded = np.zeros(length)
    padded[offset : offset + x.size] = x
    np.testing.assert_array_equal(_cumulative_energy(x, offset, length),
                                  np.concatenate([[0.0], np.cumsum(padded**2)]))
