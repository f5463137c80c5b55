"""Visual check of the compositor: a visibly different mouth composited into real frames.

For each clip and frame, a donor frame is picked among the next `--window` frames: the one whose mouth
opening differs most from the source's among those whose pose matches (similarity fitted on the stable
points: eye corners, nose bridge, residual under 2 % of the inter-ocular distance). Its face is warped onto
the source face and composited with the union of both frames' masks, so the result looks like a real edit
(retrieval renderers do the same with better warps). One row per composited frame: source | output | mask
crops of the lower face, each enlarged 2x, then the bit-exactness figures printed to stdout.

    .venv/bin/python benchmarks/composite_contact_sheet.py --out /tmp/sheet.png [--media ../shared/media]

Needs mediapipe for the landmarks. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import av
import cv2
import numpy as np

from mytalk.core.composite import (
    Compositor,
    MaskMode,
    mouth_mask,
    plane_arrays,
    read_rgb,
)
from mytalk.core.face import regions
from mytalk.core.face.canonical import iod_eye_centres

DEFAULT_CLIPS = (
    "hdtf_wda_katiehill_512.mp4",
    "retalking_face4_woman_bluebg.mp4",
    "wav2lip_pr600_man_720p_cutaway.mov",
    "latentsync_demo2_man_vertical_hevc.mp4",
)


def default_media() -> Path:
    """$MYTALK_SHARED_MEDIA, else ../shared/media next to the repository (as the tests do)."""
    env = os.environ.get("MYTALK_SHARED_MEDIA")
    return Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "media"


def decode(path: Path, indices: list[int]) -> dict[int, av.VideoFrame]:
    """The frames at `indices` (decode order = display order for these clips)."""
    wanted, out = set(indices), {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame
            if i >= max(wanted):
                break
    return out


def landmarks(face_mesh: object, rgb: np.ndarray) -> np.ndarray | None:
    """(478, 2) pixel landmarks of the first face, or None."""
    result = face_mesh.process(np.ascontiguousarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)))  # type: ignore[attr-defined]
    if not result.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    return np.array([[p.x * w, p.y * h] for p in result.multi_face_landmarks[0].landmark], np.float64)


def lm_of(face_mesh: object, frames: dict[int, av.VideoFrame], cache: dict[int, np.ndarray | None], i: int
          ) -> np.ndarray | None:
    """Landmarks of frame `i`, computed once."""
    if i not in cache:
        cache[i] = landmarks(face_mesh, read_rgb(frames[i], clip=True))
    return cache[i]


def aperture(points: np.ndarray) -> float:
    """Inner-lip gap in px (upper to lower inner lip on the midline)."""
    return float(np.linalg.norm(points[regions.UPPER_LIP_MID] - points[regions.LOWER_LIP_MID]))


def crop(image: np.ndarray, box: tuple[int, int, int, int], scale: int = 2) -> np.ndarray:
    """uint8 RGB crop of a float [0, 1] image, enlarged `scale` times (nearest: show the real pixels)."""
    x0, y0, x1, y1 = box
    tile = (np.clip(image[y0:y1, x0:x1], 0, 1) * 255).round().astype(np.uint8)
    return cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", type=Path, default=default_media(), help="shared media folder (with video/)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--clips", nargs="*", default=list(DEFAULT_CLIPS))
    parser.add_argument("--frames", nargs="*", type=int, default=[5, 40])
    parser.add_argument("--window", type=int, default=40, help="look for a donor mouth this many frames ahead")
    parser.add_argument("--mode", default="lower-face", choices=[m.value for m in MaskMode])
    parser.add_argument("--blend", default="laplacian", choices=["laplacian", "alpha"])
    args = parser.parse_args()

    import mediapipe as mp  # optional dependency of this script only

    face_mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1)
    compositor = Compositor(mode=args.mode, blend=args.blend)
    rows: list[np.ndarray] = []
    stable = list(regions.STABLE) + [regions.NOSE_TIP]
    for clip in args.clips:
        path = args.media / "video" / clip
        if not path.is_file():
            print(f"skip {clip}: not found")
            continue
        frames = decode(path, sorted({i for f in args.frames for i in range(f, f + args.window + 1)}))
        cache: dict[int, np.ndarray | None] = {}
        for index in args.frames:
            if index not in frames:
                continue
            source = frames[index]
            size = (source.width, source.height)
            lm_src = lm_of(face_mesh, frames, cache, index)
            if lm_src is None:
                print(f"{clip} frame {index}: no face")
                continue
            iod = iod_eye_centres(lm_src)
            best: tuple[float, int, np.ndarray] | None = None
            for j in range(index + 3, index + args.window + 1, 3):
                lm_j = lm_of(face_mesh, frames, cache, j) if j in frames else None
                if lm_j is None:
                    continue
                matrix, _ = cv2.estimateAffinePartial2D(lm_j[stable].astype(np.float32), lm_src[stable].astype(np.float32))
                moved = lm_j @ matrix[:, :2].T + matrix[:, 2]
                residual = float(np.linalg.norm(moved[stable] - lm_src[stable], axis=1).mean()) / iod
                change = abs(aperture(moved) - aperture(lm_src)) / iod
                if residual < 0.02 and (best is None or change > best[0]):
                    best = (change, j, matrix)
            if best is None:
                print(f"{clip} frame {index}: no donor frame with the same pose")
                continue
            _, donor_index, matrix = best
            src_rgb, donor_rgb = read_rgb(source, clip=True), read_rgb(frames[donor_index], clip=True)
            lm_donor = lm_of(face_mesh, frames, cache, donor_index)
            assert lm_donor is not None
            warped = cv2.warpAffine(donor_rgb, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            lm_warped = lm_donor @ matrix[:, :2].T + matrix[:, 2]
            mask = mouth_mask(lm_src, size, args.mode).union(mouth_mask(lm_warped, size, args.mode))
            result = compositor.composite_full_frame(source, warped, mask)

            # Exactness over the whole frame, every plane, against the returned support.
            support = np.zeros((source.height, source.width), bool)
            x0, y0, x1, y1 = result.mask_box
            support[y0:y1, x0:x1] = result.changed_support
            outside = 0
            for a, b in zip(plane_arrays(source), plane_arrays(result.frame), strict=True):
                diff = (a != b).any(axis=-1) if a.ndim == 3 else a != b
                sy, sx = -(-source.height // diff.shape[0]), -(-source.width // diff.shape[1])
                diff = diff.repeat(sy, 0).repeat(sx, 1)[: source.height, : source.width]
                outside += int((diff & ~support).sum())
            print(f"{clip} frame {index} <- {donor_index}: {source.format.name} {size}, box {result.mask_box}, "
                  f"changed {result.changed_pixels} px, changed outside support {outside}")

            out_rgb = read_rgb(result.frame, clip=True)
            alpha = mask.full_frame_alpha(size)
            pad = int(0.15 * max(x1 - x0, y1 - y0))
            view = (max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, size[0]), min(y1 + pad, size[1]))
            mask_vis = np.repeat(alpha[..., None], 3, axis=2)
            tiles = [
                label(crop(src_rgb, view), "source"),
                label(crop(out_rgb, view), "output"),
                label(crop(mask_vis, view), f"mask {args.mode}"),
            ]
            row = np.concatenate(tiles, axis=1)
            target_w = 3 * 360
            rows.append(cv2.resize(row, (target_w, int(row.shape[0] * target_w / row.shape[1])), interpolation=cv2.INTER_AREA))
    if not rows:
        raise SystemExit("no rows: are the clips there?")
    sheet = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
