"""The classic engine's stages run for real on synthetic faces, frames and sound: no ../shared/media.

Until now the motion, driver and render code ran only in media-marked end-to-end syncs. Here every stage
gets inputs whose right answer is known by construction (`synthetic_face`: a plausible 478-point mesh
whose mouth and jaw open on request, painted into small yuv420p frames, and a voiced buzz whose loudness
we choose):

- the actor profile is learned by the real builder (`profile_builder.build_profile`: own sound, phone
  timing, `SpeechModel.fit`, `PhoneticModel.fit`, crop selection and cutting) from a synthetic reference
  clip. Only the tracker is not run: MediaPipe's detector is not made for painted faces, so the clip's
  tracking-cache entry is written with the synthetic mesh first, as if the clip had been tracked before;
- the render stage (`MouthRenderer.paint`) with that profile's appearance index;
- the motion stage (`finish_plan`, `planned_aperture_px`, `ClassicMotion.check`, `_take_frames`, and
  `ClassicMotion.plan` with the speech and guide drivers);
- `StagedEngine.render` with the real classic stages over a shot with faceless frames and handles.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mytalk.core.composite.masks import edit_region
from mytalk.core.composite.planes import read_rgb
from mytalk.core.engines.actors import profile_folder
from mytalk.core.engines.base import EngineJob, EngineSettings, ReferenceRange, RenderedFrame
from mytalk.core.engines.classic.engine import ClassicEngine
from mytalk.core.engines.classic.geometry import aperture, lower_face_index
from mytalk.core.engines.classic.motion import finish_plan, nose_taper, subnasale_canonical
from mytalk.core.engines.classic.motion_stage import (
    TAKE_BUFFER_BYTES,
    TAKE_WINDOW_S,
    ClassicMotion,
    planned_aperture_px,
)
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_builder import build_profile
from mytalk.core.engines.classic.render import MeshTopology, MouthRenderer
from mytalk.core.engines.classic.retrieval import retrieval_weight
from mytalk.core.engines.stages import JobResources, MotionPlan
from mytalk.core.engines.tracking import NO_FACE, TrackedRange
from mytalk.core.errors import UsageError
from mytalk.core.face import regions
from mytalk.core.face.cache import save_observations
from mytalk.core.face.canonical import (
    iod_outer_corners,
    mouth_aperture,
    pose_fit,
    similarity_to_canonical_batch,
    to_canonical,
)
from mytalk.core.face.tracker import FaceObservation, TrackerSettings
from mytalk.core.hashing import file_sha256
from mytalk.core.media.audio import AudioTrack
from mytalk.core.media.clip_sound import ClipSound
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.media.reader import SourceFrame
from mytalk.core.progress import never_cancelled, no_progress
from synthetic_face import (
    EDGE_MARK,
    SEAM,
    face_frame,
    face_landmarks,
    paint_face_rgb,
    syllable_loudness,
    to_video_frame,
    voice,
    write_face_clip,
)

FPS = Fraction(25)
LF = lower_face_index()
ACTOR = "synthetic-actor"

REFERENCE_FRAMES = 150
REFERENCE_SPEECH = ((0.3, 1.9), (2.4, 4.0), (4.6, 5.8))
"""Six seconds of reference, three phrases: more than the 4 s the speech model needs to trust the lag it
measures, with pauses for the rest shape."""

REFERENCE_OPENING = 0.28
"""The reference mouth opens 0.28 IOD × its own loudness: a wide-open syllable shows teeth."""

SHOT_FRAMES = 64
START, STOP, HANDLES = 2, 62, 2
SHOT_SPEECH = ((0.1, 1.0),)
"""The shot's own take speaks over its first second; the new line speaks later (`LINE_SPEECH`, seconds
from the range's first frame), so the plan must shut a mouth the shot had open and open one it had shut."""
LINE_SPEECH = ((1.2, 2.2),)
FACELESS = (3, 40, 41)
"""Range frames where the tracker lost the subject (a blink of the detector, a hand in front)."""


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.709 luma of float RGB (..., 3)."""
    return np.asarray(rgb, np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def _observation(index: int, landmarks: np.ndarray, found: bool = True) -> FaceObservation:
    """What the tracker reports for a face it found (pose from the mesh itself, as the tracker does)."""
    if not found:
        return FaceObservation.missing(index, "face lost")
    pose, _ = pose_fit(landmarks.astype(np.float64))
    xy = landmarks[:, :2]
    box = (int(xy[:, 0].min()), int(xy[:, 1].min()), int(np.ceil(xy[:, 0].max())), int(np.ceil(xy[:, 1].max())))
    return FaceObservation(index, True, landmarks.astype(np.float32), 0.95, pose, box)


@pytest.fixture(scope="module")
def actor(tmp_path_factory: pytest.TempPathFactory) -> ActorProfile:
    """An actor learned by `build_profile` from a synthetic clip whose mouth opens with its own voice.

    The clip's tracking is written to the tracking cache first (in a private user folder: module fixtures
    run before the per-test `isolated_user_dirs`), so the builder reads it as a clip tracked before.
    """
    folder = tmp_path_factory.mktemp("actor")
    loudness = syllable_loudness(REFERENCE_FRAMES, FPS, REFERENCE_SPEECH, seed=1)
    rng = np.random.default_rng(3)
    meshes = []
    for i, level in enumerate(loudness):
        # A little head motion, lip spreading and tracker noise, so the shape space has more than one axis.
        mesh = face_landmarks(REFERENCE_OPENING * level, centre=(96 + 2 * np.sin(i / 9), 72 + 1.5 * np.cos(i / 7)),
                              spread=0.02 * np.sin(i / 5))
        meshes.append(mesh + rng.normal(0.0, 0.15, mesh.shape).astype(np.float32))
    clip = write_face_clip(folder / "reference.mkv", (paint_face_rgb(m, seed=i) for i, m in enumerate(meshes)), FPS,
                           voice(loudness, FPS, seed=2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(folder / "home"))
        save_observations([_observation(i, m) for i, m in enumerate(meshes)], file_sha256(clip), 0, REFERENCE_FRAMES,
                          TrackerSettings())
        return build_profile([ReferenceRange(clip, 0, REFERENCE_FRAMES)], name=ACTOR)


@pytest.fixture
def stored_actor(actor: ActorProfile, isolated_user_dirs: Path) -> str:
    """The actor saved under `ACTOR` in this test's user folder, so a job's `--actor` loads it for real."""
    actor.save(profile_folder(ACTOR))
    return ACTOR


@dataclasses.dataclass(frozen=True)
class Shot:
    """The shot to dub: a talking take with its own sound, written to a clip so jobs can probe it."""

    info: MediaInfo
    landmarks: np.ndarray  # (SHOT_FRAMES, 478, 3) px as painted
    pictures: list[np.ndarray]
    own_sound: AudioTrack  # over the whole clip, sample 0 at frame 0
    own_opening: np.ndarray  # (SHOT_FRAMES,) the take's inner-lip gap, IOD

    def tracked(self) -> TrackedRange:
        """The range as tracking hands it over: every frame, the range's `FACELESS` frames lost."""
        found = np.ones(SHOT_FRAMES, bool)
        found[[START + i for i in FACELESS]] = False
        observations = [_observation(i, self.landmarks[i], bool(found[i])) for i in range(SHOT_FRAMES)]
        return TrackedRange.from_observations(START, STOP, observations, TrackerSettings())

    def sources(self) -> list[SourceFrame]:
        return [SourceFrame(i, to_video_frame(p, i), START <= i < STOP) for i, p in enumerate(self.pictures)]

    def guide(self) -> AudioTrack:
        """The clip's own sound over the range, as a job's guide carries it."""
        return ClipSound(self.own_sound, Fraction(0)).frames(START, STOP - START, FPS)


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> Shot:
    """The shot: its own take opens the mouth up to 0.24 IOD over `SHOT_SPEECH`, with a slight sway."""
    own = syllable_loudness(SHOT_FRAMES, FPS, SHOT_SPEECH, seed=4)
    opening = 0.24 * own
    meshes = np.stack([face_landmarks(o, centre=(96 + 1.5 * np.sin(i / 6), 72.0)) for i, o in enumerate(opening)])
    pictures = [paint_face_rgb(m, seed=100 + i) for i, m in enumerate(meshes)]
    clip = write_face_clip(tmp_path_factory.mktemp("shot") / "shot.mkv", pictures, FPS)
    return Shot(probe(clip), meshes, pictures, voice(own, FPS, seed=6), opening)


def line_loudness() -> np.ndarray:
    return syllable_loudness(STOP - START, FPS, LINE_SPEECH, seed=7)


def speech_job(shot: Shot, actor_name: str) -> EngineJob:
    """A dub of the shot's range with a new line (`LINE_SPEECH`) under `--guide none`, by the speech driver."""
    return EngineJob(shot.info, START, STOP, HANDLES, voice(line_loudness(), FPS, seed=8), None, "none", (),
                     EngineSettings(motion_driver="speech", actor=actor_name))


# --- the synthetic face itself -----------------------------------------------------------------------


@pytest.mark.parametrize("opening", [0.0, 0.1, 0.3])
def test_synthetic_face_is_frontal_distinct_and_opens_as_asked(opening: float) -> None:
    """Everything below leans on the generator: the pose fit must see a frontal head, the evaluation's
    aperture must read the opening asked for, and no two points may coincide (the warp's Delaunay)."""
    lm = face_landmarks(opening, centre=(96.0, 72.0), iod_px=64.0)
    (yaw, pitch, roll), residual = pose_fit(lm.astype(np.float64))
    assert max(abs(yaw), abs(pitch), abs(roll)) < 0.1 and residual < 1e-3
    assert iod_outer_corners(lm) == pytest.approx(64.0, abs=1e-3)
    assert mouth_aperture(lm) == pytest.approx(max(opening, SEAM), abs=1e-4)
    xy = lm[:, :2].astype(np.float64)
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
    assert gaps.min() > 0.1  # px
    assert (xy > 0).all() and (xy < 192).all()
    topology = MeshTopology.from_template(to_canonical(lm))
    assert len(topology.triangles) > 300 and len(topology.mouth_triangles) > 100
    # The jaw follows the opening; the rigid pose points do not move with it.
    shut = face_landmarks(0.0, centre=(96.0, 72.0), iod_px=64.0)
    assert lm[regions.CHIN, 1] - shut[regions.CHIN, 1] == pytest.approx(0.6 * opening * 64.0, abs=0.01)
    np.testing.assert_allclose(lm[list(regions.POSE)], shut[list(regions.POSE)], atol=1e-4)


# --- render: MouthRenderer.paint ---------------------------------------------------------------------


def _renderer(actor: ActorProfile, landmarks: np.ndarray) -> MouthRenderer:
    """A final-quality renderer over this face's topology, painting with the actor's crops."""
    return MouthRenderer(actor.appearance, "final", MeshTopology.from_template(to_canonical(landmarks)))


def _widest_entry(actor: ActorProfile) -> int:
    """The appearance entry with the widest real opening (teeth and dark mouth in its crop)."""
    return int(np.argmax(actor.frames.aperture[actor.appearance.rows]))


def _mouth_weight(source: np.ndarray, target: np.ndarray) -> float:
    """How much retrieved mouth the appearance stage would show for this change (`retrieval_weight`)."""
    s = to_canonical(source)[None][:, LF]
    t = to_canonical(target)[None][:, LF]
    return float(retrieval_weight(t, s, np.array([True]))[0])


def _inside(points: np.ndarray, box: tuple[int, int, int, int], erode_px: int = 1) -> np.ndarray:
    """Bool (h, w) over `box`: pixel centres inside the polygon `points` (px), eroded off its edge."""
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((np.asarray(points, np.float64)[:, :2] - [x0 + 0.5, y0 + 0.5]) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 1, shift=4)
    if not erode_px:
        return canvas.astype(bool)
    return np.asarray(cv2.erode(canvas, np.ones((2 * erode_px + 1, 2 * erode_px + 1), np.uint8)), bool)


@pytest.mark.parametrize("opening", [0.0, 0.15])
def test_paint_onto_the_frames_own_mesh_changes_nothing(actor: ActorProfile, opening: float) -> None:
    """A plan that is the frame's own mouth: the warp is the identity and the retrieval weight 0, so the
    painted box is the frame (Lanczos sampling at pixel centres is exact)."""
    lm = face_landmarks(opening)
    frame = face_frame(lm)
    weight = _mouth_weight(lm, lm)
    assert weight == 0.0
    mask, generated = _renderer(actor, lm).paint(frame, lm, lm[LF, :2].astype(np.float64), _widest_entry(actor), -1,
                                                 0.0, False, weight)
    assert generated is not None and not mask.is_empty
    np.testing.assert_allclose(generated, read_rgb(frame, mask.box), atol=1e-4)


def test_paint_opening_a_shut_mouth_shows_the_actors_opening_inside_the_edit_region(actor: ActorProfile) -> None:
    """A shut mouth planned open: inside the planned inner lips the box now shows a dark mouth and, from
    the retrieved reference, teeth; the mask stays inside the source's `edit_region`, and the compositor
    changes nothing outside the mask's box."""
    from mytalk.core.composite.compositor import Compositor

    source, target = face_landmarks(0.0), face_landmarks(0.22)
    frame = face_frame(source)
    weight = _mouth_weight(source, target)
    assert weight == 1.0
    painted = {}
    for entry in (_widest_entry(actor), -1):
        mask, generated = _renderer(actor, source).paint(frame, source, target[LF, :2].astype(np.float64), entry, -1,
                                                         0.0, True, weight)
        assert generated is not None and generated.shape == (mask.box[3] - mask.box[1], mask.box[2] - mask.box[0], 3)
        painted[entry] = (mask, generated)
    mask, generated = painted[_widest_entry(actor)]
    opening = _inside(target[list(regions.LIPS_INNER)], mask.box)
    assert opening.sum() > 150
    before = _luma(read_rgb(frame, mask.box))[opening]
    after = _luma(generated)[opening]
    # The shut mouth there was lips and a seam; now a dark mouth with the reference's light teeth.
    assert (before < 0.15).mean() < 0.25 and (before > 0.7).mean() == 0.0
    assert (after < 0.15).mean() > 0.3 and (after > 0.7).mean() > 0.3
    # Without a reference entry the frame's own lips are only stretched: no teeth appear from nowhere.
    assert (_luma(painted[-1][1])[opening] > 0.7).mean() == 0.0
    # The mask lies inside the region an engine may change at all, and its box inside that region's bounds.
    region = edit_region(source).astype(np.float32)
    ys, xs = np.nonzero(mask.alpha > 0)
    x0, y0, x1, y1 = mask.box
    assert min(cv2.pointPolygonTest(region, (float(x + x0 + 0.5), float(y + y0 + 0.5)), True)
               for x, y in zip(xs, ys, strict=True)) >= 0.0
    lo, hi = region.min(axis=0), region.max(axis=0)
    assert x0 >= lo[0] - 2 and y0 >= lo[1] - 2 and x1 <= hi[0] + 2 and y1 <= hi[1] + 2
    result = Compositor.for_quality("final").composite(frame, generated, mask)
    full_before, full_after = read_rgb(frame), read_rgb(result.frame)
    outside = np.ones(full_before.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert result.changed_pixels > 100
    assert np.array_equal(full_before[outside], full_after[outside])


def test_paint_pulling_the_chin_up_from_beyond_the_frame_edge_samples_no_outside(actor: ActorProfile) -> None:
    """The face sits so low that the open mouth's chin is below the frame; the plan shuts the mouth and pulls
    the jaw up. The rows it pulls up would come from beyond the bottom edge: there the frame keeps its own
    pixels (`WarpMap.inside`) instead of the edge row stretched upwards. The edge rows are painted
    `EDGE_MARK` green: moved, they may show as the thin line they are, never as a band."""
    source = face_landmarks(0.3, centre=(96.0, 120.0))
    target = face_landmarks(0.0, centre=(96.0, 120.0))
    height = 192
    assert source[regions.CHIN, 1] > height > target[regions.CHIN, 1]
    frame = face_frame(source, edge_mark=True)
    mask, generated = _renderer(actor, source).paint(frame, source, target[LF, :2].astype(np.float64),
                                                     _widest_entry(actor), -1, 0.0, True, _mouth_weight(source, target))
    assert generated is not None
    x0, y0, x1, y1 = mask.box
    assert y1 == height and 0 <= x0 < x1 <= 192
    own = read_rgb(frame, mask.box)
    mark = np.asarray(EDGE_MARK, np.float32) / 255.0

    def marked(rgb: np.ndarray) -> np.ndarray:
        return np.abs(rgb - mark).max(axis=-1) < 0.35

    assert marked(own).sum(axis=0).max() == 2  # the two edge rows
    assert marked(generated).sum(axis=0).max() <= 4  # moved, not stretched into a band
    # The bottom rows would sample beyond the edge: they are the frame's own.
    np.testing.assert_allclose(generated[-4:], own[-4:], atol=1e-4)
    assert np.abs(generated[:-4] - own[:-4]).max() > 0.2  # while the jaw above them did move


# --- motion: finish_plan, planned_aperture_px --------------------------------------------------------


def _canonical_lower_face(opening: float, frames: int, jaw_drop: float | None = None) -> np.ndarray:
    """(frames, P, 2) lower face in the frame's own canonical frame, as the motion stage computes it."""
    lm = face_landmarks(opening, jaw_drop=jaw_drop)
    return np.repeat(to_canonical(lm)[None, LF], frames, axis=0)


def _taper(source: np.ndarray) -> np.ndarray:
    lm = face_landmarks(0.0)[None]
    transforms, _ = similarity_to_canonical_batch(lm)
    return nose_taper(source[0], subnasale_canonical(lm, transforms)[0])


@pytest.mark.parametrize("openness", [0.0, 0.5, 1.0, 2.0])
def test_openness_scales_the_plan_between_the_closed_mouth_and_the_target(openness: float) -> None:
    """Openness scales the deviation from the actor's closed mouth: 0 is that closed mouth, 1 the driver's
    target, 2 twice as open, in between linearly; the frame's own mouth plays no part in the lips."""
    source = _canonical_lower_face(0.06, 4)  # the frame's own, half-open mouth
    closed = _canonical_lower_face(0.0, 4)  # the actor's rest shape
    target = _canonical_lower_face(0.25, 4)
    taper = _taper(source)
    valid = np.ones(4, bool)
    points, _, _ = finish_plan(target, source, closed, valid, taper, openness=openness, smoothing=0.0,
                               mask_mode="mouth")
    want = aperture(closed) + openness * (aperture(target) - aperture(closed))
    np.testing.assert_allclose(aperture(points), want, atol=1e-9)
    if openness == 0.0:
        lips = [list(LF).index(i) for i in regions.LIPS]
        np.testing.assert_allclose(points[:, lips], closed[:, lips], atol=1e-9)
    # Points at the nose base (taper near 0) barely follow the plan, so the nose never moves, at any openness.
    near_nose = taper < 0.05
    assert near_nose.any() and taper.max() == 1.0
    planned_move = np.linalg.norm(closed + openness * (target - closed) - source, axis=-1).max()
    moved = np.linalg.norm(points - source, axis=-1)
    assert moved[:, near_nose].max() <= 0.05 * planned_move


def _closure_depth(smoothing: float, driver: str) -> float:
    """Share of a one-frame closure (frame 7 of 15 open frames) left in the plan: 1 = fully shut."""
    n = 15
    target = _canonical_lower_face(0.25, n)
    closed = _canonical_lower_face(0.0, n)
    target[7] = closed[7]
    source = closed.copy()
    points, _, _ = finish_plan(target, source, closed, np.ones(n, bool), np.ones(len(LF)), openness=1.0,
                               smoothing=smoothing, mask_mode="mouth", driver=driver)
    ap = aperture(points)
    return float((ap[0] - ap[7]) / (ap[0] - aperture(closed)[7]))


def test_smoothing_keeps_a_one_frame_closure_partially() -> None:
    """A one-frame p/b/m must survive smoothing: at least half deep at the default 0.5 (speech driver), less
    but still there at 1.0, untouched at 0; the guide re-times real motion and is not smoothed below 0.5."""
    assert _closure_depth(0.0, "speech") == pytest.approx(1.0)
    default, heavy = _closure_depth(0.5, "speech"), _closure_depth(1.0, "speech")
    assert 0.5 <= default < 1.0
    assert 0.2 < heavy < default
    assert _closure_depth(0.5, "guide") == pytest.approx(1.0)


def test_smoothing_stops_at_frames_without_a_plan() -> None:
    """Runs of frames with a face are smoothed separately: a wide-open run does not bleed across a faceless
    frame into a shut one, and the faceless frame has no points at all."""
    n = 15
    target = np.concatenate([_canonical_lower_face(0.3, 7), _canonical_lower_face(0.0, 8)])
    closed = _canonical_lower_face(0.0, n)
    valid = np.ones(n, bool)
    valid[7] = False
    points, lower, _ = finish_plan(target, closed.copy(), closed, valid, np.ones(len(LF)), openness=1.0,
                                   smoothing=1.0, mask_mode="auto")
    ap = aperture(points)
    assert np.isnan(points[7]).all() and not lower[7]
    np.testing.assert_allclose(ap[:7], aperture(target[:7]), atol=1e-9)
    np.testing.assert_allclose(ap[8:], aperture(closed[8:]), atol=1e-9)


def test_mask_mode_takes_in_the_jaw_only_around_frames_whose_jaw_moves() -> None:
    """`auto` takes in the jaw where the planned chin moves, held 3 frames either side so the mask does not
    flicker; `mouth` never does, `lower-face` always does; a frame without a plan never does."""
    n = 15
    source = _canonical_lower_face(0.0, n)
    target = source.copy()
    target[6:9] = _canonical_lower_face(0.2, 3, jaw_drop=0.15)  # frames 6-8 open wide, the chin drops
    valid = np.ones(n, bool)
    valid[13] = False
    kwargs = {"openness": 1.0, "smoothing": 0.0}
    _, auto, figures = finish_plan(target, source, source, valid, np.ones(len(LF)), mask_mode="auto", **kwargs)
    assert np.flatnonzero(auto).tolist() == list(range(3, 12))  # held 3 frames either side
    assert figures["lower_face_frames"] == 9 and figures["mouth_frames"] == 5
    _, mouth, _ = finish_plan(target, source, source, valid, np.ones(len(LF)), mask_mode="mouth", **kwargs)
    _, lower, _ = finish_plan(target, source, source, valid, np.ones(len(LF)), mask_mode="lower-face", **kwargs)
    assert not mouth.any() and np.array_equal(lower, valid)


@pytest.mark.parametrize(("iod_px", "roll_deg"), [(64.0, 0.0), (90.0, 12.0)])
def test_planned_aperture_is_the_evaluations_aperture_of_the_planned_face(iod_px: float, roll_deg: float) -> None:
    """Plan and output are compared frame by frame, so the plan's aperture must be exactly what the
    evaluation's `mouth_aperture` reads off a face showing the planned mouth, at any size and roll."""
    shut, *planned = (face_landmarks(o, centre=(120.0, 90.0), iod_px=iod_px, roll_deg=roll_deg)
                      for o in (0.0, 0.05, 0.18, 0.3))
    pixels = np.stack([p[LF, :2] for p in planned] + [np.full((len(LF), 2), np.nan)]).astype(np.float64)
    landmarks = np.stack([shut, shut, shut, shut])
    got = planned_aperture_px(pixels, landmarks)
    np.testing.assert_allclose(got[:3], [mouth_aperture(p) for p in planned], rtol=1e-5)
    assert np.isnan(got[3])
    # A frame without a face (all-zero landmarks) has no inter-ocular distance: no aperture, no division error.
    landmarks[1] = 0.0
    assert np.isnan(planned_aperture_px(pixels, landmarks)[1])


# --- motion: ClassicMotion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "guide", "message"),
    [
        ({"motion_driver": "lips"}, True, "setting 'motion_driver': must be one of ['auto', 'guide', 'phonetic', 'speech'] (got 'lips')"),
        ({"motion_driver": "guide"}, False, "--motion-driver guide needs the clip's own sound over the range; "
                                            "drop --guide none or use --motion-driver speech"),
        ({"openness": 2.5}, True, "setting 'openness': must be between 0.0 and 2.0 (got 2.5)"),
        ({"smoothing": -0.1}, True, "setting 'smoothing': must be between 0.0 and 1.0 (got -0.1)"),
        ({"mask_mode": "face"}, True, "setting 'mask_mode': must be one of ['mouth', 'lower-face', 'auto'] (got 'face')"),
    ],
)
def test_motion_check_refuses_bad_settings_before_any_work(shot: Shot, settings: dict[str, object], guide: bool,
                                                           message: str) -> None:
    line = voice(line_loudness(), FPS)
    job = EngineJob(shot.info, START, STOP, HANDLES, line, line if guide else None, "clip" if guide else "none", (),
                    dataclasses.replace(EngineSettings(), **settings))
    with pytest.raises(UsageError) as error:
        ClassicMotion().check(job, JobResources())
    assert str(error.value) == message


def test_motion_check_accepts_the_defaults_with_or_without_a_guide(shot: Shot) -> None:
    """The other side of the table above: the shipped defaults pass, whether or not the clip's sound is there."""
    line = voice(line_loudness(), FPS)
    for guide in (line, None):
        ClassicMotion().check(EngineJob(shot.info, START, STOP, HANDLES, line, guide, "clip", (), EngineSettings()),
                              JobResources())


def _takes(info: MediaInfo, time_map: np.ndarray | None, driver: str = "guide", found: np.ndarray | None = None,
           valid: np.ndarray | None = None) -> np.ndarray:
    """`ClassicMotion._take_frames` after a guide alignment produced `time_map` (set as `_drive` sets it:
    the alignment itself needs a guide, and the rule tested here is what comes after it)."""
    n = STOP - START
    motion = ClassicMotion()
    motion._time_map = time_map
    silence = AudioTrack(np.zeros(16_000), 16_000)
    job = EngineJob(info, START, STOP, HANDLES, silence, silence, "clip", (), EngineSettings())
    ones = np.ones(n, bool)
    return motion._take_frames(job, driver, ones if found is None else found, ones if valid is None else valid)


def test_take_frames_follow_the_time_map_within_reach(shot: Shot) -> None:
    n = STOP - START
    frames = np.arange(n)
    identity = frames.astype(np.float64)
    reach = round(TAKE_WINDOW_S * float(FPS))
    assert np.array_equal(_takes(shot.info, identity), START + frames)
    # Another driver planned the mouth: no takes, whatever the alignment said.
    assert (_takes(shot.info, identity, driver="speech") == -1).all()
    assert (_takes(shot.info, None) == -1).all()
    # A take `reach` frames later is held; one frame further is painted by retrieval instead.
    near = _takes(shot.info, identity + reach)
    far = _takes(shot.info, identity + reach + 1)
    assert np.array_equal(near[: n - reach], START + frames[: n - reach] + reach)
    assert (far[: n - reach - 1] == -1).all()
    # A take whose frame has no face, or a frame without a plan, takes nothing.
    found = np.ones(n, bool)
    found[10] = False
    valid = np.ones(n, bool)
    valid[20] = False
    takes = _takes(shot.info, identity, found=found, valid=valid)
    assert takes[10] == -1 and takes[20] == -1 and takes[11] == START + 11


def test_take_frames_reach_shrinks_with_the_frame_size(shot: Shot) -> None:
    """A 4K frame costs 33 MB held: the buffer (`TAKE_BUFFER_BYTES`) allows only a few frames of reach."""
    assert shot.info.video is not None
    uhd = dataclasses.replace(shot.info, video=dataclasses.replace(shot.info.video, width=3840, height=2160))
    reach = TAKE_BUFFER_BYTES // (3840 * 2160 * 4) // 2
    assert 0 < reach < round(TAKE_WINDOW_S * float(FPS))
    identity = np.arange(STOP - START, dtype=np.float64)
    assert (_takes(uhd, identity + reach)[:10] >= 0).all()
    assert (_takes(uhd, identity + reach + 1)[:10] == -1).all()


def _plan(job: EngineJob, tracked: TrackedRange) -> tuple[MotionPlan, ClassicMotion]:
    motion = ClassicMotion()
    motion.check(job, JobResources())
    return motion.plan(job, tracked, JobResources(), no_progress, never_cancelled), motion


def test_speech_plan_opens_the_mouth_where_the_line_is_loud_and_rests_it_in_silence(shot: Shot,
                                                                                      stored_actor: str,
                                                                                      actor: ActorProfile) -> None:
    """`--motion-driver speech` end to end on a new line: the stored actor is loaded, the line's loudness
    goes through the learned regression and the voice gate, and the plan comes out in frame pixels."""
    tracked = shot.tracked()
    plan, motion = _plan(speech_job(shot, stored_actor), tracked)
    loud = line_loudness()
    n = STOP - START
    assert plan.driver == "speech" and plan.num_frames == n and plan.phones == ()
    assert np.array_equal(plan.valid, tracked.found)
    points = plan.points.read(0, n)
    assert np.isnan(plan.aperture[~plan.valid]).all() and np.isnan(points[~plan.valid]).all()
    assert np.isfinite(points[plan.valid]).all()
    assert (plan.take_frames() == -1).all()
    ap = plan.aperture
    speaking = plan.valid & (loud > 0.5)
    near_speech = np.convolve(loud > 0.0, np.ones(9), mode="same") > 0
    silent = plan.valid & ~near_speech
    assert speaking.sum() >= 8 and silent.sum() >= 20
    rest = float(aperture(actor.speech.closed[None])[0])
    assert np.abs(ap[silent] - rest).max() < 0.01  # shut, also where the shot's own take had it open
    assert (shot.own_opening[START:STOP][silent] > 0.1).any()
    assert ap[speaking].mean() > 0.1 and ap[speaking].min() > 0.05
    ok = plan.valid
    assert np.corrcoef(loud[ok], ap[ok])[0, 1] > 0.8
    report = motion.report()
    assert report["driver"] == "speech" and report["profile"]["name"] == ACTOR
    assert report["motion"]["speech"]["speaking_frames"] >= speaking.sum()
    assert report["motion"]["guide"]["used"] is False


def test_guide_plan_on_the_clips_own_sound_takes_each_frames_own_take(shot: Shot, stored_actor: str) -> None:
    """The line is the clip's own sound: the alignment matches at zero shift, and every planned frame is
    painted from its own real take."""
    guide = shot.guide()
    job = EngineJob(shot.info, START, STOP, HANDLES, guide, guide, "clip", (),
                    EngineSettings(motion_driver="auto", actor=stored_actor))
    plan, motion = _plan(job, shot.tracked())
    assert plan.driver == "guide"
    assert motion.report()["motion"]["guide"]["matched"] is True
    assert motion.report()["motion"]["guide"]["max_shift_frames"] == 0.0
    takes = plan.take_frames()
    frames = np.arange(STOP - START)
    assert np.array_equal(takes[plan.valid], START + frames[plan.valid])
    assert (takes[~plan.valid] == -1).all() and plan.valid.sum() >= 30


def test_guide_plan_loses_only_the_faceless_frames(shot: Shot, stored_actor: str) -> None:
    """A one-frame tracker dropout must cost the guide plan that frame only: `retime` bridges faceless
    frames from their neighbours precisely so that a blink of the tracker leaves no hole in the motion."""
    guide = shot.guide()
    job = EngineJob(shot.info, START, STOP, HANDLES, guide, guide, "clip", (),
                    EngineSettings(motion_driver="guide", actor=stored_actor))
    tracked = shot.tracked()
    plan, _ = _plan(job, tracked)
    assert np.array_equal(plan.valid, tracked.found)


# --- StagedEngine.render with the real classic stages ------------------------------------------------


def _teeth_pixels(frame: av.VideoFrame, landmarks: np.ndarray) -> int:
    """Teeth-bright pixels in a box around the mouth (corner to corner, nose base to chin)."""
    lm = landmarks[:, :2]
    x0, x1 = int(lm[regions.MOUTH_CORNER_RIGHT, 0]), int(np.ceil(lm[regions.MOUTH_CORNER_LEFT, 0]))
    y0, y1 = int(lm[regions.SUBNASALE, 1]), int(np.ceil(lm[regions.CHIN, 1]))
    return int((_luma(read_rgb(frame, (x0, y0, x1, y1))) > 0.75).sum())


def test_engine_renders_every_frame_in_order_and_passes_faceless_frames_through(shot: Shot,
                                                                                 stored_actor: str) -> None:
    """`StagedEngine.render` with `ClassicMotion` + `RetrievalAppearance` over handles, faces and faceless
    frames: one RenderedFrame per source frame, in order; handles and faceless frames are the very same
    objects (faceless ones with the NO_FACE warning); painted frames change only inside their mask box; the
    mouth opens (teeth show) where the plan opens it and shuts where the line rests over the shot's own take."""
    job = speech_job(shot, stored_actor)
    tracked = shot.tracked()
    engine = ClassicEngine()
    engine.check(job)
    engine.prepare(job, tracked, no_progress, never_cancelled)
    sources = shot.sources()
    rendered: list[RenderedFrame] = list(engine.render(iter(sources), no_progress, never_cancelled))
    assert [r.index for r in rendered] == [s.index for s in sources] == list(range(SHOT_FRAMES))
    plan, _ = _plan(job, tracked)  # the same plan the engine painted (the stages are deterministic)
    faceless = {START + i for i in FACELESS}
    opened = shut = 0
    for source, out in zip(sources, rendered, strict=True):
        record = out.record
        assert out.in_range == source.in_range
        if not source.in_range:
            assert out.frame is source.frame and record.warnings == [] and record.face_found is None
            continue
        i = source.index - START
        if source.index in faceless:
            assert out.frame is source.frame
            assert record.face_found is False and NO_FACE in record.warnings
            assert record.mask_box is None and record.changed_pixels == 0 and record.planned_aperture is None
            continue
        assert record.face_found is True and record.planned_aperture == pytest.approx(plan.aperture[i])
        before, after = read_rgb(source.frame), read_rgb(out.frame)
        if record.mask_box is None:
            assert np.array_equal(before, after)
            continue
        x0, y0, x1, y1 = record.mask_box
        outside = np.ones(before.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(before[outside], after[outside]), source.index
        if plan.aperture[i] > 0.12:
            # The shot's mouth was shut here (its own take spoke earlier); the line opens it.
            assert shot.own_opening[source.index] < 0.02
            assert _teeth_pixels(source.frame, shot.landmarks[source.index]) == 0
            assert _teeth_pixels(out.frame, plan.mesh(i, tracked.landmarks(i, i + 1)[0])) >= 15, source.index
            opened += 1
        if plan.aperture[i] < 0.01 and shot.own_opening[source.index] > 0.1:
            # The shot's own take spoke here, the line is silent: the painted mouth is shut, no teeth left.
            assert _teeth_pixels(source.frame, shot.landmarks[source.index]) >= 50
            assert _teeth_pixels(out.frame, shot.landmarks[source.index]) <= 5, source.index
            shut += 1
    assert opened >= 8 and shut >= 8
    report = engine.report()
    assert report["frames_without_face"] == len(FACELESS)
    assert report["retrieval"]["frames_painted"] >= opened



@pytest.mark.parametrize("driver", ["speech", "guide"])
@pytest.mark.parametrize("window", [5, 16])
def test_windowed_plan_and_retrieval_equal_the_whole_range_exactly(shot: Shot, stored_actor: str, driver: str,
                                                                   window: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan and the retrieval are made a window at a time so that a long range's memory stays flat.
    Windows of 5 and 16 frames (the range's faceless frames fall inside and across them) give exactly
    what one window over the whole range gives: the smoothing, the mask hold, the guide's pose blend and
    its re-timing read across window edges."""
    from mytalk.core.engines.classic import appearance_stage, motion_stage
    from mytalk.core.engines.classic.appearance_stage import RetrievalAppearance

    guide = shot.guide()
    if driver == "guide":
        job = EngineJob(shot.info, START, STOP, HANDLES, guide, guide, "clip", (),
                        EngineSettings(motion_driver="guide", actor=stored_actor))
    else:
        job = speech_job(shot, stored_actor)
    tracked = shot.tracked()

    def planned(size: int) -> tuple[MotionPlan, RetrievalAppearance]:
        monkeypatch.setattr(motion_stage, "PLAN_WINDOW", size)
        monkeypatch.setattr(appearance_stage, "WINDOW", size)
        plan, _ = _plan(job, tracked)
        appearance = RetrievalAppearance()
        appearance.prepare(job, tracked, plan, JobResources(), no_progress, never_cancelled)
        return plan, appearance

    whole, whole_app = planned(10_000)
    parts, parts_app = planned(window)
    assert whole.driver == parts.driver == driver
    n = STOP - START
    assert (~whole.valid).any() and whole.valid.any()
    np.testing.assert_array_equal(parts.points.read(0, n), whole.points.read(0, n))
    for name in ("valid", "lower_face", "aperture", "takes"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name), err_msg=name)
    assert parts_app._selection is not None and whole_app._selection is not None
    np.testing.assert_array_equal(parts_app._selection.choice, whole_app._selection.choice)
    np.testing.assert_array_equal(parts_app._mouth_weight, whole_app._mouth_weight)
    np.testing.assert_array_equal(parts_app._template, whole_app._template)
    assert parts_app.report() == whole_app.report()
