"""Training and inference throughput of the neural engine at a preset, on a built dataset: the figures
`docs/training.md` quotes (samples/s, peak memory, time per epoch, probe losses, inference fps).

    python -m benchmarks.bench_training DATA [--preset base] [--device auto] [--motion-steps 60]
        [--appearance-steps 60] [--json OUT.json] [--work DIR]

What is measured, in one run:

- **training, real loop**: `train_motion` and `train_appearance` (the code `mytalk train` runs:
  batches drawn on the CPU from the dataset, by `--loader-workers` processes ahead of the step
  (default: the trainer's own choice), bf16 autocast on CUDA, probe, checkpoint) for a few
  steps each. samples/s comes from the wall clock between the progress callbacks of step 5 and
  of the last step, so start-up, the first probe and the final save are left out. Stage 2 runs
  with the adversary from its middle step on, and both halves are reported.
- **training, model only**: the same losses, backward and optimizer step on one batch kept on the
  device, which is the ceiling once batch drawing is taken off the critical path. The gap between
  the two says how much the CPU batch drawing costs.
- **peak memory** of each (`torch.cuda.max_memory_allocated`, reset between phases; CUDA only).
- **time per epoch**: an epoch is one pass over the dataset's training samples (motion: windows of
  `window` frames; appearance: frames with a face), at the real loop's rate.
- **inference**: stage 2 (the generator at the preset's crop size) on batches of 8, 32 and 128
  frames, float32 and bf16 autocast; stage 1 (the whole SpeechToLandmarkPipeline with the preset's
  DDIM steps and guidance) on a 60 s line at 25 fps. fps = frames per second of wall time after a
  warm-up, synchronised on the device.

The run trains from scratch into `--work` (a temporary folder by default), so its weights are
never kept. The probe losses of a few dozen steps say the loop descends; they are not a model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


class StepClock:
    """A progress callback that stamps the wall time at which each training step finished."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: dict[int, float] = {}

    def __call__(self, done: int, total: int, stage: str) -> None:
        if stage.startswith("training"):
            _sync(self.device)
            self.times[done] = time.perf_counter()

    def rate(self, first: int, last: int, batch: int) -> float | None:
        """Samples per second between the ends of steps `first` and `last`."""
        if first not in self.times or last not in self.times or last <= first:
            return None
        return batch * (last - first) / (self.times[last] - self.times[first])


def _probe_losses(run_dir: Path) -> tuple[dict[str, float], dict[str, float]]:
    evals = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if '"eval"' in line]
    return evals[0]["losses"], evals[-1]["losses"]


def bench_motion(data: Path, config: Any, device: torch.device, steps: int, work: Path,
                 loader_workers: int | None) -> dict[str, Any]:
    from mytalk.core.engines.devices import autocast
    from mytalk.core.engines.mytalk.batches import MotionBatches, to_device
    from mytalk.core.engines.mytalk.builders import build_motion
    from mytalk.core.engines.mytalk.dataset import Dataset
    from mytalk.core.engines.mytalk.objectives import motion_losses
    from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
    from mytalk.core.engines.mytalk.train import train_motion

    mc, tc = config.motion_model, config.motion_train
    dataset = Dataset(data)
    clock = StepClock(device)
    _reset_peak(device)
    began = time.perf_counter()
    result = train_motion(dataset, config, work / "motion", steps=steps, device=device.type, progress=clock,
                          loader_workers=loader_workers)
    wall = time.perf_counter() - began
    real = clock.rate(5, steps, tc.batch_size)
    out: dict[str, Any] = {"steps": steps, "batch": tc.batch_size, "wall_s": round(wall, 1),
                           "samples_per_s": round(real, 1) if real else None, "peak_gib": _peak_gib(device)}
    first, last = _probe_losses(result.run_dir)
    out["probe_first"], out["probe_last"] = first, last
    batches = MotionBatches(dataset, mc)
    out["epoch_samples"] = len(batches.windows)
    if real:
        out["epoch_s"] = round(len(batches.windows) / real, 1)

    # Model only: one batch kept on the device, the same losses, backward and AdamW step.
    model = build_motion(mc)
    model.fit_normaliser(batches.all_points())
    model.to(device).train()
    scheduler = DDIMScheduler(config.scheduler)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr)
    rng = np.random.default_rng(0)
    batch = to_device(batches.sample(tc.batch_size, rng), device)
    gen = torch.Generator().manual_seed(0)
    t = scheduler.sample_timesteps(tc.batch_size, gen).to(device)
    noise = torch.randn(batch["x0"].shape, generator=gen).to(device)
    _reset_peak(device)

    def one() -> None:
        with autocast(device):
            losses = motion_losses(model, scheduler, batch, t, noise, None)
        loss = losses["reconstruction"] + losses["velocity"] + tc.w_identity * losses["identity"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    out["model_only_samples_per_s"] = round(_rate(one, device, tc.batch_size), 1)
    out["model_only_peak_gib"] = _peak_gib(device)
    return out


def bench_appearance(data: Path, config: Any, device: torch.device, steps: int, work: Path,
                     loader_workers: int | None) -> dict[str, Any]:
    from mytalk.core.engines.devices import autocast
    from mytalk.core.engines.mytalk.batches import AppearanceBatches, to_device
    from mytalk.core.engines.mytalk.builders import build_discriminator, build_generator
    from mytalk.core.engines.mytalk.dataset import Dataset
    from mytalk.core.engines.mytalk.losses import discriminator_loss, generator_adversarial_loss
    from mytalk.core.engines.mytalk.objectives import appearance_losses
    from mytalk.core.engines.mytalk.train import train_appearance

    ac = config.appearance_model
    half = max(steps // 2, 6)
    tc = replace(config.appearance_train, adv_start=half)
    config = replace(config, appearance_train=tc)
    dataset = Dataset(data)
    clock = StepClock(device)
    _reset_peak(device)
    began = time.perf_counter()
    result = train_appearance(dataset, config, work / "appearance", steps=steps, device=device.type, progress=clock,
                              loader_workers=loader_workers)
    wall = time.perf_counter() - began
    plain, adversarial = clock.rate(5, half, tc.batch_size), clock.rate(half + 2, steps, tc.batch_size)
    out: dict[str, Any] = {"steps": steps, "batch": tc.batch_size, "adversary_from_step": half, "wall_s": round(wall, 1),
                           "samples_per_s": round(plain, 1) if plain else None,
                           "samples_per_s_with_adversary": round(adversarial, 1) if adversarial else None,
                           "peak_gib": _peak_gib(device)}
    first, last = _probe_losses(result.run_dir)
    out["probe_first"], out["probe_last"] = first, last
    batches = AppearanceBatches(dataset, ac, tc.exclude_radius)
    out["epoch_samples"] = len(batches.frames)
    if adversarial:
        out["epoch_s"] = round(len(batches.frames) / adversarial, 1)

    generator, disc = build_generator(ac).to(device).train(), build_discriminator(ac).to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=tc.lr_disc, betas=(0.5, 0.999))
    batch = to_device(batches.sample(tc.batch_size, np.random.default_rng(0)), device)
    _reset_peak(device)

    def one() -> None:
        with autocast(device):
            fake, losses = appearance_losses(generator, batch)
            d_loss = discriminator_loss(disc(batch["target"], batch["sketch"]).float(),
                                        disc(fake.detach(), batch["sketch"]).float(), tc.adv_loss)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with autocast(device):
            adv = generator_adversarial_loss(disc(fake, batch["sketch"]).float(), tc.adv_loss)
        loss = losses["l1"] + losses["ssim"] + losses["gradient"] + tc.w_adversarial * adv
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()

    out["model_only_samples_per_s_with_adversary"] = round(_rate(one, device, tc.batch_size), 1)
    out["model_only_peak_gib"] = _peak_gib(device)
    return out


def _rate(fn: Any, device: torch.device, per_call: int, repeats: int = 10) -> float:
    """Items per second of `fn` (`per_call` items each), after two warm-up calls."""
    fn()
    fn()
    _sync(device)
    began = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return per_call * repeats / (time.perf_counter() - began)


def bench_inference(config: Any, device: torch.device, line_s: float) -> dict[str, Any]:
    from mytalk.core.engines.devices import autocast
    from mytalk.core.engines.mytalk.builders import build_generator, build_motion
    from mytalk.core.engines.mytalk.landmarks import NUM_CONTENT, NUM_POINTS
    from mytalk.core.engines.mytalk.pipeline import SpeechToLandmarkPipeline
    from mytalk.core.engines.mytalk.scheduler import DDIMScheduler

    a = config.appearance_model
    generator = build_generator(a).to(device).eval()
    s, k = a.image_size, a.num_refs
    out: dict[str, Any] = {"crop_px": s, "stage2": {}}
    for batch in (8, 32, 128):
        inputs = [torch.rand(batch, 3, s, s, device=device), torch.rand(1, 1, s, s, device=device),
                  torch.rand(batch, 3, s, s, device=device), torch.rand(batch, k, 3, s, s, device=device),
                  torch.rand(batch, k, 3, s, s, device=device)]
        row: dict[str, float] = {}
        for precision in ("fp32", "bf16"):
            if precision == "bf16" and device.type != "cuda":
                continue

            def forward(precision: str = precision, tensors: list[torch.Tensor] = inputs) -> None:
                with torch.no_grad():
                    if precision == "bf16":
                        with autocast(device):
                            generator(*tensors)
                    else:
                        generator(*tensors)

            row[precision] = round(_rate(forward, device, batch, repeats=5), 1)
        out["stage2"][str(batch)] = row
    motion = build_motion(config.motion_model)
    pipe = SpeechToLandmarkPipeline(motion, DDIMScheduler(config.scheduler), device)
    frames = int(line_s * 25)
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, int(line_s * 16_000)).astype(np.float32)
    context = rng.normal(0, 0.3, (frames, NUM_POINTS - NUM_CONTENT, 2))
    refs = rng.normal(0, 0.3, (config.motion_model.num_refs, NUM_POINTS, 2))

    def stage1() -> None:
        pipe(audio, fps=Fraction(25), context=context, references=refs, num_inference_steps=config.sampling.steps,
             guidance_scale=config.sampling.guidance_scale, generator=torch.Generator().manual_seed(0))

    out["stage1_fps"] = round(_rate(stage1, device, frames, repeats=3), 1)
    out["stage1_line_s"] = line_s
    out["stage1_ddim_steps"] = config.sampling.steps
    return out


def main(argv: list[str] | None = None) -> int:
    from mytalk.core.engines.devices import resolve_device
    from mytalk.core.engines.mytalk.config import load_config

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_training", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a dataset folder from 'mytalk dataset build'")
    parser.add_argument("--preset", default="base")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--motion-steps", type=int, default=60)
    parser.add_argument("--appearance-steps", type=int, default=60)
    parser.add_argument("--line-s", type=float, default=60.0, help="length of the stage-1 inference line")
    parser.add_argument("--loader-workers", type=int, help="batch-drawing processes (default: the trainer's choice)")
    parser.add_argument("--skip", default="", help="comma-separated: motion, appearance, inference")
    parser.add_argument("--work", type=Path, help="where the throw-away runs go (default: a temporary folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    config = load_config(args.preset)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    from mytalk.core.engines.mytalk.prefetch import default_workers

    workers = args.loader_workers if args.loader_workers is not None else default_workers(device, os.cpu_count())
    results: dict[str, Any] = {"preset": args.preset, "device": device.type, "torch": torch.__version__,
                               "threads": torch.get_num_threads(), "loader_workers": workers,
                               "world_size": 1}
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name(device)
        results["gpus"] = torch.cuda.device_count()

    def save() -> None:
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2))

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        if "motion" not in skip:
            results["motion"] = bench_motion(args.data, config, device, args.motion_steps, work / "m", workers)
            print("motion", json.dumps(results["motion"]), flush=True)
            save()
        if "appearance" not in skip:
            results["appearance"] = bench_appearance(args.data, config, device, args.appearance_steps, work / "a",
                                                     workers)
            print("appearance", json.dumps(results["appearance"]), flush=True)
            save()
    if "inference" not in skip:
        results["inference"] = bench_inference(config, device, args.line_s)
        print("inference", json.dumps(results["inference"]), flush=True)
        save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
