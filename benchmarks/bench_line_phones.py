"""A placed line's phones: timed per utterance of the line's file, against timing the placed samples alone.

    .venv/bin/python -m benchmarks.bench_line_phones [--json OUT.json]

The JFK line of the shared audio (11 s) has a known transcript, so its forced alignment over the
whole file stands for the truth. A 5 s range (125 frames at 25 fps) is placed on it every 0.5 s from
0 to 6 s; at each placement the phones come both ways:

- **placed**: recognition of the placed samples only (`PhoneTimer.track`), as before
  `mytalk.core.audio.line_phones`: a word cut by the range's edge is heard only in part;
- **utterances**: `line_phones.placed_phone_track`, the file's utterances recognised whole and cut to
  the range (what a job does now, and what makes a slip free).

Each is scored by the share of speech frames (10 ms; the truth's non-silent ones) whose viseme equals
the truth's. Also the seconds of a slip of 3 frames with the utterances cached. One run; the ratio
line divides the utterances' mean agreement by the placed one's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.audio.line_phones import LineOrigin, UtteranceCache, placed_phone_track
from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.audio.phonemes import PHONE_VISEME, SILENCE, Phone
from mytalk.core.media.audio import decode_audio, decode_audio_span, placement

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
LINE = "jfk_inaugural_en_16k.wav"
TRANSCRIPT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
FPS = Fraction(25)
FRAMES = 125
OFFSETS_S = [k / 2 for k in range(13)]


def visemes(phones: tuple[Phone, ...], count: int, shift_s: float = 0.0) -> np.ndarray:
    """Viseme per 10 ms frame of [0, count) from `phones` moved by `shift_s`."""
    labels = np.full(count, SILENCE, object)
    for p in phones:
        a, b = round((p.start_s + shift_s) * 100), round((p.end_s + shift_s) * 100)
        labels[max(a, 0) : max(b, 0)] = PHONE_VISEME.get(p.label, p.label)
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    path = MEDIA / "audio" / LINE
    if not path.is_file():
        print(f"skip: {path} not found", file=sys.stderr)
        return 0
    timer = PhoneTimer()
    truth = timer.track(decode_audio(path, 16_000), transcript=TRANSCRIPT)
    frames = round(FRAMES / float(FPS) * 100)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mytalk-line-phones-") as tmp:
        for offset_s in OFFSETS_S:
            origin = LineOrigin(path, Fraction(offset_s))
            first, count = placement(16_000, num_frames=FRAMES, fps=FPS, line_offset_s=origin.offset_s)
            placed = timer.track(decode_audio_span(path, 16_000, first, count))
            cache = UtteranceCache(Path(tmp) / f"{offset_s}")
            utterances = placed_phone_track(origin, FRAMES, FPS, cache=cache, timer=timer)
            began = time.perf_counter()
            placed_phone_track(LineOrigin(path, origin.offset_s + Fraction(3) / FPS), FRAMES, FPS, cache=cache,
                               timer=timer)
            slip_s = time.perf_counter() - began
            want = visemes(truth.phones, frames, -offset_s)
            speech = want != SILENCE
            row = {"offset_s": offset_s, "placed_path": placed.path, "utterances_path": utterances.path,
                   "placed_agreement": round(float((visemes(placed.phones, frames) == want)[speech].mean()), 3),
                   "utterances_agreement": round(float((visemes(utterances.phones, frames) == want)[speech].mean()), 3),
                   "slip_s": round(slip_s, 3)}
            rows.append(row)
            print(f"offset {offset_s:4.1f} s  placed {row['placed_path']:10s} {row['placed_agreement']:.2f}  "
                  f"utterances {row['utterances_path']:10s} {row['utterances_agreement']:.2f}  slip {slip_s:.3f} s")
    placed_mean = float(np.mean([r["placed_agreement"] for r in rows]))
    utterances_mean = float(np.mean([r["utterances_agreement"] for r in rows]))
    print(f"mean viseme agreement with the transcript's alignment over speech: placed {placed_mean:.3f}, "
          f"utterances {utterances_mean:.3f}; ratio utterances / placed = {utterances_mean / placed_mean:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "placed_mean": placed_mean, "utterances_mean": utterances_mean},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
