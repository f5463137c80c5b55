"""Interlaced 4:2:0 frames are read and written field by field (`composite.planes.frame_layout`).

In an interlaced 4:2:0 picture (HDV, AVCHD, XDCAM EX, DV PAL, 1080i H.264) chroma row 2k belongs to the upper
field and covers luma rows 4k and 4k + 2; row 2k + 1 belongs to the lower field and covers rows 4k + 1 and
4k + 3. The compositor used to read and write such frames as progressive ones, so a chroma sample took its
colour from both fields, 1/50 s apart. The frames here are flagged interlaced as a decoder flags them, by
FFmpeg's `setfield` (`media.field_marks.FieldMarker`), so their planes are exactly what the test wrote.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from mytalk.core.composite import Compositor, Mask
from mytalk.core.composite.planes import (
    align_box,
    color_matrix,
    cut_piece,
    frame_layout,
    plane_arrays,
    read_rgb,
    write_rgb,
)
from mytalk.core.errors import UsageError
from mytalk.core.media.field_marks import FieldMarker

FORMATS = ("yuv420p", "yuv420p10le")


def _frame(planes: list[np.ndarray], pix_fmt: str, *, interlaced: bool) -> av.VideoFrame:
    """A frame of `pix_fmt` holding `planes` exactly, flagged interlaced (upper field first) if asked."""
    height, width = planes[0].shape
    frame = av.VideoFrame(width, height, pix_fmt)
    for target, source in zip(plane_arrays(frame), planes, strict=True):
        target[...] = source
    frame.colorspace, frame.color_range = 1, 1  # BT.709, limited range: the matrix any 1080i source carries
    frame.pts, frame.time_base = 0, Fraction(1, 25)
    if not interlaced:
        return frame
    marked = FieldMarker(width, height, pix_fmt, Fraction(1, 25), top_first=True).mark(frame)
    assert marked.interlaced_frame
    return marked


def _random_planes(pix_fmt: str, width: int = 32, height: int = 16, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    top = 1023 if pix_fmt.endswith("10le") else 255
    dtype = np.uint16 if top > 255 else np.uint8
    lo, hi = (64, 940) if top > 255 else (16, 235)
    return [rng.integers(lo, hi, (height, width)).astype(dtype),
            rng.integers(lo, hi, (height // 2, width // 2)).astype(dtype),
            rng.integers(lo, hi, (height // 2, width // 2)).astype(dtype)]


def _field_chroma_row(y: int) -> int:
    """The chroma row of luma row `y` in an interlaced 4:2:0 frame: its own field's."""
    return 2 * (y // 4) + y % 2


def test_only_an_interlaced_420_frame_whose_height_splits_into_fields_is_field_sited() -> None:
    assert frame_layout(_frame(_random_planes("yuv420p"), "yuv420p", interlaced=True)).fields
    assert frame_layout(_frame(_random_planes("yuv420p"), "yuv420p", interlaced=True)).grid_y == 4
    progressive = frame_layout(_frame(_random_planes("yuv420p"), "yuv420p", interlaced=False))
    assert not progressive.fields and progressive.grid_y == 2
    rng = np.random.default_rng(1)
    four22 = [rng.integers(16, 235, (16, 32)).astype(np.uint8), rng.integers(16, 235, (16, 16)).astype(np.uint8),
              rng.integers(16, 235, (16, 16)).astype(np.uint8)]
    assert not frame_layout(_frame(four22, "yuv422p", interlaced=True)).fields, "4:2:2 keeps every chroma row"
    odd = _random_planes("yuv420p", height=18)
    assert not frame_layout(_frame(odd, "yuv420p", interlaced=True)).fields, "18 rows do not split into 4:2:0 fields"


@pytest.mark.parametrize("pix_fmt", FORMATS)
def test_each_luma_row_is_read_with_its_own_fields_chroma(pix_fmt: str) -> None:
    planes = _random_planes(pix_fmt)
    frame = _frame(planes, pix_fmt, interlaced=True)
    matrix = color_matrix(frame)
    assert matrix is not None
    rows = [_field_chroma_row(y) for y in range(planes[0].shape[0])]
    cb = np.repeat(planes[1][rows].astype(np.float32), 2, axis=1)
    cr = np.repeat(planes[2][rows].astype(np.float32), 2, axis=1)
    wanted = matrix.codes_to_rgb(planes[0].astype(np.float32), cb, cr)
    got = read_rgb(frame)
    assert np.array_equal(got, wanted)
    # Any box reads as the same part of the whole, on the grid or off it (to the float32 rounding of the
    # conversion, whose SIMD lanes depend on the array's size).
    for box in [(2, 1, 30, 7), (0, 3, 16, 13), (6, 4, 10, 8), (1, 15, 31, 16)]:
        x0, y0, x1, y1 = box
        np.testing.assert_allclose(read_rgb(frame, box), got[y0:y1, x0:x1], rtol=0, atol=1e-6, err_msg=str(box))
    # The same planes read as a progressive frame pair luma rows 2k and 2k + 1 instead: not what a field holds.
    assert not np.array_equal(read_rgb(_frame(planes, pix_fmt, interlaced=False)), got)


@pytest.mark.parametrize("pix_fmt", FORMATS)
def test_a_change_reaches_only_the_chroma_of_the_field_it_was_made_in(pix_fmt: str) -> None:
    """The upper field's rows painted one colour and the lower field's another: each field's chroma rows take
    their own field's colour exactly, as when the whole box is painted that colour; read as progressive, every
    chroma row was a mix of both."""
    planes = _random_planes(pix_fmt)
    frame = _frame(planes, pix_fmt, interlaced=True)
    box = (4, 4, 28, 12)
    h, w = box[3] - box[1], box[2] - box[0]
    red, blue = np.array([0.8, 0.2, 0.25], np.float32), np.array([0.15, 0.3, 0.85], np.float32)
    fields = np.empty((h, w, 3), np.float32)
    fields[0::2], fields[1::2] = red, blue  # box rows start at frame row 4: even rows are the upper field's
    out, changed = write_rgb(frame, box, fields)
    all_red, _ = write_rgb(frame, box, np.broadcast_to(red, (h, w, 3)))
    all_blue, _ = write_rgb(frame, box, np.broadcast_to(blue, (h, w, 3)))
    got, reds, blues = plane_arrays(out), plane_arrays(all_red), plane_arrays(all_blue)
    cy0, cy1, cx0, cx1 = box[1] // 2, box[3] // 2, box[0] // 2, box[2] // 2
    for plane in (1, 2):
        inside = got[plane][cy0:cy1, cx0:cx1]
        assert np.array_equal(inside[0::2], reds[plane][cy0:cy1:2, cx0:cx1]), "the upper field's chroma is red's"
        assert np.array_equal(inside[1::2], blues[plane][cy0 + 1 : cy1 : 2, cx0:cx1]), "the lower field's is blue's"
    assert np.array_equal(got[0][box[1] : box[3], box[0] : box[2]][0::2],
                          plane_arrays(all_red)[0][box[1] : box[3] : 2, box[0] : box[2]])
    assert changed.all()
    # Outside the box, every sample of every plane is the source's.
    for index, (before, after) in enumerate(zip(planes, got, strict=True)):
        sy = 1 if index == 0 else 2
        keep = np.ones(before.shape, bool)
        keep[box[1] // sy : box[3] // sy, box[0] // sy : box[2] // sy] = False
        assert np.array_equal(before[keep], after[keep])
    # The same write on the planes taken as progressive mixes the fields in every chroma row.
    mixed = plane_arrays(write_rgb(_frame(planes, pix_fmt, interlaced=False), box, fields)[0])
    assert not np.array_equal(mixed[1][cy0:cy1, cx0:cx1], got[1][cy0:cy1, cx0:cx1])


@pytest.mark.parametrize("pix_fmt", FORMATS)
def test_writing_back_what_was_read_changes_nothing_and_boxes_keep_to_the_four_row_grid(pix_fmt: str) -> None:
    planes = _random_planes(pix_fmt)
    frame = _frame(planes, pix_fmt, interlaced=True)
    for box in [(0, 0, 32, 16), (2, 4, 30, 12), (6, 8, 14, 16)]:
        out, changed = write_rgb(frame, box, read_rgb(frame, box))
        assert not changed.any()
        assert all(np.array_equal(a, b) for a, b in zip(planes, plane_arrays(out), strict=True)), box
    assert align_box((2, 2, 10, 6), frame) == (2, 0, 10, 8), "grown to both fields' rows"
    with pytest.raises(UsageError, match="2x4 chroma grid"):
        write_rgb(frame, (2, 2, 10, 6), np.zeros((4, 8, 3), np.float32))


@pytest.mark.parametrize("pix_fmt", FORMATS)
def test_a_piece_of_an_interlaced_frame_reads_as_the_frame_does(pix_fmt: str) -> None:
    """An actor's mouth crops are read from pieces cut while the reference was tracked (`FramePiece`)."""
    frame = _frame(_random_planes(pix_fmt), pix_fmt, interlaced=True)
    piece = cut_piece(frame, (3, 2, 21, 11))
    assert piece.box == (2, 0, 22, 12) and piece.layout.fields
    for box in [(3, 2, 21, 11), (2, 0, 22, 12), (5, 5, 9, 6), (4, 1, 20, 3)]:
        assert np.array_equal(piece.read_rgb(box), read_rgb(frame, box)), box


def test_the_compositor_paints_an_interlaced_frame_field_by_field_from_a_mask_on_the_two_pixel_grid() -> None:
    """Mask boxes lie on a 2-px grid: on an interlaced frame the compositor grows one to the 4-row grid, with
    the source around the patch, and writes the patch field by field."""
    planes = _random_planes("yuv420p", width=64, height=32, seed=9)
    frame = _frame(planes, "yuv420p", interlaced=True)
    box = (10, 6, 42, 26)  # rows 6 and 26: on the 2-px grid, not on the 4-row one
    alpha = np.zeros((box[3] - box[1], box[2] - box[0]), np.float32)
    alpha[4:16, 6:26] = 1.0
    mask = Mask(box, alpha, frame_size=(64, 32))
    generated = np.broadcast_to(np.array([0.7, 0.25, 0.3], np.float32), alpha.shape + (3,))
    result = Compositor(blend="alpha", color_match=False).composite(frame, generated, mask)
    assert result.mask_box == (10, 4, 42, 28)
    got = plane_arrays(result.frame)
    grown = (10, 4, 42, 28)
    wanted_rgb = read_rgb(frame, grown)
    support = np.zeros(wanted_rgb.shape[:2], bool)
    # The mask's ones are frame rows 10-21, columns 16-35; the compositor keeps an interlaced frame's edits
    # a row further in (`compositor._field_guard`): rows 11-20.
    support[7:17, 6:26] = True
    wanted_rgb[support] = generated[0, 0]
    painted = plane_arrays(write_rgb(frame, grown, wanted_rgb, support)[0])
    for plane in range(3):
        assert np.array_equal(got[plane], painted[plane]), f"plane {plane}: as if the patch alone were written"


def _inside(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bool (height, width): the pixels a convex polygon covers, as `Mask.within` rasterises it."""
    import cv2

    w, h = size
    canvas = np.zeros((h, w), np.uint8)
    cv2.fillPoly(canvas, [np.round((polygon - 0.5) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


@pytest.mark.parametrize("angle", [0.0, 12.0, 27.0, 45.0, 61.0, 78.0])
def test_a_mask_bounded_by_a_region_changes_no_pixel_outside_it_on_an_interlaced_frame(angle: float) -> None:
    """A field-sited chroma sample covers rows two apart, so an edited pixel's chroma reaches a pixel up to
    (1, 2) away: past the 2-px guard (`masks.EDIT_GUARD_PX`) on a slanted edge. The compositor keeps such a
    frame's edits one row further in, so not one decoded pixel outside the region changes, as on a
    progressive frame."""
    size = (96, 64)
    planes = _random_planes("yuv420p", width=size[0], height=size[1], seed=int(angle))
    frame = _frame(planes, "yuv420p", interlaced=True)
    theta = np.deg2rad(angle)
    corners = np.array([[-26.0, -17.0], [26.0, -17.0], [26.0, 17.0], [-26.0, 17.0]])
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    polygon = corners @ rotation.T + [48.3, 31.7]
    mask = Mask((0, 0) + size, np.ones(size[::-1], np.float32), frame_size=size).within(polygon)
    generated = np.broadcast_to(np.array([0.95, 0.05, 0.9], np.float32), mask.alpha.shape + (3,))
    result = Compositor(blend="alpha", color_match=False).composite(frame, generated, mask)
    assert result.changed_support is not None and result.changed_pixels > 500
    changed = np.zeros(size[::-1], bool)
    x0, y0, x1, y1 = result.mask_box
    changed[y0:y1, x0:x1] = result.changed_support
    outside = changed & ~_inside(polygon, size)
    assert not outside.any(), f"{int(outside.sum())} pixels outside the region changed"
