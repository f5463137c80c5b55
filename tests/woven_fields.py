"""Interlaced clips of a real face, made from the shared 25p `hdtf_wda_katiehill_512.mp4`, for the tests of
interlaced handling: each field subsampled to 4:2:0 on its own (as a camera does) and coded losslessly as
H.264 fields, top field first (as 1080i) or bottom field first (as DV), flagged interlaced."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from conftest import media_path

FACE_CLIP = "hdtf_wda_katiehill_512.mp4"


def source_pictures(count: int) -> list[np.ndarray]:
    """The first `count` frames of the shared face clip, as RGB."""
    with av.open(str(media_path("video", FACE_CLIP))) as reader:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(count), reader.decode(video=0), strict=False)]


def woven_clip(path: Path, frames: int, *, moving: bool = True, lower_first: bool = False) -> Path:
    """A 1080i-like clip of `frames` frames. moving: frame n's first field from source frame 2n and its second
    field from 2n + 1 (1/25 s apart, twice a camera's field gap); else both fields from source frame n (an
    interlaced-coded picture in which nothing moves between the fields). The first field is the upper one,
    or with `lower_first` the lower one, as DV's, and the stream is coded and tagged that way."""
    def field_planes(rgb: np.ndarray) -> list[np.ndarray]:
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        yuv = picture.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
        return [np.frombuffer(memoryview(p), np.uint8).reshape(p.height, p.line_size)[:, : p.width].copy()
                for p in yuv.planes]

    pictures = source_pictures(2 * frames if moving else frames)
    with av.open(str(path), "w") as writer:
        order = "bff" if lower_first else "tff"
        stream = writer.add_stream("libx264", rate=25, options={
            "x264-params": f"interlaced=1:{order}=1:qp=0", "preset": "veryfast", "flags": "+ildct+ilme"})
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        stream.codec_context.field_order = 3 if lower_first else 2  # FFmpeg's AV_FIELD_BB, AV_FIELD_TT
        for n in range(frames):
            first, second = (pictures[2 * n], pictures[2 * n + 1]) if moving else (pictures[n], pictures[n])
            if lower_first:
                first, second = second, first  # the upper field then shows the later instant
            upper, lower = field_planes(first[0::2]), field_planes(second[1::2])
            frame = av.VideoFrame(512, 512, "yuv420p")
            for index, plane in enumerate(frame.planes):
                rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
                rows[0::2], rows[1::2] = upper[index], lower[index]
            frame.colorspace, frame.color_range = 1, 1
            frame.pts, frame.time_base = n, Fraction(1, 25)
            writer.mux(stream.encode(frame))
        writer.mux(stream.encode(None))
    return path
