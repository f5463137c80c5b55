"""Per-frame rendering: move the jaw and lips, paint the mouth's opening, composite in the source's format.

Two layers, both warped piecewise-affinely with the face mesh (`warp.py`) over one fixed triangulation
per job (`MeshTopology`):

1. the frame itself, with its lower-face points moved from where they are to where the plan wants
   them and every other mesh point (and a rectangle around the lower face) held still. Jaw, chin,
   cheeks and lips follow the new mouth with the frame's own skin, light and grain, so this layer is
   the source wherever the plan agrees with it, and the lips are always the frame's own lips.
2. the opening between the lips (teeth, tongue, darkness) from the retrieved reference mouth, warped
   from its crop onto the planned lips, colour-matched to layer 1 on the skin around the lips. It is
   shown only where the plan opens the mouth differently from the frame (`mouth_weight`, from
   `retrieval.retrieval_weight`) and wide enough to show teeth (`OPENING_IOD`): opening a closed mouth
   needs the inside of a real open one, while a frame's own mouth moved a little is better than
   anyone else's. A one-frame cross-fade softens retrieval switches.

With the guide driver the range's own frames hold the right mouth: the real take at the re-timed
moment map(t). There (`take=`) layer 1 is that frame's lower face, warped from where it was onto the
plan (which is its own shape, seen with frame t's head), with its mesh anchors mapped onto frame t's:
the actor's real lips, teeth and jaw of that moment, re-timed, with no painted opening at all.

The painted box then goes through the job's shared compositor (`mytalk.core.engines.stages`,
`mytalk.core.composite.Compositor`) under the union of the source's and the target's masks (lower-face mode where the jaw moves, mouth mode elsewhere), which
blends (multiband for final, alpha for preview), writes only the changed samples back in the
source's pixel format, and reports the box and the changed pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from mytalk.core.composite.masks import Mask, MaskMode, edit_mask, mouth_mask
from mytalk.core.composite.one_instant import one_instant
from mytalk.core.composite.planes import read_rgb
from mytalk.core.engines.actors import AppearanceIndex
from mytalk.core.engines.classic.geometry import lower_face_index
from mytalk.core.engines.classic.retrieval import opening_share
from mytalk.core.engines.classic.triangle_memo import remembered_triangulation
from mytalk.core.engines.classic.warp import piecewise_affine
from mytalk.core.face.canonical import apply_transform, from_canonical, similarity_to_canonical
from mytalk.core.face.regions import LIPS_INNER, LIPS_OUTER
from mytalk.core.media.decoded_fields import first_field_row

_LF = lower_face_index()
_ANCHORS = np.setdiff1d(np.arange(478), _LF)
_INNER = np.asarray(LIPS_INNER, np.intp)
_OUTER = np.asarray(LIPS_OUTER, np.intp)
_INNER_POS = np.asarray([int(np.flatnonzero(_LF == i)[0]) for i in LIPS_INNER], np.intp)  # inner loop within _LF

INNER_FEATHER_PX = 0.5
"""Soft edge (Gaussian sigma, px) between the frame's own inner lip edge and the retrieved opening. The
inner lip edge is the strongest edge of a mouth: a wider blend of two images there reads as blur
(1 px cost 12 % of the mouth's Laplacian variance on the HDTF clips)."""

RESAMPLE_SHARPEN = 1.0
"""Unsharp-mask amount (Gaussian sigma 1 px, clamped to each pixel's 3 × 3 range: `sharpen_without_overshoot`)
on the retrieved opening only: it compensates the high frequencies lost when a reference mouth is resampled
onto a new geometry, so painted teeth are about as crisp as the frame's own. Measured on the HDTF dub
figures (issue #12): 0.4 unclamped left the softest tenth of open-mouth frames at 0.80-0.87 of the source's
sharpness and tripled the specks; 0.7 clamped with Lanczos sampling gave 0.84-0.91; 1.0 clamped gives
0.88-1.08 over the 9 shared clips, still with no more specks than the source (ratio 0.21-1.00) and in-mouth
flicker within 0.87-1.19 of it."""

PREVIEW_IOD_PX = 60.0
"""A preview is a 540-line proxy: a face 60 px between the eyes at working scale is at least as
sharp as the proxy shows it, and a 4K close-up costs no more than a small face."""

OPENING_IOD = (0.02, 0.05)
"""The retrieved opening is shown only where the planned inner-lip gap is wide enough to show teeth:
not at all under 0.02 IOD, fully from 0.05. A thin slit painted from another frame reads as a dark
stitch along the lips; there the frame's own lips, warped shut, are right."""


@dataclass(frozen=True)
class RenderSettings:
    """step: warp-map grid spacing (px; 1 final, 2 preview). interpolation: cv2 flag for sampling (Lanczos for
    final renders: of the resampled mouth's detail a cubic kernel kept less; the softest tenth of Bob
    Menendez's dub frames went from 0.87 to 0.91 of the source's sharpness).
    sharpen: `RESAMPLE_SHARPEN` for final renders, 0 for previews. supersample: samples per pixel side;
    1 by default: with the lips' ladder topology and the filled opening a closing mouth no longer
    aliases, and 2x supersampling (box-filtered) cost a quarter of the mouth's Laplacian variance.
    max_iod_px: previews render the mouth at a working scale where the face is at most this wide
    (`PREVIEW_IOD_PX`) and scale the result back up; None (final) renders at full resolution."""

    step: int = 1
    interpolation: int = cv2.INTER_LANCZOS4
    sharpen: float = RESAMPLE_SHARPEN
    supersample: int = 1
    max_iod_px: float | None = None

    @classmethod
    def for_quality(cls, quality: str) -> RenderSettings:
        if quality == "preview":
            return cls(step=2, interpolation=cv2.INTER_LINEAR, sharpen=0.0, supersample=1, max_iod_px=PREVIEW_IOD_PX)
        return cls()


def _grow(box: tuple[int, int, int, int], pad: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    w, h = size
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)


def _paste(mask: Mask, box: tuple[int, int, int, int]) -> np.ndarray:
    """`mask`'s alpha placed into `box` (clipped where it reaches past it)."""
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    if mask.is_empty:
        return out
    mx0, my0, mx1, my1 = mask.box
    ix0, iy0, ix1, iy1 = max(mx0, x0), max(my0, y0), min(mx1, x1), min(my1, y1)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = mask.alpha[iy0 - my0 : iy1 - my0, ix0 - mx0 : ix1 - mx0]
    return out


def _nonzero_span(weight: np.ndarray) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the smallest rectangle holding every nonzero of `weight` (h, w); None if none."""
    rows = np.flatnonzero(weight.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(weight[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _inner_alpha(polygon: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Float32 alpha of the mouth opening (inner-lip loop, continuous px) over `box`: an anti-aliased
    fill, blurred by `INNER_FEATHER_PX`, so the lips' own inner edge meets the opening without a seam."""
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((np.asarray(polygon, np.float64) - [x0 + 0.5, y0 + 0.5]) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    alpha = canvas.astype(np.float32) * np.float32(1.0 / 255.0)
    if not alpha.any():
        return alpha
    k = int(np.ceil(3 * INNER_FEATHER_PX)) * 2 + 1
    return cv2.GaussianBlur(alpha, (k, k), INNER_FEATHER_PX)


def _warp_supersampled(
    src: np.ndarray,
    dst: np.ndarray,
    box: tuple[int, int, int, int],
    triangles: np.ndarray,
    image: np.ndarray,
    settings: RenderSettings,
    squeezed: Callable[[], np.ndarray] | None = None,
    opening: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-affine warp of `image` over `box`, sampled `settings.supersample`² times per pixel.

    Closing an open mouth squeezes its whole opening (teeth, tongue, darkness) into a gap of a pixel
    or two. Sampled point by point, each pixel there lands on a different row of teeth or darkness
    and the gap comes out as a saw-tooth. Two remedies: sub-pixel samples averaged by a box filter
    (`cv2.INTER_AREA`) smooth the lip edges, and where the map squeezes by more than 1.5x (fully
    from 3x) the result fades to the same warp of `squeezed()`, the image with its opening filled by
    the lips' seam colour (h, w, C like `image`; made only when needed, see `_fill_opening`), so a
    closing mouth shows lips meeting at an even seam.
    opening: the planned inner-lip loop in `dst` coordinates. Pixels no triangle maps are then filled from
    the nearest triangle everywhere but there (`warp.piecewise_affine`'s fill_holes): a hole on the skin
    is a sliver the fixed topology cannot cover, a hole in the opening is the seam of a shut mouth.
    Returns (warped (h, w, C) float32, valid (h, w) bool, inside (h, w) float32): valid where a triangle
    maps the pixel, inside the `WarpMap.inside` weight of its sample in `image` (0 where it would read past
    the image's border, so callers show their own pixels there rather than a smear of the edge).
    """
    k = max(1, int(settings.supersample))
    x0, y0, x1, y1 = box
    big = (x0 * k, y0 * k, x1 * k, y1 * k)
    warp = piecewise_affine(src, np.asarray(dst, np.float64) * k, big, triangles=triangles, step=settings.step * k,
                            fill_holes=opening is not None,
                            keep_holes_in=None if opening is None else np.asarray(opening, np.float64) * k)
    out = warp.apply(image, settings.interpolation)
    if squeezed is not None:
        squeeze = np.maximum(np.abs(np.gradient(warp.map_y, axis=0)), np.abs(np.gradient(warp.map_x, axis=1))) * k
        weight = np.clip((squeeze - 1.5) / 1.5, 0.0, 1.0).astype(np.float32)
        span = _nonzero_span(weight)
        if span is not None:
            # Only the rectangle around the squeezed pixels is sampled and blended: `cv2.remap` computes
            # each pixel from its own map entry alone, and elsewhere the weight is 0 and `out` stays as it is.
            part = out[span]  # a view: the blend lands in `out`
            part += weight[span][..., None] * (warp.apply(squeezed(), cv2.INTER_LINEAR, span) - part)
    inside = warp.inside(image.shape)
    if k == 1:
        return out, warp.valid, inside
    size = (x1 - x0, y1 - y0)
    out = cv2.resize(out, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    valid = cv2.resize(warp.valid.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    inside = cv2.resize(inside, size, interpolation=cv2.INTER_AREA)
    return out, valid, inside


EXPOSURE_GAIN = (0.8, 1.25)
"""Bounds of `match_exposure`'s per-channel gain: a shot's exposure and white balance drift within a scene
by far less; a larger ratio means the ring itself differs (a shadow, a beard), not the light."""


def match_exposure(mouth: np.ndarray, frame: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """`mouth` (h, w, 3) scaled per channel so its mean over the weighted `ring` (h, w; the skin around the
    lips, where both show the same anatomy) matches `frame`'s.

    Exposure and white balance act as gains, so a gain (not a shift, and not a match of spreads) carries
    them over: the mouth's darkness stays dark and its teeth keep their contrast. Matching the spreads
    of skin rings instead (`composite.color.match_color`) flattened the opening: a reference whose ring
    had more texture than the frame's came out with grey shadows and dull teeth."""
    w = np.asarray(ring, np.float32)
    total = float(w.sum())
    if total < 16.0:
        return mouth
    mean_mouth = (mouth * w[..., None]).reshape(-1, 3).sum(axis=0) / total
    mean_frame = (frame * w[..., None]).reshape(-1, 3).sum(axis=0) / total
    gain = np.clip(mean_frame / np.maximum(mean_mouth, 1e-4), *EXPOSURE_GAIN).astype(np.float32)
    return mouth * gain


def sharpen_without_overshoot(image: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask (Gaussian sigma 1 px) whose result is clamped, per pixel, to the range of the 3 × 3
    neighbourhood it came from: edges get their crispness back, but no pixel is pushed past its neighbours.

    A plain unsharp mask overshoots at every isolated feature: a dark gap between two painted teeth, or a
    glint, became a single pixel darker or brighter than all around it (the speck figure of the dub
    protocol counted 2-3 times the source's)."""
    sharp = image + amount * (image - cv2.GaussianBlur(image, (0, 0), 1.0))
    kernel = np.ones((3, 3), np.uint8)
    return np.clip(sharp, cv2.erode(image, kernel), cv2.dilate(image, kernel))


SEAM_SHADE = 0.8
"""Closed lips meet along a seam a little darker than the lips themselves. A closing mouth squeezes its
opening into that seam, so the opening is filled with the lips' own colour × 0.8 before it is squeezed:
with the opening's mean colour instead, a mouth closed over bright teeth kept a light, speckled line
between the lips, and the tracker read it as a gap of 0.02-0.03 IOD (a p/b/m that never shut)."""


def _fill_opening(image: np.ndarray, polygon: np.ndarray, origin: tuple[int, int], grow_px: float = 2.0) -> np.ndarray:
    # A wider rim than 2 px was tried for closures: on thin upper lips (5 px at the centre on Katie
    # Hill's 512 px close-up) it painted over the whole lip.
    """`image` with the mouth opening (inner-lip polygon, continuous px; image origin at `origin`) and a
    `grow_px` rim replaced by a lip-seam colour (`SEAM_SHADE`): what a closing mouth squeezes into its gap.

    Only the polygon's neighbourhood is touched (a copy of `image` is returned when anything changes).
    """
    pts = np.asarray(polygon, np.float64) - np.asarray(origin, np.float64)
    h, w = image.shape[:2]
    pad = int(np.ceil(grow_px)) + 8
    bx0, by0 = max(int(np.floor(pts[:, 0].min())) - pad, 0), max(int(np.floor(pts[:, 1].min())) - pad, 0)
    bx1, by1 = min(int(np.ceil(pts[:, 0].max())) + pad, w), min(int(np.ceil(pts[:, 1].max())) + pad, h)
    if bx1 <= bx0 or by1 <= by0:
        return image
    alpha = _inner_alpha(pts, (bx0, by0, bx1, by1))
    # Two pixels past the tracked inner lip line too: the mesh puts it up to a pixel or two off the real
    # edge, and what lies there is squeezed into the gap as well.
    grow = 2 * int(np.ceil(grow_px)) + 1
    alpha = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    total = float(alpha.sum())
    if total < 1.0:
        return image
    patch = image[by0:by1, bx0:bx1]
    # The lips: a 3 px band just outside the filled rim, all round the opening.
    band = np.clip(cv2.dilate(alpha, np.ones((7, 7), np.uint8)) - alpha, 0.0, 1.0)
    if float(band.sum()) >= 1.0:
        colour = SEAM_SHADE * (patch * band[..., None]).reshape(-1, image.shape[2]).sum(axis=0) / float(band.sum())
    else:
        colour = (patch * alpha[..., None]).reshape(-1, image.shape[2]).sum(axis=0) / total
    out = image.copy()
    out[by0:by1, bx0:bx1] = patch + alpha[..., None] * (colour.astype(np.float32) - patch)
    return out


CLOSE_BELOW_IOD = 0.02
"""Where the plan shuts the lips (inner gap under 0.02 IOD) over a frame whose mouth is open, the whole lips
come from the retrieved reference mouth (a real closed mouth of the actor), not only its opening: the
tracker puts the inner lip line inside the real lip edge on an open mouth, so the frame's own lips,
warped shut, kept a band of teeth between them (measured on Katie Hill: p/b/m frames planned at
0.003 IOD rendered with a 0.02-0.07 IOD gap, and a light speckled seam)."""


def _lips_alpha(outer: np.ndarray, box: tuple[int, int, int, int], feather_px: float) -> np.ndarray:
    """Float32 alpha of the lips (outer lip loop, continuous px) over `box`, grown and feathered by
    `feather_px` so the reference's lips meet the frame's skin without a seam."""
    alpha = _inner_alpha(outer, box)
    if not alpha.any() or feather_px <= 0:
        return alpha
    k = 2 * int(np.ceil(feather_px)) + 1
    alpha = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return cv2.GaussianBlur(alpha, (0, 0), feather_px)


RING_MARGIN_IOD = 0.3
"""Pinned points on a rectangle this far (IOD) around the lower face: the warp's outer boundary."""


@dataclass(frozen=True)
class MeshTopology:
    """One triangulation for every frame of a job: the lower face, pinned mesh points around it, and a
    pinned rectangle.

    A triangulation recomputed on each frame's target folds over where the lips meet (a closing
    mouth brings the inner-lip points together, and Delaunay then links them across the lips), which
    shows as a saw-tooth between the lips. A fixed topology, made once on a template whose mouth is
    open, instead collapses the opening's triangles smoothly to nothing as the lips close.

    anchors: mesh indices (not in `LOWER_FACE`) pinned in place. ring: (R, 2) canonical rectangle
    points. triangles: (T, 3) into the concatenation [LOWER_FACE, anchors, ring]. mouth_triangles:
    (M, 3) into `LOWER_FACE` only (the retrieved mouth's warp).
    """

    anchors: np.ndarray
    ring: np.ndarray
    triangles: np.ndarray
    mouth_triangles: np.ndarray

    def ring_around(self, point_sets: list[np.ndarray], transforms: list[np.ndarray]) -> np.ndarray:
        """The pinned rectangle (8, 2) canonical, grown where needed so that it stays `RING_MARGIN_IOD` outside
        every point of `point_sets` (each (N, 2) px, taken to canonical by the matching pixel → canonical
        transform of `transforms`, `similarity_to_canonical`): the template's ring is placed around the range's
        mean face, and a head turned further than the mean (a 3/4 view's far jaw) reaches past it; pinned
        points inside the moving face fold the mesh."""
        lo, hi = self.ring.min(axis=0), self.ring.max(axis=0)
        for pts, transform in zip(point_sets, transforms, strict=True):
            canon = apply_transform(np.asarray(pts, np.float64)[:, :2], transform)
            lo = np.minimum(lo, canon.min(axis=0) - RING_MARGIN_IOD)
            hi = np.maximum(hi, canon.max(axis=0) + RING_MARGIN_IOD)
        if np.array_equal(lo, self.ring.min(axis=0)) and np.array_equal(hi, self.ring.max(axis=0)):
            return self.ring
        mid = (lo + hi) / 2
        return np.array([[lo[0], lo[1]], [mid[0], lo[1]], [hi[0], lo[1]], [hi[0], mid[1]], [hi[0], hi[1]],
                         [mid[0], hi[1]], [lo[0], hi[1]], [lo[0], mid[1]]])

    @classmethod
    def from_template(cls, canon: np.ndarray, memo_folder: Path | None = None) -> MeshTopology:
        """Build from a (478, 2) canonical template face (e.g. the range's mean).

        The lips and the opening are triangulated explicitly, as ladders between their contours (outer
        upper lip to inner upper lip, inner upper to inner lower, inner lower to outer lower), so no
        triangle ever joins one lip to the other across the opening; the rest is Delaunay, remembered in
        `memo_folder` (default: the tracking cache) so that rendering the same range again needs no qhull.
        """
        pts = np.asarray(canon, np.float64)[:, :2].copy()
        pos = {int(v): k for k, v in enumerate(_LF)}
        # Open the template's mouth to a clear gap (LIPS_INNER runs from the right corner along the lower
        # lip, 1-9, to the left corner, 10, then back along the upper lip).
        pts[list(LIPS_INNER[11:]), 1] -= 0.04
        pts[list(LIPS_INNER[1:10]), 1] += 0.04
        lf = pts[_LF]
        lo, hi = lf.min(axis=0) - RING_MARGIN_IOD, lf.max(axis=0) + RING_MARGIN_IOD
        inside = np.all((pts[_ANCHORS] > lo + 0.02) & (pts[_ANCHORS] < hi - 0.02), axis=1)
        anchors = _ANCHORS[inside]
        mid = (lo + hi) / 2
        ring = np.array([[lo[0], lo[1]], [mid[0], lo[1]], [hi[0], lo[1]], [hi[0], mid[1]], [hi[0], hi[1]],
                         [mid[0], hi[1]], [lo[0], hi[1]], [lo[0], mid[1]]])
        all_pts = np.concatenate([pts[_LF], pts[anchors], ring])
        outer = np.asarray([pos[i] for i in LIPS_OUTER])
        hull = all_pts[outer].astype(np.float32).reshape(-1, 1, 2)
        # The skin is Delaunay over every point outside the lips plus the outer lip contour; the lips are the
        # ladders. Points on the inner contour or inside the lips (MediaPipe has rows there, e.g. 62, 76, 77
        # near the corners) are left out of the Delaunay step: with them it made skin triangles reaching
        # across the lip to the inner contour (191-40-165 above a corner), which overlap the ladders and, as
        # the plan moves the lips, collapse into a line of lip red on the skin or fold and leave holes.
        outer_set = {pos[i] for i in LIPS_OUTER}
        used = np.array([k in outer_set or k >= _LF.size
                         or (k not in {pos[i] for i in LIPS_INNER}
                             and cv2.pointPolygonTest(hull, (float(x), float(y)), False) < 0)
                         for k, (x, y) in enumerate(all_pts)], bool)
        kept_points = np.flatnonzero(used)
        tri = kept_points[remembered_triangulation(all_pts[kept_points], memo_folder)]
        centroids = all_pts[tri].mean(axis=1).astype(np.float32)
        keep = np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), False) < 0 for x, y in centroids], bool)
        lips = [_ladder(all_pts, [pos[i] for i in a], [pos[i] for i in b]) for a, b in _LIP_STRIPS]
        tri = np.concatenate([tri[keep], *lips])
        mouth = tri[(tri < _LF.size).all(axis=1)]
        return cls(anchors=anchors, ring=ring, triangles=tri, mouth_triangles=mouth)


# Contours from the subject's right mouth corner to the left one.
_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
_LIP_STRIPS = ((_OUTER_UPPER, _INNER_UPPER), (_INNER_UPPER, _INNER_LOWER), (_INNER_LOWER, _OUTER_LOWER))


def _ladder(points: np.ndarray, a: list[int], b: list[int]) -> np.ndarray:
    """Triangles (T, 3) filling the strip between polylines `a` and `b` (indices into `points`, same
    direction), advancing along whichever side gives the shorter diagonal; shared ends are skipped."""
    out: list[tuple[int, int, int]] = []
    i = j = 0
    while i < len(a) - 1 or j < len(b) - 1:
        step_a = j == len(b) - 1 or (
            i < len(a) - 1
            and np.linalg.norm(points[a[i + 1]] - points[b[j]]) <= np.linalg.norm(points[a[i]] - points[b[j + 1]])
        )
        tri = (a[i], a[i + 1], b[j]) if step_a else (a[i], b[j], b[j + 1])
        if len(set(tri)) == 3:
            out.append(tri)
        if step_a:
            i += 1
        else:
            j += 1
    return np.asarray(out, np.int64).reshape(-1, 3)


class MouthRenderer:
    """Paints one frame at a time; holds the mesh topology and the appearance index. The shared
    compositor (`engines.stages`) blends what it paints into the frame."""

    def __init__(self, appearance: AppearanceIndex, quality: str, topology: MeshTopology) -> None:
        self.appearance = appearance
        self.topology = topology
        self.settings = RenderSettings.for_quality(quality)

    def _mouth_layer(self, entry: int, dst: np.ndarray, box: tuple[int, int, int, int],
                     scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Reference crop `entry` warped so its lower-face points land on `dst` (P, 2), over `box`, both in
        the working coordinates (frame px × `scale`). Returns (mouth, weight): weight (h, w) float32 is 0
        where no triangle maps the pixel or its sample would fall outside the crop, 1 well inside it."""
        landmarks = self.appearance.landmarks[entry]
        src = landmarks[_LF].astype(np.float64) * scale
        inner = landmarks[_INNER].astype(np.float64) * scale
        image = self.appearance.image(entry)
        if scale != 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)

        mouth, valid, inside = _warp_supersampled(src, dst, box, self.topology.mouth_triangles, image, self.settings,
                                                  lambda: _fill_opening(image, inner, (0, 0)), opening=dst[_INNER_POS])
        return mouth, inside * valid.astype(np.float32)

    def _scale(self, iod: float) -> float:
        """Working scale: 1 for final renders; previews shrink large faces to `PREVIEW_IOD_PX`."""
        if self.settings.max_iod_px is None or iod <= self.settings.max_iod_px:
            return 1.0
        return self.settings.max_iod_px / iod

    def paint(
        self,
        frame: av.VideoFrame,
        landmarks: np.ndarray,
        target: np.ndarray,
        entry: int,
        fade_from: int,
        fade_weight: float,
        lower_face: bool,
        mouth_weight: float = 1.0,
        take: tuple[av.VideoFrame, np.ndarray] | None = None,
    ) -> tuple[Mask, np.ndarray | None]:
        """Paint the planned mouth of `frame`: (mask, RGB float32 over `mask.box`), or (mask, None)
        when the mask is empty and nothing changes.

        landmarks: (478, 2|3) tracked px of this frame. target: (P, 2) planned `LOWER_FACE` px.
        entry: appearance entry to paint with (-1: jaw warp only); fade_from / fade_weight: a second
        entry blended in at a retrieval switch. lower_face: mask mode of this frame. mouth_weight:
        how much of the retrieved mouth to show (0: the frame's own mouth, warped, is close enough).
        take: (frame, its (478, 2|3) landmarks) of the same shot whose lower face is the target (the
        guide driver's re-timed real take); its pixels replace the retrieval, see the module doc.
        """
        size = (frame.width, frame.height)
        src_pts = np.asarray(landmarks, np.float64)[:, :2]
        tgt_pts = src_pts.copy()
        tgt_pts[_LF] = target
        mode = MaskMode.LOWER_FACE if lower_face else MaskMode.MOUTH
        mask = edit_mask(src_pts, tgt_pts, size, mode)
        if mask.is_empty:
            return mask, None
        box = mask.box
        iod = float(np.linalg.norm(src_pts[263] - src_pts[33]))
        take_pts = None if take is None else np.asarray(take[1], np.float64)[:, :2]
        # Sources of layer 1: this frame's lower face, or the take's (same shot, same frame size).
        layer_pts = src_pts if take_pts is None else take_pts
        move = float(max(np.abs(target - src_pts[_LF]).max(), np.abs(target - layer_pts[_LF]).max(),
                         np.abs(layer_pts[_ANCHORS] - src_pts[_ANCHORS]).max()))
        work = _grow(box, int(np.ceil(move)) + 8, size)
        bg = read_rgb(frame, work)
        if frame.interlaced_frame:  # painted from one instant, not from two fields' combed rows (`one_instant`)
            bg = one_instant(bg, work[1], first_field_row(frame))
        if take is None:
            layer_image = bg
        else:
            layer_image = read_rgb(take[0], work)
            if take[0].interlaced_frame:
                layer_image = one_instant(layer_image, work[1], first_field_row(take[0]))
        # Everything below runs in working coordinates: frame px relative to the work box, × scale.
        scale = self._scale(iod)
        origin = np.array([work[0], work[1]], np.float64)
        if scale < 1.0:
            def shrink(image: np.ndarray) -> np.ndarray:
                return cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                                  interpolation=cv2.INTER_AREA)

            bg = shrink(bg)
            layer_image = bg if take is None else shrink(layer_image)
        x0, y0, x1, y1 = box
        lbox = (int(np.floor((x0 - work[0]) * scale)), int(np.floor((y0 - work[1]) * scale)),
                int(np.ceil((x1 - work[0]) * scale)), int(np.ceil((y1 - work[1]) * scale)))
        lbox = (lbox[0], lbox[1], min(lbox[2], bg.shape[1]), min(lbox[3], bg.shape[0]))

        def local(points: np.ndarray) -> np.ndarray:
            return (points - origin) * scale

        # Layer 1: the frame's own (or the take's) lower face moved onto the plan; everything else
        # pinned to this frame's mesh.
        # Each face's pixel → canonical fit, once: the ring is grown in canonical units and pinned through it.
        src_to_canon = similarity_to_canonical(src_pts)[0]
        layer_to_canon = src_to_canon if take_pts is None else similarity_to_canonical(layer_pts)[0]
        ring = self.topology.ring_around([src_pts[_LF], target, layer_pts[_LF]],
                                         [src_to_canon, src_to_canon, layer_to_canon])

        def fixed_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
            return np.concatenate([points[self.topology.anchors], from_canonical(ring, transform)])

        src_all = local(np.concatenate([layer_pts[_LF], fixed_points(layer_pts, layer_to_canon)]))
        dst_all = local(np.concatenate([target, fixed_points(src_pts, src_to_canon)]))
        inner_src = local(layer_pts[_INNER])
        gap = float(np.linalg.norm(tgt_pts[14] - tgt_pts[13])) / max(iod, 1e-6)
        layer_gap = float(np.linalg.norm(layer_pts[14] - layer_pts[13])) / max(iod, 1e-6)
        # How much this frame closes an open mouth: 0 unless the plan shuts the lips, fully from 0.04 IOD wider.
        closing = float(np.clip((layer_gap - gap) / CLOSE_BELOW_IOD - 1.0, 0.0, 1.0)) if gap < CLOSE_BELOW_IOD else 0.0
        base, valid1, inside1 = _warp_supersampled(src_all, dst_all, lbox, self.topology.triangles, layer_image,
                                                   self.settings, lambda: _fill_opening(layer_image, inner_src, (0, 0)),
                                                   opening=dst_all[_INNER_POS])
        region = (slice(lbox[1], lbox[3]), slice(lbox[0], lbox[2]))
        if not valid1.all():
            fallback = bg[region]
            if take is None:
                # Pixels no triangle maps (where the planned inner lips meet or cross, a closed mouth's seam
                # has zero area) would show the frame as shot: over an open mouth, a row of teeth between
                # lips that the plan shut. They show the frame with its opening filled by the seam instead.
                fallback = _fill_opening(bg, inner_src, (0, 0))[region]
            base = np.where(valid1[..., None], base, fallback)
            inside1 = np.where(valid1, inside1, np.float32(1.0))  # unmapped pixels already have their fallback
        if inside1.min() < 1.0:
            # Samples from beyond the picture (the work box stops at the frame's edge: a chin below the
            # bottom row) would smear the edge row over the face; there the frame keeps its own pixels.
            base = bg[region] + inside1[..., None] * (base - bg[region])
        generated = base
        if take is None and entry >= 0 and mouth_weight > 0:
            dst = local(target)
            mouth, valid = self._mouth_layer(entry, dst, lbox, scale)
            if fade_from >= 0 and fade_weight > 0:
                other, valid_other = self._mouth_layer(fade_from, dst, lbox, scale)
                mouth = (1 - fade_weight) * mouth + fade_weight * other
                valid = np.minimum(valid, valid_other)
            # Nothing of the reference where the frame's own layer had to keep its pixels either.
            valid = valid * inside1
            ring_full = _paste(mouth_mask(tgt_pts, size, MaskMode.MOUTH), work)
            if scale < 1.0:
                ring_full = cv2.resize(ring_full, (bg.shape[1], bg.shape[0]), interpolation=cv2.INTER_AREA)
            ring_alpha = ring_full[region] * valid
            opening = float(np.clip((gap - OPENING_IOD[0]) / (OPENING_IOD[1] - OPENING_IOD[0]), 0.0, 1.0))
            opening_alpha = _inner_alpha(local(tgt_pts[_INNER]), lbox) * valid * np.float32(opening_share(mouth_weight) * opening)
            inside = opening_alpha
            if closing > 0:
                lips = _lips_alpha(local(tgt_pts[_OUTER]), lbox, 0.02 * iod * scale)
                inside = np.maximum(inside, lips * valid * np.float32(mouth_weight * closing))
            if ring_alpha.max() > 0 and inside.max() > 0:
                # Exposure and white balance from the lips and skin around them, where both layers show
                # the same anatomy; only the opening (teeth, tongue, dark) is then taken from the reference.
                mouth = match_exposure(mouth, base, ring_alpha)
                if self.settings.sharpen > 0 and opening_alpha.max() > 0:
                    # Only the opening is sharpened: on closing lips the sharpened seam of a shut mouth
                    # reads as a gap (closures on p/b/m frames fell by one frame in 26 on two HDTF clips).
                    share = np.divide(opening_alpha, inside, out=np.zeros_like(inside), where=inside > 0)
                    sharp = sharpen_without_overshoot(mouth, self.settings.sharpen)
                    mouth = mouth + share[..., None] * (sharp - mouth)
                generated = base + inside[..., None] * (mouth - base)
        if scale < 1.0:
            # Back to frame pixels: full-res pixel centre X + 0.5 sits at (X + 0.5 - work x0) * scale in the
            # working image, whose array index i has its centre at lbox x0 + i + 0.5.
            m = np.array([[scale, 0.0, (x0 - work[0] + 0.5) * scale - lbox[0] - 0.5],
                          [0.0, scale, (y0 - work[1] + 0.5) * scale - lbox[1] - 0.5]])
            generated = cv2.warpAffine(generated, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_REPLICATE)
        return mask, generated
