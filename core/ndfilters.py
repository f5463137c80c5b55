"""scipy.ndimage's ``gaussian_filter1d``, ``percentile_filter`` and ``uniform_filter1d`` (1-D) in numpy
alone, bit for bit.

Why not scipy.ndimage: importing it costs about 0.25 s (it pulls scipy's array-API layer and
scipy.special), and the classic engine only smooths a few short sequences per job with it (a
landmark track, the retrieval weight, the phonetic components, the guide's pose blend), so that
import alone was a sixth of a warm one-frame job. This repeats scipy's documented algorithm step by
step in float64, in the same order of operations as its compiled loop, so every result is identical
to scipy's (the tests compare them with ``np.array_equal`` on random inputs, every mode, both float
dtypes, any axis, kernels longer than the line):

- the kernel is scipy's ``exp(-0.5 / sigma**2 * x**2)`` over ``x = -radius..radius`` divided by its
  numpy sum, with ``radius = int(truncate * sigma + 0.5)``: the same numpy expressions, so the same
  taps (it is symmetric to the bit, so scipy takes its symmetric branch);
- the correlation (``NI_Correlate1D``'s symmetric loop) starts from ``centre * weight[0]`` and then
  adds ``(left + right) * weight[d]`` for the outermost pair first, d = radius down to 1;
- lines are extended past their ends as scipy's line buffers do: 'reflect' (d c b a | a b c d |
  d c b a, repeated when the kernel is longer than the line), 'nearest' (the edge value),
  'constant' (``cval``);
- float32 input is computed in float64 and rounded once to float32, as scipy's buffers do.

The percentile and uniform filters (reflect mode, 1-D) serve the voice activity's running noise floor:
see their docstrings for why they are exact.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Mode = Literal["reflect", "nearest", "constant"]

WINDOW_ROWS_VALUES = 1 << 18
"""Values of sliding windows ranked at once by `percentile_filter1d` (2 MB of float64 copies)."""


def gaussian_kernel1d(sigma: float, radius: int) -> np.ndarray:
    """(2·radius + 1,) float64 normalised Gaussian taps, centre at index `radius`, as scipy's
    ``_gaussian_kernel1d(sigma, 0, radius)``: the same numpy expressions, so the same values."""
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / sigma2 * x**2)
    return phi / phi.sum()


def kernel_radius(sigma: float, truncate: float = 4.0) -> int:
    """scipy's default radius: `truncate` standard deviations, rounded half up."""
    return int(truncate * float(sigma) + 0.5)


def _extended(lines: np.ndarray, before: int, after: int, mode: Mode, cval: float) -> np.ndarray:
    """(..., before + n + after): each line along the last axis extended as scipy's line buffer
    (``NI_ExtendLine``) extends it. numpy's 'symmetric' padding is scipy's 'reflect', repeated the same
    way when the extension is longer than the line."""
    widths = [(0, 0)] * (lines.ndim - 1) + [(before, after)]
    if mode == "reflect":
        return np.pad(lines, widths, mode="symmetric")
    if mode == "nearest":
        return np.pad(lines, widths, mode="edge")
    if mode == "constant":
        return np.pad(lines, widths, mode="constant", constant_values=float(cval))
    raise ValueError(f"unsupported mode {mode!r}: use 'reflect', 'nearest' or 'constant'")


def _float_lines(data: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(input as an array, its lines along `axis` moved last and as float64), checking the dtype."""
    array = np.asarray(data)
    if array.dtype.kind != "f":
        raise TypeError(f"expected a floating-point array, got {array.dtype}")
    return array, np.moveaxis(array, axis, -1).astype(np.float64)


def _as_input(lines: np.ndarray, array: np.ndarray, axis: int) -> np.ndarray:
    """Float64 lines put back along `axis`, rounded once to the input's dtype, in a new C-ordered array
    (as scipy's output)."""
    return np.ascontiguousarray(np.moveaxis(lines, -1, axis), dtype=array.dtype)


def gaussian_filter1d(data: np.ndarray, sigma: float, axis: int = -1, mode: Mode = "reflect",
                      cval: float = 0.0, truncate: float = 4.0) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter1d(data, sigma, axis, mode=mode, cval=cval, truncate=truncate)``.

    Same shape and dtype as `data` (float32 or float64), identical values: see the module docstring
    for the order of operations that makes them so.
    """
    array, lines = _float_lines(data, axis)
    if array.size == 0:
        return array.copy()
    radius = kernel_radius(sigma, truncate)
    weights = gaussian_kernel1d(sigma, radius)
    n = lines.shape[-1]
    padded = _extended(lines, radius, radius, mode, cval)
    # scipy's C loop is silent about inf - inf or an overflow (the value is NaN or inf there too).
    with np.errstate(invalid="ignore", over="ignore"):
        out = padded[..., radius:radius + n] * weights[radius]
        for distance in range(radius, 0, -1):
            left, right = padded[..., radius - distance:radius - distance + n], padded[..., radius + distance:radius + distance + n]
            out += (left + right) * weights[radius - distance]
        return _as_input(out, array, axis)


def _centred_reflect(values: np.ndarray, size: int) -> np.ndarray:
    """`values` extended in 'reflect' mode for a window of `size` centred as scipy centres it."""
    return _extended(values, size // 2, size - size // 2 - 1, "reflect", 0.0)


def percentile_filter1d(values: np.ndarray, percentile: float, size: int) -> np.ndarray:
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
    windows = np.lib.stride_tricks.sliding_window_view(_centred_reflect(values, size), size)
    out = np.empty(values.size, np.float64)
    rows = max(1, WINDOW_ROWS_VALUES // size)
    for start in range(0, values.size, rows):
        out[start : start + rows] = np.partition(windows[start : start + rows], rank, axis=1)[:, rank]
    return out


def uniform_filter1d(values: np.ndarray, size: int) -> np.ndarray:
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
    ext = _centred_reflect(values, size)
    steps = np.empty(values.size, np.float64)
    steps[0] = np.cumsum(np.concatenate([[0.0], ext[:size]]))[-1]
    np.subtract(ext[size : size + values.size - 1], ext[: values.size - 1], out=steps[1:])
    return np.cumsum(steps) / size
