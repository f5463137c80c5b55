"""Issue #12, part by part on synthetic data: subject choice, shot cuts, the warp at edges and folds, the edit
region, and the worst-frame figures of the evaluation."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from benchmarks.eval.mouth_detail import MouthDetail, speck_count
from conftest import media_path
from mytalk.core.composite.masks import EDIT_GUARD_PX, Mask, MaskMode, edit_mask, edit_region, mouth_mask
from mytalk.core.engines.classic.render import MeshTopology
from mytalk.core.engines.classic.warp import piecewise_affine
from mytalk.core.face.canonical import reference_pose_3d
from mytalk.core.face.regions import LIPS_OUTER, NUM_LANDMARKS, POSE
from mytalk.core.face.shots import CUT_DISTANCE, _thumbnail, is_cut, shot_signature
from mytalk.core.face.subject import MIN_RUN_FRAMES, SHAPE_TOLERANCE, appearances, decide_subject

# --- subject -----------------------------------------------------------------------------------


def _face(identity: np.ndarray, rng: np.random.Generator, residual: float = 0.0) -> np.ndarray:
    """A (478, 3) mesh: the rigid pose points at the frontal reference, the rest `identity`, all moved by a
    random head pose, scale and position (which `face_shape` must cancel), plus pose-point noise."""
    pts = identity.copy()
    pts[list(POSE)] = reference_pose_3d() + rng.normal(0.0, residual, (len(POSE), 3))
    yaw, pitch, roll = rng.uniform(-0.3, 0.3, 3)
    rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    scale = rng.uniform(80, 200)
    return (scale * pts @ (rz @ ry @ rx).T + rng.uniform(100, 400, 3)).astype(np.float32)


@pytest.fixture
def people() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    base = rng.normal(0.0, 0.5, (NUM_LANDMARKS, 3))
    return {"actor": base, "other": base + rng.normal(0.0, 2 * SHAPE_TOLERANCE, base.shape)}


def test_subject_keeps_the_actor_and_rejects_other_faces_and_graphics(people: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    plan = ["actor"] * 30 + ["other"] * 12 + ["graphic"] * 10 + ["actor"] * 20
    landmarks = [_face(people["other" if who == "other" else "actor"], rng, 0.08 if who == "graphic" else 0.0)
                 for who in plan]
    cuts = {30, 42, 52}
    rejected = decide_subject(landmarks, [True] * len(plan), list(range(100, 100 + len(plan))),
                              first_is_subject=False, cuts=cuts).rejected
    assert [(r.first, r.last) for r in rejected] == [(130, 141), (142, 151)]
    assert "different face" in rejected[0].reason and "plausible" in rejected[1].reason
    # Without the cuts, one appearance holds everything: the shot boundaries are what separate faces.
    assert decide_subject(landmarks, [True] * len(plan), list(range(len(plan))), first_is_subject=False).rejected == []


def test_a_brief_face_is_not_a_subject_but_a_hidden_actor_comes_back(people: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(2)
    flash = [_face(people["actor"], rng) for _ in range(MIN_RUN_FRAMES - 4)]
    found = [False] * 20 + [True] * len(flash) + [False] * 20
    landmarks = [np.zeros((NUM_LANDMARKS, 3), np.float32)] * 20 + flash + [np.zeros((NUM_LANDMARKS, 3), np.float32)] * 20
    rejected = decide_subject(landmarks, found, list(range(len(found))), first_is_subject=False).rejected
    assert len(rejected) == 1 and rejected[0].frames == len(flash) and "seen for only" in rejected[0].reason
    # Five frames, hidden for six, seven more: one actor, 12 frames in all, nothing rejected.
    found = [True] * 5 + [False] * 6 + [True] * 7
    landmarks = [_face(people["actor"], rng) for _ in found]
    assert len(appearances(found)) == 2
    assert decide_subject(landmarks, found, list(range(len(found))), first_is_subject=True).rejected == []


# --- shot cuts -----------------------------------------------------------------------------------


def test_cuts_are_found_between_shots_and_not_inside_one() -> None:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:180, 0:320]
    shot_a = np.stack([(x * 0.6) % 256, (y * 1.2) % 256, np.full_like(x, 90)], axis=2).astype(np.uint8)
    shot_b = cv2.cvtColor(np.full((180, 320, 3), (40, 160, 200), np.uint8), cv2.COLOR_BGR2RGB)
    moved = np.roll(shot_a, 9, axis=1)
    noisy = np.clip(moved + rng.normal(0, 6, moved.shape), 0, 255).astype(np.uint8)
    assert not is_cut(shot_signature(shot_a), shot_signature(noisy))
    assert is_cut(shot_signature(noisy), shot_signature(shot_b))


def test_a_portrait_frame_is_judged_like_the_same_picture_turned() -> None:
    """A phone's vertical footage keeps its orientation in the thumbnail (squeezed into a landscape one,
    OpenCV's general area resampler cost a third of tracking such a clip): a picture and the same picture
    turned get nearly one signature (the thumbnail reads every other row, so not the same pixels), far
    closer than a cut."""
    rng = np.random.default_rng(5)
    landscape = cv2.GaussianBlur(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), (0, 0), 25)
    portrait = np.ascontiguousarray(landscape.transpose(1, 0, 2))
    distance = cv2.compareHist(shot_signature(portrait), shot_signature(landscape), cv2.HISTCMP_BHATTACHARYYA)
    assert distance < 0.1 * CUT_DISTANCE


@pytest.mark.parametrize("shape", [(512, 512), (720, 1280), (1920, 1080), (224, 224), (30, 50), (37, 70)])
def test_the_thumbnail_averages_the_whole_picture_down_to_its_size(shape: tuple[int, int]) -> None:
    """The shot thumbnail is the mean of the frame's centred whole-factor part (every other row of it for
    large frames): a flat frame stays exactly flat, a left/right split keeps its halves, and frames smaller
    than the thumbnail still give one."""
    rows, cols = shape
    size = (64, 36) if cols >= rows else (36, 64)
    flat = np.full((rows, cols, 3), (30, 140, 220), np.uint8)
    assert np.array_equal(_thumbnail(flat, size), np.full((size[1], size[0], 3), (30, 140, 220), np.uint8))
    split = flat.copy()
    split[:, cols // 2:] = (200, 20, 60)
    thumb = _thumbnail(split, size).astype(int)
    assert thumb.shape == (size[1], size[0], 3)
    assert (thumb[:, 0] == (30, 140, 220)).all() and (thumb[:, -1] == (200, 20, 60)).all()


# --- warp --------------------------------------------------------------------------------------


def test_samples_past_the_image_border_get_no_weight() -> None:
    src = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 40.0], [40.0, 40.0]])
    # The output box samples rows 20-60 of a 40-row image: the lower half would read past its edge.
    warp = piecewise_affine(src + [0.0, 20.0], src, (0, 0, 40, 40))
    inside = warp.inside((40, 40, 3))
    assert inside[:15, 5:35].min() == 1.0 and inside[-19:].max() == 0.0


def test_holes_are_filled_from_the_nearest_triangle_except_in_the_opening() -> None:
    # A square fanned into four triangles around its centre, one of them left out: a hole inside the mesh.
    pts = np.array([[0.0, 0.0], [40.0, 0.0], [40.0, 40.0], [0.0, 40.0], [20.0, 20.0]])
    tri = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4]])  # the left quarter (3, 0, 4) is missing
    plain = piecewise_affine(pts, pts, (0, 0, 40, 40), triangles=tri)
    assert not plain.valid[15:25, 2:10].any()
    keep = np.array([[2.0, 17.0], [8.0, 17.0], [8.0, 23.0], [2.0, 23.0]])
    filled = piecewise_affine(pts, pts, (0, 0, 40, 40), triangles=tri, fill_holes=True, keep_holes_in=keep)
    assert filled.valid[5:12, 2:8].all() and filled.valid[28:35, 2:8].all()  # filled from the neighbours
    assert not filled.valid[19:22, 4:7].any()  # the kept opening stays a hole
    # Filled pixels sample the nearest point of a neighbouring triangle: inside the square, never beyond it.
    xs, ys = filled.map_x[filled.valid] + 0.5, filled.map_y[filled.valid] + 0.5
    assert xs.min() >= -1e-3 and xs.max() <= 40 + 1e-3 and ys.min() >= -1e-3 and ys.max() <= 40 + 1e-3


def test_a_sliver_never_fetches_pixels_far_away() -> None:
    # A triangle squeezed to a sliver 0.2 px high whose source is 30 px tall: any pixel it claims off itself
    # must still sample inside that source triangle, not 100+ px away along its huge gradient.
    dst = np.array([[0.0, 10.0], [60.0, 10.0], [30.0, 10.2], [0.0, 0.0], [60.0, 0.0], [0.0, 20.0], [60.0, 20.0]])
    src = np.array([[0.0, 10.0], [60.0, 10.0], [30.0, 40.0], [0.0, 0.0], [60.0, 0.0], [0.0, 20.0], [60.0, 20.0]])
    tri = np.array([[0, 1, 2], [0, 1, 3], [1, 3, 4], [0, 2, 5], [1, 2, 6], [2, 5, 6]])
    warp = piecewise_affine(src, dst, (0, 0, 60, 20), triangles=tri, fill_holes=True)
    assert warp.valid.all()
    assert warp.map_y.max() <= 40.0 and warp.map_y.min() >= -1.0


# --- edit region -------------------------------------------------------------------------------


def _synthetic_face() -> np.ndarray:
    from test_composite_masks import synthetic_landmarks

    pts = synthetic_landmarks(160, 100, 80, opening=0.6)
    jaw = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
    for idx, t in zip(jaw, np.linspace(np.pi, 0.0, len(jaw)), strict=True):
        pts[idx] = (160 + 0.95 * 80 * np.cos(t), 100 + 0.3 * 80 + 1.2 * 80 * np.sin(t))
    return pts


def test_edit_mask_never_reaches_past_the_edit_region() -> None:
    src = _synthetic_face()
    tgt = src.copy()
    tgt[list(LIPS_OUTER), 1] += 60  # a plan that drags the lips far down, past the chin
    size = (320, 288)
    unbounded = mouth_mask(src, size, MaskMode.LOWER_FACE).union(mouth_mask(tgt, size, MaskMode.LOWER_FACE))
    bounded = edit_mask(src, tgt, size, MaskMode.LOWER_FACE)
    region = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillPoly(region, [np.round((edit_region(src) - 0.5) * 16).astype(np.int32)], 1, shift=4)
    guard = cv2.erode(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)), iterations=int(EDIT_GUARD_PX) - 1)
    assert (unbounded.full_frame_alpha(size)[region == 0] > 0).any()
    assert not (bounded.full_frame_alpha(size)[guard == 0] > 0).any()
    assert bounded.full_frame_alpha(size)[int(src[14, 1]), int(src[14, 0])] == pytest.approx(1.0)
    assert Mask.empty(size).within(edit_region(src)).is_empty


# --- worst-frame figures -----------------------------------------------------------------------


def test_speck_count_finds_isolated_dots_only() -> None:
    img = np.full((20, 20), 100, np.float32)
    img[5, 5] = 200  # a bright speck
    img[12, 12] = 20  # a dark speck
    img[15:18, 2:5] = 220  # a 3 px blob: a highlight, not a speck
    assert speck_count(img, np.ones_like(img, bool)) == 2
    assert speck_count(img, np.zeros_like(img, bool)) == 0


def test_an_unchanged_output_scores_one_on_every_worst_frame_figure() -> None:
    from test_composite_masks import synthetic_landmarks

    rng = np.random.default_rng(5)
    detail = MouthDetail()
    for i in range(12):
        gray = rng.integers(0, 255, (288, 320)).astype(np.float32)
        lm = np.zeros((NUM_LANDMARKS, 3))
        lm[:, :2] = synthetic_landmarks(160, 100, 80, opening=0.3)
        detail.add(i, gray, gray, lm, (100, 150, 220, 230), 0.1, 0.1)
    figures = detail.figures()
    assert figures["sharpness_p10_open"] == pytest.approx(1.0)
    assert figures["speck_ratio"] == pytest.approx(1.0) and figures["flicker_ratio"] == pytest.approx(1.0)


# --- mesh topology -----------------------------------------------------------------------------


@pytest.mark.media
def test_the_warp_topology_is_a_partition_that_keeps_the_lip_contour() -> None:
    """Skin triangles never reach across the lips (they collapsed into lines of lip red on the skin)."""
    from mytalk.core.engines.classic.geometry import lower_face_index
    from mytalk.core.face.canonical import apply_transform, similarity_to_canonical_batch
    from mytalk.core.face.video_tracking import track_video

    path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    lm = np.stack([o.landmarks for o in track_video(path, 0, 30) if o.found])[:, :, :2].astype(np.float64)
    transforms, _ = similarity_to_canonical_batch(lm)
    topology = MeshTopology.from_template(apply_transform(lm, transforms).mean(axis=0))
    uses = Counter(frozenset(e) for a, b, c in topology.triangles for e in ((a, b), (b, c), (a, c)))
    assert max(uses.values()) == 2
    lf = lower_face_index()
    pos = {int(v): k for k, v in enumerate(lf)}
    outer = [pos[i] for i in LIPS_OUTER]
    for a, b in zip(outer, outer[1:] + outer[:1], strict=True):
        assert uses[frozenset((a, b))] == 2, (int(lf[a]), int(lf[b]))
