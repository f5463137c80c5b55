"""Feathered mouth / lower-face masks: geometry, alignment, scaling with the face, stability."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.composite.masks import (
    BOX_GRID,
    FEATHER_PER_IOD,
    Mask,
    MaskMode,
    MaskStabiliser,
    mouth_mask,
)
from mytalk.core.errors import UsageError
from mytalk.core.face import regions
from mytalk.core.face.canonical import iod_eye_centres


def synthetic_landmarks(cx: float, cy: float, iod: float, opening: float = 0.0) -> np.ndarray:
    """A frontal (478, 2) face in pixels with every point the masks read placed plausibly.

    (cx, cy) is the midpoint between the eyes, `iod` the inter-ocular distance, `opening` in [0, 1] the
    mouth opening. Points the masks do not read sit on the nose tip.
    """
    d = iod
    pts = np.tile([cx, cy + 0.55 * d], (regions.NUM_LANDMARKS, 1)).astype(np.float64)
    for outer, inner, sign in ((regions.RIGHT_EYE_OUTER, regions.RIGHT_EYE_INNER, -1), (regions.LEFT_EYE_OUTER, regions.LEFT_EYE_INNER, 1)):
        pts[outer] = (cx + sign * (0.5 + 0.15) * d, cy)
        pts[inner] = (cx + sign * (0.5 - 0.15) * d, cy)
    pts[regions.SUBNASALE] = (cx, cy + 0.72 * d)
    mouth_y = cy + 1.05 * d + 0.1 * opening * d
    # Outer lips: an ellipse, starting at the subject's right corner (image left), lower lip first.
    angles = np.linspace(np.pi, -np.pi, len(regions.LIPS_OUTER), endpoint=False)
    half_h = (0.14 + 0.2 * opening) * d
    for idx, t in zip(regions.LIPS_OUTER, angles, strict=True):
        pts[idx] = (cx + 0.4 * d * np.cos(t), mouth_y - half_h * np.sin(t))
    for k, idx in enumerate(regions.LIPS_INNER):
        t = angles[k]
        pts[idx] = (cx + 0.3 * d * np.cos(t), mouth_y - 0.5 * opening * half_h * np.sin(t))
    # Jaw: a half ellipse from the right cheek through the chin to the left cheek.
    jaw_angles = np.linspace(np.pi, 0.0, len(regions.LOWER_FACE_JAW))
    for idx, t in zip(regions.LOWER_FACE_JAW, jaw_angles, strict=True):
        pts[idx] = (cx + 0.95 * d * np.cos(t), cy + 0.65 * d + (0.95 + 0.2 * opening) * d * np.sin(t))
    for idx, x in zip(regions.LOWER_FACE_TOP, np.linspace(0.8, -0.8, len(regions.LOWER_FACE_TOP)), strict=True):
        pts[idx] = (cx + x * d, cy + 0.78 * d)
    return pts


def alpha_at(mask: Mask, frame_size: tuple[int, int], point: np.ndarray) -> float:
    full = mask.full_frame_alpha(frame_size)
    return float(full[int(point[1]), int(point[0])])


@pytest.fixture(scope="module")
def real_landmarks() -> tuple[np.ndarray, tuple[int, int]]:
    """Face-mesh landmarks of one real frame (HDTF clip, 512x512), from mediapipe."""
    mp = pytest.importorskip("mediapipe")
    import av

    path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    rgb = frame.to_ndarray(format="rgb24")
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(rgb)
    assert result.multi_face_landmarks, "mediapipe found no face in the HDTF frame"
    lm = np.array([[p.x * frame.width, p.y * frame.height] for p in result.multi_face_landmarks[0].landmark])
    return lm, (frame.width, frame.height)


FACES = {
    "synthetic": lambda: (synthetic_landmarks(160, 100, 80, opening=0.3), (320, 288)),
}


@pytest.fixture(params=["synthetic", pytest.param("real", marks=pytest.mark.media)])
def face(request: pytest.FixtureRequest) -> tuple[np.ndarray, tuple[int, int]]:
    if request.param == "real":
        return request.getfixturevalue("real_landmarks")
    return FACES[request.param]()


@pytest.mark.parametrize("mode", list(MaskMode))
def test_box_is_aligned_covers_alpha_and_border_is_zero(face: tuple[np.ndarray, tuple[int, int]], mode: MaskMode) -> None:
    lm, size = face
    mask = mouth_mask(lm, size, mode)
    x0, y0, x1, y1 = mask.box
    assert not mask.is_empty
    assert all(v % BOX_GRID == 0 for v in mask.box)
    assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1]
    assert mask.alpha.shape == (y1 - y0, x1 - x0) and mask.alpha.dtype == np.float32
    assert mask.alpha.min() >= 0.0 and mask.alpha.max() == 1.0
    border = np.concatenate([mask.alpha[0], mask.alpha[-1], mask.alpha[:, 0], mask.alpha[:, -1]])
    assert np.all(border == 0.0)
    # The box covers all nonzero alpha: the full-frame alpha sums to the box alpha.
    assert mask.full_frame_alpha(size).sum() == pytest.approx(float(mask.alpha.sum()))


def test_mouth_is_fully_opaque_and_nose_untouched(face: tuple[np.ndarray, tuple[int, int]]) -> None:
    lm, size = face
    for mode in MaskMode:
        mask = mouth_mask(lm, size, mode)
        centre = (lm[regions.UPPER_LIP_MID] + lm[regions.LOWER_LIP_MID]) / 2
        assert alpha_at(mask, size, centre) == 1.0
        assert min(alpha_at(mask, size, lm[i]) for i in regions.LIPS) >= 0.99
        assert alpha_at(mask, size, lm[regions.SUBNASALE]) == 0.0
        assert alpha_at(mask, size, lm[regions.NOSE_TIP]) == 0.0


def test_lower_face_contains_mouth_and_reaches_the_chin(face: tuple[np.ndarray, tuple[int, int]]) -> None:
    lm, size = face
    mouth = mouth_mask(lm, size, MaskMode.MOUTH)
    lower = mouth_mask(lm, size, MaskMode.LOWER_FACE)
    mb, lb = mouth.box, lower.box
    assert lb[0] <= mb[0] and lb[1] <= mb[1] and mb[2] <= lb[2] and mb[3] <= lb[3]
    assert np.all(lower.full_frame_alpha(size) >= mouth.full_frame_alpha(size) - 1e-6)
    assert lower.support.sum() > 1.5 * mouth.support.sum()
    assert alpha_at(lower, size, lm[regions.CHIN]) > 0.95
    assert alpha_at(mouth, size, lm[regions.CHIN]) < alpha_at(lower, size, lm[regions.CHIN])


def test_feather_scales_with_face_size() -> None:
    small_lm = synthetic_landmarks(200, 150, 60)
    large_lm = synthetic_landmarks(400, 300, 120)  # the same face, twice as large
    small = mouth_mask(small_lm, (400, 300), MaskMode.MOUTH)
    large = mouth_mask(large_lm, (800, 600), MaskMode.MOUTH)
    assert small.feather_px == pytest.approx(FEATHER_PER_IOD * iod_eye_centres(small_lm))
    assert large.feather_px == pytest.approx(2 * small.feather_px)
    # The soft ring (0 < alpha < 1) is an area: twice the size in both directions, four times the pixels.
    ring = lambda m: int(((m.alpha > 0) & (m.alpha < 1)).sum())  # noqa: E731
    assert ring(large) / ring(small) == pytest.approx(4.0, rel=0.1)
    # And the large mask is the small one enlarged: compare on the small grid.
    import cv2

    shrunk = cv2.resize(large.full_frame_alpha((800, 600)), (400, 300), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - small.full_frame_alpha((400, 300))).max() < 0.12


def test_explicit_feather_is_used() -> None:
    lm = synthetic_landmarks(160, 120, 80)
    narrow = mouth_mask(lm, (320, 240), MaskMode.MOUTH, feather_px=3.0)
    wide = mouth_mask(lm, (320, 240), MaskMode.MOUTH, feather_px=15.0)
    assert narrow.feather_px == 3.0 and wide.feather_px == 15.0
    ring = lambda m: int(((m.alpha > 0) & (m.alpha < 1)).sum())  # noqa: E731
    assert ring(wide) > 3 * ring(narrow)
    # The lips stay at full strength whatever the feather.
    for m in (narrow, wide):
        assert min(alpha_at(m, (320, 240), lm[i]) for i in regions.LIPS_OUTER) >= 0.99
    with pytest.raises(UsageError):
        mouth_mask(lm, (320, 240), MaskMode.MOUTH, feather_px=-1.0)


@pytest.mark.parametrize("mode", list(MaskMode))
def test_small_landmark_jitter_changes_alpha_only_a_little(face: tuple[np.ndarray, tuple[int, int]], mode: MaskMode) -> None:
    lm, size = face
    rng = np.random.default_rng(7)
    base = mouth_mask(lm, size, mode).full_frame_alpha(size)
    for _ in range(3):
        jittered = lm + rng.normal(0.0, 0.25, lm.shape)  # a quarter-pixel tracker noise
        alpha = mouth_mask(jittered, size, mode).full_frame_alpha(size)
        diff = np.abs(alpha - base)
        # Alpha moves by about slope x jitter: a few hundredths on a feather of several pixels.
        assert diff.max() < 0.15
        assert diff[base > 0].mean() < 0.02


def test_deterministic() -> None:
    lm = synthetic_landmarks(160, 120, 80, opening=0.5)
    a = mouth_mask(lm, (320, 240), MaskMode.LOWER_FACE)
    b = mouth_mask(lm.copy(), (320, 240), MaskMode.LOWER_FACE)
    assert a.box == b.box and np.array_equal(a.alpha, b.alpha)


def test_no_face_gives_an_empty_mask() -> None:
    for lm in (None, np.full((478, 2), np.nan)):
        mask = mouth_mask(lm, (320, 240), MaskMode.MOUTH)
        assert mask.is_empty
        x0, y0, x1, y1 = mask.box
        assert (x1 - x0) * (y1 - y0) == 0
        assert mask.alpha.size == 0


def test_face_at_the_frame_edge_is_clipped() -> None:
    lm = synthetic_landmarks(160, 120, 80) + [0, 20]  # the chin runs off the bottom of the frame
    mask = mouth_mask(lm, (320, 241), MaskMode.LOWER_FACE)  # odd height: the box may end on it
    x0, y0, x1, y1 = mask.box
    assert y1 == 241 and x0 % 2 == 0 and y0 % 2 == 0
    assert mask.alpha[-1].max() > 0.5  # not faded by the frame edge


def test_bad_inputs_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        mouth_mask(np.zeros((10, 2)), (320, 240), MaskMode.MOUTH)
    with pytest.raises(UsageError):
        mouth_mask(synthetic_landmarks(160, 120, 80), (0, 240), MaskMode.MOUTH)
    with pytest.raises(ValueError):
        mouth_mask(synthetic_landmarks(160, 120, 80), (320, 240), "whole-face")
    with pytest.raises(UsageError):
        Mask((0, 0, 4, 4), np.zeros((3, 3)))


def test_union_and_with_box() -> None:
    lm = synthetic_landmarks(160, 120, 80)
    a = mouth_mask(lm, (400, 300), MaskMode.MOUTH)
    b = mouth_mask(lm + [40, 10], (400, 300), MaskMode.MOUTH)
    u = a.union(b)
    full = u.full_frame_alpha((400, 300))
    assert np.array_equal(full, np.maximum(a.full_frame_alpha((400, 300)), b.full_frame_alpha((400, 300))))
    assert a.union(Mask.empty()) is a and Mask.empty().union(a) is a
    big = (u.box[0] - 6, u.box[1] - 4, u.box[2] + 2, u.box[3] + 8)
    moved = u.with_box(big)
    assert moved.box == big and np.array_equal(moved.full_frame_alpha((400, 300)), full)
    with pytest.raises(UsageError):
        u.with_box((u.box[0] + 2, u.box[1], u.box[2], u.box[3]))


def test_stabiliser_keeps_the_box_and_covers_the_current_mouth() -> None:
    lm = synthetic_landmarks(160, 120, 80, opening=0.2)
    stab = MaskStabiliser((320, 260), MaskMode.MOUTH, smoothing=0.6)
    rng = np.random.default_rng(3)
    first = stab.update(lm)
    boxes = {stab.update(lm + rng.normal(0, 0.4, lm.shape)).box for _ in range(6)}
    assert boxes == {first.box}
    # A wide opening: the mask grows at once to cover the current lips, though the history lags.
    wide = synthetic_landmarks(160, 120, 80, opening=1.0)
    mask = stab.update(wide)
    assert min(alpha_at(mask, (320, 260), wide[i]) for i in regions.LIPS_OUTER) >= 0.99
    assert stab.update(None).is_empty
    fresh = stab.update(lm)  # history was reset: the box is the plain mask's plus the slack margin
    plain = mouth_mask(lm, (320, 260), MaskMode.MOUTH)
    assert fresh.box == (plain.box[0] - 4, plain.box[1] - 4, plain.box[2] + 4, plain.box[3] + 4)
    assert np.array_equal(fresh.full_frame_alpha((320, 260)), plain.full_frame_alpha((320, 260)))
    with pytest.raises(UsageError):
        MaskStabiliser((320, 260), smoothing=1.0)


def test_lower_face_regions_form_a_loop_of_known_points() -> None:
    assert regions.LOWER_FACE_JAW[0] == 132 and regions.LOWER_FACE_JAW[-1] == 361
    assert regions.CHIN in regions.LOWER_FACE_JAW
    assert set(regions.LOWER_FACE_JAW) <= set(regions.JAW)
    assert all(0 <= i < regions.NUM_LANDMARKS for i in regions.LOWER_FACE_TOP)
    assert not set(regions.LOWER_FACE_TOP) & set(regions.LIPS)


@pytest.mark.media
def test_real_lower_face_top_sits_under_the_nose(real_landmarks: tuple[np.ndarray, tuple[int, int]]) -> None:
    lm, _ = real_landmarks
    nose_base_y = lm[regions.SUBNASALE, 1]
    lip_top_y = lm[list(regions.LIPS_OUTER), 1].min()
    # Under the nose, above the lips: the closing line of the polygon crosses the philtrum.
    for i in (393, 164, 167):
        assert nose_base_y - 2 <= lm[i, 1] <= lip_top_y
