"""The canonical face frame: invariance to where, how big and how rotated the face is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.face import canonical
from mytalk.core.face.regions import LEFT_EYE_OUTER, LIPS, NUM_LANDMARKS, POSE, RIGHT_EYE_OUTER, STABLE
from mytalk.core.face.tracker import FaceTracker, TrackerSettings
from mytalk.core.media.reader import FrameReader


def _similarity(points: np.ndarray, angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """Rotate (about the origin), scale and translate (N, 2|3) points; z is scaled only."""
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out = np.array(points, dtype=np.float64)
    out[:, :2] = scale * points[:, :2] @ rot.T + np.asarray(shift)
    if out.shape[1] == 3:
        out[:, 2] *= scale
    return out


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Image-axis rotation with the sign conventions documented in `canonical.pose_fit`."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    ry = np.array([[math.cos(-y), 0, math.sin(-y)], [0, 1, 0], [-math.sin(-y), 0, math.cos(-y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(-p), -math.sin(-p)], [0, math.sin(-p), math.cos(-p)]])
    return rz @ ry @ rx


@pytest.fixture(scope="module")
def real_landmarks() -> np.ndarray:
    """Raw (478, 3) landmarks of one real frame (HDTF clip, frame 40)."""
    path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    with FrameReader(path) as reader, FaceTracker(TrackerSettings(smooth=False)) as tracker:
        obs = tracker.track((sf.index, sf.to_rgb()) for sf in reader.frames(40, 41))
    assert obs[0].found
    return obs[0].landmarks.astype(np.float64)


def _synthetic_landmarks() -> np.ndarray:
    """A face made of the reference layout: only the POSE points are set, at 150 px per IOD."""
    lm = np.zeros((NUM_LANDMARKS, 3))
    lm[list(POSE)] = 150.0 * canonical.reference_pose_3d()
    # Lips: a plausible mouth below the nose so aperture and lip points have something to see.
    rng = np.random.default_rng(0)
    lm[list(LIPS), 0] = rng.uniform(-60, 60, len(LIPS))
    lm[list(LIPS), 1] = rng.uniform(90, 130, len(LIPS))
    return lm


@pytest.mark.parametrize("source", ["synthetic", "real"])
@pytest.mark.parametrize(
    ("angle", "scale", "shift"),
    [(0.0, 1.0, (0.0, 0.0)), (30.0, 2.5, (640.0, 360.0)), (-75.0, 0.3, (-20.0, 1000.0)), (180.0, 4.0, (5.5, -3.25))],
)
def test_canonical_points_are_invariant_to_a_similarity(
    source: str, angle: float, scale: float, shift: tuple[float, float], request: pytest.FixtureRequest
) -> None:
    lm = _synthetic_landmarks() if source == "synthetic" else request.getfixturevalue("real_landmarks")
    moved = _similarity(lm, angle, scale, shift)
    np.testing.assert_allclose(canonical.to_canonical(moved), canonical.to_canonical(lm), atol=1e-9)
    np.testing.assert_allclose(canonical.lip_points_normalised(moved), canonical.lip_points_normalised(lm), atol=1e-9)
    assert canonical.mouth_aperture(moved) == pytest.approx(canonical.mouth_aperture(lm), abs=1e-12)
    _, s_moved = canonical.similarity_to_canonical(moved)
    _, s_orig = canonical.similarity_to_canonical(lm)
    assert s_moved == pytest.approx(s_orig / scale)


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_inter_ocular_distance_is_one_and_eyes_are_level(source: str, request: pytest.FixtureRequest) -> None:
    lm = _synthetic_landmarks() if source == "synthetic" else request.getfixturevalue("real_landmarks")
    lm = _similarity(lm, 17.0, 1.7, (100.0, 50.0))
    can = canonical.to_canonical(lm)
    assert np.linalg.norm(can[LEFT_EYE_OUTER] - can[RIGHT_EYE_OUTER]) == pytest.approx(1.0, abs=1e-12)
    # The least-squares rotation of the eye corners and nose bridge keeps the eye line level.
    eye = can[LEFT_EYE_OUTER] - can[RIGHT_EYE_OUTER]
    assert abs(math.degrees(math.atan2(eye[1], eye[0]))) < 5.0
    # Canonical STABLE points sit close to the reference layout for a real face too (in IOD).
    assert np.abs(can[list(STABLE)] - canonical.reference_stable()).max() < 0.1


def test_reference_layout_maps_onto_itself() -> None:
    lm = _synthetic_landmarks() / 150.0
    transform, scale = canonical.similarity_to_canonical(lm)
    np.testing.assert_allclose(transform, [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    assert scale == pytest.approx(1.0)


def test_from_canonical_inverts_the_transform(real_landmarks: np.ndarray) -> None:
    transform, _ = canonical.similarity_to_canonical(real_landmarks)
    can = canonical.to_canonical(real_landmarks)
    np.testing.assert_allclose(canonical.from_canonical(can, transform), real_landmarks[:, :2], atol=1e-9)


def test_batched_functions_match_single_frames(real_landmarks: np.ndarray) -> None:
    seq = np.stack([_similarity(real_landmarks, a, 1 + a / 100, (a, -a)) for a in (0.0, 10.0, 45.0)])
    seq = np.concatenate([seq, np.zeros((1, NUM_LANDMARKS, 3))])  # a frame without a face
    transforms, scales = canonical.similarity_to_canonical_batch(seq)
    for t in range(3):
        single_t, single_s = canonical.similarity_to_canonical(seq[t])
        np.testing.assert_allclose(transforms[t], single_t)
        assert scales[t] == pytest.approx(single_s)
    assert np.isnan(scales[3]) and np.isnan(transforms[3]).all()
    lips = canonical.lip_points_normalised(seq)
    assert lips.shape == (4, 40, 2)
    np.testing.assert_allclose(lips[:3], np.stack([canonical.lip_points_normalised(f) for f in seq[:3]]), atol=1e-12)
    apertures = canonical.mouth_aperture(seq)
    assert isinstance(apertures, np.ndarray) and apertures.shape == (4,) and np.isnan(apertures[3])
    np.testing.assert_allclose(
        canonical.from_canonical(canonical.to_canonical(seq[:3]), transforms[:3]), seq[:3, :, :2], atol=1e-9
    )


def test_degenerate_landmarks_raise_a_clear_error() -> None:
    with pytest.raises(ValueError, match="inter-ocular distance 0"):
        canonical.similarity_to_canonical(np.zeros((NUM_LANDMARKS, 3)))
    with pytest.raises(ValueError, match="shape"):
        canonical.to_canonical(np.zeros((10, 2)))


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (25, -10, 5), (-40, 15, -20), (10, 30, 0)])
def test_pose_fit_recovers_a_known_rotation(yaw: float, pitch: float, roll: float) -> None:
    lm = np.zeros((NUM_LANDMARKS, 3))
    lm[list(POSE)] = 120.0 * canonical.reference_pose_3d() @ _rotation(yaw, pitch, roll).T + [300.0, 200.0, 0.0]
    (y, p, r), residual = canonical.pose_fit(lm)
    assert (y, p, r) == pytest.approx((yaw, pitch, roll), abs=1e-6)
    assert residual < 1e-9
    # Sign conventions as documented: positive yaw turns the nose towards image right.
    if yaw > 0:
        assert lm[1, 0] > 300.0


def test_pose_fits_of_a_range_equal_the_fits_one_at_a_time(real_landmarks: np.ndarray) -> None:
    """`pose_fits` (the tracker's finishing) and `subject._fits` (its subject choice) fit a range's meshes
    at once: the poses, residuals and face shapes equal `pose_fit` and `face_shape` frame by frame, and a
    degenerate mesh gets a zero pose, an infinite residual and no shape, as one at a time."""
    from mytalk.core.face.subject import _fits, face_shape

    seq = np.stack([_similarity(real_landmarks, a, 1 + a / 100, (a, -a)) for a in (0.0, 10.0, 45.0)])
    turned = np.zeros((NUM_LANDMARKS, 3))
    turned[list(POSE)] = 90.0 * canonical.reference_pose_3d() @ _rotation(25, -10, 5).T + [300.0, 200.0, 0.0]
    seq = np.concatenate([seq, turned[None], np.zeros((1, NUM_LANDMARKS, 3))])
    poses, residuals = canonical.pose_fits(seq)
    for k in range(4):
        pose, residual = canonical.pose_fit(seq[k])
        np.testing.assert_allclose(poses[k], pose, atol=1e-9)
        assert residuals[k] == pytest.approx(residual, abs=1e-12)
    assert tuple(poses[4]) == (0.0, 0.0, 0.0) and canonical.pose_fit(seq[4]) == ((0.0, 0.0, 0.0), math.inf)
    assert residuals[4] == math.inf
    fitted, shapes = _fits(seq)
    np.testing.assert_allclose(fitted[:4], residuals[:4], atol=1e-12)
    for k in range(4):
        np.testing.assert_allclose(shapes[k], face_shape(seq[k]), atol=1e-9)
    assert fitted[4] == math.inf and np.isnan(shapes[4]).all() and np.isnan(face_shape(seq[4])).all()
    assert canonical.pose_fits(np.zeros((0, NUM_LANDMARKS, 3)))[0].shape == (0, 3)


def test_pose_of_a_real_frontal_face_is_moderate(real_landmarks: np.ndarray) -> None:
    (yaw, pitch, roll), residual = canonical.pose_fit(real_landmarks)
    assert max(abs(yaw), abs(pitch), abs(roll)) < 30.0
    assert residual < 0.06  # real faces measured 0.01-0.05 inter-ocular distances
