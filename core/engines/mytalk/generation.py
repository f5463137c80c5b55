"""`MouthGenerationPipeline`: stage 2 at inference, planned landmarks + references → mouth pixels.

The counterpart of `SpeechToLandmarkPipeline` (stage 1), and read the same way:

1. each frame's aligned crop is cut (`landmarks.crop_frame`) and its mouth region masked out by the
   generator's ellipse;
2. the planned landmarks are rasterised into the motion sketch, and the K retrieved reference crops
   with their own sketches are stacked;
3. the generator (lip, non-lip and motion encoders merged by the FusionNet) renders the masked
   region, a batch of frames per forward pass;
4. `paste` warps the generated crop back into frame pixels inside the generator's ellipse, over the
   box of the edit mask (`composite.masks.edit_mask`: the union of the source's and the target's
   masks). Outside the ellipse the box keeps the source's exact pixels; the caller's compositor
   blends the box into the frame.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import av
import cv2
import numpy as np
import torch

from mytalk.core.composite.masks import Mask, MaskMode, edit_mask
from mytalk.core.composite.planes import read_rgb
from mytalk.core.engines.mytalk.landmarks import CropGeometry, crop_frame, ellipse_mask
from mytalk.core.engines.mytalk.rasterize import rasterize_batch


class MouthGenerationPipeline:
    """The trained generator with the job's reference bank, ready to paint batches of frames."""

    def __init__(self, generator: torch.nn.Module, bank: Any, config: Any, device: torch.device) -> None:
        self.generator = generator
        self.device = device
        self.geometry = CropGeometry(config.crop_box, config.image_size)
        self.mask = ellipse_mask(self.geometry, config.mask_center, config.mask_radii, config.mask_feather)
        self.bank_crops = torch.from_numpy(bank.crops).permute(0, 3, 1, 2).float() / 255.0
        self.bank_sketches = torch.from_numpy(rasterize_batch(bank.points, self.geometry))
        self.batches = 0
        self.seconds = 0.0

    @torch.no_grad()
    def generate(self, frames: Sequence[av.VideoFrame], transforms: np.ndarray, targets: np.ndarray,
                 choice: np.ndarray) -> np.ndarray:
        """Mouth-region crops (B, S, S, 3) float32 in [0, 1].

        frames: B decoded frames; transforms: (B, 2, 3) their frame → canonical similarities;
        targets: (B, P, 2) planned canonical points; choice: (B, K) reference bank rows per frame.
        """
        began = time.perf_counter()
        crops = np.stack([crop_frame(frame, transform, self.geometry) for frame, transform in zip(frames, transforms,
                                                                                                  strict=True)])
        frame = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        mask = torch.from_numpy(self.mask)[None, None]
        sketch = torch.from_numpy(rasterize_batch(targets, self.geometry))
        refs = self.bank_crops[torch.from_numpy(choice)]
        ref_sketches = self.bank_sketches[torch.from_numpy(choice)]
        dev = self.device
        out = self.generator((frame * (1 - mask)).to(dev), mask.to(dev), sketch.to(dev), refs.to(dev), ref_sketches.to(dev))
        self.batches += 1
        self.seconds += time.perf_counter() - began
        return out.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()

    def paste(self, frame: av.VideoFrame, landmarks: np.ndarray, target: np.ndarray, lower_face: bool,
              crop: np.ndarray, transform: np.ndarray) -> tuple[Mask, np.ndarray | None]:
        """The generated `crop` back in frame pixels over the edit mask's box: (mask, RGB float32), or
        (mask, None) when the mask is empty. landmarks: (478, 2|3) tracked; target: (478, 2) planned mesh."""
        size = (frame.width, frame.height)
        mode = MaskMode.LOWER_FACE if lower_face else MaskMode.MOUTH
        mask = edit_mask(np.asarray(landmarks, np.float64)[:, :2], target, size, mode)
        if mask.is_empty:
            return mask, None
        x0, y0, x1, y1 = mask.box
        bg = read_rgb(frame, mask.box)
        to_crop = self.geometry.frame_to_crop(transform).copy()
        to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)  # box-local pixel → crop pixel
        w, h = x1 - x0, y1 - y0
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        generated = cv2.warpAffine(crop, to_crop, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(self.mask, to_crop, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        # Outside the generator's own ellipse the box keeps the source's exact pixels.
        return mask, bg + inside[..., None] * (generated - bg)
