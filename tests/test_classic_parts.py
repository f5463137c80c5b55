"""The classic engine's parts on their own: warp exactness, retrieval coherence, the speech model and
profile storage (real footage where the part learns from footage)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import media_path
from mytalk.core.engines.actors import check_actor_name
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.geometry import (
    LOWER_FACE,
    aperture,
    fit_poses,
    frontalise,
    lower_face_index,
    project,
)
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_builder import build_profile
from mytalk.core.engines.classic.profile_crops import select_appearance
from mytalk.core.engines.classic.retrieval import descriptor_distance, select_path, shape_descriptors
from mytalk.core.engines.classic.warp import piecewise_affine
from mytalk.core.errors import UsageError
from mytalk.core.media.audio import decode_audio, place_line


def test_piecewise_affine_is_exact_for_identity_and_translation() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((90, 110, 3)).astype(np.float32)
    pts = np.array([[0, 0], [110, 0], [0, 90], [110, 90], [55, 45], [30, 60], [80, 20]], float)
    box = (10, 10, 100, 80)
    same = piecewise_affine(pts, pts, box).apply(image, cv2.INTER_LINEAR)
    assert np.array_equal(same, image[10:80, 10:100])
    moved = pts + [3.0, 2.0]  # destination = source + (3, 2): output pixel p samples p - (3, 2)
    for step in (1, 2, 4):  # coarse map grids are exact for an affine map, edges included
        warp = piecewise_affine(pts, moved, box, step=step)
        out = warp.apply(image, cv2.INTER_LINEAR)
        assert warp.valid.all()
        np.testing.assert_allclose(out, image[8:78, 7:97], atol=1e-5)


def test_piecewise_affine_marks_pixels_outside_the_mesh_invalid() -> None:
    tri = np.array([[20, 20], [60, 20], [20, 60]], float)
    warp = piecewise_affine(tri, tri, (0, 0, 80, 80))
    assert warp.valid[30, 30] and not warp.valid[70, 70]


def test_retrieval_follows_a_take_instead_of_popping_between_near_equals() -> None:
    # Two takes of the same mouth motion: per frame the nearest entry alternates between them, the path must not.
    rng = np.random.default_rng(2)
    base = rng.normal(0, 0.02, (12, len(LOWER_FACE), 2))
    base = np.cumsum(base, axis=0) * 0.2
    take_b = base + rng.normal(0, 0.001, base.shape)
    desc = shape_descriptors(np.concatenate([base, take_b]))
    block = np.repeat([0, 1], 12)
    frame = np.tile(np.arange(12), 2)
    target = shape_descriptors(base + rng.normal(0, 0.001, base.shape))
    greedy = np.argmin(descriptor_distance(target[:, None], desc[None]), axis=1)
    chosen = select_path(desc, block, frame, target, np.ones(12, bool))
    assert len(set(block[greedy])) == 2, "the test needs a target that a greedy choice would pop on"
    assert len(set(block[chosen.choice])) == 1 and chosen.stats["switches"] == 0
    assert np.array_equal(frame[chosen.choice], np.arange(12))


def test_frontal_frame_round_trips_through_the_pose() -> None:
    rng = np.random.default_rng(3)
    lm = rng.normal(0, 30, (4, 478, 3)) + [300, 250, 0]
    poses = fit_poses(lm)
    idx = lower_face_index()
    back = project(frontalise(lm[:, idx], poses), poses)
    np.testing.assert_allclose(back, lm[:, idx, :2], atol=1e-6)


@pytest.fixture(scope="module")
def bob_profile() -> ActorProfile:
    clip = media_path("video", "hdtf_wda_bobmenendez_512.mp4")
    return build_profile([ReferenceRange(clip, 0, 125)], use_cache=False)


@pytest.mark.media
def test_speech_model_rests_in_silence_and_moves_with_speech(bob_profile: ActorProfile) -> None:
    from mytalk.core.audio.activity import speech_probability

    fps = Fraction(25)
    speech = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16000)
    n = 75
    # 1 s of silence, then 2 s of JFK.
    line = place_line(speech, num_frames=n, fps=fps, line_offset_s=Fraction(-1))
    prob = speech_probability(line, fps, n)
    shapes, gate = bob_profile.speech.predict(line, fps, n, speech_prob=prob)
    ap = aperture(shapes)
    closed = aperture(bob_profile.speech.closed[None])[0]
    assert np.all(np.abs(ap[:20] - closed) < 0.01), "the mouth must rest while the line is silent"
    assert ap[30:].std() > 0.01 and ap[30:].max() > closed + 0.04, "the mouth must move with the speech"
    assert gate[:20].max() < 0.2 and gate[30:].mean() > 0.5


@pytest.mark.media
def test_profile_saves_and_loads_the_same_arrays(bob_profile: ActorProfile, tmp_path: Path) -> None:
    bob_profile.name = "bob"
    folder = bob_profile.save(tmp_path / "bob")
    loaded = ActorProfile.load(folder)
    assert loaded.name == "bob" and loaded.sources == bob_profile.sources
    for name in ("frame", "found", "audio_ok", "shapes", "bands"):
        np.testing.assert_array_equal(getattr(loaded.frames, name), getattr(bob_profile.frames, name))
    np.testing.assert_allclose(loaded.speech.weights, bob_profile.speech.weights)
    assert loaded.speech.lag == bob_profile.speech.lag
    assert np.array_equal(loaded.appearance.image(3), bob_profile.appearance.image(3))
    # Saving again replaces the folder atomically.
    bob_profile.save(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bob"]


@pytest.mark.media
def test_appearance_dedupe_keeps_at_most_the_limit(bob_profile: ActorProfile) -> None:
    frames = bob_profile.frames
    kept = select_appearance(frames, frames.found, limit=30)
    assert 0 < kept.size <= 30 and np.all(np.diff(kept) > 0)


def test_actor_names_are_plain_folder_names() -> None:
    assert check_actor_name("Jane_Doe-2") == "Jane_Doe-2"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65):
        with pytest.raises(UsageError):
            check_actor_name(bad)

