"""The classic render's pinned ring stays outside the moving face, however far the head turns.

The jaw warp (layer 1) pins a rectangle of points around the lower face. It was placed once per range,
around the range's mean face: on a 3/4 view turned further than the mean (the shared 224 px interview,
clip frames 100-107) the far jaw reached past it, the mesh folded there, and the holes the fold left were
filled from a mirrored triangle: hard-edged skin-coloured triangles on the far cheek."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.engines.classic.render import RING_MARGIN_IOD, MeshTopology
from mytalk.core.face.canonical import apply_transform, from_canonical, similarity_to_canonical
from mytalk.core.media.reader import FrameReader


def _tracked_face() -> np.ndarray:
    from mytalk.core.face.video_tracking import track_video

    [observation] = track_video(media_path("video", "hdtf_wda_katiehill_512.mp4"), 0, 1)
    return np.asarray(observation.landmarks, np.float64)[:, :2]


@pytest.mark.media
def test_the_ring_is_kept_while_the_face_is_inside_it_and_grown_past_a_face_that_reaches_it(tmp_path: Path) -> None:
    from mytalk.core.engines.classic.render import _LF

    face = _tracked_face()
    transform, _ = similarity_to_canonical(face)
    topology = MeshTopology.from_template(apply_transform(face, transform), memo_folder=tmp_path)
    # The template's own face: the very ring (bit for bit, so such frames render as they always did).
    assert topology.ring_around([face[_LF]], [transform]) is topology.ring
    # The far jaw pushed out by 0.6 inter-ocular distances, in the face's canonical frame.
    canon = apply_transform(face, transform)
    reach = canon[_LF].copy()
    left = reach[:, 0] < np.percentile(reach[:, 0], 10)
    reach[left, 0] -= 0.6
    ring = topology.ring_around([from_canonical(reach, transform)], [transform])
    assert ring.shape == topology.ring.shape
    assert ring[:, 0].min() == pytest.approx(reach[:, 0].min() - RING_MARGIN_IOD)
    assert ring[:, 0].max() == pytest.approx(topology.ring[:, 0].max())  # only the side that was reached grows
    assert np.allclose(np.sort(ring[:, 1]), np.sort(topology.ring[:, 1]))
    # Still a rectangle in the template's point order (the topology's triangles index it): corners at 0, 2, 4,
    # 6 (clockwise from the top left in image coordinates), the middle of each side between them.
    lo, hi = ring.min(axis=0), ring.max(axis=0)
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    assert np.allclose(ring[0::2], corners)
    assert np.allclose(ring[1::2], (corners + np.roll(corners, -1, axis=0)) / 2)
    for side in (topology.ring, ring):
        assert np.allclose(side[0::2], np.array([[side[:, 0].min(), side[:, 1].min()], [side[:, 0].max(), side[:, 1].min()],
                                                 [side[:, 0].max(), side[:, 1].max()], [side[:, 0].min(), side[:, 1].max()]]))

def _edge_strength(path: Path, frames: list[int], box: tuple[int, int, int, int]) -> list[float]:
    """Largest |Laplacian| of the luma in `box` (x0, y0, x1, y1) of each of `frames`."""
    x0, y0, x1, y1 = box
    found: dict[int, float] = {}
    with FrameReader(path) as reader:
        for frame in reader.frames(min(frames), max(frames) + 1):
            if frame.index in frames:
                grey = cv2.cvtColor(frame.to_rgb(), cv2.COLOR_RGB2GRAY).astype(np.float32)
                found[frame.index] = float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)[y0:y1, x0:x1]).max())
    return [found[i] for i in frames]


@pytest.mark.media
@pytest.mark.slow
def test_a_head_turned_past_the_ranges_mean_gets_no_triangles_on_its_far_cheek(tmp_path: Path) -> None:
    clip = media_path("video", "voxceleb2_00104_man_tv_224.mp4")
    out, report_path = tmp_path / "turned.mkv", tmp_path / "turned.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "dreamtalk_noisy_meeting_snr10_en_16k.wav"),
                        "--in", 100, "--out", 145, "-o", out, "--codec", "ffv1", "--report", report_path, "--quiet")
    assert result.code == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert all(frame["face_found"] for frame in report["frames"][:8])
    far_cheek = (66, 108, 95, 135)  # where the far jaw crossed the old ring in clip frames 102-106
    source = _edge_strength(clip, [102, 103, 104, 105, 106], far_cheek)
    render = _edge_strength(out, [2, 3, 4, 5, 6], far_cheek)
    # The render's edges there are the source's (the patches were 3-6 times as sharp as anything in it).
    assert max(render) <= 2 * max(source), (render, source)
