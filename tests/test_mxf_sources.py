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


def test_a_dnxhr_render_into_mxf_carries_timecode_reel_and_the_line(tmp_path: Path) -> None:
    """`.mxf` is DNxHR in MXF OP1a, what an Avid imports or links: the frames, the line's sound at 48 kHz to
    the sample, the timecode of the first frame and a reel of its own, read back through FFmpeg's demuxer."""

    clip = _xdcam_like(tmp_path / "A001C003.mxf", frames=40)
    out, report = tmp_path / "fixed.mxf", tmp_path / "fixed.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", "5", "--out", "35", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    info = probe(out)
    video = info.video
    assert video is not None and video.codec == "dnxhd" and video.frame_count == 30
    assert video.start_timecode == "10:00:00:05" and video.reel_name is not None and video.reel_name.startswith("MT")
    # A 512-line clip has no DNx that codes its fields: coded as frames, and the report says so.
    assert video.field_order in ("progressive", "unknown")
    assert any("interlaced" in w and "DNxHR" in w for w in json.loads(report.read_text())["warnings"])
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30
    with av.open(str(out)) as container:
        assert sum(frame.samples for frame in container.decode(audio=0)) == 30 * 1920
    assert [s.sample_rate for s in info.audio] == [48000]


def test_an_mxf_render_of_a_rate_mxf_cannot_hold_is_refused_at_once(tmp_path: Path) -> None:
    import media_factory as mf

    clip = mf.make_h264(tmp_path / "web.mp4", num_frames=30, size=(256, 144), fps=Fraction(15))
    out = tmp_path / "fixed.mxf"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--engine", "copy", "--quiet")
    assert result.code == 2 and "MXF holds" in result.stderr and "runs at 15 fps" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize(("fps", "suffix"), [(Fraction(25), ".mxf"), (Fraction(30000, 1001), ".mov")])
def test_a_1080i_clip_rendered_as_dnx_is_coded_as_dnxhd_fields(fps: Fraction, suffix: str, tmp_path: Path) -> None:
    """FFmpeg has no interlaced DNxHR: a 1080i50 or 1080i59.94 clip is coded as DNxHD (185 or 220 Mb/s, X at
    10 bits), the DNx an Avid keeps 1080i in, each picture as two fields, and nothing is warned."""
    import media_factory as mf

    clip = mf.write_clip(tmp_path / "i.mov", codec="prores_ks", pix_fmt="yuv422p10le", options={"profile": "3"},
                         field_order=2, num_frames=6, size=(1920, 1080), fps=fps)
    out, report = tmp_path / f"fixed{suffix}", tmp_path / "fixed.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--codec", "dnxhr", "--engine", "copy", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    assert json.loads(report.read_text())["warnings"] == []
    with av.open(str(out)) as container:
        packets = [bytes(packet) for packet in container.demux(video=0) if packet.size]
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    # The compression ID in each frame's header (bytes 40-43): 1241 is DNxHD 1080i 10-bit (185X, 220X); DNxHR
    # would be 1270-1274. Byte 5 says "interlaced" (bit 1) and which field the picture holds first (bit 0).
    assert {int.from_bytes(p[40:44], "big") for p in packets} == {1241}
    assert all(p[5] & 0x02 for p in packets)
    assert len(frames) == 6 and all(frame.interlaced_frame for frame in frames)
    # MXF says the field order itself; in .mov the writer adds the `fiel` FFmpeg leaves out for DNx (`mov_fields`).
    assert probe(out).video.field_order == "tt"  # type: ignore[union-attr]
