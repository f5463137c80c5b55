"""A two-hander's poly WAV as the line: the mouth's phones with every channel mixed, and with the actor's
microphone picked (`--audio-channels`).

Run: `PYTHONPATH=. .venv/bin/python -m benchmarks.bench_line_channels [--seconds 20] [--json out.json]`

For each shared English line A (the actor whose mouth is fixed) and the next one B (the other actor), the
first `--seconds` of both make a production recorder's take, a 48 kHz 4-channel WAV named in its iXML:
1 MIX L and 2 MIX R, (A + B) / 2; 3 BOOM, A + 0.3 B (the other actor 10 dB down); 4 LAV B, B + 0.1 A. B is
levelled to A's mean power first.

The truth is A's own phones: A alone, as a mono WAV, timed as the product times a line
(`line_phones.placed_phone_track`, 25 fps). Against it, per frame (`bench_noisy_lines.agreement`):
- "all channels": the poly file as a job without a pick reads it (every channel mixed);
- "BOOM picked": `LineOrigin(..., rows=(2,))`, what `--audio-channels boom` reads.

Each condition is timed with a cache of its own, so that nothing is answered from an earlier run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_noisy_lines import FPS, LINES, MEDIA, agreement, per_frame
from benchmarks.poly_wav import ixml_chunk, write_poly_wav
from mytalk.core.audio.line_phones import LineOrigin, UtteranceCache, placed_phone_track
from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.media.audio import decode_audio

RATE = 48000
NAMES = ("MIX L", "MIX R", "BOOM", "LAV B")


def take(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The four channels of the module docstring, and A alone at their level."""
    b = b * np.sqrt(np.mean(a**2) / np.mean(b**2))
    channels = np.stack([(a + b) / 2, (a + b) / 2, a + 0.3 * b, b + 0.1 * a])
    scale = 0.9 / max(1e-9, float(np.abs(channels).max()))
    return channels * scale, a[None] * scale


def run(seconds: float) -> dict[str, Any]:
    timer = PhoneTimer()
    count = int(seconds * RATE)
    voices = {name: decode_audio(MEDIA / "audio" / name, RATE).samples[0] for name in LINES}
    frames = int(seconds * float(FPS))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for i, name in enumerate(LINES):
            other = LINES[(i + 1) % len(LINES)]
            a, b = np.resize(voices[name], count), np.resize(voices[other], count)
            channels, alone_samples = take(a, b)
            stem = Path(name).stem
            poly = write_poly_wav(work / f"{stem}_poly.wav", channels, RATE, before={b"iXML": ixml_chunk(NAMES)})
            alone = write_poly_wav(work / f"{stem}_alone.wav", alone_samples, RATE)
            conditions = {"truth": LineOrigin(alone, Fraction(0)), "all channels": LineOrigin(poly, Fraction(0)),
                          "BOOM picked": LineOrigin(poly, Fraction(0), 0, (2,))}
            found = {label: per_frame(placed_phone_track(origin, frames, FPS, timer=timer,
                                                         cache=UtteranceCache(work / "cache" / stem / label)), frames)
                     for label, origin in conditions.items()}
            row: dict[str, Any] = {"line": name, "other": other}
            for label in ("all channels", "BOOM picked"):
                row[label] = {k: round(v, 3) for k, v in agreement(found["truth"], found[label]).items()}
            rows.append(row)
            m, p = row["all channels"], row["BOOM picked"]
            print(f"{name:32} + {other:32} | visemes {m['viseme_agreement']:.3f} -> {p['viseme_agreement']:.3f}"
                  f" | closures {m['closures_found']:.3f} -> {p['closures_found']:.3f}"
                  f" | openness r {m['openness_r']:.3f} -> {p['openness_r']:.3f}", flush=True)
    summary = {label: {key: round(float(np.nanmean([r[label][key] for r in rows])), 3)
                       for key in ("viseme_agreement", "closures_found", "openness_r")}
               for label in ("all channels", "BOOM picked")}
    print("\n| line read | viseme agreement | closures found | openness r |\n|---|---|---|---|")
    for label, entry in summary.items():
        print(f"| {label} | {entry['viseme_agreement']:.3f} | {entry['closures_found']:.3f} | {entry['openness_r']:.3f} |")
    return {"seconds": seconds, "runs": rows, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of each line")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if not (MEDIA / "audio").is_dir():
        raise SystemExit(f"skipped: the shared media folder {MEDIA} is absent")
    results = run(args.seconds)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
