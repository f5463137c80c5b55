"""The field order of a DNx `.mov`: written as a QuickTime `fiel` atom once the file is finished (`mov_fields`),
and read from the DNx picture header when a file has none (`probe`).

FFmpeg's QuickTime muxer writes Avid's atoms for DNx and no `fiel`, so a 1080i DNxHD `.mov` (ours, or one
made by any FFmpeg-based tool) probed "unknown" and was taken for progressive pictures. The files here are
written by PyAV and read back by FFmpeg's own demuxer.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import media_factory as mf
from mytalk.core.media import probe
from mytalk.core.media.field_marks import FieldMarker
from mytalk.core.media.mov_fields import FIEL_VALUES, write_field_order


def _dnxhd_1080i(path: Path, *, top_first: bool, frames: int = 3, movflags: str | None = None) -> Path:
    """DNxHD 185X fields at 1080i50, as FFmpeg writes them into QuickTime: Avid's atoms, no `fiel`."""
    options = {"movflags": movflags} if movflags else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("dnxhd", rate=25, options={"profile": "dnxhd", "b": "185M", "flags": "+ildct"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv422p10le"
        marker = FieldMarker(1920, 1080, "yuv422p10le", Fraction(1, 25), top_first=top_first)
        rng = np.random.default_rng(3)
        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(rng.integers(0, 255, (1080, 1920, 3), np.uint8), format="rgb24")
            picture = picture.reformat(format="yuv422p10le")
            picture.pts, picture.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(marker.mark(picture)))
        container.mux(stream.encode(None))
    return path


def _atom_offsets(data: bytes, kind: bytes) -> list[int]:
    return [i - 4 for i in range(len(data)) if data.startswith(kind, i)]


def _pictures(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(video=0) if packet.size]


@pytest.mark.parametrize(("top_first", "order"), [(True, "tt"), (False, "bb")])
def test_a_dnxhd_mov_without_fiel_is_read_from_its_picture_header(top_first: bool, order: str, tmp_path: Path) -> None:
    path = _dnxhd_1080i(tmp_path / "i.mov", top_first=top_first)
    assert not _atom_offsets(path.read_bytes(), b"fiel")
    video = probe(path).video
    assert video is not None and video.codec == "dnxhd" and video.field_order == order and video.interlaced


@pytest.mark.parametrize("order", ["tt", "bb"])
def test_fiel_is_added_after_the_avid_atoms_and_the_media_is_untouched(order: str, tmp_path: Path) -> None:
    path = _dnxhd_1080i(tmp_path / "i.mov", top_first=order == "tt")
    shutil.copyfile(path, tmp_path / "original.mov")
    before = path.read_bytes()
    moov = _atom_offsets(before, b"moov")[0]
    assert write_field_order(path, order)
    after = path.read_bytes()
    # Ten bytes more, all inside the movie header; everything before it (the pictures) byte for byte.
    assert len(after) == len(before) + 10 and after[:moov] == before[:moov]
    (fiel,) = _atom_offsets(after, b"fiel")
    assert after[fiel : fiel + 10] == b"\x00\x00\x00\x0afiel" + FIEL_VALUES[order]
    # Inside the DNx sample description, after ARES and before the zero that ends its atoms.
    assert _atom_offsets(after, b"ARES")[0] < fiel and after[fiel + 10 : fiel + 14] == bytes(4)
    assert probe(path).video.field_order == order  # type: ignore[union-attr]
    assert _pictures(path) == _pictures(tmp_path / "original.mov") and len(_pictures(path)) == 3
    with av.open(str(path)) as container:
        assert [frame.interlaced_frame for frame in container.decode(video=0)] == [True] * 3


def test_an_existing_fiel_is_rewritten_in_place(tmp_path: Path) -> None:
    path = mf.make_prores(tmp_path / "p.mov", num_frames=3, size=(128, 64), fps=Fraction(25), field_order=2)
    before = path.read_bytes()
    assert probe(path).video.field_order == "tt"  # type: ignore[union-attr]
    assert write_field_order(path, "bb")
    after = path.read_bytes()
    assert len(after) == len(before)
    changed = np.flatnonzero(np.frombuffer(after, np.uint8) != np.frombuffer(before, np.uint8))
    assert changed.size == 1 and after[changed[0]] == 6
    assert probe(path).video.field_order == "bb"  # type: ignore[union-attr]


def test_files_it_cannot_change_safely_are_left_as_they_were(tmp_path: Path) -> None:
    # A fast-start file's movie header comes before the pictures: growing it would move them under their offsets.
    fast = _dnxhd_1080i(tmp_path / "fast.mov", top_first=True, movflags="faststart")
    data = fast.read_bytes()
    assert _atom_offsets(data, b"moov")[0] < _atom_offsets(data, b"mdat")[0]
    assert not write_field_order(fast, "tt") and fast.read_bytes() == data
    truncated = tmp_path / "cut.mov"
    whole = _dnxhd_1080i(tmp_path / "whole.mov", top_first=True).read_bytes()
    truncated.write_bytes(whole[: len(whole) - 40])
    assert not write_field_order(truncated, "tt") and truncated.read_bytes() == whole[: len(whole) - 40]
    sound = tmp_path / "sound.mov"
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=48000, layout="mono")
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.int16), format="s16", layout="mono")
        chunk.sample_rate, chunk.pts = 48000, 0
        container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    data = sound.read_bytes()
    assert not write_field_order(sound, "tt") and sound.read_bytes() == data
    copy = tmp_path / "w.mov"
    copy.write_bytes(whole)
    assert not write_field_order(copy, "unknown") and copy.read_bytes() == whole
