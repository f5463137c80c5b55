"""The footage the actor is learned from without `--reference`: the whole clip, or a bounded sample of a long one."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_first_frame import looped_clip
from benchmarks.eval.lower_face import changed_pixels
from benchmarks.eval.mediaio import iter_frames
from mytalk.core.jobs.default_reference import (
    SAMPLE_SECONDS,
    WHOLE_CLIP_SECONDS,
    WINDOW_SECONDS,
    default_references,
    spread_windows,
)
from mytalk.core.jobs.request import SyncRequest, resolve_request
from tests.cli_helpers import run_mytalk
from tests.conftest import SHARED_MEDIA, media_path

FPS = Fraction(25)


@pytest.mark.parametrize("seconds", [1, 8, 20, 30])
def test_a_clip_up_to_the_threshold_is_learned_whole(seconds: int) -> None:
    frames = int(seconds * FPS)
    (only,) = default_references(Path("clip.mov"), frames, FPS)
    assert (only.start, only.stop) == (0, frames)


@pytest.mark.parametrize(("frames", "fps"), [(751, FPS), (1500, FPS), (15_000, FPS), (10_800, Fraction(30000, 1001)),
                                             (3_600, Fraction(24))])
def test_a_long_clip_is_learned_from_windows_spread_over_it(frames: int, fps: Fraction) -> None:
    spans = [(r.start, r.stop) for r in default_references(Path("clip.mov"), frames, fps)]
    width = round(WINDOW_SECONDS * float(fps))
    assert len(spans) == int(SAMPLE_SECONDS // WINDOW_SECONDS)
    assert all(b - a == width for a, b in spans), spans
    # In order, apart, inside the clip, and never more than the sample's length.
    assert all(0 <= a < b <= frames for a, b in spans)
    assert all(b0 < a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False)), spans
    assert sum(b - a for a, b in spans) / float(fps) == pytest.approx(SAMPLE_SECONDS, abs=0.05)
    # Spread: one window in each fifth of the clip, so the start and the end of the clip are both seen.
    fifths = [int((a + b) / 2 * len(spans) // frames) for a, b in spans]
    assert fifths == list(range(len(spans)))
    # A function of the clip alone: the same clip always gives the same sample (the profile cache's key).
    assert spans == [(r.start, r.stop) for r in default_references(Path("other.mov"), frames, fps)]


def test_windows_that_would_touch_are_one_span() -> None:
    # 24 s sampled for 20 s with a 20 s threshold: the windows nearly tile the span, and the ones that
    # would meet are joined, so no phone of the footage is cut at a seam between two of them.
    spans = spread_windows(0, 600, FPS, budget_s=20.0, whole_s=20.0)
    assert all(b0 < a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False)), spans
    assert sum(b - a for a, b in spans) == 500
    assert spread_windows(100, 200, FPS, budget_s=4.0) == [(100, 200)]
    assert spread_windows(0, 273, Fraction(30), budget_s=4.0) == [(76, 196)]
    with pytest.raises(ValueError):
        spread_windows(10, 10, FPS)


def test_resolve_request_uses_the_sample_only_without_a_reference(tmp_path: Path) -> None:
    source = media_path("video", "hdtf_wda_katiehill_512.mp4")
    line = SHARED_MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
    clip = looped_clip(source, 40.0, tmp_path / "long.mp4")
    resolved = resolve_request(SyncRequest(video=clip, audio=line, output=tmp_path / "o.mov"))
    frames = resolved.info.video.frame_count  # type: ignore[union-attr]
    assert frames / float(resolved.fps) > WHOLE_CLIP_SECONDS
    assert resolved.references == default_references(clip, frames, resolved.fps)
    assert len(resolved.references) == 5
    named = resolve_request(SyncRequest(video=clip, audio=line, output=tmp_path / "o.mov", references=["0-300"]))
    assert [(r.start, r.stop) for r in named.references] == [(0, 300)]
    short = resolve_request(SyncRequest(video=source, audio=line, output=tmp_path / "o.mov"))
    assert [(r.start, r.stop) for r in short.references] == [(0, 200)]


@pytest.mark.media
def test_a_long_clip_syncs_from_its_sample(tmp_path: Path) -> None:
    """A 40 s clip, a range outside every window of its sample: learned from the sample, the range tracked on
    its own, the mouth edited; the report says what the actor was learned from."""
    source = media_path("video", "hdtf_wda_katiehill_512.mp4")
    clip = looped_clip(source, 40.0, tmp_path / "long.mp4")
    out, report_path = tmp_path / "out.mkv", tmp_path / "out.json"
    result = run_mytalk("sync", clip, "--audio", SHARED_MEDIA / "audio" / "jfk_inaugural_en_16k.wav", "-o", out,
                        "--in", "800", "--out", "850", "--codec", "ffv1", "--report", report_path)
    assert result.code == 0, result.stderr
    report = json.loads(report_path.read_text())
    learned = [(r["start"], r["stop"]) for r in report["inputs"]["references"]]
    assert learned == [(50, 150), (250, 350), (450, 550), (650, 750), (850, 950)], learned
    assert report["tracking"]["frames_with_face"] == 50
    changed = [bool(changed_pixels(s, o).any()) for (_, s), (_, o)
               in zip(iter_frames(clip, 800, 850), iter_frames(out), strict=True)]
    assert np.mean(changed) > 0.5, changed
