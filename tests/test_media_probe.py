"""probe(): exact frame counts, exact rates, tags and errors, on synthetic and real clips."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest

import media_factory as mf
from conftest import media_path, shared_videos
from mytalk.core.errors import MediaFormatError, MediaNotFoundError
from mytalk.core.media import frame_index_for_pts, probe

NTSC_FILM = Fraction(24000, 1001)
NTSC_VIDEO = Fraction(30000, 1001)

# name: (factory, file name, fps, codec, pix_fmt, bit depth, has B-frames)
SYNTHETIC: dict[str, tuple[Callable[..., Path], str, Fraction, str, str, int, bool]] = {
    "h264-mp4": (mf.make_h264, "h264.mp4", NTSC_FILM, "h264", "yuv420p", 8, True),
    "h264-mkv": (mf.make_h264, "h264.mkv", NTSC_VIDEO, "h264", "yuv420p", 8, True),
    "hevc-mp4": (mf.make_hevc, "hevc.mp4", Fraction(25), "hevc", "yuv420p", 8, True),
    "mpeg4-mp4": (mf.make_mpeg4, "mpeg4.mp4", Fraction(25), "mpeg4", "yuv420p", 8, True),
    "prores-mov": (mf.make_prores, "prores.mov", NTSC_FILM, "prores", "yuv422p10le", 10, False),
    "ffv1-mkv": (mf.make_ffv1, "ffv1.mkv", Fraction(50), "ffv1", "yuv420p", 8, False),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("probe_clips")
    return {key: factory(folder / name, fps=fps) for key, (factory, name, fps, *_) in SYNTHETIC.items()}


@pytest.mark.parametrize("key", list(SYNTHETIC))
def test_synthetic_clip_facts(clips: dict[str, Path], key: str) -> None:
    _, _, fps, codec, pix_fmt, depth, b_frames = SYNTHETIC[key]
    info = probe(clips[key])
    video = info.video
    assert video is not None
    assert video.frame_count == 72
    assert video.fps == fps and isinstance(video.fps, Fraction)
    assert (video.width, video.height) == mf.DEFAULT_SIZE
    assert video.codec == codec
    assert video.pix_fmt == pix_fmt
    assert video.bit_depth == depth
    assert video.has_b_frames is b_frames
    assert video.is_vfr is False
    assert video.rotation == 0
    assert video.duration_s == pytest.approx(72 / fps)
    assert info.audio == ()
    assert info.size_bytes == clips[key].stat().st_size


def test_frame_count_matches_decoded_frames(clips: dict[str, Path]) -> None:
    path = clips["h264-mp4"]
    with av.open(str(path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert probe(path).video.frame_count == decoded  # type: ignore[union-attr]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_vfr_frame_count_follows_the_index_rule(tmp_path: Path, suffix: str) -> None:
    path, pts = mf.make_vfr(tmp_path / f"vfr{suffix}")
    video = probe(path).video
    assert video is not None and video.is_vfr
    tick = Fraction(1, 25)
    indices = [math.floor((p - pts[0]) * tick * video.fps + Fraction(1, 2)) for p in pts]
    assert video.frame_count == max(indices) + 1


def test_colour_rotation_and_timecode(tmp_path: Path) -> None:
    tagged = probe(mf.make_ffv1(tmp_path / "tagged.mkv", colour_tags=True)).video
    assert tagged is not None
    assert (tagged.color_range, tagged.color_space, tagged.color_primaries, tagged.color_trc) == (
        "tv",
        "bt709",
        "bt709",
        "bt709",
    )
    assert probe(mf.make_h264(tmp_path / "rot.mp4", rotation=90, num_frames=12)).video.rotation == 90  # type: ignore[union-attr]
    assert probe(mf.make_h264(tmp_path / "rot.mov", rotation=-90, num_frames=12)).video.rotation == 270  # type: ignore[union-attr]
    timed = probe(mf.make_prores(tmp_path / "tc.mov", timecode="01:00:00:00", num_frames=12)).video
    assert timed is not None and timed.start_timecode == "01:00:00:00"
    untimed = probe(mf.make_h264(tmp_path / "plain.mp4", num_frames=12)).video
    assert untimed is not None and untimed.start_timecode is None


def test_to_dict_is_json_safe_and_exact(clips: dict[str, Path]) -> None:
    data = probe(clips["h264-mp4"]).to_dict()
    text = json.dumps(data)
    back = json.loads(text)
    assert back["video"]["fps"] == "24000/1001"
    assert back["video"]["time_base"] == "1/24000"
    assert back["path"] == str(clips["h264-mp4"])
    assert back["audio"] == []


def test_index_rule_rounds_half_up() -> None:
    tb = Fraction(1, 50)
    assert [frame_index_for_pts(p, 0, tb, Fraction(25)) for p in range(6)] == [0, 1, 1, 2, 2, 3]
    # 23.976 in Matroska's millisecond time base still lands on whole frames.
    ms = Fraction(1, 1000)
    assert [frame_index_for_pts(p, 0, ms, NTSC_FILM) for p in (0, 42, 83, 125, 167)] == [0, 1, 2, 3, 4]
    assert frame_index_for_pts(1507, 507, Fraction(1, 1000), Fraction(1)) == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match="nope.mp4"):
        probe(tmp_path / "nope.mp4")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(MediaFormatError, match="notes.mp4") as excinfo:
        probe(fake)
    assert "\n" not in str(excinfo.value)


def test_folder_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(MediaFormatError, match="folder"):
        probe(tmp_path)


def test_audio_only_file(tmp_path: Path) -> None:
    wav = mf.make_click_wav(tmp_path / "click.wav", rate=48000, num_samples=4800, clicks=[100])
    info = probe(wav)
    assert info.video is None
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("pcm_s16le", 48000, 1)]
    assert info.duration_s == pytest.approx(0.1)


# -- real footage ------------------------------------------------------------------------------

REAL_FPS = {
    "hdtf_wda_bobmenendez_512.mp4": Fraction(25),
    "hdtf_wda_katiehill_512.mp4": Fraction(25),
    "voxceleb2_00104_man_tv_224.mp4": Fraction(25),
    "latentsync_demo2_man_vertical_hevc.mp4": Fraction(25),
    "retalking_face2_swalwell.mp4": Fraction(25),
    "retalking_face5_woman_glasses_eu.mp4": Fraction(25),
    "retalking_face4_woman_bluebg.mp4": Fraction(30),
    "wav2lip_pr600_man_720p_cutaway.mov": Fraction(30),
}


@pytest.mark.media
@pytest.mark.parametrize("name", sorted(REAL_FPS))
def test_real_clip_fps(name: str) -> None:
    video = probe(media_path("video", name)).video
    assert video is not None
    assert video.fps == REAL_FPS[name]


@pytest.mark.media
def test_real_clip_odd_rate() -> None:
    """retalking_face1 is a screen capture at a 22.13 fps average (30 fps base, dropped frames)."""
    path = media_path("video", "retalking_face1_man_suit.mp4")
    video = probe(path).video
    assert video is not None
    with av.open(str(path)) as container:
        stream_rate = container.streams.video[0].average_rate
    assert stream_rate is not None
    assert video.fps == stream_rate
    assert float(video.fps) == pytest.approx(22.13, abs=0.01)
    assert video.start_pts > 0  # its first frame is not at time zero
    assert video.is_vfr


@pytest.mark.media
@pytest.mark.parametrize(
    "name",
    ["voxceleb2_00104_man_tv_224.mp4", "hdtf_wda_bobmenendez_512.mp4", "wav2lip_pr600_man_720p_cutaway.mov"],
)
def test_real_clip_frame_count_equals_decoded(name: str) -> None:
    path = media_path("video", name)
    video = probe(path).video
    assert video is not None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = sum(1 for _ in container.decode(stream))
    assert video.frame_count == decoded


@pytest.mark.media
def test_every_real_clip_probes(shared_media: Path) -> None:
    clips = shared_videos()
    assert clips
    for path in clips:
        info = probe(path)
        video = info.video
        assert video is not None, path
        assert video.frame_count > 0 and video.width > 0 and video.height > 0
        assert video.frame_count == pytest.approx(float(video.fps) * info.duration_s, abs=1)
        assert info.audio, f"{path.name} has a sound track"
        json.dumps(info.to_dict())


@pytest.mark.media
def test_real_mov_and_hevc_details() -> None:
    mov = probe(media_path("video", "wav2lip_pr600_man_720p_cutaway.mov"))
    assert mov.video is not None and mov.video.index == 1  # audio comes first in this file
    assert [a.index for a in mov.audio] == [0]
    assert (mov.video.color_primaries, mov.video.color_trc, mov.video.color_range) == ("bt709", "bt709", "tv")
    hevc = probe(media_path("video", "latentsync_demo2_man_vertical_hevc.mp4")).video
    assert hevc is not None
    assert (hevc.codec, hevc.width, hevc.height, hevc.has_b_frames) == ("hevc", 1080, 1920, True)


# -- the sample-table path: timestamps from a QuickTime/MP4 index, without reading the frames ----------------

def _both_ways(path: Path) -> tuple[tuple[list[int], bool] | None, tuple[list[int], bool]]:
    from mytalk.core.media.probe import _demuxed_timestamps, _indexed_timestamps, main_video_stream

    with av.open(str(path)) as container:
        stream = main_video_stream(container)
        assert stream is not None
        indexed = _indexed_timestamps(container, stream, path)
    with av.open(str(path)) as container:
        stream = main_video_stream(container)
        assert stream is not None
        return indexed, _demuxed_timestamps(container, stream, path)


@pytest.mark.parametrize(("make", "name", "used"), [
    (mf.make_prores, "prores.mov", True),
    (mf.make_h264, "bframes.mov", True),  # 3 B-frames, pyramid: presentation order differs from decode order
    (mf.make_h264, "bframes.mp4", True),
    (mf.make_hevc, "open_gop.mp4", True),  # leading pictures before each CRA keyframe
    (mf.make_mpeg4, "mpeg4.mov", True),
    (lambda path, **kw: mf.make_vfr(path, **kw)[0], "vfr.mov", False),
    (mf.make_ffv1, "ffv1.mkv", False),  # Matroska: not a sample table
])
def test_the_sample_table_gives_what_demuxing_gives(tmp_path: Path, make: Callable[..., Path], name: str,
                                                    used: bool) -> None:
    clip = make(tmp_path / name, num_frames=40)
    indexed, demuxed = _both_ways(clip)
    assert (indexed is not None) == used
    if indexed is not None:
        assert sorted(indexed[0]) == sorted(demuxed[0]) and indexed[1] == demuxed[1]


@pytest.mark.media
@pytest.mark.parametrize("clip", shared_videos(), ids=lambda p: p.name)
def test_the_sample_table_agrees_on_every_shared_clip(clip: Path) -> None:
    indexed, demuxed = _both_ways(clip)
    if indexed is not None:  # edit lists with discarded frames take the demux path
        assert sorted(indexed[0]) == sorted(demuxed[0]) and indexed[1] == demuxed[1]


def test_a_truncated_copy_is_counted_by_what_it_holds(tmp_path: Path) -> None:
    """A table promising frames past the file's end (a copy cut short) is not believed."""
    whole = mf.make_prores(tmp_path / "whole.mov", num_frames=40)
    moved = tmp_path / "faststart.mov"  # the table first, as a camera or a web export writes it
    with av.open(str(whole)) as src, av.open(str(moved), "w", options={"movflags": "faststart"}) as out:
        video = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
    data = moved.read_bytes()
    cut = tmp_path / "cut.mov"
    cut.write_bytes(data[: len(data) * 2 // 3])
    indexed, demuxed = _both_ways(cut)
    assert indexed is None
    info = probe(cut).video
    assert info is not None and 0 < info.frame_count < 40 and info.frame_count == len(demuxed[0])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="reads are counted through Linux's /proc/self/io")
def test_probing_a_long_prores_file_does_not_read_it(tmp_path: Path) -> None:
    """An hour of 1080p ProRes is about 80 GB; the probe reads its table and the first packets only."""
    seed = mf.make_prores(tmp_path / "seed.mov", num_frames=8, size=(640, 360))
    long = tmp_path / "long.mov"
    with av.open(str(seed)) as src, av.open(str(long), "w") as out:
        source = src.streams.video[0]
        video = out.add_stream_from_template(source)
        packets = [packet for packet in src.demux(source) if packet.size]
        step = packets[1].pts - packets[0].pts
        for n in range(1500):  # a minute at 25 fps, the seed's 8 pictures over and over
            packet = av.Packet(bytes(packets[n % len(packets)]))
            packet.pts = packet.dts = n * step
            packet.duration, packet.time_base, packet.stream = step, source.time_base, video
            packet.is_keyframe = True
            out.mux(packet)

    def read_so_far() -> int:
        return int(next(line.split()[1] for line in Path("/proc/self/io").read_text().splitlines()
                        if line.startswith("rchar:")))

    before = read_so_far()
    info = probe(long).video
    read = read_so_far() - before
    assert info is not None and info.frame_count == 1500 and not info.is_vfr
    assert read < long.stat().st_size // 10, f"read {read} bytes of a {long.stat().st_size}-byte file"
