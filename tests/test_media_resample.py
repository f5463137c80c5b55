"""Our polyphase resampler against scipy's `resample_poly`, whose defaults it reproduces.

It exists so a job need not import scipy.signal (0.6 s) to put its line at the output rate; the
muxed audio and every analysis built on it must not change because of that.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly as scipy_resample_poly

from conftest import media_path
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


def _both_paths(x: np.ndarray, up: int, down: int) -> tuple[np.ndarray, np.ndarray]:
    """`x` resampled a tap at a time (`_tap_sums`) and a phase at a time (`_phase_dots`), float64."""
    from mytalk.core.media import resample

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resample, "PHASE_DOTS_FROM_UP", 10**9)
        taps = resample_poly_1d(x, up, down)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resample, "PHASE_DOTS_FROM_UP", 1)
        phases = resample_poly_1d(x, up, down)
    return taps, phases


@pytest.mark.parametrize(("up", "down"), [(160, 441), (160, 147), (147, 160), (441, 160), (3, 1), (1, 3)])
def test_a_phase_at_a_time_rounds_to_the_same_float32_as_a_tap_at_a_time(up: int, down: int) -> None:
    """The two inner loops sum each output's products in another order: float64 values a few ulps apart,
    the same float32, which is what the clip's sound, the line and the mux keep."""
    x = np.random.default_rng(up * 1000 + down).standard_normal(20_011).astype(np.float32) * 0.4
    taps, phases = _both_paths(x, up, down)
    assert taps.shape == phases.shape
    np.testing.assert_allclose(phases, taps, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(phases.astype(np.float32), taps.astype(np.float32))


def test_a_phase_at_a_time_on_real_sound_rounds_as_before() -> None:
    """The shared clips' own sound (44.1 kHz AAC): to 16 kHz for learning and phones, to 48 kHz and from a
    16 kHz line back to 44.1 kHz for the mux, the same float32 samples either way."""
    import av



    clip = media_path("video", "wav2lip_pr600_man_720p_cutaway.mov")
    with av.open(str(clip)) as container:
        sound = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    mono = sound.mean(axis=0).astype(np.float32)[: 44_100 * 8]
    for up, down in ((160, 441), (160, 147), (441, 160)):
        taps, phases = _both_paths(mono, up, down)
        np.testing.assert_array_equal(phases.astype(np.float32), taps.astype(np.float32))


def test_a_phase_at_a_time_gives_the_same_numbers_at_every_block_and_chunk() -> None:
    """Each output row is summed on its own, so neither the block nor `_phase_dots`'s chunk of rows moves a
    bit of it."""
    from mytalk.core.media import resample

    x = np.random.default_rng(11).normal(size=9_001)
    whole = resample_poly_1d(x, 160, 441, block=10**9)
    for block, values in ((1, 1 << 16), (97, 1 << 16), (4096, 57), (4096, 1), (10**9, 300)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(resample, "PHASE_DOT_VALUES", values)
            np.testing.assert_array_equal(resample_poly_1d(x, 160, 441, block=block), whole)
