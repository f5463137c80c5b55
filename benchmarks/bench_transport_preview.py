"""A warm preview of a long AVCHD-style clip: its probe kept by the session, or probed again by every job.

Run: `PYTHONPATH=. .venv/bin/python -m benchmarks.bench_transport_preview [--minutes 1 5 10] [--json OUT.json]`

A transport stream has no index, so `probe` demuxes all of it to count its frames exactly, and a camera's
AVCHD clip is up to 2 GB. The shared 512 px clip is coded as a camera's `.m2ts` (H.264 with B-frames at a
constant 24 Mb/s, AVCHD's top rate, the sound copied), then looped to each length by copying its packets.
For each length, in one process with the runtime's own commands (`commands.learn_actor`, `commands.preview`)
and warm phone processes as the runtime lends them:
- one `probe` of the file (the best of three, from the page cache);
- the actor learned and a 5 s range previewed once, so that every cache is warm;
- then `--rounds` interleaved pairs of the same preview: one with the session's probes kept
  (`JobSession.probes`, the product), one with a session that keeps none (`ClipProbes(kept=0)`: every
  job probes the clip as before the session kept them, once for the command and once for the job).

Printed per length: the probe's seconds, each arm's median seconds to the first frame (the poster, as the
panel shows it) and to the whole proxy, and the first-frame ratio kept ÷ not kept, measured in this run.
The warm bar of issue #16 is 1.0 s to the first frame.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from benchmarks.bench_first_frame import looped_clip

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
SOURCE = MEDIA / "video" / "hdtf_wda_katiehill_512.mp4"
LINE = MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
RATE_BPS = 24_000_000
RANGE = ("50", "175")
"""Frames [in, out): 5 s inside the first loop, so that every length seeks to the same pictures."""


def camera_m2ts(source: Path, target: Path) -> Path:
    """`source` coded as an AVCHD camera writes it: H.264 High with B-frames at a constant `RATE_BPS` in a
    192-byte-packet transport stream, its sound copied."""
    with av.open(str(source)) as original, av.open(str(target), "w", format="mpegts",
                                                   options={"mpegts_m2ts_mode": "1"}) as copy:
        picture = original.streams.video[0]
        video = copy.add_stream("libx264", rate=25, options={
            "bf": "3", "g": "25", "preset": "veryfast", "x264-params": "nal-hrd=cbr",
            "b": str(RATE_BPS), "minrate": str(RATE_BPS), "maxrate": str(RATE_BPS), "bufsize": str(RATE_BPS // 2)})
        video.width, video.height, video.pix_fmt = picture.width, picture.height, "yuv420p"
        sound = copy.add_stream_from_template(original.streams.audio[0])
        coded_count = 0
        for packet in original.demux(picture, original.streams.audio[0]):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    packet.stream = sound
                    copy.mux(packet)
                continue
            for frame in packet.decode():
                coded = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
                coded.pts, coded.time_base = coded_count, Fraction(1, 25)
                coded_count += 1
                copy.mux(video.encode(coded))
        copy.mux(video.encode(None))
    return target


def best_probe_s(path: Path) -> float:
    from mytalk.core.media.probe import probe

    times = []
    for _ in range(3):
        began = time.perf_counter()
        probe(path)
        times.append(time.perf_counter() - began)
    return min(times)


def timed_preview(session: Any, request: Any) -> dict[str, float]:
    """Seconds to the first frame's poster and to the whole proxy."""
    from mytalk.core.jobs import commands

    began = time.perf_counter()
    seen: dict[str, float] = {}
    commands.preview(session, request, on_first_frame=lambda *_: seen.setdefault("first_frame_s",
                                                                                 time.perf_counter() - began))
    return {"first_frame_s": seen["first_frame_s"], "whole_proxy_s": time.perf_counter() - began}


def measure(clip: Path, scratch: Path, rounds: int) -> dict[str, Any]:
    from mytalk.core.audio.phone_workers import PhoneWorkers
    from mytalk.core.jobs import commands
    from mytalk.core.jobs.clip_probes import ClipProbes
    from mytalk.core.jobs.request import SyncRequest

    request = SyncRequest(video=clip, audio=LINE, output=scratch / "unused.mov", in_point=RANGE[0], out_point=RANGE[1])
    with PhoneWorkers() as workers:
        kept = commands.JobSession(preview_dir=scratch / "previews", phone_workers=workers)
        probed_each_time = commands.JobSession(preview_dir=scratch / "previews", phone_workers=workers,
                                               probes=ClipProbes(kept=0))
        commands.learn_actor(kept, request)
        timed_preview(kept, request)  # every cache warm, the clip's probe kept
        arms: dict[str, list[dict[str, float]]] = {"kept": [], "not kept": []}
        for _ in range(rounds):
            arms["kept"].append(timed_preview(kept, request))
            arms["not kept"].append(timed_preview(probed_each_time, request))
    medians = {arm: {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}
               for arm, runs in arms.items()}
    return {"runs": arms, "median": medians,
            "first_frame_ratio_kept_over_not_kept": round(medians["kept"]["first_frame_s"]
                                                          / medians["not kept"]["first_frame_s"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 10.0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not SOURCE.is_file():
        print(f"shared clip missing: {SOURCE}", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        os.environ["MYTALK_HOME"] = str(scratch / "home")  # caches of this run only
        one_loop = camera_m2ts(SOURCE, scratch / "one_loop.m2ts")
        for minutes in args.minutes:
            clip = looped_clip(one_loop, minutes * 60, scratch / f"camera_{minutes:g}min.m2ts")
            time.sleep(2.1)  # a file written within the last 2 s is never remembered (`clip_probes`)
            row = {"minutes": minutes, "bytes": clip.stat().st_size, "probe_s": round(best_probe_s(clip), 3),
                   **measure(clip, scratch, args.rounds)}
            results.append(row)
            median = row["median"]
            print(f"{minutes:g} min, {row['bytes'] / 1e6:.0f} MB: probe {row['probe_s']:.2f} s; warm preview, first "
                  f"frame / whole proxy: kept {median['kept']['first_frame_s']:.2f} / "
                  f"{median['kept']['whole_proxy_s']:.2f} s, not kept {median['not kept']['first_frame_s']:.2f} / "
                  f"{median['not kept']['whole_proxy_s']:.2f} s; first frame kept / not kept "
                  f"{row['first_frame_ratio_kept_over_not_kept']:.2f}", flush=True)
            clip.unlink()
    if args.json:
        args.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
