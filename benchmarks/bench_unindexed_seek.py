"""Reading a range deep in a clip without a keyframe index: MPEG transport and program streams.

Run: `PYTHONPATH=. .venv/bin/python -m benchmarks.bench_unindexed_seek [--seconds 60] [--json out.json]`

Broadcast recordings (`.ts`), AVCHD cameras (`.mts`, `.m2ts`), HDV (`.m2t`) and DVD/MPEG-2 files (`.mpg`)
carry no index of their keyframes, and FFmpeg seeks in them by timestamps alone. Every job reads its range
(and a long clip's four sample windows) through `FrameReader`, and so does the panel's viewer at each jump.
This makes a shared clip into such files (looped to `--seconds`, H.264 with B-frames and a 1 s GOP, MPEG-2
with B-frames and a 12-frame GOP as HDV has it), then reads 10 frames at four places with `FrameReader` and,
in the same run, decodes the file from its first packet to the same place with a plain PyAV loop: the cost
of a reader that cannot seek. Each read is checked frame by frame against that plain decode. Printed per
place: the frames the reader decoded, its seconds, and the plain decode's seconds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mytalk.core.media.reader import FrameReader

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "media" / "video" / "hdtf_wda_katiehill_512.mp4"
FORMS = (("h264 in MPEG-TS (.ts)", "libx264", "long.ts", {"g": "25", "bf": "3"}),
         ("MPEG-2 in MPEG-TS (.m2t, HDV)", "mpeg2video", "hdv.m2t", {"g": "12", "bf": "2"}),
         ("MPEG-2 in MPEG-PS (.mpg)", "mpeg2video", "long.mpg", {"g": "12", "bf": "2"}))
READ = 10


def make_clip(path: Path, codec: str, options: dict[str, str], seconds: int) -> None:
    """The shared clip's pictures looped to `seconds` at 25 fps, coded with `codec` into `path`."""
    with av.open(str(SOURCE)) as source:
        pictures = [frame.to_ndarray(format="yuv420p") for frame in source.decode(video=0)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        if codec == "mpeg2video":
            stream.bit_rate = 8_000_000
        for index in range(25 * seconds):
            frame = av.VideoFrame.from_ndarray(pictures[index % len(pictures)], format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def plain_decode(path: Path, stop: int) -> tuple[list[np.ndarray], float]:
    """Frames [0, stop) decoded from the first packet in presentation order, and the seconds that took."""
    began = time.perf_counter()
    frames: list[tuple[int, np.ndarray]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append((frame.pts, frame.to_ndarray(format="yuv420p")))
            if len(frames) >= stop + 8:  # past any reordering of B-frames
                break
    frames.sort(key=lambda pair: pair[0])
    return [picture for _, picture in frames[:stop]], time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for label, codec, name, options in FORMS:
            path = Path(folder) / name
            make_clip(path, codec, options, args.seconds)
            total = 25 * args.seconds
            for start in (total // 5, total // 2 + 7, total - 3 * 25 - 1, total - READ):
                began = time.perf_counter()
                with FrameReader(path) as reader:
                    read = [frame.frame.to_ndarray(format="yuv420p") for frame in reader.frames(start, start + READ)]
                    stats = reader.last_stats
                seconds = time.perf_counter() - began
                truth, plain_s = plain_decode(path, start + READ)
                exact = all(np.array_equal(a, b) for a, b in zip(read, truth[start:], strict=True))
                row = {"form": label, "start": start, "decoded": stats.decoded, "seeks": stats.attempts,
                       "reader_s": round(seconds, 3), "plain_decode_s": round(plain_s, 3), "exact": exact}
                results.append(row)
                print(f"{label:32s} frames {start}-{start + READ - 1}: decoded {stats.decoded:5d} in {seconds:.2f} s "
                      f"({stats.attempts} seeks); from the first packet {plain_s:.2f} s; exact {exact}")
    if args.json:
        args.json.write_text(json.dumps({"seconds": args.seconds, "results": results}, indent=2))
    return 0 if all(row["exact"] for row in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
