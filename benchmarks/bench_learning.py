"""What learning an actor from a clip costs, and what cutting the mouth crops from pieces saves.

Run: `PYTHONPATH=. .venv/bin/python -m benchmarks.bench_learning [--json out.json] [--repeat 2]`

A profile is learned (`build_profile`, nothing cached) from the whole of each shared clip short enough to be
learned whole (up to 30 s, `engines.default_reference`): the cost of the panel's `learn` when a clip is
opened, and of a cold first preview's learning. Each clip is learned two ways, alternating, in one process:

- pieces: the crops are read from pieces of the frames kept while they were tracked (`MouthPieces`, the
  product's way);
- decoded again: no pieces are kept (`MouthPieces(0)`), so the crops are cut from the reference decoded a
  second time, as before session 30.

Both must give the same crops bit for bit; the benchmark says so, and prints the seconds of each way, the
crop stage's own seconds, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
CLIPS = ("hdtf_wda_katiehill_512.mp4", "wav2lip_pr600_man_720p_cutaway.mov", "latentsync_demo2_man_vertical_hevc.mp4")


def _learn(clip: Path, frames: int, pieces: Callable[[], Any]) -> tuple[Any, float, float]:
    """(profile, seconds to learn it, seconds of its crop stage) with `pieces` as the profile builder's
    `MouthPieces`."""
    from mytalk.core.engines.base import ReferenceRange
    from mytalk.core.engines.classic import profile_builder

    crops = [0.0]
    extract, kept = profile_builder.extract_crops, profile_builder.MouthPieces

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return extract(*args, **kwargs)
        finally:
            crops[0] += time.perf_counter() - began

    profile_builder.MouthPieces, profile_builder.extract_crops = pieces, timed  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        profile = profile_builder.build_profile([ReferenceRange(clip, 0, frames)], use_cache=False)
        return profile, time.perf_counter() - began, crops[0]
    finally:
        profile_builder.extract_crops, profile_builder.MouthPieces = extract, kept


def _same_crops(a: Any, b: Any) -> bool:
    return (np.array_equal(a.rows, b.rows) and np.array_equal(a.boxes, b.boxes)
            and np.array_equal(a.landmarks, b.landmarks) and len(a.crops) == len(b.crops)
            and all(np.array_equal(x, y) for x, y in zip(a.crops, b.crops, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way per clip, alternating")
    args = parser.parse_args()

    from mytalk.core.engines.classic import profile_crops
    from mytalk.core.face.tracker import load_face_stack
    from mytalk.core.media.probe import probe

    load_face_stack()
    ways: dict[str, Callable[[], Any]] = {"decoded again": lambda: profile_crops.MouthPieces(0),
                                          "pieces": profile_crops.MouthPieces}
    results: dict[str, Any] = {}
    for name in CLIPS:
        clip = MEDIA / "video" / name
        if not clip.is_file():
            print(f"{name}: shared clip missing, skipped")
            continue
        video = probe(clip).video
        assert video is not None
        frames = video.frame_count
        runs: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
        learned: dict[str, Any] = {}
        for _ in range(args.repeat):
            for way, pieces in ways.items():
                profile, seconds, crops = _learn(clip, frames, pieces)
                runs[way].append((seconds, crops))
                learned[way] = profile.appearance
        same = _same_crops(learned["pieces"], learned["decoded again"])
        best = {way: min(r[0] for r in runs[way]) for way in ways}
        results[name] = {"frames": frames, "size": f"{video.width}x{video.height}", "codec": video.codec,
                         "crops": len(learned["pieces"].crops), "same_crops": same,
                         "runs_s": {way: [[round(s, 3), round(c, 3)] for s, c in r] for way, r in runs.items()},
                         "ratio_best": round(best["pieces"] / best["decoded again"], 3)}
        for way in ways:
            print(f"{name:42s} {way:14s} learn " + ", ".join(f"{s:.2f} s (crops {c:.2f} s)" for s, c in runs[way]))
        print(f"{name:42s} same crops: {same}; pieces ÷ decoded again, best of each: {results[name]['ratio_best']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
