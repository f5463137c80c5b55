"""Speech features on the source's own frame times: log-mel, stacked context, cepstra, speaker CMVN.

Timing conventions (every function here follows them):

- audio sample 0 is the start of video frame 0, so ``track`` must already be placed on the range
  (`mytalk.core.media.place_line`);
- video frame ``n`` is displayed over [n/fps, (n+1)/fps) seconds, and its features describe that
  whole interval: the mel frames are averaged over it (4 sub-samples per frame), which is also the
  anti-aliasing a decimation from 80 frames/s to 22-30 frames/s needs. Sampling at the frame's
  start instead would make every feature half a frame early;
- ``fps`` is a `Fraction` (1350/61, 30000/1001, ...) and is never rounded: frame times are
  computed from it in float64, which is exact to well under a microsecond over hours;
- past the end of the audio the features are those of digital silence (the log floor), because a
  line placed on a longer range is padded with zeros.

Mel frames are centred (frame k of `log_mel` is centred on k * hop_s seconds), with reflected
padding at the edges, like librosa's ``center=True``.

The mel bank spans 55-7600 Hz whatever the sample rate, so a 44.1 kHz dub and a 16 kHz production
track give the same features (up to the resampler's roll-off), and the power is normalised per Hz
so the level does not depend on the FFT size either.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Not scipy.fft: importing it costs about 0.3 s of every job. numpy's rfft runs the same pocketfft
# plan (same values), and `dct2_ortho` is pocketfft's DCT-II around it; the tests compare both.
from mytalk.core.audio.dct import dct2_ortho
from mytalk.core.media.audio import AudioTrack

N_MELS = 80
HOP_S = 1 / 80
"""80 mel frames per second (IP_LAP, Wav2Lip): fine enough for a one-frame b/p/m closure at 30 fps."""

WIN_S = 0.025
FMIN_HZ = 55.0
FMAX_HZ = 7600.0
"""The band that both 16 kHz and 44.1/48 kHz recordings carry, so features agree across rates."""

LOG_FLOOR = 1e-10
"""Absolute power floor (about -100 dB re full scale) so digital silence is finite."""

DYNAMIC_RANGE = 8.0
"""Log10 units (80 dB) kept under the loudest mel value; quieter cells are clamped there, so
reverb tails and dither noise do not dominate the feature variance."""

SUBSAMPLES = 4
"""Mel samples averaged per video frame: at 80 mel frames/s and <= 30 fps, 4 samples per frame
are at least one per mel hop, so no mel frame falls between two samples."""

N_CEPS = 13
"""Cepstral coefficients kept for alignment (c0..c12); c0 is the frame's log energy."""

C0_WEIGHT = 0.5
"""c0 (loudness) after speaker normalisation is scaled down: it separates speech from pause well,
but loudness also changes with the microphone and the take, which says nothing about the words."""


def _mel_scale(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_inverse(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(rate: int, n_fft: int, n_mels: int = N_MELS, fmin: float = FMIN_HZ, fmax: float = FMAX_HZ) -> np.ndarray:
    """Triangular HTK-scale mel filters, shape (n_mels, n_fft // 2 + 1).

    Each row integrates power density over its band (weights in Hz), so mel energies are
    comparable between sample rates and FFT sizes.
    """
    fmax = min(fmax, rate / 2)
    lowest, highest = _mel_scale(np.array([fmin, fmax], np.float64))
    edges = _mel_inverse(np.linspace(lowest, highest, n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    tri = np.maximum(0.0, np.minimum(rising, falling))
    # Slaney area normalisation: a flat spectrum gives the same value in every band.
    tri *= 2.0 / (upper - lower)
    return tri * (rate / n_fft)


def _n_fft(rate: int, win: int) -> int:
    # At least 64 ms of FFT (zero-padded): the lowest mel bands are ~40 Hz wide and must each
    # catch a few bins at every sample rate.
    return int(2 ** np.ceil(np.log2(max(win, 0.064 * rate))))


def log_mel(
    samples: np.ndarray,
    rate: int,
    *,
    n_mels: int = N_MELS,
    hop_s: float = HOP_S,
    win_s: float = WIN_S,
) -> np.ndarray:
    """Log10 mel power of mono audio: shape (T_mel, n_mels), T_mel = floor(n / hop) + 1.

    ``samples``: (n,) float audio at ``rate`` Hz, full scale 1.0. Frame k is centred on
    k * hop_s seconds (Hann window of win_s seconds). Values are log10 of power per band,
    floored at 1e-10 and at 8 decades under the loudest cell.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    hop = max(1, int(round(hop_s * rate)))
    win = max(2, int(round(win_s * rate)))
    n_fft = _n_fft(rate, win)
    n_frames = x.size // hop + 1
    pad = win // 2
    if x.size > pad:
        padded = np.pad(x, (pad, pad + hop), mode="reflect")
    else:
        padded = np.pad(x, (pad, pad + hop))
    # Make sure every frame has a full window even where the reflect padding ran short.
    need = (n_frames - 1) * hop + win
    if padded.size < need:
        padded = np.pad(padded, (0, need - padded.size))
    frames = sliding_window_view(padded, win)[: (n_frames - 1) * hop + 1 : hop]
    window = np.hanning(win + 2)[1:-1]  # periodic-ish Hann without zero end points
    spectrum = np.fft.rfft(frames * window, n=n_fft, axis=1)
    # Power density per Hz: |X|^2 / (rate * sum(w^2)), so the level is independent of win and rate.
    power = (spectrum.real**2 + spectrum.imag**2) / (rate * float(np.sum(window**2)))
    mel = power @ mel_filterbank(rate, n_fft, n_mels).T
    logmel = np.log10(np.maximum(mel, LOG_FLOOR))
    return np.maximum(logmel, logmel.max(initial=np.log10(LOG_FLOOR)) - DYNAMIC_RANGE).astype(np.float32)


def frame_times(fps: Fraction, num_frames: int, subsamples: int = 1) -> np.ndarray:
    """Sample times (s) inside each video frame: shape (num_frames, subsamples).

    Sub-sample s of frame n sits at (n + (s + 0.5) / subsamples) / fps, so with one sub-sample it is
    the frame's centre (n + 0.5) / fps.
    """
    fps = Fraction(fps)
    offsets = (np.arange(subsamples) + 0.5) / subsamples
    return (np.arange(num_frames)[:, None] + offsets[None, :]) * (fps.denominator / fps.numerator)


def resample_to_frames(
    values: np.ndarray, hop_s: float, fps: Fraction, num_frames: int, *, fill: np.ndarray | float | None = None
) -> np.ndarray:
    """Average a regularly sampled sequence over each video frame's interval.

    ``values``: (T, ...) sampled at k * hop_s seconds. Returns (num_frames, ...): the mean of 4
    linearly interpolated samples inside [n/fps, (n+1)/fps). Times past the last value take
    ``fill`` (default: the last value).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] == 0:
        raise ValueError("cannot resample an empty feature sequence")
    times = frame_times(fps, num_frames, SUBSAMPLES).reshape(-1) / hop_s
    lo = np.clip(np.floor(times).astype(np.int64), 0, values.shape[0] - 1)
    hi = np.minimum(lo + 1, values.shape[0] - 1)
    w = np.clip(times - lo, 0.0, 1.0).reshape((-1,) + (1,) * (values.ndim - 1))
    sampled = (1 - w) * values[lo] + w * values[hi]
    if fill is not None:
        past = times > values.shape[0] - 1
        sampled[past] = fill
    return sampled.reshape((num_frames, SUBSAMPLES) + values.shape[1:]).mean(axis=1)


def _check_frames(fps: Fraction, num_frames: int) -> Fraction:
    fps = Fraction(fps)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if num_frames < 0:
        raise ValueError(f"num_frames must be 0 or more, got {num_frames}")
    return fps


def mel_per_frame(track: AudioTrack, fps: Fraction, num_frames: int, *, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel averaged over each video frame's interval: (num_frames, n_mels) float32."""
    fps = _check_frames(fps, num_frames)
    mono = track.mono().samples[0]
    mel = log_mel(mono, track.rate, n_mels=n_mels)
    # What digital silence gives in log_mel: the absolute floor, or the dynamic-range clamp.
    silence = max(float(np.log10(LOG_FLOOR)), float(mel.max()) - DYNAMIC_RANGE)
    return resample_to_frames(mel, HOP_S, fps, num_frames, fill=silence).astype(np.float32)


def stack_context(features: np.ndarray, context: int) -> np.ndarray:
    """Stack each frame with its ``context`` neighbours on each side: (T, D) -> (T, (2c+1) * D).

    The block order is frame n-c, ..., n, ..., n+c; neighbours past either end repeat the edge
    frame (a range has no audio outside itself to look at).
    """
    features = np.asarray(features)
    t = features.shape[0]
    if context <= 0 or t == 0:
        return features.reshape(t, -1)
    index = np.clip(np.arange(t)[:, None] + np.arange(-context, context + 1)[None, :], 0, t - 1)
    return features[index].reshape(t, -1)


def frame_features(track: AudioTrack, fps: Fraction, num_frames: int, *, context: int = 2) -> np.ndarray:
    """Per-video-frame speech features for the speech driver: (num_frames, (2 * context + 1) * 80).

    Row n is the log-mel averaged over frame n's interval [n/fps, (n+1)/fps), followed by its
    neighbours, in the order n-context .. n+context (block of 80 mel bins each). With the default
    context of 2, each frame sees 5 frames (200 ms at 25 fps), enough for coarticulation: the
    mouth shapes for a vowel before the vowel's sound starts. Units: log10 power per band; run
    `SpeakerNormaliser` before comparing speakers.
    """
    return stack_context(mel_per_frame(track, fps, num_frames), context).astype(np.float32)


def cepstra(logmel: np.ndarray, n_ceps: int = N_CEPS) -> np.ndarray:
    """DCT-II (orthonormal) of log-mel rows: (T, n_mels) -> (T, n_ceps), c0 first."""
    return dct2_ortho(np.asarray(logmel, np.float64))[..., :n_ceps]


def alignment_features(
    track: AudioTrack,
    fps: Fraction,
    num_frames: int,
    *,
    voiced: np.ndarray | None = None,
    n_ceps: int = N_CEPS,
) -> np.ndarray:
    """MFCC-like features for DTW between a line and its guide: (num_frames, 2 * n_ceps) float32.

    Columns: c0..c{n_ceps-1} of the per-frame log-mel, then their deltas (frame n+1 minus n-1,
    halved). Each column is mean/variance normalised over this track (over ``voiced`` frames when
    given, so a line with long pauses is not normalised towards silence), and c0 is then scaled
    by 0.5 since level differences between takes say nothing about the words.
    """
    mel = mel_per_frame(track, fps, num_frames)
    ceps = cepstra(mel, n_ceps)
    padded = np.pad(ceps, ((1, 1), (0, 0)), mode="edge")
    delta = 0.5 * (padded[2:] - padded[:-2])
    feats = np.concatenate([ceps, delta], axis=1)
    norm = SpeakerNormaliser().fit(feats, voiced)
    out = norm.transform(feats)
    out[:, 0] *= C0_WEIGHT
    out[:, n_ceps] *= C0_WEIGHT
    return out.astype(np.float32)


@dataclass
class SpeakerNormaliser:
    """Per-speaker (per-utterance) mean and variance normalisation of features, fitted on voiced frames.

    A dub voice differs from the actor's in pitch, vocal tract length, microphone and level; most
    of that is a per-dimension offset and scale of the log-mel, which this removes. Fitting on
    voiced frames only matters: the share of pauses differs between lines, and silence would
    otherwise pull the mean down by a different amount for each. ``mean`` and ``std`` have shape
    (D,) once fitted.
    """

    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    min_frames: int = 10
    """Fewer voiced frames than this: fit on all frames instead (a one-word line still works)."""
    min_std: float = 1e-3
    """Floor on std (feature units), so a constant column (e.g. digital silence) stays finite."""

    def fit(self, features: np.ndarray, voiced_mask: np.ndarray | None = None) -> SpeakerNormaliser:
        """Fit on ``features`` (T, D), using rows where ``voiced_mask`` (T,) bool is set; returns self."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"features must have shape (T, D) with T > 0, got {features.shape}")
        rows = features
        if voiced_mask is not None:
            mask = np.asarray(voiced_mask, dtype=bool).reshape(-1)
            if mask.shape[0] != features.shape[0]:
                raise ValueError(f"voiced_mask has {mask.shape[0]} frames, features have {features.shape[0]}")
            if int(mask.sum()) >= self.min_frames:
                rows = features[mask]
        self.mean = rows.mean(axis=0)
        self.std = np.maximum(rows.std(axis=0), self.min_std)
        return self

    @property
    def fitted(self) -> bool:
        return self.mean is not None and self.std is not None

    def transform(self, features: np.ndarray) -> np.ndarray:
        """(features - mean) / std, shape kept (T, D), float32."""
        if self.mean is None or self.std is None:
            raise RuntimeError("SpeakerNormaliser.transform called before fit")
        features = np.asarray(features, dtype=np.float64)
        if features.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"features have {features.shape[-1]} columns, the normaliser was fitted on {self.mean.shape[0]}")
        return ((features - self.mean) / self.std).astype(np.float32)

    def fit_transform(self, features: np.ndarray, voiced_mask: np.ndarray | None = None) -> np.ndarray:
        return self.fit(features, voiced_mask).transform(features)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to store in an actor profile (safetensors-friendly)."""
        if self.mean is None or self.std is None:
            raise RuntimeError("SpeakerNormaliser.state called before fit")
        return {"mean": self.mean.astype(np.float32), "std": self.std.astype(np.float32)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> SpeakerNormaliser:
        return cls(mean=np.asarray(state["mean"], np.float64), std=np.asarray(state["std"], np.float64))
