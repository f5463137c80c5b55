"""The evaluation suite's figures on synthetic data with known answers (no shared media needed)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from benchmarks.eval import metrics
from benchmarks.eval.__main__ import main as eval_main
from benchmarks.eval.mediaio import (
    SimpleWriter,
    audio_sample_count,
    count_frames,
    decode_audio_mono,
    frame_planes,
    iter_frames,
    probe_clip,
    write_wav,
)
from benchmarks.eval.report import fmt, markdown
from benchmarks.eval.retime import find_pauses, retime_line
from benchmarks.eval.runner import noise_levels, summarise

RATE = 16_000
FPS = Fraction(25)


def _smooth_signal(n: int, seed: int) -> np.ndarray:
    """A speech-like aperture: smoothed noise, 0..0.4 IOD, about 3 syllables a second."""
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal(n + 20)
    kernel = np.hanning(7)
    smooth = np.convolve(raw, kernel / kernel.sum(), mode="same")[10 : 10 + n]
    return 0.2 + 0.2 * np.tanh(smooth)


def _speech_like_audio(aperture: np.ndarray, delay_frames: int, seed: int) -> np.ndarray:
    """Noise in the 1-4 kHz band whose loudness follows the aperture `delay_frames` later."""
    rng = np.random.default_rng(seed)
    per_frame = RATE // 25
    loud = np.concatenate([np.full(max(delay_frames, 0), 0.2), aperture])[: aperture.size] if delay_frames >= 0 else np.concatenate([aperture[-delay_frames:], np.full(-delay_frames, 0.2)])
    gain = np.repeat(loud, per_frame)
    carrier = rng.standard_normal(gain.size)
    spectrum = np.fft.rfft(carrier)
    freqs = np.fft.rfftfreq(carrier.size, 1 / RATE)
    spectrum[(freqs < 1000) | (freqs > 4000)] = 0
    return (np.fft.irfft(spectrum, carrier.size) * gain).astype(np.float32)


# --- AV lag ----------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [-4, 0, 3, 7, 12])
def test_av_lag_recovers_a_known_delay(delay: int) -> None:
    aperture = _smooth_signal(250, seed=1)
    audio = _speech_like_audio(aperture, delay, seed=2)
    envelope = metrics.audio_envelope(audio, RATE, FPS, aperture.size)
    sync = metrics.av_lag(aperture, envelope)
    assert sync.lag == delay
    assert sync.peak is not None and sync.peak > 0.8
    assert len(sync.curve) == 2 * metrics.MAX_LAG_FRAMES + 1


def test_av_lag_ignores_faceless_frames_and_flags_the_search_edge() -> None:
    aperture = _smooth_signal(250, seed=3)
    envelope = metrics.audio_envelope(_speech_like_audio(aperture, 5, seed=4), RATE, FPS, aperture.size)
    holed = aperture.copy()
    holed[100:140] = np.nan  # a cutaway: no face
    sync = metrics.av_lag(holed, envelope)
    assert sync.lag == 5 and sync.frames == 210 and not sync.at_edge
    edge = metrics.av_lag(aperture, envelope, max_lag=3)
    assert edge.lag == 3 and edge.at_edge
    assert not metrics.av_reliable(edge, 250, FPS)
    assert metrics.av_reliable(sync, 250, FPS)
    assert not metrics.av_reliable(sync, 99, FPS)  # under 4 s


def test_unrelated_audio_gives_a_low_peak() -> None:
    aperture = _smooth_signal(250, seed=5)
    other = _speech_like_audio(_smooth_signal(250, seed=6), 0, seed=7)
    sync = metrics.av_lag(aperture, metrics.audio_envelope(other, RATE, FPS, 250))
    assert sync.peak is not None and sync.peak < 0.35


def test_envelope_frames_are_exact_at_ntsc_rates() -> None:
    fps = Fraction(30000, 1001)
    audio = np.zeros(48_000, np.float32)
    audio[1601:1602] = 1.0  # sample 1601 belongs to frame 1 at 29.97 (frame 1 starts at 1601.6 → 1601)
    level = metrics.loudness_db(audio, 48_000, fps, 3)
    assert int(np.argmax(level)) == 1


# --- lip shape -----------------------------------------------------------------------------------


def _lips(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.2, (n, 40, 2)) + np.array([0.0, 0.9])


def test_lip_error_and_shape_only_error() -> None:
    truth = _lips(5, seed=1)
    assert np.allclose(metrics.lip_error(truth, truth), 0)
    theta = 0.3
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    moved = (truth - truth.mean(axis=1, keepdims=True)) @ rot.T + truth.mean(axis=1, keepdims=True) + [0.05, 0.1]
    # A jaw placed elsewhere: the full error sees it, the shape-only error does not.
    assert metrics.lip_error(moved, truth).min() > 0.05
    assert np.allclose(metrics.shape_error(moved, truth), 0, atol=1e-12)
    # Mouth size is shape: scaling is not aligned away.
    assert metrics.shape_error(truth * 1.2, truth).min() > 0.01


def test_sample_points_interpolates_and_respects_missing_faces() -> None:
    points = _lips(4, seed=2)
    points[2] = np.nan
    out = metrics.sample_points(points, np.array([0.0, 0.25, 1.0, 1.5, 3.0, -0.5, 3.5, np.nan]))
    assert np.array_equal(out[0], points[0])
    assert np.allclose(out[1], 0.75 * points[0] + 0.25 * points[1])
    assert np.array_equal(out[2], points[1])
    assert np.isnan(out[3]).all()  # frame 2 has no face
    assert np.array_equal(out[4], points[3])
    assert np.isnan(out[5:]).all()


def test_error_ratio_uses_the_same_frames_for_tool_and_baseline() -> None:
    tool = np.array([0.1, 0.2, np.nan, 0.1])
    base = np.array([0.2, 0.4, 0.5, np.nan])
    r = metrics.error_ratio(tool, base)
    assert r.frames == 2 and r.ratio == pytest.approx(0.5)
    assert metrics.error_ratio(tool, base, np.array([True, False, True, True])).ratio == pytest.approx(0.5)
    assert metrics.error_ratio(np.full(3, np.nan), base[:3]).ratio is None


def test_jitter_is_zero_for_steady_motion_and_grows_with_flicker() -> None:
    steady = np.cumsum(np.full((10, 40, 2), 0.01), axis=0)
    assert metrics.lip_jitter(steady) == pytest.approx(0.0, abs=1e-12)
    flicker = steady.copy()
    flicker[::2] += 0.02
    assert metrics.lip_jitter(flicker) == pytest.approx(0.04 * math.sqrt(2))
    assert metrics.lip_jitter(steady[:2]) is None


def test_silent_frames_and_closed_share() -> None:
    level = np.array([-20.0] * 10 + [-70.0] * 6 + [-20.0] * 5 + [-70.0] * 3 + [-20.0] * 6)
    silent = metrics.silent_frames(level)
    # The 6-frame pause counts without its first and last frame; the 3-frame gap is too short.
    assert np.flatnonzero(silent).tolist() == [11, 12, 13, 14]
    aperture = np.full(level.size, 0.3)
    aperture[11:13] = 0.01
    aperture[13] = np.nan
    assert metrics.closed_share(aperture, silent) == pytest.approx(2 / 3)
    assert metrics.closed_share(aperture, np.zeros(level.size, bool)) is None


def test_laplacian_variance_prefers_detail() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.uniform(0, 255, (64, 64)).astype(np.float32)
    import cv2

    blurred = cv2.GaussianBlur(sharp, (7, 7), 2.0)
    assert metrics.laplacian_variance(blurred) < 0.2 * metrics.laplacian_variance(sharp)


# --- pixels outside the mask ---------------------------------------------------------------------


def _planes_420(h: int = 16, w: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 255, (h, w), np.uint8), rng.integers(0, 255, (h // 2, w // 2), np.uint8),
            rng.integers(0, 255, (h // 2, w // 2), np.uint8)]


def test_outside_diff_counts_only_changes_outside_the_box() -> None:
    src = _planes_420()
    out = [p.copy() for p in src]
    out[0][4:8, 4:8] ^= 1  # inside the box
    out[1][2:4, 2:4] ^= 1  # chroma under the box (luma 4-8 → chroma 2-4)
    diff = metrics.OutsideDiff()
    assert diff.add(src, out, (4, 4, 8, 8)) == 0
    assert diff.changed == 0 and math.isinf(diff.psnr_db)
    assert diff.changed_inside == 16 + 4  # what the tool edited: 4×4 luma, 2×2 chroma
    out[0][0, 0] = src[0][0, 0] ^ 4  # outside: 4 levels
    diff2 = metrics.OutsideDiff()
    assert diff2.add(src, out, (4, 4, 8, 8)) == 1
    assert diff2.max_abs == 4 and diff2.frames_changed == 1
    assert diff2.psnr_db == pytest.approx(10 * math.log10(255**2 / (16 / diff2.compared)))
    # An odd box edge takes the whole chroma sample it touches.
    diff3 = metrics.OutsideDiff()
    out3 = [p.copy() for p in src]
    out3[2][1, 1] ^= 1  # chroma (1,1) covers luma 2-3; the box starts at luma 3
    assert diff3.add(src, out3, (3, 3, 8, 8)) == 0
    # No box (a frame without a face): everything counts.
    assert metrics.OutsideDiff().add(src, out, None) == int(sum(np.count_nonzero(a != b) for a, b in zip(src, out, strict=True)))


# --- the re-timed line ---------------------------------------------------------------------------------


def _words_and_pauses(rate: int = 48_000) -> np.ndarray:
    rng = np.random.default_rng(3)
    parts = []
    for word_s, pause_s in [(0.5, 0.3), (0.4, 0.25), (0.6, 0.35), (0.5, 0.2), (0.4, 0.0)]:
        parts.append(rng.normal(0, 0.3, int(word_s * rate)))
        parts.append(rng.normal(0, 0.001, int(pause_s * rate)))
    return np.concatenate(parts).astype(np.float32)


def test_pauses_are_found_between_words() -> None:
    line = _words_and_pauses()
    pauses = sorted(find_pauses(line, 48_000))
    assert len(pauses) == 4
    for (start, end), (true_start, true_end) in zip(pauses, [(0.5, 0.8), (1.2, 1.45), (2.05, 2.4), (2.9, 3.1)], strict=True):
        assert abs(start - true_start) < 0.03 and abs(end - true_end) < 0.03


def test_retimed_line_copies_words_exactly_and_its_map_is_exact() -> None:
    rate = 48_000
    line = _words_and_pauses(rate)
    retimed = retime_line(line, rate, seed=11)
    assert len(retimed.edits) == 4
    changes = [e.change_s for e in retimed.edits]
    assert all(0.1 - 1e-6 <= abs(c) <= 0.3 + 1e-6 for c in changes)
    assert changes[0] > 0 and any(c < 0 for c in changes)  # alternating where the pause allows
    assert retimed.samples.size == line.size + round(sum(changes) * rate)
    fade = int(0.005 * rate)
    for piece in retimed.time_map.pieces:
        if piece.kind != "copy":
            continue
        new = retimed.samples[piece.line_start + fade : piece.line_start + piece.length]
        old = line[piece.source_start + fade : piece.source_start + piece.length]
        assert np.array_equal(new, old)
        # The map sends the middle of the piece to the sample it was copied from.
        mid = piece.line_start + piece.length // 2
        assert retimed.time_map.source_time(mid / rate)[0] * rate == pytest.approx(piece.source_start + piece.length // 2)
    holds = [p for p in retimed.time_map.pieces if p.kind == "hold"]
    assert holds and all(retimed.time_map.source_time((h.line_start + 10) / rate)[0] * rate == pytest.approx(h.source_start) for h in holds)
    assert np.isnan(retimed.time_map.source_time(retimed.samples.size / rate + 0.01)[0])


def test_line_without_pauses_is_left_alone() -> None:
    steady = np.random.default_rng(0).normal(0, 0.3, 48_000).astype(np.float32)
    retimed = retime_line(steady, 48_000, seed=1)
    assert retimed.edits == () and np.array_equal(retimed.samples, steady)


# --- the suite's own media reading and writing --------------------------------------------------------


def _write_vfr_clip(path: Path, stamps_ms: list[int]) -> None:
    """A 32x32 Matroska clip whose frame k shows the grey level 10·k, at the given times (ms)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for k, ms in enumerate(stamps_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 32), 10 * k, np.uint8), format="yuv420p")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_frames_follow_the_editors_grid_rule(tmp_path: Path) -> None:
    """Index = round((pts − first) · fps); gaps hold the previous frame; a collision keeps the later frame."""
    clip = tmp_path / "vfr.mkv"
    # At 25 fps (40 ms): 0, 40, 120 (gap at 80), 150 and 170 (both round to index 4: 3.75 → 4, 4.25 → 4).
    _write_vfr_clip(clip, [0, 40, 120, 150, 170, 200])
    info = probe_clip(clip)
    shown = [(index, int(frame_planes(frame)[0][0, 0]) // 10) for index, frame in iter_frames(clip)]
    assert [i for i, _ in shown] == list(range(6))
    assert [k for _, k in shown] == [0, 1, 1, 2, 4, 5]
    assert info.frame_count == 6 and count_frames(clip) == 6
    assert [k for _, k in (( i, int(frame_planes(f)[0][0, 0]) // 10) for i, f in iter_frames(clip, 2, 5))] == [1, 2, 4]


def test_simple_writer_is_lossless_and_writes_the_line(tmp_path: Path) -> None:
    source = tmp_path / "src.mkv"
    _write_vfr_clip(source, [40 * k for k in range(10)])
    line = (0.1 * np.sin(np.arange(48_000) / 10)).astype(np.float32)
    out = tmp_path / "out.mkv"
    with SimpleWriter(out, codec="ffv1", fps=Fraction(25), width=32, height=32, pix_fmt="yuv420p", audio=line[:19_200]) as writer:
        for _, frame in iter_frames(source, 2, 10):
            writer.write(frame)
    written = [frame_planes(f) for _, f in iter_frames(out)]
    expected = [frame_planes(f) for _, f in iter_frames(source, 2, 10)]
    assert len(written) == 8
    assert all(np.array_equal(a, b) for wa, ea in zip(written, expected, strict=True) for a, b in zip(wa, ea, strict=True))
    assert audio_sample_count(out) == (19_200, 48_000)
    decoded = decode_audio_mono(out, 48_000)
    assert decoded is not None and np.abs(decoded - line[:19_200]).max() < 1e-4


def test_wav_round_trip(tmp_path: Path) -> None:
    tone = (0.5 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    write_wav(tmp_path / "t.wav", tone, 16_000)
    back = decode_audio_mono(tmp_path / "t.wav", 16_000)
    assert back is not None and back.size == 1600 and np.abs(back - tone).max() < 1e-4


# --- report and command line -------------------------------------------------------------------------


def test_report_tables_summary_and_noise_from_a_synthetic_run() -> None:
    result = {
        "protocol": "preserve", "range": [10, 20], "error": None,
        "figures": {"changed_outside": 0, "frames_changed": 0, "psnr_outside_db": math.inf, "max_abs_outside": 0},
        "baselines": {}, "halves": {}, "checks": {"0 changed outside the mask": True, "exact frame count": True},
        "detail": {"frames_with_mask": 3, "faceless_frames": 1, "changed_inside_mask": 12},
    }
    shift = {
        "protocol": "shift", "range": [4, 10], "reliable_av": True,
        "figures": {"ratio": 0.2, "shape_ratio": 0.1, "error_iod": 0.01, "lag": 3, "lag_vs_real": 0, "peak": 0.5},
        "baselines": {"do_nothing_error_iod": 0.05, "real_lag": 3, "real_peak": 0.6, "do_nothing_lag": 13},
        "halves": {"ratio": [0.18, 0.23]}, "checks": {"ratio < 0.5": True},
    }
    report = {
        "engine": "x", "created": "now", "suite_version": "1", "seconds": 1.0, "reference_tool": False,
        "setting": {"name": "fast", "codec": "ffv1", "shift_s": 0.4, "window_s": 5.0},
        "protocols": ["shift", "preserve"], "bad_inputs": None,
        "clips": {"a.mp4": {"results": {"preserve": result, "shift": shift}}},
    }
    report["summary"] = summarise(report)
    report["noise"] = noise_levels(report)
    assert report["summary"]["preserve"]["median"]["psnr_outside_db (worst)"] == math.inf
    assert report["noise"]["shift"]["ratio"]["halves_median_abs_diff"] == pytest.approx(0.05)
    text = markdown(report, Path("."))
    assert "| a.mp4 | 10-20 | 0 | 0 | ∞ |" in text
    assert "+3 (+3 / +13)" in text
    assert fmt(None) == "–" and fmt(math.inf) == "∞" and fmt(0.12345, 3) == "0.123"


def test_command_line_rejects_unknown_protocols_and_engines(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        eval_main(["--engine", "copy", "--out", str(tmp_path), "--protocols", "shift,bogus", "--media", str(tmp_path)])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        eval_main(["--engine", "copy", "--out", str(tmp_path), "--media", str(tmp_path / "nowhere")])
