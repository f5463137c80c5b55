"""The classic engine's speed and memory bars, and contact sheets to look at, in one run.

Run: `.venv/bin/python -m benchmarks.bench_classic [--out out/bench-classic] [--skip memory,sheets]`

- final: `mytalk sync --engine classic` on a 1080p range (real footage scaled to 1920x1080, the
  same source as bench_io.py) ÷ a plain PyAV decode + encode of that range with the same codec.
  Cold = a fresh MYTALK_HOME (the range is tracked), warm = the tracking cache filled (a second
  render of the same shot, what an editor does after the first).
- preview: `--quality preview` on the same range (a 540p proxy): frames ÷ seconds, for the whole
  command and for its render stage alone (from the job report).
- build: `mytalk actor build` from 10 s of that 1080p footage, cold.
- memory: peak RSS of `sync` on a 10 s and a 60 s range of a looped clip (512 px, 64 s), with the same
  4 s reference, so only the range length differs.
- sheets: dub renders of a few shared clips with source | output mouth crops, 2x enlarged.

Each timing alternates tool and floor runs and keeps the best of each (a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.bench_io import make_1080p_source, plain_transcode
from benchmarks.eval.contact_sheet import Panel, SheetRow, write_sheet

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
AUDIO = MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
LOOP_CLIP = MEDIA / "video" / "hdtf_wda_bobmenendez_512.mp4"
SHEET_CLIPS = (
    ("hdtf_wda_katiehill_512.mp4", "hdtf_radio31_en_16k.wav"),
    ("retalking_face4_woman_bluebg.mp4", "jfk_inaugural_en_16k.wav"),
    ("voxceleb2_00104_man_tv_224.mp4", "iplap_lecture_en_44k.wav"),
    ("wav2lip_pr600_man_720p_cutaway.mov", "gfpgan_kimk_speech_en_48k.mp3"),
)
EXTENSION = {"ffv1": ".mkv", "prores": ".mov", "h264": ".mp4"}


def mytalk(*args: str | Path, home: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run the console script; (seconds, result). Raises with its stderr when it fails."""
    command = [str(Path(sys.executable).with_name("mytalk")), *map(str, args)]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MYTALK_HOME": str(home)})
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-1500:]}")
    return seconds, done


def peak_rss_mib(args: list[str], home: Path) -> float:
    """Peak resident memory (MiB) of one `mytalk` command, measured in a fresh wrapper process."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [sys.executable, "-c", probe, str(Path(sys.executable).with_name("mytalk")), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True,
                          env={**os.environ, "MYTALK_HOME": str(home)})
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0


def make_loop(path: Path, repeats: int) -> int:
    """`LOOP_CLIP` played `repeats` times into one H.264 file (video only); returns its frame count."""
    with av.open(str(LOOP_CLIP)) as source:
        stream_in = source.streams.video[0]
        fps = stream_in.average_rate
        frames = [f.to_ndarray(format="yuv420p") for f in source.decode(stream_in)]
        width, height = stream_in.width, stream_in.height
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        index = 0
        for _ in range(repeats):
            for plane in frames:
                frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
                frame.pts, frame.time_base = index, Fraction(1) / Fraction(fps)
                index += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return index


def bench_final_and_preview(work: Path, codec: str, frames: int, repeat: int) -> dict[str, Any]:
    source = work / "source_1080p.mp4"
    if not source.exists():
        make_1080p_source(source, max(frames, 330))
    start, stop = 10, 10 + frames
    ext = EXTENSION[codec]
    plains, colds, warms = [], [], []
    for run in range(repeat):
        plains.append(plain_transcode(source, work / f"plain{ext}", codec, start, stop))
        home = work / f"home-final-{run}"
        args = ("sync", source, "--audio", AUDIO, "-o", work / f"classic{ext}", "--in", start, "--out", stop,
                "--codec", codec, "--reference", f"{start}-{stop}", "--quiet")
        colds.append(mytalk(*args, home=home)[0])
        warms.append(mytalk(*args, "--report", work / "final.json", home=home)[0])
    report = json.loads((work / "final.json").read_text())
    plain = min(plains)
    previews, renders = [], []
    for run in range(repeat):
        home = work / f"home-final-{run}"
        seconds, _ = mytalk("sync", source, "--audio", AUDIO, "-o", work / "preview.mp4", "--in", start, "--out", stop,
                            "--quality", "preview", "--reference", f"{start}-{stop}", "--report", work / "preview.json",
                            "--quiet", home=home)
        previews.append(seconds)
        renders.append(json.loads((work / "preview.json").read_text())["timings_s"]["render"])
    return {
        "codec": codec, "frames": frames, "size": "1920x1080",
        "plain_transcode_s": round(plain, 2),
        "classic_cold_s": round(min(colds), 2), "ratio_cold": round(min(colds) / plain, 2),
        "classic_warm_s": round(min(warms), 2), "ratio_warm": round(min(warms) / plain, 2),
        "warm_stage_s": report["timings_s"],
        "preview_total_fps": round(frames / min(previews), 1),
        "preview_render_fps": round(frames / min(renders), 1),
    }


def bench_build(work: Path) -> dict[str, Any]:
    source = work / "source_1080p.mp4"
    if not source.exists():
        make_1080p_source(source, 330)
    seconds, done = mytalk("actor", "build", "bench", f"{source}:0-300", "--quiet", home=work / "home-build")
    return {"footage_s": 10.0, "frames": 300, "size": "1920x1080", "build_s": round(seconds, 2),
            "message": next((line for line in done.stderr.splitlines() if line.startswith("built actor")), "")}


def bench_memory(work: Path) -> dict[str, Any]:
    clip = work / "loop_64s.mp4"
    total = make_loop(clip, 8)
    out: dict[str, Any] = {"clip": f"{LOOP_CLIP.name} x8 ({total} frames)"}
    for seconds in (10, 60):
        frames = seconds * 25
        start = 100  # 60 s from frame 100 ends at 1600, the loop's last frame
        args = ["sync", str(clip), "--audio", str(AUDIO), "-o", str(work / f"mem{seconds}.mkv"), "--in", str(start),
                "--out", str(start + frames), "--codec", "ffv1", "--reference", "0-100", "--quiet"]
        out[f"peak_rss_mib_{seconds}s"] = round(peak_rss_mib(args, work / f"home-mem-{seconds}"), 1)
    return out


def sheets(out_dir: Path, work: Path) -> list[str]:
    """Dub renders of `SHEET_CLIPS` (first 5 s) and their source | output sheets; returns the PNG paths."""
    from mytalk.core.media.probe import probe

    written = []
    for clip_name, audio_name in SHEET_CLIPS:
        clip = MEDIA / "video" / clip_name
        info = probe(clip)
        assert info.video is not None
        stop = min(info.video.frame_count, int(5 * float(info.video.fps)))
        out = work / f"sheet-{clip.stem}.mkv"
        report_path = work / f"sheet-{clip.stem}.json"
        mytalk("sync", clip, "--audio", MEDIA / "audio" / audio_name, "-o", out, "--in", 0, "--out", stop,
               "--codec", "ffv1", "--report", report_path, "--quiet", home=work / "home-sheets")
        report = json.loads(report_path.read_text())
        frames = [f for f in report["frames"] if f["mask_box"]]
        picks = np.linspace(0, len(frames) - 1, min(8, len(frames))).round().astype(int) if frames else []
        rows = []
        for i in picks:
            f = frames[int(i)]
            x0, y0, x1, y1 = f["mask_box"]
            pad = max(8, (x1 - x0) // 10)
            rows.append(SheetRow(f"t={f['index']}", (x0 - pad, y0 - pad, x1 + pad, y1 + pad),
                                 (Panel("source", clip, f["index"]), Panel("output", out, f["index"]))))
        path = write_sheet(out_dir / f"sheet-{clip.stem}.png", f"classic dub: {clip_name} with {audio_name}", rows)
        if path is not None:
            written.append(str(path))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench-classic")
    parser.add_argument("--codec", choices=sorted(EXTENSION), default="prores")
    parser.add_argument("--frames", type=int, default=150, help="frames of the 1080p range (30 fps)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: final,build,memory,sheets")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not AUDIO.is_file():
        print(f"bench_classic: needs the shared media at {MEDIA}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if "final" not in skip:
            results["final_and_preview"] = bench_final_and_preview(work, args.codec, args.frames, args.repeat)
            print(json.dumps(results["final_and_preview"], indent=1), flush=True)
        if "build" not in skip:
            results["build"] = bench_build(work)
            print(json.dumps(results["build"], indent=1), flush=True)
        if "memory" not in skip:
            results["memory"] = bench_memory(work)
            print(json.dumps(results["memory"], indent=1), flush=True)
        if "sheets" not in skip:
            results["sheets"] = sheets(args.out, work)
            print("\n".join(results["sheets"]), flush=True)
    (args.out / "bench_classic.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
