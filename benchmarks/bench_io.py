"""Media I/O speed at 1080p: decode and encode fps per codec, and `sync --engine copy` ÷ transcode.

Run: `.venv/bin/python benchmarks/bench_io.py [--frames 120] [--json out.json]`

The source is real footage (a shared clip scaled to 1920x1080, H.264 4:2:0) so the encoders see
natural detail rather than flat synthetic frames. The ratio compares, in one run, the public
command (`mytalk sync --engine copy`, a subprocess, including its start-up, probing, audio
placement and hashing) with a plain PyAV loop that decodes the same range and encodes it with the
same encoder, pixel format and options. A ratio near 1.0 means the tool adds nothing to the floor
that any tool which must decode and encode pays.
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

import av

from mytalk.core.media.probe import probe
from mytalk.core.media.writer import CODEC_PRESETS

REPO = Path(__file__).resolve().parent.parent
MEDIA = REPO.parent / "shared" / "media"
SOURCE_CLIP = MEDIA / "video" / "wav2lip_pr600_man_720p_cutaway.mov"
AUDIO = MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
EXTENSION = {"ffv1": ".mkv", "prores": ".mov", "prores4444": ".mov", "dnxhr": ".mov", "h264": ".mp4"}


def make_1080p_source(path: Path, frames: int) -> None:
    """Scale the first `frames` frames of a real 720p clip to 1080p H.264 (crf 16, 30 fps)."""
    with av.open(str(SOURCE_CLIP)) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "16", "preset": "fast", "g": "30"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        written = 0
        for frame in source.decode(video=0):
            scaled = frame.reformat(width=1920, height=1080, format="yuv420p", interpolation="BICUBIC")
            scaled.pts, scaled.time_base = written, Fraction(1, 30)
            for packet in stream.encode(scaled):
                out.mux(packet)
            written += 1
            if written == frames:
                break
        for packet in stream.encode(None):
            out.mux(packet)


def decode_fps(path: Path) -> float:
    began = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = sum(1 for _ in container.decode(stream))
    return count / (time.perf_counter() - began)


def plain_transcode(source: Path, target: Path, codec: str, start: int, stop: int) -> float:
    """Seek, decode [start, stop) and encode with the preset's encoder; return seconds."""
    info = probe(source)
    assert info.video is not None
    preset = CODEC_PRESETS[codec]
    pix_fmt = preset.pix_fmt(info.video)
    began = time.perf_counter()
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream(preset.encoder, rate=info.video.fps, options=preset.options(info.video))
        vout.width, vout.height, vout.pix_fmt = info.video.width, info.video.height, pix_fmt
        vout.thread_type = "AUTO"
        inp.seek(int(start / info.video.fps / vin.time_base), stream=vin, backward=True)
        index = 0
        for frame in inp.decode(vin):
            position = round((frame.pts - (vin.start_time or 0)) * vin.time_base * info.video.fps)
            if position < start:
                continue
            if position >= stop:
                break
            converted = frame.reformat(format=pix_fmt) if frame.format.name != pix_fmt else frame
            converted.pts, converted.time_base = index, Fraction(1) / info.video.fps
            index += 1
            for packet in vout.encode(converted):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)
    return time.perf_counter() - began


def tool_sync(source: Path, target: Path, codec: str, start: int, stop: int, home: Path) -> float:
    command = [
        str(Path(sys.executable).with_name("mytalk")), "sync", str(source), "--audio", str(AUDIO),
        "-o", str(target), "--in", str(start), "--out", str(stop), "--engine", "copy", "--codec", codec, "--quiet",
    ]
    began = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "MYTALK_HOME": str(home)})
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames of 1080p source to make and process")
    parser.add_argument("--codecs", default=",".join(CODEC_PRESETS))
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per codec; the best of each is kept")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    if not SOURCE_CLIP.is_file():
        print(f"bench_io: needs {SOURCE_CLIP}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "source_1080p.mp4"
        make_1080p_source(source, args.frames)
        source_decode = decode_fps(source)
        start, stop = 10, args.frames  # start off a keyframe so the seek path is exercised
        for codec in args.codecs.split(","):
            ext = EXTENSION[codec]
            # Alternate the two and keep the best of each: on a shared machine the minimum is the
            # run least disturbed by other load, and alternating exposes both to the same load.
            plains, tools = [], []
            for _ in range(args.repeat):
                plains.append(plain_transcode(source, work / f"plain_{codec}{ext}", codec, start, stop))
                tools.append(tool_sync(source, work / f"tool_{codec}{ext}", codec, start, stop, work / "home"))
            plain, tool = min(plains), min(tools)
            encoded_decode = decode_fps(work / f"plain_{codec}{ext}")
            frames = stop - start
            # Encode-only fps: transcode time minus the time decoding the same frames takes.
            encode_fps = frames / max(plain - frames / source_decode, 1e-6)
            rows.append({
                "codec": codec, "frames": frames, "decode_fps": round(encoded_decode, 1),
                "encode_fps": round(encode_fps, 1), "transcode_s": round(plain, 3), "sync_copy_s": round(tool, 3),
                "ratio": round(tool / plain, 3),
            })
    print(f"1080p source: H.264 4:2:0 from real footage, decode {source_decode:.1f} fps; {args.frames} frames; "
          f"best of {args.repeat} alternating runs\n")
    print("| codec | decode fps | encode fps | plain transcode s | sync --engine copy s | ratio |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['codec']} | {row['decode_fps']} | {row['encode_fps']} | {row['transcode_s']} | "
              f"{row['sync_copy_s']} | {row['ratio']} |")
    if args.json:
        args.json.write_text(json.dumps({"source_decode_fps": source_decode, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
