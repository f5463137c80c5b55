"""Pixel-format-aware access to a decoded `av.VideoFrame`, one box at a time.

The preserve protocol wants every sample outside the mouth mask bit-identical to the decoded source. A frame
taken to RGB and back to 4:2:0 already fails that (chroma is resampled, values are re-rounded), so nothing
here converts a whole frame: the source planes are copied byte for byte, and only the samples under the mask
support are rewritten, in the source's own format and bit depth.

Writing goes through a *residual*: the caller hands an RGB difference ``delta = new_rgb - read_rgb(box)``;
it is taken to the source's code values with the frame's own matrix (a linear map, so no offsets are
involved), chroma deltas are averaged over each chroma sample's luma footprint, and the result is added to
the source's own integer samples. Where the delta is zero the sample is the source sample, exactly; where it
is tiny, it rounds back to the source sample. Chroma is read by nearest-neighbour replication over the
footprint, so averaging the replicated chroma of an untouched box gives back each chroma sample exactly, and
writing an RGB image through `write_rgb` equals converting it directly.

Boxes are ``(x0, y0, x1, y1)`` in luma pixels, end exclusive. RGB arrays are float32 ``(h, w, 3)`` in
nominal [0, 1] (R, G, B order); reads are not clipped unless asked, so footroom/headroom survives a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import av
import cv2
import numpy as np

from mytalk.core.errors import MediaFormatError, UsageError
from mytalk.core.media.decoded_fields import first_field_row

Box = tuple[int, int, int, int]
Family = Literal["yuv", "gray", "packed_rgb", "planar_gbr"]

# AVColorSpace values (libavutil/pixfmt.h) -> (Kr, Kb) of the Y'CbCr matrix.
_MATRIX_BY_COLORSPACE: dict[int, tuple[str, float, float]] = {
    1: ("bt709", 0.2126, 0.0722),
    4: ("fcc", 0.30, 0.11),
    5: ("bt601", 0.299, 0.114),  # BT470BG
    6: ("bt601", 0.299, 0.114),  # SMPTE170M
    7: ("smpte240m", 0.212, 0.087),
    9: ("bt2020", 0.2627, 0.0593),  # BT2020_NCL
    10: ("bt2020", 0.2627, 0.0593),  # BT2020_CL, approximated by the non-constant-luminance matrix
}
_BT601 = ("bt601", 0.299, 0.114)
_BT709 = ("bt709", 0.2126, 0.0722)
_COLORSPACE_UNSPECIFIED = 2
_RANGE_JPEG = 2  # AVCOL_RANGE_JPEG: full ("pc") range


@dataclass(frozen=True)
class PixelLayout:
    """How one supported pixel format stores its samples.

    `sub_x`/`sub_y` are the chroma subsampling factors (2, 2 for 4:2:0). `channels` maps R, G, B (or Y, Cb,
    Cr) to a plane index for planar formats, or to a byte position within a pixel for packed ones. A "gray"
    format (a black-and-white scan, a monochrome H.264) holds luma only, in one plane: read as R = G = B, and
    written as the luma of the change.
    """

    name: str
    family: Family
    bits: int
    sub_x: int = 1
    sub_y: int = 1
    full_range: bool | None = None  # True for the yuvj* and gray formats, which are full range by definition
    channels: tuple[int, int, int] = (0, 1, 2)
    planes: int = 3
    """Planes a frame holds: 4 for the yuva* and gbrap* formats, whose plane 3 (alpha, full size) is copied,
    never painted: a keyed actor's matte stays exactly as shot under the new mouth."""
    pixel_bytes: int = 3
    """Packed formats: samples per pixel (4 with alpha; the alpha sample, not named in `channels`, is kept)."""
    big_endian: bool = False
    """Samples over 8 bits stored high byte first (PNG's 16-bit formats, FFmpeg's *be names)."""
    fields: bool = False
    """The chroma rows alternate between the picture's two fields (`frame_layout`): an interlaced 4:2:0
    frame, whose chroma row 2k belongs to the upper field and covers luma rows 4k and 4k + 2, and row 2k + 1
    to the lower field, covering rows 4k + 1 and 4k + 3. Its chroma grid is then 4 rows high."""

    @property
    def grid_y(self) -> int:
        """Rows of the chroma grid: a box on it holds every chroma sample it meets whole."""
        return 2 * self.sub_y if self.fields else self.sub_y

    @property
    def dtype(self) -> np.dtype:
        if self.bits <= 8:
            return np.dtype(np.uint8)
        return np.dtype(">u2" if self.big_endian else "<u2")

    @property
    def max_code(self) -> int:
        return (1 << self.bits) - 1


def _layouts() -> dict[str, PixelLayout]:
    table: dict[str, PixelLayout] = {}
    table["yuv411p"] = PixelLayout("yuv411p", "yuv", 8, 4, 1)  # DV NTSC and DVCPRO 25: a chroma sample per 4 pixels
    for sub, (sx, sy) in {"420": (2, 2), "422": (2, 1), "444": (1, 1)}.items():
        table[f"yuv{sub}p"] = PixelLayout(f"yuv{sub}p", "yuv", 8, sx, sy)
        table[f"yuvj{sub}p"] = PixelLayout(f"yuvj{sub}p", "yuv", 8, sx, sy, full_range=True)
        table[f"yuva{sub}p"] = PixelLayout(f"yuva{sub}p", "yuv", 8, sx, sy, planes=4)
        for bits in (10, 12, 16):
            name = f"yuv{sub}p{bits}le"
            table[name] = PixelLayout(name, "yuv", bits, sx, sy)
            if (sub, bits) != ("420", 12):  # FFmpeg has no yuva420p12le
                table[f"yuva{sub}p{bits}le"] = PixelLayout(f"yuva{sub}p{bits}le", "yuv", bits, sx, sy, planes=4)
    # Gray is full range, as FFmpeg's swscale takes it whatever its tag: a render to ProRes, the tracker's
    # pictures and a player all read the same levels the compositor writes.
    table["gray"] = PixelLayout("gray", "gray", 8, full_range=True, channels=(0, 0, 0), planes=1)
    for bits in (10, 12, 16):
        table[f"gray{bits}le"] = PixelLayout(f"gray{bits}le", "gray", bits, full_range=True, channels=(0, 0, 0),
                                             planes=1)
    table["gray16be"] = PixelLayout("gray16be", "gray", 16, full_range=True, channels=(0, 0, 0), planes=1,
                                    big_endian=True)  # 16-bit gray PNG
    table["rgb24"] = PixelLayout("rgb24", "packed_rgb", 8, channels=(0, 1, 2))
    table["bgr24"] = PixelLayout("bgr24", "packed_rgb", 8, channels=(2, 1, 0))
    # 16 bits a sample (PNG in QuickTime writes them high byte first, TIFF and DPX low byte first).
    for order, channels in {"rgb": (0, 1, 2), "bgr": (2, 1, 0)}.items():
        for endian in ("le", "be"):
            name = f"{order}48{endian}"
            table[name] = PixelLayout(name, "packed_rgb", 16, channels=channels, big_endian=endian == "be")
            name = f"{order}a64{endian}"
            table[name] = PixelLayout(name, "packed_rgb", 16, channels=channels, pixel_bytes=4,
                                      big_endian=endian == "be")
    # With alpha (QuickTime Animation decodes to argb, PNG to rgba): where R, G, B sit in the 4 bytes.
    for name, channels in {"rgba": (0, 1, 2), "bgra": (2, 1, 0), "argb": (1, 2, 3), "abgr": (3, 2, 1)}.items():
        table[name] = PixelLayout(name, "packed_rgb", 8, channels=channels, pixel_bytes=4)
    # gbrp stores G, B, R in planes 0, 1, 2 (and alpha in plane 3 for gbrap).
    table["gbrp"] = PixelLayout("gbrp", "planar_gbr", 8, channels=(2, 0, 1))
    table["gbrap"] = PixelLayout("gbrap", "planar_gbr", 8, channels=(2, 0, 1), planes=4)
    for bits in (10, 12, 16):  # 16: what FFV1 stores a 16-bit RGB(A) clip as, so its render can be fixed again
        table[f"gbrp{bits}le"] = PixelLayout(f"gbrp{bits}le", "planar_gbr", bits, channels=(2, 0, 1))
        table[f"gbrap{bits}le"] = PixelLayout(f"gbrap{bits}le", "planar_gbr", bits, channels=(2, 0, 1), planes=4)
    return table


SUPPORTED_FORMATS: dict[str, PixelLayout] = _layouts()
"""Every pixel format the compositor writes natively, by FFmpeg name."""


def frame_layout(frame: av.VideoFrame) -> PixelLayout:
    """The layout of `frame`'s pixel format, field-sited (`PixelLayout.fields`) when the decoder flags it
    interlaced and its chroma rows are halved (4:2:0), at a height that splits into two 4:2:0 fields (a
    multiple of 4; any other height is taken as a frame, as `media.field_chroma` does).

    In HDV, AVCHD, XDCAM EX, DV PAL and broadcast H.264 at 1080i each field is subsampled on its own, 1/50 s
    apart from the other. Read and written as progressive, a chroma sample took its colour from both fields:
    a new mouth moving between the fields left a share of each field's lip colour in the other's rows."""
    layout = pixel_layout(frame.format.name)
    if layout.family == "yuv" and layout.sub_y == 2 and frame.interlaced_frame and frame.height % 4 == 0:
        return replace(layout, fields=True)
    return layout


def _field_rows(a: np.ndarray) -> np.ndarray:
    """`a`'s rows, whose first is a multiple of 4 in its frame and whose count is one too, with the 2nd and
    3rd of every 4 swapped (its own inverse): a field-sited chroma sample's footprint, luma rows 4k and
    4k + 2 or 4k + 1 and 4k + 3, is then two adjacent rows, as a progressive sample's is."""
    order = np.arange(a.shape[0]).reshape(-1, 4)[:, [0, 2, 1, 3]].ravel()
    return a[order]


def pixel_layout(pix_fmt: str) -> PixelLayout:
    """The layout of `pix_fmt`, or a `MediaFormatError` naming it and the supported formats."""
    try:
        return SUPPORTED_FORMATS[pix_fmt]
    except KeyError:
        raise MediaFormatError(
            f"pixel format {pix_fmt!r} is not supported by the compositor; convert the clip to one of "
            f"{', '.join(sorted(SUPPORTED_FORMATS))} (for example yuv420p or yuv422p10le) and try again"
        ) from None


@dataclass(frozen=True)
class ColorMatrix:
    """Y'CbCr <-> R'G'B' for one frame: matrix coefficients plus code-value range at the frame's bit depth.

    Code values: ``Y = y_offset + y_scale * Y'`` and ``C = c_offset + c_scale * C'`` with Y' in [0, 1] and
    C' in [-0.5, 0.5]. Limited range at n bits is 16..235 / 16..240 scaled by 2**(n-8); full range spans
    0..2**n-1 around a chroma midpoint of 2**(n-1).
    """

    name: str
    kr: float
    kb: float
    full_range: bool
    bits: int

    @property
    def kg(self) -> float:
        return 1.0 - self.kr - self.kb

    @property
    def y_offset(self) -> float:
        return 0.0 if self.full_range else float(16 << (self.bits - 8))

    @property
    def y_scale(self) -> float:
        return float((1 << self.bits) - 1) if self.full_range else float(219 << (self.bits - 8))

    @property
    def c_offset(self) -> float:
        return float(1 << (self.bits - 1))

    @property
    def c_scale(self) -> float:
        return float((1 << self.bits) - 1) if self.full_range else float(224 << (self.bits - 8))

    def rgb_to_ycc(self) -> np.ndarray:
        """(3, 3) matrix taking R'G'B' column vectors to (Y', Cb', Cr')."""
        kr, kg, kb = self.kr, self.kg, self.kb
        return np.array(
            [
                [kr, kg, kb],
                [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
                [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
            ],
            dtype=np.float64,
        )

    def rgb_to_codes(self) -> np.ndarray:
        """(3, 3) matrix taking an R'G'B' *difference* to a (Y, Cb, Cr) code-value difference."""
        scale = np.array([self.y_scale, self.c_scale, self.c_scale])[:, None]
        return self.rgb_to_ycc() * scale

    def codes_to_rgb(self, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
        """Float32 (h, w, 3) R'G'B' from float32 code-value planes of equal shape (chroma already upsampled)."""
        ycc = cv2.merge([np.asarray(c, dtype=np.float32) for c in (y, cb, cr)])
        return np.asarray(cv2.transform(ycc, self.codes_to_rgb_affine()), dtype=np.float32).reshape(ycc.shape)

    def codes_to_rgb_affine(self) -> np.ndarray:
        """(3, 4) float32 affine map from (Y, Cb, Cr) code values to R'G'B': the inverse of `rgb_to_codes`."""
        to_rgb = np.linalg.inv(self.rgb_to_codes())
        offset = -to_rgb @ np.array([self.y_offset, self.c_offset, self.c_offset])
        return np.hstack([to_rgb, offset[:, None]]).astype(np.float32)


def color_matrix(frame: av.VideoFrame) -> ColorMatrix | None:
    """The frame's Y'CbCr matrix from its tags; None for RGB formats. A gray frame gets one too: its luma
    weights (what a change's R, G and B count for) and its code range, full (`PixelLayout.full_range`).

    Untagged frames follow the usual player convention: BT.601 for SD, BT.709 from 720 lines or 1280
    columns up (so 1080x1920 vertical video is BT.709). Note that FFmpeg's swscale (and so
    `VideoFrame.to_ndarray`) assumes BT.601 for every untagged frame: feed a generator with `read_rgb`
    rather than `to_ndarray` so that what it sees and what is written back agree.
    """
    layout = pixel_layout(frame.format.name)
    if layout.family not in ("yuv", "gray"):
        return None
    tagged = _MATRIX_BY_COLORSPACE.get(int(frame.colorspace or _COLORSPACE_UNSPECIFIED))
    if tagged is None:
        tagged = _BT709 if (frame.height >= 720 or frame.width >= 1280) else _BT601
    if layout.full_range is not None:
        full = layout.full_range
    else:
        full = int(frame.color_range or 0) == _RANGE_JPEG
    name, kr, kb = tagged
    return ColorMatrix(name, kr, kb, full, layout.bits)


def _plane_array(frame: av.VideoFrame, index: int, layout: PixelLayout, samples_per_pixel: int = 1) -> np.ndarray:
    """A (height, width * samples_per_pixel) view of one plane, skipping the line padding.

    The view shares memory with the frame (writable when the frame's buffer is); `line_size` is in bytes
    and often exceeds ``width * bytes_per_sample`` because FFmpeg pads rows for SIMD.
    """
    plane = frame.planes[index]
    itemsize = layout.dtype.itemsize
    if plane.line_size % itemsize:
        raise MediaFormatError(f"plane {index} of a {layout.name} frame has an odd line size {plane.line_size}")
    flat = np.frombuffer(memoryview(plane), dtype=layout.dtype)  # type: ignore[arg-type]
    rows = flat[: plane.height * (plane.line_size // itemsize)].reshape(plane.height, plane.line_size // itemsize)
    return rows[:, : plane.width * samples_per_pixel]


def plane_arrays(frame: av.VideoFrame) -> list[np.ndarray]:
    """Views of every plane without padding: (h, w) for planar formats, (h, w, 3) for packed RGB.

    Plane order is the frame's own (Y, Cb, Cr, then A for yuva*; G, B, R for gbrp). Chroma planes of subsampled formats are
    ``(ceil(h / sub_y), ceil(w / sub_x))``.
    """
    layout = pixel_layout(frame.format.name)
    if layout.family == "packed_rgb":
        arr = _plane_array(frame, 0, layout, layout.pixel_bytes)
        return [arr.reshape(arr.shape[0], -1, layout.pixel_bytes)]
    return [_plane_array(frame, i, layout) for i in range(layout.planes)]


def copy_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """A new frame with the same format, size, samples (byte-identical), timing and colour tags."""
    layout = pixel_layout(frame.format.name)
    out = av.VideoFrame(frame.width, frame.height, layout.name)
    for src, dst in zip(plane_arrays(frame), plane_arrays(out), strict=True):
        dst[...] = src
    copy_frame_attributes(frame, out)
    return out


def copy_frame_attributes(src: av.VideoFrame, dst: av.VideoFrame) -> None:
    """Copy timing (pts, time_base, duration) and colour tags so an encoder treats `dst` like `src`."""
    dst.pts = src.pts
    if src.time_base is not None:
        dst.time_base = src.time_base
    for name in ("duration", "colorspace", "color_range", "color_primaries", "color_trc", "pict_type"):
        try:
            setattr(dst, name, getattr(src, name))
        except (AttributeError, TypeError, ValueError):  # older PyAV lacks some setters: tags are best effort
            pass


def check_box(box: Box, frame_size: tuple[int, int]) -> Box:
    """Validate a (x0, y0, x1, y1) box against (width, height); returns it as plain ints."""
    x0, y0, x1, y1 = (int(v) for v in box)
    w, h = frame_size
    if not (0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h):
        raise UsageError(f"box {box} does not lie inside the {w}x{h} frame")
    return x0, y0, x1, y1


def is_chroma_aligned(box: Box, layout: PixelLayout, frame_size: tuple[int, int]) -> bool:
    """Whether every chroma sample whose footprint meets `box` has its whole footprint inside it (`layout`:
    the frame's own, `frame_layout`)."""
    x0, y0, x1, y1 = box
    w, h = frame_size
    gy = layout.grid_y
    return (
        x0 % layout.sub_x == 0 and y0 % gy == 0
        and (x1 % layout.sub_x == 0 or x1 == w) and (y1 % gy == 0 or y1 == h)
    )


def align_box(box: Box, frame: av.VideoFrame) -> Box:
    """`box` grown outwards to the frame's chroma grid (unchanged for 4:4:4 and RGB; 4 rows for a field-sited
    frame), clipped to the frame."""
    layout = frame_layout(frame)
    x0, y0, x1, y1 = check_box(box, (frame.width, frame.height))
    sx, sy = layout.sub_x, layout.grid_y
    return (
        x0 - x0 % sx, y0 - y0 % sy,
        min(-(-x1 // sx) * sx, frame.width), min(-(-y1 // sy) * sy, frame.height),
    )


def _chroma_box(box: Box, layout: PixelLayout, chroma_shape: tuple[int, int]) -> Box:
    """The chroma samples whose luma footprint meets `box` (end exclusive, chroma coordinates); for a
    field-sited layout, those of the box grown to its 4-row grid (both fields' rows)."""
    x0, y0, x1, y1 = box
    ch, cw = chroma_shape
    gy = layout.grid_y
    return (
        x0 // layout.sub_x,
        (y0 - y0 % gy) // layout.sub_y,
        min(-(-x1 // layout.sub_x), cw),
        min(-(-y1 // gy) * gy // layout.sub_y, ch),
    )


def _upsample_chroma(c: np.ndarray, box: Box, cbox: Box, layout: PixelLayout) -> np.ndarray:
    """Nearest-neighbour chroma over the luma box: each sample replicated over its footprint.

    Replication (rather than interpolation) is what makes the residual write exact: the footprint mean of
    replicated chroma is the chroma sample itself. A field-sited sample (`PixelLayout.fields`) is replicated
    over its own field's rows.
    """
    up = np.repeat(np.repeat(c, layout.sub_y, axis=0), layout.sub_x, axis=1)
    if layout.fields:
        up = _field_rows(up)
    ox, oy = box[0] - cbox[0] * layout.sub_x, box[1] - cbox[1] * layout.sub_y
    return up[oy : oy + box[3] - box[1], ox : ox + box[2] - box[0]]


def read_rgb(frame: av.VideoFrame, box: Box | None = None, clip: bool = False) -> np.ndarray:
    """The box of `frame` as float32 (h, w, 3) R'G'B', nominal range [0, 1], converted on the box only.

    Y'CbCr frames use `color_matrix(frame)`; chroma is replicated over each sample's footprint. With
    ``clip=False`` super-white and sub-black survive, so ``write_rgb(frame, box, read_rgb(frame, box))`` is
    an exact no-op. `box` None reads the whole frame.
    """
    layout = frame_layout(frame)
    box = check_box(box or (0, 0, frame.width, frame.height), (frame.width, frame.height))
    return _rgb_of_planes(layout, color_matrix(frame), plane_arrays(frame), box, clip)


def _rgb_of_planes(layout: PixelLayout, matrix: ColorMatrix | None, planes: list[np.ndarray], box: Box,
                   clip: bool) -> np.ndarray:
    """`read_rgb` of `box` in `planes`, whose (0, 0) is on the chroma grid (`PixelLayout.grid_y`): a whole
    frame's, or a `FramePiece`'s, which then reads exactly as its frame does."""
    x0, y0, x1, y1 = box
    scale = np.float32(1.0 / layout.max_code)
    if layout.family == "packed_rgb":
        px = planes[0][y0:y1, x0:x1]
        rgb = px[..., list(layout.channels)].astype(np.float32) * scale
    elif layout.family == "planar_gbr":
        rgb = np.stack([planes[i][y0:y1, x0:x1] for i in layout.channels], axis=-1).astype(np.float32) * scale
    elif layout.family == "gray":
        assert matrix is not None
        luma = (planes[0][y0:y1, x0:x1].astype(np.float32) - np.float32(matrix.y_offset)) / np.float32(matrix.y_scale)
        rgb = np.repeat(luma[..., None], 3, axis=-1)
    else:
        assert matrix is not None
        y = planes[0][y0:y1, x0:x1].astype(np.float32)
        cbox = _chroma_box(box, layout, planes[1].shape)
        cx0, cy0, cx1, cy1 = cbox
        cb = _upsample_chroma(planes[1][cy0:cy1, cx0:cx1].astype(np.float32), box, cbox, layout)
        cr = _upsample_chroma(planes[2][cy0:cy1, cx0:cx1].astype(np.float32), box, cbox, layout)
        rgb = matrix.codes_to_rgb(y, cb, cr)
    return np.clip(rgb, 0.0, 1.0) if clip else np.ascontiguousarray(rgb, dtype=np.float32)


@dataclass(frozen=True)
class FramePiece:
    """A box of a decoded frame, its samples copied out (`cut_piece`), that reads as the frame does.

    Learning an actor tracks every reference frame, then keeps crops of a few hundred mouths that only the
    finished tracking can choose; decoding the footage a second time for them took 0.2-1.1 s of learning
    one (`benchmarks.bench_learning`). A piece a little larger than a mouth, cut while the frame is in memory
    for the tracker, is read instead: same samples, same matrix, the box on the same chroma grid, so the same
    floats.
    `box` is where the piece lies in its frame (luma pixels, end exclusive); `layout` is its frame's
    (`frame_layout`), field-sited for an interlaced 4:2:0 one."""

    box: Box
    layout: PixelLayout
    matrix: ColorMatrix | None
    planes: tuple[np.ndarray, ...]
    interlaced: bool = False
    """Its frame was flagged interlaced (any chroma): a caller that paints with it may want one instant."""
    first_field_row: int = 0
    """Its frame's first field in time starts at this frame row (`decoded_fields.first_field_row`): the
    instant to take it to."""

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.planes)

    def holds(self, box: Box) -> bool:
        """Whether `box` (frame pixels) lies inside the piece."""
        return (self.box[0] <= box[0] <= box[2] <= self.box[2]) and (self.box[1] <= box[1] <= box[3] <= self.box[3])

    def read_rgb(self, box: Box, clip: bool = False) -> np.ndarray:
        """`read_rgb(frame, box, clip)` of the frame the piece was cut from; `box` in frame pixels, inside
        the piece (UsageError otherwise)."""
        if not self.holds(box):
            raise UsageError(f"box {box} is not inside the piece {self.box}")
        x, y = self.box[0], self.box[1]
        return _rgb_of_planes(self.layout, self.matrix, list(self.planes),
                              (box[0] - x, box[1] - y, box[2] - x, box[3] - y), clip)


def cut_piece(frame: av.VideoFrame, box: Box) -> FramePiece:
    """A copy of `box` of `frame`, grown to its chroma grid (`align_box`), as a `FramePiece`.

    Raises MediaFormatError for a pixel format `read_rgb` cannot read (read those with `read_box_rgb`)."""
    layout = frame_layout(frame)
    x0, y0, x1, y1 = box = align_box(box, frame)
    planes = plane_arrays(frame)
    pieces = [planes[0][y0:y1, x0:x1].copy()]
    if layout.family == "yuv":
        cx0, cy0, cx1, cy1 = _chroma_box(box, layout, planes[1].shape)
        pieces += [planes[i][cy0:cy1, cx0:cx1].copy() for i in (1, 2)]
    elif layout.family == "planar_gbr":
        pieces += [plane[y0:y1, x0:x1].copy() for plane in planes[1:]]
    return FramePiece(box, layout, color_matrix(frame), tuple(pieces), bool(frame.interlaced_frame),
                      first_field_row(frame))


def read_box_rgb(frame: av.VideoFrame, box: Box) -> np.ndarray:
    """Float RGB (h, w, 3) in [0, 1] of a box of any frame, with the compositor's colour matrix.

    Engines learn appearance from reference frames and must see them exactly as the compositor
    will read the target frame, or pasted mouths come out a few levels off. A pixel format the
    compositor cannot write is still readable through swscale, so it falls back to that.
    """
    try:
        return read_rgb(frame, box, clip=True)
    except MediaFormatError:
        x0, y0, x1, y1 = box
        return frame.to_ndarray(format="rgb24")[y0:y1, x0:x1].astype(np.float32) / 255.0

def _footprint_mean(planes: list[np.ndarray], support: np.ndarray, box: Box, cbox: Box, layout: PixelLayout,
                    frame_size: tuple[int, int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per chroma sample: the mean of each (h, w) plane over the sample's whole luma footprint, and whether
    any footprint pixel is in `support`.

    Footprint pixels outside the box count with value 0 (the box holds the whole edit), pixels outside the
    frame do not count, so a 1-pixel-wide last column of an odd-width 4:2:0 frame averages over itself.
    A field-sited sample's footprint is its own field's two rows (`_field_rows`).
    """
    sx, sy = layout.sub_x, layout.sub_y
    cx0, cy0, cx1, cy1 = cbox
    ax0, ay0 = cx0 * sx, cy0 * sy
    gw, gh = (cx1 - cx0) * sx, (cy1 - cy0) * sy
    ox, oy = box[0] - ax0, box[1] - ay0
    h, w = support.shape

    def on_grid(a: np.ndarray) -> np.ndarray:
        if (ox, oy, gw, gh) == (0, 0, w, h):  # a box on the chroma grid (as mask boxes are): no copy
            grid = a
        else:
            grid = np.zeros((gh, gw), a.dtype)
            grid[oy : oy + h, ox : ox + w] = a
        return _field_rows(grid) if layout.fields else grid

    fw, fh = frame_size
    counts_x = np.clip(fw - (ax0 + np.arange(cx1 - cx0) * sx), 0, sx).astype(np.float32)
    counts_y = np.clip(fh - (ay0 + np.arange(cy1 - cy0) * sy), 0, sy).astype(np.float32)
    inv_count = 1.0 / (counts_y[:, None] * counts_x[None, :])
    sup = on_grid(support)
    touched = np.zeros((cy1 - cy0, cx1 - cx0), bool)
    for oy_ in range(sy):
        for ox_ in range(sx):
            touched |= sup[oy_::sy, ox_::sx]
    means = []
    for plane in planes:
        grid = on_grid(plane)
        # Strided slices summed one offset at a time: a reshape-and-reduce over footprint axes is far slower.
        sums = np.zeros((cy1 - cy0, cx1 - cx0), np.float32)
        for oy_ in range(sy):
            for ox_ in range(sx):
                sums += grid[oy_::sy, ox_::sx]
        means.append(sums * inv_count)
    return means, touched


def _apply_delta(plane_box: np.ndarray, delta_codes: np.ndarray, where: np.ndarray, max_code: int) -> np.ndarray:
    """Source integer samples plus a code-value delta, rounded and clipped, only where `where` is set."""
    new = np.rint(plane_box.astype(np.float32) + delta_codes)
    np.clip(new, 0, max_code, out=new)
    return np.where(where, new.astype(plane_box.dtype), plane_box)


def write_rgb_delta(frame: av.VideoFrame, box: Box, delta_rgb: np.ndarray, support: np.ndarray
                    ) -> tuple[av.VideoFrame, np.ndarray]:
    """A new frame: `frame` plus an R'G'B' difference inside `box`, changed only on `support`.

    `delta_rgb` is float (h, w, 3) for the box, in the [0, 1] scale of `read_rgb`; `support` is bool (h, w).
    A luma (or RGB) sample may change only where `support` is set; a chroma sample only if a luma pixel of
    its footprint is in `support`, and it takes the footprint mean of the chroma delta. Every other byte of
    every plane is copied from the source. The box must lie on the chroma grid (`align_box`), so that no
    changed chroma sample reaches outside it; a `UsageError` says so otherwise.

    Returns the new frame and the exact changed support: bool (h, w) at luma resolution, True where the
    luma sample or the chroma sample covering that pixel differs from the source. It always lies inside
    `support` dilated to the chroma grid.

    An interlaced 4:2:0 frame's chroma is written field by field (`frame_layout`): each chroma sample takes
    the mean over its own field's rows, and the box must lie on its 4-row grid.
    """
    layout = frame_layout(frame)
    x0, y0, x1, y1 = box = check_box(box, (frame.width, frame.height))
    h, w = y1 - y0, x1 - x0
    delta_rgb = np.asarray(delta_rgb, dtype=np.float32)
    support = np.asarray(support, dtype=bool)
    if delta_rgb.shape != (h, w, 3) or support.shape != (h, w):
        raise UsageError(
            f"delta {delta_rgb.shape} and support {support.shape} must be ({h}, {w}, 3) and ({h}, {w}) "
            f"for box {box}"
        )
    if not is_chroma_aligned(box, layout, (frame.width, frame.height)):
        raise UsageError(
            f"box {box} is not on the {layout.sub_x}x{layout.grid_y} chroma grid of {layout.name}"
            f"{' (interlaced)' if layout.fields else ''}: a chroma sample "
            f"would straddle its edge; align it (mask boxes are) with align_box()"
        )
    out = copy_frame(frame)
    changed = np.zeros((h, w), bool)
    if h == 0 or w == 0 or not support.any():
        return out, changed
    src, dst = plane_arrays(frame), plane_arrays(out)
    max_code = layout.max_code

    if layout.family == "packed_rgb":
        packed = np.zeros((h, w, layout.pixel_bytes), np.float32)  # an alpha byte's delta stays 0: kept
        packed[..., list(layout.channels)] = delta_rgb * np.float32(max_code)
        region = src[0][y0:y1, x0:x1]
        new = _apply_delta(region, packed, support[..., None], max_code)
        dst[0][y0:y1, x0:x1] = new
        changed |= (new != region).any(axis=-1)
        return out, changed

    if layout.family == "planar_gbr":
        for channel, plane_index in enumerate(layout.channels):
            region = src[plane_index][y0:y1, x0:x1]
            new = _apply_delta(region, delta_rgb[..., channel] * np.float32(max_code), support, max_code)
            dst[plane_index][y0:y1, x0:x1] = new
            changed |= new != region
        return out, changed

    matrix = color_matrix(frame)
    assert matrix is not None
    if layout.family == "gray":
        # A weighted sum, not a matmul: numpy's BLAS threads cost more than the product on a busy machine.
        kr, kg, kb = (np.float32(k * matrix.y_scale) for k in (matrix.kr, matrix.kg, matrix.kb))
        gray_delta = delta_rgb[..., 0] * kr + delta_rgb[..., 1] * kg + delta_rgb[..., 2] * kb
        region = src[0][y0:y1, x0:x1]
        luma = _apply_delta(region, gray_delta, support, max_code)
        dst[0][y0:y1, x0:x1] = luma
        changed |= luma != region
        return out, changed
    # (h, w, 3): dY, dCb, dCr in code values. cv2.transform, not numpy matmul, whose BLAS threads cost
    # tens of ms on a busy machine for this 3x3 product.
    codes = cv2.transform(np.ascontiguousarray(delta_rgb), matrix.rgb_to_codes().astype(np.float32))
    d_y, d_cb, d_cr = (np.asarray(c, dtype=np.float32) for c in cv2.split(codes))  # contiguous planes: strided channel views are slow to read
    region = src[0][y0:y1, x0:x1]
    luma = _apply_delta(region, d_y, support, max_code)
    dst[0][y0:y1, x0:x1] = luma
    changed |= luma != region

    cbox = _chroma_box(box, layout, src[1].shape)
    cx0, cy0, cx1, cy1 = cbox
    if layout.sub_x == 1 and layout.sub_y == 1:
        chroma_delta, touched = [d_cb, d_cr], support
    else:
        chroma_delta, touched = _footprint_mean([d_cb, d_cr], support, box, cbox, layout,
                                                (frame.width, frame.height))
    chroma_changed = np.zeros(touched.shape, bool)
    for i in (1, 2):
        region = src[i][cy0:cy1, cx0:cx1]
        new = _apply_delta(region, chroma_delta[i - 1], touched, max_code)
        dst[i][cy0:cy1, cx0:cx1] = new
        chroma_changed |= new != region
    if chroma_changed.any():
        changed |= _upsample_chroma(chroma_changed, box, cbox, layout)
    return out, changed


def write_rgb(frame: av.VideoFrame, box: Box, rgb: np.ndarray, support: np.ndarray | None = None
              ) -> tuple[av.VideoFrame, np.ndarray]:
    """A new frame with the box replaced by float R'G'B' `rgb` (h, w, 3) where `support` (default: all).

    Same guarantees as `write_rgb_delta`, which it calls with ``rgb - read_rgb(frame, box)``. Luma equals a
    direct conversion of `rgb`; subsampled chroma is the footprint mean of the converted chroma.
    """
    box = check_box(box, (frame.width, frame.height))
    current = read_rgb(frame, box)
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.shape != current.shape:
        raise UsageError(f"rgb has shape {rgb.shape}, the box {box} needs {current.shape}")
    if support is None:
        support = np.ones(current.shape[:2], bool)
    return write_rgb_delta(frame, box, rgb - current, support)
