"""`DDIMScheduler`: the training noise schedule and a few-step deterministic sampler (Song et al. 2021).

Training: `add_noise(x0, noise, t)` = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise, with ᾱ from a cosine
(Nichol & Dhariwal 2021) or linear beta schedule over `num_train_timesteps` steps.

Sampling: `set_timesteps(n)` picks n evenly spaced steps (n ≤ 20 is enough for a 2-D landmark
sequence); `step(x0_pred, t, sample)` moves from step t to the previous one. The model predicts x0
directly (the paper's choice), so the implied noise is eps = (x_t - sqrt(ᾱ_t) x0) / sqrt(1 - ᾱ_t).
With eta = 0 (default) the update is deterministic: the only randomness of a sample is its
initial noise, drawn from a seeded `torch.Generator`, so a seed reproduces a result exactly.
eta > 0 adds DDPM-like noise, drawn from the same generator.

Like a diffusers scheduler, this is plain state (no weights): it is rebuilt from its config,
which is stored with the motion checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mytalk.core.engines.mytalk.config import SchedulerConfig


@dataclass
class SchedulerOutput:
    """prev_sample: x at the previous (less noisy) step; pred_original_sample: the x0 used."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def _betas(config: SchedulerConfig) -> torch.Tensor:
    n = config.num_train_timesteps
    if config.beta_schedule == "linear":
        return torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float64)
    # Cosine schedule: ᾱ(t) = cos²((t/n + s)/(1 + s) · π/2), betas clipped at 0.999.
    s = 0.008
    steps = torch.arange(n + 1, dtype=torch.float64) / n
    alpha_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)


class DDIMScheduler:
    """Noise schedule + DDIM sampler for x0-predicting models."""

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config or SchedulerConfig()
        betas = _betas(self.config)
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0).float()
        self.num_train_timesteps = self.config.num_train_timesteps
        self.timesteps = torch.arange(self.num_train_timesteps - 1, -1, -1)

    def _alpha(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod.to(like.device)[t.long()]
        return a.reshape(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x_t for x0 `original` (B, ...), `noise` like it and integer `timesteps` (B,)."""
        a = self._alpha(timesteps, original)
        return a.sqrt() * original + (1 - a).sqrt() * noise

    def sample_timesteps(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform training timesteps (B,) int64, drawn on the CPU from `generator`."""
        return torch.randint(0, self.num_train_timesteps, (batch,), generator=generator)

    def set_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """Evenly spaced steps from the noisiest down, e.g. 10 of 1000: 999, 899, …, 99 (then x0)."""
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise ValueError(f"num_inference_steps must be 1..{self.num_train_timesteps}, got {num_inference_steps}")
        ratio = self.num_train_timesteps / num_inference_steps
        steps = (self.num_train_timesteps - 1 - torch.arange(num_inference_steps) * ratio).round().long()
        self.timesteps = steps
        return steps

    def previous_timestep(self, t: int) -> int:
        """The step after `t` in the current schedule, or -1 for the end (clean sample)."""
        steps = self.timesteps.tolist()
        i = steps.index(int(t))
        return int(steps[i + 1]) if i + 1 < len(steps) else -1

    def step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor, *, eta: float = 0.0,
             generator: torch.Generator | None = None) -> SchedulerOutput:
        """One DDIM update from x_t (`sample`) with predicted x0 (`model_output`) to x_{prev}."""
        t = int(timestep)
        prev = self.previous_timestep(t)
        a_t = self.alphas_cumprod[t].item()
        a_prev = self.alphas_cumprod[prev].item() if prev >= 0 else 1.0
        x0 = model_output
        eps = (sample - math.sqrt(a_t) * x0) / math.sqrt(max(1.0 - a_t, 1e-12))
        sigma = eta * math.sqrt(max((1 - a_prev) / max(1 - a_t, 1e-12) * (1 - a_t / a_prev), 0.0))
        direction = math.sqrt(max(1.0 - a_prev - sigma**2, 0.0)) * eps
        prev_sample = math.sqrt(a_prev) * x0 + direction
        if sigma > 0:
            noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype).to(sample.device)
            prev_sample = prev_sample + sigma * noise
        return SchedulerOutput(prev_sample, x0)
