"""Interlaced 4:2:0 taken to 4:2:2 or 4:4:4 one field at a time, so no field gets the other's colour.

In an interlaced 4:2:0 picture (HDV, AVCHD, XDCAM EX, broadcast H.264 at 1080i) the chroma rows alternate
between the fields as the luma rows do: chroma row 0 belongs to the upper field, row 1 to the lower, and
so on. swscale knows nothing of fields: to fill a 4:2:2 picture's chroma it interpolates between
neighbouring chroma rows, which belong to different fields, 1/50 s apart. On a still picture nothing
shows; on a moving coloured edge each field takes a share of the other's colour, and the ProRes render
of a shot smears where the original did not. Converting each field as a picture of its own and weaving the results
is what a field-aware converter does; the samples of each field come only from that field.
"""

from __future__ import annotations

from collections.abc import Callable

import av
import numpy as np


def needs_field_chroma(source_format: str, target_format: str, height: int) -> bool:
    """Whether a picture of `source_format` must be converted to `target_format` field by field: the source
    halves its chroma rows and the target does not. The height must split into two 4:2:0 fields (a
    multiple of 4); any other height is converted as a frame."""
    source, target = av.VideoFormat(source_format), av.VideoFormat(target_format)
    if not (source.is_planar and target.is_planar) or height % 4:
        return False
    return source.chroma_height(height) * 2 == height and target.chroma_height(height) == height


def _rows(plane: av.video.plane.VideoPlane, bytes_per_sample: int) -> np.ndarray:
    """A (height, width in bytes) view of a plane without its line padding. Not `composite.planes`'
    `plane_arrays`: that module imports OpenCV, and the writer is imported by the panel's model, which
    must load neither Qt nor OpenCV (`tests/test_ui_panel_model.py`)."""
    flat = np.frombuffer(memoryview(plane), np.uint8)  # type: ignore[arg-type]
    return flat.reshape(plane.height, plane.line_size)[:, : plane.width * bytes_per_sample]


def _bytes_per_sample(fmt: av.VideoFormat) -> int:
    return 2 if max(c.bits for c in fmt.components) > 8 else 1


def split_fields(frame: av.VideoFrame) -> tuple[av.VideoFrame, av.VideoFrame]:
    """The upper and lower fields of a planar frame as two frames of half its height (each plane's even
    rows, then its odd rows)."""
    fmt = frame.format
    size = _bytes_per_sample(fmt)
    fields = (av.VideoFrame(frame.width, frame.height // 2, fmt.name),
              av.VideoFrame(frame.width, frame.height // 2, fmt.name))
    for index, plane in enumerate(frame.planes):
        rows = _rows(plane, size)
        for parity, field in enumerate(fields):
            _rows(field.planes[index], size)[...] = rows[parity::2]
    for field in fields:
        for name in ("colorspace", "color_range"):
            setattr(field, name, getattr(frame, name))
    return fields


def convert_by_field(frame: av.VideoFrame, target_format: str,
                     convert: Callable[[av.VideoFrame], av.VideoFrame]) -> av.VideoFrame:
    """`frame` in `target_format`, each field converted on its own by `convert` (a `reformat` with the
    clip's matrix and range) and the two woven back, row by row."""
    out = av.VideoFrame(frame.width, frame.height, target_format)
    size = _bytes_per_sample(out.format)
    for parity, field in enumerate(split_fields(frame)):
        converted = convert(field)
        for index, plane in enumerate(converted.planes):
            _rows(out.planes[index], size)[parity::2] = _rows(plane, size)
    return out
