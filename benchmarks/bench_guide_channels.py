"""A two-hander's camera file as the clip: the guide and the actor's learning with every channel heard, and with
the actor's microphone picked (`--guide-channels`).

Run: `PYTHONPATH=. .venv/bin/python -m benchmarks.bench_guide_channels [--json out.json]`

For each shared HDTF clip (its actor A speaking) and a shared line B (the other actor, levelled to A's mean
power), the clip's sound is replaced by what a camera fed from a production recorder carries: four mono streams
at 48 kHz, titled 1 MIX L and 2 MIX R, (A + B) / 2; 3 BOOM, A + 0.3 B (the other actor 10 dB down); 4 LAV B,
B + 0.1 A. The picture is the clip's, stream-copied.

The line is A itself over the range, as a mono WAV: the same words as the take, as an ADR line that matches the
guide is. Three 4 s ranges of each clip (`RANGES`); each condition runs `mytalk sync` (the command-line
contract) on the range with a user folder of its own, so nothing is answered from another condition's caches:
- "clean": the original clip (one microphone, A alone): the ceiling;
- "all channels": the camera file without a pick (its first stream with sound, the mix, is heard);
- "BOOM picked": the camera file with `--guide-channels BOOM`.

Measured against the original clip's own frames over the range (the truth: the line is the take's own sound), by
the evaluation suite's landmarks (`benchmarks.eval.landmarks`): the lip error (mean lip-point distance, IOD) and
the Pearson r of the mouth aperture; and from the report, whether the guide matched, its alignment cost, whether
the job warned about the clip's channels, and which channel the warning suggested (`guide_suggestion`; 3 is the
boom).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.camera_take import write_camera_take
from benchmarks.eval.landmarks import LandmarkStore
from benchmarks.eval.mediaio import write_wav
from benchmarks.eval.metrics import lip_error, pearson_r
from mytalk.core.media.audio import decode_audio

MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", Path(__file__).resolve().parents[1].parent / "shared" / "media"))
CLIPS = (("hdtf_wda_katiehill_512.mp4", "hdtf_radio31_en_16k.wav"),
         ("hdtf_wda_bobmenendez_512.mp4", "jfk_inaugural_en_16k.wav"))
RATE = 48000
RANGES = ((0, 100), (50, 150), (100, 200))
"""Frames [in, out) synced in each clip: 4 s each at 25 fps, overlapping, within the shorter clip's 200."""
NAMES = ("MIX L", "MIX R", "BOOM", "LAV B")


def camera_file(clip: Path, other: Path, out: Path) -> np.ndarray:
    """Write the clip's picture with the four titled mono streams of the module docstring; return A (mono), at the
    level it has in them."""
    a = decode_audio(clip, RATE).samples[0]
    b = np.resize(decode_audio(other, RATE).samples[0], a.size)
    b = b * np.sqrt(np.mean(a**2) / max(1e-12, float(np.mean(b**2))))
    channels = np.stack([(a + b) / 2, (a + b) / 2, a + 0.3 * b, b + 0.1 * a])
    scale = 0.9 / max(1e-9, float(np.abs(channels).max()), float(np.abs(a).max()))
    write_camera_take(clip, channels * scale, RATE, NAMES, out)
    return a * scale


def sync(clip: Path, line: Path, span: tuple[int, int], work: Path, label: str, pick: str | None) -> dict[str, Any]:
    """`mytalk sync` of frames [in, out) with a user folder of its own; its report."""
    out, report = work / f"{label}.mov", work / f"{label}.json"
    command = [sys.executable, "-m", "mytalk.plugin.cli", "sync", str(clip), "--audio", str(line), "-o", str(out),
               "--in", str(span[0]), "--out", str(span[1]), "--report", str(report), "--quiet"]
    if pick is not None:
        command += ["--guide-channels", pick]
    env = dict(os.environ, MYTALK_HOME=str(work / f"home-{label}"))
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data: dict[str, Any] = json.loads(report.read_text())
    data["_output"] = str(out)
    return data


def measure(store: LandmarkStore, truth_clip: Path, data: dict[str, Any], span: tuple[int, int],
            fps: Fraction) -> dict[str, Any]:
    truth = store.track(truth_clip, span[0], span[1], fps)
    made = store.track(Path(data["_output"]), 0, span[1] - span[0], fps)
    both = truth.found & made.found
    error = lip_error(made.lips()[both], truth.lips()[both])
    guide = data["engine_report"].get("motion", {}).get("guide") or {}
    r = pearson_r(made.aperture()[both], truth.aperture()[both])
    return {"driver": data["engine_report"].get("driver"), "guide_matched": guide.get("matched"),
            "guide_cost": guide.get("cost"), "lip_error_iod": round(float(np.mean(error)), 4),
            "aperture_r": None if r is None else round(r, 3), "frames_measured": int(both.sum()),
            "warned": any("--guide-channels" in w for w in data["warnings"]),
            "suggested": _suggested(data["warnings"])}


def _suggested(warnings: list[str]) -> int | None:
    """The channel the job's warning suggests (`pick it with --guide-channels N`), None when it names none."""
    lead = "pick it with --guide-channels "
    for warning in warnings:
        if lead in warning:
            return int(warning.rsplit(lead, 1)[1].split()[0])
    return None


CONDITIONS = ("clean", "all channels", "BOOM picked")


def run() -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        store = LandmarkStore(None)
        for clip_name, other_name in CLIPS:
            clip = MEDIA / "video" / clip_name
            stem = Path(clip_name).stem
            camera = work / f"{stem}_camera.mov"
            a = camera_file(clip, MEDIA / "audio" / other_name, camera)
            with av.open(str(clip)) as container:
                fps = Fraction(container.streams.video[0].average_rate)
            for span in RANGES:
                line = work / f"{stem}_{span[0]}_line.wav"
                write_wav(line, a[round(span[0] * RATE / fps) : round(span[1] * RATE / fps)], RATE)
                row: dict[str, Any] = {"clip": clip_name, "other": other_name, "range": list(span)}
                for label, source, pick in (("clean", clip, None), ("all channels", camera, None),
                                            ("BOOM picked", camera, "BOOM")):
                    data = sync(source, line, span, work, f"{stem}-{span[0]}-{label.replace(' ', '_')}", pick)
                    row[label] = measure(store, clip, data, span, fps)
                    print(clip_name, span, label, row[label], flush=True)
                rows.append(row)
    summary = {label: {"guide_matched": f"{sum(bool(r[label]['guide_matched']) for r in rows)}/{len(rows)}",
                       "guide_cost": round(float(np.mean([r[label]["guide_cost"] for r in rows])), 3),
                       "lip_error_iod": round(float(np.mean([r[label]["lip_error_iod"] for r in rows])), 4),
                       "aperture_r": round(float(np.mean([r[label]["aperture_r"] or 0.0 for r in rows])), 3),
                       "warned": sum(bool(r[label]["warned"]) for r in rows),
                       "suggested_boom": sum(r[label]["suggested"] == 3 for r in rows)}
               for label in CONDITIONS}
    return {"clips": rows, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run()
    print(json.dumps(result["summary"], indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
