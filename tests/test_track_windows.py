"""The tracker's finishing passes (subject choice, smoothing) run over windows of a long range
(`core/face/finishing.py`), and the tracking cache is written as observations come (`TrackWriter`).

Checked on real clips: a range that fits one window is finished exactly as the whole-range passes
finish it; windows of a longer range give the whole-range meshes within hundredths of a pixel and no
step at their joins; a window holding only another person or a graphic does not take it for the
subject; memory holds a window and its context, not the range.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fidelity_clips import make_impostor_clip
from conftest import SHARED_MEDIA, media_path
from mytalk.core.face.cache import TrackWriter, landmarks_path, load_track, save_observations
from mytalk.core.face.finishing import WindowedFinish
from mytalk.core.face.observation import FaceObservation
from mytalk.core.face.smoothing import light_points, smooth_landmarks
from mytalk.core.face.subject import decide_subject
from mytalk.core.face.tracker import FaceTracker, TrackerSettings
from mytalk.core.media.reader import FrameReader

pytestmark = pytest.mark.media

KATIE = "hdtf_wda_katiehill_512.mp4"


def _raw(path: Path, start: int, stop: int) -> tuple[list[tuple[FaceObservation, bool]], float]:
    """The frame loop's observations (before finishing) and the clip's rate."""
    with FrameReader(path) as reader, FaceTracker() as tracker:
        fps = float(reader.video.fps)
        raw = list(tracker.track_raw((sf.index, sf.to_rgb()) for sf in reader.frames(start, stop)))
    return raw, fps


def _finish(raw: list[tuple[FaceObservation, bool]], fps: float, window: int | None = None,
            context: int | None = None, held: list[int] | None = None) -> tuple[list[FaceObservation], list[int]]:
    """Final observations, and how many had been handed out after each push."""
    finish = WindowedFinish(fps, first_is_subject=False, smoothing=TrackerSettings().smoothing_params(),
                            window=window, context=context)
    out: list[FaceObservation] = []
    handed: list[int] = []
    for observation, cut in raw:
        out += finish.push(replace(observation, warnings=list(observation.warnings)), cut)
        handed.append(len(out))
        if held is not None:
            held.append(finish.held)
    out += finish.finish()
    return out, handed


@pytest.fixture(scope="module")
def katie_raw() -> tuple[list[tuple[FaceObservation, bool]], float]:
    return _raw(media_path("video", KATIE), 0, 200)


def test_a_range_within_one_window_is_finished_as_one_piece(
        katie_raw: tuple[list[tuple[FaceObservation, bool]], float]) -> None:
    """Default windows are 10 s and 2 s of context: an 8 s range is finished whole, by the same subject choice and
    smoothing the tracker ran on the whole range before windows existed (written out here)."""
    raw, fps = katie_raw
    out, handed = _finish(raw, fps)
    assert handed[-1] == 0  # nothing was final before the range ended
    observations = [o for o, _ in raw]
    assert decide_subject([o.landmarks for o in observations], [o.found for o in observations],
                          [o.index for o in observations], first_is_subject=False).rejected == []
    found = np.array([o.found for o in observations])
    expected = smooth_landmarks(np.stack([o.landmarks for o in observations]), found, fps,
                                TrackerSettings().smoothing_params())
    assert [o.index for o in out] == list(range(200))
    assert np.array_equal(np.array([o.found for o in out]), found)
    assert np.array_equal(np.stack([o.landmarks for o in out])[found], expected[found])


def test_windows_give_the_whole_range_meshes_without_a_step_at_their_joins(
        katie_raw: tuple[list[tuple[FaceObservation, bool]], float]) -> None:
    """Windows of 40 frames with 25 frames (1 s) of context against one pass over the 200 frames."""
    raw, fps = katie_raw
    whole, _ = _finish(raw, fps)
    held: list[int] = []
    windowed, handed = _finish(raw, fps, window=40, context=25, held=held)
    # Frames become final a window at a time, once the tracker is a window's context past them.
    assert handed[40 + 25] == 40 and handed[80 + 25] == 80
    assert max(held) <= 40 + 2 * 25 + 1
    found = np.array([o.found for o in whole])
    assert np.array_equal(np.array([o.found for o in windowed]), found) and found.all()
    a, b = np.stack([o.landmarks for o in windowed]), np.stack([o.landmarks for o in whole])
    # Which points are smoothed lightly is measured on the first window (carried to the others) and on
    # the whole range by the one-piece pass: a point near that mask's edge may be classed differently.
    raws = np.stack([o.landmarks for o, _ in raw])
    same_class = light_points(raws[: 40 + 25]) == light_points(raws)
    assert same_class.sum() >= 470
    difference = np.abs(a - b)[:, same_class]
    assert difference.max() < 0.05 and difference.mean() < 0.005, (difference.max(), difference.mean())
    # No step at the joins: the frame-to-frame acceleration there is what the one-piece pass has.
    def acceleration(x: np.ndarray) -> np.ndarray:
        return np.abs(x[2:, :, :2] - 2 * x[1:-1, :, :2] + x[:-2, :, :2]).max(axis=(1, 2))
    joins = np.array([40, 80, 120, 160]) - 1
    assert np.abs(acceleration(a)[joins - 1] - acceleration(b)[joins - 1]).max() < 0.1


def test_a_window_of_another_person_is_not_taken_for_the_subject(tmp_path: Path) -> None:
    """The impostor clip (subject 40 frames, another person 24, a graphic 16, the subject 40) in windows
    of 30 frames with 10 of context: the second window sees more of the other person than of the subject,
    and alone would take the longer face. Judged against the first window's subject, it does not."""
    if not (SHARED_MEDIA / "video").is_dir():
        pytest.skip(f"real clips not found at {SHARED_MEDIA}")
    clip, segments = make_impostor_clip(SHARED_MEDIA, tmp_path / "impostors.mkv")
    raw, fps = _raw(clip, 0, segments[-1][2])
    spans = {name: range(a, b) for name, a, b in segments}
    for window, context in ((None, None), (30, 10)):
        out, _ = _finish(raw, fps, window, context)
        found = {o.index for o in out if o.found}
        assert not found & set(spans["other person"]) and not found & set(spans["graphic"]), (window, sorted(found))
        assert len(found & set(spans["subject"])) > 30 and len(found & set(spans["subject again"])) > 30, window
        rejected = {o.index for o in out if o.rejected}
        assert {i for i in spans["other person"] if raw[i][0].found} <= rejected, window


def _observation(index: int, found: bool, seed: int) -> FaceObservation:
    rng = np.random.default_rng(seed)
    return FaceObservation(index, found, rng.normal(size=(478, 3)).astype(np.float32) * 100, 0.9 if found else 0.0,
                           (1.0, 2.0, 3.0), (1, 2, 3, 4), [f"note {index}"] if index % 3 == 0 else [],
                           "a graphic" if index % 5 == 0 else "")


def test_track_writer_writes_the_entry_as_observations_come(tmp_path: Path) -> None:
    observations = [_observation(10 + k, k % 4 != 0, k) for k in range(9)]
    settings = TrackerSettings()
    save_observations(observations, "a" * 64, 10, 19, settings, folder=tmp_path)
    expected = load_track("a" * 64, 10, 19, settings, folder=tmp_path)
    assert expected is not None
    # A source that ran short of its probed length: the header is fixed at commit.
    writer = TrackWriter("b" * 64, 10, 19, settings, expected=12, folder=tmp_path)
    for observation in observations:
        writer.add(observation)
    writer.commit()
    for entry in (load_track("b" * 64, 10, 19, settings, folder=tmp_path), writer.entry()):
        assert entry is not None
        assert np.array_equal(entry.landmarks.read(0, 9), expected.landmarks.read(0, 9))
        assert np.array_equal(entry.landmarks.read(0, 9), np.stack([o.landmarks for o in observations]))
        for name in ("index", "found", "confidence", "pose", "box"):
            assert np.array_equal(getattr(entry, name), getattr(expected, name)), name
        assert entry.warnings == expected.warnings and entry.rejected == expected.rejected
    # A tracking that fails leaves nothing: no entry, no temporary file.
    before = sorted(tmp_path.iterdir())
    writer = TrackWriter("c" * 64, 0, 5, settings, expected=5, folder=tmp_path)
    writer.add(observations[0])
    writer.discard()
    assert sorted(tmp_path.iterdir()) == before
    assert not landmarks_path(writer.target).exists()
