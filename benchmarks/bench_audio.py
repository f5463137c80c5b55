"""Audio analysis: speed on a 60 s line, guide-alignment accuracy, and the guide cost calibration.

Run: `.venv/bin/python benchmarks/bench_audio.py [--calibrate] [--json out.json]`

- speed: features, voice activity and envelope of a 60 s line at 25 fps (1500 frames), DTW of a
  1500-frame re-timed line against its guide, forced alignment of the 11 s JFK line;
- resampling (`--resampling` runs only this): 60 s of 44.1 kHz speech to 16 kHz (a clip's own sound for
  learning and phones), to 48 kHz, and 60 s at 16 kHz to 44.1 kHz (a line muxed into a 44.1 kHz clip), by
  `media.resample` a phase at a time (what runs) and a tap at a time (before session 35), against
  scipy's `resample_poly`, all in this run, with the ratios;
- accuracy: every shared clip's own audio re-timed at its pauses (3 seeds), aligned back to the
  clip; share of frames whose guide position is within +-1 frame of the exact ground truth;
- calibration (`--calibrate`): the normalised DTW cost of matched lines (re-timed; re-timed and
  degraded like another take) and of unmatched lines (other speakers; the same speaker's other
  words), on all 15 shared tracks, against `GUIDE_COST_THRESHOLD`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import lfilter, resample_poly

from mytalk.core.audio import (
    GUIDE_COST_THRESHOLD,
    Alignment,
    ForcedAligner,
    align_to_guide,
    alignment_features,
    envelope,
    force_align,
    frame_features,
    log_mel,
    retime_at_pauses,
    speech_probability,
    voiced_frames,
)
from mytalk.core.media import AudioTrack, decode_audio, probe

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
RATE = 16000
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def line_frames(track: AudioTrack, fps: Fraction) -> int:
    return int(round(Fraction(track.num_samples) * fps / track.rate))


def align_tracks(line: AudioTrack, guide: AudioTrack, fps: Fraction) -> Alignment:
    """The guide driver's audio path: features and voice activity of both, then DTW."""
    n, m = line_frames(line, fps), line_frames(guide, fps)
    lv, gv = voiced_frames(line, fps, n), voiced_frames(guide, fps, m)
    return align_to_guide(
        alignment_features(line, fps, n, voiced=lv),
        alignment_features(guide, fps, m, voiced=gv),
        line_voiced=lv,
        guide_voiced=gv,
    )


def degraded_take(track: AudioTrack, *, faster: bool, seed: int, snr_db: float = 15.0) -> AudioTrack:
    """Stand-in for another take of the same words: 4 % faster or slower (pitch moves with it),
    a first-order microphone tilt, and pink-ish noise at ``snr_db`` under the speech power."""
    rng = np.random.default_rng(seed)
    x = resample_poly(track.samples[0].astype(np.float64), *((25, 26) if faster else (26, 25)))
    x = lfilter([1.0, -0.9], [1.0], x)
    noise = lfilter([1.0], [1.0, -0.98], rng.standard_normal(x.size))
    power = np.mean(x[np.abs(x) > 0.01 * np.abs(x).max()] ** 2)
    x = x + noise * np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return AudioTrack(x.astype(np.float32), track.rate)


def crop(track: AudioTrack, start_s: float, seconds: float) -> AudioTrack:
    """``seconds`` of ``track`` from ``start_s``, zero-padded at the end when the track is shorter."""
    out = np.zeros((1, int(round(seconds * track.rate))), np.float32)
    piece = track.mono().samples[:, int(start_s * track.rate) :][:, : out.shape[1]]
    out[:, : piece.shape[1]] = piece
    return AudioTrack(out, track.rate)


def _timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def bench_speed() -> dict[str, float]:
    lecture = decode_audio(MEDIA / "audio" / "iplap_lecture_en_44k.wav", RATE)
    looped = AudioTrack(np.tile(lecture.samples, (1, 3)), RATE)
    line = crop(looped, 0.0, 60.0)
    fps = Fraction(25)
    n = line_frames(line, fps)
    out: dict[str, float] = {"line_s": 60.0, "frames": float(n)}
    out["log_mel_s"] = _timed(lambda: log_mel(line.samples[0], RATE))
    out["frame_features_s"] = _timed(lambda: frame_features(line, fps, n))
    out["alignment_features_s"] = _timed(lambda: alignment_features(line, fps, n))
    out["voice_activity_s"] = _timed(lambda: (voiced_frames(line, fps, n), speech_probability(line, fps, n)))
    out["envelope_s"] = _timed(lambda: envelope(line, fps, n))
    line44 = decode_audio(MEDIA / "audio" / "iplap_lecture_en_44k.wav", 44100)
    out["frame_features_44k_21s_s"] = _timed(lambda: frame_features(line44, fps, line_frames(line44, fps)))

    retimed = retime_at_pauses(line, fps, np.random.default_rng(0))
    m = retimed.time_map.size
    lv, gv = voiced_frames(retimed.track, fps, m), voiced_frames(line, fps, n)
    lf = alignment_features(retimed.track, fps, m, voiced=lv)
    gf = alignment_features(line, fps, n, voiced=gv)
    result: list[Alignment] = []
    out["dtw_frames"] = float(m)
    out["dtw_s"] = _timed(lambda: result.append(align_to_guide(lf, gf, line_voiced=lv, guide_voiced=gv)))
    error = np.abs(result[-1].time_map - retimed.time_map)
    out["dtw_within_1_frame"] = float(np.mean(error <= 1))
    out["dtw_band_frames"] = float(result[-1].band)
    out["guide_path_total_s"] = _timed(lambda: align_tracks(retimed.track, line, fps), repeat=1)

    jfk = decode_audio(MEDIA / "audio" / "jfk_inaugural_en_16k.wav", RATE)
    out["force_align_jfk_11s_cold_s"] = _timed(lambda: force_align(jfk, JFK_TEXT), repeat=2)
    aligner = ForcedAligner()
    aligner.align(jfk, JFK_TEXT)  # loads the models once
    out["force_align_jfk_11s_warm_s"] = _timed(lambda: aligner.align(jfk, JFK_TEXT), repeat=2)
    return out


def bench_accuracy(seeds: int = 3) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted((MEDIA / "video").glob("*")):
        if path.suffix not in {".mp4", ".mov", ".mkv"}:
            continue
        fps = probe(path).video.fps  # type: ignore[union-attr]
        guide = decode_audio(path, RATE)
        for seed in range(seeds):
            retimed = retime_at_pauses(guide, fps, np.random.default_rng(seed))
            result = align_tracks(retimed.track, guide, fps)
            error = np.abs(result.time_map - retimed.time_map)
            voiced = voiced_frames(retimed.track, fps, retimed.time_map.size)
            rows.append({
                "clip": path.name, "fps": str(fps), "seed": seed,
                "edits_s": [round(e.change_s, 3) for e in retimed.edits],
                "within_1": round(float(np.mean(error <= 1)), 4),
                "within_1_voiced": round(float(np.mean(error[voiced] <= 1)), 4),
                "max_error_frames": round(float(error.max()), 2),
                "cost": round(result.cost, 4),
            })
    return rows


def bench_calibration() -> dict[str, object]:
    tracks: dict[str, tuple[AudioTrack, Fraction]] = {}
    for path in sorted((MEDIA / "video").glob("*")):
        if path.suffix in {".mp4", ".mov", ".mkv"}:
            tracks[path.name] = (decode_audio(path, RATE), probe(path).video.fps)  # type: ignore[union-attr]
    for path in sorted((MEDIA / "audio").glob("*")):
        tracks[path.name] = (decode_audio(path, RATE), Fraction(25))
    matched: list[float] = []
    degraded: list[float] = []
    unmatched: list[tuple[float, str, str]] = []
    same_speaker: list[tuple[float, str]] = []
    for k, (name, (guide, fps)) in enumerate(tracks.items()):
        retimed = retime_at_pauses(guide, fps, np.random.default_rng(k)).track
        matched.append(align_tracks(retimed, guide, fps).cost)
        degraded.append(align_tracks(degraded_take(retimed, faster=k % 2 == 0, seed=k), guide, fps).cost)
        for other, (track, _) in tracks.items():
            if other != name:
                unmatched.append((align_tracks(crop(track, 0.0, guide.duration_s), guide, fps).cost, name, other))
        if guide.duration_s >= 10:
            half = guide.duration_s / 2
            first, second = crop(guide, 0.0, half), crop(guide, half, half)
            same_speaker.append((align_tracks(second, first, fps).cost, name))
            same_speaker.append((align_tracks(first, second, fps).cost, name))
    unmatched_costs = [c for c, _, _ in unmatched]
    worst_matched = max(matched + degraded)
    best_unmatched = min(unmatched_costs + [c for c, _ in same_speaker])
    return {
        "threshold": GUIDE_COST_THRESHOLD,
        "matched": [round(min(matched), 3), round(max(matched), 3)],
        "matched_degraded": [round(min(degraded), 3), round(max(degraded), 3)],
        "unmatched_other_speaker": [round(min(unmatched_costs), 3), round(statistics.median(unmatched_costs), 3),
                                    round(max(unmatched_costs), 3), len(unmatched_costs)],
        "unmatched_lowest_pairs": [(round(c, 3), a, b) for c, a, b in sorted(unmatched)[:3]],
        "unmatched_same_speaker": [round(min(c for c, _ in same_speaker), 3), round(max(c for c, _ in same_speaker), 3)],
        "margin_under_threshold": round(GUIDE_COST_THRESHOLD - worst_matched, 3),
        "margin_over_threshold": round(best_unmatched - GUIDE_COST_THRESHOLD, 3),
        "suggested_threshold": round((worst_matched + best_unmatched) / 2, 3),
    }


def _resampled_by(made: dict[str, np.ndarray], key: str, phases_from_up: int, signal: np.ndarray, up: int,
                  down: int) -> None:
    """`signal` resampled to float32 into `made[key]`, a phase at a time from `phases_from_up` up."""
    from mytalk.core.media import resample

    saved = resample.PHASE_DOTS_FROM_UP
    resample.PHASE_DOTS_FROM_UP = phases_from_up
    try:
        made[key] = resample.resample_poly_1d(signal, up, down, np.float32)
    finally:
        resample.PHASE_DOTS_FROM_UP = saved


def bench_resampling() -> dict[str, dict[str, float]]:
    """Seconds for 60 s of sound at each ratio by both inner loops of `media.resample` and by scipy, the ratios
    between them, and whether the two loops gave the same float32 samples."""
    lecture = decode_audio(MEDIA / "audio" / "iplap_lecture_en_44k.wav", 44100).samples[0].astype(np.float64)
    at_44k = np.tile(lecture, -(-60 * 44100 // lecture.size))[: 60 * 44100]
    at_16k = decode_audio(MEDIA / "audio" / "iplap_lecture_en_44k.wav", 16000).samples[0].astype(np.float64)
    at_16k = np.tile(at_16k, -(-60 * 16000 // at_16k.size))[: 60 * 16000]
    out: dict[str, dict[str, float]] = {}
    for name, signal, up, down in (("44.1k -> 16k", at_44k, 160, 441), ("44.1k -> 48k", at_44k, 160, 147),
                                   ("16k -> 44.1k", at_16k, 441, 160)):
        made: dict[str, np.ndarray] = {}
        phases = _timed(functools.partial(_resampled_by, made, "phases", 1, signal, up, down))
        taps = _timed(functools.partial(_resampled_by, made, "taps", 10**9, signal, up, down))
        scipy = _timed(functools.partial(resample_poly, signal, up, down))
        out[name] = {"phase_at_a_time_s": phases, "tap_at_a_time_s": taps, "scipy_s": scipy,
                     "phases_over_taps": phases / taps, "phases_over_scipy": phases / scipy,
                     "same_float32": float(np.array_equal(made["phases"], made["taps"]))}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="also measure the guide cost calibration (slow)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--resampling", action="store_true", help="measure only the resampling")
    args = parser.parse_args(argv)
    if not (MEDIA / "audio").is_dir():
        print(f"shared media not found at {MEDIA}; set MYTALK_SHARED_MEDIA", file=sys.stderr)
        return 2
    results: dict[str, object] = {"resampling": bench_resampling()}
    for name, row in results["resampling"].items():  # type: ignore[attr-defined]
        print(f"resampling 60 s {name}: a phase at a time {row['phase_at_a_time_s']:.3f} s, a tap at a time "
              f"{row['tap_at_a_time_s']:.3f} s (ratio {row['phases_over_taps']:.2f}), scipy {row['scipy_s']:.3f} s "
              f"(ratio {row['phases_over_scipy']:.2f}), same float32: {bool(row['same_float32'])}")
    if args.resampling:
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        return 0
    results["speed"] = bench_speed()
    print(json.dumps(results["speed"], indent=1))
    accuracy = bench_accuracy()
    results["accuracy"] = accuracy
    for row in accuracy:
        print(f"{str(row['clip'])[:34]:34s} seed {row['seed']} within+-1 {row['within_1']:.3f} "
              f"(voiced {row['within_1_voiced']:.3f}) max {row['max_error_frames']:.1f} cost {row['cost']:.3f}")
    shares = [float(row["within_1"]) for row in accuracy]  # type: ignore[arg-type]
    print(f"within +-1 frame: min {min(shares):.3f}, median {statistics.median(shares):.3f}")
    if args.calibrate:
        results["calibration"] = bench_calibration()
        print(json.dumps(results["calibration"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
