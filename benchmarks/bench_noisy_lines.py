"""Phones of noisy lines: recognised as heard, and after the noise suppression lines now get.

Run: `.venv/bin/python -m benchmarks.bench_noisy_lines [--seeds 3] [--footage] [--json out.json]`

The shared English lines (the first 20 s of each; the noisy meeting file is left out, it has no clean
version) are the truth: their own phones, as the product times them. Each is mixed with noise at a given
SNR (the noise's power that many dB under the line's mean power) and timed twice in the same run:
- "as heard": the noisy samples recognised as they are (the product before session 34);
- "suppressed": the samples `noise_suppression.heard` gives the recogniser, which filters a sound whose noise is
  loud and steady (`NoiseMeasure.steady_noise`) and keeps the rest as they are.

Noise: "pink" (1/f power, a fan, a room tone, air conditioning), and "babble" (the other four lines mixed,
each at a random offset: voices in a room). For every line, noise, SNR and seed it prints, against the
clean line's phones per 25 fps frame:
- viseme agreement: the share of the clean line's speaking frames (viseme not silence) given the same viseme;
- closures found: the share of the clean line's lip-closure frames (p, b, m) with a closure within a frame;
- openness r: the correlation of the per-frame openness prior (`phonemes.PHONE_OPENNESS`).

It also prints each clean line's `NoiseMeasure` and whether `heard` filters it (it must not). The table at
the end gives the means over lines and seeds, with how many of the noisy lines were filtered.

`--footage` measures an actor's footage instead: the first 20 s of each shared clip's own sound, timed as
footage is (`PhoneTimer.footage_track`, the phone loop alone), under pink noise at 10 dB, as heard
(`suppress_noise=False`) and as the product hears it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.audio.noise_suppression import NOISY_BELOW_DB, STEADY_BELOW, heard
from mytalk.core.audio.phone_timing import PhoneTimer, PhoneTrack
from mytalk.core.audio.phonemes import PHONE_OPENNESS, PHONE_VISEME, visemes_per_frame
from mytalk.core.media.audio import AudioTrack, decode_audio

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
RATE = 16000
SECONDS = 20.0
FPS = Fraction(25)
LINES = ("jfk_inaugural_en_16k.wav", "hdtf_radio31_en_16k.wav", "iplap_lecture_en_44k.wav",
         "retalking_audio1_en_44k.wav", "gfpgan_kimk_speech_en_48k.mp3")
CONDITIONS = (("pink", 15.0), ("pink", 10.0), ("pink", 5.0), ("babble", 10.0))
CLOSURE = PHONE_VISEME["M"]


def pink_noise(count: int, rng: np.random.Generator) -> np.ndarray:
    """White noise shaped to 1/f power."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    bins = np.arange(spectrum.size, dtype=np.float64)
    bins[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(bins), count)


def babble(lines: dict[str, np.ndarray], own: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """The other lines, each looped to `count` samples and rolled to a random offset, summed."""
    mix = np.zeros(count)
    for name, samples in lines.items():
        if name != own:
            mix += np.roll(np.resize(samples, count), int(rng.integers(count)))
    return mix


def mixed(samples: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`samples` with `noise` scaled to `snr_db` under their mean power."""
    scale = np.sqrt(np.mean(samples**2) / 10 ** (snr_db / 10) / np.mean(noise**2))
    return (samples + noise * scale).astype(np.float32)


def per_frame(track: PhoneTrack, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(viseme index per frame, openness prior per frame) of a phone track."""
    visemes = visemes_per_frame(list(track.phones), FPS, frames)
    openness = np.zeros(frames)
    for phone in track.phones:
        a = int(phone.start_s * float(FPS))
        b = max(a + 1, int(phone.end_s * float(FPS)))
        openness[a:b] = PHONE_OPENNESS.get(phone.label, 0.0)
    return visemes, openness


def agreement(truth: tuple[np.ndarray, np.ndarray], found: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """The three measures of the module docstring."""
    (true_v, true_o), (v, o) = truth, found
    speaking = true_v != 0
    near = np.zeros(v.size, bool)
    for shift in (-1, 0, 1):
        near |= np.roll(v == CLOSURE, shift)
    closures = true_v == CLOSURE
    return {
        "viseme_agreement": float((v[speaking] == true_v[speaking]).mean()),
        "closures_found": float(near[closures].mean()) if closures.any() else float("nan"),
        "openness_r": float(np.corrcoef(true_o, o)[0, 1]),
    }


def run(seeds: int) -> dict[str, Any]:
    timer = PhoneTimer()
    lines = {name: decode_audio(MEDIA / "audio" / name, RATE, channels=1).samples[0, : int(SECONDS * RATE)]
             for name in LINES}
    results: dict[str, Any] = {"noisy_below_db": NOISY_BELOW_DB, "steady_below": STEADY_BELOW, "clean": {}, "runs": []}
    for name, samples in lines.items():
        frames = int(samples.size / RATE * float(FPS))
        truth = per_frame(timer.track(AudioTrack(samples[None, :], RATE)), frames)
        given, measure = heard(samples, RATE)
        kept = given is samples
        results["clean"][name] = {**measure.to_dict(), "filtered": not kept}
        print(f"{name:32} clean: {measure.speech_to_noise_db:5.1f} dB, variation {measure.variation:.2f}, "
              f"{'kept as it is' if kept else 'FILTERED'}", flush=True)
        for kind, snr in CONDITIONS:
            for seed in range(1, seeds + 1):
                rng = np.random.default_rng(seed)
                noise = pink_noise(samples.size, rng) if kind == "pink" else babble(lines, name, samples.size, rng)
                noisy = mixed(samples, noise, snr)
                started = time.perf_counter()
                given, measure = heard(noisy, RATE)
                filter_s = time.perf_counter() - started
                row: dict[str, Any] = {"line": name, "noise": kind, "snr_db": snr, "seed": seed,
                                       "speech_to_noise_db": round(measure.speech_to_noise_db, 1),
                                       "noise_variation": round(measure.variation, 2), "filtered": given is not noisy,
                                       "filter_s": round(filter_s, 3)}
                for label, sound in (("as_heard", noisy), ("suppressed", given)):
                    if label == "suppressed" and given is noisy:
                        row[label] = row["as_heard"]  # kept as it is: the same phones
                        continue
                    found = per_frame(timer.track(AudioTrack(sound[None, :], RATE)), frames)
                    row[label] = {k: round(v, 3) for k, v in agreement(truth, found).items()}
                results["runs"].append(row)
                a, s = row["as_heard"], row["suppressed"]
                print(f"  {kind:6} {snr:4.0f} dB seed {seed}: {measure.speech_to_noise_db:5.1f} dB "
                      f"variation {measure.variation:.2f} {'filtered' if row['filtered'] else 'kept    '}"
                      f" | visemes {a['viseme_agreement']:.3f} -> {s['viseme_agreement']:.3f}"
                      f" | closures {a['closures_found']:.3f} -> {s['closures_found']:.3f}"
                      f" | openness r {a['openness_r']:.3f} -> {s['openness_r']:.3f}", flush=True)
    summary: dict[str, Any] = {}
    print("\n| noise | SNR | filtered | viseme agreement | closures found | openness r |\n|---|---|---|---|---|---|")
    for kind, snr in CONDITIONS:
        rows = [r for r in results["runs"] if r["noise"] == kind and r["snr_db"] == snr]

        def mean(label: str, key: str, rows: list[dict[str, Any]] = rows) -> float:
            return float(np.nanmean([r[label][key] for r in rows]))

        entry: dict[str, Any] = {label: {key: round(mean(label, key), 3) for key in ("viseme_agreement", "closures_found", "openness_r")}
                 for label in ("as_heard", "suppressed")}
        entry["filtered"] = f"{sum(r['filtered'] for r in rows)}/{len(rows)}"
        summary[f"{kind}_{snr:.0f}dB"] = entry
        a, s = entry["as_heard"], entry["suppressed"]
        print(f"| {kind} | {snr:.0f} dB | {entry['filtered']} | {a['viseme_agreement']:.3f} → {s['viseme_agreement']:.3f} "
              f"| {a['closures_found']:.3f} → {s['closures_found']:.3f} | {a['openness_r']:.3f} → {s['openness_r']:.3f} |")
    results["summary"] = summary
    return results


def run_footage(seeds: int) -> dict[str, Any]:
    """The `--footage` measurement (module docstring)."""
    timer = PhoneTimer()
    rows: list[dict[str, Any]] = []
    for clip in sorted(p for p in (MEDIA / "video").glob("*") if p.suffix in {".mp4", ".mov", ".mkv"}):
        samples = decode_audio(clip, RATE, channels=1).samples[0, : int(SECONDS * RATE)]
        frames = int(samples.size / RATE * float(FPS))
        truth = per_frame(timer.footage_track(AudioTrack(samples[None, :], RATE)), frames)
        for seed in range(1, seeds + 1):
            noisy = AudioTrack(mixed(samples, pink_noise(samples.size, np.random.default_rng(seed)), 10.0)[None, :], RATE)
            as_heard = timer.footage_track(noisy, suppress_noise=False)
            heard_now = timer.footage_track(noisy)
            row: dict[str, Any] = {"clip": clip.name, "seed": seed, "filtered": bool(heard_now.details["noise_suppressed"]),
                   "as_heard": agreement(truth, per_frame(as_heard, frames)),
                   "suppressed": agreement(truth, per_frame(heard_now, frames))}
            rows.append(row)
            a, s = row["as_heard"], row["suppressed"]
            print(f"{clip.name[:32]:32} seed {seed}: {'filtered' if row['filtered'] else 'kept    '}"
                  f" | visemes {a['viseme_agreement']:.3f} -> {s['viseme_agreement']:.3f}"
                  f" | closures {a['closures_found']:.3f} -> {s['closures_found']:.3f}"
                  f" | openness r {a['openness_r']:.3f} -> {s['openness_r']:.3f}", flush=True)
    summary: dict[str, Any] = {label: {key: round(float(np.nanmean([r[label][key] for r in rows])), 3)
                       for key in ("viseme_agreement", "closures_found", "openness_r")}
               for label in ("as_heard", "suppressed")}
    summary["filtered"] = f"{sum(r['filtered'] for r in rows)}/{len(rows)}"
    better = sum(r["suppressed"]["viseme_agreement"] > r["as_heard"]["viseme_agreement"] for r in rows)
    print(f"\nfootage, pink 10 dB: filtered {summary['filtered']}; visemes {summary['as_heard']['viseme_agreement']:.3f} -> "
          f"{summary['suppressed']['viseme_agreement']:.3f} (better on {better}); closures "
          f"{summary['as_heard']['closures_found']:.3f} -> {summary['suppressed']['closures_found']:.3f}; openness r "
          f"{summary['as_heard']['openness_r']:.3f} -> {summary['suppressed']['openness_r']:.3f}")
    return {"footage_runs": rows, "footage_summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="noise seeds per line and condition")
    parser.add_argument("--footage", action="store_true", help="measure the shared clips' own sound as footage")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if not (MEDIA / "audio").is_dir():
        raise SystemExit(f"the shared media folder is missing: {MEDIA / 'audio'}")
    results = run_footage(args.seeds) if args.footage else run(args.seeds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
