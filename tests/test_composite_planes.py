"""Pixel-format-aware box access: exact round trips, colour matrices, and writes that stay inside the support."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import media_path
from mytalk.core.composite.planes import (
    SUPPORTED_FORMATS,
    align_box,
    color_matrix,
    copy_frame,
    pixel_layout,
    plane_arrays,
    read_rgb,
    write_rgb,
    write_rgb_delta,
)
from mytalk.core.errors import MediaFormatError, MyTalkError, UsageError

REQUIRED_FORMATS = (
    "yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le", "rgb24", "bgr24", "gbrp",
)


def noise_frame(fmt: str, width: int, height: int, seed: int = 0) -> av.VideoFrame:
    """A frame of uniform noise over each plane's legal code range, with timing and colour tags set."""
    rng = np.random.default_rng(seed)
    frame = av.VideoFrame(width, height, fmt)
    layout = pixel_layout(fmt)
    for plane in plane_arrays(frame):
        plane[...] = rng.integers(0, layout.max_code + 1, plane.shape, dtype=plane.dtype.newbyteorder("="))
    frame.pts = 1234
    frame.time_base = Fraction(1, 24000)
    return frame


def planes_equal(a: av.VideoFrame, b: av.VideoFrame) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(plane_arrays(a), plane_arrays(b), strict=True))


def changed_map(a: av.VideoFrame, b: av.VideoFrame) -> np.ndarray:
    """Bool (h, w) at luma resolution: True where any plane's sample covering the pixel differs."""
    h, w = a.height, a.width
    out = np.zeros((h, w), bool)
    for x, y in zip(plane_arrays(a), plane_arrays(b), strict=True):
        diff = (x != y).any(axis=-1) if x.ndim == 3 else x != y
        sy, sx = -(-h // diff.shape[0]), -(-w // diff.shape[1])
        out |= diff.repeat(sy, 0).repeat(sx, 1)[:h, :w]
    return out


def test_required_formats_are_supported() -> None:
    assert set(REQUIRED_FORMATS) <= set(SUPPORTED_FORMATS)


@pytest.mark.parametrize("fmt", sorted(SUPPORTED_FORMATS))
@pytest.mark.parametrize("size", [(64, 48), (67, 41)])  # odd sizes: ragged chroma and padded lines
def test_untouched_round_trip_is_byte_identical(fmt: str, size: tuple[int, int]) -> None:
    frame = noise_frame(fmt, *size)
    for box in [(0, 0, *size), (4, 6, 40, 30), (3, 5, 38, 29), (size[0] - 9, size[1] - 7, size[0], size[1])]:
        box = align_box(box, frame)
        out, changed = write_rgb(frame, box, read_rgb(frame, box))
        assert planes_equal(frame, out), (fmt, box)
        assert not changed.any()
        assert out.format.name == fmt and (out.width, out.height) == size


@pytest.mark.media
@pytest.mark.parametrize("fmt", sorted(SUPPORTED_FORMATS))
def test_round_trip_of_real_frame(fmt: str) -> None:
    path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    if fmt != frame.format.name:
        frame = frame.reformat(format=fmt)
    box = (180, 320, 356, 446)
    out, changed = write_rgb(frame, box, read_rgb(frame, box))
    assert planes_equal(frame, out) and not changed.any()


def test_copy_keeps_timing_and_colour_tags_and_skips_line_padding() -> None:
    frame = noise_frame("yuv420p10le", 67, 41)
    frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc = 1, 1, 1, 1
    assert frame.planes[0].line_size > 67 * 2  # the padding really is there
    out = copy_frame(frame)
    assert out is not frame and planes_equal(frame, out)
    assert (out.pts, out.time_base) == (1234, Fraction(1, 24000))
    assert (out.colorspace, out.color_range, out.color_primaries, out.color_trc) == (1, 1, 1, 1)
    assert [p.shape for p in plane_arrays(out)] == [(41, 67), (21, 34), (21, 34)]


@pytest.mark.parametrize("fmt", ["nv12", "x2rgb10le", "yuv410p", "ya8"])
def test_unsupported_format_names_itself(fmt: str) -> None:
    frame = av.VideoFrame(32, 32, fmt)
    with pytest.raises(MediaFormatError, match=fmt) as info:
        read_rgb(frame, (0, 0, 8, 8))
    assert isinstance(info.value, MyTalkError)


def test_color_matrix_from_tags_and_size() -> None:
    sd = noise_frame("yuv420p", 640, 480)
    assert color_matrix(sd).name == "bt601" and not color_matrix(sd).full_range  # type: ignore[union-attr]
    hd = noise_frame("yuv420p", 1280, 720)
    assert color_matrix(hd).name == "bt709"  # type: ignore[union-attr]
    vertical = noise_frame("yuv420p", 1080, 1920)
    assert color_matrix(vertical).name == "bt709"  # type: ignore[union-attr]
    sd.colorspace = 1  # tagged BT.709 wins over the size guess
    assert color_matrix(sd).name == "bt709"  # type: ignore[union-attr]
    hd.colorspace = 9
    assert color_matrix(hd).name == "bt2020"  # type: ignore[union-attr]
    hd.color_range = 2
    assert color_matrix(hd).full_range  # type: ignore[union-attr]
    assert color_matrix(noise_frame("yuvj420p", 64, 64)).full_range  # type: ignore[union-attr]
    assert color_matrix(noise_frame("rgb24", 64, 64)) is None
    ten = color_matrix(noise_frame("yuv422p10le", 64, 64))
    assert ten is not None and (ten.y_offset, ten.y_scale, ten.c_offset, ten.c_scale) == (64, 876, 512, 896)


@pytest.mark.parametrize(
    ("fmt", "white", "black", "mid_chroma"),
    [("yuv420p", 235, 16, 128), ("yuvj420p", 255, 0, 128), ("yuv422p10le", 940, 64, 512), ("yuv444p10le", 940, 64, 512)],
)
def test_write_known_colours(fmt: str, white: int, black: int, mid_chroma: int) -> None:
    frame = noise_frame(fmt, 32, 16)
    rgb = np.zeros((16, 32, 3), np.float32)
    rgb[:, 16:] = 1.0
    out, _ = write_rgb(frame, (0, 0, 32, 16), rgb)
    y, cb, cr = plane_arrays(out)
    assert np.all(y[:, :16] == black) and np.all(y[:, 16:] == white)
    assert np.all(cb == mid_chroma) and np.all(cr == mid_chroma)


@pytest.mark.parametrize(("fmt", "white"), [("gray", 255), ("gray10le", 1023), ("gray16le", 65535)])
def test_gray_frames_are_full_range_luma_and_take_the_luma_of_a_change(fmt: str, white: int) -> None:
    """A black-and-white clip: read as R = G = B at full range (as swscale reads gray, so a ProRes render and
    a player see the levels written), and a coloured change is written as its luma."""
    frame = noise_frame(fmt, 32, 16)
    rgb = np.zeros((16, 32, 3), np.float32)
    rgb[:, 16:] = 1.0
    out, changed = write_rgb(frame, (0, 0, 32, 16), rgb)
    (y,) = plane_arrays(out)
    assert np.all(y[:, :16] == 0) and np.all(y[:, 16:] == white)
    assert np.array_equal(changed, y != plane_arrays(frame)[0])
    back = read_rgb(out, (0, 0, 32, 16))
    assert np.allclose(back, rgb) and np.array_equal(back[..., 0], back[..., 2])
    matrix = color_matrix(out)
    assert matrix is not None and matrix.full_range and matrix.name == "bt601"
    red = np.zeros((16, 32, 3), np.float32)
    red[..., 0] = 1.0
    support = np.zeros((16, 32), bool)
    support[4:8, 4:8] = True
    painted, changed = write_rgb(out, (0, 0, 32, 16), red, support)
    (y,) = plane_arrays(painted)
    assert np.all(y[4:8, 4:8] == round(0.299 * white)) and np.array_equal(changed, support)
    untouched = ~support
    assert np.array_equal(y[untouched], plane_arrays(out)[0][untouched])
    if fmt == "gray":
        swscale = av.VideoFrame.from_ndarray(plane_arrays(painted)[0].copy(), format="gray").to_ndarray(format="rgb24")
        assert np.abs(swscale.astype(np.float32) / 255 - read_rgb(painted)).max() < 1 / 255 + 1e-6


@pytest.mark.parametrize("fmt", ["rgb48be", "rgb48le", "bgr48be", "rgba64be", "rgba64le", "bgra64le", "gray16be"])
def test_sixteen_bit_samples_are_written_in_their_byte_order(fmt: str) -> None:
    """16-bit PNG in QuickTime decodes high byte first (rgb48be, rgba64be), TIFF and DPX low byte first: what
    is written reads back through FFmpeg as the colour written, and an alpha sample is kept."""
    frame = noise_frame(fmt, 24, 8)
    rng = np.random.default_rng(5)
    rgb = rng.random((8, 24, 3), dtype=np.float32)
    if fmt.startswith("gray"):
        rgb[...] = rgb[..., :1]
    out, _ = write_rgb(frame, (0, 0, 24, 8), rgb)
    seen = out.to_ndarray(format="gray16le" if fmt.startswith("gray") else "rgb48le").astype(np.float32) / 65535
    assert np.abs(seen.reshape(8, 24, -1) - rgb[..., : seen.reshape(8, 24, -1).shape[-1]]).max() < 1.5 / 65535
    if pixel_layout(fmt).pixel_bytes == 4:
        assert np.array_equal(plane_arrays(out)[0][..., 3], plane_arrays(frame)[0][..., 3])


def test_read_matches_ffmpeg_conversion() -> None:
    """Our box conversion agrees with swscale's on a BT.601 4:4:4 frame (no chroma interpolation involved)."""
    rng = np.random.default_rng(1)
    rgb8 = rng.integers(16, 240, (48, 64, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb8, format="rgb24").reformat(format="yuv444p", dst_colorspace=5)
    frame.colorspace = 5
    ours = read_rgb(frame, clip=True) * 255
    theirs = frame.to_ndarray(format="rgb24").astype(np.float32)
    assert np.abs(ours - theirs).mean() < 1.0
    assert np.abs(ours - rgb8).mean() < 2.0


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p", "yuv420p10le", "yuv422p10le", "yuv444p", "rgb24", "bgr24", "gbrp"])
def test_delta_write_changes_only_the_support(fmt: str) -> None:
    frame = noise_frame(fmt, 67, 41, seed=5)
    rng = np.random.default_rng(9)
    box = align_box((7, 3, 57, 38), frame)  # grown to the chroma grid where the format has one
    h, w = box[3] - box[1], box[2] - box[0]
    support = rng.random((h, w)) < 0.2
    delta = rng.normal(0, 0.3, (h, w, 3)).astype(np.float32)
    delta[~support] = 0.0
    out, changed = write_rgb_delta(frame, box, delta, support)
    truth = changed_map(frame, out)
    x0, y0, x1, y1 = box
    assert not truth[:, :x0].any() and not truth[:, x1:].any() and not truth[:y0].any() and not truth[y1:].any()
    assert np.array_equal(truth[y0:y1, x0:x1], changed)  # the reported support is exact
    # Allowed: the support dilated to the chroma grid (a chroma sample covering a support pixel).
    layout = pixel_layout(fmt)
    full_support = np.zeros((41, 67), bool)
    full_support[y0:y1, x0:x1] = support
    sx, sy = layout.sub_x, layout.sub_y
    cw, ch = -(-67 // sx), -(-41 // sy)
    grid = np.zeros((ch * sy, cw * sx), bool)
    grid[:41, :67] = full_support
    dilated = grid.reshape(ch, sy, cw, sx).any(axis=(1, 3)).repeat(sy, 0).repeat(sx, 1)[:41, :67]
    assert not (truth & ~dilated).any()
    # Luma (or RGB) changes only on the support itself.
    first = plane_arrays(frame)[0] != plane_arrays(out)[0]
    if first.ndim == 3:
        first = first.any(axis=-1)
    assert not (first & ~full_support).any()
    assert changed.sum() > 0.5 * support.sum()


def test_write_validates_shapes_and_box() -> None:
    frame = noise_frame("yuv420p", 64, 48)
    with pytest.raises(UsageError):
        write_rgb_delta(frame, (0, 0, 10, 10), np.zeros((10, 9, 3)), np.ones((10, 10), bool))
    with pytest.raises(UsageError):
        write_rgb(frame, (0, 0, 65, 10), np.zeros((10, 65, 3)))
    with pytest.raises(UsageError):
        read_rgb(frame, (10, 10, 5, 20))
    with pytest.raises(UsageError, match="chroma grid"):  # a 4:2:0 chroma sample would straddle the edge
        write_rgb(frame, (3, 2, 11, 10), np.zeros((8, 8, 3)))
    assert align_box((3, 2, 11, 10), frame) == (2, 2, 12, 10)
    write_rgb(noise_frame("yuv444p", 64, 48), (3, 2, 11, 10), np.zeros((8, 8, 3)))  # no grid to respect


def test_source_frame_is_never_modified() -> None:
    frame = noise_frame("yuv422p10le", 64, 48)
    before = [p.copy() for p in plane_arrays(frame)]
    write_rgb(frame, (8, 8, 40, 40), np.ones((32, 32, 3), np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(before, plane_arrays(frame), strict=True))


@pytest.mark.parametrize("fmt", ["yuva420p", "yuva422p10le", "yuva444p12le", "gbrap", "gbrap12le", "rgba", "argb",
                                 "bgra", "abgr"])
def test_a_matte_is_copied_never_painted(fmt: str) -> None:
    """A keyed clip's alpha (plane 3 of yuva* and gbrap*, the fourth byte of packed RGBA) comes through a
    paint byte for byte, even under the box."""
    frame = noise_frame(fmt, 64, 48, seed=3)
    layout = pixel_layout(fmt)
    box = align_box((8, 8, 40, 32), frame)
    h, w = box[3] - box[1], box[2] - box[0]
    out, changed = write_rgb(frame, box, np.full((h, w, 3), 0.5, np.float32))

    def matte(f: av.VideoFrame) -> np.ndarray:
        planes = plane_arrays(f)
        if layout.family == "packed_rgb":
            (alpha,) = set(range(4)) - set(layout.channels)
            return planes[0][..., alpha]
        assert len(planes) == 4
        return planes[3]

    assert matte(frame).shape == (48, 64)
    assert np.array_equal(matte(frame), matte(out))
    assert changed.any() and not planes_equal(frame, out)  # the colour really was painted
    assert np.allclose(read_rgb(out, box), 0.5, atol=1.5 / layout.max_code)
