"""The Conformer block of the denoiser, in the paper's order:

    half feed-forward → self-attention → convolution → cross-attention (audio, identity) → half feed-forward

Each sub-layer is pre-norm and residual (Gulati et al. 2020); the two feed-forward halves are
scaled by 0.5 (the "macaron" form). The convolution module (pointwise + GLU, depthwise over time,
norm, SiLU, pointwise) gives the block its sense of local order and smooth motion; self-attention
gives the long-range context (a word's rhythm); cross-attention brings the conditions in.

The norm inside the convolution module is a GroupNorm over channels of each sequence rather than
the original BatchNorm, so a frame's output never depends on what else is in the batch:
sampling is then reproducible whatever the batch size, and chunks of one line are independent.

Shapes: x (B, T, D) frame tokens; cond (B, N, D) condition tokens; cond_mask (T, N) bool, True
where attention is *not* allowed (PyTorch's convention), or None.
"""

from __future__ import annotations

import torch
from torch import nn


class FeedForward(nn.Module):
    """Pre-norm two-layer MLP with SiLU, width `mult` × dim."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(dim * mult, dim), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """Conformer convolution module over time: (B, T, D) → (B, T, D)."""

    def __init__(self, dim: int, kernel: int = 7, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.group_norm = nn.GroupNorm(1, dim)
        self.pointwise_out = nn.Conv1d(dim, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x).transpose(1, 2)
        y = nn.functional.glu(self.pointwise_in(y), dim=1)
        y = nn.functional.silu(self.group_norm(self.depthwise(y)))
        return self.dropout(self.pointwise_out(y).transpose(1, 2))


class ConformerBlock(nn.Module):
    """One block; `step` (B, D) is the diffusion-timestep embedding, added before the first half FFN."""

    def __init__(self, dim: int, heads: int = 4, ff_mult: int = 4, kernel: int = 7, dropout: float = 0.0) -> None:
        super().__init__()
        self.step = nn.Linear(dim, dim)
        self.ff1 = FeedForward(dim, ff_mult, dropout)
        self.self_norm = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.conv = ConvModule(dim, kernel, dropout)
        self.cross_norm = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff2 = FeedForward(dim, ff_mult, dropout)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, step: torch.Tensor,
                cond_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.step(step)[:, None, :]
        x = x + 0.5 * self.ff1(x)
        h = self.self_norm(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]
        x = x + self.conv(x)
        h = self.cross_norm(x)
        x = x + self.cross_attn(h, cond, cond, attn_mask=cond_mask, need_weights=False)[0]
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x)
