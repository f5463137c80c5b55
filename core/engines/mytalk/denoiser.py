"""`LandmarkDenoiser`: the Conformer stack that predicts clean mouth and jaw landmarks (x0).

Per frame the input token is the noisy content points, the clean context points and the frame's
audio token, projected to `dim`, plus a sinusoidal position (frame within the window). Every block
cross-attends to the audio tokens of nearby frames (within `audio_radius` frames: speech drives
the mouth locally in time, and a band keeps a frame from attending to the wrong syllable) and to
all identity tokens. The output is x0 for the content points directly, as in the paper; its last
layer starts at zero, so an untrained model predicts the mean face (normalised coordinates 0),
which is the least-wrong guess and makes early training stable.

Shapes: sample (B, T, Nc, 2) noisy content; context (B, T, Nx, 2) clean context; timesteps (B,)
integer diffusion steps; audio (B, T, D) tokens; identity (B, N, D) tokens → x0 (B, T, Nc, 2).
All landmark tensors are normalised (see `MotionModel.normalise`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mytalk.core.engines.mytalk.conformer import ConformerBlock


def sinusoidal(values: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (..., dim) of real values (...): timesteps or frame positions."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=values.device, dtype=torch.float32) / half)
    angles = values.float()[..., None] * freqs
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    return nn.functional.pad(emb, (0, dim - 2 * half))


class LandmarkDenoiser(nn.Module):
    """x0-predicting Conformer denoiser over a window of frames (see module docstring for shapes)."""

    def __init__(self, num_content: int, num_context: int, dim: int = 64, depth: int = 2, heads: int = 4,
                 ff_mult: int = 2, conv_kernel: int = 7, audio_radius: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_content = num_content
        self.num_context = num_context
        self.dim = dim
        self.audio_radius = audio_radius
        self.inp = nn.Linear(2 * num_content + 2 * num_context + dim, dim)
        self.time = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(
            [ConformerBlock(dim, heads, ff_mult, conv_kernel, dropout) for _ in range(depth)]
        )
        self.out = nn.Linear(dim, 2 * num_content)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def cond_mask(self, frames: int, id_tokens: int, device: torch.device) -> torch.Tensor:
        """(T, T + N) bool, True where frame t may not attend: audio tokens beyond the band."""
        t = torch.arange(frames, device=device)
        far = (t[:, None] - t[None, :]).abs() > self.audio_radius
        return torch.cat([far, torch.zeros(frames, id_tokens, dtype=torch.bool, device=device)], dim=1)

    def forward(self, sample: torch.Tensor, context: torch.Tensor, timesteps: torch.Tensor,
                audio: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        b, t = sample.shape[:2]
        pos = sinusoidal(torch.arange(t, device=sample.device), self.dim)[None]
        x = self.inp(torch.cat([sample.reshape(b, t, -1), context.reshape(b, t, -1), audio], dim=-1)) + pos
        step = self.time(sinusoidal(timesteps, self.dim))
        cond = torch.cat([audio + pos, identity], dim=1)
        mask = self.cond_mask(t, identity.shape[1], sample.device)
        for block in self.blocks:
            x = block(x, cond, step, mask)
        return self.out(x).reshape(b, t, self.num_content, 2)
