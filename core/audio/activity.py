"""Voice activity per video frame, pauses, and the evaluation's AV-lag envelope.

The mouth must close in real pauses and stay moving between syllables. Level alone cannot tell
the two apart (a stop consonant's closure is as quiet as a pause for 50-100 ms), so activity is
decided in three steps:

1. level: log energy of the 300-4000 Hz band (where speech has its energy and room rumble, hum
   and hiss mostly do not) every 10 ms, zero-phase filtered so no delay creeps in;
2. probability: the level's height above an adaptive noise floor (a running low percentile), on a
   scale set by the recording's own speech level, through a logistic curve: the same rule works
   at 60 dB SNR and at 10 dB SNR;
3. decision: hysteresis (on above 0.6, off below 0.4), then pauses shorter than ``min_pause_s``
   are filled and bursts shorter than ``min_voiced_s`` are dropped.

Frame n covers the samples [floor(n * rate / fps), floor((n + 1) * rate / fps)) (exact rational
arithmetic, as in the evaluation suite), and sample 0 is the start of frame 0.

A line is read, band-passed and summed a block at a time (`core.audio.blocks`), so the memory of
the level, the envelope and the probability is that of a few blocks plus their per-frame or
per-10 ms results, whatever the line's length; the results are those of the whole-line arithmetic
bit for bit (tests/test_audio_activity_blocks.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from mytalk.core.audio.bandpass import butter4_bandpass_blocks
from mytalk.core.audio.blocks import BLOCK_SAMPLES, square_sums_at
from mytalk.core.audio.features import resample_to_frames
from mytalk.core.media.audio import AudioTrack
from mytalk.core.ndfilters import percentile_filter1d, uniform_filter1d

LEVEL_HOP_S = 0.010
"""Level analysis hop (s): pauses are located to 10 ms."""

LEVEL_WIN_S = 0.025

DIGITAL_SILENCE_DB = -100.0
"""Band level under this (dBFS) is digital silence, not room tone."""

VAD_BAND_HZ = (300.0, 4000.0)
ENVELOPE_BAND_HZ = (1000.0, 4000.0)
"""The evaluation's AV-lag band: consonant bursts and formant energy give a clean correlation peak."""

ENVELOPE_RANGE_DB = 60.0
"""The envelope is floored 60 dB under its loudest frame, as in the evaluation suite."""

NOISE_WINDOW_S = 3.0
"""The noise floor is the 10th percentile of the level over a sliding window this long: long enough
to always contain a pause in normal speech, short enough to follow a noise that changes."""


@dataclass(frozen=True)
class ActivityParams:
    """Knobs of the voice-activity decision.

    threshold: where the logistic curve crosses 0.5, as a share of the way from the noise floor to
        the speech level (dB scale). 0.3 keeps weak fricatives and word ends voiced.
    min_snr_db / max_snr_db: that crossing point is kept within these many dB above the floor, so a
        clean studio line (60 dB range) does not demand loud speech, and a noisy one does not take
        noise bursts for speech.
    slope_db: width of the logistic curve (dB per e-fold).
    on / off: hysteresis thresholds on the probability.
    min_pause_s: unvoiced runs shorter than this (stop closures, syllable gaps) count as voiced.
    min_voiced_s: voiced runs shorter than this (clicks, a cough of noise) count as unvoiced.
    """

    threshold: float = 0.3
    min_snr_db: float = 6.0
    max_snr_db: float = 20.0
    slope_db: float = 2.0
    on: float = 0.6
    off: float = 0.4
    min_pause_s: float = 0.15
    min_voiced_s: float = 0.06


def _mono_reader(track: AudioTrack) -> Callable[[int, int], np.ndarray]:
    """Reads samples [start, stop) of ``track.mono()`` as float64, without mixing the whole line down.

    The mix is ``AudioTrack.mono``'s (float64 mean over the channels, rounded to float32) taken on a
    slice; the mean runs across the channels sample by sample, so a slice gets the same values.
    """
    samples = track.samples
    if samples.shape[0] == 1:
        return lambda start, stop: samples[0, start:stop].astype(np.float64)
    return lambda start, stop: (
        samples[:, start:stop].mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)[0].astype(np.float64))


def _bandpass_blocks(track: AudioTrack, band: tuple[float, float], block: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
    """The mono line, zero-phase 4th-order Butterworth band-passed (forwards and backwards: no delay),
    as consecutive float64 blocks of at most `block` samples."""
    read, size, rate = _mono_reader(track), track.num_samples, track.rate
    high = min(band[1], 0.45 * rate)
    if size <= 64 or high <= band[0]:
        return (read(start, min(start + block, size)) for start in range(0, size, block))
    # Not scipy.signal directly: it costs 0.6 s to import (it pulls scipy.stats), most of a short
    # job; `butter4_bandpass_blocks` gives scipy's result bit for bit without it for a short line
    # (see `core.audio.bandpass`).
    return butter4_bandpass_blocks(read, size, rate, (band[0], high), block=block)


def _array_blocks(samples: np.ndarray, block: int) -> Iterator[np.ndarray]:
    """A 1-D array as float64 blocks, so a float32 line is not converted whole."""
    for start in range(0, samples.size, block):
        yield np.asarray(samples[start : start + block], np.float64)


def frame_bounds(rate: int, fps: Fraction, num_frames: int) -> np.ndarray:
    """Sample index where each frame starts, plus the end of the last: (num_frames + 1,) int64."""
    fps = Fraction(fps)
    n = np.arange(num_frames + 1, dtype=object)
    return np.array((n * (rate * fps.denominator)) // fps.numerator, dtype=np.int64)


def frame_rms(samples: np.ndarray, rate: int, fps: Fraction, num_frames: int,
              *, block: int = BLOCK_SAMPLES) -> np.ndarray:
    """RMS of each video frame's own samples: (num_frames,) float64; 0 past the end of the audio."""
    x = np.asarray(samples).reshape(-1)
    return _frame_rms_blocks(_array_blocks(x, block), x.size, rate, fps, num_frames)


def _frame_rms_blocks(blocks: Iterator[np.ndarray], size: int, rate: int, fps: Fraction,
                      num_frames: int) -> np.ndarray:
    """`frame_rms` of a line given as consecutive blocks of `size` samples in all."""
    bounds = frame_bounds(rate, fps, num_frames)
    # The running energy at each bound; past the end of the audio it stays at the line's total.
    energy = square_sums_at(blocks, np.minimum(bounds, size))
    counts = np.maximum(bounds[1:] - bounds[:-1], 1)
    return np.sqrt(np.maximum(energy[1:] - energy[:-1], 0.0) / counts)


def _cumulative_energy(x: np.ndarray, offset: int, length: int) -> np.ndarray:
    """(length + 1,) running sum of squares of `x` placed at `offset` in `length` zeros, from 0.

    The whole array, which the analysis no longer builds (it looks the sums up where it needs them,
    `square_sums_at`); kept as the plain statement of what those sums are, for the tests."""
    counts = np.clip(np.arange(length + 1) - offset, 0, x.size)
    return square_sums_at(_array_blocks(np.asarray(x).reshape(-1), BLOCK_SAMPLES), counts)


def envelope(track: AudioTrack, fps: Fraction, num_frames: int, *, block: int = BLOCK_SAMPLES) -> np.ndarray:
    """The evaluation's AV-lag envelope: natural log RMS of 1-4 kHz band-passed audio per frame.

    Shape (num_frames,). The RMS is taken over each frame's own samples and floored 60 dB under the
    loudest frame, so digital silence is finite. Same definition as `benchmarks.eval.metrics
    .audio_envelope`, so a driver can measure its lag the way the evaluation will. `block`: samples
    read and filtered at a time (`core.audio.blocks`); it changes the memory, not the result.
    """
    blocks = _bandpass_blocks(track, ENVELOPE_BAND_HZ, block)
    rms = _frame_rms_blocks(blocks, track.num_samples, track.rate, fps, num_frames)
    peak = float(rms.max()) if rms.size else 0.0
    floor = max(peak, 1e-9) * 10 ** (-ENVELOPE_RANGE_DB / 20)
    return np.log(rms + floor)


def band_level_db(track: AudioTrack, band: tuple[float, float] = VAD_BAND_HZ, *,
                  block: int = BLOCK_SAMPLES) -> np.ndarray:
    """Band-passed level in dBFS every 10 ms (25 ms windows centred on k * 10 ms): (T,) float64.

    `block`: as for `envelope`.
    """
    rate, size = track.rate, track.num_samples
    hop = max(1, int(round(LEVEL_HOP_S * rate)))
    win = max(hop, int(round(LEVEL_WIN_S * rate)))
    count = size // hop + 1
    # Window k covers the samples [k * hop - win // 2, k * hop - win // 2 + win) of the line, with
    # zeros before its start and after its end: its energy is a difference of two running sums.
    starts = np.arange(count) * hop - win // 2
    energy = square_sums_at(_bandpass_blocks(track, band, block),
                            np.clip(np.stack([starts, starts + win]), 0, size))
    ms = (energy[1] - energy[0]) / win
    return 10 * np.log10(np.maximum(ms, 1e-12))


def _running_floor(level: np.ndarray, window: int) -> np.ndarray:
    """Running 10th percentile of the level over ``window`` samples, smoothed: (T,) dB.

    A percentile rather than a minimum: noise level fluctuates by a few dB, and a minimum would
    sit under the noise's typical level and take the noise itself for weak speech.
    """
    if level.size == 0:
        return level
    # scipy.ndimage's percentile_filter and uniform_filter1d (reflect mode) to the bit, in numpy: a
    # short job that needs nothing else from scipy.ndimage does not pay 0.3 s to import it.
    floor = percentile_filter1d(level, 10, min(window, level.size))
    return uniform_filter1d(floor, max(1, window // 4))


def speech_probability_fine(track: AudioTrack, params: ActivityParams = ActivityParams(), *,
                            block: int = BLOCK_SAMPLES) -> np.ndarray:
    """Speech probability every 10 ms (sample k at k * 10 ms): (T,) float64 in [0, 1].

    `block`: as for `envelope`.
    """
    level = band_level_db(track, block=block)
    # Digital silence (zero padding, muted edits) is no noise floor: it would drag the floor to
    # -120 dB and make the room tone next to it look like speech.
    real = level > DIGITAL_SILENCE_DB
    if level.size == 0 or not real.any():
        return np.zeros_like(level)
    global_floor = float(np.percentile(level[real], 10))
    speech = float(np.percentile(level[real], 95))
    base = np.where(real, level, float(np.percentile(level[real], 5)))
    window = max(3, int(round(NOISE_WINDOW_S / LEVEL_HOP_S)))
    # The running floor follows noise that changes; capping it near the global floor keeps it off
    # the speech in a line with no pause for several seconds.
    floor = np.minimum(_running_floor(base, window), global_floor + 6.0)
    span = speech - global_floor
    crossing = np.clip(params.threshold * span, params.min_snr_db, params.max_snr_db)
    prob = 1.0 / (1.0 + np.exp(-(level - floor - crossing) / params.slope_db))
    prob[~real] = 0.0
    return prob


def bool_runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, end, value) for each run of equal values in a bool array: the voiced stretches and the
    pauses of a voice-activity mask, here and in the guide's alignment (`alignment.anchor_pauses`)."""
    if mask.size == 0:
        return []
    change = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [mask.size]])
    return [(int(s), int(e), bool(mask[s])) for s, e in zip(starts, ends, strict=True)]


def _hysteresis(prob: np.ndarray, on: float, off: float) -> np.ndarray:
    out = np.zeros(prob.size, bool)
    state = False
    # Vectorised would need a scan; the sequence is 100 values/s, so a plain loop is fast enough.
    for i, p in enumerate(prob.tolist()):
        state = p >= on if not state else p > off
        out[i] = state
    return out


def _clean_runs(mask: np.ndarray, min_pause: int, min_voiced: int) -> np.ndarray:
    """Fill short inner pauses, then drop short voiced bursts. Leading/trailing silence is kept."""
    out = mask.copy()
    for start, end, value in bool_runs(out):
        if not value and end - start < min_pause and start > 0 and end < out.size:
            out[start:end] = True
    for start, end, value in bool_runs(out):
        if value and end - start < min_voiced:
            out[start:end] = False
    return out


def voiced_fine(track: AudioTrack, params: ActivityParams = ActivityParams()) -> np.ndarray:
    """Voiced decision every 10 ms: (T,) bool, after hysteresis and run-length cleaning."""
    prob = speech_probability_fine(track, params)
    mask = _hysteresis(prob, params.on, params.off)
    return _clean_runs(
        mask,
        max(1, int(round(params.min_pause_s / LEVEL_HOP_S))),
        max(1, int(round(params.min_voiced_s / LEVEL_HOP_S))),
    )


def speech_probability(
    track: AudioTrack, fps: Fraction, num_frames: int, params: ActivityParams = ActivityParams()
) -> np.ndarray:
    """Soft speech probability per video frame: (num_frames,) float32 in [0, 1].

    The 10 ms probability averaged over the frame's interval; 0 past the end of the audio.
    """
    prob = speech_probability_fine(track, params)
    if prob.size == 0:
        return np.zeros(num_frames, np.float32)
    # Sample k of the fine sequence is centred on k * 10 ms (windows are centred, see band_level_db).
    return np.clip(resample_to_frames(prob, LEVEL_HOP_S, fps, num_frames, fill=0.0), 0, 1).astype(np.float32)


def voiced_frames(
    track: AudioTrack, fps: Fraction, num_frames: int, params: ActivityParams = ActivityParams()
) -> np.ndarray:
    """Voice activity per video frame: (num_frames,) bool.

    A frame is voiced when at least 40 % of its interval is voiced at 10 ms resolution, so a
    pause that starts in the middle of a frame shows from the next frame, and a one-frame
    bilabial closure inside a word stays voiced (the mouth moves there; it is not a pause).
    """
    fine = voiced_fine(track, params).astype(np.float64)
    if fine.size == 0:
        return np.zeros(num_frames, bool)
    share = resample_to_frames(fine, LEVEL_HOP_S, fps, num_frames, fill=0.0)
    return share >= 0.4


def find_pauses(
    track: AudioTrack,
    *,
    min_pause_s: float = 0.12,
    edge_guard_s: float = 0.15,
    params: ActivityParams = ActivityParams(),
) -> list[tuple[float, float]]:
    """Pauses between words as (start_s, end_s), in time order.

    A pause is an unvoiced run of at least ``min_pause_s`` that lies between two voiced stretches
    and more than ``edge_guard_s`` from either end of the track (leading and trailing silence is not
    a pause between words).
    """
    mask = voiced_fine(track, replace(params, min_pause_s=min(params.min_pause_s, min_pause_s)))
    duration = track.duration_s
    pauses: list[tuple[float, float]] = []
    for start, end, value in bool_runs(mask):
        if value or start == 0 or end == mask.size:
            continue
        # Sample k is centred on k * 10 ms; the run spans the half-hops around its samples.
        start_s, end_s = (start - 0.5) * LEVEL_HOP_S, (end - 0.5) * LEVEL_HOP_S
        if end_s - start_s >= min_pause_s and start_s > edge_guard_s and end_s < duration - edge_guard_s:
            pauses.append((max(0.0, start_s), min(duration, end_s)))
    return pauses
