"""`PatchDiscriminator`: a PatchGAN critic of mouth crops, conditioned on the target sketch.

Each output logit judges one overlapping patch (about 30 px at two stride-2 layers), so it
criticises texture (teeth, lip lines, skin grain) rather than the global picture, which L1 and
SSIM already pin down. Conditioning on the sketch makes "sharp but the wrong shape" a fake too.
Spectral normalisation keeps the critic Lipschitz, so the hinge loss stays stable with the small
batches of CPU fine-tuning.

Shapes: image (B, 3, S, S) in [0, 1], sketch (B, 3, S, S) → logits (B, 1, S/2**layers − 2, …).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from mytalk.core.engines.mytalk.rasterize import SKETCH_CHANNELS


class PatchDiscriminator(nn.Module):
    """Constructor arguments: base width `channels`, stride-2 `layers`."""

    def __init__(self, channels: int = 16, layers: int = 2) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = 3 + SKETCH_CHANNELS
        out = channels
        for _ in range(layers):
            blocks += [spectral_norm(nn.Conv2d(width, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            width, out = out, min(out * 2, channels * 8)
        blocks += [spectral_norm(nn.Conv2d(width, width, 3, padding=1)), nn.LeakyReLU(0.2),
                   spectral_norm(nn.Conv2d(width, 1, 3, padding=0))]
        self.net = nn.Sequential(*blocks)

    def forward(self, image: torch.Tensor, sketch: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2 - 1, sketch], dim=1))
