"""The orthonormal DCT-II of `features.cepstra`, in numpy alone, bit for bit as ``scipy.fft.dct``.

Why not scipy.fft: importing it costs about 0.3 s (its array-API layer and scipy.special), a fifth
of a warm one-frame job, which takes the cepstra of a few dozen frames of 80 mel bands. numpy has
the same FFT library (pocketfft) but no DCT, so this module runs pocketfft's own DCT-II algorithm
(Makhoul's: one real FFT of length N between a reordering and a twiddle step) around numpy's
``irfft``, with the same twiddle factors and the same order of floating-point operations; the
tests compare it with ``scipy.fft.dct(x, type=2, norm="ortho")`` on many lengths and inputs.

The steps, for a row c of length N (pocketfft's ``T_dcst23::exec``, type 2, cosine, ortho):

1. ``c[0] *= 2``; for even N ``c[N-1] *= 2``; each pair (c[k], c[k+1]) for odd k < N-1 becomes
   (c[k+1] + c[k], c[k+1] - c[k]);
2. c, read as a real FFT's half-complex spectrum (r0, r1, i1, r2, i2, ...), is transformed back
   unscaled (numpy's ``irfft`` with ``norm="forward"`` runs the same pocketfft plan) and scaled by
   ``1 / sqrt(2N)`` (computed in long double, as scipy does);
3. with ``w[i] = cos(2π (i+1) / 4N)`` from pocketfft's root table, for 1 <= k < (N+1)/2 and
   kc = N-k: ``t1 = w[k-1] c[kc] + w[kc-1] c[k]``, ``t2 = w[k-1] c[k] - w[kc-1] c[kc]``,
   ``c[k] = 0.5 (t1 + t2)``, ``c[kc] = 0.5 (t1 - t2)``; for even N ``c[N/2] *= w[N/2 - 1]``;
4. ``c[0] *= sqrt(2) / 2``.

pocketfft's roots of unity are not plain ``cos``: the table is split in two (``v1[i & mask]`` times
``v2[i >> shift]``, complex products), each entry taken from the first octant by symmetry. The
same construction is repeated here with Python's ``math.cos``/``math.sin`` (the C library's, as
pocketfft's ``std::cos``/``std::sin``).
"""

from __future__ import annotations

import math

import numpy as np

_PI = np.longdouble("3.141592653589793238462643383279502884197")
"""π in long double, as pocketfft's ``constexpr`` (its angle step is computed in long double)."""


def _octant_root(x: int, n: int, step: float) -> tuple[float, float]:
    """(cos, sin) of 2π x / n from an angle in the first octant (pocketfft's ``sincos_2pibyn::calc``);
    `step` is 2π / 8n, so 8x is the angle in steps."""
    x <<= 3
    if x < 4 * n:  # first half
        if x < 2 * n:  # first quadrant
            if x < n:
                return math.cos(x * step), math.sin(x * step)
            return math.sin((2 * n - x) * step), math.cos((2 * n - x) * step)
        x -= 2 * n  # second quadrant
        if x < n:
            return -math.sin(x * step), math.cos(x * step)
        return -math.cos((2 * n - x) * step), math.sin((2 * n - x) * step)
    x = 8 * n - x
    if x < 2 * n:  # third quadrant
        if x < n:
            return math.cos(x * step), -math.sin(x * step)
        return math.sin((2 * n - x) * step), -math.cos((2 * n - x) * step)
    x -= 2 * n  # fourth quadrant
    if x < n:
        return -math.sin(x * step), -math.cos(x * step)
    return -math.cos((2 * n - x) * step), -math.sin((2 * n - x) * step)


def root_cosines(n: int, count: int) -> np.ndarray:
    """(count,) float64: the real parts of pocketfft's roots of unity 1..count for length `n`
    (``sincos_2pibyn(n)[i].r``), i.e. cos(2π i / n) as that table rounds it. Needs 2·count <= n."""
    if 2 * count > n:
        raise ValueError(f"only the first half of the table is built here: {count} roots of {n}")
    step = float(np.longdouble(0.25) * _PI / np.longdouble(n))
    nval = (n + 2) // 2
    shift = 1
    while (1 << shift) * (1 << shift) < nval:
        shift += 1
    mask = (1 << shift) - 1
    fine = [(1.0, 0.0)] + [_octant_root(i, n, step) for i in range(1, mask + 1)]
    coarse = [(1.0, 0.0)] + [_octant_root(i * (mask + 1), n, step) for i in range(1, (nval + mask) // (mask + 1))]
    out = np.empty(count)
    for i in range(1, count + 1):
        a, b = fine[i & mask], coarse[i >> shift]
        out[i - 1] = a[0] * b[0] - a[1] * b[1]
    return out


def _ortho_scale(n: int) -> float:
    """1 / sqrt(2n) computed in long double and rounded once, as scipy's ``norm_fct`` for an ortho DCT-II."""
    return float(np.longdouble(1) / np.sqrt(np.longdouble(2 * n)))


def _half_complex(c: np.ndarray) -> np.ndarray:
    """(..., N//2 + 1) complex spectrum whose half-complex layout (r0, r1, i1, ...) is the real rows `c`."""
    n = c.shape[-1]
    pairs = (n - 1) // 2
    spectrum = np.zeros(c.shape[:-1] + (n // 2 + 1,), np.complex128)
    spectrum[..., 0] = c[..., 0]
    spectrum.real[..., 1:pairs + 1] = c[..., 1:2 * pairs:2]
    spectrum.imag[..., 1:pairs + 1] = c[..., 2:2 * pairs + 1:2]
    if n % 2 == 0:
        spectrum[..., n // 2] = c[..., n - 1]
    return spectrum


def dct2_ortho(x: np.ndarray) -> np.ndarray:
    """``scipy.fft.dct(x, type=2, norm="ortho", axis=-1)`` of real rows: same shape, float64, same bits."""
    c = np.array(x, dtype=np.float64)
    n = c.shape[-1]
    if n == 0:
        raise ValueError("the DCT of an empty row is undefined")
    twiddle = root_cosines(4 * n, n)
    c[..., 0] *= 2
    if n % 2 == 0:
        c[..., n - 1] *= 2
    odd = np.arange(1, n - 1, 2)
    left, right = c[..., odd], c[..., odd + 1]
    c[..., odd], c[..., odd + 1] = right + left, right - left
    r = np.fft.irfft(_half_complex(c), n=n, axis=-1, norm="forward") * _ortho_scale(n)
    out = r.copy()
    k = np.arange(1, (n + 1) // 2)
    kc = n - k
    t1 = twiddle[k - 1] * r[..., kc] + twiddle[kc - 1] * r[..., k]
    t2 = twiddle[k - 1] * r[..., k] - twiddle[kc - 1] * r[..., kc]
    out[..., k] = 0.5 * (t1 + t2)
    out[..., kc] = 0.5 * (t1 - t2)
    if n % 2 == 0:
        out[..., n // 2] = r[..., n // 2] * twiddle[n // 2 - 1]
    out[..., 0] = r[..., 0] * (math.sqrt(2.0) * 0.5)
    return out
