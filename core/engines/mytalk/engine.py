"""`--engine mytalk`: the paper's two stages behind the engine interface.

prepare (the whole line is needed before the first frame):
1. find the trained models (`--actor NAME`'s fine-tune, else `base`) before any other work, so a
   missing model fails at once with one line that says how to train one;
2. track the range and its handles (`track_video`, cached);
3. the actor's reference frames (`references.py`): the fine-tuned actor's bank, a classic actor
   profile's appearance index, the `--reference` ranges, or else the range's own pictures;
4. stage 1: `SpeechToLandmarkPipeline` turns the line (16 kHz) into mouth and jaw landmarks for
   every frame, with the range's own rigid face points as context and the references as identity
   (seeded: the same line gives the same mouth every time); a phone-fed model (`phone_features =
   "visemes"`) also gets the line's phone track (`--transcript` aligned in the settings' language
   when given, else recognised), as each frame's viseme coverage, and the report shows the track;
5. per frame, the K reference lips nearest to the generated mouth shape.

render streams one frame in, one frame out, generating in batches of `batch_size` frames (memory
is bounded by one batch): the aligned crop of each frame with a face is cut (with the colour
matrix the compositor pastes with), stage 2 renders its mouth region, the crop is warped back
onto the frame inside the generator's mask, and the compositor pastes it under the union of the
source's and the target's lower-face masks, writing only the changed samples in the source's own
pixel format. Frames without a usable face and handle frames pass through as the very same object.

Settings honoured: device (auto|cpu|cuda), mask mode (auto = lower-face, since the jaw moves;
mouth), quality (preview: alpha blend), smoothing (temporal Gaussian on the generated points,
0 to 1 frame), openness (scales generated motion about the actor's mean mouth), actor; transcript
and language with a phone-fed model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
import cv2
import numpy as np
import torch

from mytalk.core.engines.base import EngineJob, FrameRecord, RenderedFrame
from mytalk.core.errors import UsageError
from mytalk.core.media.reader import SourceFrame
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled

NO_FACE = "no usable face: frame passed through unchanged"
MASK_MODES = ("auto", "mouth", "lower-face")
BATCH_SIZE = 8
"""Frames generated per forward pass: large enough to amortise the call, small enough to stream."""


class MyTalkEngine:
    """Speech → landmarks (diffusion) → mouth pixels (FusionNet generator), pasted by the compositor."""

    name: ClassVar[str] = "mytalk"
    version: ClassVar[str] = "1.0"

    def __init__(self) -> None:
        self._job: EngineJob | None = None
        self._obs: dict[int, Any] = {}
        self._plan: dict[str, Any] | None = None
        self._report: dict[str, Any] = {}

    # --- prepare ---------------------------------------------------------------------------------

    def prepare(self, job: EngineJob, progress: ProgressFn, is_cancelled: CancelFn) -> None:
        from mytalk.core.engines.mytalk.landmarks import CONTENT_INDEX, NUM_CONTENT, canonical_points
        from mytalk.core.engines.mytalk.models import find_models, load_models
        from mytalk.core.engines.mytalk.pipeline import SpeechToLandmarkPipeline
        from mytalk.core.engines.mytalk.train import resolve_device
        from mytalk.core.face.canonical import apply_transform, invert_transform
        from mytalk.core.face.tracker import TrackerSettings, track_video

        s = job.settings
        if s.mask_mode not in MASK_MODES:
            raise UsageError(f"--mask {s.mask_mode!r}: choose one of {', '.join(MASK_MODES)}")
        if not 0.0 <= s.smoothing <= 1.0:
            raise UsageError(f"--smoothing {s.smoothing}: give a value from 0 (none) to 1 (strongest)")
        if not 0.0 <= s.openness <= 3.0:
            raise UsageError(f"--openness {s.openness}: give a strength from 0 (closed) to 3 (1.0 = as learned)")
        began = time.perf_counter()
        folder = find_models(s.actor)
        device = resolve_device(s.device)
        models = load_models(folder, device)
        self._job = job
        video = job.video.video
        assert video is not None
        tracker = TrackerSettings(face_point=s.face_point)
        first, last = max(0, job.start - job.handles), min(video.frame_count, job.stop + job.handles)
        observations = track_video(job.video.path, first, last, tracker, progress=progress, is_cancelled=is_cancelled)
        self._obs = {o.index: o for o in observations}
        check_cancelled(is_cancelled, "preparation")

        n = job.num_frames
        lm = np.stack([self._obs[i].landmarks for i in range(job.start, job.stop)]).astype(np.float64)
        found = np.array([self._obs[i].found for i in range(job.start, job.stop)], bool)
        points, transforms = canonical_points(lm)
        found &= np.isfinite(points).all(axis=(1, 2))
        cfg = models.appearance
        bank, bank_note = self._references(job, models, found, lm, tracker, progress, is_cancelled)
        check_cancelled(is_cancelled, "preparation")

        target = np.full_like(points, np.nan)
        steps = models.sampling.steps
        line_phones = None
        if found.any() and models.motion.uses_phones:
            from mytalk.core.engines.mytalk.phones import time_phones

            line_phones = time_phones(job.line, transcript=s.transcript, language=getattr(s, "language", "en"),
                                      progress=progress, is_cancelled=is_cancelled)
            check_cancelled(is_cancelled, "preparation")
        if found.any():
            pipeline = SpeechToLandmarkPipeline(models.motion, models.scheduler, device)
            audio = job.line.mono().resampled(models.motion.config.sample_rate).samples[0]
            generator = torch.Generator().manual_seed(models.sampling.seed)
            context = np.where(found[:, None, None], points, np.nan)[:, NUM_CONTENT:]
            visemes = None
            if models.motion.uses_phones:
                from mytalk.core.engines.mytalk.phones import frame_visemes

                visemes = frame_visemes(line_phones, Fraction(job.fps), n)
            out = pipeline(audio, fps=Fraction(job.fps), context=context, references=bank.points,
                           num_inference_steps=steps, guidance_scale=models.sampling.guidance_scale,
                           eta=models.sampling.eta, generator=generator, visemes=visemes)
            target = out.landmarks
            content = target[:, :NUM_CONTENT]
            if s.openness != 1.0:
                rest = bank.points[:, :NUM_CONTENT].astype(np.float64).mean(axis=0)
                content = rest + s.openness * (content - rest)
            if s.smoothing > 0 and n > 1:
                from scipy.ndimage import gaussian_filter1d

                content = gaussian_filter1d(content, sigma=s.smoothing, axis=0, mode="nearest")
            target = np.concatenate([content, points[:, NUM_CONTENT:]], axis=1)
        progress(1, 1, "speech to landmarks")
        choice = bank.retrieve(np.where(found[:, None, None], target, bank.points[:1]), cfg.num_refs)
        # Target meshes in frame pixels: the frame's own mesh with mouth and jaw replaced.
        pixel_targets = lm[:, :, :2].copy()
        if found.any():
            moved = apply_transform(target[found, :NUM_CONTENT], invert_transform(transforms[found]))
            pixel_targets[np.ix_(np.flatnonzero(found), CONTENT_INDEX)] = moved
        self._plan = {"models": models, "device": device, "bank": bank, "found": found, "target": target,
                      "transforms": transforms, "choice": choice, "pixel_targets": pixel_targets, "landmarks": lm}
        self._report = {
            "driver": "diffusion (stage 1: speech to landmarks)",
            "models": models.summary(),
            "device": device.type,
            "sampling": {"steps": steps, "guidance_scale": models.sampling.guidance_scale,
                         "seed": models.sampling.seed},
            "references": {"source": bank_note, "frames": len(bank), "per_frame": cfg.num_refs},
            "crop_px": cfg.image_size,
            "frames_without_face": int((~found).sum()),
            "ignored_settings": {k: v for k, v in (("motion_driver", s.motion_driver), ("transcript", s.transcript))
                                 if v not in (None, "auto") and not (k == "transcript" and models.motion.uses_phones)},
            "prepare_s": round(time.perf_counter() - began, 3),
        }
        if line_phones is not None:
            self._report["phones"] = line_phones.summary

    def _references(self, job: EngineJob, models: Any, found: np.ndarray, lm: np.ndarray, tracker: Any,
                    progress: ProgressFn, is_cancelled: CancelFn) -> tuple[Any, str]:
        """The reference bank at the generator's size, and a note on where it came from."""
        from mytalk.core.engines.mytalk.landmarks import CropGeometry
        from mytalk.core.engines.mytalk.models import actor_folder
        from mytalk.core.engines.mytalk.references import ReferenceBank, bank_from_range

        cfg = models.appearance
        geometry = CropGeometry(cfg.crop_box, cfg.image_size)
        limit = 200
        actor = job.settings.actor
        if actor:
            stored = actor_folder(actor) / "references.npz"
            if stored.is_file():
                return ReferenceBank.load(stored).at_size(cfg.image_size), f"actor {actor!r} (fine-tuned)"
            from mytalk.core.engines.actors import load_appearance

            return ReferenceBank.from_classic_index(load_appearance(actor), geometry, limit), f"actor {actor!r} (classic profile)"
        banks = []
        for ref in job.references:
            bank = bank_from_range(Path(ref.path), ref.start, ref.stop, geometry, limit, tracker, progress, is_cancelled)
            if bank is not None:
                banks.append(bank)
        if banks:
            names = ", ".join(f"{Path(r.path).name}:{r.start}-{r.stop}" for r in job.references)
            return ReferenceBank.concatenate(banks, limit), f"reference footage {names}"
        if not found.any():
            # Nothing will be generated; a single blank entry keeps the shapes simple.
            from mytalk.core.engines.mytalk.landmarks import NUM_POINTS

            return ReferenceBank(np.zeros((1, cfg.image_size, cfg.image_size, 3), np.uint8),
                                 np.zeros((1, NUM_POINTS, 2), np.float32), geometry, "none"), "none (no face)"
        bank = bank_from_range(Path(job.video.path), job.start, job.stop, geometry, limit, tracker, progress,
                               is_cancelled)
        assert bank is not None
        return bank, "the range's own pictures (the references show no face)"

    # --- render ----------------------------------------------------------------------------------

    def render(self, frames: Iterator[SourceFrame], progress: ProgressFn, is_cancelled: CancelFn) -> Iterator[RenderedFrame]:
        from mytalk.core.composite.compositor import Compositor

        job, plan = self._job, self._plan
        if job is None or plan is None:
            raise RuntimeError("MyTalkEngine.render called before prepare")
        mode = "mouth" if job.settings.mask_mode == "mouth" else "lower-face"
        compositor = Compositor.for_quality(job.settings.quality, mode=mode)
        renderer = _BatchRenderer(plan, compositor, job.start)
        pending: list[tuple[SourceFrame, FrameRecord, bool]] = []
        for source in frames:
            if not source.in_range:
                item = (source, FrameRecord(source.index), False)
            else:
                i = source.index - job.start
                obs = self._obs.get(source.index)
                record = FrameRecord(source.index, face_found=bool(plan["found"][i]),
                                     confidence=None if obs is None else float(obs.confidence))
                if obs is not None:
                    record.warnings.extend(obs.warnings)
                    record.rejected_face = obs.rejected or None
                if not plan["found"][i]:
                    record.warnings.append(NO_FACE)
                item = (source, record, bool(plan["found"][i]))
            if item[2]:
                pending.append(item)
                if len(pending) < BATCH_SIZE:
                    continue
            # A batch is full, or a frame passes through: everything before it goes out first, in order,
            # so memory holds at most one batch whatever the length of a faceless stretch.
            check_cancelled(is_cancelled, f"rendering frame {source.index}")
            yield from renderer.flush(pending)
            pending = []
            if not item[2]:
                yield RenderedFrame(source.index, source.in_range, source.frame, item[1])
        yield from renderer.flush(pending)
        self._report["render_batches"] = renderer.batches
        self._report["generate_s"] = round(renderer.seconds, 3)

    def report(self) -> dict[str, Any]:
        return self._report


class _BatchRenderer:
    """Generates the mouths of a batch of frames at once, then pastes and yields them in order."""

    def __init__(self, plan: dict[str, Any], compositor: Any, start: int) -> None:
        from mytalk.core.engines.mytalk.landmarks import CropGeometry, ellipse_mask
        from mytalk.core.engines.mytalk.rasterize import rasterize_batch

        self.plan = plan
        self.compositor = compositor
        self.start = start
        models = plan["models"]
        cfg = models.appearance
        self.generator = models.generator
        self.device = plan["device"]
        self.geometry = CropGeometry(cfg.crop_box, cfg.image_size)
        self.mask = ellipse_mask(self.geometry, cfg.mask_center, cfg.mask_radii, cfg.mask_feather)
        bank = plan["bank"]
        self.bank_crops = torch.from_numpy(bank.crops).permute(0, 3, 1, 2).float() / 255.0
        self.bank_sketches = torch.from_numpy(rasterize_batch(bank.points, self.geometry))
        self.batches = 0
        self.seconds = 0.0

    @torch.no_grad()
    def generate(self, indices: list[int], crops: np.ndarray) -> np.ndarray:
        """Mouth-region crops (B, S, S, 3) float32 for range frames `indices` given their source crops."""
        from mytalk.core.engines.mytalk.rasterize import rasterize_batch

        began = time.perf_counter()
        choice = self.plan["choice"][indices]
        frame = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        mask = torch.from_numpy(self.mask)[None, None]
        sketch = torch.from_numpy(rasterize_batch(self.plan["target"][indices], self.geometry))
        refs = self.bank_crops[torch.from_numpy(choice)]
        ref_sketches = self.bank_sketches[torch.from_numpy(choice)]
        dev = self.device
        out = self.generator((frame * (1 - mask)).to(dev), mask.to(dev), sketch.to(dev), refs.to(dev), ref_sketches.to(dev))
        self.batches += 1
        self.seconds += time.perf_counter() - began
        return out.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()

    def flush(self, pending: list[tuple[SourceFrame, FrameRecord, bool]]) -> Iterator[RenderedFrame]:
        from mytalk.core.engines.mytalk.dataset import crop_frame

        todo = [(k, p[0].index - self.start) for k, p in enumerate(pending) if p[2]]
        results: dict[int, np.ndarray] = {}
        if todo:
            transforms = self.plan["transforms"]
            crops = np.stack([crop_frame(pending[k][0].frame, transforms[i], self.geometry) for k, i in todo])
            out = self.generate([i for _, i in todo], crops)
            results = {k: out[j] for j, (k, _) in enumerate(todo)}
        for k, (source, record, generate) in enumerate(pending):
            if not generate:
                yield RenderedFrame(source.index, source.in_range, source.frame, record)
                continue
            frame = self.paste(source.frame, source.index - self.start, results[k], record)
            yield RenderedFrame(source.index, True, frame, record)

    def paste(self, frame: av.VideoFrame, i: int, crop: np.ndarray, record: FrameRecord) -> av.VideoFrame:
        """Warp the generated crop back onto the frame and composite it; fills the record's box and count."""
        from mytalk.core.composite.masks import edit_mask
        from mytalk.core.composite.planes import read_rgb

        size = (frame.width, frame.height)
        src = self.plan["landmarks"][i][:, :2]
        tgt = self.plan["pixel_targets"][i]
        mode = self.compositor.mode
        mask = edit_mask(src, tgt, size, mode)
        if mask.is_empty:
            return frame
        x0, y0, x1, y1 = mask.box
        bg = read_rgb(frame, mask.box)
        to_crop = self.geometry.frame_to_crop(self.plan["transforms"][i]).copy()
        to_crop[:, 2] += to_crop[:, :2] @ np.array([x0, y0], np.float64)  # box-local pixel → crop pixel
        w, h = x1 - x0, y1 - y0
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        generated = cv2.warpAffine(crop, to_crop, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(self.mask, to_crop, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        # Outside the generator's own ellipse the box keeps the source's exact pixels.
        blended = bg + inside[..., None] * (generated - bg)
        result = self.compositor.composite(frame, blended, mask)
        if result.changed_support is not None:
            record.mask_box = result.mask_box
            record.changed_pixels = result.changed_pixels
        return result.frame
