"""Zero-phase polyphase resampling by a rational factor, in numpy alone.

Why not `scipy.signal.resample_poly`: importing scipy.signal costs about 0.6 s (it pulls in
scipy.stats), and every job resamples its line to the output rate, so that import was a third of a
one-frame job. This module computes the same filter and the same output grid as resample_poly's
defaults (a Kaiser-windowed sinc low-pass, beta 5, 10 zero crossings per side of the slower rate,
zero padding, no delay) in a few vectorised numpy steps; the tests compare it with scipy's.

The filter is applied polyphase: each output sample needs only the taps that land on input
samples (about 20 of them), never the zero-stuffed upsampled signal, so 44.1 → 48 kHz (up 160)
costs no more memory than the output itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import gcd

import numpy as np

KAISER_BETA = 5.0
"""Kaiser window shape of the anti-aliasing filter (resample_poly's default)."""

ZERO_CROSSINGS = 10
"""Half-length of the filter, in periods of the slower of the two rates (resample_poly's default)."""


def lowpass_taps(up: int, down: int) -> np.ndarray:
    """(2·half + 1,) float64 windowed-sinc low-pass with cut-off at the slower rate's Nyquist, gain `up`."""
    max_rate = max(up, down)
    half = ZERO_CROSSINGS * max_rate
    cutoff = 1.0 / max_rate
    m = np.arange(2 * half + 1, dtype=np.float64) - half
    taps = cutoff * np.sinc(cutoff * m) * np.kaiser(2 * half + 1, KAISER_BETA)
    return taps / taps.sum() * up


BLOCK_OUTPUTS = 1 << 17
"""Output samples computed at once (2.7 s at 48 kHz, 8 s at 16 kHz): a ten-minute line costs its output
and one block, and each numpy step still covers a hundred thousand samples. A block's work is several
float64 arrays of its size and of its input's (three times larger from 48 to 16 kHz): at 1 << 19 that
was 40 MB held while a long line was mixed down to 16 kHz, against a third of it for a 10 s line,
the largest step between a short range's peak memory and a long one's."""


PHASE_DOTS_FROM_UP = 16
"""Ratios whose upsampling factor is at least this (44.1 <-> 48 or 16 kHz: 147 or 160) are filtered a phase at
a time (`_phase_dots`); smaller ones (16 <-> 48 kHz: 3 or 1) a tap at a time over all rows (`_tap_sums`),
which is faster for them: few phases, long rows."""

PHASE_DOT_VALUES = 1 << 16
"""Products held at once by `_phase_dots` (512 KB of float64)."""


def resample_poly_1d(x: np.ndarray, up: int, down: int, dtype: type | np.dtype = np.float64,
                     block: int | None = None) -> np.ndarray:
    """`x` (n,) resampled by up/down: ceil(n·up/down) samples of `dtype`, sample 0 at the same instant.

    Computed `block` output samples at a time in float64 (then stored as `dtype`), so a ten-minute line
    costs its output and a block of work, not several float64 copies of itself.
    """
    x = np.asarray(x)
    return resample_read(lambda lo, hi: x[lo:hi], x.shape[0], up, down, dtype, block)


def resample_read(read: Callable[[int, int], np.ndarray], n_in: int, up: int, down: int,
                  dtype: type | np.dtype = np.float64, block: int | None = None) -> np.ndarray:
    """`resample_poly_1d` of a signal of `n_in` samples that is read a window at a time: `read(lo, hi)`
    gives samples [lo, hi). A signal made on the fly (a stereo line's mono mix) is then never made whole:
    each block of output reads only the input its taps cover, and the numbers are the same.
    `block`: output samples per step (default `BLOCK_OUTPUTS`)."""
    out = np.empty(resampled_length(n_in, up, down), dtype)
    for start, values in resample_blocks(read, n_in, up, down, block):
        out[start : start + values.size] = values
    return out


def resample_blocks(read: Callable[[int, int], np.ndarray], n_in: int, up: int, down: int,
                    block: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """`resample_read`'s output a block at a time, as (index of the block's first sample, float64 values):
    a consumer that stores or converts each block (a line spooled to disk, 16-bit PCM for the phone
    recogniser) never holds the whole output. The values are `resample_read`'s, bit for bit."""
    block = BLOCK_OUTPUTS if block is None else block
    divisor = gcd(up, down)
    up, down = up // divisor, down // divisor
    if up == down == 1:
        for lo in range(0, n_in, block):
            yield lo, np.asarray(read(lo, min(n_in, lo + block)), np.float64)
        return
    n_out = -(-n_in * up // down)
    taps = lowpass_taps(up, down)
    half = (taps.size - 1) // 2
    # Output k sits at upsampled position k·down; the filter is centred on it, so it reads the
    # upsampled signal at k·down + half - j for tap j. Only positions divisible by `up` hold input.
    # Outputs k and k + up use the same taps on inputs `down` apart, so each of the `up` output
    # phases is a strided slice of the input per tap: no per-sample gathers.
    blocks = -(-n_out // up)
    first = np.arange(up, dtype=np.int64) * down + half
    phase, base = first % up, first // up
    per_phase = -(-taps.size // up)
    padded_taps = np.zeros(per_phase * up)
    padded_taps[: taps.size] = taps
    bank = padded_taps.reshape(per_phase, up).T  # bank[p, i] = taps[p + up·i]
    # Input index for tap i of output row b is base - i + b·down; outside the signal it reads zero.
    rows = max(1, block // up)
    low, high = int(base.min()) - (per_phase - 1), int(base.max())
    for b0 in range(0, blocks, rows):
        b1 = min(blocks, b0 + rows)
        seg_lo, seg_hi = low + b0 * down, high + (b1 - 1) * down + 1
        segment = np.zeros(seg_hi - seg_lo)
        src_lo, src_hi = max(0, seg_lo), min(n_in, seg_hi)
        if src_hi > src_lo:
            segment[src_lo - seg_lo : src_hi - seg_lo] = read(src_lo, src_hi)
        work = (_phase_dots if up >= PHASE_DOTS_FROM_UP else _tap_sums)(segment, bank, phase, base - low, b1 - b0, down)
        yield b0 * up, work.reshape(-1)[: max(0, n_out - b0 * up)]


def _tap_sums(segment: np.ndarray, bank: np.ndarray, phase: np.ndarray, start: np.ndarray, rows: int,
              down: int) -> np.ndarray:
    """(rows, up) outputs of one block, a tap at a time: for each phase, every row's tap i is added in
    turn (i = 0, 1, ...), each step one numpy operation over all the rows. `start[r]`: where phase r's
    tap 0 reads the segment for row 0; row b reads `down` samples further on."""
    up, per_phase = bank.shape
    work = np.zeros((rows, up))
    span = (rows - 1) * down + 1
    for r in range(up):
        for i in range(per_phase):
            at = int(start[r]) - i
            work[:, r] += bank[phase[r], i] * segment[at : at + span : down]
    return work


def _phase_dots(segment: np.ndarray, bank: np.ndarray, phase: np.ndarray, start: np.ndarray, rows: int,
                down: int) -> np.ndarray:
    """`_tap_sums`, a phase at a time: each row's taps are one dot product, the row's inputs seen in place
    (a strided view, no copy) times the phase's taps, summed along the row.

    `_tap_sums` makes `up × taps per phase` numpy calls per block, each over `rows = block / up` values:
    for 44.1 → 16 kHz (up 160, 56 taps a phase) that is 8,960 calls on 819 values, where the calls, not the
    arithmetic, were the cost (0.25-0.27 s a minute of sound, most of decoding a 44.1 kHz clip's own sound
    for learning). Here it is one product and one sum per phase and chunk: 0.10-0.11 s a minute
    (`benchmarks/bench_audio.py --resampling`). Each row is summed on its own, in an order fixed by the
    number of taps alone, so neither the block nor the chunk changes a bit. The float64 values differ from
    `_tap_sums`'s in the last bits (another summation order); rounded to what every caller keeps (float32
    samples, or the 16-bit PCM the phone recogniser reads), they were the same on 68 s of the shared
    cutaway clip's sound at eight ratios (session 35), and the tests check the float32 on its first 8 s and
    on noise (`tests/test_media_resample.py`)."""
    up, per_phase = bank.shape
    reversed_bank = bank[:, ::-1].copy()  # a row's inputs are read forwards; tap i reads `i` samples back
    work = np.empty((rows, up))
    chunk = max(1, PHASE_DOT_VALUES // per_phase)
    step = segment.itemsize
    for r in range(up):
        first = int(start[r]) - (per_phase - 1)
        taps = reversed_bank[phase[r]]
        for c0 in range(0, rows, chunk):
            c1 = min(rows, c0 + chunk)
            inputs = np.lib.stride_tricks.as_strided(segment[first + c0 * down :], shape=(c1 - c0, per_phase),
                                                     strides=(down * step, step), writeable=False)
            work[c0:c1, r] = (inputs * taps).sum(axis=1)
    return work


def resampler_reach(up: int, down: int) -> int:
    """Input samples either side of an output sample's own position that its value can depend on."""
    divisor = gcd(up, down)
    up, down = up // divisor, down // divisor
    half = ZERO_CROSSINGS * max(up, down)
    return half // up + 2


def resample_poly(samples: np.ndarray, up: int, down: int, dtype: type | np.dtype = np.float64) -> np.ndarray:
    """(channels, n) or (n,) samples resampled by up/down along the last axis, as `dtype`."""
    data = np.asarray(samples)
    if data.ndim == 1:
        return resample_poly_1d(data, up, down, dtype)
    flat = data.reshape(-1, data.shape[-1])
    if flat.shape[0] == 0:
        return np.zeros((*data.shape[:-1], resampled_length(data.shape[-1], up, down)), dtype)
    first = resample_poly_1d(flat[0], up, down, dtype)
    out = np.empty((flat.shape[0], first.size), dtype)
    out[0] = first
    for k in range(1, flat.shape[0]):
        out[k] = resample_poly_1d(flat[k], up, down, dtype)
    return out.reshape(*data.shape[:-1], out.shape[-1])


def resampled_length(n_in: int, up: int, down: int) -> int:
    """Samples out of `resample_poly` for `n_in` in: ceil(n_in·up/down) with up/down reduced."""
    divisor = gcd(up, down)
    return -(-n_in * (up // divisor) // (down // divisor))
