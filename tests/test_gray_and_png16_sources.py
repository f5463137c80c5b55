"""Clips the compositor used to refuse: black-and-white clips stored as gray (luma only: a film scan in FFV1,
a monochrome camera), and 16-bit RGB(A) PNG in QuickTime (an animation or a keyed plate exported from a
compositing app, its samples high byte first). They are fixed like any clip: the mouth painted in the
clip's own samples, every other sample kept, and a matte kept.

The clip is the shared 512 px interview taken to those formats.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.media import probe

pytestmark = pytest.mark.media


def _gray_clip(folder: Path, pix_fmt: str, frames: int = 60) -> Path:
    path = folder / f"katie_{pix_fmt}.mkv"
    with av.open(str(media_path("video", "hdtf_wda_katiehill_512.mp4"))) as reader, av.open(str(path), "w") as writer:
        stream = writer.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 512, 512, pix_fmt
        for index, frame in enumerate(reader.decode(video=0)):
            if index == frames:
                break
            picture = frame.reformat(format=pix_fmt)
            picture.pts, picture.time_base = index, Fraction(1, 25)
            writer.mux(stream.encode(picture))
        writer.mux(stream.encode(None))
    return path


def _planes(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


@pytest.mark.parametrize("pix_fmt", ["gray", "gray10le"])
def test_a_gray_clip_gets_a_new_mouth_and_keeps_every_other_sample(pix_fmt: str, tmp_path: Path) -> None:
    clip = _gray_clip(tmp_path, pix_fmt)
    out, report = tmp_path / "fixed.mkv", tmp_path / "fixed.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "--in", "0",
                        "--out", "50", "-o", out, "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    video = probe(out).video
    assert video is not None and video.pix_fmt == pix_fmt and video.frame_count == 50
    data = json.loads(report.read_text())
    source, fixed = _planes(clip)[:50], _planes(out)
    changed = [int((a != b).sum()) for a, b in zip(source, fixed, strict=True)]
    # Lossless FFV1: a sample differs exactly where the report says the compositor changed one.
    assert changed == [frame["changed_pixels"] for frame in data["frames"]]
    assert sum(count > 2000 for count in changed) > 40
    # Only the lower face: no sample changes above the nose's tip or outside the face's width.
    for a, b in zip(source, fixed, strict=True):
        rows, cols = np.nonzero(a != b)
        if rows.size:
            assert rows.min() > 250 and 100 < cols.min() and cols.max() < 420


def test_a_gray_clip_renders_to_prores_at_the_levels_ffmpeg_reads(tmp_path: Path) -> None:
    """ProRes has no gray: the render is Y'CbCr with neutral chroma, and its luma is the clip's full-range gray
    taken to limited range, as FFmpeg converts it (so the untouched picture matches a transcode)."""
    clip = _gray_clip(tmp_path, "gray", frames=30)
    out = tmp_path / "fixed.mov"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "--in", "0",
                        "--out", "30", "-o", out, "--quiet")
    assert result.code == 0, result.stderr
    source = _planes(clip)[0].astype(np.float64)
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
    assert frame.format.name == "yuv422p10le"
    luma = np.frombuffer(memoryview(frame.planes[0]), np.uint16).reshape(512, -1)[:, :512] / 4.0
    chroma = np.frombuffer(memoryview(frame.planes[1]), np.uint16).reshape(512, -1)[:, :256]
    top = slice(0, 240)  # above the mouth: the picture as shot
    error = np.abs(luma[top] - (16 + source[top] * 219 / 255))  # in 8-bit levels; ProRes is near lossless
    assert error.mean() < 0.3 and error.max() < 3
    assert np.abs(chroma[top].astype(np.int32) - 512).max() <= 2


@pytest.mark.parametrize(("pix_fmt", "stored"), [("rgb48be", "gbrp16le"), ("rgba64be", "gbrap16le"),
                                               ("gray16be", "gray16le")])
def test_a_16_bit_png_clip_gets_a_new_mouth_and_keeps_every_other_sample_and_its_matte(pix_fmt: str, stored: str,
                                                                                       tmp_path: Path) -> None:
    """FFV1 stores the samples in its own layout (planes, low byte first), each one the clip's."""
    clip = tmp_path / f"katie_{pix_fmt}.mov"
    ramp = np.linspace(20000, 65535, 512).astype(np.uint16)[None, :]  # a matte that is not all opaque
    with av.open(str(media_path("video", "hdtf_wda_katiehill_512.mp4"))) as reader, av.open(str(clip), "w") as writer:
        stream = writer.add_stream("png", rate=25)
        stream.width, stream.height, stream.pix_fmt = 512, 512, pix_fmt
        for index, frame in enumerate(reader.decode(video=0)):
            if index == 25:
                break
            samples = frame.to_ndarray(format=pix_fmt)
            if pix_fmt == "rgba64be":
                samples[..., 3] = ramp.astype(">u2")
            picture = av.VideoFrame.from_ndarray(samples, format=pix_fmt)
            picture.pts, picture.time_base = index, Fraction(1, 25)
            writer.mux(stream.encode(picture))
        writer.mux(stream.encode(None))
    out, report = tmp_path / "fixed.mkv", tmp_path / "fixed.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    video = probe(out).video
    assert video is not None and video.pix_fmt == stored

    def pictures(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="rgba64le") for frame in container.decode(video=0)]

    source, fixed = pictures(clip), pictures(out)
    changed = [int((a[..., :3] != b[..., :3]).any(axis=-1).sum()) for a, b in zip(source, fixed, strict=True)]
    assert changed == [frame["changed_pixels"] for frame in json.loads(report.read_text())["frames"]]
    assert sum(count > 2000 for count in changed) > 18
    assert all(np.array_equal(a[..., 3], b[..., 3]) for a, b in zip(source, fixed, strict=True))
