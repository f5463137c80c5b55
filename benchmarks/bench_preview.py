"""Time from Preview to the first proxy frame on a 5 s range, through the real runtime.

    .venv/bin/python -m benchmarks.bench_preview [--engine NAME] [--runs N] [--json OUT.json]

For each shared clip, a warm runtime (started once, outside the timing) gets a `preview` request
for the clip's first 5 seconds. Two clocks stop, both at a picture ready for display:
- first frame: the partial `preview-ready` arrives and its PNG (the in point, rendered) is read,
  which is what the editor first sees after pressing Preview;
- whole proxy: the final `preview-ready` arrives and the proxy's first frame is decoded and
  converted, from where the editor can play the range with the new line.
The target for the classic engine is under 2 s; other engines are reported as they are.

Per run it also reports when the preview-ready event arrived and the job's own stage timings
(from its report), so a slow number can be traced to a stage. The first run of each clip is
a warm-up (it hashes the inputs, which later runs reuse from the cache) and is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from benchmarks.runtime_client import Runtime

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
CLIPS = ("retalking_face2_swalwell.mp4", "wav2lip_pr600_man_720p_cutaway.mov", "latentsync_demo2_man_vertical_hevc.mp4")
LINE = "jfk_inaugural_en_16k.wav"
RANGE_S = 5


def run_once(runtime: Runtime, clip: Path, frames: int, engine: str, job: str, out: Path) -> dict[str, Any]:
    from mytalk.ui.decoder import FrameDecoder

    began = time.perf_counter()
    runtime.send(type="preview", id=job, request={
        "video": str(clip), "audio": str(MEDIA / "audio" / LINE), "output": str(out),
        "in_point": "0", "out_point": str(frames), "engine": engine})
    ready_s: float | None = None
    poster_s: float | None = None
    while True:
        event = runtime.events.get(timeout=600)
        if event.get("id") != job:
            continue
        if event["event"] == "preview-ready" and event.get("partial"):
            assert cv2.imread(event["path"]) is not None
            poster_s = time.perf_counter() - began
        elif event["event"] == "preview-ready":
            ready_s = time.perf_counter() - began
            decoder = FrameDecoder(Path(event["path"]))
            decoder.frame(0)
            first_frame_s = time.perf_counter() - began
            decoder.close()
        elif event["event"] == "error":
            raise RuntimeError(f"{clip.name}: {event['message']}")
        elif event["event"] == "done":
            return {"first_frame_s": poster_s, "proxy_first_frame_s": first_frame_s, "preview_ready_s": ready_s,
                    "stages_s": event["result"]["report"]["timings_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", help="engine (default: classic when installed, else the first available)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per clip after one warm-up")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    home = tempfile.TemporaryDirectory(prefix="mytalk-bench-")
    os.environ["MYTALK_HOME"] = home.name

    from mytalk.core.media.probe import probe

    runtime = Runtime()
    engines = runtime.hello["engines"]
    engine = args.engine or ("classic" if "classic" in engines else engines[0])
    results: dict[str, Any] = {"engine": engine, "range_s": RANGE_S, "clips": {}}
    try:
        for name in CLIPS:
            clip = MEDIA / "video" / name
            if not clip.is_file():
                print(f"skip {name}: not found", file=sys.stderr)
                continue
            video = probe(clip).video
            assert video is not None
            frames = min(video.frame_count, round(RANGE_S * video.fps))
            run_once(runtime, clip, frames, engine, f"warm-{name}", Path(home.name))
            runs = [run_once(runtime, clip, frames, engine, f"{name}-{i}", Path(home.name)) for i in range(args.runs)]
            first = [r["first_frame_s"] for r in runs]
            summary = {"frames": frames, "size": f"{video.width}x{video.height}", "fps": float(video.fps),
                       "codec": video.codec, "first_frame_s_median": round(statistics.median(first), 3),
                       "first_frame_s_runs": [round(v, 3) for v in first],
                       "proxy_first_frame_s_median": round(statistics.median(r["proxy_first_frame_s"] for r in runs), 3),
                       "preview_ready_s_median": round(statistics.median(r["preview_ready_s"] for r in runs), 3),
                       "stages_s_last_run": runs[-1]["stages_s"]}
            results["clips"][name] = summary
            print(f"{name:42s} {summary['size']:>9s} {frames:4d} fr  first frame "
                  f"{summary['first_frame_s_median']:.2f} s (median of {args.runs}; runs {summary['first_frame_s_runs']}), "
                  f"whole proxy {summary['proxy_first_frame_s_median']:.2f} s"
                  f"  stages {summary['stages_s_last_run']}")
    finally:
        runtime.close()
        home.cleanup()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"engine {engine}; target < 2 s applies to the classic engine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
