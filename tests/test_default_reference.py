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
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.default_reference import (
    SAMPLE_SECONDS,
    WHOLE_CLIP_SECONDS,
    WINDOW_SECONDS,
    default_references,
    spread_windows,
    whole_clip_instead,
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
    # Spread: one window in each equal part of the clip, so the start and the end of the clip are both seen.
    parts = [int((a + b) / 2 * len(spans) // frames) for a, b in spans]
    assert parts == list(range(len(spans)))
    # A function of the clip alone: the same clip always gives the same sample (the profile cache's key).
    assert spans == [(r.start, r.stop) for r in default_references(Path("other.mov"), frames, fps)]


@pytest.mark.parametrize("cores", [1, 2, 4, 8])
def test_the_sample_splits_evenly_over_the_tracking_threads(cores: int) -> None:
    """Every tracking thread gets the same number of windows, so no window is tracked alone at the end while
    the other threads' cores idle (five windows on two threads took three rounds, on four threads two)."""
    from mytalk.core.face.range_pool import tracking_threads

    windows = len(default_references(Path("clip.mov"), 1500, FPS))
    assert windows % tracking_threads(windows, cores) == 0


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


def test_only_the_default_sample_gives_way_to_the_whole_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = tmp_path / "long.mov"
    sample = default_references(clip, 1500, FPS)
    assert whole_clip_instead(sample, clip, 1500, FPS) == (ReferenceRange(clip, 0, 1500),)
    monkeypatch.chdir(tmp_path)  # the same clip named relatively (as typed on a command line)
    assert whole_clip_instead(default_references(Path("long.mov"), 1500, FPS), clip, 1500, FPS) is not None
    assert whole_clip_instead(sample[:-1], clip, 1500, FPS) is None  # footage the user named
    assert whole_clip_instead((ReferenceRange(clip, 0, 1500),), clip, 1500, FPS) is None  # already whole
    short = default_references(clip, 200, FPS)
    assert whole_clip_instead(short, clip, 200, FPS) is None


def test_resolve_request_uses_the_sample_only_without_a_reference(tmp_path: Path) -> None:
    source = media_path("video", "hdtf_wda_katiehill_512.mp4")
    line = SHARED_MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
    clip = looped_clip(source, 40.0, tmp_path / "long.mp4")
    resolved = resolve_request(SyncRequest(video=clip, audio=line, output=tmp_path / "o.mov"))
    frames = resolved.info.video.frame_count  # type: ignore[union-attr]
    assert frames / float(resolved.fps) > WHOLE_CLIP_SECONDS
    assert resolved.references == default_references(clip, frames, resolved.fps)
    assert len(resolved.references) == int(SAMPLE_SECONDS // WINDOW_SECONDS)
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
                        "--in", "700", "--out", "750", "--codec", "ffv1", "--report", report_path)
    assert result.code == 0, result.stderr
    report = json.loads(report_path.read_text())
    learned = [(r["start"], r["stop"]) for r in report["inputs"]["references"]]
    assert learned == [(62, 187), (312, 437), (562, 687), (812, 937)], learned
    assert report["tracking"]["frames_with_face"] == 50
    changed = [bool(changed_pixels(s, o).any()) for (_, s), (_, o)
               in zip(iter_frames(clip, 700, 750), iter_frames(out), strict=True)]
    assert np.mean(changed) > 0.5, changed


@pytest.mark.media
def test_learning_from_several_windows_counts_their_frames_as_one_stage() -> None:
    """A sample's windows are one stage to the runtime's ETA: the count runs over all their frames, in order."""
    from mytalk.core.engines.base import ReferenceRange
    from mytalk.core.engines.classic.profile_builder import build_profile

    clip = media_path("video", "hdtf_wda_katiehill_512.mp4")
    events: list[tuple[int, int, str]] = []
    build_profile([ReferenceRange(clip, 0, 40), ReferenceRange(clip, 100, 160)], use_cache=False,
                  progress=lambda done, total, stage: events.append((done, total, stage)))
    tracking = [(done, total) for done, total, stage in events if stage == "learning the actor: face tracking"]
    assert tracking and {total for _, total in tracking} == {100}, tracking
    done = [d for d, _ in tracking]
    assert done == sorted(done) and done[-1] == 100 and any(0 < d < 40 for d in done) and any(d > 40 for d in done)
    stages = list(dict.fromkeys(stage for _, _, stage in events))
    # The mouths are cut while the helper is still timing the phones (`profile_builder`), so crops come first.
    assert stages == ["learning the actor: face tracking", "learning the actor: mouth crops",
                      "learning the actor: phones"], stages


def _actor_between_the_windows(target: Path) -> tuple[int, int]:
    """A 36 s clip (900 frames at 25 fps), black but for 80 frames of the actor at 185-265: between the first
    two windows of its default sample, so the sample shows no face. Returns the actor's span."""
    import av

    span = (185, 265)
    with av.open(str(media_path("video", "hdtf_wda_katiehill_512.mp4"))) as source:
        actor = [frame.to_ndarray(format="rgb24") for _, frame in zip(range(span[1] - span[0]),
                                                                      source.decode(video=0), strict=False)]
    black = np.zeros_like(actor[0])
    with av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = black.shape[1], black.shape[0], "yuv420p"
        for i in range(900):
            picture = actor[i - span[0]] if span[0] <= i < span[1] else black
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return span


@pytest.mark.media
def test_a_sample_without_the_actor_falls_back_to_the_whole_clip(tmp_path: Path) -> None:
    """Whole-clip learning found the actor wherever he was; the sample must never turn that into a failure."""
    clip = tmp_path / "cutaways.mp4"
    first, last = _actor_between_the_windows(clip)
    assert all(b <= first or a >= last for a, b in spread_windows(0, 900, FPS, whole_s=WHOLE_CLIP_SECONDS))
    out, report_path = tmp_path / "out.mkv", tmp_path / "out.json"
    result = run_mytalk("sync", clip, "--audio", SHARED_MEDIA / "audio" / "jfk_inaugural_en_16k.wav", "-o", out,
                        "--in", "200", "--out", "250", "--codec", "ffv1", "--report", report_path)
    assert result.code == 0, result.stderr
    report = json.loads(report_path.read_text())
    profiles = [v["profile"] for v in report.values() if isinstance(v, dict) and "profile" in v]
    assert profiles, list(report)
    for profile in profiles:
        assert [(s["start"], s["stop"]) for s in profile["sources"]] == [(0, 900)], profile["sources"]
        assert any("learned from the whole clip instead" in note for note in profile["notes"]), profile["notes"]
    changed = [bool(changed_pixels(s, o).any()) for (_, s), (_, o)
               in zip(iter_frames(clip, 200, 250), iter_frames(out), strict=True)]
    assert np.mean(changed) > 0.5, changed
    # Named footage without the actor is still refused, with the same one line.
    named = run_mytalk("sync", clip, "--audio", SHARED_MEDIA / "audio" / "jfk_inaugural_en_16k.wav",
                       "-o", tmp_path / "named.mkv", "--in", "200", "--out", "250", "--reference", "400-500")
    assert named.code == 2 and "shows a face in only 0 frames" in named.stderr, named.stderr
    assert not (tmp_path / "named.mkv").exists()
