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

`--camera` learns the default sample (four 5 s windows) of a 60 s 1920 x 1080 ProRes 422 HQ clip instead, a
camera original's format, with a third way: the pieces kept within the 64 MB budget they had before session 31
(the sample's pieces take 114 MB: 10-bit samples, 2 bytes each).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
CLIPS = ("hdtf_wda_katiehill_512.mp4", "wav2lip_pr600_man_720p_cutaway.mov", "latentsync_demo2_man_vertical_hevc.mp4")


def _learn(references: list[Any], pieces: Callable[[], Any]) -> tuple[Any, float, float]:
    """(profile, seconds to learn it from `references`, seconds of its crop stage) with `pieces` as the profile
    builder's `MouthPieces`."""
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
        profile = profile_builder.build_profile(references, use_cache=False)
        return profile, time.perf_counter() - began, crops[0]
    finally:
        profile_builder.extract_crops, profile_builder.MouthPieces = extract, kept


def _same_crops(a: Any, b: Any) -> bool:
    return (np.array_equal(a.rows, b.rows) and np.array_equal(a.boxes, b.boxes)
            and np.array_equal(a.landmarks, b.landmarks) and len(a.crops) == len(b.crops)
            and all(np.array_equal(x, y) for x, y in zip(a.crops, b.crops, strict=True)))


def _compare(name: str, clip: Path, references: list[Any], ways: dict[str, Callable[[], Any]],
             repeat: int) -> dict[str, Any]:
    """Learn from `references` each way in turn, `repeat` times; print and return the runs, and whether every way
    gave the same crops as the product's ("pieces")."""
    from mytalk.core.media.probe import probe

    video = probe(clip).video
    assert video is not None
    runs: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    learned: dict[str, Any] = {}
    for _ in range(repeat):
        for way, pieces in ways.items():
            profile, seconds, crops = _learn(references, pieces)
            runs[way].append((seconds, crops))
            learned[way] = profile.appearance
    same = all(_same_crops(learned["pieces"], learned[way]) for way in ways)
    best = {way: min(r[0] for r in runs[way]) for way in ways}
    result = {"frames": sum(r.stop - r.start for r in references), "size": f"{video.width}x{video.height}",
              "codec": video.codec, "pix_fmt": video.pix_fmt, "crops": len(learned["pieces"].crops), "same_crops": same,
              "runs_s": {way: [[round(s, 3), round(c, 3)] for s, c in r] for way, r in runs.items()},
              "ratio_best": {way: round(best["pieces"] / best[way], 3) for way in ways if way != "pieces"}}
    for way in ways:
        print(f"{name:42s} {way:24s} learn " + ", ".join(f"{s:.2f} s (crops {c:.2f} s)" for s, c in runs[way]))
    print(f"{name:42s} same crops: {same}; pieces ÷ each other way, best of each: {result['ratio_best']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way per clip, alternating")
    parser.add_argument("--camera", action="store_true",
                        help="instead, learn the 20 s sample of a 60 s 1920 x 1080 ProRes 422 HQ clip "
                             "(`bench_first_frame.camera_clip`), with the pieces' budget before session 31 too")
    args = parser.parse_args()

    from mytalk.core.engines.base import ReferenceRange
    from mytalk.core.engines.classic import profile_crops
    from mytalk.core.face.tracker import load_face_stack
    from mytalk.core.media.probe import probe

    load_face_stack()
    ways: dict[str, Callable[[], Any]] = {"decoded again": lambda: profile_crops.MouthPieces(0),
                                          "pieces": profile_crops.MouthPieces}
    results: dict[str, Any] = {}
    if args.camera:
        from benchmarks.bench_first_frame import CAMERA_CLIP, camera_clip, looped_clip
        from mytalk.core.engines.default_reference import default_references

        ways["pieces within 64 MB"] = lambda: profile_crops.MouthPieces(64 * 2**20)
        with tempfile.TemporaryDirectory(prefix="mytalk-learning-") as tmp:
            camera = camera_clip(MEDIA / "video" / CAMERA_CLIP, Path(tmp) / "camera.mov")
            clip = looped_clip(camera, 60, Path(tmp) / "camera_60s.mov")
            video = probe(clip).video
            assert video is not None
            references = list(default_references(clip, video.frame_count, video.fps))
            results["camera ProRes 422 HQ 1080p, 60 s: its 20 s sample"] = _compare(
                "60 s ProRes 422 HQ 1080p, its sample", clip, references, ways, args.repeat)
    for name in () if args.camera else CLIPS:
        clip = MEDIA / "video" / name
        if not clip.is_file():
            print(f"{name}: shared clip missing, skipped")
            continue
        video = probe(clip).video
        assert video is not None
        results[name] = _compare(name, clip, [ReferenceRange(clip, 0, video.frame_count)], ways, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
