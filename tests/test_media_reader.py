"""FrameReader: every returned frame is the one the index names, for every codec and for VFR."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import media_factory as mf
from conftest import media_path
from mytalk.core.errors import RangeError
from mytalk.core.media import FrameReader, frame_index_for_pts, probe, read_range

N = 72  # frames per synthetic clip; keyframes every 12 (0, 12, 24, ...)

CODECS: dict[str, tuple[Callable[..., Path], str, Fraction]] = {
    "h264-mp4": (mf.make_h264, "h264.mp4", Fraction(24000, 1001)),
    "h264-mkv": (mf.make_h264, "h264.mkv", Fraction(30000, 1001)),
    "hevc-mp4": (mf.make_hevc, "hevc.mp4", Fraction(25)),
    "mpeg4-mp4": (mf.make_mpeg4, "mpeg4.mp4", Fraction(25)),
    "prores-mov": (mf.make_prores, "prores.mov", Fraction(24000, 1001)),
    "ffv1-mkv": (mf.make_ffv1, "ffv1.mkv", Fraction(24000, 1001)),
    # No index of keyframes: a seek lands on any packet (`reader._UNINDEXED_FORMATS`).
    "h264-ts": (mf.make_h264, "h264.ts", Fraction(25)),
    "h264-m2ts": (mf.make_h264, "h264.m2ts", Fraction(30000, 1001)),
    "h264-fields-mts": (mf.make_interlaced_h264, "h264_fields.mts", Fraction(25)),  # AVCHD's 1080i
    "mpeg2-ts": (mf.make_mpeg2, "mpeg2.ts", Fraction(25)),
    "mpeg2-mpg": (mf.make_mpeg2, "mpeg2.mpg", Fraction(30000, 1001)),
}

# (start, stop, handles): from the first frame, mid-GOP, on and just after a keyframe, just before
# one, across GOPs, the last frame, and handles clipped at both ends.
RANGES = [
    (0, 1, 0),
    (0, 5, 3),
    (5, 9, 0),
    (11, 12, 0),
    (12, 13, 0),
    (13, 16, 0),
    (23, 26, 2),
    (30, 50, 4),
    (47, 49, 0),
    (N - 1, N, 0),
    (N - 3, N, 5),
    (1, N - 1, 2),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reader_clips")
    return {
        key: factory(folder / name, fps=fps, num_frames=N) for key, (factory, name, fps) in CODECS.items()
    }


@pytest.mark.parametrize("key", list(CODECS))
def test_ranges_return_exactly_the_stamped_frames(clips: dict[str, Path], key: str) -> None:
    with FrameReader(clips[key]) as reader:
        assert reader.frame_count == N
        for start, stop, handles in RANGES:
            got = list(reader.frames(start, stop, handles))
            expected = list(range(max(0, start - handles), min(N, stop + handles)))
            assert [f.index for f in got] == expected, (start, stop, handles)
            assert [mf.read_stamp(f.frame) for f in got] == expected, (start, stop, handles)
            assert [f.in_range for f in got] == [start <= i < stop for i in expected]


@pytest.mark.parametrize("key", list(CODECS))
def test_seeking_decodes_at_most_about_one_gop(clips: dict[str, Path], key: str) -> None:
    """Reading near the end must seek, not decode the clip from its start."""
    with FrameReader(clips[key]) as reader:
        for start in (50, 61, 66):
            assert [mf.read_stamp(f.frame) for f in reader.frames(start, start + 1)] == [start]
            # One GOP is 12 frames; open GOPs may need one retry from the previous keyframe.
            assert reader.last_stats.decoded <= 30, (start, reader.last_stats)


def test_streaming_is_lazy(clips: dict[str, Path]) -> None:
    with FrameReader(clips["h264-mp4"]) as reader:
        frames = reader.frames(0, N)
        first = next(frames)
        assert first.index == 0
        assert reader.last_stats.decoded < 12  # nowhere near the 72 frames of the range
        frames.close()


def test_frames_stay_in_the_source_pixel_format(clips: dict[str, Path]) -> None:
    with FrameReader(clips["prores-mov"]) as reader:
        frame = next(reader.frames(3, 4))
    assert frame.frame.format.name == "yuv422p10le"
    rgb = frame.to_rgb()
    assert rgb.shape == (mf.DEFAULT_SIZE[1], mf.DEFAULT_SIZE[0], 3) and rgb.dtype == np.uint8
    assert mf.read_stamp(rgb) == 3


def test_reader_accepts_a_probe_result(clips: dict[str, Path]) -> None:
    info = probe(clips["ffv1-mkv"])
    with FrameReader(clips["ffv1-mkv"], info) as reader:
        assert [f.index for f in reader.frames(70, 72)] == [70, 71]


def test_read_range_convenience(clips: dict[str, Path]) -> None:
    frames = read_range(clips["mpeg4-mp4"], 20, 22, handles=1)
    assert [(f.index, mf.read_stamp(f.frame), f.in_range) for f in frames] == [
        (19, 19, False),
        (20, 20, True),
        (21, 21, True),
        (22, 22, False),
    ]


@pytest.mark.parametrize(
    ("start", "stop", "words"),
    [
        (-1, 3, "starts at frame -1"),
        (5, 5, "empty or reversed"),
        (9, 4, "empty or reversed"),
        (N, N + 2, "past the end"),
    ],
)
def test_bad_ranges(clips: dict[str, Path], start: int, stop: int, words: str) -> None:
    with FrameReader(clips["h264-mp4"]) as reader, pytest.raises(RangeError, match=words) as excinfo:
        reader.frames(start, stop)
    assert f"has {N} frames" in str(excinfo.value)
    with pytest.raises(RangeError):
        read_range(clips["h264-mp4"], start, stop)  # raised before iterating


def _vfr_expected(pts: list[int], fps: Fraction, frame_count: int) -> list[int]:
    """The documented mapping: output frame n shows the latest source frame with index <= n."""
    indices = [math.floor((p - pts[0]) * Fraction(1, 25) * fps + Fraction(1, 2)) for p in pts]
    return [max(k for k, index in enumerate(indices) if index <= n) for n in range(frame_count)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_vfr_mapping(tmp_path: Path, suffix: str) -> None:
    path, pts = mf.make_vfr(tmp_path / f"vfr{suffix}")
    video = probe(path).video
    assert video is not None and video.is_vfr
    expected = _vfr_expected(pts, video.fps, video.frame_count)
    with FrameReader(path) as reader:
        whole = [(f.index, mf.read_stamp(f.frame)) for f in reader.frames(0, video.frame_count)]
        assert whole == list(enumerate(expected))
        # Duplicates fill gaps and collisions keep the later frame, also when starting mid-clip.
        for start, stop, handles in [
            (7, 11, 2),
            (13, 14, 0),
            (29, 37, 1),
            (video.frame_count - 2, video.frame_count, 3),
        ]:
            got = [(f.index, mf.read_stamp(f.frame)) for f in reader.frames(start, stop, handles)]
            lo, hi = max(0, start - handles), min(video.frame_count, stop + handles)
            assert got == [(n, expected[n]) for n in range(lo, hi)]
    assert len(set(expected)) < len(expected) or len(set(expected)) < len(pts)  # the clip really is VFR


# -- real footage: random access equals a straight decode ------------------------------------


def _sequential_grid(path: Path, upto: int) -> list[np.ndarray]:
    """Decode the clip from its start, once, and apply the index rule by hand for frames < upto."""
    video = probe(path).video
    assert video is not None
    source: list[tuple[int, np.ndarray]] = []
    with av.open(str(path)) as container:
        stream = container.streams[video.index]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            index = frame_index_for_pts(frame.pts, video.start_pts, video.time_base, video.fps)
            source.append((index, frame.to_ndarray()))
            if index > upto:
                break
    grid, k = [], 0
    for n in range(min(upto, video.frame_count)):
        while k + 1 < len(source) and source[k + 1][0] <= n:
            k += 1
        grid.append(source[k][1])
    return grid


@pytest.mark.media
@pytest.mark.parametrize(
    ("name", "last_frames"),
    [
        ("voxceleb2_00104_man_tv_224.mp4", True),
        ("retalking_face1_man_suit.mp4", True),  # VFR screen capture, 22.13 fps average
        ("hdtf_wda_bobmenendez_512.mp4", True),  # MPEG-4 part 2
        ("wav2lip_pr600_man_720p_cutaway.mov", False),  # video is stream 1, B-frames, edit list
    ],
)
def test_real_clip_random_access(name: str, last_frames: bool) -> None:
    path = media_path("video", name)
    with FrameReader(path) as reader:
        count = reader.frame_count
        ranges = [(7, 9, 0), (101, 103, 0), (count // 3, count // 3 + 4, 2)]
        if last_frames:
            ranges.append((count - 2, count, 3))
        grid = _sequential_grid(path, max(stop + handles for _, stop, handles in ranges))
        for start, stop, handles in ranges:
            got = list(reader.frames(start, stop, handles))
            expected = range(max(0, start - handles), min(count, stop + handles))
            assert [f.index for f in got] == list(expected)
            for f in got:
                assert np.array_equal(f.frame.to_ndarray(), grid[f.index]), (name, f.index)


def test_rgb_for_the_tracker_is_swscales_picture_within_a_few_levels() -> None:
    """`SourceFrame.to_rgb` converts 8-bit limited-range 4:2:0 with OpenCV (a quarter of a frame's tracking
    cost saved); the picture is swscale's up to rounding and chroma siting. Other formats go through
    swscale itself, bit for bit."""
    from mytalk.core.media.reader import SourceFrame

    picture = np.random.default_rng(5).integers(0, 256, (64, 96, 3), np.uint8)
    picture[:32] = (200, 30, 60)  # a flat coloured half: the matrix, not the noise, decides it
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
    fast = SourceFrame(0, frame, True).to_rgb()
    plain = frame.to_ndarray(format="rgb24")
    assert fast.shape == plain.shape == (64, 96, 3) and fast.dtype == np.uint8
    diff = np.abs(fast.astype(int) - plain)
    assert diff[:30].max() <= 3 and diff.mean() < 2.0
    for other in ("yuv444p", "yuv420p10le", "yuvj420p"):
        converted = frame.reformat(format=other)
        assert np.array_equal(SourceFrame(0, converted, True).to_rgb(), converted.to_ndarray(format="rgb24"))
