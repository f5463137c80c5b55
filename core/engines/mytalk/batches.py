"""Training batches of both stages, drawn from a built dataset (`dataset.Dataset`).

`sample` draws a random batch from the step's NumPy generator (`seeding.step_generators`), so a
resumed run draws the batches an uninterrupted one would have; `probe` is a fixed batch, the same
at every evaluation, so probe losses are comparable across steps.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from mytalk.core.engines.mytalk.audio_encoder import audio_window, collate_windows
from mytalk.core.engines.mytalk.config import AppearanceModelConfig, MotionModelConfig
from mytalk.core.engines.mytalk.dataset import Dataset, nearest_references, resize_crops
from mytalk.core.engines.mytalk.landmarks import CropGeometry, ellipse_mask, lip_descriptors
from mytalk.core.engines.mytalk.rasterize import rasterize_batch
from mytalk.core.errors import UsageError


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of a batch on `device`."""
    return {k: v.to(device) for k, v in batch.items()}


class MotionBatches:
    """Windows of `window` consecutive frames with a face and sound, from every clip of a dataset.

    For a phone-fed model each clip's viseme coverage (T, 11) is computed once from its stored
    phones and cut with the same frames as the landmarks (zeros for a clip whose phones are unusable).
    """

    def __init__(self, dataset: Dataset, config: MotionModelConfig) -> None:
        self.dataset = dataset
        self.config = config
        self.windows: list[tuple[int, int]] = []
        self.pools: dict[int, np.ndarray] = {}
        self.visemes: dict[int, np.ndarray] | None = {} if config.phone_features != "none" else None
        w = config.window
        for i in range(len(dataset)):
            if not dataset.entry(i).get("has_audio"):
                continue
            clip = dataset.clip(i)
            found = clip.found
            if found.size < w:
                continue
            ok = np.convolve(found.astype(int), np.ones(w, int), mode="valid") == w
            self.windows += [(i, int(s)) for s in np.flatnonzero(ok)]
            self.pools[i] = np.flatnonzero(found)
            if self.visemes is not None:
                from mytalk.core.engines.mytalk.phones import frame_visemes

                self.visemes[i] = frame_visemes(clip.phones, Fraction(clip.fps), clip.num_frames)
        if not self.windows:
            raise UsageError(f"{dataset.folder}: no stretch of {w} consecutive frames with a face and sound; "
                             "add longer footage or use a config with a smaller motion.model window")

    def all_points(self) -> np.ndarray:
        """Canonical points (N, P, 2) of every frame with a face (for the normaliser)."""
        return np.concatenate([self.dataset.clip(i).points[self.pools[i]] for i in self.pools])

    def batch(self, picks: list[tuple[int, int]], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """x0 (B, W, P, 2) canonical, mel (B, M, 80), positions (B, W, S), references (B, R, P, 2),
        and for a phone-fed model visemes (B, W, 11)."""
        c = self.config
        points, windows, refs = [], [], []
        for clip_index, start in picks:
            clip = self.dataset.clip(clip_index)
            points.append(clip.points[start : start + c.window])
            windows.append(audio_window(clip.mel, Fraction(clip.fps), start, c.window, c.audio_margin_s,
                                        c.audio_subsamples))
            pool = self.pools[clip_index]
            refs.append(clip.points[rng.choice(pool, size=c.num_refs, replace=pool.size < c.num_refs)])
        mel, pos = collate_windows(windows)
        out = {"x0": torch.from_numpy(np.stack(points).astype(np.float32)), "mel": mel, "positions": pos,
               "references": torch.from_numpy(np.stack(refs).astype(np.float32))}
        if self.visemes is not None:
            cut = [self.visemes[i][s : s + c.window] for i, s in picks]
            out["visemes"] = torch.from_numpy(np.stack(cut).astype(np.float32))
        return out

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        picks = [self.windows[int(j)] for j in rng.integers(0, len(self.windows), batch_size)]
        return self.batch(picks, rng)

    def probe(self, count: int, seed: int) -> dict[str, torch.Tensor]:
        """A fixed batch: `count` windows evenly spread over the dataset, fixed references."""
        idx = np.linspace(0, len(self.windows) - 1, count).round().astype(int)
        return self.batch([self.windows[j] for j in idx], np.random.default_rng(seed))


class AppearanceBatches:
    """Frames with a face, each with its K nearest reference mouths from the same clip (never its neighbours)."""

    def __init__(self, dataset: Dataset, config: AppearanceModelConfig, exclude_radius: int) -> None:
        if tuple(dataset.manifest["crop_box"]) != tuple(config.crop_box):
            raise UsageError(f"{dataset.folder}: crops were cut with box {dataset.manifest['crop_box']}, the config "
                             f"wants {list(config.crop_box)}; rebuild the dataset or change appearance.model crop_box")
        self.dataset = dataset
        self.config = config
        self.geometry = CropGeometry(config.crop_box, config.image_size)
        self.mask = ellipse_mask(self.geometry, config.mask_center, config.mask_radii, config.mask_feather)
        self.frames: list[tuple[int, int]] = []
        self.refs: dict[int, np.ndarray] = {}
        self._crops: dict[int, np.ndarray] = {}
        for i in range(len(dataset)):
            clip = dataset.clip(i)
            found = np.flatnonzero(clip.found)
            if found.size < 2:
                continue
            desc = lip_descriptors(clip.points[found].astype(np.float64))
            gap = np.abs(found[:, None] - found[None, :])
            allowed = gap > exclude_radius
            allowed[~allowed.any(axis=1)] = gap[~allowed.any(axis=1)] > 0
            nearest = nearest_references(desc, allowed, desc, config.num_refs)
            table = np.full((clip.num_frames, config.num_refs), -1, np.int64)
            table[found] = found[nearest]
            self.refs[i] = table
            self.frames += [(i, int(f)) for f in found]
        if not self.frames:
            raise UsageError(f"{dataset.folder}: no clip has two or more frames with a face to train the appearance on")

    def crops(self, clip_index: int) -> np.ndarray:
        if clip_index not in self._crops:
            if len(self._crops) >= 64:
                self._crops.pop(next(iter(self._crops)))
            self._crops[clip_index] = resize_crops(self.dataset.clip(clip_index).crops, self.config.image_size)
        return self._crops[clip_index]

    def batch(self, picks: list[tuple[int, int]]) -> dict[str, torch.Tensor]:
        """target (B, 3, S, S), masked, mask (1, 1, S, S), sketch (B, 3, S, S), refs / ref_sketches (B, K, 3, S, S)."""
        targets, sketches_pts, refs, ref_pts = [], [], [], []
        for clip_index, frame in picks:
            clip = self.dataset.clip(clip_index)
            crops = self.crops(clip_index)
            r = self.refs[clip_index][frame]
            targets.append(crops[frame])
            sketches_pts.append(clip.points[frame])
            refs.append(crops[r])
            ref_pts.append(clip.points[r])
        b, k = len(picks), self.config.num_refs
        target = torch.from_numpy(np.stack(targets)).permute(0, 3, 1, 2).float() / 255.0
        mask = torch.from_numpy(self.mask)[None, None]
        sketch = torch.from_numpy(rasterize_batch(np.stack(sketches_pts), self.geometry))
        ref_img = torch.from_numpy(np.stack(refs)).permute(0, 1, 4, 2, 3).float() / 255.0
        ref_sk = torch.from_numpy(rasterize_batch(np.concatenate(ref_pts), self.geometry)).reshape(b, k, 3, *sketch.shape[-2:])
        return {"target": target, "masked": target * (1 - mask), "mask": mask, "sketch": sketch,
                "refs": ref_img, "ref_sketches": ref_sk}

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return self.batch([self.frames[int(j)] for j in rng.integers(0, len(self.frames), batch_size)])

    def probe(self, count: int) -> dict[str, torch.Tensor]:
        idx = np.linspace(0, len(self.frames) - 1, count).round().astype(int)
        return self.batch([self.frames[j] for j in idx])
