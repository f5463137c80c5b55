"""Non-square pixels in a Matroska render: the video track's display size, written into the finished file.

FFmpeg's Matroska muxer takes the display size from a stream field PyAV cannot set, so an FFV1 .mkv of a
DV, HDV or anamorphic clip used to play squeezed. `mkv_aspect` rewrites the track's Video element in
place, from the Void the muxer leaves in the track entry. These tests write real files with PyAV and read
them back with FFmpeg's own demuxer.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import media_factory as mf
from cli_helpers import run_mytalk
from mytalk.core.media import probe
from mytalk.core.media.mkv_aspect import HEAD_BYTES, patched_head, write_display_aspect


def _ffv1(path: Path, width: int, height: int, frames: int = 3) -> Path:
    return mf.make_ffv1(path, size=(width, height), num_frames=frames, fps=Fraction(25))


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


@pytest.mark.parametrize(("width", "height", "aspect"), [
    (720, 576, Fraction(64, 45)),   # PAL 16:9 DV
    (720, 486, Fraction(10, 11)),   # NTSC 4:3, a display ratio of two-byte numbers
    (1440, 1080, Fraction(4, 3)),   # HDV
    (384, 512, Fraction(2)),        # a 2x anamorphic squeeze
])
def test_the_display_aspect_is_written_in_place_and_read_back_exactly(width: int, height: int, aspect: Fraction,
                                                                      tmp_path: Path) -> None:
    path = _ffv1(tmp_path / "clip.mkv", width, height)
    original = path.read_bytes()
    assert probe(path).video.sample_aspect == 1  # type: ignore[union-attr]
    found = patched_head(original[:HEAD_BYTES], aspect)
    assert found is not None
    offset, tracks = found
    assert write_display_aspect(path, aspect)
    patched = path.read_bytes()
    video = probe(path).video
    assert video is not None and video.sample_aspect == aspect and (video.width, video.height) == (width, height)
    # Same length; every changed byte lies in the Tracks element; the pictures are the same.
    assert len(patched) == len(original)
    changed = np.flatnonzero(np.frombuffer(patched, np.uint8) != np.frombuffer(original, np.uint8))
    assert changed.size and offset <= changed.min() and changed.max() < offset + len(tracks)
    shutil.copyfile(path, tmp_path / "again.mkv")
    assert all(np.array_equal(a, b) for a, b in zip(_frames(path), _frames(tmp_path / "again.mkv"), strict=True))
    assert len(_frames(path)) == 3


def test_a_file_without_room_or_with_a_damaged_track_list_is_left_alone(tmp_path: Path) -> None:
    path = _ffv1(tmp_path / "clip.mkv", 720, 576)
    original = path.read_bytes()
    # A display ratio of three-byte numbers needs more than the 11 bytes the muxer leaves.
    assert not write_display_aspect(path, Fraction(65537, 65521))
    assert path.read_bytes() == original
    # A Tracks element whose CRC-32 does not match is not a file this module understands.
    found = patched_head(original[:HEAD_BYTES], Fraction(4, 3))
    assert found is not None
    at = found[0] + 30  # inside Tracks, past its ID, size and CRC
    damaged = original[:at] + bytes([original[at] ^ 0xFF]) + original[at + 1:]
    assert patched_head(damaged[:HEAD_BYTES], Fraction(4, 3)) is None
    assert patched_head(b"not a matroska file at all", Fraction(4, 3)) is None


def test_an_ffv1_render_of_an_anamorphic_clip_plays_with_its_shape(tmp_path: Path) -> None:
    """Through the command: an HDV-shaped ProRes source (4:3 pixels) rendered to .mkv keeps its shape, and
    the report carries no warning about it."""
    source = tmp_path / "hdv.mov"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("prores_ks", rate=25)
        stream.width, stream.height, stream.pix_fmt = 360, 240, "yuv422p10le"
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for index in range(12):
            frame = av.VideoFrame(360, 240, "yuv422p10le")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    line = mf.make_click_wav(tmp_path / "line.wav", rate=48000, num_samples=24000, clicks=[4800, 12000])
    out, report = tmp_path / "fixed.mkv", tmp_path / "fixed.json"
    result = run_mytalk("sync", source, "--audio", line, "-o", out, "--engine", "copy", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    video = probe(out).video
    assert video is not None and video.sample_aspect == Fraction(4, 3) and video.codec == "ffv1"
    assert not any("square" in w for w in json.loads(report.read_text())["warnings"])
