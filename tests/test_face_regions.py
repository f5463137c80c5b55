"""The mesh index sets in regions.py against the connection sets MediaPipe ships."""

from __future__ import annotations

import pytest

from mytalk.core.face import regions

connections = pytest.importorskip("mediapipe.python.solutions.face_mesh_connections")


def _points(edges: frozenset[tuple[int, int]]) -> set[int]:
    return {i for edge in edges for i in edge}


def _undirected(edges: frozenset[tuple[int, int]]) -> set[frozenset[int]]:
    return {frozenset(edge) for edge in edges}


def _is_closed_loop(loop: tuple[int, ...], edges: frozenset[tuple[int, int]]) -> bool:
    pairs = _undirected(edges)
    return all(frozenset((a, b)) in pairs for a, b in zip(loop, loop[1:] + loop[:1], strict=True))


def test_lips_are_the_mediapipe_lip_points() -> None:
    assert set(regions.LIPS) == _points(connections.FACEMESH_LIPS)
    assert len(regions.LIPS) == 40
    assert regions.LIPS == tuple(sorted(regions.LIPS))


def test_outer_and_inner_lip_contours_are_closed_loops_of_lip_edges() -> None:
    for loop in (regions.LIPS_OUTER, regions.LIPS_INNER):
        assert len(set(loop)) == len(loop) == 20
        assert _is_closed_loop(loop, connections.FACEMESH_LIPS)
    assert set(regions.LIPS_OUTER) | set(regions.LIPS_INNER) == set(regions.LIPS)
    assert not set(regions.LIPS_OUTER) & set(regions.LIPS_INNER)
    assert regions.UPPER_LIP_MID in regions.LIPS_INNER and regions.LOWER_LIP_MID in regions.LIPS_INNER
    assert {regions.MOUTH_CORNER_RIGHT, regions.MOUTH_CORNER_LEFT} <= set(regions.LIPS_OUTER)


def test_face_oval_is_the_mediapipe_oval_as_a_closed_loop() -> None:
    assert set(regions.FACE_OVAL) == _points(connections.FACEMESH_FACE_OVAL)
    assert len(set(regions.FACE_OVAL)) == len(regions.FACE_OVAL) == 36
    assert _is_closed_loop(regions.FACE_OVAL, connections.FACEMESH_FACE_OVAL)


def test_jaw_is_a_path_along_the_oval_through_the_chin() -> None:
    pairs = _undirected(connections.FACEMESH_FACE_OVAL)
    assert all(frozenset((a, b)) in pairs for a, b in zip(regions.JAW, regions.JAW[1:], strict=False))
    assert regions.CHIN in regions.JAW and set(regions.JAW) <= set(regions.FACE_OVAL)


def test_eye_and_iris_points_are_on_the_subjects_side() -> None:
    right_eye, left_eye = _points(connections.FACEMESH_RIGHT_EYE), _points(connections.FACEMESH_LEFT_EYE)
    assert {regions.RIGHT_EYE_OUTER, regions.RIGHT_EYE_INNER} <= right_eye
    assert {regions.LEFT_EYE_OUTER, regions.LEFT_EYE_INNER} <= left_eye
    # The refined mesh puts each iris centre right before its four contour points.
    assert regions.RIGHT_IRIS_CENTER == min(_points(connections.FACEMESH_RIGHT_IRIS)) - 1
    assert regions.LEFT_IRIS_CENTER == min(_points(connections.FACEMESH_LEFT_IRIS)) - 1
    assert regions.NUM_LANDMARKS == 478 == max(_points(connections.FACEMESH_LEFT_IRIS | connections.FACEMESH_RIGHT_IRIS)) + 1


def test_stable_and_pose_points_avoid_the_speech_driven_points() -> None:
    # 234 and 454 end the JAW path at ear level, beside the eyes: rigid, so POSE may use them.
    speech = set(regions.LIPS) | (set(regions.JAW) - {234, 454})
    assert not set(regions.STABLE) & speech
    assert not set(regions.POSE) & speech
    assert set(regions.STABLE) <= set(regions.POSE)
    assert len(set(regions.POSE)) == len(regions.POSE)
    assert all(0 <= i < regions.NUM_LANDMARKS for i in regions.POSE)


def test_mirror_pairs_pair_right_with_left() -> None:
    right_eye, left_eye = _points(connections.FACEMESH_RIGHT_EYE), _points(connections.FACEMESH_LEFT_EYE)
    for right, left in regions.MIRROR_PAIRS:
        assert right != left
        if right in right_eye | left_eye:
            assert right in right_eye and left in left_eye
