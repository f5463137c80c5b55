"""Conform metadata (issue #16): every render carries a timecode that starts at the source timecode of its first
frame, and a reel name of its own that no EDL can confuse with the source's.

Timecodes are read back from the files with PyAV, where a conform tool finds them: the QuickTime tmcd track
(shown by ffmpeg on the video stream and on the track's own data stream) in mov and mp4, the segment's
TIMECODE tag in mkv. Sources are synthetic clips with and without a timecode track (`media_factory`), and one
real shared clip for a commit.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest

import media_factory as mf
from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.errors import UsageError
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media import FrameReader, VideoWriter, probe
from mytalk.core.media.writer import REEL_NAME_LENGTH, edl_reel_name, render_reel_name
from mytalk.core.timecode import frames_to_smpte, source_timecode_at

NTSC, NTSC60, FILM = Fraction(30000, 1001), Fraction(60000, 1001), Fraction(24000, 1001)
SIZE = (128, 32)  # the smallest picture that carries a frame stamp


def written_timecodes(path: Path) -> dict[str, str | None]:
    """The timecode of a file as each place that can carry it says, read with PyAV."""
    with av.open(str(path)) as container:
        data = [s for s in container.streams if s.type == "data"]
        tags = {key.lower(): value for key, value in container.metadata.items()}
        return {
            "video": container.streams.video[0].metadata.get("timecode"),
            "tmcd": data[0].metadata.get("timecode") if data else None,
            "container": tags.get("timecode"),
        }


def written_reel(path: Path) -> str | None:
    with av.open(str(path)) as container:
        for stream in container.streams:
            for key, value in stream.metadata.items():
                if key.lower() == "reel_name":
                    return str(value)
    return None


def expect_timecode(path: Path, label: str) -> None:
    found = written_timecodes(path)
    if path.suffix == ".mkv":
        assert found["container"] == label, found
    else:  # a tmcd track: ffmpeg's mov muxer makes one from the `timecode` entry
        assert found["video"] == label and found["tmcd"] == label, found


# -- the timecode of a frame -------------------------------------------------------------------------------

TIMECODE_ROWS = [
    # id, fps, the source's start timecode, first frame, the render's timecode
    ("25-with-source-tc", Fraction(25), "10:00:00:00", 12, "10:00:00:12"),
    ("29.97-drop-frame-across-the-hour", NTSC, "00:59:59;28", 10, "01:00:00;08"),
    ("29.97-non-drop-source-stays-non-drop", NTSC, "01:00:00:00", 30, "01:00:01:00"),
    ("59.94-drop-frame-skips-four-labels", NTSC60, "00:00:59;58", 2, "00:01:00;04"),
    ("23.976-no-source-tc-is-clip-relative", FILM, None, 30, "00:00:01:06"),
    ("29.97-no-source-tc-is-drop-frame", NTSC, None, 1800, "00:01:00;02"),
    ("wraps-at-24-hours", Fraction(25), "23:59:59:20", 10, "00:00:00:05"),
]


@pytest.mark.parametrize(("fps", "start", "frame", "label"), [r[1:] for r in TIMECODE_ROWS],
                         ids=[r[0] for r in TIMECODE_ROWS])
def test_the_timecode_of_a_frame_is_the_sources_plus_the_frame(fps: Fraction, start: str | None, frame: int,
                                                               label: str) -> None:
    assert source_timecode_at(frame, fps, start) == label


def test_a_drop_frame_label_at_a_rate_without_drop_frame_is_refused() -> None:
    with pytest.raises(UsageError, match="drop-frame"):
        source_timecode_at(0, Fraction(25), "01:00:00;00")


# -- renders carry it --------------------------------------------------------------------------------------

WRITER_ROWS = [
    # id, codec, suffix, fps, the source's start timecode, first frame
    ("prores-mov-25", "prores", ".mov", Fraction(25), "10:00:00:00", 12),
    ("prores-mov-29.97-df", "prores", ".mov", NTSC, "00:59:59;28", 10),
    ("ffv1-mkv-25", "ffv1", ".mkv", Fraction(25), "10:00:00:00", 12),
    ("ffv1-mkv-no-source-tc", "ffv1", ".mkv", FILM, None, 30),
    ("h264-mp4-59.94-df", "h264", ".mp4", NTSC60, "00:00:59;58", 2),
    ("h264-mov-no-source-tc", "h264", ".mov", NTSC, None, 20),
]


@pytest.mark.parametrize(("codec", "suffix", "fps", "start", "first"), [r[1:] for r in WRITER_ROWS],
                         ids=[r[0] for r in WRITER_ROWS])
def test_a_render_starts_at_the_source_timecode_of_its_first_frame(
        tmp_path: Path, codec: str, suffix: str, fps: Fraction, start: str | None, first: int) -> None:
    """The writer is given decoded source frames only, as `run_sync` gives them: it reads the first
    frame's index from its timestamps. A frame that has none (an array) needs `first_frame`."""
    clip = mf.make_h264(tmp_path / "source.mov", num_frames=first + 8, fps=fps, size=SIZE, timecode=start)
    source = probe(clip).video
    assert source is not None and source.start_timecode == start
    expected = source_timecode_at(first, fps, start)
    out = tmp_path / f"render{suffix}"
    with FrameReader(clip) as reader, VideoWriter(out, codec=codec, source=source, inputs=[clip]) as writer:
        for frame in reader.frames(first, first + 4):
            writer.write(frame.frame)
    assert writer.start_timecode == expected
    expect_timecode(out, expected)
    rendered = probe(out).video
    assert rendered is not None and rendered.start_timecode == expected

    from_arrays = tmp_path / f"arrays{suffix}"
    with FrameReader(clip) as reader, VideoWriter(from_arrays, codec=codec, source=source, first_frame=first) as writer:
        for frame in reader.frames(first, first + 2):
            writer.write(frame.frame.to_ndarray(format="rgb24"), pix_fmt="rgb24")
    expect_timecode(from_arrays, expected)


def test_a_render_has_a_reel_of_its_own_that_no_edl_can_confuse_with_the_sources(tmp_path: Path) -> None:
    # Both names cut to the same 8 characters: an EDL writer would give them one reel.
    clip = mf.make_h264(tmp_path / "interview_take2.mov", num_frames=8, size=SIZE, timecode="01:00:00:00")
    source = probe(clip).video
    assert source is not None
    for codec, suffix in (("prores", ".mov"), ("ffv1", ".mkv")):
        out = tmp_path / f"interview_take2_2-6_v001{suffix}"
        assert edl_reel_name(out.name) == edl_reel_name(clip.name) == "INTERVIE", "the collision the reel avoids"
        with FrameReader(clip) as reader, VideoWriter(out, codec=codec, source=source, inputs=[clip]) as writer:
            for frame in reader.frames(2, 6):
                writer.write(frame.frame)
        reel = written_reel(out)
        assert reel == writer.reel_name == render_reel_name(out.name, [clip.name])
        assert reel is not None and len(reel) == REEL_NAME_LENGTH and reel.startswith("MT") and reel.isalnum()
        assert edl_reel_name(reel) != edl_reel_name(clip.name)
        rendered = probe(out).video
        assert rendered is not None and rendered.reel_name == reel


def test_reel_names_differ_between_versions_and_never_take_an_inputs_reel() -> None:
    first, second = render_reel_name("shot_0-25_v001.mov"), render_reel_name("shot_0-25_v002.mov")
    assert first != second and render_reel_name("shot_0-25_v001.mov") == first
    assert render_reel_name("shot_0-25_v001.mov", [first]) != first, "a reel an input already has is skipped"
    assert render_reel_name("shot_0-25_v001.mov", [first.lower() + "_camera_b.mov"]) != first, \
        "compared after an EDL's 8-character truncation"


# -- through the render path -------------------------------------------------------------------------------


def test_mytalk_sync_output_starts_at_the_source_timecode_of_the_in_point(tmp_path: Path) -> None:
    clip = mf.make_h264(tmp_path / "clip.mov", num_frames=36, fps=NTSC, timecode="00:59:59;20")
    line = mf.make_click_wav(tmp_path / "line.wav", rate=48000, num_samples=48000, clicks=[1000])
    out = tmp_path / "fixed.mov"
    result = run_mytalk("sync", clip, "--audio", line, "-o", out, "--in", "12", "--out", "30", "--engine", "copy",
                        "--quiet")
    assert result.code == 0, result.stderr
    expect_timecode(out, "01:00:00;02")  # 00:59:59;20 + 12 frames, no labels dropped at 01:00:00
    assert written_reel(out) == render_reel_name(out.name, [clip.name, line.name])


def test_a_commit_of_a_clip_without_timecode_is_clip_relative(tmp_path: Path) -> None:
    clip = media_path("video", "retalking_face2_swalwell.mp4")  # 25 fps, no timecode track
    line = mf.make_click_wav(tmp_path / "line.wav", rate=48000, num_samples=48000, clicks=[1000])
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    result = commands.commit(session, SyncRequest(video=clip, audio=line, output=tmp_path / "renders",
                                                  engine="copy", in_point="40", out_point="50"))
    assert probe(clip).video.start_timecode is None  # type: ignore[union-attr]
    expect_timecode(result.output, "00:00:01:15")
    assert result.to_dict()["in_timecode"] == frames_to_smpte(40, Fraction(25)) == "00:00:01:15"
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["output"]["path"] == str(result.output)
