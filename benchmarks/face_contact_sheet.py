"""Visual check of face tracking: landmarks drawn on frames of several real clips.

One row per clip: a thumbnail of the whole frame with the tracked box, then face crops of frames
spread over the clip, enlarged to 256 px, with the mesh drawn on them: lips red, `STABLE` points
green, jaw yellow, every other point a small white dot. Frames without the face say so. Each
shown frame is the middle of a 21-frame tracked chunk, so smoothing has context on both sides.

    .venv/bin/python benchmarks/face_contact_sheet.py --out /tmp/face_contact.png [--media ../shared/media]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from mytalk.core.face.regions import JAW, LIPS, STABLE
from mytalk.core.face.tracker import FaceObservation, FaceTracker
from mytalk.core.media.reader import FrameReader

DEFAULT_CLIPS = (
    "latentsync_demo2_man_vertical_hevc.mp4",
    "voxceleb2_00104_man_tv_224.mp4",
    "wav2lip_pr600_man_720p_cutaway.mov",
    "hdtf_wda_katiehill_512.mp4",
    "retalking_face5_woman_glasses_eu.mp4",
)
CELL = 256
HALF_CHUNK = 10


def track_around(path: Path, index: int, count: int, fps: float) -> tuple[np.ndarray, FaceObservation]:
    """The frame at `index` and its observation, tracked within a chunk centred on it."""
    start, stop = max(0, index - HALF_CHUNK), min(count, index + HALF_CHUNK + 1)
    with FrameReader(path) as reader:
        frames = [(sf.index, sf.to_rgb()) for sf in reader.frames(start, stop)]
    with FaceTracker() as tracker:
        observations = tracker.track(frames, total=len(frames), fps=fps)
    at = index - start
    return frames[at][1], observations[at]


def face_cell(img: np.ndarray, obs: FaceObservation) -> np.ndarray:
    """The face region enlarged to CELL x CELL with the mesh drawn at that resolution."""
    if not obs.found:
        cell = cv2.resize(img, (CELL, CELL), interpolation=cv2.INTER_AREA)
        cv2.putText(cell, f"{obs.index}: no face", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 80, 80), 2)
        return cell
    x0, y0, x1, y1 = obs.box
    side = 1.3 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    k = CELL / side
    m = np.array([[k, 0, CELL / 2 - cx * k], [0, k, CELL / 2 - cy * k]])
    cell = cv2.warpAffine(img, m, (CELL, CELL), flags=cv2.INTER_LINEAR)
    pts = obs.landmarks[:, :2] * k + m[:, 2]
    special = set(LIPS) | set(STABLE) | set(JAW)
    for i, (x, y) in enumerate(pts):
        if i not in special:
            cv2.circle(cell, (round(x), round(y)), 1, (235, 235, 235), -1, cv2.LINE_AA)
    for group, colour in ((JAW, (255, 220, 0)), (LIPS, (255, 40, 40)), (STABLE, (40, 255, 40))):
        for i in group:
            cv2.circle(cell, (round(pts[i, 0]), round(pts[i, 1])), 2, colour, -1, cv2.LINE_AA)
    yaw, pitch, roll = obs.pose
    label = f"{obs.index} c={obs.confidence:.2f} yaw {yaw:+.0f}"
    cv2.putText(cell, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return cell


def thumbnail(img: np.ndarray, obs: FaceObservation, name: str) -> np.ndarray:
    """Whole frame letterboxed into CELL x CELL with the face box drawn."""
    h, w = img.shape[:2]
    k = CELL / max(h, w)
    small = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    cell = np.zeros((CELL, CELL, 3), np.uint8)
    oy, ox = (CELL - small.shape[0]) // 2, (CELL - small.shape[1]) // 2
    cell[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    if obs.found:
        x0, y0, x1, y1 = (np.array(obs.box) * k).round().astype(int) + [ox, oy, ox, oy]
        cv2.rectangle(cell, (int(x0), int(y0)), (int(x1), int(y1)), (40, 255, 40), 2)
    cv2.putText(cell, name[:30], (4, CELL - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 0), 1, cv2.LINE_AA)
    cv2.putText(cell, f"{w}x{h}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_media = Path(__file__).resolve().parent.parent.parent / "shared" / "media"
    parser.add_argument("--media", type=Path, default=Path(os.environ.get("MYTALK_SHARED_MEDIA", default_media)))
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--clips", nargs="*", default=list(DEFAULT_CLIPS))
    parser.add_argument("--per-clip", type=int, default=4, help="face crops per clip")
    args = parser.parse_args()

    rows = []
    for name in args.clips:
        path = args.media / "video" / name
        if not path.is_file():
            print(f"skipping {name}: not found in {args.media / 'video'}")
            continue
        with FrameReader(path) as reader:
            count, fps = reader.frame_count, float(reader.video.fps)
        indices = np.linspace(HALF_CHUNK, count - 1 - HALF_CHUNK, args.per_clip).round().astype(int).tolist()
        if "cutaway" in name:
            indices[1] = 380  # inside the cutaway: must say "no face"
        cells, first = [], None
        for index in indices:
            img, obs = track_around(path, index, count, fps)
            if first is None:
                first = (img, obs)
            cells.append(face_cell(img, obs))
            print(f"{name} frame {index}: found={obs.found} confidence={obs.confidence:.2f} box={obs.box}")
        assert first is not None
        rows.append(np.hstack([thumbnail(first[0], first[1], name), *cells]))
    if not rows:
        raise SystemExit("no clips found")
    sheet = np.vstack(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
