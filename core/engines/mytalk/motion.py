"""`MotionModel`: the stage-1 networks bundled with the landmark normalisation they were trained with.

The bundle is what a motion checkpoint holds: the audio encoder, the ID extractor, the Conformer
denoiser, a learned "no audio" token (for classifier-free guidance on the audio) and two buffers,
the mean face `shape_mean` (P, 2) and the spread `shape_scale` (1,) in canonical units.

Normalisation: canonical points (IOD units) become (points - shape_mean) / shape_scale, so the
diffusion noise (unit variance) is on the scale of real mouth motion (a few hundredths of an IOD)
rather than swamping it, and the identity embedding sees each face as a direction away from the
average face. The buffers are fitted on the training data once (`fit_normaliser`) and kept when
fine-tuning, so a fine-tuned model speaks the same coordinates as its base.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mytalk.core.engines.mytalk.audio_encoder import AudioEncoder
from mytalk.core.engines.mytalk.config import MotionModelConfig
from mytalk.core.engines.mytalk.denoiser import LandmarkDenoiser
from mytalk.core.engines.mytalk.id_extractor import IdentityExtractor
from mytalk.core.engines.mytalk.landmarks import NUM_CONTENT, NUM_CONTEXT, NUM_POINTS


class MotionModel(nn.Module):
    """Stage 1 bundle; constructed from its `MotionModelConfig` (the config saved with the weights)."""

    shape_mean: torch.Tensor
    shape_scale: torch.Tensor

    def __init__(self, config: MotionModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.register_buffer("shape_mean", torch.zeros(NUM_POINTS, 2))
        self.register_buffer("shape_scale", torch.ones(1))
        self.audio_encoder = AudioEncoder(c.n_mels, c.dim, c.audio_layers, c.audio_kernel)
        self.id_extractor = IdentityExtractor(NUM_POINTS, c.id_hidden, c.id_dim, c.dim, c.id_tokens)
        self.denoiser = LandmarkDenoiser(NUM_CONTENT, NUM_CONTEXT, c.dim, c.depth, c.heads, c.ff_mult,
                                         c.conv_kernel, c.audio_radius, c.dropout)
        self.null_audio = nn.Parameter(torch.zeros(c.dim))

    @torch.no_grad()
    def fit_normaliser(self, points: np.ndarray) -> None:
        """Set the mean face and spread from canonical points (N, P, 2) of the training frames (NaN rows skipped)."""
        p = np.asarray(points, np.float64)
        p = p[np.isfinite(p).all(axis=(1, 2))]
        if p.shape[0] == 0:
            raise ValueError("no frame with a face to fit the landmark normalisation on")
        mean = p.mean(axis=0)
        spread = float(np.sqrt(((p[:, :NUM_CONTENT] - mean[:NUM_CONTENT]) ** 2).mean()))
        self.shape_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        self.shape_scale.fill_(max(spread, 1e-3))

    def normalise(self, points: torch.Tensor) -> torch.Tensor:
        """Canonical points (..., P, 2) → model coordinates."""
        return (points - self.shape_mean) / self.shape_scale

    def denormalise(self, points: torch.Tensor) -> torch.Tensor:
        """Model coordinates (..., P, 2) → canonical units."""
        return points * self.shape_scale + self.shape_mean

    def encode_audio(self, mel: torch.Tensor, positions: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        """Audio tokens (B, T, D); rows where `drop` (B,) is True get the learned no-audio token."""
        tokens = self.audio_encoder(mel, positions)
        if drop is not None:
            tokens = torch.where(drop.reshape(-1, 1, 1), self.null_audio.to(tokens.dtype).expand_as(tokens), tokens)
        return tokens

    def unconditional_audio(self, batch: int, frames: int) -> torch.Tensor:
        """The no-audio tokens (B, T, D) used for guidance."""
        return self.null_audio.expand(batch, frames, -1)

    def encode_identity(self, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Identity tokens (B, N, D) and embedding (B, id_dim) of normalised reference frames (B, R, P, 2)."""
        return self.id_extractor(references)
