"""Milliseconds per frame for compositing a mouth box, at 512 px, 1080p and 1080x1920 (vertical).

The full sync at 1080p must stay within 1.5x of a plain transcode, so the compositor has to cost a few ms.
The scenes reuse one real HDTF frame (512x512) and its face-mesh landmarks, scaled so the face is as large as
in a medium close-up: 512 px as is (inter-ocular distance about 110 px), and a 1080 px square inset into
the 1080p and vertical frames (about 230 px). Mouth boxes therefore have realistic sizes.

For each scene, pixel format, mask mode and blend: median ms of `Compositor.composite` (mask precomputed),
and the cost of the mask itself. `--transcode` adds a libx264 decode + encode of the 1080p frame for scale.

    .venv/bin/python benchmarks/bench_composite.py [--repeats 30] [--transcode] [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import av
import cv2
import numpy as np

from mytalk.core.composite import Compositor, MaskMode, copy_frame, mouth_mask, read_rgb

CLIP = "hdtf_wda_katiehill_512.mp4"


def default_media() -> Path:
    """$MYTALK_SHARED_MEDIA, else ../shared/media next to the repository (as the tests do)."""
    env = os.environ.get("MYTALK_SHARED_MEDIA")
    return Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "media"


def timed(fn: Callable[[], object], repeats: int) -> str:
    """"median/best" wall time of `fn` in ms after one warm-up call.

    The best run is the cost without contention; on a shared machine the median can be much worse.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return f"{statistics.median(times):.2f}/{min(times):.2f}"


def real_face(media: Path) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 (512, 512, 3) of the clip's first frame and its (478, 2) landmarks in px."""
    import mediapipe as mp

    path = media / "video" / CLIP
    if not path.is_file():
        raise SystemExit(f"benchmark clip not found: {path} (pass --media)")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    rgb = (read_rgb(frame, clip=True) * 255).round().astype(np.uint8)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        raise SystemExit("mediapipe found no face in the benchmark frame")
    lm = np.array([[p.x * frame.width, p.y * frame.height] for p in result.multi_face_landmarks[0].landmark])
    return rgb, lm


def scene(rgb: np.ndarray, lm: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The face square scaled to the frame's shorter side and centred; landmarks moved with it."""
    w, h = size
    side = min(w, h)
    scale = side / rgb.shape[0]
    canvas = np.full((h, w, 3), 40, np.uint8)
    x0, y0 = (w - side) // 2, (h - side) // 2
    canvas[y0 : y0 + side, x0 : x0 + side] = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_CUBIC)
    return canvas, lm * scale + [x0, y0]


def transcode_ms(rgb: np.ndarray, frames: int = 24) -> float:
    """ms per frame of a libx264 (default preset) encode plus decode of `rgb` repeated, for scale.

    A static frame encodes faster than real footage, so this is a lower bound of a real transcode.
    """
    import io

    buf = io.BytesIO()
    source = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    start = time.perf_counter()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv420p"
        for i in range(frames):
            frame = copy_frame(source)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as reader:
        for _ in reader.decode(video=0):
            pass
    return (time.perf_counter() - start) * 1000.0 / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", type=Path, default=default_media())
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--transcode", action="store_true", help="also time a 1080p libx264 decode + encode")
    args = parser.parse_args()

    rgb, lm = real_face(args.media)
    scenes = {"512x512": (512, 512), "1920x1080": (1920, 1080), "1080x1920": (1080, 1920)}
    formats = {"512x512": ["yuv420p"], "1920x1080": ["yuv420p", "yuv422p10le"], "1080x1920": ["yuv420p"]}
    rng = np.random.default_rng(0)
    print("ms per frame, median/best of --repeats runs")
    print(f"{'scene':<10} {'pix_fmt':<12} {'mode':<11} {'box':>9} {'mask':>11} {'laplacian':>11} {'alpha':>11} {'frame copy':>11}")
    for name, size in scenes.items():
        canvas, lm_s = scene(rgb, lm, size)
        base = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        for fmt in formats[name]:
            source = base.reformat(format=fmt)
            source.pts = 0
            for mode in MaskMode:
                mask = mouth_mask(lm_s, size, mode)
                h, w = mask.alpha.shape
                generated = rng.random((h, w, 3), dtype=np.float32)
                mask_ms = timed(partial(mouth_mask, lm_s, size, mode), args.repeats)
                lap_ms = timed(partial(Compositor(blend="laplacian").composite, source, generated, mask), args.repeats)
                alpha_ms = timed(partial(Compositor(blend="alpha").composite, source, generated, mask), args.repeats)
                copy_ms = timed(partial(copy_frame, source), args.repeats)
                print(f"{name:<10} {fmt:<12} {mode.value:<11} {f'{w}x{h}':>9} {mask_ms:>11} {lap_ms:>11} "
                      f"{alpha_ms:>11} {copy_ms:>11}")
    if args.transcode:
        canvas, _ = scene(rgb, lm, (1920, 1080))
        print(f"1080p libx264 encode + decode: {transcode_ms(canvas):.1f} ms/frame")


if __name__ == "__main__":
    main()
