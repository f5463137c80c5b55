"""A cold job paints a short range from the frames tracking decoded, and reads a long one again.

Either way the output is the same, frame for frame, as a warm job's, which decodes the range once
from the file; the report says how many times the range was read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.media import frame_stash
from mytalk.core.media.frame_stash import FrameStash, frame_bytes
from mytalk.core.media.reader import FrameReader, SourceFrame


def _frame(index: int, size: int = 16) -> SourceFrame:
    picture = av.VideoFrame.from_ndarray(np.full((size, size, 3), index % 256, np.uint8), format="rgb24")
    return SourceFrame(index, picture, True)


def test_a_stash_hands_back_the_range_with_its_handles_marked() -> None:
    stash = FrameStash(8, 14)
    for index in range(8, 14):
        stash.keep(_frame(index))
    assert stash.complete and stash.nbytes == 6 * frame_bytes(_frame(0).frame)
    frames = list(stash.frames(10, 12))
    assert [f.index for f in frames] == list(range(8, 14))
    assert [f.in_range for f in frames] == [False, False, True, True, False, False]
    assert [int(f.frame.to_ndarray()[0, 0, 0]) for f in frames] == list(range(8, 14))
    assert not stash.complete and stash.nbytes == 0, "handed out once, then let go"
    assert stash.range_reads(painted_from_stash=True) == 1


def test_a_range_over_the_budget_is_let_go_and_read_again() -> None:
    one = frame_bytes(_frame(0).frame)
    stash = FrameStash(0, 10, budget=4 * one)
    for index in range(10):
        stash.keep(_frame(index))
    assert not stash.complete and stash.nbytes == 0 and stash.offered == 10
    assert stash.range_reads(painted_from_stash=False) == 2
    with pytest.raises(RuntimeError):
        next(stash.frames(0, 10))
    assert FrameStash(0, 10).range_reads(painted_from_stash=False) == 1, "tracking cached: read once"


def test_a_stash_refuses_frames_out_of_order() -> None:
    stash = FrameStash(0, 4)
    stash.keep(_frame(0))
    with pytest.raises(ValueError, match="out of order"):
        stash.keep(_frame(2))


def _digests(path: Path) -> list[str]:
    with FrameReader(path) as reader:
        return [hashlib.sha256(b"".join(bytes(p) for p in f.frame.planes)).hexdigest()
                for f in reader.frames(0, reader.frame_count)]


def _sync(clip: Path, out: Path, *extra: str) -> dict:
    report = out.with_suffix(".json")
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", "40", "--out", "70", "--engine", "classic", "--codec", "ffv1", "--report", report,
                        "--quiet", *extra)
    assert result.code == 0, result.stderr
    return json.loads(report.read_text())


@pytest.mark.media
def test_cold_job_decodes_a_short_range_once_with_the_warm_jobs_frames(tmp_path: Path) -> None:
    clip = media_path("video", "hdtf_wda_katiehill_512.mp4")
    cold = _sync(clip, tmp_path / "cold.mkv")
    warm = _sync(clip, tmp_path / "warm.mkv")
    assert cold["range_reads"] == 1 and warm["range_reads"] == 1
    assert not cold["engine_report"]["profile"]["from_cache"] and warm["engine_report"]["profile"]["from_cache"]
    assert _digests(tmp_path / "cold.mkv") == _digests(tmp_path / "warm.mkv")
    assert cold["frames"] == warm["frames"]


@pytest.mark.media
def test_cold_job_over_the_budget_reads_the_range_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In process, so that the budget can be made smaller than the range.
    from mytalk.core.jobs.request import SyncRequest
    from mytalk.core.jobs.sync import run_sync

    monkeypatch.setattr(frame_stash, "DECODED_RANGE_BUDGET", 512 * 512 * 3)
    clip = media_path("video", "hdtf_wda_katiehill_512.mp4")
    # The actor is learned from other frames, so the range is tracked on its own (inside the default
    # reference, the whole clip, it would be read from the reference's tracking and never decoded for it).
    request = SyncRequest(video=clip, audio=media_path("audio", "jfk_inaugural_en_16k.wav"),
                          output=tmp_path / "long.mkv", in_point="40", out_point="70", engine="classic", codec="ffv1",
                          references=["100-200"])
    report = run_sync(request).report
    assert report["range_reads"] == 2
    reference = _sync(clip, tmp_path / "again.mkv", "--reference", "100-200")
    assert _digests(tmp_path / "long.mkv") == _digests(tmp_path / "again.mkv")
    assert report["frames"] == reference["frames"]
