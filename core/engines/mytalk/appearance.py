"""`AppearanceGenerator`: stage 2, target landmarks + reference lips + masked frame → mouth-region crop.

The paper's motion-conditioned appearance generator, on an aligned crop of the lower face
(`landmarks.CropGeometry`, `image_size` px, ≥ 128 for real use):

- landmark (motion) encoder over the rasterised target landmarks (`rasterize`): where the lips,
  the opening and the jaw must be; its features at every scale guide the decoder;
- lip-appearance encoder over K reference lip crops of the same actor, each with its own sketch,
  shared weights over the K: what these lips, teeth and tongue look like;
- alignment: at each location the motion features query the K references (softmax over K of
  scaled dot products), so every part of the mouth takes its texture from the reference whose
  shape there matches best (a learned, per-pixel retrieval); each reference is also warped onto
  the target shape by a predicted flow, and the attention-weighted warped lips (real pixels of the
  actor: teeth and lip texture stay sharp) reach the decoder at full resolution;
- non-lip encoder over the frame with the mouth ellipse blacked out (plus the mask as a channel):
  skin, light, beard, background, and the head's exact position;
- FusionNet: a learned per-location gate between the aligned lip features and the non-lip
  features, followed by residual blocks, at the bottleneck and one level above it;
- decoder: fused appearance concatenated with the motion features, upsampled with skips from
  the non-lip and motion encoders (and the warped lips at full size), to RGB (linear, clamped to
  [0, 1] at inference).

Only the masked ellipse is generated: the output is frame·(1 − m) + generated·m, so outside the
mask the crop is the input exactly, and the losses and the compositor see only the mouth region.

Shapes: masked (B, 3, S, S) = frame · (1 − mask), and mask (B|1, 1, S, S) in [0, 1]; sketch (B, 3, S, S);
refs (B, K, 3, S, S); ref_sketches (B, K, 3, S, S) → (B, 3, S, S) in [0, 1].
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mytalk.core.engines.mytalk.config import AppearanceModelConfig
from mytalk.core.engines.mytalk.rasterize import SKETCH_CHANNELS


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), _act(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """Conv pyramid: (B, in, S, S) → features at S, S/2, …, S/2**levels (widths `widths`)."""

    def __init__(self, in_ch: int, widths: list[int]) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_ch, widths[0], 3, padding=1), _act())
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1), _act(),
                          nn.Conv2d(widths[i + 1], widths[i + 1], 3, padding=1), _act())
            for i in range(len(widths) - 1)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for block in self.down:
            feats.append(block(feats[-1]))
        return feats


class ReferenceAttention(nn.Module):
    """Per-location softmax over the K references: motion queries, reference keys and values."""

    def __init__(self, motion_ch: int, ref_ch: int, out_ch: int, key_ch: int = 16) -> None:
        super().__init__()
        self.query = nn.Conv2d(motion_ch, key_ch, 1)
        self.key = nn.Conv2d(ref_ch, key_ch, 1)
        self.value = nn.Conv2d(ref_ch, out_ch, 1)
        self.scale = key_ch**-0.5

    def weights(self, motion: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """motion (B, Cm, h, w), refs (B, K, Cr, h, w) → attention (B, K, 1, h, w)."""
        b, k = refs.shape[:2]
        q = self.query(motion)[:, None]
        keys = self.key(refs.flatten(0, 1)).unflatten(0, (b, k))
        return torch.softmax((q * keys).sum(dim=2, keepdim=True) * self.scale, dim=1)

    def forward(self, weights: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        b, k = refs.shape[:2]
        values = self.value(refs.flatten(0, 1)).unflatten(0, (b, k))
        return (weights * values).sum(dim=1)


class FusionNet(nn.Module):
    """Learned merge of aligned lip features and non-lip features: gate, then residual refinement."""

    def __init__(self, ch: int, blocks: int = 1, norm: bool = False) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.Conv2d(2 * ch, ch, 3, padding=1), nn.Sigmoid())
        self.mix = nn.Sequential(nn.Conv2d(2 * ch, ch, 3, padding=1), _act())
        self.refine = nn.Sequential(*[ResBlock(ch) for _ in range(blocks)])
        self.norm = _group_norm(ch) if norm else nn.Identity()

    def forward(self, lip: torch.Tensor, non_lip: torch.Tensor) -> torch.Tensor:
        both = torch.cat([lip, non_lip], dim=1)
        g = self.gate(both)
        return self.norm(self.refine(g * lip + (1 - g) * non_lip + self.mix(both)))


def _group_norm(ch: int) -> nn.GroupNorm:
    """Group normalisation in groups of `ch` / 8 channels (fewer groups when 8 does not divide `ch`)."""
    return nn.GroupNorm(math.gcd(8, ch), ch)


class ReferenceWarp(nn.Module):
    """Per reference, a dense flow (bottleneck resolution, upsampled) that moves its lips onto the target shape.

    Starts at zero flow (identity warp); predicted from the target's motion features and the
    reference's own features (which include its sketch), so it learns how mouth shapes map.
    """

    def __init__(self, motion_ch: int, ref_ch: int, max_shift: float = 0.25) -> None:
        super().__init__()
        last = nn.Conv2d(ref_ch, 2, 3, padding=1)
        nn.init.zeros_(last.weight)
        assert last.bias is not None
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Conv2d(motion_ch + ref_ch, ref_ch, 3, padding=1), _act(), last)
        self.max_shift = max_shift

    def forward(self, motion: torch.Tensor, refs: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """motion (B, Cm, h, w), refs (B, K, Cr, h, w), images (B, K, 3, S, S) → warped images (B, K, 3, S, S)."""
        b, k = refs.shape[:2]
        m = motion[:, None].expand(b, k, *motion.shape[1:]).flatten(0, 1)
        flow = torch.tanh(self.net(torch.cat([m, refs.flatten(0, 1)], dim=1))) * self.max_shift
        size = images.shape[-2:]
        flow = nn.functional.interpolate(flow, size=size, mode="bilinear", align_corners=False)
        ys = torch.linspace(-1 + 1 / size[0], 1 - 1 / size[0], size[0], device=flow.device)
        xs = torch.linspace(-1 + 1 / size[1], 1 - 1 / size[1], size[1], device=flow.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1)[None] + flow.permute(0, 2, 3, 1)
        warped = nn.functional.grid_sample(images.flatten(0, 1).to(grid.dtype), grid, mode="bilinear",
                                           padding_mode="border", align_corners=False)
        return warped.unflatten(0, (b, k))


class AppearanceGenerator(nn.Module):
    """Stage 2 generator; constructor arguments are `AppearanceModelConfig` fields."""

    def __init__(self, image_size: int = 128, channels: int = 16, levels: int = 3, res_blocks: int = 1,
                 num_refs: int = 3, detail_channels: int = 32, *, fusion_norm: bool = False) -> None:
        super().__init__()
        self.image_size = image_size
        self.num_refs = num_refs
        widths = [min(channels * 2**i, channels * 8) for i in range(levels + 1)]
        self.widths = widths
        self.motion_encoder = Encoder(SKETCH_CHANNELS, widths)
        self.lip_encoder = Encoder(3 + SKETCH_CHANNELS, widths)
        self.non_lip_encoder = Encoder(3 + 1, widths)
        self.attention = ReferenceAttention(widths[-1], widths[-1], widths[-1])
        self.attention_mid = nn.Conv2d(widths[-2], widths[-2], 1)
        self.warp = ReferenceWarp(widths[-1], widths[-1])
        # `fusion_norm` (`AppearanceModelConfig`): the merged features, the one place the generator's
        # activations grew without bound in bf16 training, are group-normalised.
        self.fusion = FusionNet(widths[-1], res_blocks, fusion_norm)
        self.fusion_mid = FusionNet(widths[-2], 0, fusion_norm)
        self.bottleneck = nn.Sequential(nn.Conv2d(2 * widths[-1], widths[-1], 3, padding=1), _act(),
                                        *[ResBlock(widths[-1]) for _ in range(res_blocks)],
                                        *([_group_norm(widths[-1])] if fusion_norm else []))
        self.up = nn.ModuleList()
        # Sub-pixel upsampling: each coarse feature writes its 2x2 children directly, so fine detail
        # (lip lines, teeth edges) is not low-passed by an interpolation before the convolutions.
        self.upsample = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], 4 * widths[i], 3, padding=1), nn.PixelShuffle(2))
            for i in range(levels, 0, -1)
        )
        for i in range(levels, 0, -1):
            skip = widths[i - 1] * 2 + (3 if i == 1 else 0)  # non-lip + motion skips (+ the warped lips at full size)
            # The full-size stage is wider and one convolution deeper: it renders the fine detail
            # (lip lines, teeth edges) that the image-gradient loss asks for.
            out, convs = (detail_channels, 3) if i == 1 else (widths[i - 1], 2)
            layers: list[nn.Module] = [nn.Conv2d(widths[i] + skip, out, 3, padding=1), _act()]
            for _ in range(convs - 1):
                layers += [nn.Conv2d(out, out, 3, padding=1), _act()]
            self.up.append(nn.Sequential(*layers))
        self.to_rgb = nn.Conv2d(detail_channels, 3, 3, padding=1)

    def forward(self, masked: torch.Tensor, mask: torch.Tensor, sketch: torch.Tensor, refs: torch.Tensor,
                ref_sketches: torch.Tensor) -> torch.Tensor:
        b, k = refs.shape[:2]
        mask = mask.expand(b, 1, *masked.shape[-2:])
        motion = self.motion_encoder(sketch)
        non_lip = self.non_lip_encoder(torch.cat([masked, mask], dim=1))
        lips = self.lip_encoder(torch.cat([refs, ref_sketches], dim=2).flatten(0, 1))
        lip_bottom = lips[-1].unflatten(0, (b, k))
        lip_mid = lips[-2].unflatten(0, (b, k))

        # Align the references to the target motion: a softmax over K per location (bottleneck, and the
        # same weights one level up), and each reference's pixels warped onto the target shape.
        weights = self.attention.weights(motion[-1], lip_bottom)
        aligned = self.attention(weights, lip_bottom)
        w_mid = nn.functional.interpolate(weights.flatten(0, 1), scale_factor=2, mode="nearest").unflatten(0, (b, k))
        aligned_mid = self.attention_mid((w_mid * lip_mid).sum(dim=1))
        warped = self.warp(motion[-1], lip_bottom, refs)
        w_full = nn.functional.interpolate(weights.flatten(0, 1), size=masked.shape[-2:], mode="bilinear",
                                           align_corners=False).unflatten(0, (b, k))
        texture = (w_full * warped).sum(dim=1)

        fused = self.fusion(aligned, non_lip[-1])
        x = self.bottleneck(torch.cat([fused, motion[-1]], dim=1))
        levels = len(self.widths) - 1
        for j, block in enumerate(self.up):
            level = levels - 1 - j
            x = self.upsample[j](x)
            appearance = self.fusion_mid(aligned_mid, non_lip[level]) if j == 0 else non_lip[level]
            parts = [x, appearance, motion[level]] + ([texture] if level == 0 else [])
            x = block(torch.cat(parts, dim=1))
        # A linear output around mid-grey: a sigmoid saturates, and a saturated generator stops learning.
        generated = 0.5 + self.to_rgb(x)
        if not self.training:
            generated = generated.clamp(0.0, 1.0)
        # `masked` is frame·(1 − m), so this is frame·(1 − m) + generated·m without ever showing the mouth.
        return masked + generated * mask


def generator_for(config: AppearanceModelConfig) -> AppearanceGenerator:
    """Stage 2's generator, freshly initialised, for `config`: the one place the config's fields become the
    networks' arguments, shared by training (`builders`) and rendering (`models`, which may not import
    training code such as the discriminator)."""
    return AppearanceGenerator(config.image_size, config.channels, config.levels, config.res_blocks, config.num_refs,
                               config.detail_channels, fusion_norm=config.fusion_norm)
