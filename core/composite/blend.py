"""Blending a generated box over the source box: multiband (Laplacian) for final renders, alpha for preview.

Both work in float32 on the mask box only, and both return exactly `bg` wherever alpha is 0: the preserve
guarantee rests on it, and a Laplacian pyramid would otherwise leak the foreground's low frequencies a few
pixels past the mask support.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from mytalk.core.errors import UsageError

MAX_LEVELS = 5
"""Coarsest band at 1/32 of the box: wider bands would drag the old mouth's colour into the new one."""

EDGE_TAPER = 0.5
"""Below this alpha the multiband result is faded linearly back to `bg`, so the forced `bg` outside the
support meets the blend without a step (the low bands are not zero there, alpha is)."""


def _check(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fg = np.asarray(fg, dtype=np.float32)
    bg = np.asarray(bg, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    if fg.shape != bg.shape or fg.ndim != 3 or alpha.shape != fg.shape[:2]:
        raise UsageError(f"blend needs fg {fg.shape} and bg {bg.shape} of shape (h, w, c) and alpha {alpha.shape} (h, w)")
    return fg, bg, alpha


def alpha_blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``bg + alpha (fg - bg)``: float32 (h, w, c), equal to `bg` where alpha is 0 and `fg` where it is 1."""
    fg, bg, alpha = _check(fg, bg, alpha)
    return bg + alpha_delta(fg - bg, alpha)


def alpha_delta(diff: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The change `alpha_blend` makes to `bg`: ``alpha (fg - bg)`` from ``diff = fg - bg`` (h, w, c)."""
    return _times(np.asarray(diff, dtype=np.float32), np.asarray(alpha, dtype=np.float32))


def default_levels(height: int, width: int) -> int:
    """Pyramid depth for a box: the coarsest band keeps at least 8 px, and at most `MAX_LEVELS` bands."""
    smallest = max(min(height, width), 1)
    return int(np.clip(math.floor(math.log2(smallest)) - 3, 1, MAX_LEVELS))


def laplacian_blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Multiband blend of `fg` over `bg` with weights `alpha`; float32 (h, w, c) box-sized.

    Fine detail switches over the feather, coarse colour over a wider zone (Burt & Adelson 1983), which hides
    small exposure differences that a plain alpha ramp shows as a halo. The result equals `bg` exactly where
    alpha is 0 and is close to `fg` well inside alpha 1 (see `laplacian_delta`).
    `levels`: number of pyramid bands (None: `default_levels`).
    """
    fg, bg, alpha = _check(fg, bg, alpha)
    return bg + laplacian_delta(fg - bg, alpha, levels)


def laplacian_delta(diff: np.ndarray, alpha: np.ndarray, levels: int | None = None) -> np.ndarray:
    """The change `laplacian_blend` makes to `bg`, from ``diff = fg - bg`` (h, w, c) float32.

    The blend is linear, so only the difference is decomposed: ``collapse(G_k(alpha) * L_k(diff))``. The
    low bands reach past the mask support (their alpha is blurred), so the result is tapered by
    ``min(alpha / EDGE_TAPER, 1)``: exactly 0 where alpha is 0 (so ``bg + delta`` is `bg` there, bit for bit)
    and without a step at the support edge.
    """
    diff = np.asarray(diff, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    if diff.ndim != 3 or alpha.shape != diff.shape[:2]:
        raise UsageError(f"blend needs a difference of shape (h, w, c) and alpha (h, w), got {diff.shape}, {alpha.shape}")
    h, w = alpha.shape
    if h == 0 or w == 0:
        return np.zeros_like(diff)
    n = default_levels(h, w) if levels is None else int(levels)
    if n < 1:
        raise UsageError(f"laplacian blend needs at least 1 level, got {levels}")
    gauss_d = [diff]
    gauss_a = [alpha]
    for _ in range(n - 1):
        if min(gauss_d[-1].shape[:2]) < 2:
            break
        down = cv2.pyrDown(gauss_d[-1])
        gauss_d.append(down.reshape(down.shape[0], down.shape[1], -1))
        gauss_a.append(cv2.pyrDown(gauss_a[-1]))
    # Collapse from the coarsest band: acc = G_n(a) G_n(d); acc = up(acc) + G_k(a) (G_k(d) - up(G_k+1(d))).
    acc = _times(gauss_d[-1], gauss_a[-1])
    for k in range(len(gauss_d) - 2, -1, -1):
        size = (gauss_d[k].shape[1], gauss_d[k].shape[0])
        band = gauss_d[k] - cv2.pyrUp(gauss_d[k + 1], dstsize=size).reshape(gauss_d[k].shape)
        # In place on temporaries: fewer multi-MB allocations, which each cost page faults at 1080p.
        band = _times(band, gauss_a[k], out=band)
        acc = np.add(band, cv2.pyrUp(acc, dstsize=size).reshape(gauss_d[k].shape), out=band)
    taper = np.minimum(alpha * np.float32(1.0 / EDGE_TAPER), np.float32(1.0))
    return _times(acc, taper, out=acc)  # acc is always a fresh array here, never the caller's diff


def _times(x: np.ndarray, weights: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(h, w, c) float32 times (h, w) weights per pixel (into `out` if given).

    The weights are stacked to c channels first: numpy's broadcast over a trailing axis of 3 runs ~8x
    slower than an elementwise product of equal shapes.
    """
    c = x.shape[2]
    stacked = weights[..., None] if c == 1 else cv2.merge([weights] * c)
    return np.multiply(x, stacked.reshape(x.shape), out=out)
