"""Audio analysis in bounded memory: a line's samples taken a block at a time.

A replacement line can be ten minutes long (9.6 million samples at 16 kHz). The voice activity and
the AV-lag envelope used to band-pass it whole and sum its energy whole, holding several float64
copies of the line at once, so the job's memory grew with the line. What they compute is sequential
anyway (a filter recurrence, a running sum), so it is done here a block at a time with the running
value carried from one block to the next: the same additions in the same order, so the results are
the same to the last bit, and the memory is a few blocks whatever the length (the band-pass
itself is `core.audio.bandpass.butter4_bandpass_blocks`).

- `square_sums_at`: the running sum of squares of a stream of blocks, looked up at given counts;
- `running_percentile`, `running_mean`: scipy.ndimage's reflect-mode percentile and uniform filters
  of the per-10 ms level, to the bit, in numpy and in bounded pieces.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

BLOCK_SAMPLES = 1 << 18
"""Samples per block (16 s at 16 kHz; 2 MB in float64). A few blocks are live at a time (about 12 MB
in all), whatever the line's length. It is more than `bandpass.LOOP_MAX_SAMPLES` plus the filter's
padding, so a line short enough for the exact Python loop is filtered in one block, each way once:
a line of two blocks costs three passes forwards and two backwards (`bandpass._checkpointed_passes`),
which the loop cannot afford."""


def square_sums_at(blocks: Iterable[np.ndarray], counts: np.ndarray) -> np.ndarray:
    """Sum of the squares of the stream's first ``counts[..., i]`` samples, for each i: float64, shaped like `counts`.

    `counts` is 1-D, or 2-D with one series per row; each series must be non-decreasing (it is a
    sweep through the line), so the sums are picked out while the running sum passes by, without
    sorting. The running sum is ``np.cumsum`` of the squares, continued across blocks by adding the
    previous total to a block's first square, so every sum is formed by the same additions in the
    same order as one ``np.cumsum`` over the whole stream. A count past the end gives the total; 0 gives 0.
    """
    wanted = np.atleast_2d(np.asarray(counts, np.int64))
    if wanted.ndim != 2 or np.any(np.diff(wanted, axis=1) < 0):
        raise ValueError("counts must be one or more non-decreasing series")
    found = np.zeros(wanted.shape, np.float64)
    total, done = 0.0, 0
    for samples in blocks:
        if samples.size == 0:
            continue
        sums = np.square(np.asarray(samples, np.float64))
        sums[0] += total
        np.cumsum(sums, out=sums)
        for row, out in zip(wanted, found, strict=True):
            lo, hi = np.searchsorted(row, [done + 1, done + sums.size + 1])
            out[lo:hi] = sums[row[lo:hi] - done - 1]
        total, done = float(sums[-1]), done + sums.size
    for row, out in zip(wanted, found, strict=True):
        out[np.searchsorted(row, done + 1):] = total
    return found.reshape(np.shape(counts))


def _reflected(values: np.ndarray, size: int) -> np.ndarray:
    """`values` extended for a centred window of `size`: scipy.ndimage's "reflect" mode (d c b a | a b c d |
    d c b a), which is numpy's "symmetric" padding, repeated when the window is longer than the values."""
    return np.pad(values, (size // 2, size - size // 2 - 1), mode="symmetric")


def running_percentile(values: np.ndarray, percentile: float, size: int) -> np.ndarray:
    """``scipy.ndimage.percentile_filter(values, percentile, size, mode="reflect")`` of a 1-D float64 array.

    In numpy, so the voice activity of a short line does not import scipy.ndimage (0.3 s). The
    value at each point is an element of its window picked by rank (scipy's rank: the window size
    times the percentile, truncated), so any exact selection gives scipy's value; the windows are
    ranked a block of rows at a time so their copies stay small.
    """
    values = np.asarray(values, np.float64)
    if not 0.0 <= percentile <= 100.0 or size < 1:
        raise ValueError(f"percentile must be in [0, 100] and size at least 1 (got {percentile}, {size})")
    rank = size - 1 if percentile == 100.0 else int(float(size) * percentile / 100.0)
    windows = np.lib.stride_tricks.sliding_window_view(_reflected(values, size), size)
    out = np.empty(values.size, np.float64)
    rows = max(1, BLOCK_SAMPLES // size)
    for start in range(0, values.size, rows):
        out[start : start + rows] = np.partition(windows[start : start + rows], rank, axis=1)[:, rank]
    return out


def running_mean(values: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(values, size, mode="reflect")`` of a 1-D float64 array, bit for bit.

    scipy keeps a running sum (the first window summed in order from 0.0, then each step adds the
    sample entering minus the one leaving) and divides each sum by the size; ``np.cumsum`` over the
    first sum followed by those differences makes the same additions in the same order.
    """
    values = np.asarray(values, np.float64)
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    if values.size == 0:
        return values.copy()
    ext = _reflected(values, size)
    steps = np.empty(values.size, np.float64)
    steps[0] = np.cumsum(np.concatenate([[0.0], ext[:size]]))[-1]
    np.subtract(ext[size : size + values.size - 1], ext[: values.size - 1], out=steps[1:])
    return np.cumsum(steps) / size
