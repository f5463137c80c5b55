"""Colour matching of a generated mouth to the source frame, so the patch does not show as a box.

A renderer's output (or a mouth retrieved from another frame of the shot) rarely has exactly the target
frame's exposure and white balance. Matching per-channel mean and spread in a luma/chroma space over the
feather ring (where generated and source pixels are both visible, and a mismatch would read as a seam)
removes that. The gain and shift are bounded, so a mouth of odd colour (open mouth, teeth, tongue) in the
ring cannot drive the correction wild.
"""

from __future__ import annotations

import cv2
import numpy as np

from mytalk.core.errors import UsageError

# BT.601 luma/chroma: only a decorrelating, roughly perceptual space for the statistics; the frame's own
# matrix is irrelevant here because the correction is mapped straight back to RGB.
_RGB_TO_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float32
)
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC.astype(np.float64)).astype(np.float32)

MIN_RING_PIXELS = 16.0
"""Below this many (weighted) ring pixels the statistics are noise, and the generated box is left as is."""


def ring_weights(alpha: np.ndarray) -> np.ndarray:
    """Float32 (h, w) weights of the feather ring: 4 alpha (1 - alpha), 1 at alpha 0.5, 0 where alpha is 0 or 1."""
    a = np.asarray(alpha, dtype=np.float32)
    return 4.0 * a * (1.0 - a)


def _weighted_stats(ycc: np.ndarray, weights: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation per channel of `ycc` (n, 3) with weights (n,).

    Channels are made contiguous first: reducing a (n, 3) array over its long, strided axis is ~10x slower.
    """
    planar = np.ascontiguousarray(ycc.reshape(-1, 3).T)
    mean = (planar * weights).sum(axis=1) / total
    var = (np.square(planar - mean[:, None]) * weights).sum(axis=1) / total
    return mean.astype(np.float64), np.sqrt(np.maximum(var, 0.0)).astype(np.float64)


def _affine(image: np.ndarray, matrix: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """``image @ matrix.T + offset`` per pixel of a (..., 3) float32 array.

    cv2.transform rather than numpy matmul: a (n, 3) x (3, 3) BLAS call spawns threads that cost tens of
    ms on a busy 2-core machine, for a product that takes 0.1 ms in one SIMD pass.
    """
    m = np.zeros((3, 4), np.float32)
    m[:, :3] = matrix
    if offset is not None:
        m[:, 3] = offset
    flat = np.ascontiguousarray(image, dtype=np.float32).reshape(-1, 1, 3)
    return cv2.transform(flat, m).reshape(image.shape)


def match_color(
    generated_rgb: np.ndarray,
    target_rgb: np.ndarray,
    alpha: np.ndarray,
    max_gain: float = 1.25,
    max_shift: float = 0.12,
) -> np.ndarray:
    """`generated_rgb` with per-channel mean and spread (Y, Cb, Cr) matched to `target_rgb` on the ring.

    `generated_rgb`, `target_rgb`: float (h, w, 3) RGB in [0, 1] of the same box. `alpha`: (h, w) mask
    alpha of that box; the statistics are weighted by `ring_weights(alpha)`. The gain on each channel's
    spread is clamped to [1 / max_gain, max_gain] and the mean shift to +-max_shift (in [0, 1] units), so a
    mouth whose ring is mostly teeth or shadow is nudged, not repainted. Returns float32 (h, w, 3), not
    clipped (the writer clips code values).
    """
    gen = np.asarray(generated_rgb, dtype=np.float32)
    tgt = np.asarray(target_rgb, dtype=np.float32)
    if gen.shape != tgt.shape or gen.ndim != 3 or gen.shape[2] != 3 or np.shape(alpha) != gen.shape[:2]:
        raise UsageError(
            f"colour match needs generated {gen.shape} and target {tgt.shape} of shape (h, w, 3) and alpha "
            f"{np.shape(alpha)} of shape (h, w)"
        )
    if max_gain < 1.0 or max_shift < 0.0:
        raise UsageError(f"colour match bounds must be max_gain >= 1 and max_shift >= 0, got {max_gain}, {max_shift}")
    # Statistics on every other row and column of the ring: a quarter of the work, the same figures.
    weights = ring_weights(alpha[::2, ::2])
    ring = weights > 0
    w_ring = weights[ring]
    total = float(w_ring.sum())
    if 4.0 * total < MIN_RING_PIXELS:
        return gen.copy()
    mean_g, std_g = _weighted_stats(_affine(gen[::2, ::2][ring], _RGB_TO_YCC), w_ring, total)
    mean_t, std_t = _weighted_stats(_affine(tgt[::2, ::2][ring], _RGB_TO_YCC), w_ring, total)
    gain = np.where(std_g > 1e-4, std_t / np.maximum(std_g, 1e-4), 1.0)
    gain = np.clip(gain, 1.0 / max_gain, max_gain)
    shift = np.clip(mean_t - mean_g, -max_shift, max_shift)
    # In YCbCr: y' = (y - mean_g) * gain + mean_g + shift; folded into one affine map of RGB.
    ycc_offset = mean_g * (1.0 - gain) + shift
    to_rgb = _YCC_TO_RGB.astype(np.float64)
    matrix = to_rgb @ np.diag(gain) @ _RGB_TO_YCC.astype(np.float64)
    return _affine(gen, matrix, to_rgb @ ycc_offset)
