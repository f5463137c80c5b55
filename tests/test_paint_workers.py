"""Painting on several threads gives the frames and the report of painting on one.

The classic painter runs batches on `paint_workers` threads at once (`AppearanceStage.concurrent`).
Its frames must not depend on which thread painted them or in which order the threads finished, and
they must come back in order: faceless frames pass through between painted ones, and with the
guide's real takes a frame is painted from another one that is held for it.
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.io import wavfile

from conftest import media_path
from mytalk.core.engines import stages
from mytalk.core.engines.classic.appearance_stage import RetrievalAppearance
from mytalk.core.engines.mytalk.appearance_stage import GeneratorAppearance
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.sync import run_sync
from mytalk.core.media.audio import decode_audio, place_line
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import FrameReader

pytestmark = pytest.mark.media

LINE = "jfk_inaugural_en_16k.wav"


def _frame_digests(path: Path) -> list[str]:
    with FrameReader(path) as reader:
        return [hashlib.sha256(b"".join(bytes(p) for p in source.frame.planes)).hexdigest()
                for source in reader.frames(0, probe(path).video.frame_count)]  # type: ignore[union-attr]


def _render(request: SyncRequest, concurrent: bool, cores: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(RetrievalAppearance, "concurrent", concurrent)
        patch.setattr(os, "cpu_count", lambda: cores)
        return run_sync(request).report


def _same_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip: Path, audio: Path,
                 start: int, stop: int, references: list[str]) -> dict[str, Any]:
    reports, digests = [], []
    for name, concurrent, cores in (("one", False, 4), ("four", True, 4), ("two", True, 2)):
        out = tmp_path / f"{name}.mkv"
        request = SyncRequest(video=clip, audio=audio, output=out, in_point=str(start), out_point=str(stop),
                              engine="classic", codec="ffv1", references=references)
        reports.append(_render(request, concurrent, cores, monkeypatch))
        digests.append(_frame_digests(out))
    assert len(digests[0]) == stop - start
    assert digests[1] == digests[0] and digests[2] == digests[0], "threads changed the painted frames"
    frames = [report["frames"] for report in reports]
    assert frames[1] == frames[0] and frames[2] == frames[0]
    return reports[0]


def test_paint_workers_follow_the_stage_and_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert stages.paint_workers(RetrievalAppearance()) == stages.PAINT_WORKERS_MAX
    assert stages.paint_workers(GeneratorAppearance()) == 1  # torch threads each pass itself
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert stages.paint_workers(RetrievalAppearance()) == 1


def test_threads_paint_the_same_frames_across_a_faceless_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The full-screen graphic starts at frame 318: painted and passed-through frames alternate in order.
    report = _same_output(tmp_path, monkeypatch, media_path("video", "wav2lip_pr600_man_720p_cutaway.mov"),
                          media_path("audio", LINE), 300, 330, ["0-60"])
    found = [f["face_found"] for f in report["frames"]]
    assert False in found and any(f["changed_pixels"] > 0 for f in report["frames"])


def test_threads_paint_the_same_frames_from_the_real_take(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide's own line, shifted by 3 frames: every frame is painted from another, held one."""
    clip = media_path("video", "retalking_face2_swalwell.mp4")
    info = probe(clip)
    assert info.video is not None
    fps, n = info.video.fps, info.video.frame_count
    start, stop = n // 2, n // 2 + 40
    own = decode_audio(clip, 48000)
    shift = Fraction(3) / fps
    line = place_line(own, num_frames=stop - start, fps=fps, line_offset_s=Fraction(start) / fps - shift)
    audio = tmp_path / "line.wav"
    wavfile.write(str(audio), 48000, np.clip(np.round(line.samples[0] * 32767), -32768, 32767).astype(np.int16))
    report = _same_output(tmp_path, monkeypatch, clip, audio, start, stop, [f"0-{start}"])
    assert report["engine_report"]["retrieval"]["frames_from_take"] > 0
