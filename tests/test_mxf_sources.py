"""MXF sources, as broadcast and Avid shops deliver them (`manifest.json` lists `.mxf` among the inputs).

The clip is XDCAM HD422-like: MPEG-2 4:2:2 coded as fields upper first, in MXF OP1a with a start timecode
of 10:00:00:00 and two mono 24-bit sound tracks, made from the shared 512 px interview. A range marked
by source timecode is fixed, and the render carries the timecode of its first frame and the fields.
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


def _xdcam_like(path: Path, frames: int = 50) -> Path:
    tone = (0.1 * np.sin(np.arange(1920) * 2 * np.pi * 440 / 48000) * 8388607).astype(np.int32) << 8
    with av.open(str(media_path("video", "hdtf_wda_katiehill_512.mp4"))) as reader, \
            av.open(str(path), "w", format="mxf") as writer:
        writer.metadata["timecode"] = "10:00:00:00"
        video = writer.add_stream("mpeg2video", rate=25, options={"b": "20M", "flags": "+ildct+ilme", "top": "1",
                                                                  "g": "12"})
        video.width, video.height, video.pix_fmt = 512, 512, "yuv422p"
        video.codec_context.field_order = 2
        sounds = [writer.add_stream("pcm_s24le", rate=48000, layout="mono") for _ in range(2)]
        for index, frame in enumerate(reader.decode(video=0)):
            if index == frames:
                break
            picture = frame.reformat(format="yuv422p")
            picture.pts, picture.time_base = index, Fraction(1, 25)
            writer.mux(video.encode(picture))
            for sound in sounds:
                chunk = av.AudioFrame.from_ndarray(tone[None, :], format="s32", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, index * 1920, Fraction(1, 48000)
                writer.mux(sound.encode(chunk))
        writer.mux(video.encode(None))
        for sound in sounds:
            writer.mux(sound.encode(None))
    return path


def test_an_mxf_clip_is_fixed_from_a_source_timecode_and_keeps_its_timecode_and_fields(tmp_path: Path) -> None:
    clip = _xdcam_like(tmp_path / "A001C003.mxf")
    info = probe(clip)
    assert info.video is not None and info.video.start_timecode == "10:00:00:00" and info.video.interlaced
    assert len(info.audio) == 2
    out, report = tmp_path / "fixed.mov", tmp_path / "fixed.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", "@10:00:00:10", "--out", "@10:00:01:15", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    video = probe(out).video
    assert video is not None and video.frame_count == 30 and video.start_timecode == "10:00:00:10"
    assert video.field_order == info.video.field_order
    data = json.loads(report.read_text())
    assert data["warnings"] == [] and data["tracking"]["share_with_face"] == 1.0
    assert sum(frame["changed_pixels"] > 0 for frame in data["frames"]) > 25
