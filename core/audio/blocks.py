"""Audio analysis in bounded memory: a line's samples taken a block at a time.

A replacement line can be ten minutes long (9.6 million samples at 16 kHz). The voice activity and
the AV-lag envelope used to band-pass it whole and sum its energy whole, holding several float64
copies of the line at once, so the job's memory grew with the line. What they compute is sequential
anyway (a filter recurrence, a running sum), so it is done here a block at a time with the running
value carried from one block to the next: the same additions in the same order, so the results are
the same to the last bit, and the memory is a few blocks whatever the length (the band-pass
itself is `core.audio.bandpass.butter4_bandpass_blocks`).

- `square_sums_at`: the running sum of squares of a stream of blocks, looked up at given counts.
The per-10 ms level's running floor uses `core.ndfilters`' exact percentile and uniform filters.
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
