"""The landmark points the neural engine works on, and the aligned crop geometry of stage 2.

Points. The 478-point mesh is reduced to what speech drives and what anchors it:
- `CONTENT`: the 40 lip points and the 21 jaw-line points (IP_LAP's "content" landmarks), the only
  coordinates the diffusion model noises and generates;
- `CONTEXT`: rigid points (eye corners, nose bridge and base, forehead, cheekbones) and the upper
  face outline, given to the model clean at every step (IP_LAP's "pose" landmarks).
A frame's points are stored content first, context after: (P, 2) with P = 61 + len(CONTEXT).

Coordinates are the evaluation's canonical frame (`mytalk.core.face.canonical`): a similarity fitted
on the eye corners and nose bridge, unit = inter-ocular distance, x towards image right, y down.
Head motion, zoom and shot size are thereby removed; the pixel positions of generated points are
recovered with each frame's own inverse transform.

Crop. Stage 2 renders a square crop whose corners are fixed in canonical units (`crop_box`), so
every crop shows the lower face at the same place and scale whatever the shot; a fixed ellipse
(`mask_center`, `mask_radii`) covers the mouth, lips, chin and jaw motion and is what the
generator regenerates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mytalk.core.face.canonical import apply_transform, invert_transform, similarity_to_canonical_batch
from mytalk.core.face.regions import (
    FACE_OVAL,
    JAW,
    LIPS,
    LIPS_INNER,
    LIPS_OUTER,
    LOWER_LIP_MID,
    POSE,
    SUBNASALE,
    UPPER_LIP_MID,
)

CONTENT: tuple[int, ...] = tuple(sorted(set(LIPS) | set(JAW)))
"""Mesh indices the motion model generates: lips and jaw line (61 points)."""

_NOSE_BASE = (SUBNASALE, 94, 19, 141, 370, 129, 358)
CONTEXT: tuple[int, ...] = tuple(sorted((set(POSE) | set(FACE_OVAL) | set(_NOSE_BASE)) - set(CONTENT)))
"""Mesh indices given as clean context: rigid face points and the upper face outline."""

POINTS: tuple[int, ...] = CONTENT + CONTEXT
"""Mesh index of each stored point, content first."""

NUM_CONTENT = len(CONTENT)
NUM_CONTEXT = len(CONTEXT)
NUM_POINTS = len(POINTS)

_POS = {index: position for position, index in enumerate(POINTS)}
LIPS_POS = np.asarray([_POS[i] for i in LIPS], np.intp)
LIPS_OUTER_POS = np.asarray([_POS[i] for i in LIPS_OUTER], np.intp)
LIPS_INNER_POS = np.asarray([_POS[i] for i in LIPS_INNER], np.intp)
JAW_POS = np.asarray([_POS[i] for i in JAW], np.intp)
UPPER_MID_POS = _POS[UPPER_LIP_MID]
LOWER_MID_POS = _POS[LOWER_LIP_MID]
CONTENT_INDEX = np.asarray(CONTENT, np.intp)
POINTS_INDEX = np.asarray(POINTS, np.intp)


def content_mask() -> np.ndarray:
    """Bool (P,): True for the content points (the ones that are noised)."""
    mask = np.zeros(NUM_POINTS, bool)
    mask[:NUM_CONTENT] = True
    return mask


def canonical_points(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel meshes (T, 478, 2|3) → canonical points (T, P, 2) float64 and transforms (T, 2, 3).

    Frames without a face (all-zero landmarks) come out NaN, as in `similarity_to_canonical_batch`.
    """
    lm = np.asarray(landmarks, np.float64)
    transforms, _ = similarity_to_canonical_batch(lm)
    return apply_transform(lm[:, POINTS_INDEX], transforms), transforms


def lip_descriptors(points: np.ndarray) -> np.ndarray:
    """Mouth-shape descriptors (..., 81) of canonical points (..., P, 2) for retrieval.

    The 40 lip points centred on their mean (the lips' own shape, not where the jaw put them),
    and the inner-lip gap weighted 2× (it decides whether teeth show), as the classic engine's
    retrieval measures mouths.
    """
    p = np.asarray(points, np.float64)
    lips = p[..., LIPS_POS, :]
    centred = lips - lips.mean(axis=-2, keepdims=True)
    gap = np.linalg.norm(p[..., LOWER_MID_POS, :] - p[..., UPPER_MID_POS, :], axis=-1)
    return np.concatenate([centred.reshape(*p.shape[:-2], -1), 2.0 * gap[..., None]], axis=-1)


@dataclass(frozen=True)
class CropGeometry:
    """A square crop fixed in canonical units, rendered at `size` px.

    box: (x0, y0, x1, y1) canonical units; crop pixel (i, j) is centred on canonical
    (x0 + (j + 0.5) · w / size, y0 + (i + 0.5) · h / size). Pixel-index coordinates follow
    OpenCV (integer = pixel centre); tracker landmarks put pixel centres at +0.5.
    """

    box: tuple[float, float, float, float]
    size: int

    def canonical_to_crop(self) -> np.ndarray:
        """(2, 3) affine: canonical units → crop pixel-index coordinates."""
        x0, y0, x1, y1 = self.box
        sx, sy = self.size / (x1 - x0), self.size / (y1 - y0)
        return np.array([[sx, 0.0, -x0 * sx - 0.5], [0.0, sy, -y0 * sy - 0.5]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Canonical points (..., 2) → crop pixel-index coordinates (..., 2)."""
        m = self.canonical_to_crop()
        return np.asarray(points, np.float64)[..., :2] @ m[:, :2].T + m[:, 2]

    def frame_to_crop(self, transform: np.ndarray) -> np.ndarray:
        """(2, 3) affine from frame pixel-index coordinates to crop pixel-index coordinates.

        `transform` maps tracker pixels (centres at +0.5) to canonical units; frame pixel index
        (x, y) is tracker pixel (x + 0.5, y + 0.5).
        """
        c = self.canonical_to_crop()
        t = np.asarray(transform, np.float64)
        lin = c[:, :2] @ t[:, :2]
        shift = c[:, :2] @ (t[:, 2] + t[:, :2] @ np.array([0.5, 0.5])) + c[:, 2]
        return np.concatenate([lin, shift[:, None]], axis=1)

    def crop_from_frame(self, rgb: np.ndarray, transform: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
        """Cut the aligned crop (size, size, C) out of an image, bilinear, borders replicated.

        rgb: (H, W, C) image whose top-left pixel is frame pixel `offset` (x, y), so a box read
        with `read_rgb(frame, box)` can be passed with offset = (box[0], box[1]).
        """
        m = self.frame_to_crop(transform).copy()
        # Shift the source origin: frame index = local index + offset.
        m[:, 2] += m[:, :2] @ np.asarray(offset, np.float64)
        src = np.ascontiguousarray(rgb)
        scale = 1.0 / np.sqrt(abs(np.linalg.det(m[:, :2])))  # source px per crop px
        if scale > 1.0:
            # Downscaling a big face into the crop: low-pass first, or bilinear sampling aliases
            # (moiré in teeth and stubble). sigma after Burt & Adelson's rule of thumb.
            sigma = 0.45 * float(np.sqrt(scale * scale - 1.0))
            src = cv2.GaussianBlur(src, (0, 0), sigma)
        return cv2.warpAffine(src, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def frame_box(self, transform: np.ndarray, frame_size: tuple[int, int], pad: int = 2) -> tuple[int, int, int, int]:
        """Integer frame-pixel box (x0, y0, x1, y1) covering the crop, clipped to the frame (W, H)."""
        inv = invert_transform(self.frame_to_crop(transform))
        s = self.size
        corners = np.array([[-0.5, -0.5], [s - 0.5, -0.5], [-0.5, s - 0.5], [s - 0.5, s - 0.5]])
        px = apply_transform(corners, inv)
        w, h = frame_size
        x0 = max(int(np.floor(px[:, 0].min())) - pad, 0)
        y0 = max(int(np.floor(px[:, 1].min())) - pad, 0)
        x1 = min(int(np.ceil(px[:, 0].max())) + pad + 1, w)
        y1 = min(int(np.ceil(px[:, 1].max())) + pad + 1, h)
        return x0, y0, max(x1, x0), max(y1, y0)


MIN_CONFIDENCE = 0.5
"""Frames tracked less confidently than this are treated as without a face: no training signal, and no
reference for the generator."""


def crop_frame(frame: Any, transform: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """The aligned crop (S, S, 3) uint8 of one decoded frame (`av.VideoFrame`), reading only its box.
    Shared by the dataset builder, the reference banks and the generator, so training and inference
    cut exactly the same crops. An interlaced frame's box is first taken to one instant
    (`composite.one_instant`), so a mouth that moves between the fields is not cut combed."""
    from mytalk.core.composite.one_instant import one_instant
    from mytalk.core.composite.planes import read_box_rgb
    from mytalk.core.media.decoded_fields import first_field_row

    box = geometry.frame_box(transform, (frame.width, frame.height))
    if box[2] <= box[0] or box[3] <= box[1]:
        return np.zeros((geometry.size, geometry.size, 3), np.uint8)
    rgb = read_box_rgb(frame, box)
    if frame.interlaced_frame:
        rgb = one_instant(rgb, box[1], first_field_row(frame))
    crop = geometry.crop_from_frame(rgb, transform, offset=(box[0], box[1]))
    return np.clip(crop * 255.0 + 0.5, 0, 255).astype(np.uint8)


def ellipse_mask(geometry: CropGeometry, center: tuple[float, float], radii: tuple[float, float],
                 feather: float) -> np.ndarray:
    """Float32 (size, size) soft ellipse mask of the crop: 1 inside, 0 beyond `feather` outside.

    center, radii, feather in canonical units; the ramp is linear in the normalised radius.
    """
    s = geometry.size
    x0, y0, x1, y1 = geometry.box
    xs = x0 + (np.arange(s) + 0.5) * (x1 - x0) / s
    ys = y0 + (np.arange(s) + 0.5) * (y1 - y0) / s
    gx, gy = np.meshgrid(xs, ys)
    r = np.sqrt(((gx - center[0]) / radii[0]) ** 2 + ((gy - center[1]) / radii[1]) ** 2)
    width = feather / min(radii)
    if width <= 0:
        return (r <= 1.0).astype(np.float32)
    return np.clip((1.0 + width - r) / (2.0 * width), 0.0, 1.0).astype(np.float32)
