"""Speech → one audio token per video frame: 80-band log-mel from `torch.stft`, then a 1-D conv encoder.

Timing follows `mytalk.core.audio.features` (the house convention): audio sample 0 is the start of
video frame 0; mel frame k is centred on k / 80 s; video frame n is shown over [n/fps, (n+1)/fps)
and its token is the encoder output averaged over `subsamples` points spread across that interval
(the anti-aliasing a decimation from 80 Hz to 22-30 fps needs). `fps` is a Fraction and is never
rounded, so 22.13 fps clips and 29.97 fps dubs land on the right frames.

The mel bank is the one of `features.mel_filterbank` (55-7600 Hz, Slaney-normalised, per-Hz power),
so a 16 kHz production track and a 48 kHz dub give the same features after resampling to 16 kHz.
Each window is normalised by its own per-band mean and overall spread (cepstral mean and variance
normalisation) before the network sees it: level and microphone colour drop out, and a window
cut at training time is normalised exactly as the same window at inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from torch import nn

from mytalk.core.audio.features import (
    DYNAMIC_RANGE,
    FMAX_HZ,
    FMIN_HZ,
    HOP_S,
    LOG_FLOOR,
    WIN_S,
    mel_filterbank,
)

MEL_RATE = 80.0
"""Mel frames per second (hop 12.5 ms, IP_LAP / Wav2Lip)."""


class LogMel(nn.Module):
    """Log10 mel power, (B, N) samples at `sample_rate` → (B, M, 80), M = N // hop + 1.

    No trainable parameters; the window and filterbank are non-persistent buffers rebuilt from the
    constructor arguments, so they are never stored in (or loaded from) a checkpoint.
    """

    filterbank: torch.Tensor
    window: torch.Tensor

    def __init__(self, sample_rate: int = 16_000, n_mels: int = 80) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.hop = max(1, int(round(HOP_S * sample_rate)))
        self.win = max(2, int(round(WIN_S * sample_rate)))
        # At least 64 ms of FFT so the narrow low mel bands each catch a few bins (as features.log_mel).
        self.n_fft = int(2 ** math.ceil(math.log2(max(self.win, 0.064 * sample_rate))))
        bank = mel_filterbank(sample_rate, self.n_fft, n_mels, FMIN_HZ, FMAX_HZ)
        self.register_buffer("filterbank", torch.from_numpy(bank.astype(np.float32)), persistent=False)
        # Hann without zero end points, as features.log_mel, zero-padded at the end to n_fft: the
        # window then starts at k * hop of the padded signal and is centred on original sample k * hop.
        hann = np.hanning(self.win + 2)[1:-1]
        self.register_buffer("window", torch.from_numpy(hann.astype(np.float32)), persistent=False)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        x = samples.float()
        if x.dim() == 1:
            x = x[None]
        n = x.shape[-1]
        frames = n // self.hop + 1
        pad = self.win // 2
        # Reflect-pad like librosa center=True, then zero-pad so every frame has a full FFT frame.
        if n > pad:
            x = nn.functional.pad(x[:, None], (pad, pad + self.hop), mode="reflect")[:, 0]
        else:
            x = nn.functional.pad(x, (pad, pad + self.hop))
        need = (frames - 1) * self.hop + self.n_fft
        if x.shape[-1] < need:
            x = nn.functional.pad(x, (0, need - x.shape[-1]))
        window = nn.functional.pad(self.window, (0, self.n_fft - self.win))
        spec = torch.stft(x, self.n_fft, hop_length=self.hop, win_length=self.n_fft, window=window,
                          center=False, return_complex=True)
        power = spec.real.square() + spec.imag.square()
        # Power per Hz of window energy, as features.log_mel, so levels do not depend on n_fft.
        power = power / (self.window.square().sum() * self.sample_rate)
        mel = torch.einsum("mf,bft->btm", self.filterbank, power[:, :, :frames])
        logmel = torch.log10(mel.clamp_min(LOG_FLOOR))
        top = logmel.amax(dim=(1, 2), keepdim=True)
        return torch.maximum(logmel, top - DYNAMIC_RANGE)


@dataclass(frozen=True)
class AudioWindow:
    """Normalised mel of one window and where its video frames sample it.

    mel: float32 (M, 80), CMVN-normalised. positions: float32 (T, S) mel-frame positions (fractional)
    of the S sub-samples of each of the T video frames, relative to `mel`'s first row.
    """

    mel: np.ndarray
    positions: np.ndarray


def frame_positions(fps: Fraction, start: int, length: int, subsamples: int) -> np.ndarray:
    """Mel-frame positions (T, S) of frames [start, start + length), sub-sampled over each frame's interval."""
    offsets = (np.arange(subsamples) + 0.5) / subsamples
    frames = start + np.arange(length)[:, None] + offsets[None, :]
    return (frames * (float(MEL_RATE) / float(Fraction(fps)))).astype(np.float64)


def normalise_mel(mel: np.ndarray) -> np.ndarray:
    """Per-band mean removed, divided by the overall standard deviation (CMVN over one window)."""
    m = np.asarray(mel, np.float64)
    centred = m - m.mean(axis=0, keepdims=True)
    return (centred / max(float(centred.std()), 1e-3)).astype(np.float32)


def audio_window(mel: np.ndarray, fps: Fraction, start: int, length: int, margin_s: float,
                 subsamples: int) -> AudioWindow:
    """Cut the mel (M_all, 80) of a whole clip or line around frames [start, start + length).

    The cut spans the frames plus `margin_s` seconds either side (clamped to the mel), and is
    normalised on its own: training windows and inference chunks are therefore treated alike.
    """
    pos = frame_positions(fps, start, length, subsamples)
    margin = margin_s * MEL_RATE
    lo = max(int(math.floor(pos.min() - margin)), 0)
    hi = min(int(math.ceil(pos.max() + margin)) + 1, mel.shape[0])
    if hi - lo < 2:
        lo, hi = max(mel.shape[0] - 2, 0), mel.shape[0]
    return AudioWindow(normalise_mel(mel[lo:hi]), (pos - lo).astype(np.float32))


def collate_windows(windows: list[AudioWindow]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack windows of different mel lengths: zero-padded mel (B, M, 80) and positions (B, T, S)."""
    longest = max(w.mel.shape[0] for w in windows)
    mel = np.zeros((len(windows), longest, windows[0].mel.shape[1]), np.float32)
    for i, w in enumerate(windows):
        mel[i, : w.mel.shape[0]] = w.mel
    pos = np.stack([w.positions for w in windows])
    return torch.from_numpy(mel), torch.from_numpy(pos)


class AudioEncoder(nn.Module):
    """Normalised mel (B, M, 80) + frame positions (B, T, S) → audio tokens (B, T, dim).

    A stack of `layers` 1-D convolutions (kernel `kernel`, GELU) over the 80 Hz mel frames, then
    linear interpolation at each frame's sub-sample positions, averaged over the S sub-samples.
    The receptive field (layers × (kernel - 1) + 1 mel frames, 113 ms for 2 × 5) is local: the
    denoiser's attention supplies the longer context.
    """

    def __init__(self, n_mels: int = 80, dim: int = 64, layers: int = 2, kernel: int = 5) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = n_mels
        for _ in range(layers):
            blocks += [nn.Conv1d(width, dim, kernel, padding=kernel // 2), nn.GELU()]
            width = dim
        self.convs = nn.Sequential(*blocks)
        self.out = nn.Linear(dim, dim)

    def forward(self, mel: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        feats = self.convs(mel.transpose(1, 2))  # (B, D, M)
        b, d, m = feats.shape
        t, s = positions.shape[1], positions.shape[2]
        pos = positions.reshape(b, t * s).clamp(0, m - 1)
        lo = pos.floor().long().clamp(0, m - 1)
        hi = (lo + 1).clamp(max=m - 1)
        frac = (pos - lo.float()).unsqueeze(1)
        gathered_lo = feats.gather(2, lo.unsqueeze(1).expand(b, d, t * s))
        gathered_hi = feats.gather(2, hi.unsqueeze(1).expand(b, d, t * s))
        sampled = gathered_lo * (1 - frac) + gathered_hi * frac  # (B, D, T*S)
        tokens = sampled.reshape(b, d, t, s).mean(dim=3).transpose(1, 2)
        return self.out(tokens)
