"""`SpeechToLandmarkPipeline`: stage 1 at inference, speech + context + identity → mouth and jaw landmarks.

Reads like the paper:

1. the speech becomes an 80-band log-mel (`LogMel`, torch.stft) and then audio tokens per frame
   (for a phone-fed model, plus the embedding of each frame's viseme coverage from the line's phones);
2. the actor's reference landmarks become identity tokens (the ID extractor);
3. the mouth and jaw points start as Gaussian noise (drawn from the caller's seeded generator),
   the rest of the face is the clean context of the frames being edited;
4. a few DDIM steps: the denoiser predicts x0, optionally guided on the audio
   (x0 = x0_uncond + s · (x0_cond − x0_uncond)), the scheduler steps to the next noise level;
5. the result is mapped back to canonical units; the context comes back bit-identical.

Lines longer than the model's window are cut into overlapping chunks of `window` frames that are
denoised together as one batch and cross-faded linearly over the overlaps. The initial noise is
drawn once for the whole line and sliced, so overlapping chunks start from the same noise.

Units: audio (N,) float at `model.config.sample_rate` Hz with sample 0 at the start of the first
frame; fps a Fraction; context (T, Nx, 2) and references (R, P, 2) canonical units (NaN rows for
frames without a face are interpolated from their neighbours); visemes (T, 11) the line's viseme
coverage per frame (`phones.frame_visemes`; only for a phone-fed model, None = unknown); output
(T, P, 2) canonical.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from mytalk.core.engines.mytalk.audio_encoder import LogMel, audio_window, collate_windows
from mytalk.core.engines.mytalk.landmarks import NUM_CONTENT, NUM_CONTEXT
from mytalk.core.engines.mytalk.motion import MotionModel
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler

MAX_STEPS = 20


@dataclass
class SpeechToLandmarkOutput:
    """landmarks: (T, P, 2) canonical, content generated, context as given. The rest: how it was made."""

    landmarks: np.ndarray
    num_inference_steps: int
    guidance_scale: float
    chunks: int


def fill_gaps(points: np.ndarray) -> np.ndarray:
    """(T, N, 2) with NaN frames → every frame finite, by linear interpolation in time (nearest at the ends)."""
    p = np.array(points, np.float64, copy=True)
    ok = np.isfinite(p).all(axis=(1, 2))
    if ok.all():
        return p
    if not ok.any():
        raise ValueError("no frame has a face: there is nothing to anchor the mouth to")
    t = np.arange(len(p))
    flat = p.reshape(len(p), -1)
    for j in range(flat.shape[1]):
        flat[~ok, j] = np.interp(t[~ok], t[ok], flat[ok, j])
    return flat.reshape(p.shape)


def chunk_starts(frames: int, window: int) -> list[int]:
    """Start frames of the chunks covering [0, frames) with a quarter-window overlap."""
    if frames <= window:
        return [0]
    hop = max(1, window - window // 4)
    starts = list(range(0, frames - window, hop))
    return starts + [frames - window]


def select_references(references: np.ndarray, count: int) -> np.ndarray:
    """At most `count` finite reference frames, evenly spaced through the given ones: (R, P, 2)."""
    r = np.asarray(references, np.float64)
    r = r[np.isfinite(r).all(axis=(1, 2))]
    if r.shape[0] == 0:
        raise ValueError("no reference frame with a face for the identity")
    if r.shape[0] > count:
        r = r[np.linspace(0, r.shape[0] - 1, count).round().astype(int)]
    return r


class SpeechToLandmarkPipeline:
    """Stage 1 inference: `pipeline(audio, fps=…, context=…, references=…, generator=…)`."""

    def __init__(self, model: MotionModel, scheduler: DDIMScheduler, device: torch.device | str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.scheduler = scheduler
        self.device = torch.device(device)
        self.log_mel = LogMel(model.config.sample_rate, model.config.n_mels).to(self.device)

    @torch.no_grad()
    def __call__(
        self,
        audio: np.ndarray,
        *,
        fps: Fraction,
        context: np.ndarray,
        references: np.ndarray,
        num_inference_steps: int = 10,
        guidance_scale: float = 1.0,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        visemes: np.ndarray | None = None,
    ) -> SpeechToLandmarkOutput:
        if not 1 <= num_inference_steps <= MAX_STEPS:
            raise ValueError(f"num_inference_steps must be 1..{MAX_STEPS}, got {num_inference_steps}")
        model, cfg = self.model, self.model.config
        ctx = fill_gaps(context)
        frames = ctx.shape[0]
        if ctx.shape[1:] != (NUM_CONTEXT, 2):
            raise ValueError(f"context must be (T, {NUM_CONTEXT}, 2), got {ctx.shape}")

        # 1. speech → log-mel → per-chunk normalised windows → audio tokens
        mel = self.log_mel(torch.as_tensor(np.asarray(audio, np.float32), device=self.device))[0].cpu().numpy()
        window = min(cfg.window, frames)
        starts = chunk_starts(frames, window)
        windows = [audio_window(mel, Fraction(fps), s, window, cfg.audio_margin_s, cfg.audio_subsamples) for s in starts]
        mel_b, pos_b = collate_windows(windows)
        phones_b = None
        if visemes is not None:
            v = np.asarray(visemes, np.float32)
            if v.shape[0] != frames:
                raise ValueError(f"visemes must have one row per frame ({frames}), got {v.shape}")
            phones_b = torch.from_numpy(np.stack([v[s : s + window] for s in starts])).to(self.device)
        audio_tokens = model.encode_audio(mel_b.to(self.device), pos_b.to(self.device), visemes=phones_b)
        b = len(starts)

        # 2. reference landmarks → identity tokens
        refs = torch.as_tensor(select_references(references, cfg.num_refs), dtype=torch.float32, device=self.device)
        full_refs = refs[None]
        id_tokens, _ = model.encode_identity(model.normalise(full_refs))
        id_tokens = id_tokens.expand(b, -1, -1)

        # 3. context (clean) and initial noise on the content points, one draw for the whole line
        mean, scale = model.shape_mean, model.shape_scale
        ctx_t = (torch.as_tensor(ctx, dtype=torch.float32, device=self.device) - mean[NUM_CONTENT:]) / scale
        context_b = torch.stack([ctx_t[s : s + window] for s in starts])
        noise = torch.randn((frames, NUM_CONTENT, 2), generator=generator, dtype=torch.float32).to(self.device)
        sample = torch.stack([noise[s : s + window] for s in starts])
        null = model.unconditional_audio(b, window) if guidance_scale != 1.0 else None

        # 4. a few deterministic DDIM steps, predicting x0
        self.scheduler.set_timesteps(num_inference_steps)
        x0 = sample
        for t in self.scheduler.timesteps.tolist():
            steps = torch.full((b,), t, dtype=torch.long, device=self.device)
            x0 = model.denoiser(sample, context_b, steps, audio_tokens, id_tokens)
            if null is not None:
                x0_uncond = model.denoiser(sample, context_b, steps, null, id_tokens)
                x0 = x0_uncond + guidance_scale * (x0 - x0_uncond)
            sample = self.scheduler.step(x0, t, sample, eta=eta, generator=generator).prev_sample

        # 5. back to canonical units; chunks cross-faded; context returned exactly as given
        content = (x0 * scale + mean[:NUM_CONTENT]).double().cpu().numpy()
        out = np.zeros((frames, NUM_CONTENT, 2))
        weight = np.zeros(frames)
        ramp = np.minimum(np.arange(1, window + 1), np.arange(window, 0, -1)).astype(np.float64)
        ramp = np.minimum(ramp / max(window // 4, 1), 1.0)
        for i, s in enumerate(starts):
            w = ramp if len(starts) > 1 else np.ones(window)
            out[s : s + window] += content[i] * w[:, None, None]
            weight[s : s + window] += w
        out /= weight[:, None, None]
        landmarks = np.concatenate([out, np.asarray(context, np.float64)], axis=1)
        return SpeechToLandmarkOutput(landmarks, num_inference_steps, guidance_scale, b)
