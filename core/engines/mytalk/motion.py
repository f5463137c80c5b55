"""`MotionModel`: the stage-1 networks bundled with the landmark normalisation they were trained with.

The bundle is what a motion checkpoint holds: the audio encoder, the ID extractor, the Conformer
denoiser, a learned "no audio" token (for classifier-free guidance on the audio) and two buffers,
the mean face `shape_mean` (P, 2) and the spread `shape_scale` (1,) in canonical units.

Normalisation: canonical points (IOD units) become (points - shape_mean) / shape_scale, so the
diffusion noise (unit variance) is on the scale of real mouth motion (a few hundredths of an IOD)
rather than swamping it, and the identity embedding sees each face as a direction away from the
average face. The buffers are fitted on the training data once (`fit_normaliser`) and kept when
fine-tuning, so a fine-tuned model speaks the same coordinates as its base.

Phone input (`config.phone_features == "visemes"`): each video frame's viseme coverage (T, 11),
the share of the frame's display interval [n/fps, (n+1)/fps) spent in each viseme of the line's
phone track (`mytalk.core.audio.phonemes.viseme_coverage`), goes through a linear embedding that
is *added* to that frame's audio token. Why added to the encoder's output rather than concatenated
before it: the audio token is already on the video-frame grid, so the phones need no resampling
and cannot drift against the audio; the denoiser keeps its shapes (the token stays `dim` wide and
reaches both the input projection and the cross-attention, as the audio does); and the embedding
is created after every other network, so under the same seed a phone-fed model's other weights are
those of the audio-only model. Its weights start random (PyTorch's default), not at zero: from zero
they grew too slowly to matter in a per-actor fine-tune of a few hundred steps (2 s of footage can
be memorised from the audio alone; measured in the tests, a zero start left the phones moving the
mouth by 0.5 % of its motion after 200 steps). A frame whose phones are unknown gets zeros (no information), which
is distinct from "rest" (silence), so a line whose phone timing failed still runs from its audio.
For guidance the "no audio" token replaces audio and phones together: both describe the speech.
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

NUM_VISEMES = 11
"""Width of the phone input: `mytalk.core.audio.phonemes.VISEMES` (checked in the tests)."""


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
        self.phone_embed: nn.Linear | None = None
        if c.phone_features == "visemes":
            self.phone_embed = nn.Linear(NUM_VISEMES, c.dim)
            nn.init.zeros_(self.phone_embed.bias)  # unknown phones (zeros) add nothing to the audio token

    @property
    def uses_phones(self) -> bool:
        """Whether the model takes the line's phone track (viseme coverage per frame) as an input."""
        return self.phone_embed is not None

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

    def encode_audio(self, mel: torch.Tensor, positions: torch.Tensor, drop: torch.Tensor | None = None,
                     visemes: torch.Tensor | None = None) -> torch.Tensor:
        """Speech tokens (B, T, D); rows where `drop` (B,) is True get the learned no-audio token.

        visemes: (B, T, 11) viseme coverage per frame for a phone-fed model (zeros where unknown;
        None = unknown everywhere). A model without phone input refuses them rather than ignore them.
        """
        tokens = self.audio_encoder(mel, positions)
        if self.phone_embed is not None:
            if visemes is None:
                visemes = tokens.new_zeros(*tokens.shape[:2], NUM_VISEMES)
            tokens = tokens + self.phone_embed(visemes.to(tokens.dtype))
        elif visemes is not None:
            raise ValueError("this motion model has no phone input (phone_features = \"none\"); do not pass visemes")
        if drop is not None:
            tokens = torch.where(drop.reshape(-1, 1, 1), self.null_audio.to(tokens.dtype).expand_as(tokens), tokens)
        return tokens

    def unconditional_audio(self, batch: int, frames: int) -> torch.Tensor:
        """The no-audio tokens (B, T, D) used for guidance."""
        return self.null_audio.expand(batch, frames, -1)

    def encode_identity(self, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Identity tokens (B, N, D) and embedding (B, id_dim) of normalised reference frames (B, R, P, 2)."""
        return self.id_extractor(references)
