"""Inference speed of the neural engine: each stage per preset, and `mytalk sync --engine mytalk` end to end.

    python -m benchmarks.bench_neural [--presets tiny,small,base] [--device cpu|cuda|auto] [--frames 250]
        [--clip VIDEO --audio LINE --range 0-100] [--json OUT.json]

Stage timings use randomly initialised networks of each preset (speed does not depend on the
weights), so they need no trained model: stage 1 = the whole SpeechToLandmarkPipeline over
`--frames` frames at 25 fps (DDIM steps of the preset), stage 2 = the AppearanceGenerator on
batches of 8 frames at the preset's crop size. fps = frames per second of wall time, after one
warm-up call. The end-to-end figure needs a trained model in the user models folder (or
MYTALK_HOME): it runs the real job (tracking, references, both stages, compositing, ffv1 writing).
Threads: torch's default unless OMP_NUM_THREADS is set.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_preset(name: str, device: torch.device, frames: int) -> dict[str, Any]:
    from mytalk.core.engines.mytalk.builders import build_generator, build_motion
    from mytalk.core.engines.mytalk.config import load_config
    from mytalk.core.engines.mytalk.landmarks import NUM_CONTENT, NUM_POINTS
    from mytalk.core.engines.mytalk.pipeline import SpeechToLandmarkPipeline
    from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
    from mytalk.core.engines.mytalk.seeding import seeded

    cfg = load_config(name)
    with seeded(0):
        motion = build_motion(cfg.motion_model)
        generator = build_generator(cfg.appearance_model).to(device).eval()
    rng = np.random.default_rng(0)
    pipe = SpeechToLandmarkPipeline(motion, DDIMScheduler(cfg.scheduler), device)
    audio = rng.normal(0, 0.1, int(frames / 25 * 16_000)).astype(np.float32)
    context = rng.normal(0, 0.3, (frames, NUM_POINTS - NUM_CONTENT, 2))
    refs = rng.normal(0, 0.3, (cfg.motion_model.num_refs, NUM_POINTS, 2))

    def stage1() -> None:
        pipe(audio, fps=Fraction(25), context=context, references=refs, num_inference_steps=cfg.sampling.steps,
             guidance_scale=cfg.sampling.guidance_scale, generator=torch.Generator().manual_seed(0))
        _sync(device)

    a = cfg.appearance_model
    s, k, b = a.image_size, a.num_refs, 8
    inputs = [torch.rand(b, 3, s, s, device=device), torch.rand(1, 1, s, s, device=device),
              torch.rand(b, 3, s, s, device=device), torch.rand(b, k, 3, s, s, device=device),
              torch.rand(b, k, 3, s, s, device=device)]

    def stage2() -> None:
        with torch.no_grad():
            generator(*inputs)
        _sync(device)

    out: dict[str, Any] = {"preset": name, "device": device.type, "crop_px": s, "ddim_steps": cfg.sampling.steps,
                           "motion_params": sum(p.numel() for p in motion.parameters()),
                           "generator_params": sum(p.numel() for p in generator.parameters())}
    for label, fn, count, repeats in (("stage1", stage1, frames, 2), ("stage2", stage2, b, 3)):
        fn()  # warm-up
        began = time.perf_counter()
        for _ in range(repeats):
            fn()
        seconds = (time.perf_counter() - began) / repeats
        out[f"{label}_fps"] = round(count / seconds, 2)
    out["both_fps"] = round(1.0 / (1.0 / out["stage1_fps"] + 1.0 / out["stage2_fps"]), 2)
    return out


def bench_sync(clip: Path, audio: Path, span: str, device: str) -> dict[str, Any]:
    """`run_sync` with the installed model; timings from its own report."""
    from mytalk.core.jobs.request import SyncRequest
    from mytalk.core.jobs.sync import run_sync

    start, stop = (int(v) for v in span.split("-"))
    with tempfile.TemporaryDirectory() as tmp:
        request = SyncRequest(video=clip, audio=audio, output=Path(tmp) / "out.mkv", in_point=str(start),
                              out_point=str(stop), engine="mytalk", codec="ffv1", device=device,
                              references=[f"0-{min(start, 100)}"] if start > 0 else [])
        began = time.perf_counter()
        result = run_sync(request)
        total = time.perf_counter() - began
    timings = result.report["timings_s"]
    n = result.frames_written
    return {"frames": n, "total_s": round(total, 2), "fps_total": round(n / total, 2),
            "render_s": timings.get("render"), "fps_render": round(n / timings["render"], 2) if timings.get("render") else None,
            "prepare_s": timings.get("prepare"), "engine": result.report["engine_report"].get("models", {}).get("folder")}


def main(argv: list[str] | None = None) -> int:
    from mytalk.core.engines.devices import resolve_device

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_neural", description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small,base")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--frames", type=int, default=250, help="frames of the stage-1 line")
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--audio", type=Path)
    parser.add_argument("--range", default="100-150")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    results: dict[str, Any] = {"threads": torch.get_num_threads(), "presets": []}
    for name in [p.strip() for p in args.presets.split(",") if p.strip()]:
        row = bench_preset(name, device, args.frames)
        results["presets"].append(row)
        print(f"{name:6s} {device.type}: crop {row['crop_px']} px, stage 1 {row['stage1_fps']:8.1f} fps "
              f"({row['ddim_steps']} DDIM steps), stage 2 {row['stage2_fps']:7.2f} fps, both {row['both_fps']:7.2f} fps "
              f"(motion {row['motion_params'] / 1e6:.2f} M, generator {row['generator_params'] / 1e6:.2f} M params)")
    if args.clip is not None:
        if args.audio is None:
            parser.error("--clip needs --audio")
        results["sync"] = bench_sync(args.clip, args.audio, args.range, args.device)
        print(f"sync end to end: {json.dumps(results['sync'])}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
