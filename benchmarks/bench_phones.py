"""Phone timing: speed per path, the word-vs-loop confidence, and aperture correlation.

Run: `.venv/bin/python -m benchmarks.bench_phones [--confidence] [--aperture [--all]] [--json out.json]`

- speed (always): every shared audio line (../shared/media/audio), pinned to one core; seconds of
  audio, CPU seconds per path (word recognition, alignment, phone loop; the transcript path on JFK)
  and the real-time factor of the default no-transcript English path;
- ``--confidence``: the confidence (word alignment − phone loop, nats/frame) on English speech (the
  audio lines and the video clips' own audio) and on espeak-ng Spanish and German;
- ``--aperture``: Pearson r between the true mouth aperture (face tracking) and
  `openness_prior` of each path's phones, best over lags −4..+4 frames and best over 0..+2.
  Lag L pairs the prior at frame t + L with the aperture at frame t (L > 0: the lips lead the sound).
  Four reference clips by default, all clips with ``--all``.

Imports no torch (the tracker is imported only with ``--aperture``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.audio.phonemes import Phone, openness_prior
from mytalk.core.media.audio import AudioTrack, decode_audio

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
RATE = 16000
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
REFERENCE_CLIPS = ("hdtf_wda_katiehill_512", "hdtf_wda_bobmenendez_512", "retalking_face2_swalwell",
                   "voxceleb2_00104_man_tv_224")
FOREIGN = {
    "es": ["El perro come pan bueno en la mañana.", "Mi madre compra muchas manzanas baratas en el mercado.",
           "Buenos días, ¿cómo está usted hoy?", "La ciudad de Barcelona tiene playas muy bonitas.",
           "Pablo bebe vino blanco por la noche."],
    "de": ["Der Bäcker backt jeden Morgen frisches Brot.", "Meine Mutter wohnt in einem kleinen Haus am Berg.",
           "Wir fahren morgen mit dem Zug nach München.", "Das Wetter ist heute schön und warm.",
           "Bitte bringen Sie mir ein Glas Wasser."],
}


def _audio_lines() -> list[Path]:
    folder = MEDIA / "audio"
    return sorted(p for p in folder.glob("*") if p.suffix in {".wav", ".mp3", ".flac"})


def _videos(every: bool) -> list[Path]:
    folder = MEDIA / "video"
    clips = sorted(p for p in folder.glob("*") if p.suffix in {".mp4", ".mov", ".mkv"})
    return clips if every else [p for p in clips if p.stem in REFERENCE_CLIPS]


def speed(timer: PhoneTimer) -> dict[str, Any]:
    """CPU seconds per path over all shared audio lines, one core."""
    rows = []
    totals = {"audio_s": 0.0, "words": 0.0, "align": 0.0, "phone_loop": 0.0, "track": 0.0}
    timer.track(AudioTrack(np.zeros((1, RATE)) + 0.01 * np.sin(np.arange(RATE) * 0.3), RATE))  # load models
    for path in _audio_lines():
        line = decode_audio(path, RATE)
        started = time.process_time()
        result = timer.track(line)
        spent = time.process_time() - started
        seconds = result.details.get("seconds", {})
        rows.append({"file": path.name, "audio_s": round(line.duration_s, 2), "path": result.path,
                     "confidence": result.confidence, "seconds": seconds, "total_s": round(spent, 3),
                     "xRT": round(spent / line.duration_s, 3)})
        totals["audio_s"] += line.duration_s
        totals["track"] += spent
        for key in ("words", "align", "phone_loop"):
            totals[key] += seconds.get(key, 0.0)
        print(f"{path.name:45s} {line.duration_s:6.1f} s  {result.path:10s} conf {result.confidence}  "
              f"{spent:6.2f} s  xRT {spent / line.duration_s:.3f}  {seconds}")
    audio = totals["audio_s"]
    xrt = {k: round(v / audio, 3) for k, v in totals.items() if k != "audio_s"}
    jfk = decode_audio(MEDIA / "audio" / "jfk_inaugural_en_16k.wav", RATE)
    started = time.process_time()
    timer.track(jfk, transcript=JFK_TEXT)
    xrt["transcript (JFK, incl. loop)"] = round((time.process_time() - started) / jfk.duration_s, 3)
    print(f"total audio {audio:.1f} s; xRT per path: {xrt}")
    return {"lines": rows, "audio_s": round(audio, 2), "xRT": xrt}


def confidence(timer: PhoneTimer) -> dict[str, Any]:
    """The recognised-words-vs-loop confidence on English and on espeak-ng Spanish/German."""
    from mytalk.core.audio.espeak import synthesize

    english: dict[str, float | None] = {}
    for path in _audio_lines() + _videos(every=True):
        english[path.name] = timer.track(decode_audio(path, RATE)).confidence
    foreign: dict[str, float | None] = {}
    for language, sentences in FOREIGN.items():
        for text in sentences:
            speech = synthesize(text, language).track.resampled(RATE)
            chosen, _ = timer.recognition_candidates(speech, "en")
            foreign[f"{language}: {text}"] = chosen.confidence
    for name, value in {**english, **foreign}.items():
        print(f"{value!s:>10}  {name}")
    en = [v for v in english.values() if v is not None]
    fo = [v for v in foreign.values() if v is not None]
    summary = {"english_min": min(en), "english_median": statistics.median(en), "english_max": max(en),
               "foreign_min": min(fo), "foreign_median": statistics.median(fo), "foreign_max": max(fo)}
    print(summary)
    return {"english": english, "foreign": foreign, "summary": summary}


def _lag_r(prior: np.ndarray, aperture: np.ndarray, lags: range) -> tuple[float, int]:
    best = (-2.0, 0)
    for lag in lags:
        a = prior[max(lag, 0) : len(prior) + min(lag, 0)]
        b = aperture[max(-lag, 0) : len(aperture) + min(-lag, 0)]
        ok = np.isfinite(b)
        if ok.sum() > 10 and np.std(a[ok]) > 0:
            r = float(np.corrcoef(a[ok], b[ok])[0, 1])
            best = max(best, (r, lag))
    return round(best[0], 3), best[1]


def aperture(timer: PhoneTimer, every: bool) -> dict[str, Any]:
    """Pearson r of each path's openness prior with the tracked aperture, per clip."""
    from mytalk.core.face.canonical import mouth_aperture
    from mytalk.core.face.video_tracking import track_video
    from mytalk.core.media.probe import probe

    out: dict[str, Any] = {}
    for path in _videos(every):
        video = probe(path).video
        assert video is not None
        n, fps = video.frame_count, video.fps
        truth = np.asarray(mouth_aperture(np.stack([o.landmarks for o in track_video(path, 0, n)])), np.float64)
        line = decode_audio(path, RATE)
        chosen, candidates = timer.recognition_candidates(line, "en")
        rows: dict[str, Any] = {"chosen": chosen.path, "confidence": chosen.confidence}
        paths: dict[str, tuple[Phone, ...]] = dict(candidates)
        for name, phones in paths.items():
            prior = openness_prior(list(phones), fps, n).astype(np.float64)
            best, lag = _lag_r(prior, truth, range(-4, 5))
            fixed, fixed_lag = _lag_r(prior, truth, range(0, 3))
            rows[name] = {"r_best_-4..4": best, "lag": lag, "r_best_0..2": fixed, "lag_0..2": fixed_lag}
        out[path.stem] = rows
        print(f"{path.stem:40s} {json.dumps(rows)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--confidence", action="store_true")
    parser.add_argument("--aperture", action="store_true")
    parser.add_argument("--all", action="store_true", help="every shared video clip for --aperture")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        # One core: the speed target is per core, and the machine is shared.
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    timer = PhoneTimer()
    report: dict[str, Any] = {}
    if not args.no_speed:
        report["speed"] = speed(timer)
    if args.confidence:
        report["confidence"] = confidence(timer)
    if args.aperture:
        report["aperture"] = aperture(timer, args.all)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
