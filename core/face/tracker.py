"""Track one subject's 478-point face mesh through a frame range.

Why it is built this way:

- MediaPipe's face mesh only finds faces that fill a good part of the image (it misses faces
  under about 200 px in a full frame). So we find the face with the full-range face detector,
  then run the mesh on a square crop around it, resized so the face is about 128 px: the
  resolution the mesh model itself works at (192 px input covering 1.5 face widths). Landmarks
  are mapped back to frame pixels. This handles faces from about 80 px to the full frame alike.
- Between detections the crop follows the previous frame's landmarks and the mesh runs in its
  video mode, which skips its own detector: about 3-4 ms per frame whatever the frame size, and
  no full-frame colour conversion or resize. The detector runs again every `detect_every`
  frames on a small region around the face (to refresh the confidence and confirm the subject),
  and whenever the face is lost.
- One subject: chosen at the first frame with a face (the face under `face_point`, or else the
  largest, most central one) and then only re-acquired near its last known box, so the tracker
  never jumps to another person. Frames without that face are reported with `found=False` and a
  warning; they never raise.
- The subject choice (`subject.py`) and the smoothing (`smoothing.py`) run after the frame loop, a
  window of a few seconds at a time (`finishing.py`), so a long range is never held whole.

Coordinates: landmark x, y in frame pixels as MediaPipe defines them (normalised coordinate ×
frame width/height; the frame's top-left corner is (0, 0)); z is MediaPipe's relative depth in
the same pixel scale (negative = towards the camera).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mytalk.core.errors import UsageError
from mytalk.core.face.canonical import pose_fit
from mytalk.core.face.display import DisplayGeometry
from mytalk.core.face.finishing import WindowedFinish
from mytalk.core.face.observation import FaceObservation, landmark_box
from mytalk.core.face.regions import LEFT_EYE_OUTER, NUM_LANDMARKS, RIGHT_EYE_OUTER
from mytalk.core.face.shots import is_cut, shot_signature
from mytalk.core.face.smoothing import OneEuro, SmoothingParams
from mytalk.core.face.subject import BRIDGE_FRAMES as _BRIDGE_GAP
from mytalk.core.face.subject import MIN_RUN_FRAMES, RejectedDetection
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress
from mytalk.core.settings.grammar import parse_face_point as parse_face_point  # the one `--face X,Y` parser

if TYPE_CHECKING:
    from mytalk.core.media.reader import SourceFrame

TRACKER_VERSION = "8"
"""Bumped whenever tracking output changes for the same input, so stale cache entries miss (4: frames
converted to RGB by OpenCV from their 4:2:0 planes, `SourceFrame.to_rgb`; 5: rotated and anamorphic
clips tracked as shown, `display.DisplayGeometry`; 6: shot cuts judged on a cheaper thumbnail,
`shots._thumbnail`, and poses fitted a range at a time, `canonical.pose_fits`; 7: interlaced frames tracked
on their upper field, `field_picture`; 8: on their first field in time, the lower one in DV,
`decoded_fields`)."""

STAGE = "face tracking"

# The mesh box (landmark extent) is about 1.06x the full-range detector's box, measured on the
# nine shared clips (0.99-1.16); the detector box is converted with it before cropping.
_DET_TO_MESH = 1.06
# Detector input is 192 px; it finds faces down to about 15 px there, reliably from 20 px.
_DETECT_SIDE = 384
_TILE_SIDE = 720
# Re-acquisition gate after a loss: centre within this many face sizes of the last box, growing
# with the length of the gap (people move while hidden) up to 1.5 face sizes after 15 frames, and
# a size ratio within 0.5-2. Faces side by side in a two-shot sit 2+ face sizes apart, so the
# tracker waits for its subject rather than jump to the other one; after the 4 s cutaway of the
# shared .mov the subject came back 0.13 face sizes from where it left.
_GATE_MIN, _GATE_PER_FRAME, _GATE_MAX = 0.75, 0.05, 1.5
# A mesh whose rigid points fit the frontal reference worse than this (inter-ocular distances,
# real faces: 0.01-0.05) is implausible; confidence falls linearly to zero at _RESIDUAL_BAD.
_RESIDUAL_OK, _RESIDUAL_BAD = 0.06, 0.15
# Confidence is decayed this much when a scheduled re-detection does not confirm the face.
_UNCONFIRMED_DECAY = 0.7


@dataclass(frozen=True)
class TrackerSettings:
    """Everything that changes tracking output; `key()` names the cache entry.

    face_point: (x, y) frame pixels at the first frame with a face; the subject is the face whose
        box contains it (or the nearest). None: the largest, most central face.
    min_confidence: observations below this confidence are reported as not found.
    min_detection_score: face detector threshold (0..1).
    detect_every: re-run the detector every this many frames while tracking (frames); the face
        is always re-detected on loss.
    crop_size: side in pixels of the square crop the mesh runs on. With crop_scale 2 the face is
        then about 128 px, the resolution the mesh model itself samples it at (192 px input over
        1.5 face widths), so a larger crop costs time without adding detail.
    crop_scale: crop side ÷ face size; room for head motion between frames and rotation.
    smooth: apply temporal smoothing after tracking.
    head_min_cutoff, head_beta: One-Euro filter of the head's position/scale/rotation (Hz, Hz
        per inter-ocular distance per second).
    stable_min_cutoff, stable_beta: the same for the rigid points relative to the head.
    lips_min_cutoff, lips_beta: the same for lips, jaw and lower face: much lighter.
    """

    face_point: tuple[float, float] | None = None
    min_confidence: float = 0.3
    min_detection_score: float = 0.5
    detect_every: int = 10
    crop_size: int = 256
    crop_scale: float = 2.0
    smooth: bool = True
    head_min_cutoff: float = 2.0
    head_beta: float = 10.0
    stable_min_cutoff: float = 1.0
    stable_beta: float = 5.0
    lips_min_cutoff: float = 20.0
    lips_beta: float = 20.0

    def __post_init__(self) -> None:
        if self.face_point is not None:
            if len(self.face_point) != 2 or not all(math.isfinite(float(v)) for v in self.face_point):
                raise UsageError(f"face point must be two finite pixel coordinates X,Y, got {self.face_point!r}")
            object.__setattr__(self, "face_point", (float(self.face_point[0]), float(self.face_point[1])))
        checks: list[tuple[bool, str]] = [
            (0.0 <= self.min_confidence <= 1.0, f"min_confidence must be in 0..1, got {self.min_confidence}"),
            (
                0.0 < self.min_detection_score < 1.0,
                f"min_detection_score must be in (0, 1), got {self.min_detection_score}",
            ),
            (self.detect_every >= 1, f"detect_every must be at least 1 frame, got {self.detect_every}"),
            (64 <= self.crop_size <= 1024, f"crop_size must be 64..1024 px, got {self.crop_size}"),
            (1.2 <= self.crop_scale <= 4.0, f"crop_scale must be 1.2..4, got {self.crop_scale}"),
        ]
        for name in ("head", "stable", "lips"):
            cutoff, beta = getattr(self, f"{name}_min_cutoff"), getattr(self, f"{name}_beta")
            checks.append((cutoff > 0, f"{name}_min_cutoff must be a positive frequency in Hz, got {cutoff}"))
            checks.append((beta >= 0, f"{name}_beta must be zero or positive, got {beta}"))
        for ok, message in checks:
            if not ok:
                raise UsageError(f"tracker setting: {message}")

    def key(self) -> str:
        """Stable 16-hex-digit hash of every setting and the tracker version (cache key part)."""
        payload = json.dumps({"version": TRACKER_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def smoothing_params(self) -> SmoothingParams:
        """The filters these settings describe."""
        return SmoothingParams(
            head=OneEuro(self.head_min_cutoff, self.head_beta),
            stable=OneEuro(self.stable_min_cutoff, self.stable_beta),
            lips=OneEuro(self.lips_min_cutoff, self.lips_beta),
        )


@dataclass(frozen=True)
class PreparedFrame:
    """A frame as the tracker's loop reads it: as shown (turned, desqueezed: `display.DisplayGeometry`) and
    with its shot signature (`shots.shot_signature`) taken. `FaceTracker.prepare` makes it on any thread:
    `video_tracking.track_video_entry` does it on its decoding thread, where a 1080p frame's signature (0.7 ms) and a
    squeezed frame's desqueeze no longer hold up the mesh."""

    index: int
    image: np.ndarray
    signature: np.ndarray
    source: SourceFrame | None = None
    """The decoded frame it was made from, where the caller wants it back with its observation
    (`track_stream`'s `on_tracked`)."""


@dataclass
class _Detection:
    """A detector hit converted to the mesh's box convention: centre and side in frame pixels."""

    cx: float
    cy: float
    side: float
    score: float

    def contains(self, x: float, y: float) -> bool:
        return abs(x - self.cx) <= self.side / 2 and abs(y - self.cy) <= self.side / 2


@dataclass
class _Subject:
    """What is known of the tracked face between frames."""

    cx: float
    cy: float
    side: float
    score: float
    landmarks: np.ndarray | None = None  # previous frame's raw landmarks; None after a loss
    lost_frames: int = 0
    seen: int = 0  # frames tracked since it was chosen: under MIN_RUN_FRAMES it is not yet established
    since_detect: int = 0


def load_face_stack() -> None:
    """Import mediapipe's face models now (half a second, more while other processes start; an import
    cannot be cancelled). A job does it before its first progress event, so that from then on a cancel
    is honoured within a frame."""
    import mediapipe.python.solutions.face_mesh  # noqa: F401 - the import is the point


def _crop_square(img: np.ndarray, cx: float, cy: float, side: float, out: int) -> tuple[np.ndarray, float, float, float]:
    """Square crop of `side` frame pixels centred on (cx, cy), resized to `out` × `out`.

    Parts outside the frame are black. Returns (crop, x0, y0, k) with frame = (x0, y0) + k × crop
    in continuous pixel coordinates (pixel centres at +0.5), so mesh output maps back exactly.
    Downscales by 2x or more are anti-aliased; the rest is one bilinear warpAffine.
    """
    h, w = img.shape[:2]
    k = side / out
    if k >= 2.0:
        # cv2's INTER_AREA is fast only for integer factors: shrink by the integer part of k with
        # it (anti-aliased), then by the remaining factor (< 2) with INTER_LINEAR. The crop is
        # snapped to whole pixels, a multiple of that factor, so both resizes map exactly.
        f = int(k)
        s = int(math.ceil(side / f)) * f
        ix0, iy0 = int(round(cx - s / 2)), int(round(cy - s / 2))
        sx0, sy0, sx1, sy1 = max(ix0, 0), max(iy0, 0), min(ix0 + s, w), min(iy0 + s, h)
        if sx1 <= sx0 or sy1 <= sy0:
            return np.zeros((out, out, 3), np.uint8), float(ix0), float(iy0), s / out
        part = img[sy0:sy1, sx0:sx1]
        if (sx0, sy0, sx1, sy1) != (ix0, iy0, ix0 + s, iy0 + s):
            part = cv2.copyMakeBorder(
                part, sy0 - iy0, iy0 + s - sy1, sx0 - ix0, ix0 + s - sx1, cv2.BORDER_CONSTANT, value=(0, 0, 0)
            )
        small = cv2.resize(part, (s // f, s // f), interpolation=cv2.INTER_AREA)
        crop = cv2.resize(small, (out, out), interpolation=cv2.INTER_LINEAR)
        return crop, float(ix0), float(iy0), s / out
    x0, y0 = cx - side / 2, cy - side / 2
    # warpAffine maps pixel-centre indices: dst_i + 0.5 = (src_i + 0.5 - x0) / k.
    inv = 1.0 / k
    m = np.array([[inv, 0.0, 0.5 * inv - 0.5 - x0 * inv], [0.0, inv, 0.5 * inv - 0.5 - y0 * inv]])
    crop = cv2.warpAffine(img, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crop, x0, y0, k


def graph_output(solution: Any, rgb: np.ndarray, stream: str) -> Any:
    """What a MediaPipe solution's `process(rgb)` gives as `stream` (None for no output): the same steps.

    `SolutionBase.process` builds a new namedtuple class on every call, 0.17 ms a frame of the tracking
    threads' GIL time. This runs its steps on the solution's own graph, so it reads private members of
    MediaPipe's legacy solutions, whose last release (0.10.21, the one MyTalk pins) is the last that has the
    face mesh; `tests/test_face_tracking.py` checks it gives what `process` gives."""
    solution._graph_outputs.clear()
    solution._simulated_timestamp += 33333  # `process` steps 1/30 s a call; the graphs read only the order
    ((name, kind),) = solution._input_stream_type_info.items()
    packet = solution._make_packet(kind, rgb).at(solution._simulated_timestamp)
    solution._graph.add_packet_to_input_stream(stream=name, packet=packet)
    solution._graph.wait_until_idle()
    out = solution._graph_outputs.get(stream)
    return None if out is None else solution._get_packet_content(solution._output_stream_type_info[stream], out)


_LANDMARK_RECORD = np.dtype([("tag", "u1"), ("size", "u1"), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"), ("y", "<f4"),
                             ("z_tag", "u1"), ("z", "<f4")])
"""One landmark of a serialized `NormalizedLandmarkList` holding x, y and z only: field 1 (the landmark, 15
bytes long), then fields 1-3 of it, each a tag byte and a little-endian float32."""


def landmark_array(landmarks: Any) -> np.ndarray:
    """(N, 3) float64 x, y, z of a MediaPipe `NormalizedLandmarkList`.

    Reading 478 protobuf messages field by field cost 0.18 ms a frame, holding the GIL the tracking threads
    share; its wire bytes read as one record array in 0.016 ms. A list whose bytes are laid out otherwise
    (a landmark with visibility or presence set) is read field by field: the values are the same."""
    wire = landmarks.SerializeToString()
    if len(wire) % _LANDMARK_RECORD.itemsize == 0:
        records = np.frombuffer(wire, _LANDMARK_RECORD)
        if ((records["tag"] == 0x0A).all() and (records["size"] == 15).all() and (records["x_tag"] == 0x0D).all()
                and (records["y_tag"] == 0x15).all() and (records["z_tag"] == 0x1D).all()):
            return np.stack([records["x"], records["y"], records["z"]], axis=1).astype(np.float64)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float64).reshape(-1, 3)


def _box_of(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(centre x, centre y, side) in pixels of the square around the landmarks' extent."""
    x0, y0 = landmarks[:, :2].min(axis=0)
    x1, y1 = landmarks[:, :2].max(axis=0)
    return float(x0 + x1) / 2, float(y0 + y1) / 2, float(max(x1 - x0, y1 - y0))


class FaceTracker:
    """Tracks one subject's face mesh through a sequence of frames; use as a context manager.

    The MediaPipe graphs are created on first use and released by `close()` (or leaving the
    `with` block). One tracker is not thread-safe; each `track` call is independent.
    """

    def __init__(self, settings: TrackerSettings | None = None, geometry: DisplayGeometry | None = None) -> None:
        """`geometry`: how the frames given are shown (`display.DisplayGeometry`); the tracker looks at
        them as shown and returns landmarks, boxes and the face point's meaning in the frames' own pixels.
        None: shown as stored."""
        self.settings = settings or TrackerSettings()
        self.geometry = geometry if geometry is not None and not geometry.is_identity else None
        self._detector: Any = None
        self._mesh: Any = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the MediaPipe graphs; the tracker can be used again afterwards."""
        for name in ("_detector", "_mesh"):
            graph = getattr(self, name)
            if graph is not None:
                graph.close()
                setattr(self, name, None)

    # --- models -----------------------------------------------------------------------------

    def _ensure_detector(self) -> Any:
        if self._detector is None:
            from mediapipe.python.solutions.face_detection import FaceDetection

            # model_selection=1: the full-range model, which finds faces down to ~15 px at its
            # 192 px input; the short-range one misses the small faces of wide shots.
            self._detector = FaceDetection(
                model_selection=1, min_detection_confidence=self.settings.min_detection_score
            )
        return self._detector

    def _reset_mesh(self) -> Any:
        """A fresh mesh graph, so no tracking state leaks from a previous sequence."""
        if self._mesh is not None:
            self._mesh.close()
        from mediapipe.python.solutions.face_mesh import FaceMesh

        # Video mode: the mesh follows its own previous landmarks inside our crop and skips its
        # internal detector while the face stays; refine_landmarks gives the 478-point mesh.
        self._mesh = FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )
        return self._mesh

    # --- detection ----------------------------------------------------------------------------

    def _detect_in(self, img: np.ndarray, cx: float, cy: float, side: float) -> list[_Detection]:
        """Detect faces in a square region of the frame (may extend past the frame edges)."""
        out = int(min(_DETECT_SIDE, max(64, round(side))))
        crop, x0, y0, k = _crop_square(img, cx, cy, side, out)
        found: list[_Detection] = []
        for det in graph_output(self._ensure_detector(), crop, "detections") or []:
            bb = det.location_data.relative_bounding_box
            w, h = bb.width * out * k, bb.height * out * k
            if w <= 1 or h <= 1:
                continue
            found.append(
                _Detection(
                    cx=x0 + (bb.xmin + bb.width / 2) * out * k,
                    cy=y0 + (bb.ymin + bb.height / 2) * out * k,
                    side=max(w, h) * _DET_TO_MESH,
                    score=float(det.score[0]),
                )
            )
        return found

    def _detect_frame(self, img: np.ndarray) -> list[_Detection]:
        """All faces in the frame: the whole frame first, then overlapping tiles for small faces."""
        h, w = img.shape[:2]
        side = float(max(h, w))
        dets = self._detect_in(img, w / 2, h / 2, side)
        if dets or side <= _TILE_SIDE * 1.25:
            return dets
        # A face of 80 px in a 1920 px frame is 8 px at the detector's input: too small. Tiles of
        # 720 px put it at ~21 px, where the full-range model finds it.
        tile = float(min(_TILE_SIDE, min(h, w)))
        xs = np.linspace(tile / 2, w - tile / 2, max(1, math.ceil((w - tile) / (tile * 0.75)) + 1))
        ys = np.linspace(tile / 2, h - tile / 2, max(1, math.ceil((h - tile) / (tile * 0.75)) + 1))
        for ty in ys:
            for tx in xs:
                dets.extend(self._detect_in(img, float(tx), float(ty), tile))
        return _dedupe(dets)

    def _choose_initial(self, dets: Sequence[_Detection], w: int, h: int) -> tuple[_Detection | None, str]:
        if not dets:
            return None, ""
        point = self.settings.face_point
        if point is not None:
            px, py = point if self.geometry is None else self.geometry.point_to_display(*point)
            inside = [d for d in dets if d.contains(px, py)]
            if inside:
                return min(inside, key=lambda d: math.hypot(d.cx - px, d.cy - py)), ""
            best = min(dets, key=lambda d: _distance_to_box(d, px, py))
            centre = np.array([best.cx, best.cy]) if self.geometry is None else \
                self.geometry.points_to_stored(np.array([best.cx, best.cy]))
            return best, (
                f"no face contains the face point ({point[0]:.0f}, {point[1]:.0f}); tracking the nearest face, "
                f"centred at ({centre[0]:.0f}, {centre[1]:.0f})"
            )
        half_diag = math.hypot(w, h) / 2

        def score(d: _Detection) -> float:
            central = 1.0 - 0.5 * min(1.0, math.hypot(d.cx - w / 2, d.cy - h / 2) / half_diag)
            return d.side * central

        return max(dets, key=score), ""

    @staticmethod
    def _associate(dets: Sequence[_Detection], subject: _Subject, gap: int) -> _Detection | None:
        """The detection that is the subject again: near its last box and of a similar size."""
        gate = min(_GATE_MAX, _GATE_MIN + _GATE_PER_FRAME * gap) * subject.side
        best: _Detection | None = None
        best_dist = math.inf
        for d in dets:
            dist = math.hypot(d.cx - subject.cx, d.cy - subject.cy)
            ratio = d.side / subject.side
            if dist <= gate and 0.5 <= ratio <= 2.0 and dist < best_dist:
                best, best_dist = d, dist
        return best

    # --- mesh ---------------------------------------------------------------------------------

    def _run_mesh(self, img: np.ndarray, cx: float, cy: float, face_side: float) -> np.ndarray | None:
        """Mesh on the crop around a face of `face_side` px at (cx, cy): (478, 3) frame px or None."""
        out = self.settings.crop_size
        crop, x0, y0, k = _crop_square(img, cx, cy, face_side * self.settings.crop_scale, out)
        faces = graph_output(self._mesh, crop, "multi_face_landmarks")
        if not faces:
            return None
        lm = landmark_array(faces[0])
        if lm.shape[0] != NUM_LANDMARKS:
            return None
        scale = out * k
        lm[:, 0] = x0 + lm[:, 0] * scale
        lm[:, 1] = y0 + lm[:, 1] * scale
        lm[:, 2] *= scale
        return lm.astype(np.float32)

    # --- main loop ----------------------------------------------------------------------------

    def track(
        self,
        frames: Iterable[tuple[int, np.ndarray] | PreparedFrame],
        *,
        total: int | None = None,
        fps: float = 25.0,
        progress: ProgressFn = no_progress,
        is_cancelled: CancelFn = never_cancelled,
    ) -> list[FaceObservation]:
        """Track the subject through `frames` and return one observation per frame (`track_stream`)."""
        return list(self.track_stream(frames, total=total, fps=fps, progress=progress, is_cancelled=is_cancelled))

    def track_stream(
        self,
        frames: Iterable[tuple[int, np.ndarray] | PreparedFrame],
        *,
        total: int | None = None,
        fps: float = 25.0,
        progress: ProgressFn = no_progress,
        is_cancelled: CancelFn = never_cancelled,
        on_tracked: Callable[[PreparedFrame, FaceObservation], None] | None = None,
    ) -> Iterator[FaceObservation]:
        """Track the subject through `frames`, yielding one final observation per frame, in order.

        An observation is final (the subject chosen, the mesh smoothed) a few seconds of frames after
        it was tracked (`finishing.WindowedFinish`), so a long range is never held whole.

        Args:
            frames: (frame index, RGB image (H, W, 3) uint8) pairs in display order, or the same frames
                already `prepare`d (`PreparedFrame`).
            total: number of frames, for progress; 0 is reported when unknown.
            fps: the clip's frame rate in Hz; the smoothing cutoffs and the windows are in real time.
            progress: called as progress(done, total, "face tracking") after every frame.
            is_cancelled: polled before every frame; raises `JobCancelledError` when it says so.
            on_tracked: sees each frame with its observation as tracked, in the stored frame's pixels, before
                the subject choice and the smoothing: final meshes are seconds of frames away, and a caller
                that wants something of the frame near the face (`profile_crops.MouthPieces`) need not
                hold the frames until then.
        """
        finish = WindowedFinish(fps, first_is_subject=self.settings.face_point is not None,
                                smoothing=self.settings.smoothing_params() if self.settings.smooth else None)
        # Smoothed and chosen as shown (square pixels, upright: the head's similarity and the subject's
        # rigid fit mean what they say there), then handed back in the frames' own pixels.
        for observation, cut in self.track_raw(frames, total=total, progress=progress, is_cancelled=is_cancelled,
                                               on_tracked=on_tracked):
            yield from map(self._as_stored, finish.push(observation, cut))
        yield from map(self._as_stored, finish.finish())

    def _as_stored(self, observation: FaceObservation) -> FaceObservation:
        """An observation of the shown picture in the stored frame's pixels (`display`)."""
        if self.geometry is None:
            return observation
        if not observation.found:
            return replace(observation, box=self.geometry.box_to_stored(observation.box))
        landmarks = self.geometry.points_to_stored(observation.landmarks).astype(observation.landmarks.dtype)
        return replace(observation, landmarks=landmarks, box=landmark_box(landmarks))

    def track_raw(
        self,
        frames: Iterable[tuple[int, np.ndarray] | PreparedFrame],
        *,
        total: int | None = None,
        progress: ProgressFn = no_progress,
        is_cancelled: CancelFn = never_cancelled,
        on_tracked: Callable[[PreparedFrame, FaceObservation], None] | None = None,
    ) -> Iterator[tuple[FaceObservation, bool]]:
        """The frame loop alone: (observation as tracked, whether a new shot starts there) per frame,
        before the subject choice and the smoothing that `track_stream` adds. Arguments as there."""
        self._reset_mesh()
        subject: _Subject | None = None
        signature: np.ndarray | None = None
        n_total = int(total) if total is not None else 0
        for done, item in enumerate(frames, start=1):
            check_cancelled(is_cancelled, STAGE)
            frame = item if isinstance(item, PreparedFrame) else self.prepare(*item)
            index, img = frame.index, frame.image
            previous, signature = signature, frame.signature
            cut = previous is not None and is_cut(previous, signature)
            if cut:
                # A new shot: whatever face sits where the subject was may be someone else, so the mesh
                # starts afresh and the subject must be found again through the detector's gate.
                self._reset_mesh()
                if subject is not None:
                    subject.landmarks = None
            obs, subject = self._step(int(index), img, subject)
            if on_tracked is not None:
                on_tracked(frame, self._as_stored(obs))
            progress(done, max(n_total, done) if total is not None else 0, STAGE)
            yield obs, cut

    def prepare(self, index: int, img: np.ndarray) -> PreparedFrame:
        """One stored RGB frame made ready for the loop (`PreparedFrame`): a pure function of the frame
        and this tracker's geometry, so any thread may call it.

        Raises UsageError for a frame that is not RGB uint8 (H, W, 3)."""
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise UsageError(
                f"frame {index}: face tracking needs RGB uint8 frames (H, W, 3), got {img.dtype} {img.shape}"
            )
        shown = np.ascontiguousarray(img) if self.geometry is None else self.geometry.to_display(img)
        return PreparedFrame(int(index), shown, shot_signature(shown))

    def _step(self, index: int, img: np.ndarray, subject: _Subject | None) -> tuple[FaceObservation, _Subject | None]:
        h, w = img.shape[:2]
        warnings: list[str] = []
        if subject is None:
            det, note = self._choose_initial(self._detect_frame(img), w, h)
            if det is None:
                return FaceObservation.missing(index, f"frame {index}: no face detected"), None
            if note:
                warnings.append(f"frame {index}: {note}")
            subject = _Subject(cx=det.cx, cy=det.cy, side=det.side, score=det.score)
            lm = self._run_mesh(img, det.cx, det.cy, det.side)
            if lm is None and self.settings.face_point is None:
                # No mesh on the chosen detection (a false detection, or a face too turned):
                # choose afresh on the next frame rather than lock onto it.
                return FaceObservation.missing(index, f"frame {index}: no usable face"), None
        elif subject.landmarks is None:
            lm = self._reacquire(img, subject, index, warnings)
        else:
            lm = self._follow(img, subject, index, warnings)

        last_box = _int_box(subject)
        if lm is None:
            subject.landmarks = None
            subject.lost_frames += 1
            return (FaceObservation.missing(index, f"frame {index}: the tracked face is not visible", last_box),
                    self._after_loss(subject))

        (yaw, pitch, roll), residual = pose_fit(lm)
        plausible = float(np.clip((_RESIDUAL_BAD - residual) / (_RESIDUAL_BAD - _RESIDUAL_OK), 0.0, 1.0))
        confidence = float(np.clip(subject.score * plausible, 0.0, 1.0))
        iod = float(np.linalg.norm(lm[LEFT_EYE_OUTER, :2] - lm[RIGHT_EYE_OUTER, :2]))
        if confidence < self.settings.min_confidence or iod < 2.0:
            subject.landmarks = None
            subject.lost_frames += 1
            obs = FaceObservation.missing(
                index, f"frame {index}: face rejected, confidence {confidence:.2f} below the minimum", last_box
            )
            obs.warnings[:0] = warnings
            return obs, self._after_loss(subject)

        cx, cy, side = _box_of(lm)
        subject.cx, subject.cy, subject.side = cx, cy, side
        subject.landmarks = lm
        subject.lost_frames = 0
        subject.seen += 1
        obs = FaceObservation(
            index=index,
            found=True,
            landmarks=lm,
            confidence=confidence,
            pose=(yaw, pitch, roll),
            box=landmark_box(lm),
            warnings=warnings,
        )
        return obs, subject

    def _follow(self, img: np.ndarray, subject: _Subject, index: int, warnings: list[str]) -> np.ndarray | None:
        """Mesh on the crop around last frame's landmarks; re-detect on schedule or on loss."""
        subject.since_detect += 1
        if subject.since_detect >= self.settings.detect_every:
            subject.since_detect = 0
            det = self._associate(self._detect_in(img, subject.cx, subject.cy, subject.side * 3.0), subject, 0)
            if det is not None:
                subject.score = det.score
            else:
                subject.score *= _UNCONFIRMED_DECAY
                warnings.append(f"frame {index}: the face detector did not confirm the tracked face")
        lm = self._run_mesh(img, subject.cx, subject.cy, subject.side)
        if lm is not None:
            return lm
        # The mesh lost it inside the crop (fast motion, occlusion): search the neighbourhood once.
        return self._reacquire(img, subject, index, warnings)

    def _reacquire(self, img: np.ndarray, subject: _Subject, index: int, warnings: list[str]) -> np.ndarray | None:
        gap = subject.lost_frames
        region = subject.side * (2.0 + 2.0 * min(_GATE_MAX, _GATE_MIN + _GATE_PER_FRAME * gap))
        det = self._associate(self._detect_in(img, subject.cx, subject.cy, region), subject, gap)
        subject.since_detect = 0
        if det is None:
            return None
        subject.score = det.score
        lm = self._run_mesh(img, det.cx, det.cy, det.side)
        if lm is not None and gap > 0:
            warnings.append(f"frame {index}: face re-acquired after {gap} frame(s) without it")
        return lm

    def _after_loss(self, subject: _Subject) -> _Subject | None:
        """After a loss: keep waiting for an established subject, but forget one seen for fewer than
        `MIN_RUN_FRAMES` (a face-like flash, a graphic), so the next frame chooses afresh instead of only
        looking where that flash was. A subject the editor pointed at (`face_point`) is never forgotten:
        choosing afresh would take the face nearest the point, which is then someone else."""
        if subject.seen >= MIN_RUN_FRAMES or self.settings.face_point is not None:
            return subject
        return None


def _dedupe(dets: list[_Detection]) -> list[_Detection]:
    """Merge detections of one face found in several overlapping tiles (keep the best score)."""
    kept: list[_Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(math.hypot(d.cx - k.cx, d.cy - k.cy) > 0.5 * min(d.side, k.side) for k in kept):
            kept.append(d)
    return kept


def _distance_to_box(d: _Detection, x: float, y: float) -> float:
    dx = max(abs(x - d.cx) - d.side / 2, 0.0)
    dy = max(abs(y - d.cy) - d.side / 2, 0.0)
    return math.hypot(dx, dy)


def _int_box(subject: _Subject) -> tuple[int, int, int, int]:
    half = subject.side / 2
    return (
        int(math.floor(subject.cx - half)),
        int(math.floor(subject.cy - half)),
        int(math.ceil(subject.cx + half)),
        int(math.ceil(subject.cy + half)),
    )


def tracking_summary(observations: Sequence[FaceObservation]) -> dict[str, Any]:
    """Figures for reports and logs.

    Returns a dict with frames, frames_found, share_tracked (0..1), mean_confidence (over found
    frames; 0.0 when none), faceless_ranges: [[first, last], ...] inclusive frame indices of
    every run of frames without the face, and rejected_detections (`rejected_detections`).
    """
    frames = len(observations)
    found = [o for o in observations if o.found]
    ranges: list[list[int]] = []
    for obs in observations:
        if obs.found:
            continue
        if ranges and ranges[-1][1] == obs.index - 1:
            ranges[-1][1] = obs.index
        else:
            ranges.append([obs.index, obs.index])
    return {
        "frames": frames,
        "frames_found": len(found),
        "share_tracked": len(found) / frames if frames else 0.0,
        "mean_confidence": float(np.mean([o.confidence for o in found])) if found else 0.0,
        "faceless_ranges": ranges,
        "rejected_detections": [r.to_dict() for r in rejected_detections(observations)],
    }


def rejected_detections(observations: Sequence[FaceObservation]) -> list[RejectedDetection]:
    """The faces tracked but not taken as the subject, one entry per run of frames with the same reason."""
    out: list[RejectedDetection] = []
    for obs in observations:
        if not obs.rejected:
            continue
        prev = out[-1] if out else None
        if prev is not None and prev.reason == obs.rejected and obs.index - prev.last <= 1 + _BRIDGE_GAP:
            out[-1] = RejectedDetection(prev.first, obs.index, prev.frames + 1, prev.reason)
        else:
            out.append(RejectedDetection(obs.index, obs.index, 1, obs.rejected))
    return out
