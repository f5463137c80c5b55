"""Voice activity and the AV-lag envelope in bounded blocks give the whole-line results bit for bit.

The level, the envelope and the speech probability used to band-pass and sum a line whole (four
float64 copies of a ten-minute line). They now read, filter and sum it a block at a time. Every
comparison here is `np.array_equal` against the whole-line arithmetic (kept below as the
reference), with blocks made small so that lines of a few thousand samples cross many block
boundaries.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np
import pytest
from scipy.ndimage import percentile_filter, uniform_filter1d
from scipy.signal import butter, sosfiltfilt

from import_probe import modules_loaded_by
from mytalk.core.audio import bandpass
from mytalk.core.audio.activity import (
    DIGITAL_SILENCE_DB,
    ENVELOPE_BAND_HZ,
    ENVELOPE_RANGE_DB,
    LEVEL_HOP_S,
    LEVEL_WIN_S,
    NOISE_WINDOW_S,
    VAD_BAND_HZ,
    ActivityParams,
    _mono_reader,
    band_level_db,
    envelope,
    frame_bounds,
    frame_rms,
    speech_probability_fine,
)
from mytalk.core.audio.bandpass import LOOP_MAX_SAMPLES, butter4_bandpass, butter4_bandpass_blocks
from mytalk.core.audio.blocks import BLOCK_SAMPLES, square_sums_at
from mytalk.core.media.audio import AudioTrack
from mytalk.core.ndfilters import percentile_filter1d
from mytalk.core.ndfilters import uniform_filter1d as _uniform

# --- the whole-line reference: the analysis as it was before it went by blocks ---------------------


def _ref_bandpass(x: np.ndarray, rate: int, band: tuple[float, float]) -> np.ndarray:
    high = min(band[1], 0.45 * rate)
    if x.size <= 64 or high <= band[0]:
        return x
    return butter4_bandpass(x, rate, (band[0], high))


def _ref_energy(x: np.ndarray, offset: int, length: int) -> np.ndarray:
    padded = np.zeros(length)
    padded[offset : offset + x.size] = x
    return np.concatenate([[0.0], np.cumsum(padded**2)])


def _ref_mono(track: AudioTrack) -> np.ndarray:
    return np.asarray(track.mono().samples[0], np.float64)


def _ref_envelope(track: AudioTrack, fps: Fraction, num_frames: int) -> np.ndarray:
    x = _ref_bandpass(_ref_mono(track), track.rate, ENVELOPE_BAND_HZ)
    bounds = frame_bounds(track.rate, fps, num_frames)
    energy = _ref_energy(x, 0, max(int(bounds[-1]), x.size) + 1)
    counts = np.maximum(bounds[1:] - bounds[:-1], 1)
    rms = np.sqrt(np.maximum(energy[bounds[1:]] - energy[bounds[:-1]], 0.0) / counts)
    floor = max(float(rms.max()) if rms.size else 0.0, 1e-9) * 10 ** (-ENVELOPE_RANGE_DB / 20)
    return np.log(rms + floor)


def _ref_level(track: AudioTrack, band: tuple[float, float] = VAD_BAND_HZ) -> np.ndarray:
    x = _ref_bandpass(_ref_mono(track), track.rate, band)
    hop = max(1, int(round(LEVEL_HOP_S * track.rate)))
    win = max(hop, int(round(LEVEL_WIN_S * track.rate)))
    count = x.size // hop + 1
    energy = _ref_energy(x, win // 2, count * hop + win)
    starts = np.arange(count) * hop
    return 10 * np.log10(np.maximum((energy[starts + win] - energy[starts]) / win, 1e-12))


def _ref_probability(track: AudioTrack) -> np.ndarray:
    params = ActivityParams()
    level = _ref_level(track)
    real = level > DIGITAL_SILENCE_DB
    if level.size == 0 or not real.any():
        return np.zeros_like(level)
    global_floor = float(np.percentile(level[real], 10))
    speech = float(np.percentile(level[real], 95))
    base = np.where(real, level, float(np.percentile(level[real], 5)))
    window = max(3, int(round(NOISE_WINDOW_S / LEVEL_HOP_S)))
    running = percentile_filter(base, 10, size=min(window, base.size), mode="reflect")
    running = uniform_filter1d(running, max(1, window // 4), mode="reflect")
    floor = np.minimum(running, global_floor + 6.0)
    crossing = np.clip(params.threshold * (speech - global_floor), params.min_snr_db, params.max_snr_db)
    prob = 1.0 / (1.0 + np.exp(-(level - floor - crossing) / params.slope_db))
    prob[~real] = 0.0
    return prob


# --- test signals ----------------------------------------------------------------------------------


def _speechy(n: int, rate: int, channels: int = 1, seed: int = 0) -> AudioTrack:
    """Noise bursts at a syllable rate over room noise, a DC offset and a tone: the filter's state and
    the noise floor both matter, and the level crosses the voicing threshold often."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    gate = (np.sin(2 * np.pi * 3.1 * t) > 0.2).astype(np.float64)
    mono = 0.2 * gate * rng.standard_normal(n) + 0.002 * rng.standard_normal(n) + 0.05 + 0.03 * np.sin(t * 900)
    samples = np.stack([mono * (1.0 + 0.3 * c) + 0.01 * rng.standard_normal(n) * c for c in range(channels)])
    return AudioTrack(samples.astype(np.float32), rate)


def _all_equal(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.shape == reference.shape and ours.dtype == reference.dtype
    assert np.array_equal(ours, reference), float(np.nanmax(np.abs(ours - reference)))


LENGTHS = [0, 1, 27, 64, 65, 66, 100, 201, 202, 203, 456, 457, 458, 511, 512, 513, 2000, 4003]
"""Around the unfiltered limit (64 samples), the filter's padding (27) and the block boundaries of
`SMALL` blocks: the extended signal is n + 54 samples, so 202 and 458 end a block exactly."""

SMALL = 256


# --- the analysis functions ------------------------------------------------------------------------


@pytest.mark.parametrize("n", LENGTHS)
def test_level_envelope_and_probability_are_the_whole_lines(n: int) -> None:
    track = _speechy(n, 16000)
    fps = Fraction(25)
    frames = n * 25 // 16000 + 3  # a few frames past the end of the audio too
    _all_equal(band_level_db(track, block=SMALL), _ref_level(track))
    _all_equal(band_level_db(track, ENVELOPE_BAND_HZ, block=SMALL), _ref_level(track, ENVELOPE_BAND_HZ))
    _all_equal(envelope(track, fps, frames, block=SMALL), _ref_envelope(track, fps, frames))
    _all_equal(speech_probability_fine(track, block=SMALL), _ref_probability(track))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 600])
def test_every_rate(rate: int) -> None:
    """16 and 48 kHz use the stored sections and the exact loop; 22050 and 44100 the sections scipy
    designs; at 8 kHz the band is cut to 3.6 kHz; at 600 Hz there is no band left, so no filter."""
    track = _speechy(rate * 3 // 2 + 7, rate, seed=rate)
    fps = Fraction(30000, 1001)
    frames = 50
    _all_equal(band_level_db(track, block=997), _ref_level(track))
    _all_equal(envelope(track, fps, frames, block=997), _ref_envelope(track, fps, frames))
    _all_equal(speech_probability_fine(track, block=997), _ref_probability(track))


@pytest.mark.parametrize("channels", [2, 3, 6])
def test_several_channels_are_mixed_as_mono_does(channels: int) -> None:
    track = _speechy(3001, 16000, channels)
    for start, stop in [(0, 3001), (0, 1), (17, 1000), (999, 3001), (2999, 3001)]:
        _all_equal(_mono_reader(track)(start, stop), _ref_mono(track)[start:stop])
    _all_equal(envelope(track, Fraction(25), 6, block=300), _ref_envelope(track, Fraction(25), 6))
    _all_equal(speech_probability_fine(track, block=300), _ref_probability(track))


def test_silence() -> None:
    """Digital silence: a level of -120 dB, no speech, and a finite envelope."""
    track = AudioTrack(np.zeros((1, 5000), np.float32), 16000)
    _all_equal(band_level_db(track, block=SMALL), _ref_level(track))
    _all_equal(envelope(track, Fraction(25), 10, block=SMALL), _ref_envelope(track, Fraction(25), 10))
    probability = speech_probability_fine(track, block=SMALL)
    _all_equal(probability, _ref_probability(track))
    assert not probability.any()


def test_long_lines_go_through_scipy_in_default_blocks() -> None:
    """Past `LOOP_MAX_SAMPLES` each block is filtered by scipy's compiled sosfilt; with the default
    block size a 70 s line is five blocks."""
    track = _speechy(70 * 16000 + 3, 16000, channels=2)
    assert track.num_samples > 4 * BLOCK_SAMPLES
    _all_equal(envelope(track, Fraction(24000, 1001), 1680), _ref_envelope(track, Fraction(24000, 1001), 1680))
    _all_equal(speech_probability_fine(track), _ref_probability(track))


def test_block_size_does_not_change_the_result() -> None:
    track = _speechy(LOOP_MAX_SAMPLES + 1, 16000)
    reference = speech_probability_fine(track)
    for block in (331, 4096, LOOP_MAX_SAMPLES):
        _all_equal(speech_probability_fine(track, block=block), reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_frame_rms_is_the_whole_arrays(dtype: type) -> None:
    x = np.random.default_rng(3).normal(size=10_001).astype(dtype)
    fps = Fraction(30000, 1001)
    bounds = frame_bounds(16000, fps, 40)  # past the end of the samples
    energy = _ref_energy(np.asarray(x, np.float64), 0, max(int(bounds[-1]), x.size) + 1)
    reference = np.sqrt(np.maximum(energy[bounds[1:]] - energy[bounds[:-1]], 0.0)
                        / np.maximum(bounds[1:] - bounds[:-1], 1))
    _all_equal(frame_rms(x, 16000, fps, 40, block=123), reference)
    _all_equal(frame_rms(x, 16000, fps, 40), reference)


# --- the blocked band-pass -------------------------------------------------------------------------


def _blocked(x: np.ndarray, rate: int, band: tuple[float, float], block: int) -> np.ndarray:
    pieces = list(butter4_bandpass_blocks(lambda a, b: x[a:b].copy(), x.size, rate, band, block=block))
    assert all(0 < piece.size <= block for piece in pieces)
    return np.concatenate(pieces) if pieces else np.zeros(0)


@pytest.mark.parametrize("n", [28, 29, 45, 46, 47, 99, 100, 101, 146, 1000])
@pytest.mark.parametrize("block", [1, 7, 100])
def test_blocked_band_pass_is_sosfiltfilt(n: int, block: int) -> None:
    """Lengths just over scipy's padding (27) and around 100-sample blocks (the extended signal has
    n + 54 samples). 16 kHz runs the exact loop (compared with the whole-line loop, which
    tests/test_audio_bandpass.py compares with scipy); 22050 Hz runs scipy's sosfilt, compared with
    scipy's sosfiltfilt itself."""
    rng = np.random.default_rng(n)
    x = 0.05 * rng.standard_normal(n) + 0.3 + 0.2 * np.sin(np.arange(n) * 0.3)
    _all_equal(_blocked(x, 16000, VAD_BAND_HZ, block), butter4_bandpass(x, 16000, VAD_BAND_HZ))
    sos = butter(4, VAD_BAND_HZ, btype="bandpass", fs=22050, output="sos")
    _all_equal(_blocked(x, 22050, VAD_BAND_HZ, block), sosfiltfilt(sos, x))


def test_blocked_band_pass_of_a_long_line_is_scipys() -> None:
    x = np.random.default_rng(5).standard_normal(3 * BLOCK_SAMPLES + 11) + 0.5
    sos = np.array(bandpass.BUTTER4_BANDPASS_SOS[(16000, *ENVELOPE_BAND_HZ)])
    _all_equal(_blocked(x, 16000, ENVELOPE_BAND_HZ, BLOCK_SAMPLES), sosfiltfilt(sos, x))


def test_too_short_is_refused_like_scipy() -> None:
    with pytest.raises(ValueError):
        butter4_bandpass_blocks(lambda a, b: np.ones(b - a), 27, 16000, VAD_BAND_HZ)
    with pytest.raises(ValueError):
        butter4_bandpass_blocks(lambda a, b: np.ones(b - a), 100, 16000, VAD_BAND_HZ, block=0)


def test_dropping_the_carry_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above have teeth: a band-pass that restarted each block from rest, or running
    sums that restarted at each block, would give other numbers."""
    x = np.random.default_rng(6).standard_normal(1000) + 0.5
    whole = butter4_bandpass(x, 16000, VAD_BAND_HZ)
    _all_equal(_blocked(x, 16000, VAD_BAND_HZ, 64), whole)
    choose = bandpass._butter4_kernel

    def forgetful(rate: int, band: tuple[float, float], size: int) -> tuple[np.ndarray, bandpass.SosKernel]:
        sos, kernel = choose(rate, band, size)
        return sos, lambda samples, state: kernel(samples, np.zeros_like(state))

    monkeypatch.setattr(bandpass, "_butter4_kernel", forgetful)
    assert not np.array_equal(_blocked(x, 16000, VAD_BAND_HZ, 64), whole)
    monkeypatch.undo()

    restarted = np.concatenate([np.cumsum(np.square(x[a : a + 64])) for a in range(0, x.size, 64)])
    carried = square_sums_at((x[a : a + 64] for a in range(0, x.size, 64)), np.arange(1, x.size + 1))
    _all_equal(carried, np.cumsum(np.square(x)))
    assert not np.array_equal(restarted, carried)


# --- running sums and running statistics -----------------------------------------------------------


def _pieces(x: np.ndarray, sizes: list[int]) -> Iterator[np.ndarray]:
    start = 0
    for size in sizes:
        yield x[start : start + size]
        start += size
    yield x[start:]


def test_square_sums_are_one_cumsum() -> None:
    x = np.random.default_rng(7).normal(size=5000)
    reference = np.concatenate([[0.0], np.cumsum(x**2)])
    counts = np.array([[0, 0, 1, 2, 63, 64, 65, 4999, 5000, 5000, 7000],
                       [3, 3, 100, 100, 200, 1000, 1001, 2000, 3000, 4000, 5001]])
    expected = reference[np.minimum(counts, x.size)]
    _all_equal(square_sums_at(_pieces(x, [1, 0, 63, 1000, 1]), counts), expected)
    _all_equal(square_sums_at(_pieces(x, [5000]), counts[1]), expected[1])
    _all_equal(square_sums_at(iter([]), counts[0]), np.zeros(counts.shape[1]))
    with pytest.raises(ValueError):
        square_sums_at(_pieces(x, [10]), np.array([5, 4]))


def test_running_floor_filters_are_scipys() -> None:
    """Rank selection and scipy's running sum, in numpy: odd and even sizes, sizes longer than the
    values (the reflection repeats), ties, and the sizes the voice activity uses (300 and 75)."""
    rng = np.random.default_rng(8)
    for trial in range(150):
        n = int(rng.integers(1, 700))
        values = rng.normal(size=n) * 20 - 50
        if trial % 3 == 0:
            values = np.round(values / 5) * 5
        for size in {1, 2, 3, 4, 75, 300, int(rng.integers(1, 2 * n + 5))}:
            clipped = min(size, n)
            _all_equal(percentile_filter1d(values, 10, clipped),
                       percentile_filter(values, 10, size=clipped, mode="reflect"))
            _all_equal(_uniform(values, size), uniform_filter1d(values, size, mode="reflect"))
        for percentile in (0, 50, 100):
            _all_equal(percentile_filter1d(values, percentile, min(9, n)),
                       percentile_filter(values, percentile, size=min(9, n), mode="reflect"))


# --- memory and imports ----------------------------------------------------------------------------


def _peak_bytes(function: Callable[..., object], *args: object) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        function(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_line() -> None:
    """A line eight times longer needs no more than its longer per-10 ms results: the whole-line
    analysis grew by about 30 MB a minute (its float64 copies). Both lines are several whole blocks long,
    so the blocks in flight are the same size in both."""
    short, long = _speechy(3 * BLOCK_SAMPLES, 16000), _speechy(24 * BLOCK_SAMPLES, 16000)
    growth = _peak_bytes(speech_probability_fine, long) - _peak_bytes(speech_probability_fine, short)
    per_hop_values = (long.num_samples - short.num_samples) // 160
    assert growth < 12 * 8 * per_hop_values, growth  # a dozen float64 values per 10 ms, at most
    frames_short, frames_long = short.num_samples // 640, long.num_samples // 640
    growth = (_peak_bytes(envelope, long, Fraction(25), frames_long)
              - _peak_bytes(envelope, short, Fraction(25), frames_short))
    assert growth < 1_000_000, growth


@pytest.mark.parametrize("seconds", [2, 30])
def test_voice_activity_imports_no_scipy_package(seconds: int) -> None:
    """Voice activity and envelope, of a short line or one past `LOOP_MAX_SAMPLES`, run without scipy.signal
    (0.7 s and 75 MB to import), scipy.stats or scipy.ndimage: only scipy's top package and the compiled
    filter loop (`mytalk.core.audio.compiled_sosfilt`)."""
    loaded = modules_loaded_by(
        "from fractions import Fraction\n"
        "import numpy as np\n"
        "from mytalk.core.audio.activity import envelope, voiced_frames\n"
        "from mytalk.core.media.audio import AudioTrack\n"
        f"track = AudioTrack(np.random.default_rng(0).standard_normal((1, {seconds * 16000})).astype(np.float32) * 0.1, 16000)\n"
        f"voiced_frames(track, Fraction(25), {seconds * 25}); envelope(track, Fraction(25), {seconds * 25})\n")
    packages = {"scipy.signal", "scipy.stats", "scipy.ndimage", "scipy.interpolate"}
    heavy = [m for m in loaded if ".".join(m.split(".")[:2]) in packages and m != "scipy.signal._sosfilt"]
    assert heavy == [], heavy
