"""Stage 2 at the `base` preset under bf16 autocast: does it train, or does it diverge? With and without
`fusion_norm`, in one run, on the CPU (bf16 autocast runs convolutions in bf16 there too).

    python -m benchmarks.bench_stage2_stability DATA [--steps 300] [--size 128] [--batch 4] [--json OUT.json]

DATA is a dataset folder from `mytalk dataset build` (the shared clips will do). The `base` generator (its
widths, depth, K references and FusionNet) is trained from the same seed on the same batches, through
`objectives.appearance_losses` inside `torch.autocast("cpu", bfloat16)`, with what `mytalk train appearance`
does before its adversary starts: Adam (0.5, 0.999) at the preset's lr, the warm-up and cosine of an
800-step run (`lr_schedule`, warm-up 80 steps), gradients clipped to norm 1. The crops are made smaller than
the preset's (`--size`, default 128 px) and the batch too, so that a CPU can take a few hundred steps; the
networks are the preset's. A run has diverged at the first step whose loss is not finite or exceeds 10.

On the H200 (`benchmarks/results/h200_short_base_appearance_log.jsonl`) stage 2 of `base` diverged at step 80
of such a schedule, at 256 px and batch 16. Here the same happens without `fusion_norm`; the loss stays
where it was with it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

DIVERGED_LOSS = 10.0
SCHEDULE_STEPS = 800
WARMUP_STEPS = 80


def train(data: Path, fusion_norm: bool, steps: int, size: int, batch: int) -> dict[str, Any]:
    from mytalk.core.engines.mytalk.batches import AppearanceBatches
    from mytalk.core.engines.mytalk.builders import build_generator
    from mytalk.core.engines.mytalk.config import load_config
    from mytalk.core.engines.mytalk.dataset import Dataset
    from mytalk.core.engines.mytalk.lr_schedule import learning_rate
    from mytalk.core.engines.mytalk.objectives import appearance_losses
    from mytalk.core.engines.mytalk.seeding import seeded

    config = load_config("base")
    model = replace(config.appearance_model, image_size=size, fusion_norm=fusion_norm)
    tc = config.appearance_train
    batches = AppearanceBatches(Dataset(data), model, tc.exclude_radius)
    with seeded(0):
        generator = build_generator(model).train()
    optimizer = torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    losses: list[float] = []
    l1: list[float] = []
    diverged = None
    began = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, SCHEDULE_STEPS, tc.lr, WARMUP_STEPS)
        part = batches.sample(batch, rng)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _, terms = appearance_losses(generator, part)
        loss = tc.w_l1 * terms["l1"] + tc.w_ssim * terms["ssim"] + tc.w_gradient * terms["gradient"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(generator.parameters(), 1.0)
        optimizer.step()
        value = float(loss.detach())
        losses.append(value)
        l1.append(float(terms["l1"].detach()))
        if not math.isfinite(value) or value > DIVERGED_LOSS:
            diverged = step
            break
    seconds = time.perf_counter() - began
    tail = slice(max(0, len(losses) - 20), len(losses))
    return {
        "fusion_norm": fusion_norm,
        "steps_run": len(losses),
        "diverged_at_step": diverged,
        "loss_first_20": round(float(np.mean(losses[:20])), 4),
        "loss_last_20": round(float(np.mean(losses[tail])), 4) if diverged is None else None,
        "l1_last_20": round(float(np.mean(l1[tail])), 4) if diverged is None else None,
        "loss_max_after_warmup": round(max(losses[WARMUP_STEPS:], default=float("nan")), 4),
        "seconds_per_step": round(seconds / max(1, len(losses)), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="dataset folder from 'mytalk dataset build'")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--size", type=int, default=128, help="crop side in px (the preset's is 256)")
    parser.add_argument("--batch", type=int, default=4, help="frames per step (the preset's is 16)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not (args.data / "manifest.json").is_file():
        print(f"skip: {args.data} is not a built dataset", file=sys.stderr)
        return 0
    results = {"preset": "base", "size": args.size, "batch": args.batch, "autocast": "cpu bf16",
               "schedule": f"{SCHEDULE_STEPS} steps, warm-up {WARMUP_STEPS}", "torch": torch.__version__,
               "threads": torch.get_num_threads(), "runs": []}
    for fusion_norm in (False, True):
        row = train(args.data, fusion_norm, args.steps, args.size, args.batch)
        results["runs"].append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
