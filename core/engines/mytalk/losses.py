"""Training losses of both stages.

Stage 1 (on normalised landmark coordinates, content points only):
- reconstruction: mean squared error of x0;
- velocity: mean squared error of frame-to-frame differences (the motion, not only the poses; it
  is what removes jitter);
- identity: 1 − cos(ID(predicted), ID(true)), with the ID extractor's weights held fixed for this
  term (a gradient into the extractor would let it collapse every face onto one embedding, which
  makes the loss zero and useless).

Stage 2 (on RGB crops in [0, 1], (B, 3, H, W)):
- L1;
- 1 − multi-scale SSIM (Wang et al. 2003; Gaussian σ = 1.5, 11 taps; as many scales as the crop
  allows, at most 5, with the standard weights renormalised);
- image gradients: L1 between the horizontal and vertical finite differences (keeps edges:
  lip line, teeth);
- adversarial, PatchGAN: "hinge" or "lsgan" (least squares), for the discriminator and the generator.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from mytalk.core.engines.mytalk.id_extractor import IdentityExtractor

# --- stage 1 -----------------------------------------------------------------------------------


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of content points (B, T, Nc, 2)."""
    return (pred - target).square().mean()


def velocity_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of the per-frame differences along T of (B, T, Nc, 2)."""
    return ((pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])).square().mean()


def identity_loss(extractor: IdentityExtractor, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − cos(ID(pred), ID(target)) averaged over the batch; pred, target (B, T, P, 2) normalised.

    Gradients flow into `pred` only: the extractor is called with detached copies of its weights.
    """
    params = {name: p.detach() for name, p in extractor.named_parameters()}
    pred_emb = functional_call(extractor, params, (pred,), {}, strict=False, tie_weights=True)[1]
    with torch.no_grad():
        true_emb = extractor(target)[1]
    cos = nn.functional.cosine_similarity(pred_emb, true_emb, dim=-1, eps=1e-8)
    return (1.0 - cos).mean()


# --- stage 2 -----------------------------------------------------------------------------------

_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gaussian(size: int = 11, sigma: float = 1.5, device: torch.device | None = None) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_parts(x: torch.Tensor, y: torch.Tensor, size: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per image (B,), valid-mode Gaussian window."""
    c1, c2 = 0.01**2, 0.03**2
    ch = x.shape[1]
    size = min(size, x.shape[-1], x.shape[-2])
    g = _gaussian(size, 1.5, x.device)
    kx = g.reshape(1, 1, 1, -1).expand(ch, 1, 1, size)
    ky = g.reshape(1, 1, -1, 1).expand(ch, 1, size, 1)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(nn.functional.conv2d(z, kx, groups=ch), ky, groups=ch)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * cs
    return ssim.flatten(1).mean(1), cs.flatten(1).mean(1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, max_scales: int = 5) -> torch.Tensor:
    """Multi-scale SSIM (B,) of images in [0, 1]; scales stop while the side is at least 16 px.

    Always computed in float32, even inside an autocast region: its variances are differences of means
    (E[x²] − E[x]²), and with the blurs run in bf16, as autocast runs convolutions, they cancel to zero
    or below. The loss then became garbage, -inf on the CPU from the second step; on CUDA the generator
    learned to exploit it (1 − MS-SSIM fell while L1 rose) until the `base` run diverged at step 80."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _ms_ssim(x.float(), y.float(), max_scales)


def _ms_ssim(x: torch.Tensor, y: torch.Tensor, max_scales: int) -> torch.Tensor:
    scales = 1
    side = min(x.shape[-2:])
    while scales < max_scales and side // (2**scales) >= 16:
        scales += 1
    weights = torch.tensor(_MS_WEIGHTS[:scales], device=x.device)
    weights = weights / weights.sum()
    values = []
    for i in range(scales):
        ssim, cs = _ssim_parts(x, y)
        values.append((ssim if i == scales - 1 else cs).clamp_min(1e-6))
        if i < scales - 1:
            x, y = nn.functional.avg_pool2d(x, 2), nn.functional.avg_pool2d(y, 2)
    stacked = torch.stack(values, dim=-1)
    return torch.prod(stacked ** weights, dim=-1)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − MS-SSIM, averaged over the batch."""
    return (1.0 - ms_ssim(pred, target)).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()


def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences of (B, C, H, W)."""
    dx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """PatchGAN discriminator loss on logits maps of real and generated crops."""
    if kind == "hinge":
        return nn.functional.relu(1.0 - real).mean() + nn.functional.relu(1.0 + fake).mean()
    return (real - 1.0).square().mean() + fake.square().mean()


def generator_adversarial_loss(fake: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """The generator's adversarial term on the discriminator's logits for generated crops."""
    if kind == "hinge":
        return -fake.mean()
    return (fake - 1.0).square().mean()
