"""VideoWriter: matching, atomic output for every codec preset, with exact audio."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import media_factory as mf
from mytalk.core.errors import OutputError, UsageError
from mytalk.core.media import (
    CODEC_PRESETS,
    AudioTrack,
    FrameReader,
    VideoStreamInfo,
    VideoWriter,
    check_codec_container,
    check_output_path,
    default_codec_for,
    probe,
)
from mytalk.core.tempnames import parse_temp_name

DNX_SIZE = (256, 144)  # DNxHR refuses anything under 256x120


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("writer_sources")
    return {
        "ffv1": mf.make_ffv1(folder / "tagged.mkv", colour_tags=True, num_frames=24),
        "h264": mf.make_h264(folder / "h264.mp4", colour_tags=True, num_frames=24, rotation=90),
        "prores10": mf.make_prores_10bit(folder / "ten.mov", colour_tags=True, num_frames=24),
        "dnx8": mf.make_h264(folder / "dnx8.mp4", size=DNX_SIZE, colour_tags=True, num_frames=12),
        "dnx10": mf.make_prores_10bit(folder / "dnx10.mov", size=DNX_SIZE, colour_tags=True, num_frames=12),
        "jpeg_range": mf.make_h264(folder / "full_range.mp4", pix_fmt="yuvj420p", num_frames=16),
    }


def _source(path: Path) -> VideoStreamInfo:
    video = probe(path).video
    assert video is not None
    return video


def _copy_range(src: Path, out: Path, codec: str, start: int, stop: int, **kw: object) -> VideoStreamInfo:
    source = _source(src)
    writer = VideoWriter(out, codec=codec, source=source, inputs=[src], **kw)  # type: ignore[arg-type]
    with FrameReader(src) as reader, writer:
        for frame in reader.frames(start, stop):
            writer.write(frame.frame)
    return source


def _decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


# (codec, suffix, source key, expected output pix_fmt as decoded)
CASES = [
    ("ffv1", ".mkv", "ffv1", "yuv420p"),
    ("prores", ".mov", "ffv1", "yuv422p10le"),
    ("prores4444", ".mov", "ffv1", "yuv444p12le"),  # the ProRes decoder reports 4444 as 12-bit
    ("dnxhr", ".mov", "dnx8", "yuv422p"),
    ("dnxhr", ".mov", "dnx10", "yuv422p10le"),
    ("h264", ".mp4", "h264", "yuv420p"),
    ("h264", ".mov", "ffv1", "yuv420p"),
    ("h264", ".mkv", "prores10", "yuv420p10le"),
]


@pytest.mark.parametrize(("codec", "suffix", "key", "pix_fmt"), CASES)
def test_each_codec_writes_a_matching_file(
    tmp_path: Path, sources: dict[str, Path], codec: str, suffix: str, key: str, pix_fmt: str
) -> None:
    out = tmp_path / f"out_{codec}{suffix}"
    source = _copy_range(sources[key], out, codec, 3, 11)
    video = _source(out)
    assert video.frame_count == 8
    assert (video.width, video.height) == (source.width, source.height)
    assert video.fps == source.fps == Fraction(24000, 1001)
    assert video.pix_fmt == pix_fmt
    assert not video.is_vfr
    assert (video.color_range, video.color_space, video.color_primaries, video.color_trc) == (
        "tv",
        "bt709",
        "bt709",
        "bt709",
    )
    assert [mf.read_stamp(f) for f in _decoded(out)] == list(range(3, 11))
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temp files left


def test_ffv1_round_trip_is_bit_exact(tmp_path: Path, sources: dict[str, Path]) -> None:
    for key in ("h264", "prores10"):  # 8-bit 4:2:0 and 10-bit 4:2:2
        out = tmp_path / f"lossless_{key}.mkv"
        _copy_range(sources[key], out, "ffv1", 2, 14)
        with FrameReader(sources[key]) as reader:
            originals = [f.frame for f in reader.frames(2, 14)]
        copies = _decoded(out)
        assert len(copies) == len(originals) == 12
        for original, copy in zip(originals, copies, strict=True):
            assert copy.format.name == original.format.name
            for a, b in zip(mf.plane_arrays(original), mf.plane_arrays(copy), strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b)


def test_full_range_yuvj_source_stays_bit_exact_and_full_range(
    tmp_path: Path, sources: dict[str, Path]
) -> None:
    out = tmp_path / "full.mkv"
    source = _copy_range(sources["jpeg_range"], out, "ffv1", 0, 8)
    assert source.pix_fmt == "yuvj420p"
    video = _source(out)
    assert (video.pix_fmt, video.color_range) == ("yuv420p", "pc")
    with FrameReader(sources["jpeg_range"]) as reader:
        originals = [f.frame for f in reader.frames(0, 8)]
    for original, copy in zip(originals, _decoded(out), strict=True):
        for a, b in zip(mf.plane_arrays(original), mf.plane_arrays(copy), strict=True):
            assert np.array_equal(a, b)


def test_ten_bit_prores_stays_ten_bit(tmp_path: Path, sources: dict[str, Path]) -> None:
    out = tmp_path / "ten.mov"
    _copy_range(sources["prores10"], out, "prores", 0, 6)
    video = _source(out)
    assert (video.codec, video.pix_fmt, video.bit_depth, video.profile) == ("prores", "yuv422p10le", 10, "HQ")
    luma = mf.plane_arrays(_decoded(out)[2])[0]
    original = mf.plane_arrays(_decoded(sources["prores10"])[2])[0]
    assert np.any(luma % 4 != 0), "the low two bits survived"
    assert np.abs(luma.astype(int) - original.astype(int)).mean() < 2.0


@pytest.mark.parametrize("codec", ["prores", "prores4444"])
def test_tall_frames_convert_exactly_and_the_same_every_time(tmp_path: Path, codec: str) -> None:
    """swscale's slice threads once left garbage in the first luma samples of each slice's first row when
    4:2:0 became 10-bit 4:2:2 or 4:4:4 (off by up to 208 of 1023, different every run): a ProRes render of
    the same frames was never the same file, and a few pixels outside the mouth were wrong."""
    source_path = mf.make_ffv1(tmp_path / "tall.mkv", size=(1080, 1920), num_frames=3)
    source = _source(source_path)
    packets = []
    for run in range(3):
        out = tmp_path / f"run{run}.mov"
        _copy_range(source_path, out, codec, 0, 3, reel_name="MTSAME00")
        with av.open(str(out)) as container:
            packets.append([bytes(p) for p in container.demux(container.streams.video[0]) if p.size])
    assert packets[0] == packets[1] == packets[2]
    # And exactly: every decoded luma sample within ProRes's quantisation of the 8-bit source's (scaled to
    # the decoder's depth: 10 bits for 422, 12 for 4444), on every row.
    originals = [mf.plane_arrays(f)[0].astype(int) for f in _decoded(source_path)]
    for original, copy in zip(originals, _decoded(tmp_path / "run0.mov"), strict=True):
        scale = 16 if "12" in copy.format.name else 4
        luma = mf.plane_arrays(copy)[0].astype(int)
        assert luma.shape == original.shape == (source.height, source.width)
        worst = np.abs(luma - original * scale).max(axis=1) / scale  # in 8-bit levels
        assert worst.max() < 12, np.flatnonzero(worst >= 12)[:10]


def test_rotation_and_timecode(tmp_path: Path, sources: dict[str, Path]) -> None:
    out = tmp_path / "rotated.mov"
    source = _copy_range(sources["h264"], out, "prores", 0, 3, start_timecode="01:00:00:05")
    assert source.rotation == 90
    video = _source(out)
    assert (video.rotation, video.start_timecode) == (90, "01:00:00:05")


def test_ndarray_frames(tmp_path: Path, sources: dict[str, Path]) -> None:
    source = _source(sources["ffv1"])
    out = tmp_path / "arrays.mkv"
    with FrameReader(sources["ffv1"]) as reader:
        originals = [f.frame for f in reader.frames(0, 4)]
    with VideoWriter(out, codec="ffv1", source=source) as writer:
        for frame in originals[:2]:
            writer.write(frame.to_ndarray())  # the source's own pix_fmt (yuv420p)
        for frame in originals[2:]:
            writer.write(frame.to_ndarray(format="rgb24"), pix_fmt="rgb24")
    copies = _decoded(out)
    assert np.array_equal(copies[0].to_ndarray(), originals[0].to_ndarray())
    assert [mf.read_stamp(f) for f in copies] == [0, 1, 2, 3]
    # RGB in is converted with the source's bt709 matrix: the picture must not shift colour.
    diff = np.abs(copies[3].to_ndarray().astype(int) - originals[3].to_ndarray().astype(int))
    assert diff.mean() < 1.5


def test_wrong_size_frame_is_refused(tmp_path: Path, sources: dict[str, Path]) -> None:
    source = _source(sources["ffv1"])
    out = tmp_path / "bad.mkv"
    with pytest.raises(UsageError, match="frame 0"), VideoWriter(out, codec="ffv1", source=source) as writer:
        writer.write(av.VideoFrame(64, 48, "yuv420p"))
    assert list(tmp_path.iterdir()) == []


def test_failing_block_leaves_nothing(tmp_path: Path, sources: dict[str, Path]) -> None:
    source = _source(sources["ffv1"])
    out = tmp_path / "never.mov"
    with (
        pytest.raises(RuntimeError, match="engine crashed"),
        VideoWriter(out, codec="prores", source=source) as writer,
    ):
        with FrameReader(sources["ffv1"]) as reader:
            for frame in reader.frames(0, 5):
                writer.write(frame.frame)
        assert any(parse_temp_name(p.name) is not None for p in tmp_path.iterdir())
        raise RuntimeError("engine crashed")
    assert list(tmp_path.iterdir()) == []


def test_abort_and_empty_close_leave_nothing(tmp_path: Path, sources: dict[str, Path]) -> None:
    source = _source(sources["ffv1"])
    writer = VideoWriter(tmp_path / "cancelled.mkv", codec="ffv1", source=source)
    writer.write(av.VideoFrame(source.width, source.height, source.pix_fmt))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with (
        pytest.raises(OutputError, match="no frames"),
        VideoWriter(tmp_path / "empty.mkv", codec="ffv1", source=source),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


def test_existing_target_is_only_replaced_on_success(tmp_path: Path, sources: dict[str, Path]) -> None:
    source = _source(sources["ffv1"])
    out = tmp_path / "v001.mkv"
    out.write_bytes(b"previous render")
    with pytest.raises(KeyError), VideoWriter(out, codec="ffv1", source=source) as writer:
        writer.write(av.VideoFrame(source.width, source.height, source.pix_fmt))
        raise KeyError("boom")
    assert out.read_bytes() == b"previous render"
    _copy_range(sources["ffv1"], out, "ffv1", 0, 2)
    assert _source(out).frame_count == 2


def test_refuses_to_overwrite_an_input(tmp_path: Path, sources: dict[str, Path]) -> None:
    clip = mf.make_ffv1(tmp_path / "clip.mkv", num_frames=3)
    source = _source(clip)
    before = clip.read_bytes()
    with pytest.raises(OutputError, match="never write over source media"):
        VideoWriter(clip, codec="ffv1", source=source, inputs=[clip])
    with pytest.raises(OutputError):  # same file through another spelling of the path
        check_output_path(tmp_path / "sub" / ".." / "clip.mkv", [clip])
    link = tmp_path / "link.mkv"
    link.symlink_to(clip)
    with pytest.raises(OutputError):
        check_output_path(link, [clip])
    assert clip.read_bytes() == before
    check_output_path(tmp_path / "new.mkv", [clip])  # a new name is fine


def test_missing_folder(tmp_path: Path, sources: dict[str, Path]) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(missing / "out.mkv", codec="ffv1", source=_source(sources["ffv1"]))
    assert not missing.exists()  # never creates folders


def test_unwritable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(locked / "out.mov", [])
    finally:
        locked.chmod(0o755)


def test_codec_and_container_rules(tmp_path: Path, sources: dict[str, Path]) -> None:
    assert default_codec_for("a.mkv") == "ffv1"
    assert default_codec_for(Path("b.MOV")) == "prores"
    assert default_codec_for("c.mp4") == "h264"
    with pytest.raises(UsageError, match=".avi"):
        default_codec_for("d.avi")
    for codec, preset in CODEC_PRESETS.items():
        for suffix in preset.extensions:
            check_codec_container(codec, f"x{suffix}")
    with pytest.raises(UsageError, match=r"use \.mov for prores"):
        check_codec_container("prores", "x.mp4")
    with pytest.raises(UsageError, match=r"\.mkv"):
        check_codec_container("ffv1", "x.mp4")
    with pytest.raises(UsageError, match="choose one of"):
        check_codec_container("mjpeg", "x.mov")
    with pytest.raises(UsageError, match="256x120"):
        VideoWriter(tmp_path / "small.mov", codec="dnxhr", source=_source(sources["ffv1"]))
    assert list(tmp_path.iterdir()) == []


def _audio_samples(path: Path) -> tuple[str, int, np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        name, channels = stream.codec_context.name, stream.codec_context.channels
    data = np.concatenate(chunks, axis=1)
    if data.shape[0] == 1 and channels > 1:
        data = data.reshape(-1, channels).T
    return name, channels, data


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_pcm_audio_is_sample_exact(tmp_path: Path, sources: dict[str, Path], suffix: str) -> None:
    rng = np.random.default_rng(7)
    # 20000 samples: longer than the 10 frames of video.
    track = AudioTrack((rng.uniform(-0.5, 0.5, (2, 20_000))).astype(np.float32), 48000)
    out = tmp_path / f"with_audio{suffix}"
    codec = "prores" if suffix == ".mov" else "ffv1"
    _copy_range(sources["ffv1"], out, codec, 0, 10, audio=track)
    name, channels, data = _audio_samples(out)
    assert (name, channels) == ("pcm_s24le", 2)
    assert data.shape == (2, 20_000)
    assert np.abs(data / 2**31 - track.samples).max() <= 1 / 2**23
    info = probe(out)
    assert info.video is not None and info.video.frame_count == 10


def test_short_mono_pcm_audio(tmp_path: Path, sources: dict[str, Path]) -> None:
    # 1001 samples: shorter than the 12 frames of video.
    track = AudioTrack(np.linspace(-1, 1, 1001, dtype=np.float32)[np.newaxis], 44100)
    out = tmp_path / "mono.mov"
    _copy_range(sources["ffv1"], out, "prores", 0, 12, audio=track)
    name, channels, data = _audio_samples(out)
    assert (name, channels, data.shape) == ("pcm_s24le", 1, (1, 1001))


def test_aac_audio_in_mp4(tmp_path: Path, sources: dict[str, Path]) -> None:
    track = AudioTrack(np.sin(np.arange(16000) / 10.0, dtype=np.float32)[np.newaxis] * 0.3, 16000)
    out = tmp_path / "preview.mp4"
    _copy_range(sources["h264"], out, "h264", 0, 24, audio=track)
    info = probe(out)
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("aac", 16000, 1)]
    assert info.audio[0].duration_s == pytest.approx(1.0, abs=0.07)
    assert info.video is not None and info.video.frame_count == 24


def test_folder_where_files_cannot_be_created() -> None:
    """Even root cannot create files in /proc: the probe file catches what os.access misses."""
    proc = Path("/proc")
    if not proc.is_dir():
        pytest.skip("no /proc on this system")
    with pytest.raises(OutputError, match="/proc"):
        check_output_path(proc / "out.mov", [])
