"""Interlaced sources: the render carries the source's field order, so an editor plays it as the original.

A 1080i or DV clip holds two fields per frame. MyTalk reads and writes its frames line for line, so the
samples stay right; what must not be lost is the field order: the tag (QuickTime `fiel`, Matroska
FieldOrder) and, for ProRes and H.264, the coding as fields, or an editor takes the render for progressive
pictures and shows its fields combed, or deinterlaces it differently from the original beside it. Sources are synthetic interlaced H.264 clips (`media_factory`) and one shared
clip re-encoded as interlaced for a real render.
"""

from __future__ import annotations

import json
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import media_factory as mf
from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.media import probe

SIZE = (128, 64)


def _line(folder: Path) -> Path:
    """Two seconds of a 220 Hz tone at 48 kHz: a line the copy engine places and muxes."""
    path = folder / "line.wav"
    tone = (8000 * np.sin(np.arange(96000) * 2 * np.pi * 220 / 48000)).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(48000)
        handle.writeframes(tone.tobytes())
    return path


@pytest.mark.parametrize(("top_first", "order"), [(True, "tt"), (False, "bb")])
def test_probe_reads_the_field_order(top_first: bool, order: str, tmp_path: Path) -> None:
    clip = mf.make_interlaced_h264(tmp_path / "i.mov", top_first=top_first, num_frames=24, size=SIZE)
    video = probe(clip).video
    assert video is not None and video.field_order == order and video.interlaced
    progressive = probe(mf.make_h264(tmp_path / "p.mp4", num_frames=24, size=SIZE)).video
    assert progressive is not None and not progressive.interlaced


@pytest.mark.parametrize(("top_first", "order"), [(True, "tt"), (False, "bb")])
@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_a_render_carries_the_sources_field_order(top_first: bool, order: str, suffix: str, tmp_path: Path) -> None:
    clip = mf.make_interlaced_h264(tmp_path / "i.mov", top_first=top_first, num_frames=24, size=SIZE,
                                   fps=Fraction(25))
    out = tmp_path / f"o{suffix}"
    result = run_mytalk("sync", clip, "--audio", _line(tmp_path), "-o", out, "--engine", "copy", "--in", "2",
                        "--out", "20", "--quiet")
    assert result.code == 0, result.stderr
    video = probe(out).video
    assert video is not None and video.field_order == order
    # The fields are the source's, line for line (FFV1 is lossless).
    if suffix == ".mkv":
        with av.open(str(clip)) as source, av.open(str(out)) as render:
            wanted = [f.to_ndarray(format="yuv420p") for f in source.decode(video=0)][2:20]
            decoded = list(render.decode(video=0))
            got = [f.to_ndarray(format="yuv420p") for f in decoded]
        assert len(got) == len(wanted) and all(np.array_equal(a, b) for a, b in zip(wanted, got, strict=True))
        # Each FFV1 frame says it is interlaced, so a render fixed again is read field by field.
        assert all(f.interlaced_frame for f in decoded)


@pytest.mark.parametrize("top_first", [True, False])
def test_the_field_marker_sets_the_flags_and_keeps_the_picture(top_first: bool) -> None:
    """`FieldMarker` only flags a frame: the picture that reaches the encoder is the one given, sample for sample."""
    from mytalk.core.media.field_marks import FieldMarker, top_field_first

    rng = np.random.default_rng(3)
    marker = FieldMarker(96, 48, "yuv422p10le", Fraction(1, 25), top_first=top_first)
    for index in range(3):
        picture = av.VideoFrame.from_ndarray(rng.integers(0, 256, (48, 96, 3), dtype=np.uint8), format="rgb24")
        frame = picture.reformat(format="yuv422p10le")
        frame.pts, frame.time_base = index, Fraction(1, 25)
        assert not frame.interlaced_frame
        marked = marker.mark(frame)
        assert marked.interlaced_frame and marked.pts == index
        assert np.array_equal(marked.to_ndarray(), frame.to_ndarray())
    assert [top_field_first(order) for order in ("tt", "bt", "bb", "tb")] == [True, True, False, False]


def _prores_first_fields(path: Path) -> list[str]:
    """Each coded picture's interlace mode, read from its ProRes frame header (frame size, 'icpf', header
    size, version, creator, width, height, then the frame flags, whose bits 2-3 say progressive, upper field
    first or lower field first)."""
    modes = {0: "progressive", 1: "upper", 2: "lower"}
    with av.open(str(path)) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert packets and all(p[4:8] == b"icpf" for p in packets)
    return [modes.get((p[20] >> 2) & 3, "?") for p in packets]


@pytest.mark.parametrize(("top_first", "order", "first"), [(True, "tt", "upper"), (False, "bb", "lower")])
def test_prores_and_h264_renders_code_fields_in_the_sources_order(top_first: bool, order: str, first: str,
                                                                  tmp_path: Path) -> None:
    """Not only a tag: ProRes codes each picture as two fields with the source's first field in its frame
    header, as a 1080i camera's ProRes is, and H.264 codes fields (PAFF/MBAFF) that a decoder reads back in
    that order, also from an .mp4, which has no QuickTime tag at all."""
    clip = mf.make_interlaced_h264(tmp_path / "i.mov", top_first=top_first, num_frames=24, size=SIZE,
                                   fps=Fraction(25))
    line = _line(tmp_path)
    prores = tmp_path / "o.mov"
    assert run_mytalk("sync", clip, "--audio", line, "-o", prores, "--engine", "copy", "--quiet").code == 0
    assert _prores_first_fields(prores) == [first] * 24
    h264 = tmp_path / "o.mp4"
    result = run_mytalk("sync", clip, "--audio", line, "-o", h264, "--engine", "copy", "--codec", "h264",
                        "--quiet")
    assert result.code == 0, result.stderr
    video = probe(h264).video
    assert video is not None and video.field_order == order
    with av.open(str(clip)) as source, av.open(str(prores)) as a, av.open(str(h264)) as b:
        wanted = [f.to_ndarray(format="rgb24").astype(np.float64) for f in source.decode(video=0)]
        for render in (a, b):
            got = list(render.decode(video=0))
            assert all(f.interlaced_frame for f in got)
            # The pictures are the source's: coding them as fields loses nothing a frame coding would keep.
            errors = [np.mean((f.to_ndarray(format="rgb24") - w) ** 2) for f, w in zip(got, wanted, strict=True)]
            assert 10 * np.log10(255**2 / max(max(errors), 1e-9)) > 38


@pytest.mark.parametrize("top_first", [True, False])
def test_a_dnxhr_mov_of_an_interlaced_clip_says_its_field_order_and_an_mxf_one_warns(top_first: bool,
                                                                                    tmp_path: Path) -> None:
    """FFmpeg codes DNxHR as frames only. In .mov the render says the source's field order (`mov_fields`: FFmpeg's
    muxer writes none for DNx), so nothing is lost and nothing is warned; an .mxf of the frames is read as
    progressive, and the report says so and what keeps the fields."""
    clip = mf.make_interlaced_h264(tmp_path / "i.mov", num_frames=24, size=(256, 128), fps=Fraction(25),
                                   top_first=top_first)
    order = probe(clip).video.field_order  # type: ignore[union-attr]
    assert order == ("tt" if top_first else "bb")
    out, report = tmp_path / "o.mov", tmp_path / "o.json"
    result = run_mytalk("sync", clip, "--audio", _line(tmp_path), "-o", out, "--engine", "copy", "--codec", "dnxhr",
                        "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    assert not any("interlaced" in w for w in json.loads(report.read_text())["warnings"])
    video = probe(out).video
    assert video is not None and video.codec == "dnxhd" and video.field_order == order and video.frame_count == 24
    with av.open(str(out)) as render:
        assert sum(1 for _ in render.decode(video=0)) == 24
    result = run_mytalk("sync", clip, "--audio", _line(tmp_path), "-o", tmp_path / "o.mxf", "--engine", "copy",
                        "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    warnings = json.loads(report.read_text())["warnings"]
    assert any("interlaced" in w and "render to .mov" in w for w in warnings), warnings
    progressive = tmp_path / "p.mov"
    made = mf.make_h264(tmp_path / "p.mp4", num_frames=24, size=(256, 128), fps=Fraction(25))
    result = run_mytalk("sync", made, "--audio", _line(tmp_path), "-o", progressive, "--engine", "copy",
                        "--codec", "dnxhr", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    assert not any("interlaced" in w for w in json.loads(report.read_text())["warnings"])
    assert not probe(progressive).video.interlaced  # type: ignore[union-attr]


def test_ntsc_fields_of_odd_height_render_as_prores_fields_and_as_progressive_h264_with_a_warning(
        tmp_path: Path) -> None:
    """A 486-line NTSC frame holds fields of 243 lines: ProRes codes them, lower field first as NTSC is, while
    x264 cannot code 4:2:0 fields of an odd height, so the .mp4 is coded as frames and the report says so."""
    clip = mf.write_clip(tmp_path / "ntsc.mov", codec="prores_ks", pix_fmt="yuv422p10le", options={"profile": "3"},
                         field_order=3, num_frames=12, size=(720, 486), fps=Fraction(30000, 1001))
    line = _line(tmp_path)
    for name, fields, warned in (("o.mov", ["lower"] * 12, False), ("o.mp4", None, True)):
        out, report = tmp_path / name, tmp_path / f"{name}.json"
        result = run_mytalk("sync", clip, "--audio", line, "-o", out, "--engine", "copy", "--report", report, "--quiet")
        assert result.code == 0, result.stderr
        if fields is not None:
            assert _prores_first_fields(out) == fields
        warnings = json.loads(report.read_text())["warnings"]
        assert any("fields of 243 lines" in w for w in warnings) == warned, warnings


def test_a_420_field_keeps_its_own_colour_in_a_422_render(tmp_path: Path) -> None:
    """HDV, AVCHD and 1080i H.264 are 4:2:0 with chroma rows alternating between the fields. The upper field
    here is red and the lower blue, as a red object's edge moving between them would be: in the ProRes
    (4:2:2) render, every line of each field keeps its field's colour, where a frame conversion would
    give half the lines the other field's."""
    clip = tmp_path / "fields.mkv"
    with av.open(str(clip), "w") as writer:
        stream = writer.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        stream.codec_context.field_order = 2  # tt
        for index in range(6):
            frame = av.VideoFrame(128, 64, "yuv420p")
            for number, plane in enumerate(frame.planes):
                rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)  # type: ignore[arg-type]
                if number == 0:
                    rows[...] = 110
                else:  # Cb, Cr: chroma rows 0, 2, 4... are the upper field's
                    rows[0::2], rows[1::2] = (90, 200) if number == 1 else (220, 70)
            frame.pts, frame.time_base = index, Fraction(1, 25)
            writer.mux(stream.encode(frame))
        writer.mux(stream.encode(None))
    video = probe(clip).video
    assert video is not None and video.field_order == "tt"
    out = tmp_path / "o.mov"
    result = run_mytalk("sync", clip, "--audio", _line(tmp_path), "-o", out, "--engine", "copy", "--quiet")
    assert result.code == 0, result.stderr
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
    assert frame.format.name == "yuv422p10le"
    cb, cr = (np.frombuffer(memoryview(frame.planes[i]), np.uint16).reshape(64, -1)[:, :64] / 4.0  # type: ignore[arg-type]
              for i in (1, 2))
    assert np.abs(cb[0::2] - 90).max() <= 1 and np.abs(cr[0::2] - 220).max() <= 1
    assert np.abs(cb[1::2] - 200).max() <= 1 and np.abs(cr[1::2] - 70).max() <= 1


def test_progressive_sources_and_proxies_are_not_tagged(tmp_path: Path) -> None:
    line = _line(tmp_path)
    progressive = mf.make_h264(tmp_path / "p.mp4", num_frames=24, size=SIZE, fps=Fraction(25))
    out = tmp_path / "p.mov"
    assert run_mytalk("sync", progressive, "--audio", line, "-o", out, "--engine", "copy", "--quiet").code == 0
    video = probe(out).video
    assert video is not None and not video.interlaced
    # A preview proxy is scaled across the fields: it is shown as pictures, so it claims no field order.
    clip = mf.make_interlaced_h264(tmp_path / "i.mov", num_frames=24, size=(1280, 720), fps=Fraction(25))
    proxy = tmp_path / "proxy.mp4"
    result = run_mytalk("sync", clip, "--audio", line, "-o", proxy, "--engine", "copy", "--quality", "preview",
                        "--quiet")
    assert result.code == 0, result.stderr
    video = probe(proxy).video
    assert video is not None and video.height < 720 and not video.interlaced


@pytest.mark.media
def test_an_interlaced_shared_clip_renders_with_its_field_order(tmp_path: Path) -> None:
    """A real face, coded as fields top first: the classic engine paints its mouth, and the ProRes keeps the tag
    and codes its pictures as fields, upper first."""
    source = media_path("video", "hdtf_wda_katiehill_512.mp4")
    clip = tmp_path / "katie_1080i.mov"
    with av.open(str(source)) as reader, av.open(str(clip), "w") as writer:
        stream = writer.add_stream("libx264", rate=25, options={
            "x264-params": "interlaced=1:tff=1", "crf": "16", "preset": "veryfast", "flags": "+ildct+ilme"})
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        stream.codec_context.field_order = 2
        for index, frame in enumerate(reader.decode(video=0)):
            if index == 75:
                break
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24").reformat(format="yuv420p")
            picture.pts, picture.time_base = index, Fraction(1, 25)
            writer.mux(stream.encode(picture))
        writer.mux(stream.encode(None))
    out, report = tmp_path / "fixed.mov", tmp_path / "fixed.json"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", "0", "--out", "50", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    video = probe(out).video
    assert video is not None and video.field_order == "tt" and video.frame_count == 50
    assert _prores_first_fields(out) == ["upper"] * 50
    data = json.loads(report.read_text())
    assert data["inputs"]["video"]["probe"]["video"]["field_order"] == "tt"
    assert data["tracking"]["share_with_face"] == 1.0
    assert sum(frame["changed_pixels"] > 0 for frame in data["frames"]) > 25
    # A lossless FFV1 render of it: its painted frames say they are interlaced too (the compositor's copies
    # carry no flags until the writer marks them), so the render decodes, and is fixed again, as the source.
    lossless = tmp_path / "fixed.mkv"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", lossless,
                        "--in", "0", "--out", "12", "--quiet")
    assert result.code == 0, result.stderr
    with av.open(str(lossless)) as render:
        assert [frame.interlaced_frame for frame in render.decode(video=0)] == [True] * 12


@pytest.mark.parametrize(("top_first", "words"), [(True, "interlaced, upper field first"),
                                                  (False, "interlaced, lower field first")])
def test_the_panel_says_a_clip_is_interlaced(qtbot: Any, top_first: bool, words: str, tmp_path: Path) -> None:
    """An editor sees the field order next to the size, as the render will carry it."""
    from mytalk.plugin.standalone import StandaloneWindow

    clip = mf.make_interlaced_h264(tmp_path / "i.mov", top_first=top_first, num_frames=24, size=SIZE, fps=Fraction(25))
    window = StandaloneWindow(clip, _line(tmp_path), start_runtime=False)
    qtbot.addWidget(window)
    try:
        assert f"128×64 {words}" in window.panel.clip_label.full_text, window.panel.clip_label.full_text
        progressive = mf.make_h264(tmp_path / "p.mp4", num_frames=24, size=SIZE, fps=Fraction(25))
        window.panel.load_clip(progressive)
        assert "interlaced" not in window.panel.clip_label.full_text
    finally:
        window.panel.shutdown()
