"""How `mytalk sync` scales with the range's length and the picture's size, against the floor.

Run: `.venv/bin/python -m benchmarks.bench_scaling [--lengths 1,10,60,600] [--cold-lengths 60]
[--sizes 224,512,1080,2160] [--codecs ffv1,prores] [--frames 150] [--json out.json]`

One table, every figure measured in this one run:
- **length sweep** (512 px, FFV1): ranges of 1 s, 10 s, 60 s and 10 min of a looped shared clip
  (`LOOP_CLIP`, 25 fps) with a looped line, so the mouth moves over the whole range; and cold
  (`--cold-lengths`): a range never tracked, which a long range paints while it is still tracked;
- **size sweep** (`--frames` frames, FFV1 and ProRes): 224 px (a shared VoxCeleb2 clip as shot),
  512 px (an HDTF clip as shot), 1080p and UHD 3840x2160 (the shared 720p clip scaled up);
- **one frame**, cold (a fresh MYTALK_HOME: the clip is probed, tracked and profiled) and warm (the
  same job again, what an editor's second preview of a line costs).

Each row gives the tool's wall time (the console script, a subprocess: start-up, imports, probe,
tracking, planning, render, encode, hash), its frames per second, the floor (a plain PyAV seek,
decode and encode of the same range with the same encoder and options, `bench_io.plain_transcode`)
and their ratio, the tool's peak resident memory, and the seconds from the job's start (after
start-up and imports) to its first written frame (the report's `timings_s.to_first_frame`, of the
fastest run). Tool runs are warm (the tracking, profile and
phone caches filled by a first run, and the modules' bytecode cached as in an installed package)
unless the row says cold; with `--repeat 2` tool and floor alternate and the best
of each is kept (a shared 2-core machine).

Every job uses the same reference range (the clip's first 4 s) so only the range differs between
rows of a sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks.bench_io import plain_transcode

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
LINE = MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
LOOP_CLIP = MEDIA / "video" / "hdtf_wda_bobmenendez_512.mp4"
SMALL_CLIP = MEDIA / "video" / "voxceleb2_00104_man_tv_224.mp4"
WIDE_CLIP = MEDIA / "video" / "wav2lip_pr600_man_720p_cutaway.mov"
EXTENSION = {"ffv1": ".mkv", "prores": ".mov"}
REFERENCE_FRAMES = 100
"""Reference range of every job: the source's first 100 frames (4 s at 25 fps)."""


@dataclass
class Row:
    case: str
    size: str
    codec: str
    frames: int
    tool_s: float
    fps: float
    floor_s: float | None
    ratio: float | None
    peak_rss_mib: float
    first_frame_s: float | None = None


def make_source(clip: Path, target: Path, frames: int, size: tuple[int, int] | None) -> None:
    """`clip`'s frames, looped to `frames` and scaled to `size` (None: as shot), as H.264 crf 16 at the clip's rate.

    The clip is decoded once and its frames kept (they are short); the file is what the tool reads."""
    with av.open(str(clip)) as source:
        stream_in = source.streams.video[0]
        rate = Fraction(stream_in.average_rate or 25)
        width, height = size or (stream_in.width, stream_in.height)
        planes = [f.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC").to_ndarray()
                  for f in source.decode(stream_in)]
    with av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=rate, options={"crf": "16", "preset": "veryfast", "g": "25"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Back and forth, so the loop has no jump cut at its seam (a cut would start a new shot).
        period = max(1, 2 * len(planes) - 2)
        for index in range(frames):
            k = index % period
            plane = planes[k if k < len(planes) else period - k]
            frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            frame.pts, frame.time_base = index, 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_line(target: Path, seconds: float) -> None:
    """The shared line looped to `seconds`, as 16 kHz mono 16-bit WAV."""
    with wave.open(str(LINE), "rb") as source:
        rate, width, channels = source.getframerate(), source.getsampwidth(), source.getnchannels()
        data = np.frombuffer(source.readframes(source.getnframes()), "<i2").reshape(-1, channels)
    reps = int(np.ceil(seconds * rate / data.shape[0]))
    looped = np.tile(data, (reps, 1))[: int(seconds * rate) + rate]
    with wave.open(str(target), "wb") as out:
        out.setframerate(rate)
        out.setsampwidth(width)
        out.setnchannels(channels)
        out.writeframes(looped.astype("<i2").tobytes())


def run_tool(args: list[str], home: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one `mytalk` command, run under a small wrapper process
    that reads its children's peak RSS (the wrapper itself is not counted)."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "s = time.perf_counter() - t; "
        "sys.stderr.write(done.stderr[-2000:]); "
        "print(s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)"
    )
    command = [sys.executable, "-c", wrapper, str(Path(sys.executable).with_name("mytalk")), *args]
    # As an installed package runs: with its modules' bytecode cached (pip compiles it on install). A
    # sandbox that sets PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(command, capture_output=True, text=True, env={**env, "MYTALK_HOME": str(home)})
    fields = done.stdout.strip().splitlines()[-1].split() if done.stdout.strip() else []
    if len(fields) != 3 or fields[2] != "0":
        raise RuntimeError(f"mytalk {' '.join(args)} failed: {done.stderr[-1500:]}")
    return float(fields[0]), int(fields[1]) / 1024.0


def sync_args(source: Path, line: Path, out: Path, start: int, stop: int, codec: str) -> list[str]:
    return ["sync", str(source), "--audio", str(line), "-o", str(out), "--in", str(start), "--out", str(stop),
            "--audio-in", "0", "--codec", codec, "--reference", f"0-{REFERENCE_FRAMES}", "--quiet",
            "--report", str(out.with_suffix(".json"))]


def first_frame_s(report: Path) -> float | None:
    """The job's own count of seconds until its first frame was written."""
    value = json.loads(report.read_text()).get("timings_s", {}).get("to_first_frame")
    return None if value is None else float(value)


def measure(case: str, size: str, source: Path, line: Path, work: Path, codec: str, start: int, stop: int,
            repeat: int, home: Path, *, warm: bool = True, floor: bool = True) -> Row:
    """Tool (after one run that fills the caches when `warm`) and floor, alternating, best of `repeat`."""
    ext = EXTENSION[codec]
    args = sync_args(source, line, work / f"tool{ext}", start, stop, codec)
    if warm:
        run_tool(args, home)
    tools: list[tuple[float, float, float | None]] = []
    floors: list[float] = []
    for run in range(repeat):
        if floor:
            floors.append(plain_transcode(source, work / f"floor{ext}", codec, start, stop))
        wall, peak = run_tool(args, home if warm else work / f"home-cold-{case}-{run}-{time.monotonic_ns()}")
        tools.append((wall, peak, first_frame_s(work / "tool.json")))
    seconds, _, first = min(tools, key=lambda t: t[0])
    rss = max(r for _, r, _ in tools)
    floor_s = min(floors) if floors else None
    frames = stop - start
    return Row(case, size, codec, frames, round(seconds, 2), round(frames / seconds, 1),
               None if floor_s is None else round(floor_s, 2),
               None if floor_s is None else round(seconds / floor_s, 2), round(rss, 1),
               None if first is None else round(first, 2))


def print_table(rows: list[Row]) -> None:
    print("| case | size | codec | frames | tool s | fps | floor s | ratio | peak RSS MiB | first frame s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        floor = "–" if r.floor_s is None else f"{r.floor_s:.2f}"
        ratio = "–" if r.ratio is None else f"**{r.ratio:.2f}**"
        first = "–" if r.first_frame_s is None else f"{r.first_frame_s:.2f}"
        print(f"| {r.case} | {r.size} | {r.codec} | {r.frames} | {r.tool_s:.2f} | {r.fps:.1f} | {floor} | {ratio} "
              f"| {r.peak_rss_mib:.0f} | {first} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1,10,60,600", help="range lengths in seconds (512 px, FFV1)")
    parser.add_argument("--cold-lengths", default="60", help="range lengths run cold, never tracked before")
    parser.add_argument("--sizes", default="224,512,1080,2160", help="picture heights of the size sweep")
    parser.add_argument("--codecs", default="ffv1,prores", help="codecs of the size sweep")
    parser.add_argument("--frames", type=int, default=150, help="frames per range of the size sweep")
    parser.add_argument("--repeat", type=int, default=2, help="alternating tool/floor runs; the best of each is kept")
    parser.add_argument("--skip-one-frame", action="store_true", help="leave out the one-frame rows")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    if not (LOOP_CLIP.is_file() and WIDE_CLIP.is_file() and SMALL_CLIP.is_file() and LINE.is_file()):
        print(f"bench_scaling: needs the shared media at {MEDIA}", file=sys.stderr)
        return 2
    lengths = [float(s) for s in args.lengths.split(",") if s.strip()]
    cold_lengths = [float(s) for s in args.cold_lengths.split(",") if s.strip()]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as folder:
        work = Path(folder)
        longest = max(lengths + cold_lengths + [args.frames / 25 + REFERENCE_FRAMES / 25 + 1])
        line = work / "line.wav"
        make_line(line, longest)
        fps = 25
        loop = work / "loop_512.mp4"
        make_source(LOOP_CLIP, loop, REFERENCE_FRAMES + int(max(lengths + cold_lengths, default=10) * fps) + 10, None)
        if not args.skip_one_frame:
            start = REFERENCE_FRAMES + 10
            home = work / "home-one"
            rows.append(measure("1 frame, cold", "512x512", loop, line, work, "ffv1", start, start + 1, args.repeat,
                                home, warm=False, floor=False))
            rows.append(measure("1 frame, warm", "512x512", loop, line, work, "ffv1", start, start + 1, args.repeat,
                                home, floor=False))
            print_table(rows[-2:])
        for seconds in lengths:
            start = REFERENCE_FRAMES
            stop = start + int(round(seconds * fps))
            # Long ranges run once: their time is minutes, and one run is what an editor waits for.
            repeat = args.repeat if seconds <= 60 else 1
            rows.append(measure(f"{seconds:g} s range", "512x512", loop, line, work, "ffv1", start, stop, repeat,
                                work / f"home-len-{seconds:g}"))
            print_table(rows[-1:])
        for seconds in cold_lengths:
            start = REFERENCE_FRAMES
            stop = start + int(round(seconds * fps))
            rows.append(measure(f"{seconds:g} s range, cold", "512x512", loop, line, work, "ffv1", start, stop, 1,
                                work / "unused", warm=False))
            print_table(rows[-1:])
        for height in sizes:
            if height == 224:
                clip, size = SMALL_CLIP, None
            elif height == 512:
                clip, size = LOOP_CLIP, None
            else:
                clip, size = WIDE_CLIP, (height * 16 // 9, height)
            source = work / f"source_{height}.mp4"
            make_source(clip, source, REFERENCE_FRAMES + args.frames + 10, size)
            with av.open(str(source)) as probe:
                stream = probe.streams.video[0]
                label = f"{stream.width}x{stream.height}"
            for codec in codecs:
                rows.append(measure(f"{args.frames} frames", label, source, line, work, codec, REFERENCE_FRAMES,
                                    REFERENCE_FRAMES + args.frames, args.repeat, work / f"home-size-{height}"))
                print_table(rows[-1:])
    print()
    print_table(rows)
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
