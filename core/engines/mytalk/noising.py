"""Partial noising: only the speech-driven landmarks (mouth and jaw) are noised; the rest is context.

This is the paper's "partially noised landmarks". The diffusion forward process is applied to the
content coordinates only; the context coordinates (eyes, nose, forehead, face outline) pass through
as the very same values, so the model always sees where the head is and how the face is built,
and its output can never move them. `torch.where` is used instead of arithmetic with a 0/1 mask
so context values are bit-identical (a multiply-add by 0 and 1 would still round).

Shapes: landmarks (B, T, P, 2), content first as in `landmarks.POINTS`; mask (P,) bool.
"""

from __future__ import annotations

import torch

from mytalk.core.engines.mytalk.scheduler import DDIMScheduler


def partial_noise(scheduler: DDIMScheduler, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor,
                  content: torch.Tensor) -> torch.Tensor:
    """x_t with noise on the `content` points (P,) bool and the other points exactly as in x0."""
    noised = scheduler.add_noise(x0, noise, timesteps)
    mask = content.to(x0.device).reshape(1, 1, -1, 1)
    return torch.where(mask, noised, x0)


def split(landmarks: torch.Tensor, num_content: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, P, 2) → content (B, T, Nc, 2), context (B, T, P - Nc, 2) (views, no copy)."""
    return landmarks[:, :, :num_content], landmarks[:, :, num_content:]


def join(content: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """Inverse of `split`: (B, T, Nc, 2) + (B, T, Nx, 2) → (B, T, P, 2)."""
    return torch.cat([content, context], dim=2)
