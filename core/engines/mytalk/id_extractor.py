"""The ID extractor: an actor's landmarks → identity embedding and identity tokens.

The paper encodes "the person's source landmarks" and feeds every denoiser layer with them by
cross-attention; the same extractor defines the landmark identity loss (one minus the cosine
similarity of the embeddings of predicted and true landmarks), which keeps the actor's own mouth
geometry and speaking style.

Input: normalised landmarks (B, R, P, 2) of R frames (`MotionModel.normalise`: deviations from the
mean face in units of the data's spread, so a face's geometry is a direction away from the
average face and cosine similarity tells faces apart even before training). Each frame goes
through a small MLP; the R frames are pooled by mean (the face's rest geometry) and standard
deviation (how far it moves: speaking style) — order-free, so R may differ between training and
inference. The pooled vector is the embedding (B, id_dim); a linear map turns it into
`id_tokens` tokens of width `dim` for the cross-attention.
"""

from __future__ import annotations

import torch
from torch import nn


class IdentityExtractor(nn.Module):
    """Landmark frames (B, R, P, 2) → (tokens (B, id_tokens, dim), embedding (B, id_dim))."""

    def __init__(self, num_points: int, hidden: int = 64, id_dim: int = 64, dim: int = 64, id_tokens: int = 2) -> None:
        super().__init__()
        self.frame = nn.Sequential(
            nn.Linear(num_points * 2, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
        )
        self.embed = nn.Sequential(nn.Linear(2 * hidden, id_dim), nn.GELU(), nn.Linear(id_dim, id_dim))
        self.tokens = nn.Linear(id_dim, id_tokens * dim)
        self.id_tokens = id_tokens
        self.dim = dim

    def embedding(self, landmarks: torch.Tensor) -> torch.Tensor:
        """Identity embedding (B, id_dim) of landmark frames (B, R, P, 2)."""
        b, r = landmarks.shape[:2]
        per_frame = self.frame(landmarks.reshape(b, r, -1))
        mean = per_frame.mean(dim=1)
        # Biased std: defined for R = 1, and 0 for a face that does not move.
        std = (per_frame - mean[:, None]).square().mean(dim=1).add(1e-6).sqrt()
        return self.embed(torch.cat([mean, std], dim=-1))

    def forward(self, landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embedding(landmarks)
        tokens = self.tokens(emb).reshape(emb.shape[0], self.id_tokens, self.dim)
        return tokens, emb
