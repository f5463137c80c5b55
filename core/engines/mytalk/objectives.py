"""The weighted terms of each stage's loss on one batch, shared by the training step and the probe.

The probe scores the fixed batch with the same function the step trains with, so its losses are
the training losses measured on data that does not change from one evaluation to the next.
"""

from __future__ import annotations

import torch

from mytalk.core.engines.mytalk.appearance import AppearanceGenerator
from mytalk.core.engines.mytalk.landmarks import NUM_CONTENT, content_mask
from mytalk.core.engines.mytalk.losses import (
    gradient_loss,
    identity_loss,
    l1_loss,
    reconstruction_loss,
    ssim_loss,
    velocity_loss,
)
from mytalk.core.engines.mytalk.motion import MotionModel
from mytalk.core.engines.mytalk.noising import join, partial_noise, split
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler


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
    """The generated crops (B, 3, S, S) and their L1, 1 - MS-SSIM and gradient losses against the targets.

    The crops are returned too because the adversarial terms score them with the discriminator.
    """
    fake = generator(batch["masked"], batch["mask"], batch["sketch"], batch["refs"], batch["ref_sketches"]).float()
    target = batch["target"]
    return fake, {"l1": l1_loss(fake, target), "ssim": ssim_loss(fake, target), "gradient": gradient_loss(fake, target)}


class MotionObjective(torch.nn.Module):
    """Stage 1's losses as the forward of a module holding the motion model.

    `motion_losses` reaches the model through its parts (normaliser, encoders, denoiser), never
    through `model(...)`; DistributedDataParallel averages gradients only for what runs inside the
    forward of the module it wraps, so a distributed run wraps this instead of the model. Its
    parameters are the model's own: the weights saved are the model's, with their usual names.
    """

    def __init__(self, model: MotionModel, scheduler: DDIMScheduler) -> None:
        super().__init__()
        self.model = model
        self.scheduler = scheduler

    def forward(self, batch: dict[str, torch.Tensor], timesteps: torch.Tensor, noise: torch.Tensor,
                drop: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return motion_losses(self.model, self.scheduler, batch, timesteps, noise, drop)
