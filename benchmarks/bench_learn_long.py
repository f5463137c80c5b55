"""What the panel's `learn`, and a Preview the instant a clip is open, cost on a long camera original.

    .venv/bin/python -m benchmarks.bench_learn_long [--minutes 10 1] [--json OUT.json]

A clip longer than 30 s is learned from a 20 s sample of itself (`engines.default_reference`), so tracking
and phones cost the same for a minute as for an hour. What read the whole file until session 32 was what the
sample cannot bound: its SHA-256 (the caches' key; a file over 256 MB is now keyed by its identity,
`hashing.cache_key`), its own sound (decoded whole from the start; a PCM sound is now read by spans,
`media.clip_sound.PcmSpans`); its index (`probe`) still is. For each length the benchmark makes a 1920 x 1080
ProRes 422 HQ clip with PCM sound (`bench_first_frame.camera_clip`, looped: about 1.2 GB a minute, written
into a temporary folder; ten minutes need 12 GB free), then, each in a new runtime with empty caches:
- sends the `learn` the panel sends when a clip is opened and prints when its first progress event came
  (what was done before the tracking) and when it was done;
- sends a Preview of its first 5 s with the shared line (`bench_first_frame.preview`: the range lies
  outside the sample, so it is tracked on its own) and prints its first frame and whole proxy;
and, apart, the seconds `sha256` takes over the file alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_first_frame import (
    CAMERA_CLIP,
    MEDIA,
    camera_clip,
    fresh_runtime,
    looped_clip,
    preview,
    warmed_up,
)

PREVIEW_FRAMES = 125
"""The preview's range: the clip's first 5 s at 25 fps."""


def _hash_seconds(path: Path) -> float:
    began = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 2**20):
            digest.update(chunk)
    return time.perf_counter() - began


def _learn(clip: Path, home: Path) -> dict[str, Any]:
    """The panel's `learn` of `clip` in a new, warmed-up runtime over the empty user folder `home`."""
    runtime, _ = fresh_runtime(home)
    try:
        warmed_up(runtime)
        began = time.perf_counter()
        runtime.send(type="learn", id="learn", request={"video": str(clip), "engine": "classic"})
        first: float | None = None
        stages: dict[str, float] = {}
        while True:
            event = runtime.events.get(timeout=900)
            if event.get("id") != "learn":
                continue
            now = time.perf_counter() - began
            if event["event"] == "progress":
                first = now if first is None else first
                stages.setdefault(str(event.get("stage")), round(now, 2))
            elif event["event"] == "error":
                raise RuntimeError(f"{clip.name}: {event['message']}")
            elif event["event"] == "done":
                return {"first_progress_s": round(first or now, 2), "learn_s": round(now, 2), "stages_from_s": stages}
    finally:
        runtime.close()


def _cold_preview(clip: Path, home: Path) -> dict[str, Any]:
    """A Preview of the clip's first 5 s in a new, warmed-up runtime over the empty user folder `home`."""
    runtime, _ = fresh_runtime(home)
    try:
        warmed_up(runtime)
        times = preview(runtime, clip, PREVIEW_FRAMES, "cold-preview")
        return {"preview_first_frame_s": round(times["first_frame_s"], 2),
                "preview_whole_proxy_s": round(times["whole_proxy_s"], 2)}
    finally:
        runtime.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 1.0], help="clip lengths to learn")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    source = MEDIA / "video" / CAMERA_CLIP
    if not source.is_file():
        print(f"skip: {source} not found", file=sys.stderr)
        return 0
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mytalk-learn-long-") as tmp:
        scratch = Path(tmp)
        camera = camera_clip(source, scratch / "camera.mov")
        for minutes in args.minutes:
            clip = looped_clip(camera, minutes * 60, scratch / f"camera_{minutes:g}min.mov")
            row = {"bytes": clip.stat().st_size, "sha256_alone_s": round(_hash_seconds(clip), 2),
                   **_learn(clip, scratch / f"home-{minutes:g}"),
                   **_cold_preview(clip, scratch / f"home-{minutes:g}-preview")}
            results[f"{minutes:g} min"] = row
            print(f"{minutes:g} min ProRes 422 HQ 1080p ({row['bytes'] / 2**30:.1f} GB): learn {row['learn_s']:.2f} s, "
                  f"first progress at {row['first_progress_s']:.2f} s; sha256 of the file alone "
                  f"{row['sha256_alone_s']:.2f} s; stages from {row['stages_from_s']}; a cold Preview: first frame "
                  f"{row['preview_first_frame_s']:.2f} s, whole proxy {row['preview_whole_proxy_s']:.2f} s")
            clip.unlink()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
