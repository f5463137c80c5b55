"""Face tracking on the real clips: coverage, the cutaway, subject choice, accuracy, the cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import media_path, shared_videos
from mytalk.core.errors import JobCancelledError, UsageError
from mytalk.core.face import (
    FaceObservation,
    FaceTracker,
    TrackerSettings,
    parse_face_point,
    track_video,
    tracking_summary,
)
from mytalk.core.face.cache import cache_path, landmarks_path
from mytalk.core.face.canonical import iod_outer_corners
from mytalk.core.face.regions import LOWER_LIP_MID, NUM_LANDMARKS, RIGHT_EYE_OUTER
from mytalk.core.hashing import file_sha256
from mytalk.core.media.reader import FrameReader
from mytalk.core.userdirs import user_dirs

MOV = "wav2lip_pr600_man_720p_cutaway.mov"
PORTRAIT = "latentsync_demo2_man_vertical_hevc.mp4"
# Frames without any face, checked by eye on a contact sheet of frames 315-319 and 436-439: the
# full-screen graphic starts at frame 318 (10.60 s at 30 fps) and the face is back at frame 438.
FACELESS = {MOV: range(318, 438)}


def _frames(path: Path, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
    with FrameReader(path) as reader:
        for sf in reader.frames(start, stop):
            yield sf.index, sf.to_rgb()


def _check_found_where_visible(name: str, observations: list[FaceObservation], min_share: float = 0.99) -> None:
    faceless = FACELESS.get(name, range(0))
    visible = [o for o in observations if o.index not in faceless]
    hidden = [o for o in observations if o.index in faceless]
    share = sum(o.found for o in visible) / len(visible)
    assert share >= min_share, f"{name}: face found on {share:.1%} of the frames where one is visible"
    for obs in hidden:
        assert not obs.found and obs.warnings and obs.confidence == 0.0
        assert not obs.landmarks.any()
    for obs in visible:
        if obs.found:
            assert obs.landmarks.shape == (NUM_LANDMARKS, 3) and obs.landmarks.dtype == np.float32
            assert 0.0 < obs.confidence <= 1.0
            # Upright and on the face: the lower lip is below the eye line.
            assert obs.landmarks[LOWER_LIP_MID, 1] > obs.landmarks[RIGHT_EYE_OUTER, 1]
            x0, y0, x1, y1 = obs.box
            assert x0 < x1 and y0 < y1


# --- every clip, three spread chunks ------------------------------------------------------------


@pytest.mark.media
@pytest.mark.parametrize("path", shared_videos(), ids=lambda p: p.name)
def test_face_found_on_spread_chunks_of_every_clip(path: Path) -> None:
    with FrameReader(path) as reader:
        count = reader.frame_count
    observations: list[FaceObservation] = []
    with FaceTracker() as tracker:
        for at in (0.1, 0.5, 0.85):  # 25 frames each; the .mov's middle chunk lies in its cutaway
            start = min(int(count * at), count - 25)
            observations += tracker.track(_frames(path, start, start + 25), total=25)
    assert len(observations) == 75
    _check_found_where_visible(path.name, observations)


# --- the hard cases, whole clips ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mov_observations() -> list[FaceObservation]:
    path = media_path("video", MOV)
    with FrameReader(path) as reader:
        fps, count = float(reader.video.fps), reader.frame_count
    with FaceTracker() as tracker:
        return tracker.track(_frames(path, 0, count), total=count, fps=fps)


@pytest.mark.media
@pytest.mark.slow
def test_whole_mov_reports_the_cutaway_and_finds_the_small_face_elsewhere(
    mov_observations: list[FaceObservation],
) -> None:
    _check_found_where_visible(MOV, mov_observations)
    found = [o.index for o in mov_observations if o.found]
    # Frames well outside the cutaway are all found.
    assert all(i in found for i in [*range(0, 310), *range(446, len(mov_observations))])
    summary = tracking_summary(mov_observations)
    assert summary["faceless_ranges"] == [[318, 437]]
    assert summary["frames"] == len(mov_observations)
    back = next(o for o in mov_observations if o.index == 438)
    assert any("re-acquired" in w for w in back.warnings)
    # The same subject after the cutaway: within a fraction of a face size of where it was.
    before = next(o for o in mov_observations if o.index == 317)
    assert abs((back.box[0] + back.box[2]) - (before.box[0] + before.box[2])) / 2 < 0.5 * (before.box[2] - before.box[0])


@pytest.mark.media
@pytest.mark.slow
def test_whole_portrait_hevc_clip_with_a_small_face() -> None:
    path = media_path("video", PORTRAIT)
    with FrameReader(path) as reader:
        count = reader.frame_count
    with FaceTracker() as tracker:
        observations = tracker.track(_frames(path, 0, count), total=count)
    assert len(observations) == count
    _check_found_where_visible(PORTRAIT, observations)
    sides = [o.box[2] - o.box[0] for o in observations if o.found]
    assert max(sides) < 400  # a small face in a 1080 x 1920 frame: the crop path, not the full frame


# --- accuracy against MediaPipe on the full frame ------------------------------------------------


@pytest.mark.media
def test_crop_landmarks_agree_with_full_frame_mediapipe() -> None:
    """Where the face is large enough for MediaPipe's own pipeline, our crop path must agree with it."""
    from mediapipe.python.solutions.face_mesh import FaceMesh

    path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    frames = list(_frames(path, 60, 70))
    with FaceTracker(TrackerSettings(smooth=False)) as tracker:
        ours = tracker.track(frames)
    errors = []
    with FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        for (_, img), obs in zip(frames, ours, strict=True):
            result = mesh.process(img)
            assert result.multi_face_landmarks and obs.found
            h, w = img.shape[:2]
            ref = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
            errors.append(np.linalg.norm(obs.landmarks[:, :2] - ref, axis=1).mean() / iod_outer_corners(ref))
    # Measured 0.011-0.023 IOD per frame, mean 0.017 (about 2.6 px at 156 px between the eyes):
    # two estimates by the same model from differently resampled pixels and different regions of
    # interest. A mean of 0.03 leaves 1.8x room and still fails on a gross mapping error (a 5 px
    # shift alone is 0.032); the crop geometry itself is exact to 1e-5 px.
    assert float(np.mean(errors)) < 0.03


# --- subject choice -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_crops() -> list[np.ndarray]:
    """360 x 360 crops around the face of 8 consecutive frames of a real clip."""
    path = media_path("video", "retalking_face4_woman_bluebg.mp4")
    # The face's detector box is about (290, 148)-(526, 384) in this 700 x 700 clip.
    return [img[86:446, 228:588].copy() for _, img in _frames(path, 30, 38)]


def _two_faces(crop: np.ndarray, right_scale: float = 1.0) -> np.ndarray:
    """Two copies of the crop side by side on a 720 x 360 frame; the right one optionally smaller."""
    frame = np.full((360, 720, 3), 30, np.uint8)
    frame[:, :360] = crop
    small = cv2.resize(crop, None, fx=right_scale, fy=right_scale, interpolation=cv2.INTER_AREA)
    top = (360 - small.shape[0]) // 2
    frame[top : top + small.shape[0], 360 : 360 + small.shape[1]] = small
    return frame


def _centre_x(obs: FaceObservation) -> float:
    return (obs.box[0] + obs.box[2]) / 2


@pytest.mark.media
@pytest.mark.parametrize(("point", "on_right"), [((540.0, 180.0), True), ((180.0, 180.0), False), ((700.0, 20.0), True)])
def test_face_point_selects_the_face_it_points_at(
    face_crops: list[np.ndarray], point: tuple[float, float], on_right: bool
) -> None:
    frames = [(i, _two_faces(c)) for i, c in enumerate(face_crops)]
    with FaceTracker(TrackerSettings(face_point=point)) as tracker:
        observations = tracker.track(frames)
    assert all(o.found for o in observations)
    assert all((_centre_x(o) > 360) == on_right for o in observations)
    # A point outside every face still picks the nearest one, with a warning saying so.
    assert bool(observations[0].warnings) == (point == (700.0, 20.0))


@pytest.mark.media
def test_default_subject_is_the_largest_face(face_crops: list[np.ndarray]) -> None:
    frames = [(i, _two_faces(c, right_scale=0.6)) for i, c in enumerate(face_crops)]
    with FaceTracker() as tracker:
        observations = tracker.track(frames)
    assert all(o.found and _centre_x(o) < 360 for o in observations)


@pytest.mark.media
def test_subject_is_kept_through_a_loss_and_never_swapped(face_crops: list[np.ndarray]) -> None:
    frames = []
    for i, crop in enumerate(face_crops * 2):
        frame = _two_faces(crop)
        if 5 <= i < 9:  # the right face is hidden for 4 frames; the left one stays in view
            frame[:, 360:] = 30
        frames.append((i, frame))
    with FaceTracker(TrackerSettings(face_point=(540.0, 180.0))) as tracker:
        observations = tracker.track(frames)
    assert [o.found for o in observations] == [not 5 <= i < 9 for i in range(len(frames))]
    assert all(_centre_x(o) > 360 for o in observations if o.found)
    assert all("not visible" in o.warnings[0] for o in observations[5:9])


# --- the tracker's contract ---------------------------------------------------------------------


@pytest.mark.media
def test_progress_per_frame_and_cancellation() -> None:
    path = media_path("video", "voxceleb2_00104_man_tv_224.mp4")
    calls: list[tuple[int, int, str]] = []
    with FaceTracker() as tracker:
        observations = tracker.track(_frames(path, 0, 6), total=6, progress=lambda d, t, s: calls.append((d, t, s)))
    assert [o.index for o in observations] == list(range(6))
    assert calls == [(d, 6, "face tracking") for d in range(1, 7)]

    polls = iter([False, False, False, True])
    with FaceTracker() as tracker, pytest.raises(JobCancelledError):
        tracker.track(_frames(path, 0, 10), is_cancelled=lambda: next(polls))


def test_frames_prepared_on_the_decoding_thread_track_as_plain_frames() -> None:
    """`track_video` prepares its frames (shown, shot signature) on its decoding thread; a tracker fed the
    same frames as plain (index, RGB) pairs gives the same observations, bit for bit."""
    path = media_path("video", "wav2lip_pr600_man_720p_cutaway.mov")
    prepared = track_video(path, 300, 340, use_cache=False)  # across the cut into the full-screen graphic
    with FrameReader(path) as reader:
        fps = float(reader.video.fps)
    with FaceTracker() as tracker:
        plain = tracker.track(_frames(path, 300, 340), fps=fps)
    assert [o.index for o in prepared] == [o.index for o in plain] == list(range(300, 340))
    assert [o.found for o in prepared] == [o.found for o in plain] and any(o.found for o in plain)
    for a, b in zip(prepared, plain, strict=True):
        assert np.array_equal(a.landmarks, b.landmarks) and a.confidence == b.confidence


def test_a_cancelled_track_video_stops_its_decoding_thread(isolated_user_dirs: Path) -> None:
    """`track_video` decodes a few frames ahead on a thread of its own; a cancel (or an error) stops that
    thread before the file is closed, so nothing keeps decoding behind a cancelled job, and what the cancel
    left is not cached."""
    import threading

    path = media_path("video", "voxceleb2_00104_man_tv_224.mp4")
    polls = iter([False] * 5 + [True] * 1000)
    with pytest.raises(JobCancelledError):
        track_video(path, 0, 60, is_cancelled=lambda: next(polls))
    assert not [t for t in threading.enumerate() if t.name == "tracking-decode"]
    seen: list[int] = []
    observations = track_video(path, 0, 12, use_cache=False)
    assert [o.index for o in observations] == list(range(12))
    from mytalk.core.face.video_tracking import track_video_entry

    entry = track_video_entry(path, 0, 12, on_frame=lambda sf: seen.append(sf.index))
    assert seen == list(range(12))  # every decoded frame shown to `on_frame`, in order, before the answer
    assert not [t for t in threading.enumerate() if t.name == "tracking-decode"]
    assert not isinstance(entry, list) and entry.index.size == 12


def test_frames_without_any_face_are_reported_not_raised() -> None:
    rng = np.random.default_rng(3)
    frames = [(i, rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)) for i in range(3)]
    frames.append((3, np.zeros((240, 320, 3), np.uint8)))
    with FaceTracker() as tracker:
        observations = tracker.track(frames, total=4)
    assert [o.found for o in observations] == [False] * 4
    assert all(o.warnings and not o.landmarks.any() for o in observations)
    assert tracking_summary(observations) == {
        "frames": 4, "frames_found": 0, "share_tracked": 0.0, "mean_confidence": 0.0, "faceless_ranges": [[0, 3]],
        "rejected_detections": [],
    }


def test_bad_frames_and_settings_are_usage_errors() -> None:
    with FaceTracker() as tracker, pytest.raises(UsageError, match="RGB uint8"):
        tracker.track([(0, np.zeros((10, 10), np.uint8))])
    for bad in ({"detect_every": 0}, {"min_confidence": 2.0}, {"crop_scale": 0.5}, {"lips_min_cutoff": 0.0},
                {"face_point": (float("nan"), 1.0)}):
        with pytest.raises(UsageError, match="setting|face point"):
            TrackerSettings(**bad)  # type: ignore[arg-type]


def test_face_point_parsing() -> None:
    assert parse_face_point("640,360") == (640.0, 360.0)
    assert parse_face_point(" 10.5, 20 ") == (10.5, 20.0)
    for bad in ("640", "a,b", "1,2,3", "inf,2"):
        with pytest.raises(UsageError, match="--face"):
            parse_face_point(bad)


def test_settings_key_is_stable_and_covers_every_field() -> None:
    assert TrackerSettings().key() == TrackerSettings().key()
    assert len(TrackerSettings().key()) == 16
    assert TrackerSettings(face_point=(10, 20)).key() == TrackerSettings(face_point=(10.0, 20.0)).key()
    keys = {
        TrackerSettings().key(),
        TrackerSettings(face_point=(10, 20)).key(),
        TrackerSettings(lips_beta=3.0).key(),
        TrackerSettings(detect_every=5).key(),
        TrackerSettings(smooth=False).key(),
    }
    assert len(keys) == 5


def test_tracking_summary_lists_faceless_ranges() -> None:
    def obs(i: int, found: bool) -> FaceObservation:
        lm = np.ones((NUM_LANDMARKS, 3), np.float32) if found else np.zeros((NUM_LANDMARKS, 3), np.float32)
        return FaceObservation(index=i, found=found, landmarks=lm, confidence=0.8 if found else 0.0)

    pattern = [True, False, False, True, True, False, True]
    summary = tracking_summary([obs(10 + i, f) for i, f in enumerate(pattern)])
    assert summary["frames"] == 7 and summary["frames_found"] == 4
    assert summary["share_tracked"] == pytest.approx(4 / 7)
    assert summary["mean_confidence"] == pytest.approx(0.8)
    assert summary["faceless_ranges"] == [[11, 12], [15, 15]]


# --- cache --------------------------------------------------------------------------------------


def _always_cancelled() -> bool:
    return True


@pytest.mark.media
def test_track_video_caches_and_misses_on_any_change(isolated_user_dirs: Path) -> None:
    path = media_path("video", "voxceleb2_00104_man_tv_224.mp4")
    first = track_video(path, 20, 32)
    assert [o.index for o in first] == list(range(20, 32)) and all(o.found for o in first)
    entry = cache_path(file_sha256(path), 20, 32, TrackerSettings())
    assert entry.is_file() and entry.parent == user_dirs().tracking_cache
    assert str(entry).startswith(str(isolated_user_dirs))
    # Written atomically: no temporary file (`core.tempnames`: hidden, `.mytalk-<pid>-…`) is left beside it.
    assert [p for p in entry.parent.iterdir() if p.name.startswith(".")] == []

    # A hit decodes nothing, so it never polls the cancel check: "always cancelled" still returns.
    again = track_video(path, 20, 32, is_cancelled=_always_cancelled)
    assert len(again) == len(first)
    for a, b in zip(first, again, strict=True):
        assert (a.index, a.found, a.box, a.warnings) == (b.index, b.found, b.box, b.warnings)
        assert a.confidence == b.confidence and a.pose == b.pose
        np.testing.assert_array_equal(a.landmarks, b.landmarks)

    # Any change of range or settings is a miss: the job starts, so the cancel check fires.
    for start, stop, settings in ((20, 31, TrackerSettings()), (21, 32, TrackerSettings()),
                                  (20, 32, TrackerSettings(lips_beta=5.0))):
        with pytest.raises(JobCancelledError):
            track_video(path, start, stop, settings, is_cancelled=_always_cancelled)


@pytest.mark.media
def test_corrupt_cache_entries_are_ignored_and_rewritten() -> None:
    path = media_path("video", "voxceleb2_00104_man_tv_224.mp4")
    entry = cache_path(file_sha256(path), 0, 5, TrackerSettings())
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    observations = track_video(path, 0, 5)
    assert len(observations) == 5 and all(o.found for o in observations)
    with np.load(entry, allow_pickle=False) as data:  # rewritten as a valid entry
        assert data["index"].shape == (5,)
    assert np.load(landmarks_path(entry), allow_pickle=False).shape == (5, NUM_LANDMARKS, 3)
    assert track_video(path, 0, 5, is_cancelled=_always_cancelled)[0].index == 0
    assert os.access(entry, os.R_OK)


@pytest.mark.media
def test_a_tracked_range_reads_its_meshes_from_the_cache_file_as_tracked() -> None:
    """A job's range keeps its meshes in the tracking cache's file and reads them by windows: what it
    reads is what the tracker produced, and the report records are the observations'."""
    from mytalk.core.engines.tracking import TrackedRange
    from mytalk.core.face.cache import CachedTrack
    from mytalk.core.face.video_tracking import track_video_entry

    path = media_path("video", "voxceleb2_00104_man_tv_224.mp4")
    observations = track_video(path, 10, 40)
    entry = track_video_entry(path, 10, 40)
    assert isinstance(entry, CachedTrack)
    from_file = TrackedRange.from_entry(14, 36, entry, TrackerSettings())
    in_memory = TrackedRange.from_observations(14, 36, observations, TrackerSettings())
    for tracked in (from_file, in_memory):
        np.testing.assert_array_equal(tracked.landmarks(0, 22), np.stack([o.landmarks for o in observations[4:26]]))
        np.testing.assert_array_equal(tracked.points(np.array([13, 14])),
                                      np.stack([o.landmarks[[13, 14]] for o in observations[4:26]]))
        np.testing.assert_array_equal(tracked.found, [o.found for o in observations[4:26]])
        np.testing.assert_array_equal(tracked.mesh_at(10), observations[0].landmarks)
        assert tracked.mesh_at(9) is None and tracked.mesh_at(40) is None
        for o in observations[4:26]:
            record = tracked.record(o.index)
            assert (record.face_found, record.confidence, record.warnings) == (o.found, o.confidence, o.warnings)


# --- the tracker's reads of MediaPipe's graphs ---------------------------------------------------


@pytest.mark.media
def test_graph_output_gives_what_process_gives(face_crops: list[np.ndarray]) -> None:
    """`graph_output` runs `SolutionBase.process`'s steps on MediaPipe's private members (to skip a class
    built per call): two graphs fed the same frames, one each way, give the same meshes and detections,
    and "no face" the same way."""
    from mediapipe.python.solutions.face_detection import FaceDetection
    from mediapipe.python.solutions.face_mesh import FaceMesh

    from mytalk.core.face.tracker import graph_output, landmark_array

    frames = [cv2.resize(c, (256, 256), interpolation=cv2.INTER_AREA) for c in face_crops]
    frames.append(np.full((256, 256, 3), 40, np.uint8))  # no face
    kwargs = {"static_image_mode": False, "max_num_faces": 1, "refine_landmarks": True}
    with FaceMesh(**kwargs) as ours, FaceMesh(**kwargs) as theirs:
        for frame in frames:
            got, want = graph_output(ours, frame, "multi_face_landmarks"), theirs.process(frame).multi_face_landmarks
            assert (got is None) == (want is None)
            if want is not None:
                assert np.array_equal(landmark_array(got[0]), landmark_array(want[0]))
    assert want is None and got is None  # the blank frame
    with FaceDetection(model_selection=1) as ours, FaceDetection(model_selection=1) as theirs:
        for frame in frames:
            got, want = graph_output(ours, frame, "detections"), theirs.process(frame).detections
            assert [str(d) for d in got or []] == [str(d) for d in want or []]


@pytest.mark.media
def test_landmark_array_reads_the_wire_bytes_or_each_field(face_crops: list[np.ndarray]) -> None:
    """A mesh's landmarks read from its serialized bytes equal the fields read one by one, and a list laid
    out otherwise (a landmark with visibility set) is read field by field."""
    from mediapipe.python.solutions.face_mesh import FaceMesh

    from mytalk.core.face.tracker import landmark_array

    with FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        faces = mesh.process(cv2.resize(face_crops[0], (256, 256), interpolation=cv2.INTER_AREA)).multi_face_landmarks
    assert faces
    landmarks = faces[0]
    by_field = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], np.float64)
    assert by_field.shape == (NUM_LANDMARKS, 3)
    assert np.array_equal(landmark_array(landmarks), by_field)
    landmarks.landmark[7].visibility = 0.5
    assert np.array_equal(landmark_array(landmarks), by_field)
    assert landmark_array(type(landmarks)()).shape == (0, 3)
