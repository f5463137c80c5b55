"""The picture the face tracker sees of an interlaced frame: its first field alone, at full height.

A 1080i, HDV or DV frame holds two fields taken 1/50 s (1/59.94 s) apart, in alternate rows. Where the
mouth moves between them, its edges alternate between two positions (combing), and the face mesh fits
something between the two lips. Measured on `hdtf_wda_katiehill_512` woven into fields from consecutive
frames (1/25 s apart), against the lips tracked at the upper field's instant, over 60 frames: tracked on
the woven frames, the lips were 1.34 % of the eye distance away and the mouth's opening correlated at
r 0.954; tracked on this picture, 0.36 % and r 0.998. With both fields from one instant (nothing moving
between them) it loses nothing: 0.39 % before, 0.35 % now (the field's own chroma, below).

The first field in time is the frame's own instant, the one its sound is timed to, and the one the
classic engine paints from (`composite.one_instant`), so the meshes that place and shape the new mouth
describe the picture it is painted from: the upper field (the frame's even rows) in 1080i, HDV and XDCAM,
the lower one (odd rows) in DV and most SD (`media.decoded_fields`). Each row of the other field is the
mean of the kept field's rows above and below it (an edge row copies its one neighbour): the field's own
rows keep their place, so the meshes stay in the frame's own pixel coordinates. The mesh samples the face
at about 128 px, well under half the height of a face the tracker can follow, so the field's half height
costs it no detail.

An 8-bit 4:2:0 field is converted with its own chroma rows: in an interlaced 4:2:0 frame each field is
subsampled on its own (`composite.planes`), so reading the frame as progressive gives every other
upper-field row the lower field's colour, a comb of its own on the lips' edge. Other interlaced
formats are converted whole and their upper field taken: 4:2:2 and 4:4:4 (ProRes, DNxHD, XDCAM HD422)
keep a chroma row for every row, and an interlaced 10-bit 4:2:0 clip is rare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from mytalk.core.media.decoded_fields import first_field_row

if TYPE_CHECKING:
    from mytalk.core.media.reader import SourceFrame


def tracking_picture(source: SourceFrame) -> np.ndarray:
    """The RGB picture (H, W, 3) uint8 the tracker sees of a decoded frame: the frame itself, or, when the
    decoder flags it interlaced, its first field (`decoded_fields.first_field_row`) at full height."""
    frame = source.frame
    if not frame.interlaced_frame:
        return source.to_rgb()
    row = first_field_row(frame)
    if source.opencv_i420 and frame.height % 4 == 0:
        return field_at_frame_height(field_rgb_420(frame.to_ndarray(), frame.height, row), row)
    return field_picture(source.to_rgb(), row)


def field_rgb_420(i420: np.ndarray, height: int, row: int = 0) -> np.ndarray:
    """The field (height / 2, W, 3) uint8 RGB whose first frame row is `row` (0: upper, 1: lower) of an
    interlaced 8-bit limited-range 4:2:0 frame given as its I420 array (`av.VideoFrame.to_ndarray()`: the Y
    rows, then U and V), each field's chroma rows its own (BT.601, as `SourceFrame.to_rgb` converts a whole
    frame). `height` is a multiple of 4."""
    width = i420.shape[1]
    luma = i420[:height]
    quarter = height // 4
    u = i420[height : height + quarter].reshape(height // 2, width // 2)
    v = i420[height + quarter : height + 2 * quarter].reshape(height // 2, width // 2)
    field = np.concatenate([luma[row::2].ravel(), u[row::2].ravel(), v[row::2].ravel()])
    return cv2.cvtColor(field.reshape(height // 2 * 3 // 2, width), cv2.COLOR_YUV2RGB_I420)


def field_picture(rgb: np.ndarray, row: int = 0) -> np.ndarray:
    """`rgb` (H, W, C) uint8, a whole interlaced frame, with the field starting at frame row `row` kept and
    every row of the other field replaced by the rounded mean of the kept rows around it (an edge row by
    its one neighbour); a new array."""
    if rgb.shape[0] < 2:
        return np.array(rgb, copy=True)
    return field_at_frame_height(rgb[row::2], row, rgb.shape[0])


def field_at_frame_height(field: np.ndarray, row: int = 0, height: int | None = None) -> np.ndarray:
    """A field (h, W, C) uint8 at frame height (`height`, default 2h; W, C), its rows at frame rows `row`,
    `row` + 2, ...: each row of the other field the rounded mean of the field rows above and below it, or
    a copy of its one neighbour at the frame's top or bottom."""
    height = 2 * field.shape[0] if height is None else height
    out = np.empty((height, *field.shape[1:]), np.uint8)
    kept = range(row, height, 2)
    out[kept.start : kept.stop : 2] = field[: len(kept)]
    other = np.arange(1 - row, height, 2)
    inner = other[(other >= 1) & (other + 1 < height)]
    if inner.size:
        out[inner] = cv2.addWeighted(out[inner - 1], 0.5, out[inner + 1], 0.5, 0.0)
    for edge in other[(other < 1) | (other + 1 >= height)]:
        out[edge] = out[edge + 1] if edge == 0 else out[edge - 1]
    return out
