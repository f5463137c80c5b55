"""The actor's reference frames: K reference lips per target frame (stage 2) and the identity landmarks (stage 1).

A `ReferenceBank` holds aligned crops (R, S, S, 3) uint8 and their canonical points (R, P, 2) of
frames of the actor. For each target mouth shape, `retrieve` returns the K bank frames whose lip
shape is nearest (centred lip points plus twice the inner-lip gap, the classic engine's measure),
so the generator always sees lips, teeth and tongue in a pose close to the one it must draw.

Where the bank comes from (the engine decides, see `engine.py`):
- an actor fine-tuned with `mytalk actor build … --engine mytalk` stores one (`references.npz`);
- an actor profile of the classic engine: its appearance index (the crops retrieval paints with)
  is re-aligned into this engine's crop geometry (`from_classic_index`);
- `--reference` ranges: tracked and cropped here (`from_clip`);
- otherwise the edited range's own frames (their pictures only; never their sound).
Near-identical mouths are dropped so a long take does not fill the bank with one pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.engines.actors import AppearanceIndex
from mytalk.core.engines.mytalk.dataset import ClipData, nearest_references, resize_crops
from mytalk.core.engines.mytalk.landmarks import POINTS_INDEX, CropGeometry, lip_descriptors
from mytalk.core.errors import MediaFormatError


def _distinct(descriptors: np.ndarray, limit: int) -> np.ndarray:
    """Row indices (in order) of at most `limit` mutually distinct mouths, greedily, loosening until it fits."""
    n = descriptors.shape[0]
    if n <= limit:
        return np.arange(n)
    lips = descriptors[:, :-1].reshape(n, -1, 2)
    eps = 0.004
    while True:
        kept: list[int] = []
        for i in range(n):
            if not kept or (np.linalg.norm(lips[kept] - lips[i], axis=-1).mean(-1)
                            + np.abs(descriptors[kept, -1] - descriptors[i, -1])).min() > eps:
                kept.append(i)
                if len(kept) > limit:
                    break
        if len(kept) <= limit:
            return np.asarray(kept, np.int64)
        eps *= 1.5


@dataclass
class ReferenceBank:
    """crops (R, S, S, 3) uint8 of `geometry`; points (R, P, 2) canonical; source: where they came from."""

    crops: np.ndarray
    points: np.ndarray
    geometry: CropGeometry
    source: str = ""

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def descriptors(self) -> np.ndarray:
        return lip_descriptors(self.points.astype(np.float64))

    def at_size(self, size: int) -> ReferenceBank:
        """The same bank with crops resampled to `size` px (same canonical box)."""
        if size == self.geometry.size:
            return self
        return ReferenceBank(resize_crops(self.crops, size), self.points, CropGeometry(self.geometry.box, size),
                             self.source)

    def retrieve(self, targets: np.ndarray, k: int) -> np.ndarray:
        """Indices (T, k) of the bank frames with the lip shapes nearest to targets (T, P, 2)."""
        desc = self.descriptors
        allowed = np.ones((targets.shape[0], len(self)), bool)
        return nearest_references(desc, allowed, lip_descriptors(np.asarray(targets, np.float64)), k)

    @classmethod
    def from_clip(cls, clip: ClipData, geometry: CropGeometry, limit: int, source: str = "") -> ReferenceBank:
        """Distinct frames with a face of an extracted clip (its crops must be cut with `geometry`)."""
        rows = np.flatnonzero(clip.found)
        if rows.size == 0:
            raise ValueError("no frame with a face")
        keep = rows[_distinct(lip_descriptors(clip.points[rows].astype(np.float64)), limit)]
        return cls(clip.crops[keep], clip.points[keep].astype(np.float32), geometry, source)

    @classmethod
    def concatenate(cls, banks: list[ReferenceBank], limit: int) -> ReferenceBank:
        crops = np.concatenate([b.crops for b in banks])
        points = np.concatenate([b.points for b in banks])
        keep = _distinct(lip_descriptors(points.astype(np.float64)), limit)
        return cls(crops[keep], points[keep], banks[0].geometry, "+".join(b.source for b in banks))

    @classmethod
    def from_classic_index(cls, index: AppearanceIndex, geometry: CropGeometry, limit: int) -> ReferenceBank:
        """Re-align a stored actor's appearance index (`actors.load_appearance`: the classic engine's crops and
        their crop-pixel landmarks) into `geometry`."""
        from mytalk.core.face.canonical import apply_transform, similarity_to_canonical_batch

        landmarks = np.asarray(index.landmarks, np.float64)
        transforms, _ = similarity_to_canonical_batch(landmarks)
        points = apply_transform(landmarks[:, POINTS_INDEX], transforms)
        ok = np.flatnonzero(np.isfinite(points).all(axis=(1, 2)))
        if ok.size == 0:
            raise ValueError("the classic profile has no usable mouth crop")
        keep = ok[_distinct(lip_descriptors(points[ok]), limit)]
        crops = []
        for k in keep:
            image = np.asarray(index.image(int(k)), np.float32)
            crop = geometry.crop_from_frame(image, transforms[k])
            crops.append(np.clip(crop * 255.0 + 0.5, 0, 255).astype(np.uint8))
        return cls(np.stack(crops), points[keep].astype(np.float32), geometry, "classic actor profile")

    def save(self, path: Path) -> Path:
        np.savez_compressed(path, crops=self.crops, points=self.points.astype(np.float32),
                            box=np.asarray(self.geometry.box, np.float64), size=np.array([self.geometry.size]))
        return path

    @classmethod
    def load(cls, path: Path, source: str = "") -> ReferenceBank:
        try:
            with np.load(path, allow_pickle=False) as data:
                box = tuple(float(v) for v in data["box"])
                return cls(data["crops"], data["points"], CropGeometry(box, int(data["size"][0])),  # type: ignore[arg-type]
                           source or str(path))
        except (OSError, ValueError, KeyError) as error:
            raise MediaFormatError(f"{path}: damaged reference bank ({error}); rebuild the actor with "
                                   "'mytalk actor build NAME FOOTAGE --engine mytalk'") from None


def bank_from_range(path: Path, start: int, stop: int, geometry: CropGeometry, limit: int, tracker: Any = None,
                    progress: Any = None, is_cancelled: Any = None) -> ReferenceBank | None:
    """A bank of at most `limit` distinct mouths of frames [start, stop) of a video; None without a face.

    Tracks first (cached), picks the distinct mouths from their landmarks, and decodes and crops only
    those frames, so an hour of reference footage costs a few hundred crops of memory. The sound is
    never read.
    """
    from mytalk.core.engines.mytalk.landmarks import MIN_CONFIDENCE, canonical_points, crop_frame
    from mytalk.core.face.video_tracking import track_video
    from mytalk.core.media.reader import FrameReader
    from mytalk.core.progress import check_cancelled, never_cancelled, no_progress

    progress = progress or no_progress
    is_cancelled = is_cancelled or never_cancelled
    observations = track_video(path, start, stop, tracker, progress=progress, is_cancelled=is_cancelled)
    lm = np.stack([o.landmarks for o in observations]).astype(np.float64)
    found = np.array([o.found and o.confidence >= MIN_CONFIDENCE for o in observations], bool)
    points, transforms = canonical_points(lm)
    found &= np.isfinite(points).all(axis=(1, 2))
    rows = np.flatnonzero(found)
    if rows.size == 0:
        return None
    keep = rows[_distinct(lip_descriptors(points[rows]), limit)]
    wanted = {start + int(i): int(i) for i in keep}
    crops = np.zeros((keep.size, geometry.size, geometry.size, 3), np.uint8)
    with FrameReader(path) as reader:
        for source in reader.frames(start + int(keep[0]), start + int(keep[-1]) + 1):
            i = wanted.get(source.index)
            if i is not None:
                check_cancelled(is_cancelled, f"reading reference frame {source.index}")
                crops[np.searchsorted(keep, i)] = crop_frame(source.frame, transforms[i], geometry)
    return ReferenceBank(crops, points[keep].astype(np.float32), geometry, f"{path.name}:{start}-{stop}")
