"""`mytalk sync --engine classic` end to end on real clips: frames, preservation, faceless frames,
silence, the reference restriction and sync recovery. Short ranges of small clips keep it fast."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from benchmarks.eval.metrics import OutsideDiff
from cli_helpers import run_mytalk
from conftest import assert_boxes_inside_the_lower_face, media_path
from mytalk.core.composite.planes import plane_arrays
from mytalk.core.face.canonical import lip_points_normalised, mouth_aperture
from mytalk.core.face.video_tracking import track_video
from mytalk.core.media.audio import decode_audio, place_line
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import FrameReader

pytestmark = pytest.mark.media

BOB = "hdtf_wda_bobmenendez_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    wavfile.write(str(path), rate, np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16))
    return path


def _sync(clip: Path, audio: Path, out: Path, start: int, stop: int, *extra: str | Path) -> dict:
    report = out.with_suffix(".json")
    result = run_mytalk("sync", clip, "--audio", audio, "-o", out, "--in", start, "--out", stop, "--engine", "classic",
                        "--codec", "ffv1", "--report", report, "--quiet", *extra)
    assert result.code == 0, result.stderr
    # --quiet: nothing on stderr, MediaPipe's native start-up lines included.
    assert "TensorFlow Lite" not in result.stderr and "W0000" not in result.stderr, result.stderr
    return json.loads(report.read_text())


def _outside_diff(clip: Path, out: Path, start: int, stop: int, boxes: list[tuple[int, int, int, int] | None]) -> OutsideDiff:
    diff = OutsideDiff()
    with FrameReader(clip) as src_reader, FrameReader(out) as out_reader:
        pairs = zip(src_reader.frames(start, stop), out_reader.frames(0, stop - start), strict=True)
        for (src, dst), box in zip(pairs, boxes, strict=True):
            assert src.frame.format.name == dst.frame.format.name
            diff.add(plane_arrays(src.frame), plane_arrays(dst.frame), box)
    return diff


def test_classic_changes_only_inside_the_mask(tmp_path: Path) -> None:
    clip = media_path("video", BOB)
    start, stop = 100, 140
    out = tmp_path / "out.mkv"
    report = _sync(clip, media_path("audio", LINE), out, start, stop, "--reference", "0-60")
    info = probe(out)
    assert info.video is not None and info.video.frame_count == stop - start
    frames = report["frames"]
    assert [f["index"] for f in frames] == list(range(start, stop))
    assert report["engine"]["name"] == "classic"
    # JFK's words are not the clip's, so the guide does not match; new words go to the phonetic driver.
    assert report["engine_report"]["driver"] == "phonetic"
    assert report["engine_report"]["motion"]["driver_decision"].startswith("phonetic")
    assert report["engine_report"]["motion"]["guide_decision"].startswith("not matched")
    assert "speech driver" not in report["engine_report"]["motion"]["guide_decision"]
    boxes = [tuple(f["mask_box"]) if f["mask_box"] else None for f in frames]
    edited = [f for f in frames if f["changed_pixels"] > 0]
    assert len(edited) >= 0.8 * len(frames), "the mouth was left alone on most frames"
    diff = _outside_diff(clip, out, start, stop, boxes)
    assert diff.compared > 0
    assert diff.changed == 0, f"{diff.changed} samples changed outside the mask boxes (max {diff.max_abs})"
    assert_boxes_inside_the_lower_face(clip, start, stop, boxes, (info.video.width, info.video.height))


def test_faceless_cutaway_frames_pass_through_with_warnings(tmp_path: Path) -> None:
    clip = media_path("video", "wav2lip_pr600_man_720p_cutaway.mov")
    # The full-screen graphic starts at 10.6 s (frame 318 at 30 fps): the range straddles the cut.
    start, stop = 308, 328
    out = tmp_path / "cut.mkv"
    report = _sync(clip, media_path("audio", LINE), out, start, stop, "--reference", "0-60")
    frames = report["frames"]
    faceless = [f for f in frames if f["face_found"] is False]
    assert len(frames) == stop - start
    assert len(faceless) >= 8, [f["face_found"] for f in frames]
    assert all(f["changed_pixels"] == 0 and f["mask_box"] is None for f in faceless)
    assert all(any("passed through unchanged" in w for w in f["warnings"]) for f in faceless)
    assert report["tracking"]["faceless_frames"] == [f["index"] for f in faceless]
    # The report's list names each of those frames once per warning, its number leading it once.
    listed = [w for w in report["warnings"] if w.startswith(f"frame {faceless[0]['index']}: ")]
    assert any("passed through unchanged" in w for w in listed), report["warnings"][:5]
    assert not [w for w in report["warnings"] if re.match(r"frame \d+: frame \d+:", w)], report["warnings"][:5]
    # Faceless frames are the decoded source, bit for bit (no box: the whole frame is compared).
    boxes = [tuple(f["mask_box"]) if f["mask_box"] else None for f in frames]
    diff = _outside_diff(clip, out, start, stop, boxes)
    assert diff.changed == 0


def test_silent_line_keeps_the_mouth_closed(tmp_path: Path) -> None:
    clip = media_path("video", BOB)
    info = probe(clip)
    assert info.video is not None
    fps = info.video.fps
    start, stop = 150, 200  # the actor talks with an open mouth through most of these frames
    # 1.6 s of digital silence, then JFK: the run_sync check needs some sound in the range.
    speech = decode_audio(media_path("audio", LINE), 16000).samples[0][: 16000]
    line = np.concatenate([np.zeros(int(1.6 * 16000), np.float32), speech])
    audio = _write_wav(tmp_path / "quiet.wav", line, 16000)
    out = tmp_path / "quiet.mkv"
    _sync(clip, audio, out, start, stop, "--reference", "0-100", "--guide", "none")
    observations = track_video(out, 0, stop - start, use_cache=False)
    aperture = np.array([mouth_aperture(o.landmarks) if o.found else np.nan for o in observations])
    silent = int(1.6 * float(fps)) - 3  # leave the frames where the mouth may open early for the speech
    closed = np.nanmean(aperture[:silent] < 0.06)
    source = np.array([mouth_aperture(o.landmarks) for o in track_video(clip, start, stop, use_cache=False)])
    assert closed >= 0.9, f"mouth closed in only {closed:.0%} of silent frames: {np.round(aperture[:silent], 3)}"
    assert np.nanmean(source[:silent] < 0.06) < 0.3, "the source must talk here, or the test proves nothing"


def test_reference_restriction_is_honoured(tmp_path: Path) -> None:
    clip = media_path("video", BOB)
    start, stop = 100, 130
    out = tmp_path / "ref.mkv"
    # The second reference overlaps the edit range; with --guide none its sound must not be learned.
    report = _sync(clip, media_path("audio", LINE), out, start, stop, "--reference", "0-30", "--reference", "90-110",
                   "--guide", "none")
    profile = report["engine_report"]["profile"]
    assert profile["temporary"] is True
    assert [(s["start"], s["stop"]) for s in profile["sources"]] == [(0, 30), (90, 110)]
    frames = [frame for _, frame in profile["appearance_source_frames"]]
    assert frames and all(0 <= f < 30 or 90 <= f < 110 for f in frames)
    assert profile["reference_frames"] == 50
    assert profile["frames_learned_from_audio"] == 40  # 90-99 only: 100-109 lies in the edit range
    assert report["engine_report"]["motion"]["guide"]["used"] is False
    assert profile["from_cache"] is False
    # The same references again (a commit after a preview): the temporary profile comes from the cache.
    again = _sync(clip, media_path("audio", LINE), tmp_path / "again.mkv", start, stop, "--reference", "0-30",
                  "--reference", "90-110", "--guide", "none")
    assert again["engine_report"]["profile"]["from_cache"] is True
    assert again["engine_report"]["profile"]["appearance_source_frames"] == profile["appearance_source_frames"]


def test_a_range_inside_the_reference_is_tracked_once_as_part_of_it(tmp_path: Path) -> None:
    """The default reference is the whole clip: learning the actor tracks every frame of it, so the range
    is read from that tracking rather than tracked a second time. A range outside the references is still
    tracked on its own."""
    from mytalk.core.engines.base import EngineSettings
    from mytalk.core.engines.tracking import job_tracker_settings
    from mytalk.core.face.cache import load_track
    from mytalk.core.hashing import file_sha256
    from mytalk.core.jobs.request import SyncRequest
    from mytalk.core.jobs.sync import run_sync
    from mytalk.core.userdirs import user_dirs

    clip = media_path("video", "hdtf_wda_katiehill_512.mp4")
    entries = user_dirs().cache / "tracking"
    stages: list[tuple[int, int, str]] = []
    report = run_sync(SyncRequest(video=clip, audio=media_path("audio", LINE), output=tmp_path / "inside.mkv",
                                  in_point="40", out_point="70", engine="classic", codec="ffv1"),
                      progress=lambda done, total, stage: stages.append((done, total, stage))).report
    assert [p.name.split("_")[1] for p in entries.glob("*.npz")] == ["0-200"]
    # The range's tracking still opens the job's progress, with the frames the render will paint (the
    # runtime's whole-job ETA adds the render from it), before the actor's learning.
    handles = SyncRequest(video=clip, audio=clip, output=tmp_path / "x.mkv").handles
    assert stages[0] == (0, min(200, 70 + handles) - max(0, 40 - handles), "face tracking"), stages[:3]
    assert any(stage.startswith("learning the actor") for _, _, stage in stages[1:])
    whole = load_track(file_sha256(clip), 0, 200, job_tracker_settings(EngineSettings()))
    assert whole is not None
    assert [f["confidence"] for f in report["frames"]] == [round(float(c), 4) for c in whole.confidence[40:70]]
    _sync(clip, media_path("audio", LINE), tmp_path / "outside.mkv", 40, 70, "--reference", "100-200")
    names = {p.name.split("_")[1] for p in entries.glob("*.npz")}
    assert len(names) == 3 and {"0-200", "100-200"} <= names, names  # and the range with its handles


def _landmarks(path: Path, start: int, stop: int) -> np.ndarray:
    observations = track_video(path, start, stop, use_cache=False)
    return np.stack([o.landmarks if o.found else np.full((478, 3), np.nan, np.float32) for o in observations])


def _lips(path: Path, start: int, stop: int) -> np.ndarray:
    return np.asarray(lip_points_normalised(_landmarks(path, start, stop).astype(np.float64)))


def test_shift_protocol_moves_the_mouth_towards_the_new_timing(tmp_path: Path) -> None:
    """The evaluation's shift protocol on one clip: the line is the clip's own sound 0.4 s earlier."""
    clip = media_path("video", "retalking_face2_swalwell.mp4")
    info = probe(clip)
    assert info.video is not None
    fps, n = info.video.fps, info.video.frame_count
    start = int(round(0.4 * n))
    shift = 0.4 * float(fps)
    own = decode_audio(clip, 48000)
    line = place_line(own, num_frames=n - start, fps=fps, line_offset_s=Fraction(start) / fps - Fraction(2, 5))
    audio = _write_wav(tmp_path / "line.wav", line.samples[0], 48000)
    out = tmp_path / "shift.mkv"
    _sync(clip, audio, out, start, n, "--guide", "none", "--reference", f"0-{start}")
    window = _lips(clip, 0, n)
    truth_at = np.arange(start, n) - shift
    lo = np.floor(truth_at).astype(int)
    w = (truth_at - lo)[:, None, None]
    truth = (1 - w) * window[lo] + w * window[np.minimum(lo + 1, n - 1)]
    source, output = _lips(clip, start, n), _lips(out, 0, n - start)
    ok = np.isfinite(truth).all(axis=(1, 2)) & np.isfinite(source).all(axis=(1, 2)) & np.isfinite(output).all(axis=(1, 2))
    tool = np.linalg.norm(output - truth, axis=-1).mean(axis=-1)[ok].mean()
    nothing = np.linalg.norm(source - truth, axis=-1).mean(axis=-1)[ok].mean()
    ratio = tool / nothing
    # Doing nothing scores 1.0. Measured 0.877 here and by the evaluation suite (full setting) with the
    # phonetic driver; the loudness-driven speech driver scored 0.758 on this clip, but 0.95 in the median
    # of the nine shared clips against the phonetic driver's 0.92 (the ratio also counts prosody and head
    # pose, which no audio predicts; motion is judged by the aperture below).
    assert ratio < 0.95, f"shift ratio {ratio:.3f}"
    assert math.isfinite(ratio)
    # The mouth opens and closes with the truth: aperture r 0.30 (eval, full setting), doing nothing -0.25.
    window_ap = np.asarray(mouth_aperture(_landmarks(clip, 0, n)), np.float64)
    truth_ap = np.interp(truth_at, np.arange(n), np.where(np.isfinite(window_ap), window_ap, np.nanmean(window_ap)))
    out_ap = np.asarray(mouth_aperture(_landmarks(out, 0, n - start)), np.float64)
    src_ap = window_ap[start:n]
    both = np.isfinite(out_ap) & np.isfinite(src_ap)
    r_tool = float(np.corrcoef(out_ap[both], truth_ap[both])[0, 1])
    r_nothing = float(np.corrcoef(src_ap[both], truth_ap[both])[0, 1])
    assert r_tool > 0.2 and r_tool > r_nothing + 0.3, f"aperture r {r_tool:.2f} (doing nothing {r_nothing:.2f})"


def test_adr_paints_the_real_take_at_the_re_timed_moment(tmp_path: Path) -> None:
    """The evaluation's adr protocol on one clip: the clip's own line with its pauses re-timed, guide on.

    The guide driver must recognise the words, re-time the mouth, and paint every frame with the
    shot's own mouth at the re-timed moment (the real take), so the lips follow the new timing.
    """
    from benchmarks.eval.retime import retime_line

    clip = media_path("video", "retalking_face2_swalwell.mp4")
    info = probe(clip)
    assert info.video is not None
    fps, n = info.video.fps, info.video.frame_count
    start = int(round(0.4 * n))
    own = decode_audio(clip, 48000)
    segment = place_line(own, num_frames=n - start, fps=fps, line_offset_s=Fraction(start) / fps)
    retimed = retime_line(segment.samples[0], 48000, seed=1)
    assert retimed.edits, "the clip's range has pauses to re-time"
    audio = _write_wav(tmp_path / "line.wav", retimed.samples, 48000)
    out = tmp_path / "adr.mkv"
    report = _sync(clip, audio, out, start, n, "--reference", f"0-{start}")
    engine = report["engine_report"]
    assert engine["driver"] == "guide" and engine["motion"]["guide"]["matched"]
    assert engine["retrieval"]["frames_from_take"] == n - start
    # Another frame's pixels are painted in, but still only inside this frame's mask.
    boxes = [tuple(f["mask_box"]) if f["mask_box"] else None for f in report["frames"]]
    assert _outside_diff(clip, out, start, n, boxes).changed == 0

    truth_at = start + retimed.time_map.source_time(np.arange(n - start) / float(fps)) * float(fps)
    window = _lips(clip, 0, n)
    has_truth = np.isfinite(truth_at)
    lo = np.floor(np.where(has_truth, truth_at, start)).astype(int)
    w = (np.where(has_truth, truth_at, start) - lo)[:, None, None]
    truth = (1 - w) * window[lo] + w * window[np.minimum(lo + 1, n - 1)]
    source, output = _lips(clip, start, n), _lips(out, 0, n - start)
    moved = has_truth & (np.abs(truth_at - np.arange(start, n)) >= 1.0)
    ok = moved & np.isfinite(truth).all(axis=(1, 2)) & np.isfinite(output).all(axis=(1, 2))
    assert ok.sum() >= 10
    tool = np.linalg.norm(output - truth, axis=-1).mean(axis=-1)[ok].mean()
    nothing = np.linalg.norm(source - truth, axis=-1).mean(axis=-1)[ok].mean()
    # Measured 0.204 here with the real take, 0.286 when the opening was painted from the references
    # (seeds 2, 3, 7: 0.244, 0.212, 0.300 against 0.278, 0.281, 0.330). Doing nothing scores 1.0 and
    # the suite's target is 0.3; tracking is deterministic, so the margin covers code changes.
    assert tool / nothing < 0.25, f"adr ratio {tool / nothing:.3f}"
