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

from mytalk.core.composite.planes import SUPPORTED_FORMATS, plane_arrays


def needs_field_chroma(source_format: str, target_format: str, height: int) -> bool:
    """Whether a picture of `source_format` must be converted to `target_format` field by field: the source
    halves its chroma rows and the target does not. The height must split into two 4:2:0 fields (a
    multiple of 4); any other height is converted as a frame, and so is a format `plane_arrays` does not
    lay out."""
    if height % 4 or not {source_format, target_format} <= SUPPORTED_FORMATS.keys():
        return False
    source, target = av.VideoFormat(source_format), av.VideoFormat(target_format)
    if not (source.is_planar and target.is_planar):
        return False
    return source.chroma_height(height) * 2 == height and target.chroma_height(height) == height


def split_fields(frame: av.VideoFrame) -> tuple[av.VideoFrame, av.VideoFrame]:
    """The upper and lower fields of a planar frame as two frames of half its height (each plane's even
    rows, then its odd rows). `plane_arrays` gives the planes without their line padding; every 4:2:0
    format the compositor paints has them."""
    fmt = frame.format.name
    fields = (av.VideoFrame(frame.width, frame.height // 2, fmt), av.VideoFrame(frame.width, frame.height // 2, fmt))
    planes = plane_arrays(frame)
    for parity, field in enumerate(fields):
        for whole, half in zip(planes, plane_arrays(field), strict=True):
            half[...] = whole[parity::2]
        for tag in ("colorspace", "color_range"):
            setattr(field, tag, getattr(frame, tag))
    return fields


def convert_by_field(frame: av.VideoFrame, target_format: str,
                     convert: Callable[[av.VideoFrame], av.VideoFrame]) -> av.VideoFrame:
    """`frame` in `target_format`, each field converted on its own by `convert` (a `reformat` with the
    clip's matrix and range) and the two woven back, row by row."""
    out = av.VideoFrame(frame.width, frame.height, target_format)
    woven = plane_arrays(out)
    for parity, field in enumerate(split_fields(frame)):
        for index, rows in enumerate(plane_arrays(convert(field))):
            woven[index][parity::2] = rows
    return out
