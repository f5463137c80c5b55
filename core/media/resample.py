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


def resample_poly_1d(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """`x` (n,) float64 resampled by up/down: ceil(n·up/down) samples, sample 0 at the same instant."""
    divisor = gcd(up, down)
    up, down = up // divisor, down // divisor
    x = np.asarray(x, np.float64)
    if up == down == 1:
        return x.copy()
    n_in = x.shape[0]
    n_out = -(-n_in * up // down)
    taps = lowpass_taps(up, down)
    half = (taps.size - 1) // 2
    # Output k sits at upsampled position k·down; the filter is centred on it, so it reads the
    # upsampled signal at k·down + half - j for tap j. Only positions divisible by `up` hold input.
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
    # Input index for tap i is base - i (+ blocks·down); zeros on both sides stand for the signal's outside.
    lead = per_phase
    tail = max(0, int(base.max()) + (blocks - 1) * down + 1 - n_in)
    padded_x = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    out = np.zeros((blocks, up))
    span = (blocks - 1) * down + 1
    for r in range(up):
        for i in range(per_phase):
            start = int(base[r]) + lead - i
            out[:, r] += bank[phase[r], i] * padded_x[start : start + span : down]
    return out.reshape(-1)[:n_out]
    return out


def resample_poly(samples: np.ndarray, up: int, down: int) -> np.ndarray:
    """(channels, n) or (n,) samples resampled by up/down along the last axis, as float64."""
    data = np.asarray(samples, np.float64)
    if data.ndim == 1:
        return resample_poly_1d(data, up, down)
    flat = data.reshape(-1, data.shape[-1])
    out = np.stack([resample_poly_1d(row, up, down) for row in flat])
    return out.reshape(*data.shape[:-1], out.shape[-1])
