"""Keyed clips: a source with an alpha plane (ProRes 4444 with a matte) is synced, and its matte kept.

It used to stop at the first frame ("pixel format 'yuva444p12le' is not supported by the compositor"),
exit 2, for a clip MyTalk's own `--codec prores4444` could have written back."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.media.probe import probe
from mytalk.core.media.writer import alpha_dropped, default_codec_for

FRAMES = 60


KEYINGS = {"prores4444": ("prores_ks", "yuva444p10le"), "animation": ("qtrle", "argb")}
"""How keyed clips come: ProRes 4444 with a matte (decoded as yuva444p12le), QuickTime Animation (argb)."""


def _keyed_clip(path: Path, keying: str = "prores4444") -> Path:
    """The first `FRAMES` frames of a shared clip, keyed (`KEYINGS`): opaque, except a clear top left
    corner and a half-clear bottom right one; its own sound as PCM."""
    source = media_path("video", "hdtf_wda_katiehill_512.mp4")
    codec, pix_fmt = KEYINGS[keying]
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=25)
        video.width, video.height, video.pix_fmt = 512, 512, pix_fmt
        if codec == "prores_ks":
            video.options = {"profile": "4444"}
        sound = out.add_stream("pcm_s16le", rate=48_000, layout="mono")
        for n, frame in enumerate(src.decode(video=0)):
            if n >= FRAMES:
                break
            rgb = frame.to_ndarray(format="rgb24")
            matte = np.full(rgb.shape[:2], 255, np.uint8)
            matte[:100, :100], matte[400:, 400:] = 0, 128
            keyed = av.VideoFrame.from_ndarray(np.dstack([rgb, matte]), format="rgba").reformat(format=pix_fmt)
            keyed.pts, keyed.time_base = n, Fraction(1, 25)
            out.mux(video.encode(keyed))
        out.mux(video.encode())
        src.seek(0)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in src.decode(audio=0):
            for part in resampler.resample(frame):
                out.mux(sound.encode(part))
        out.mux(sound.encode())
    return path


def _rgba(path: Path) -> list[np.ndarray]:
    """Every frame as 8-bit RGBA: one yardstick for sources and renders of any layout."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgba") for frame in container.decode(video=0)]


def test_a_mov_of_a_keyed_clip_defaults_to_prores_4444(tmp_path: Path) -> None:
    keyed = probe(_keyed_clip(tmp_path / "keyed.mov")).video
    assert keyed is not None and keyed.has_alpha
    assert default_codec_for("fix.mov", keyed) == "prores4444"
    assert default_codec_for("fix.mkv", keyed) == "ffv1" and default_codec_for("fix.mp4", keyed) == "h264"
    assert alpha_dropped("prores", keyed) and alpha_dropped("h264", keyed) and alpha_dropped("dnxhr", keyed)
    assert not alpha_dropped("prores4444", keyed) and not alpha_dropped("ffv1", keyed)
    plain = probe(media_path("video", "hdtf_wda_katiehill_512.mp4")).video
    assert plain is not None and not plain.has_alpha
    assert default_codec_for("fix.mov", plain) == "prores" and not alpha_dropped("prores", plain)


@pytest.mark.media
@pytest.mark.slow
@pytest.mark.parametrize("keying", sorted(KEYINGS))
def test_a_keyed_clip_is_synced_and_keeps_its_matte(tmp_path: Path, keying: str) -> None:
    clip = _keyed_clip(tmp_path / "keyed.mov", keying)
    line = media_path("audio", "jfk_inaugural_en_16k.wav")
    source = _rgba(clip)
    for name, exact in (("fix.mkv", True), ("fix.mov", False)):
        out, report_path = tmp_path / name, tmp_path / f"{name}.json"
        result = run_mytalk("sync", clip, "--audio", line, "-o", out, "--report", report_path, "--quiet")
        assert result.code == 0, result.stderr
        report = json.loads(report_path.read_text())
        assert report["warnings"] == []
        written = probe(out).video
        assert written is not None and written.has_alpha, f"{name}: the render lost its alpha channel"
        rendered = _rgba(out)
        assert len(rendered) == FRAMES
        painted = 0
        for frame, (before, after) in enumerate(zip(source, rendered, strict=True)):
            # The matte as shot: FFV1 stores it as decoded; ProRes 4444 codes it losslessly, at its own
            # depth (8-bit Animation alpha put on 16 bits may come back one level off).
            matte_error = np.abs(before[..., 3].astype(int) - after[..., 3].astype(int)).max()
            assert matte_error <= (0 if exact or keying == "prores4444" else 1), f"{name} frame {frame}"
            box = report["frames"][frame]["mask_box"]
            outside = (before[..., :3] != after[..., :3]).any(axis=-1)
            if box:
                x0, y0, x1, y1 = box
                painted += int(outside[y0:y1, x0:x1].sum())
                outside[y0:y1, x0:x1] = False
            if exact:  # FFV1: every colour sample outside the mouth box is the source's
                assert not outside.any(), f"frame {frame} changed outside the box"
        assert painted > 0, f"{name}: no mouth was painted"
    assert probe(tmp_path / "fix.mov").video.codec == "prores"  # type: ignore[union-attr]


@pytest.mark.media
@pytest.mark.slow
def test_a_codec_without_alpha_is_honoured_with_a_warning(tmp_path: Path) -> None:
    clip = _keyed_clip(tmp_path / "keyed.mov")
    out, report_path = tmp_path / "fix.mov", tmp_path / "fix.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "--out", 25,
                        "--codec", "prores", "-o", out, "--report", report_path)
    assert result.code == 0, result.stderr
    assert "alpha channel" in result.stderr and "prores4444" in result.stderr
    assert any("alpha channel" in w for w in json.loads(report_path.read_text())["warnings"])
    written = probe(out).video
    assert written is not None and written.pix_fmt == "yuv422p10le" and not written.has_alpha


@pytest.mark.media
def test_the_panel_keeps_a_keyed_clips_matte(qtbot: Any, tmp_path: Path) -> None:
    """Opening a keyed clip says so, and moves commits from ProRes 422 HQ to ProRes 4444."""
    from mytalk.plugin.standalone import StandaloneWindow

    clip = _keyed_clip(tmp_path / "keyed.mov")
    window = StandaloneWindow(clip, media_path("audio", "jfk_inaugural_en_16k.wav"), start_runtime=False)
    qtbot.addWidget(window)
    panel = window.panel
    try:
        assert ", with alpha" in panel.clip_label.full_text
        assert panel.settings.setting_value("codec") == "prores4444"
        assert "ProRes 4444" in panel.status_line.text()
        # The next clip without alpha goes back to ProRes 422 HQ...
        plain = media_path("video", "hdtf_wda_katiehill_512.mp4")
        panel.load_clip(plain)
        assert "alpha" not in panel.clip_label.full_text and panel.settings.setting_value("codec") == "prores"
        # ...but a codec the editor picks is theirs, keyed clip or not.
        panel.load_clip(clip)
        panel.settings.apply({"codec": "dnxhr"})
        panel.load_clip(plain)
        assert panel.settings.setting_value("codec") == "dnxhr"
        panel.load_clip(clip)
        assert panel.settings.setting_value("codec") == "dnxhr"
    finally:
        panel.shutdown()
