"""DV NTSC, as archives and older productions hold it: raw `.dv`, 29.97 fps, 4:1:1 chroma, 8:9 pixels.

Three things stood in the way: the probe believed the demuxer's 60000 fps and numbered 60 frames
0-118118 (a whole-clip job then ran for an hour of frames that do not exist); the compositor refused
yuv411p; and an FFV1 .mkv render drops the pixel aspect without a word."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.media.probe import probe

FRAMES = 60
NTSC = Fraction(30000, 1001)


def _raw_dv(path: Path, picture: np.ndarray | None = None) -> Path:
    """`FRAMES` frames of raw DV NTSC (720×480, 4:1:1) with 48 kHz stereo PCM: the shared clip's face
    pillarboxed into the frame when `picture` is None, else that picture."""
    source = media_path("video", "hdtf_wda_katiehill_512.mp4") if picture is None else None
    with av.open(str(path), "w", format="dv") as out:
        video = out.add_stream("dvvideo", rate=NTSC)
        video.width, video.height, video.pix_fmt = 720, 480, "yuv411p"
        sound = out.add_stream("pcm_s16le", rate=48_000, layout="stereo")
        frames = (f.to_ndarray(format="rgb24") for f in av.open(str(source)).decode(video=0)) if source else (
            picture for _ in range(FRAMES))
        for n, rgb in enumerate(frames):
            if n >= FRAMES:
                break
            canvas = np.zeros((480, 720, 3), np.uint8)
            canvas[:, 104:616] = cv2.resize(rgb, (512, 480))
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24").reformat(format="yuv411p")
            frame.pts, frame.time_base = n, 1 / NTSC
            out.mux(video.encode(frame))
        out.mux(video.encode())
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=48_000)
        if source is not None:
            with av.open(str(source)) as clip:
                for frame in clip.decode(audio=0):
                    for part in resampler.resample(frame):
                        out.mux(sound.encode(part))
        else:
            silence = av.AudioFrame.from_ndarray(np.zeros((1, 2 * 48_000 * 3), np.int16), format="s16", layout="stereo")
            silence.sample_rate = 48_000
            out.mux(sound.encode(silence))
        out.mux(sound.encode())
    return path


def test_a_raw_dv_file_is_numbered_by_its_true_rate(tmp_path: Path) -> None:
    clip = _raw_dv(tmp_path / "tape.dv", np.full((512, 512, 3), 90, np.uint8))
    video = probe(clip).video
    assert video is not None
    assert (video.fps, video.frame_count, video.is_vfr) == (NTSC, FRAMES, False)
    assert video.pix_fmt == "yuv411p" and video.sample_aspect == Fraction(8, 9)


@pytest.mark.media
@pytest.mark.slow
def test_a_dv_clip_is_synced_keeping_its_aspect(tmp_path: Path) -> None:
    clip = _raw_dv(tmp_path / "tape.dv")
    line = media_path("audio", "jfk_inaugural_en_16k.wav")
    out, report_path = tmp_path / "fix.mov", tmp_path / "fix.json"
    result = run_mytalk("sync", clip, "--audio", line, "-o", out, "--report", report_path, "--quiet")
    assert result.code == 0, result.stderr
    written = probe(out).video
    assert written is not None and written.frame_count == FRAMES and written.fps == NTSC
    assert written.sample_aspect == Fraction(8, 9)
    # DV is interlaced, lower field first, though a raw DV file does not say so: the render says it, so an
    # editor's timeline fields it as the original.
    assert probe(clip).video.field_order == written.field_order == "bb"  # type: ignore[union-attr]
    report = json.loads(report_path.read_text())
    assert report["warnings"] == [] and report["tracking"]["share_with_face"] == 1.0
    assert sum(frame["changed_pixels"] > 0 for frame in report["frames"]) > FRAMES // 2

    # FFV1 keeps every 4:1:1 sample outside the mouth, and its .mkv the aspect (the track's display size).
    mkv, mkv_report = tmp_path / "fix.mkv", tmp_path / "fix_mkv.json"
    result = run_mytalk("sync", clip, "--audio", line, "-o", mkv, "--out", 20, "--report", mkv_report)
    assert result.code == 0, result.stderr
    assert "not square" not in result.stderr
    assert json.loads(mkv_report.read_text())["warnings"] == []
    written = probe(mkv).video
    assert written is not None and written.pix_fmt == "yuv411p" and written.sample_aspect == Fraction(8, 9)
