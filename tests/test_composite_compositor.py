"""The compositor on real and synthetic frames: bit-exact outside the mask at 8 and 10 bits, colour match, blends."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from test_composite_masks import synthetic_landmarks
from test_composite_planes import changed_map, noise_frame

from conftest import media_path
from mytalk.core.composite import (
    Compositor,
    Mask,
    MaskMode,
    alpha_blend,
    laplacian_blend,
    match_color,
    mouth_mask,
    plane_arrays,
    read_rgb,
    ring_weights,
)
from mytalk.core.errors import MediaFormatError, UsageError

EXACT_FORMATS = ["yuv420p", "yuv422p", "yuv420p10le", "yuv422p10le"]


@pytest.fixture(scope="module")
def real_frame_and_landmarks() -> tuple[av.VideoFrame, np.ndarray]:
    """Frame 0 of the HDTF clip (yuv420p 512x512, as decoded) and its face-mesh landmarks from mediapipe."""
    mp = pytest.importorskip("mediapipe")
    path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(frame.to_ndarray(format="rgb24"))
    assert result.multi_face_landmarks
    lm = np.array([[p.x * frame.width, p.y * frame.height] for p in result.multi_face_landmarks[0].landmark])
    return frame, lm


def assert_exact_outside(source: av.VideoFrame, result_frame: av.VideoFrame, box: tuple[int, int, int, int],
                         changed_support: np.ndarray, mask: Mask) -> np.ndarray:
    """Every sample of every plane outside the reported support is the source's; returns the true change map."""
    truth = changed_map(source, result_frame)
    reported = np.zeros_like(truth)
    x0, y0, x1, y1 = box
    reported[y0:y1, x0:x1] = changed_support
    assert np.array_equal(truth, reported), "the reported support must be exactly the changed pixels"
    # ...and it lies within the mask support dilated to the 2-px chroma grid.
    support = mask.full_frame_alpha((source.width, source.height)) > 0
    h, w = support.shape
    grid = np.zeros((-(-h // 2) * 2, -(-w // 2) * 2), bool)
    grid[:h, :w] = support
    dilated = grid.reshape(grid.shape[0] // 2, 2, grid.shape[1] // 2, 2).any(axis=(1, 3)).repeat(2, 0).repeat(2, 1)[:h, :w]
    assert not (truth & ~dilated).any()
    return truth


def assert_same_stream_attributes(source: av.VideoFrame, out: av.VideoFrame) -> None:
    assert out.format.name == source.format.name
    assert (out.width, out.height) == (source.width, source.height)
    assert (out.pts, out.time_base) == (source.pts, source.time_base)
    assert (out.colorspace, out.color_range, out.color_primaries, out.color_trc) == (
        source.colorspace, source.color_range, source.color_primaries, source.color_trc)


@pytest.mark.media
@pytest.mark.parametrize("fmt", EXACT_FORMATS)
@pytest.mark.parametrize("blend", ["laplacian", "alpha"])
def test_real_frame_is_bit_exact_outside_the_mask(real_frame_and_landmarks: tuple[av.VideoFrame, np.ndarray],
                                                   fmt: str, blend: str) -> None:
    decoded, lm = real_frame_and_landmarks
    source = decoded if fmt == decoded.format.name else decoded.reformat(format=fmt)
    size = (source.width, source.height)
    mask = mouth_mask(lm, size, MaskMode.LOWER_FACE)
    x0, y0, x1, y1 = mask.box
    # A strongly visible patch: the source mouth region inverted.
    generated = 1.0 - read_rgb(source, mask.box, clip=True)
    result = Compositor(blend=blend, color_match=False).composite(source, generated, mask)
    assert result.frame is not source and result.mask_box == mask.box
    truth = assert_exact_outside(source, result.frame, mask.box, result.changed_support, mask)
    assert result.changed_pixels == int(truth.sum()) > 0.8 * int((mask.alpha > 0).sum())
    assert_same_stream_attributes(source, result.frame)
    # Inside the full-strength region the output is the patch (up to quantisation and chroma subsampling).
    out_rgb = read_rgb(result.frame, mask.box, clip=True)
    inner = mask.alpha == 1.0
    assert np.abs(out_rgb[inner] - generated[inner]).mean() < 0.03
    # Outside the box every plane byte is the source's (also covered by the map above; said plainly here).
    for a, b in zip(plane_arrays(source), plane_arrays(result.frame), strict=True):
        sy, sx = -(-source.height // a.shape[0]), -(-source.width // a.shape[1])
        top, bottom, left, right = y0 // sy, -(-y1 // sy), x0 // sx, -(-x1 // sx)
        assert np.array_equal(a[:top], b[:top]) and np.array_equal(a[bottom:], b[bottom:])
        assert np.array_equal(a[:, :left], b[:, :left]) and np.array_equal(a[:, right:], b[:, right:])


@pytest.mark.parametrize("fmt", EXACT_FORMATS + ["yuv444p10le", "rgb24", "bgr24", "gbrp"])
def test_noise_frame_is_bit_exact_outside_the_mask(fmt: str) -> None:
    """No media needed: noise frames of odd size with a synthetic face and a random patch."""
    source = noise_frame(fmt, 321, 243, seed=2)
    lm = synthetic_landmarks(160, 90, 90, opening=0.5)
    mask = mouth_mask(lm, (321, 243), MaskMode.MOUTH)
    rng = np.random.default_rng(0)
    generated = rng.random((*mask.alpha.shape, 3), dtype=np.float32)
    result = Compositor().composite(source, generated, mask)
    truth = assert_exact_outside(source, result.frame, mask.box, result.changed_support, mask)
    assert truth.sum() > 0.5 * (mask.alpha > 0).sum()
    assert_same_stream_attributes(source, result.frame)


def test_empty_mask_returns_the_source_itself() -> None:
    source = noise_frame("yuv420p10le", 64, 48)
    for mask in (Mask.empty((64, 48)), mouth_mask(None, (64, 48)), Mask((10, 10, 20, 20), np.zeros((10, 10)))):
        result = Compositor().composite(source, np.zeros((*mask.alpha.shape, 3), np.float32), mask)
        assert result.frame is source
        assert result.changed_support is None and result.changed_pixels == 0
    # Even for a format the compositor cannot write: nothing to write, nothing to fail.
    nv12 = av.VideoFrame(64, 48, "nv12")
    assert Compositor().composite(nv12, np.zeros((0, 0, 3)), Mask.empty()).frame is nv12


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p10le"])
def test_hand_made_box_off_the_chroma_grid_is_grown(fmt: str) -> None:
    source = noise_frame(fmt, 100, 80, seed=6)
    yy, xx = np.mgrid[0:31, 0:41]
    alpha = np.clip(1.2 - np.hypot((yy - 15) / 15, (xx - 20) / 20), 0, 1).astype(np.float32)
    mask = Mask((11, 7, 52, 38), alpha)  # odd corners
    result = Compositor().composite(source, np.zeros((31, 41, 3), np.float32), mask)
    assert result.mask_box == ((10, 6, 52, 38) if fmt == "yuv420p" else (10, 7, 52, 38))  # 4:2:2: rows are free
    assert_exact_outside(source, result.frame, result.mask_box, result.changed_support, mask)
    assert result.changed_pixels > 0.5 * int((alpha > 0).sum())


def test_full_frame_helper_crops_the_box() -> None:
    source = noise_frame("yuv422p", 320, 240, seed=4)
    mask = mouth_mask(synthetic_landmarks(160, 90, 90), (320, 240), MaskMode.MOUTH)
    full = np.random.default_rng(1).random((240, 320, 3), dtype=np.float32)
    x0, y0, x1, y1 = mask.box
    comp = Compositor()
    a = comp.composite_full_frame(source, full, mask)
    b = comp.composite(source, full[y0:y1, x0:x1], mask)
    assert all(np.array_equal(p, q) for p, q in zip(plane_arrays(a.frame), plane_arrays(b.frame), strict=True))
    with pytest.raises(UsageError):
        comp.composite_full_frame(source, full[:100], mask)


def test_uint8_generation_and_bad_inputs() -> None:
    source = noise_frame("yuv420p", 320, 240)
    mask = mouth_mask(synthetic_landmarks(160, 90, 90), (320, 240), MaskMode.MOUTH)
    h, w = mask.alpha.shape
    as_float = Compositor().composite(source, np.full((h, w, 3), 0.5, np.float32), mask)
    as_uint8 = Compositor().composite(source, np.full((h, w, 3), 127.5, np.float32).round().astype(np.uint8), mask)
    assert as_uint8.changed_pixels > 0 and abs(as_uint8.changed_pixels - as_float.changed_pixels) < 0.05 * as_float.changed_pixels
    with pytest.raises(UsageError):
        Compositor().composite(source, np.zeros((h, w + 2, 3), np.float32), mask)
    with pytest.raises(ValueError, match="NaN"):
        Compositor().composite(source, np.full((h, w, 3), np.nan, np.float32), mask)
    with pytest.raises(UsageError):
        Compositor().composite(noise_frame("yuv420p", 640, 480), np.zeros((h, w, 3), np.float32), mask)
    with pytest.raises(MediaFormatError, match="nv12"):
        Compositor().composite(av.VideoFrame(320, 240, "nv12"), np.zeros((h, w, 3), np.float32), mask)
    with pytest.raises(UsageError):
        Compositor(blend="poisson")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Compositor(mode="whole-face")
    assert Compositor.for_quality("preview").blend == "alpha"
    assert Compositor.for_quality("final").blend == "laplacian"


def test_lossless_encode_keeps_everything_outside_the_mask(tmp_path: Path) -> None:
    """What the preserve protocol does: encode losslessly, decode, compare with the source outside the mask."""
    frames = [noise_frame("yuv420p10le", 320, 240, seed=s) for s in range(3)]
    for i, f in enumerate(frames):
        f.pts = i
        f.time_base = Fraction(1, 25)
    mask = mouth_mask(synthetic_landmarks(160, 90, 90, opening=0.4), (320, 240), MaskMode.LOWER_FACE)
    comp = Compositor()
    results = [comp.composite(f, 1.0 - read_rgb(f, mask.box, clip=True), mask) for f in frames]
    path = tmp_path / "out.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p10le"
        for r in results:
            for packet in stream.encode(r.frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == 3
    for src, r, dec in zip(frames, results, decoded, strict=True):
        assert dec.format.name == "yuv420p10le"
        truth = changed_map(src, dec)
        x0, y0, x1, y1 = r.mask_box
        reported = np.zeros_like(truth)
        reported[y0:y1, x0:x1] = r.changed_support
        assert np.array_equal(truth, reported)


# --- colour match and blends ---------------------------------------------------------------------


def radial_alpha(h: int, w: int, inner: float, outer: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2))
    return np.clip((outer - r) / (outer - inner), 0, 1).astype(np.float32)


def test_colour_match_reduces_the_ring_difference() -> None:
    rng = np.random.default_rng(3)
    h, w = 80, 120
    target = (0.55 + 0.05 * rng.standard_normal((h, w, 3))).astype(np.float32) * [1.0, 0.8, 0.7]
    generated = (target * 0.8 + [0.06, 0.02, -0.03]).astype(np.float32)  # darker and off in white balance
    alpha = radial_alpha(h, w, 0.4, 0.9)
    ring = ring_weights(alpha) > 0.5
    before = np.abs(generated[ring].mean(0) - target[ring].mean(0)).sum()
    matched = match_color(generated, target, alpha)
    after = np.abs(matched[ring].mean(0) - target[ring].mean(0)).sum()
    assert after < 0.2 * before
    assert matched.dtype == np.float32 and matched.shape == generated.shape


def test_colour_match_is_bounded() -> None:
    h, w = 60, 60
    alpha = radial_alpha(h, w, 0.3, 0.9)
    target = np.full((h, w, 3), 0.9, np.float32)
    generated = np.full((h, w, 3), 0.1, np.float32)  # wildly off: the shift is capped
    generated += np.random.default_rng(0).normal(0, 0.2, (h, w, 3)).astype(np.float32)
    matched = match_color(generated, target, alpha, max_gain=1.25, max_shift=0.12)
    assert np.abs(matched.mean() - generated.mean()) < 0.13
    assert matched.std() > generated.std() / 1.25 - 0.01  # the target is flat, the gain still stops at 1/1.25
    # Nothing to measure (hard mask): returned unchanged.
    hard = (alpha > 0.5).astype(np.float32)
    assert np.array_equal(match_color(generated, target, hard), generated)


@pytest.mark.media
def test_real_colour_match_on_a_shifted_mouth(real_frame_and_landmarks: tuple[av.VideoFrame, np.ndarray]) -> None:
    frame, lm = real_frame_and_landmarks
    mask = mouth_mask(lm, (frame.width, frame.height), MaskMode.MOUTH)
    target = read_rgb(frame, mask.box, clip=True)
    generated = np.clip(target * [0.85, 0.95, 1.1] + 0.03, 0, 1).astype(np.float32)  # a colour-cast render
    ring = ring_weights(mask.alpha) > 0.25
    before = np.abs(generated[ring] - target[ring]).mean()
    after = np.abs(match_color(generated, target, mask.alpha)[ring] - target[ring]).mean()
    assert after < 0.5 * before


@pytest.mark.parametrize("levels", [None, 1, 3, 5])
def test_laplacian_blend_is_bg_outside_and_fg_inside(levels: int | None) -> None:
    rng = np.random.default_rng(5)
    h, w = 96, 128
    fg = rng.random((h, w, 3), dtype=np.float32)
    bg = rng.random((h, w, 3), dtype=np.float32)
    alpha = radial_alpha(h, w, 0.5, 0.8)
    out = laplacian_blend(fg, bg, alpha, levels)
    assert out.dtype == np.float32 and out.shape == fg.shape
    assert np.array_equal(out[alpha == 0], bg[alpha == 0])  # exactly, bit for bit
    yy, xx = np.mgrid[0:h, 0:w]
    deep = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2)) < 0.2  # far from the feather
    assert np.abs(out[deep] - fg[deep]).max() < 0.02
    # Without a step at the support edge: pixels just inside stay close to bg.
    edge = (alpha > 0) & (alpha < 0.05)
    assert np.abs(out[edge] - bg[edge]).max() < 0.1


def test_alpha_blend() -> None:
    fg = np.ones((4, 4, 3), np.float32)
    bg = np.zeros((4, 4, 3), np.float32)
    alpha = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    out = alpha_blend(fg, bg, alpha)
    assert np.allclose(out[..., 0], alpha) and out[0, 0, 0] == 0.0 and out[-1, -1, 0] == 1.0
    with pytest.raises(UsageError):
        alpha_blend(fg, bg, alpha[:3])
