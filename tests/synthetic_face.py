"""A synthetic, plausible 478-point face mesh and tiny frames painted from it, for tests without footage.

Why a generator and not recorded landmarks: the classic engine's stages (motion planning, the warp, the
retrieved mouth, the compositor) only ever see a mesh and pixels. A mesh whose every point sits where
MediaPipe would put it on a frontal face, with a mouth we open and a jaw we drop on request, lets a test
say exactly what the plan and the painted frame must show, and runs without ../shared/media.

How the mesh is made, in canonical units (`mytalk.core.face.canonical`: outer eye corners at (-0.5, 0) and
(0.5, 0), y down, z away from the camera):

1. the rigid `POSE` points are the canonical reference itself (`reference_pose_3d`), so `fit_poses` and
   `pose_fit` find an exactly frontal head and the similarity fit on `STABLE` is exact;
2. the contours a renderer or a mask reads are drawn by region: the face oval (`FACE_OVAL`, through the
   reference's ear-level and forehead points), the lips (`LIPS_OUTER`, `LIPS_INNER`, opened by `opening`),
   the eyelids, brows and irises (MediaPipe's own contour sets), the subnasale;
3. every other point (cheeks, forehead, the lip rows between the contours, the nose wings, the chin) is
   the harmonic interpolation of those over MediaPipe's own triangulation (each free point is the mean of
   its mesh neighbours, a sparse linear solve): it lands inside its neighbours, as on a real face, and
   follows the jaw when the mouth opens.

Then the head is placed in a frame: eye-midpoint position, inter-ocular distance in px and roll; z is
scaled like x and y (MediaPipe's z is in the same pixel scale).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
from mediapipe.python.solutions import face_mesh_connections as connections

from mytalk.core.face import regions
from mytalk.core.face.canonical import reference_pose_3d
from mytalk.core.media.audio import AudioTrack

MESH_POINTS = 468
"""Points of MediaPipe's triangulated mesh; 468-477 are the refined irises, outside the triangulation."""

MOUTH_Y = 0.72
"""Canonical height of the mouth's corners (between the subnasale at 0.49 and the chin at 1.12)."""

CHIN_Y = 1.12
OUTER_HALF_WIDTH, INNER_HALF_WIDTH = 0.27, 0.22
UPPER_LIP, LOWER_LIP = 0.10, 0.12
"""Lip thickness at the middle (canonical units): MediaPipe's mean face has a thinner upper lip."""

SEAM = 0.008
"""The smallest inner-lip gap: a shut mouth's inner contours lie a hair apart, as the tracker reports
them, so no two mesh points ever coincide (the warp's Delaunay steps need distinct points)."""

SKIN = (224, 172, 142)
LIP = (178, 62, 72)
MOUTH = (38, 16, 22)
TEETH = (236, 232, 218)
BACKGROUND = (70, 92, 120)
EDGE_MARK = (0, 255, 0)
"""Colours (RGB, 0-255) of the painted regions; `EDGE_MARK` is a colour no face region has, used to see
whether a frame's edge row was smeared over the picture."""


def _chains(edges: Iterable[tuple[int, int]], ends: tuple[int, int] | None = None) -> list[list[int]]:
    """The polylines of an edge set: open chains between degree-1 points, or a closed loop cut at `ends`
    (two chains from ends[0] to ends[1])."""
    adjacent: dict[int, set[int]] = {}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    if ends is not None:
        first, last = ends
        out = []
        for start in sorted(adjacent[first]):
            chain = [first, start]
            while chain[-1] != last:
                chain.append(next(p for p in adjacent[chain[-1]] if p != chain[-2]))
            out.append(chain)
        return out
    out = []
    seen: set[int] = set()
    for start in sorted(p for p, n in adjacent.items() if len(n) == 1):
        if start in seen:
            continue
        chain = [start]
        while True:
            nxt = [p for p in adjacent[chain[-1]] if p not in chain]
            if not nxt:
                break
            chain.append(nxt[0])
        seen.update(chain)
        out.append(chain)
    return out


def _lid_chains(edges: frozenset[tuple[int, int]], outer: int, inner: int) -> tuple[list[int], list[int]]:
    """(upper lid, lower lid) of an eye, each from the outer to the inner corner."""
    a, b = _chains(edges, (outer, inner))
    # MediaPipe's upper lid has the smaller indices next to the outer corner (246 / 466 against 7 / 249).
    return (a, b) if a[1] in (246, 466) else (b, a)


_REF = {index: tuple(xyz) for index, xyz in zip(regions.POSE, reference_pose_3d(), strict=True)}
_RIGHT_UPPER_LID, _RIGHT_LOWER_LID = _lid_chains(connections.FACEMESH_RIGHT_EYE, 33, 133)
_LEFT_UPPER_LID, _LEFT_LOWER_LID = _lid_chains(connections.FACEMESH_LEFT_EYE, 263, 362)
_BROWS = [(chain, side) for edges, side in ((connections.FACEMESH_RIGHT_EYEBROW, -1.0),
                                              (connections.FACEMESH_LEFT_EYEBROW, 1.0))
          for chain in _chains(edges)]
"""Each brow row as a chain from its outer end inwards (MediaPipe numbers the outer end lower), with the
sign of x on its side of the face."""
_LOWER_BROW_ROWS = frozenset((46, 53, 52, 65, 55, 276, 283, 282, 295, 285))
"""The rows of MediaPipe's brow points that run along the brow's lower edge."""
_UPPER_INNER_LIP = (regions.LIPS_INNER[0], *regions.LIPS_INNER[:10:-1], regions.LIPS_INNER[10])
"""The upper inner lip from the right inner corner (78) to the left (308)."""
_RIGHT_IRIS = (468, *sorted({i for e in connections.FACEMESH_RIGHT_IRIS for i in e}))
_LEFT_IRIS = (473, *sorted({i for e in connections.FACEMESH_LEFT_IRIS for i in e}))


def _oval(jaw_drop: float) -> dict[int, tuple[float, float, float]]:
    """The face outline through the reference's forehead (10) and ear-level points (127, 234 and mirrors)
    and the chin, in polar coordinates about the face's middle, interpolated between those anchors; the
    part below the ears follows the jaw down by `jaw_drop`, most at the chin."""
    oval = regions.FACE_OVAL
    centre = np.array([0.0, 0.25])
    anchors = {0: _REF[10][:2], oval.index(356): _REF[356][:2], oval.index(454): _REF[454][:2],
               oval.index(152): (0.0, CHIN_Y), oval.index(234): _REF[234][:2], oval.index(127): _REF[127][:2],
               len(oval): _REF[10][:2]}
    ks = np.array(sorted(anchors), float)
    vec = np.array([anchors[int(k)] for k in ks]) - centre
    # Clockwise in the image from the top: the angle from "up" grows towards image right.
    angle = np.unwrap(np.arctan2(vec[:, 0], -vec[:, 1]))
    angle[-1] = angle[0] + 2 * np.pi
    radius = np.hypot(vec[:, 0], vec[:, 1])
    out = {}
    for k, index in enumerate(oval):
        t = float(np.interp(k, ks, angle))
        r = float(np.interp(k, ks, radius))
        x, y = centre[0] + r * math.sin(t), centre[1] - r * math.cos(t)
        z = -0.13 + 0.72 * min(1.0, (x / 0.8) ** 2)
        if index in _REF:
            x, y, z = _REF[index]
        below_ears = min(max((y - 0.3) / (CHIN_Y - 0.3), 0.0), 1.0)
        out[index] = (x, y + jaw_drop * below_ears, z)
    return out


def _lips(opening: float, spread: float) -> dict[int, tuple[float, float, float]]:
    """Outer and inner lip contours: the inner gap (13 ↔ 14) is `opening` (at least `SEAM`), two thirds of
    it from the lower lip as on a real jaw; `spread` widens the mouth (a smile, an "ee") in canonical units."""
    gap = max(float(opening), SEAM)
    out: dict[int, tuple[float, float, float]] = {}

    def profile(u: float, power: float = 0.5) -> float:
        return max(0.0, 1.0 - u * u) ** power

    def place(contour: tuple[int, ...], half_width: float, outer: bool) -> None:
        lower, upper = contour[:11], contour[10:] + contour[:1]  # right corner → left corner, then back
        for k, index in enumerate(lower):
            u = -math.cos(math.pi * k / 10)
            y = MOUTH_Y + 0.7 * gap * profile(u) + (LOWER_LIP * profile(u, 0.6) if outer else 0.0)
            out[index] = ((half_width + spread) * u, y, -0.40 if outer else -0.36)
        for k, index in enumerate(upper[1:-1], start=1):
            u = math.cos(math.pi * k / 10)
            bow = 1.0 - 0.15 * math.exp(-((u / 0.12) ** 2))  # the cupid's bow dips at the middle
            y = MOUTH_Y - 0.3 * gap * profile(u) - (UPPER_LIP * profile(u, 0.6) * bow if outer else 0.0)
            out[index] = ((half_width + spread) * u, y, -0.42 if outer else -0.36)

    place(regions.LIPS_OUTER, OUTER_HALF_WIDTH, outer=True)
    place(regions.LIPS_INNER, INNER_HALF_WIDTH, outer=False)
    return out


def _eyes() -> dict[int, tuple[float, float, float]]:
    """Eyelids as arcs between the reference's corners, brows above them, irises in the middle."""
    out: dict[int, tuple[float, float, float]] = {}
    for upper, lower in ((_RIGHT_UPPER_LID, _RIGHT_LOWER_LID), (_LEFT_UPPER_LID, _LEFT_LOWER_LID)):
        a, b = np.array(_REF[upper[0]]), np.array(_REF[upper[-1]])
        for lid, height in ((upper, -0.09), (lower, 0.06)):
            for k, index in enumerate(lid[1:-1], start=1):
                t = k / (len(lid) - 1)
                x, y, z = a + t * (b - a)
                out[index] = (float(x), float(y + height * math.sin(math.pi * t)), float(z - 0.02))
    for chain, side in _BROWS:
        for k, index in enumerate(chain):
            t = k / (len(chain) - 1)
            # An arch from the temple to above the inner eye corner; the lower row 0.05 under the upper one.
            lower_row = 0.05 if index in _LOWER_BROW_ROWS else 0.0
            out[index] = (side * (0.68 - 0.52 * t), -0.22 - 0.06 * math.sin(math.pi * t) + lower_row, -0.16)
    for iris, (outer, inner) in ((_RIGHT_IRIS, (33, 133)), (_LEFT_IRIS, (263, 362))):
        centre = (np.array(_REF[outer]) + np.array(_REF[inner])) / 2
        out[iris[0]] = (float(centre[0]), float(centre[1]), float(centre[2] - 0.03))
        for k, index in enumerate(iris[1:]):
            t = k * math.pi / 2
            out[index] = (float(centre[0] + 0.055 * math.cos(t)), float(centre[1] + 0.055 * math.sin(t)),
                          float(centre[2] - 0.03))
    return out


@lru_cache(maxsize=1)
def _free_points() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(free indices, fixed indices, the harmonic operator (free × fixed)): a free point is the mean of its
    mesh neighbours, so free = inv(L_ff) @ adjacency_fc @ fixed. Which points are fixed never changes."""
    fixed = np.array(sorted(i for i in _constraints(0.0, 0.0, 0.0) if i < MESH_POINTS), np.intp)
    free = np.setdiff1d(np.arange(MESH_POINTS), fixed)
    adjacency = np.zeros((MESH_POINTS, MESH_POINTS))
    for a, b in connections.FACEMESH_TESSELATION:
        adjacency[a, b] = adjacency[b, a] = 1.0
    laplacian = np.diag(adjacency.sum(axis=1)) - adjacency
    operator = np.linalg.solve(laplacian[np.ix_(free, free)], adjacency[np.ix_(free, fixed)])
    return free, fixed, operator


def _constraints(opening: float, jaw_drop: float, spread: float) -> dict[int, tuple[float, float, float]]:
    out = {index: _REF[index] for index in regions.POSE}
    out.update(_oval(jaw_drop))
    out.update(_eyes())
    out.update(_lips(opening, spread))
    out[regions.SUBNASALE] = (0.0, 0.49, -0.47)
    return out


def canonical_face(opening: float = 0.0, jaw_drop: float | None = None, spread: float = 0.0) -> np.ndarray:
    """(478, 3) float64 face in canonical units: IOD (outer eye corners) 1, eye midpoint at the origin.

    opening: inner-lip gap (13 ↔ 14) in IOD, e.g. 0 shut, 0.1 speech, 0.3 wide open. jaw_drop: how far the
    chin moves down (IOD); None: 0.6 × opening, as a jaw follows an opening mouth. spread: mouth widening
    (IOD per corner).
    """
    drop = 0.6 * float(opening) if jaw_drop is None else float(jaw_drop)
    constraints = _constraints(opening, drop, spread)
    free, fixed, operator = _free_points()
    out = np.zeros((regions.NUM_LANDMARKS, 3))
    for index, xyz in constraints.items():
        out[index] = xyz
    out[free] = operator @ out[fixed]
    return out


def place_face(canon: np.ndarray, centre: tuple[float, float], iod_px: float, roll_deg: float = 0.0) -> np.ndarray:
    """(478, 3) float32 landmarks in frame pixels, as the tracker reports them: the canonical face scaled so
    the outer eye corners are `iod_px` apart, rolled by `roll_deg` (clockwise in the image) about the eye
    midpoint, which lands on `centre` (x, y px); z in the same pixel scale."""
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    rot = np.array([[c, -s], [s, c]])
    out = np.empty_like(canon, dtype=np.float64)
    out[:, :2] = canon[:, :2] @ rot.T * iod_px + np.asarray(centre, np.float64)
    out[:, 2] = canon[:, 2] * iod_px
    return out.astype(np.float32)


def face_landmarks(opening: float = 0.0, *, centre: tuple[float, float] = (96.0, 72.0), iod_px: float = 64.0,
                   jaw_drop: float | None = None, spread: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """`canonical_face` placed in a frame: (478, 3) float32 px. The defaults fit a 192 × 192 frame."""
    return place_face(canonical_face(opening, jaw_drop, spread), centre, iod_px, roll_deg)


# --- pictures ------------------------------------------------------------------------------------------


def _fill(canvas: np.ndarray, points: np.ndarray, colour: tuple[int, ...] | np.ndarray) -> None:
    """Anti-aliased polygon fill at 1/16 px (landmarks are continuous px: pixel i spans [i, i + 1))."""
    pts = np.round((np.asarray(points, np.float64)[:, :2] - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], tuple(int(v) for v in colour), lineType=cv2.LINE_AA, shift=4)


def _coverage(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    _fill(mask, points, (255,))
    return mask.astype(np.float32) / 255.0


def paint_face_rgb(landmarks: np.ndarray, size: tuple[int, int] = (192, 192), *, seed: int = 0,
                   edge_mark: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB picture of the face `landmarks` (478, 2|3) px: background, neck, skin with a
    little shading, eyes with irises, brows, nostrils, red lips, and, where the lips part, a dark mouth with
    light upper teeth. A fixed-seed grain (σ ≈ 2 codes) gives the warps and the colour match real texture.

    edge_mark: paint the bottom two rows `EDGE_MARK`, a colour nothing else has (see the edge tests).
    """
    w, h = size
    lm = np.asarray(landmarks, np.float64)[:, :2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    canvas = np.empty((h, w, 3), np.float32)
    canvas[:] = np.asarray(BACKGROUND, np.float32) * (0.85 + 0.3 * y[..., None] / h)
    iod = float(np.linalg.norm(lm[263] - lm[33]))
    jaw = lm[list(regions.JAW)]
    neck = np.array([[jaw[3, 0], jaw[3, 1]], [jaw[-4, 0], jaw[-4, 1]], [jaw[-4, 0], h + 10.0], [jaw[3, 0], h + 10.0]])
    layer = canvas.astype(np.uint8).copy()
    _fill(layer, neck, tuple(int(v * 0.8) for v in SKIN))
    _fill(layer, lm[list(regions.FACE_OVAL)], SKIN)
    canvas = layer.astype(np.float32)
    # Soft light from the upper left, so skin is not flat and the colour match has a gradient to see.
    centre = lm[list(regions.FACE_OVAL)].mean(axis=0)
    shade = 1.0 + 0.08 * ((centre[0] - x) + (centre[1] - y)) / max(iod, 1.0)
    face = _coverage((h, w), lm[list(regions.FACE_OVAL)])
    canvas *= (1.0 + face * (shade - 1.0))[..., None]
    for upper, lower, iris in ((_RIGHT_UPPER_LID, _RIGHT_LOWER_LID, _RIGHT_IRIS), (_LEFT_UPPER_LID, _LEFT_LOWER_LID, _LEFT_IRIS)):
        eye = np.concatenate([lm[upper], lm[lower[::-1]]])
        alpha = _coverage((h, w), eye)
        canvas += alpha[..., None] * (np.array([240.0, 240.0, 235.0]) - canvas)
        radius = float(np.linalg.norm(lm[iris[1]] - lm[iris[0]]))
        ring = lm[iris[0]] + radius * np.stack([np.cos(np.linspace(0, 2 * np.pi, 24)), np.sin(np.linspace(0, 2 * np.pi, 24))], 1)
        canvas += (alpha * _coverage((h, w), ring))[..., None] * (np.array([70.0, 45.0, 30.0]) - canvas)
    for chain, _ in _BROWS:
        pts = np.round((lm[chain] - 0.5) * 16).astype(np.int32)
        brow = np.zeros((h, w), np.uint8)
        cv2.polylines(brow, [pts], False, 255, max(1, round(iod * 0.04)), lineType=cv2.LINE_AA, shift=4)
        canvas += (brow.astype(np.float32) / 255.0)[..., None] * (np.array([80.0, 55.0, 40.0]) - canvas)
    for nostril in (98, 327):
        spot = lm[nostril] + 0.35 * (lm[regions.SUBNASALE] - lm[nostril]) - [0.0, 0.02 * iod]
        ellipse = spot + iod * np.stack([0.05 * np.cos(np.linspace(0, 2 * np.pi, 16)), 0.025 * np.sin(np.linspace(0, 2 * np.pi, 16))], 1)
        canvas += _coverage((h, w), ellipse)[..., None] * (np.array([120.0, 70.0, 60.0]) - canvas)
    lips = _coverage((h, w), lm[list(regions.LIPS_OUTER)])
    canvas += lips[..., None] * (np.asarray(LIP, np.float32) - canvas)
    inner = lm[list(regions.LIPS_INNER)]
    opening = _coverage((h, w), inner)
    canvas += opening[..., None] * (np.asarray(MOUTH, np.float32) - canvas)
    # Upper teeth: the top 40 % of the opening, under the upper inner lip.
    gap = float(np.linalg.norm(lm[regions.LOWER_LIP_MID] - lm[regions.UPPER_LIP_MID]))
    if gap > 2.0:
        upper_inner = lm[list(_UPPER_INNER_LIP)]
        teeth = np.concatenate([upper_inner, upper_inner[::-1] + [0.0, 0.4 * gap]])
        canvas += (opening * _coverage((h, w), teeth))[..., None] * (np.asarray(TEETH, np.float32) - canvas)
    grain = np.random.default_rng(seed).normal(0.0, 2.0, canvas.shape).astype(np.float32)
    rgb = np.clip(canvas + grain + 0.5, 0, 255).astype(np.uint8)
    if edge_mark:
        rgb[-2:] = EDGE_MARK
    return rgb


def to_video_frame(rgb: np.ndarray, index: int = 0) -> av.VideoFrame:
    """A yuv420p BT.709 limited-range frame (tagged so, as cameras do) from (H, W, 3) uint8 RGB."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
    frame.colorspace, frame.color_range = 1, 1
    frame.pts = index
    return frame


def face_frame(landmarks: np.ndarray, size: tuple[int, int] = (192, 192), *, index: int = 0,
               edge_mark: bool = False) -> av.VideoFrame:
    """`paint_face_rgb` as a decoded-looking yuv420p frame (grain seeded by `index`)."""
    return to_video_frame(paint_face_rgb(landmarks, size, seed=index, edge_mark=edge_mark), index)


def write_face_clip(path: Path, pictures: Iterable[np.ndarray], fps: Fraction = Fraction(25),
                    sound: AudioTrack | None = None) -> Path:
    """Encode RGB pictures losslessly (FFV1 in Matroska, yuv420p BT.709), with `sound` as 16-bit PCM from
    the same instant, so the real reader, the probe, the profile's own-sound decoder and its crop cutter
    (`profile_crops.extract_crops`) read back exactly the painted faces and the synthetic voice."""
    tick = Fraction(fps.denominator, fps.numerator)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.codec_context.time_base = tick
        audio = None
        if sound is not None:
            audio = container.add_stream("pcm_s16le", rate=sound.rate, layout="mono")
            audio.codec_context.time_base = Fraction(1, sound.rate)
        for i, rgb in enumerate(pictures):
            if i == 0:
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
            frame = to_video_frame(rgb, i)
            frame.time_base = tick
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None and sound is not None:
            pcm = np.clip(np.round(sound.mono().samples * 32767.0), -32768, 32767).astype(np.int16)
            chunk = 1024
            for first in range(0, pcm.shape[1], chunk):
                piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, first : first + chunk]), format="s16",
                                                   layout="mono")
                piece.sample_rate, piece.pts, piece.time_base = sound.rate, first, Fraction(1, sound.rate)
                container.mux(audio.encode(piece))
            container.mux(audio.encode(None))
    return path


# --- sound ---------------------------------------------------------------------------------------------


def syllable_loudness(num_frames: int, fps: Fraction, speaking: Iterable[tuple[float, float]], *,
                      syllables_per_s: float = 4.0, seed: int = 0) -> np.ndarray:
    """(num_frames,) loudness in [0, 1] per video frame: syllables (a sin² swell each, peaks between 0.5
    and 1) inside the `speaking` spans (seconds from frame 0), 0 elsewhere. Speech is about 4 syllables a
    second; the varying peaks give a regression something to learn besides "voiced or not"."""
    rng = np.random.default_rng(seed)
    t = (np.arange(num_frames) + 0.5) / float(fps)
    out = np.zeros(num_frames)
    for start, end in speaking:
        inside = (t >= start) & (t < end)
        phase = (t[inside] - start) * syllables_per_s
        peaks = rng.uniform(0.5, 1.0, int(math.ceil((end - start) * syllables_per_s)) + 1)
        out[inside] = peaks[phase.astype(int)] * np.sin(np.pi * (phase % 1.0)) ** 2
    return out


def voice(loudness: np.ndarray, fps: Fraction, rate: int = 16_000, *, seed: int = 0) -> AudioTrack:
    """A voiced buzz (harmonics of a 120-160 Hz glottal tone, falling 6 dB per octave, to 4 kHz) whose level
    follows `loudness` (T,) per video frame, over a -70 dBFS room tone: band energies, voice activity and
    the 1-4 kHz envelope all rise and fall with it, as with a real line. Sample 0 is the start of frame 0."""
    n = int(round(loudness.size * rate / float(fps)))
    t = np.arange(n) / rate
    frame_t = (np.arange(loudness.size) + 0.5) / float(fps)
    level = np.interp(t, frame_t, loudness)
    f0 = 140.0 + 20.0 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 28))
    room = np.random.default_rng(seed).normal(0.0, 3e-4, n)
    return AudioTrack((0.25 * level * buzz + room).astype(np.float32), rate)
