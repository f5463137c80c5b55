"""Our polyphase resampler against scipy's `resample_poly`, whose defaults it reproduces.

It exists so a job need not import scipy.signal (0.6 s) to put its line at the output rate; the
muxed audio and every analysis built on it must not change because of that.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from mytalk.core.media.resample import resample_poly, resample_poly_1d


@pytest.mark.parametrize(
    ("up", "down", "length"),
    [(3, 1, 4800), (1, 3, 4801), (160, 147, 4410), (147, 160, 4800), (2, 1, 5), (1, 3, 7), (3, 1, 1), (1, 2, 100),
     (6, 4, 999)],
)
def test_matches_scipy_resample_poly(up: int, down: int, length: int) -> None:
    rng = np.random.default_rng(length)
    signal = rng.standard_normal(length)
    expected = scipy_resample_poly(signal, up, down)
    got = resample_poly(signal, up, down)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_channels_are_resampled_independently() -> None:
    rng = np.random.default_rng(1)
    stereo = rng.standard_normal((2, 3000)).astype(np.float32)
    got = resample_poly(stereo, 3, 1)
    assert got.shape == (2, 9000)
    np.testing.assert_allclose(got[1], scipy_resample_poly(stereo[1].astype(np.float64), 3, 1), atol=1e-12)


def test_equal_rates_copy() -> None:
    signal = np.arange(10.0)
    out = resample_poly(signal, 4, 4)
    assert out is not signal
    np.testing.assert_array_equal(out, signal)


@pytest.mark.parametrize(("up", "down"), [(3, 1), (1, 3), (160, 147), (147, 160)])
def test_blocks_give_exactly_the_whole_signal_at_once(up: int, down: int) -> None:
    """A long line is resampled a block at a time: every block size gives the same samples, bit for bit,
    and float32 output is the float64 result rounded once."""
    x = np.random.default_rng(7).normal(size=9_001)
    whole = resample_poly_1d(x, up, down, block=10**9)
    for block in (1, 97, 4096):
        np.testing.assert_array_equal(resample_poly_1d(x, up, down, block=block), whole)
    np.testing.assert_array_equal(resample_poly_1d(x.astype(np.float32), up, down, np.float32, block=97),
                                  resample_poly_1d(x.astype(np.float32), up, down, block=10**9).astype(np.float32))


@pytest.mark.parametrize(("native", "rate"), [(48_000, 16_000), (44_100, 16_000), (48_000, 48_000), (22_050, 48_000)])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_mono_at_is_the_mix_resampled_value_for_value(native: int, rate: int, channels: int) -> None:
    """`AudioTrack.mono_at` mixes a block at a time inside the resampler: the same numbers as mixing
    the whole line first, at every block size (the mean runs across channels sample by sample)."""
    from mytalk.core.media import resample
    from mytalk.core.media.audio import AudioTrack

    rng = np.random.default_rng(native + rate + channels)
    track = AudioTrack(rng.standard_normal((channels, 9_001)).astype(np.float32) * 0.3, native)
    expected = track.mono().resampled(rate)
    for block in (resample.BLOCK_OUTPUTS, 977, 64):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(resample, "BLOCK_OUTPUTS", block)
            got = track.mono_at(rate)
        assert got.rate == rate and got.samples.dtype == np.float32
        np.testing.assert_array_equal(got.samples, expected.samples)


def test_a_read_window_never_leaves_the_signal() -> None:
    from mytalk.core.media.resample import resample_read

    x = np.random.default_rng(5).standard_normal(5_000)
    asked: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> np.ndarray:
        asked.append((lo, hi))
        return x[lo:hi]

    np.testing.assert_array_equal(resample_read(read, x.size, 160, 147, np.float64, block=1_000),
                                  resample_poly_1d(x, 160, 147))
    assert len(asked) > 3 and all(0 <= lo < hi <= x.size for lo, hi in asked)
