"""`mytalk train motion|appearance DIR --config FILE.toml`: train either stage on a built dataset.

Output (under the models folder, `user_dirs().models / NAME`):

    motion.safetensors | appearance.safetensors     the weights the engine loads (latest)
    runs/<stage>/log.jsonl                           one JSON object per logged step / evaluation
    runs/<stage>/loss.png                            the loss curves of the run (log scale)
    runs/<stage>/state.safetensors                   optimizer state for --resume
    runs/<stage>/checkpoints/step-NNNNNN.safetensors periodic snapshots

Device: `auto` takes CUDA when there is one (with bf16 autocast for the forward passes; weights
and optimizer stay float32), else the CPU in float32. Every step's randomness comes from
generators seeded with (seed, step), so a resumed run continues exactly as an uninterrupted one
would have, without storing generator state.

Evaluation: a fixed "probe" batch (fixed windows or frames, fixed timesteps and noise) is scored
at the start, every `eval_every` steps and at the end; unlike the per-step training losses it is
comparable across steps, and is what the overfitting tests measure.

Cancellation: `is_cancelled()` is polled every step; a cancelled run saves its state first, so
`--resume` continues from there.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mytalk.core.engines.mytalk.appearance import AppearanceGenerator
from mytalk.core.engines.mytalk.audio_encoder import audio_window, collate_windows
from mytalk.core.engines.mytalk.checkpoint import (
    load_state,
    optimizer_tensors,
    prefixed,
    read_checkpoint,
    restore_optimizer,
    save_checkpoint,
)
from mytalk.core.engines.mytalk.config import (
    AppearanceModelConfig,
    MotionModelConfig,
    MyTalkConfig,
    SchedulerConfig,
    validate,
)
from mytalk.core.engines.mytalk.dataset import Dataset, ensure_phones, nearest_references, resize_crops
from mytalk.core.engines.mytalk.discriminator import PatchDiscriminator
from mytalk.core.engines.mytalk.landmarks import (
    NUM_CONTENT,
    CropGeometry,
    content_mask,
    ellipse_mask,
    lip_descriptors,
)
from mytalk.core.engines.mytalk.losses import (
    discriminator_loss,
    generator_adversarial_loss,
    gradient_loss,
    identity_loss,
    l1_loss,
    reconstruction_loss,
    ssim_loss,
    velocity_loss,
)
from mytalk.core.engines.mytalk.motion import MotionModel
from mytalk.core.engines.mytalk.noising import join, partial_noise, split
from mytalk.core.engines.mytalk.rasterize import rasterize_batch
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
from mytalk.core.errors import JobCancelledError, UsageError
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

STAGES = ("motion", "appearance")


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` → CUDA when available, else CPU; `cuda` without a GPU is a UsageError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here; use --device auto or cpu")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA (halves activation memory, tensor cores); nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def _generators(seed: int, step: int) -> tuple[np.random.Generator, torch.Generator]:
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))
    return np.random.default_rng([seed, step]), g


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (weight initialisation) with torch's global RNG seeded, restoring it afterwards:
    a run is reproducible from its config without leaving the process's RNG changed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def learning_rate(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10 % of `base` at `total` steps."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def motion_checkpoint_config(model: MotionModelConfig, scheduler: SchedulerConfig) -> dict[str, Any]:
    """What a motion checkpoint's config (and its hash) covers: the networks and the noise schedule.

    The model part is `MotionModelConfig.stored_dict`: a model without phone input stores exactly
    what it stored before the key existed, so older checkpoints resume and fine-tune unchanged.
    """
    return {"model": model.stored_dict(), "scheduler": asdict(scheduler)}


def appearance_checkpoint_config(model: AppearanceModelConfig) -> dict[str, Any]:
    return {"model": asdict(model)}


def build_motion(config: MotionModelConfig) -> MotionModel:
    return MotionModel(config)


def build_generator(config: AppearanceModelConfig) -> AppearanceGenerator:
    return AppearanceGenerator(config.image_size, config.channels, config.levels, config.res_blocks, config.num_refs,
                               config.detail_channels)


def build_discriminator(config: AppearanceModelConfig) -> PatchDiscriminator:
    return PatchDiscriminator(config.disc_channels, config.disc_layers)


# --- batches -----------------------------------------------------------------------------------------


class MotionBatches:
    """Windows of `window` consecutive frames with a face and sound, from every clip of a dataset.

    For a phone-fed model each clip's viseme coverage (T, 11) is computed once from its stored
    phones and cut with the same frames as the landmarks (zeros for a clip whose phones are unusable).
    """

    def __init__(self, dataset: Dataset, config: MotionModelConfig) -> None:
        self.dataset = dataset
        self.config = config
        self.windows: list[tuple[int, int]] = []
        self.pools: dict[int, np.ndarray] = {}
        self.visemes: dict[int, np.ndarray] | None = {} if config.phone_features != "none" else None
        w = config.window
        for i in range(len(dataset)):
            if not dataset.manifest["videos"][i].get("has_audio"):
                continue
            clip = dataset.clip(i)
            found = clip.found
            if found.size < w:
                continue
            ok = np.convolve(found.astype(int), np.ones(w, int), mode="valid") == w
            self.windows += [(i, int(s)) for s in np.flatnonzero(ok)]
            self.pools[i] = np.flatnonzero(found)
            if self.visemes is not None:
                from mytalk.core.engines.mytalk.phones import frame_visemes

                self.visemes[i] = frame_visemes(clip.phones, Fraction(clip.fps), clip.num_frames)
        if not self.windows:
            raise UsageError(f"{dataset.folder}: no stretch of {w} consecutive frames with a face and sound; "
                             "add longer footage or use a config with a smaller motion.model window")

    def all_points(self) -> np.ndarray:
        """Canonical points (N, P, 2) of every frame with a face (for the normaliser)."""
        return np.concatenate([self.dataset.clip(i).points[self.pools[i]] for i in self.pools])

    def batch(self, picks: list[tuple[int, int]], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """x0 (B, W, P, 2) canonical, mel (B, M, 80), positions (B, W, S), references (B, R, P, 2),
        and for a phone-fed model visemes (B, W, 11)."""
        c = self.config
        points, windows, refs = [], [], []
        for clip_index, start in picks:
            clip = self.dataset.clip(clip_index)
            points.append(clip.points[start : start + c.window])
            windows.append(audio_window(clip.mel, Fraction(clip.fps), start, c.window, c.audio_margin_s,
                                        c.audio_subsamples))
            pool = self.pools[clip_index]
            refs.append(clip.points[rng.choice(pool, size=c.num_refs, replace=pool.size < c.num_refs)])
        mel, pos = collate_windows(windows)
        out = {"x0": torch.from_numpy(np.stack(points).astype(np.float32)), "mel": mel, "positions": pos,
               "references": torch.from_numpy(np.stack(refs).astype(np.float32))}
        if self.visemes is not None:
            cut = [self.visemes[i][s : s + c.window] for i, s in picks]
            out["visemes"] = torch.from_numpy(np.stack(cut).astype(np.float32))
        return out

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        picks = [self.windows[int(j)] for j in rng.integers(0, len(self.windows), batch_size)]
        return self.batch(picks, rng)

    def probe(self, count: int, seed: int) -> dict[str, torch.Tensor]:
        """A fixed batch: `count` windows evenly spread over the dataset, fixed references."""
        idx = np.linspace(0, len(self.windows) - 1, count).round().astype(int)
        return self.batch([self.windows[j] for j in idx], np.random.default_rng(seed))


class AppearanceBatches:
    """Frames with a face, each with its K nearest reference mouths from the same clip (never its neighbours)."""

    def __init__(self, dataset: Dataset, config: AppearanceModelConfig, exclude_radius: int) -> None:
        if tuple(dataset.manifest["crop_box"]) != tuple(config.crop_box):
            raise UsageError(f"{dataset.folder}: crops were cut with box {dataset.manifest['crop_box']}, the config "
                             f"wants {list(config.crop_box)}; rebuild the dataset or change appearance.model crop_box")
        self.dataset = dataset
        self.config = config
        self.geometry = CropGeometry(config.crop_box, config.image_size)
        self.mask = ellipse_mask(self.geometry, config.mask_center, config.mask_radii, config.mask_feather)
        self.frames: list[tuple[int, int]] = []
        self.refs: dict[int, np.ndarray] = {}
        self._crops: dict[int, np.ndarray] = {}
        for i in range(len(dataset)):
            clip = dataset.clip(i)
            found = np.flatnonzero(clip.found)
            if found.size < 2:
                continue
            desc = lip_descriptors(clip.points[found].astype(np.float64))
            gap = np.abs(found[:, None] - found[None, :])
            allowed = gap > exclude_radius
            allowed[~allowed.any(axis=1)] = gap[~allowed.any(axis=1)] > 0
            nearest = nearest_references(desc, allowed, desc, config.num_refs)
            table = np.full((clip.num_frames, config.num_refs), -1, np.int64)
            table[found] = found[nearest]
            self.refs[i] = table
            self.frames += [(i, int(f)) for f in found]
        if not self.frames:
            raise UsageError(f"{dataset.folder}: no clip has two or more frames with a face to train the appearance on")

    def crops(self, clip_index: int) -> np.ndarray:
        if clip_index not in self._crops:
            if len(self._crops) >= 64:
                self._crops.pop(next(iter(self._crops)))
            self._crops[clip_index] = resize_crops(self.dataset.clip(clip_index).crops, self.config.image_size)
        return self._crops[clip_index]

    def batch(self, picks: list[tuple[int, int]]) -> dict[str, torch.Tensor]:
        """target (B, 3, S, S), masked, mask (1, 1, S, S), sketch (B, 3, S, S), refs / ref_sketches (B, K, 3, S, S)."""
        targets, sketches_pts, refs, ref_pts = [], [], [], []
        for clip_index, frame in picks:
            clip = self.dataset.clip(clip_index)
            crops = self.crops(clip_index)
            r = self.refs[clip_index][frame]
            targets.append(crops[frame])
            sketches_pts.append(clip.points[frame])
            refs.append(crops[r])
            ref_pts.append(clip.points[r])
        b, k = len(picks), self.config.num_refs
        target = torch.from_numpy(np.stack(targets)).permute(0, 3, 1, 2).float() / 255.0
        mask = torch.from_numpy(self.mask)[None, None]
        sketch = torch.from_numpy(rasterize_batch(np.stack(sketches_pts), self.geometry))
        ref_img = torch.from_numpy(np.stack(refs)).permute(0, 1, 4, 2, 3).float() / 255.0
        ref_sk = torch.from_numpy(rasterize_batch(np.concatenate(ref_pts), self.geometry)).reshape(b, k, 3, *sketch.shape[-2:])
        return {"target": target, "masked": target * (1 - mask), "mask": mask, "sketch": sketch,
                "refs": ref_img, "ref_sketches": ref_sk}

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return self.batch([self.frames[int(j)] for j in rng.integers(0, len(self.frames), batch_size)])

    def probe(self, count: int) -> dict[str, torch.Tensor]:
        idx = np.linspace(0, len(self.frames) - 1, count).round().astype(int)
        return self.batch([self.frames[j] for j in idx])


# --- loss computations (shared by training and the probe) ---------------------------------------------


def motion_losses(model: MotionModel, scheduler: DDIMScheduler, batch: dict[str, torch.Tensor],
                  timesteps: torch.Tensor, noise: torch.Tensor, drop: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Reconstruction, velocity and identity losses of one batch (tensors on the model's device)."""
    x0 = model.normalise(batch["x0"])
    xt = partial_noise(scheduler, x0, noise, timesteps, torch.from_numpy(content_mask()))
    noisy_content, context = split(xt, NUM_CONTENT)
    audio = model.encode_audio(batch["mel"], batch["positions"], drop, batch.get("visemes"))
    id_tokens, _ = model.encode_identity(model.normalise(batch["references"]))
    pred = model.denoiser(noisy_content, context, timesteps, audio, id_tokens).float()
    true = x0[:, :, :NUM_CONTENT]
    return {
        "reconstruction": reconstruction_loss(pred, true),
        "velocity": velocity_loss(pred, true),
        "identity": identity_loss(model.id_extractor, join(pred, context.float()), x0),
    }


def appearance_losses(generator: AppearanceGenerator, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    fake = generator(batch["masked"], batch["mask"], batch["sketch"], batch["refs"], batch["ref_sketches"]).float()
    target = batch["target"]
    return fake, {"l1": l1_loss(fake, target), "ssim": ssim_loss(fake, target), "gradient": gradient_loss(fake, target)}


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


# --- the run -------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """A finished (or resumed and finished) run: where the weights are, and the probe losses."""

    stage: str
    weights: Path
    run_dir: Path
    steps: int
    device: str
    first_eval: dict[str, float] = field(default_factory=dict)
    last_eval: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class RunLog:
    """JSON-lines log of a run (appended across resumes) and its loss plot."""

    def __init__(self, run_dir: Path, fresh: bool) -> None:
        self.path = run_dir / "log.jsonl"
        run_dir.mkdir(parents=True, exist_ok=True)
        if fresh and self.path.exists():
            self.path.unlink()

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def plot(self, title: str) -> Path:
        """loss.png beside the log: training losses (thin) and probe losses (markers), log scale."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        records = self.records()
        fig = Figure(figsize=(8, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        train = [r for r in records if r.get("kind") == "train"]
        evals = [r for r in records if r.get("kind") == "eval"]
        names = sorted({k for r in train + evals for k in r.get("losses", {})})
        colours = {name: f"C{i % 10}" for i, name in enumerate(names)}
        for name in names:
            pts = [(r["step"], r["losses"][name]) for r in train if r["losses"].get(name, 0) > 0]
            if pts:
                ax.plot(*zip(*pts, strict=True), linewidth=0.8, color=colours[name], label=name)
            pts = [(r["step"], r["losses"][name]) for r in evals if r["losses"].get(name, 0) > 0]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", linestyle="--", color=colours[name], label=f"probe {name}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if names:
            ax.legend(fontsize=7, ncol=2)
        out = self.path.with_name("loss.png")
        fig.savefig(str(out))
        return out


def _stage_paths(out_dir: Path, stage: str) -> tuple[Path, Path]:
    return out_dir / f"{stage}.safetensors", out_dir / "runs" / stage


def _check_start(weights: Path, run_dir: Path, resume: bool, init: Path | None) -> None:
    state = run_dir / "state.safetensors"
    if resume:
        if not (weights.is_file() and state.is_file()):
            raise UsageError(f"--resume: no interrupted run in {run_dir.parent.parent}; start without --resume")
        if init is not None:
            raise UsageError("--resume continues a run; it cannot be combined with an initial model")
    elif weights.exists():
        raise UsageError(f"{weights} exists; pass --resume to continue its training, or --out NAME for a new model")


def _loop(total: int, start: int, progress: ProgressFn, is_cancelled: CancelFn, stage: str,
          on_cancel: Callable[[int], None]) -> Iterator[int]:
    for step in range(start, total):
        if is_cancelled():
            on_cancel(step)
            raise JobCancelledError(f"training {stage} cancelled at step {step}; its state is saved, continue "
                                    "with --resume")
        yield step
        progress(step + 1, total, f"training {stage}")


def train_motion(
    dataset: Dataset,
    config: MyTalkConfig,
    out_dir: Path,
    *,
    resume: bool = False,
    init: Path | None = None,
    steps: int | None = None,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> TrainResult:
    """Train stage 1 on `dataset`; writes `out_dir/motion.safetensors` and the run folder."""
    validate(config)
    began = time.perf_counter()
    dev = resolve_device(device)
    mc, tc = config.motion_model, config.motion_train
    total = steps if steps is not None else tc.steps
    weights, run_dir = _stage_paths(Path(out_dir), "motion")
    _check_start(weights, run_dir, resume, init)
    ckpt_config = motion_checkpoint_config(mc, config.scheduler)
    if mc.phone_features != "none":
        ensure_phones(dataset, progress=progress, is_cancelled=is_cancelled)
    batches = MotionBatches(dataset, mc)
    with seeded(tc.seed):
        model = build_motion(mc)
    scheduler = DDIMScheduler(config.scheduler)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    start = 0
    if resume:
        tensors, _ = read_checkpoint(weights, "motion", ckpt_config)
        load_state(model, tensors, weights)
        state, info = read_checkpoint(run_dir / "state.safetensors", "motion-state", ckpt_config)
        model.to(dev)
        restore_optimizer(optimizer, {k: v.to(dev) for k, v in state.items()}, info.extra["optimizer"], "opt.")
        start = info.step
    elif init is not None:
        tensors, _ = read_checkpoint(init, "motion", ckpt_config)
        load_state(model, tensors, init)
    else:
        model.fit_normaliser(batches.all_points())
    model.to(dev)
    log = RunLog(run_dir, fresh=not resume)
    extra = {"sampling": asdict(config.sampling), "preset": config.preset, "dataset": str(dataset.folder)}

    def save(step: int) -> None:
        save_checkpoint(weights, "motion", prefixed(model, ""), ckpt_config, data_hash=dataset.data_hash, step=step,
                        extra=extra)
        opt, groups = optimizer_tensors(optimizer, "opt.")
        save_checkpoint(run_dir / "state.safetensors", "motion-state", opt, ckpt_config, data_hash=dataset.data_hash,
                        step=step, extra={"optimizer": groups})

    probe = _to(batches.probe(tc.eval_windows, tc.seed), dev)
    probe_gen = torch.Generator().manual_seed(tc.seed + 7)
    probe_t = torch.linspace(0, scheduler.num_train_timesteps - 1, tc.eval_windows).round().long()
    probe_noise = torch.randn((tc.eval_windows, mc.window, probe["x0"].shape[2], 2), generator=probe_gen)

    def evaluate(step: int) -> dict[str, float]:
        model.eval()
        with torch.no_grad(), autocast(dev):
            losses = motion_losses(model, scheduler, probe, probe_t.to(dev), probe_noise.to(dev), None)
        model.train()
        values = {k: float(v) for k, v in losses.items()}
        log.write({"kind": "eval", "step": step, "losses": values})
        return values

    first = evaluate(start)
    last = first
    model.train()
    for step in _loop(total, start, progress, is_cancelled, "motion", save):
        rng, gen = _generators(tc.seed, step)
        batch = _to(batches.sample(tc.batch_size, rng), dev)
        t = scheduler.sample_timesteps(tc.batch_size, gen).to(dev)
        noise = torch.randn(batch["x0"].shape, generator=gen).to(dev)
        drop = (torch.rand(tc.batch_size, generator=gen) < tc.audio_dropout).to(dev)
        if "visemes" in batch:
            # Drawn after the others, so a model without phones trains exactly as before the option existed.
            keep = (torch.rand(tc.batch_size, generator=gen) >= tc.phone_dropout).to(dev)
            batch["visemes"] = batch["visemes"] * keep.reshape(-1, 1, 1)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, total, tc.lr, tc.warmup)
        with autocast(dev):
            losses = motion_losses(model, scheduler, batch, t, noise, drop)
        loss = (tc.w_reconstruction * losses["reconstruction"] + tc.w_velocity * losses["velocity"]
                + tc.w_identity * losses["identity"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        done = step + 1
        if done % tc.log_every == 0 or done == total:
            log.write({"kind": "train", "step": done, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"],
                       "losses": {k: v.item() for k, v in losses.items()}})
        if done % tc.eval_every == 0 and done != total:
            last = evaluate(done)
        if done % tc.checkpoint_every == 0 and done != total:
            save(done)
            save_checkpoint(run_dir / "checkpoints" / f"step-{done:06d}.safetensors", "motion", prefixed(model, ""),
                            ckpt_config, data_hash=dataset.data_hash, step=done, extra=extra)
    if total > start:
        last = evaluate(total)
    save(max(total, start))
    log.plot(f"MyTalk motion ({config.preset}, {dev.type})")
    return TrainResult("motion", weights, run_dir, max(total, start), dev.type, first, last, time.perf_counter() - began)


def train_appearance(
    dataset: Dataset,
    config: MyTalkConfig,
    out_dir: Path,
    *,
    resume: bool = False,
    init: Path | None = None,
    steps: int | None = None,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> TrainResult:
    """Train stage 2 (generator + PatchGAN) on `dataset`; writes `out_dir/appearance.safetensors`."""
    validate(config)
    began = time.perf_counter()
    dev = resolve_device(device)
    ac, tc = config.appearance_model, config.appearance_train
    total = steps if steps is not None else tc.steps
    weights, run_dir = _stage_paths(Path(out_dir), "appearance")
    _check_start(weights, run_dir, resume, init)
    ckpt_config = appearance_checkpoint_config(ac)
    batches = AppearanceBatches(dataset, ac, tc.exclude_radius)
    with seeded(tc.seed):
        generator = build_generator(ac)
        disc = build_discriminator(ac)
    opt_g = torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=tc.lr_disc, betas=(0.5, 0.999))
    start = 0
    if resume or init is not None:
        source = weights if resume else init
        assert source is not None
        tensors, _ = read_checkpoint(source, "appearance", ckpt_config)
        load_state(generator, tensors, source, "gen.")
        load_state(disc, tensors, source, "disc.")
    generator.to(dev)
    disc.to(dev)
    if resume:
        state, info = read_checkpoint(run_dir / "state.safetensors", "appearance-state", ckpt_config)
        state = {k: v.to(dev) for k, v in state.items()}
        restore_optimizer(opt_g, state, info.extra["opt_g"], "g.")
        restore_optimizer(opt_d, state, info.extra["opt_d"], "d.")
        start = info.step
    log = RunLog(run_dir, fresh=not resume)
    extra = {"preset": config.preset, "dataset": str(dataset.folder)}

    def save(step: int) -> None:
        tensors = {**prefixed(generator, "gen."), **prefixed(disc, "disc.")}
        save_checkpoint(weights, "appearance", tensors, ckpt_config, data_hash=dataset.data_hash, step=step, extra=extra)
        g_t, g_groups = optimizer_tensors(opt_g, "g.")
        d_t, d_groups = optimizer_tensors(opt_d, "d.")
        save_checkpoint(run_dir / "state.safetensors", "appearance-state", {**g_t, **d_t}, ckpt_config,
                        data_hash=dataset.data_hash, step=step, extra={"opt_g": g_groups, "opt_d": d_groups})

    probe = _to(batches.probe(tc.eval_frames), dev)

    def evaluate(step: int) -> dict[str, float]:
        generator.eval()
        with torch.no_grad(), autocast(dev):
            _, losses = appearance_losses(generator, probe)
        generator.train()
        values = {k: float(v) for k, v in losses.items()}
        log.write({"kind": "eval", "step": step, "losses": values})
        return values

    first = evaluate(start)
    last = first
    generator.train()
    disc.train()
    for step in _loop(total, start, progress, is_cancelled, "appearance", save):
        rng, _ = _generators(tc.seed, step)
        batch = _to(batches.sample(tc.batch_size, rng), dev)
        for group in opt_g.param_groups:
            group["lr"] = learning_rate(step, total, tc.lr, min(100, total // 10))
        adversarial = tc.w_adversarial > 0 and step >= tc.adv_start
        with autocast(dev):
            fake, losses = appearance_losses(generator, batch)
        if adversarial:
            with autocast(dev):
                d_loss = discriminator_loss(disc(batch["target"], batch["sketch"]).float(),
                                            disc(fake.detach(), batch["sketch"]).float(), tc.adv_loss)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            with autocast(dev):
                losses["adversarial"] = generator_adversarial_loss(disc(fake, batch["sketch"]).float(), tc.adv_loss)
            losses["discriminator"] = d_loss.detach()
        loss = tc.w_l1 * losses["l1"] + tc.w_ssim * losses["ssim"] + tc.w_gradient * losses["gradient"]
        if adversarial:
            loss = loss + tc.w_adversarial * losses["adversarial"]
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(generator.parameters(), 1.0)
        opt_g.step()
        done = step + 1
        if done % tc.log_every == 0 or done == total:
            log.write({"kind": "train", "step": done, "loss": loss.item(), "lr": opt_g.param_groups[0]["lr"],
                       "losses": {k: v.item() for k, v in losses.items()}})
        if done % tc.eval_every == 0 and done != total:
            last = evaluate(done)
        if done % tc.checkpoint_every == 0 and done != total:
            save(done)
            save_checkpoint(run_dir / "checkpoints" / f"step-{done:06d}.safetensors", "appearance",
                            {**prefixed(generator, "gen."), **prefixed(disc, "disc.")}, ckpt_config,
                            data_hash=dataset.data_hash, step=done, extra=extra)
    if total > start:
        last = evaluate(total)
    save(max(total, start))
    log.plot(f"MyTalk appearance ({config.preset}, {dev.type})")
    return TrainResult("appearance", weights, run_dir, max(total, start), dev.type, first, last,
                       time.perf_counter() - began)


def train_command(stage: str, data_dir: Path, config_source: str | Path, *, resume: bool = False,
                  out: str = "base", device: str = "auto", steps: int | None = None,
                  progress: ProgressFn = no_progress, is_cancelled: CancelFn = never_cancelled) -> TrainResult:
    """What `mytalk train STAGE DIR --config FILE [--resume] [--out NAME]` does; models go to user_dirs().models/NAME."""
    from mytalk.core.engines.mytalk.config import load_config
    from mytalk.core.engines.mytalk.models import model_folder

    if stage not in STAGES:
        raise UsageError(f"train {stage!r}: choose motion or appearance")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps {steps}: give 1 or more")
    config = load_config(config_source)
    dataset = Dataset(Path(data_dir))
    folder = model_folder(out)
    fn = train_motion if stage == "motion" else train_appearance
    return fn(dataset, config, folder, resume=resume, steps=steps, device=device, progress=progress,
              is_cancelled=is_cancelled)
