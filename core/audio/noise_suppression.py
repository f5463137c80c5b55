"""A noisy line's sound cleaned before its phones are recognised: a Wiener filter for steady noise.

An editor's temp line is often recorded on a laptop or a phone, with a fan, an air conditioner or a room
tone under it. pocketsphinx's models were trained on clean speech, and its own noise removal does nothing
in version 5 (`remove_noise` is accepted, and the phones came out the same). Measured with
`benchmarks/bench_noisy_lines.py`: five shared English lines (20 s each) under pink noise, three seeds each,
against the clean line's own phones per frame (`benchmarks/results/noisy_lines_session34.json`):

| pink noise | lines filtered | visemes agreeing, speaking frames | lip closures found | openness r |
|---|---|---|---|---|
| 15 dB SNR | 6 of 15 | 0.674 -> 0.726 | 0.650 -> 0.677 | 0.798 -> 0.852 |
| 10 dB SNR | 15 of 15 | 0.599 -> 0.716 | 0.502 -> 0.628 | 0.769 -> 0.842 |
| 5 dB SNR | 15 of 15 | 0.299 -> 0.558 | 0.222 -> 0.512 | 0.598 -> 0.745 |

Of the 36 lines filtered, 34 agreed better and 2 worse (the worst by 0.24: word recognition is chaotic, and
a small change of its input can change every word). The filter and its measure took at most 0.048 s for a
20 s line (one run).

The filter is the classic one for steady noise: the noise spectrum is measured on the sound's quietest
frames (the pauses a line always has between its phrases), each short-time spectrum is scaled by the
Wiener gain of its a priori speech-to-noise ratio (Ephraim and Malah's decision-directed estimate, which
keeps the residual noise smooth rather than "musical"), and the gain never falls below `GAIN_FLOOR`, so
no part of the speech is ever taken out whole.

Only a sound whose noise is loud and steady is filtered (`NoiseMeasure.steady_noise`):
- a clean line's phones are those of its own samples, as before: recognition is so sensitive to its input
  that a first version of this filter changed 4-46 % of the five clean lines' visemes, with nothing to say
  it was for the better;
- other voices (babble) are not steady, and filtering them made the phones worse (in a first run that
  filtered 14 of the 15 at 10 dB: agreement 0.616 -> 0.586, openness r 0.685 -> 0.601), so a noise that
  varies as speech does is left alone. So is the shared noisy meeting file (variation 2.31).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NOISE_RULE = "wiener-1"
"""Names what `heard` does, for the caches that keep phones recognised from what it gave."""

NOISY_BELOW_DB = 18.0
"""A sound whose speech stands less than this above its noise floor (`NoiseMeasure.speech_to_noise_db`) is
noisy: the shared English sound measures 17.0 dB (the noisy meeting file), 20.1-43.2 dB (the rest)."""

STEADY_BELOW = 1.8
"""A noise whose `NoiseMeasure.variation` is under this is steady. Under the five shared English lines
(`bench_noisy_lines`, three seeds): pink noise at 5-15 dB SNR measured 1.00-1.90 (1.02-1.52 at 10 dB),
babble at 10 dB 2.91-3.89; the shared noisy meeting file measures 2.31."""

GAIN_FLOOR = 0.3
"""The least a frequency bin is kept (about -10 dB). Measured on the same lines and seeds at 10 dB in a first
try, with a noise estimate that differed a little: a floor of 0.1 agreed on 0.677 of the frames with an
openness r of 0.775, a floor of 0.3 on 0.706 and 0.831."""

SMOOTHING = 0.98
"""The decision-directed estimate's weight on the previous frame's clean speech (Ephraim and Malah's)."""

QUIET_SHARE = 0.2
"""The share of frames, the quietest, that the noise spectrum is measured on."""

LOUD_SHARE = 0.5
"""The share of frames, the loudest, that the speech level is measured on."""

DIGITAL_SILENCE = 1e-12
"""A frame whose power is under this share of the loudest frame's is digital silence, not noise (120 dB down;
16-bit dither is about 100 dB under a loud frame)."""

MIN_FRAMES = 20
"""Fewer frames with sound than this (0.16 s at 16 kHz) are not measured: the sound is taken as clean."""

FRAME_S = 0.032
"""Short-time frame (32 ms: 512 samples at 16 kHz), hopped by a quarter of it."""


def _frame_length(rate: int) -> int:
    return 1 << max(6, int(np.ceil(np.log2(FRAME_S * rate))))


def _spectra(samples: np.ndarray, rate: int, *, padded: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(short-time spectra (T, F) of `samples`, the Hann window, the hop). `padded`: a frame of zeros each
    side first, so that overlap-adding the frames back covers every sample; the level estimate reads the
    sound alone, so that the padding's quiet frames do not pass for noise."""
    n = _frame_length(rate)
    hop = n // 4
    window = np.hanning(n + 1)[:-1]
    x = np.asarray(samples, np.float64)
    if padded:
        x = np.concatenate([np.zeros(n), x, np.zeros(n)])
    count = 1 + (x.size - n) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop][:count]
    return np.fft.rfft(frames * window, axis=1), window, hop


def _sounding(energy: np.ndarray) -> np.ndarray:
    """Which frames hold sound: not digital silence (an edited line's hard-cut pauses, a file's padding),
    which is no measure of the noise under the speech."""
    return energy > energy.max() * DIGITAL_SILENCE


def _quiet(energy: np.ndarray) -> np.ndarray:
    """The quietest `QUIET_SHARE` of the frames that hold sound."""
    sounding = _sounding(energy)
    return sounding & (energy <= np.quantile(energy[sounding], QUIET_SHARE))


def _noise_spectrum(power: np.ndarray) -> np.ndarray:
    """Mean power per bin (F,) over the quietest frames (`_quiet`)."""
    return power[_quiet(power.sum(axis=1))].mean(axis=0) + 1e-12


@dataclass(frozen=True)
class NoiseMeasure:
    """How noisy a sound is, measured on its own frames.

    speech_to_noise_db: how far (dB) the loudest half of the frames stand above the quietest fifth: about
        the sound's signal-to-noise ratio when it has pauses. Frames of digital silence (an edited line's
        hard-cut pauses) are left out of both; inf for a sound with too few other frames to measure.
    variation: how much the quietest fifth's power varies from frame to frame in each frequency bin (the
        median over the bins of its standard deviation over its mean): about 1 for steady noise, whose
        short-time power is exponentially distributed, and 2-4 for voices and for speech itself.
    """

    speech_to_noise_db: float
    variation: float

    @property
    def steady_noise(self) -> bool:
        """Whether the sound is noisy (`NOISY_BELOW_DB`) and its noise steady (`STEADY_BELOW`): the noise
        this filter removes."""
        return self.speech_to_noise_db < NOISY_BELOW_DB and self.variation < STEADY_BELOW

    def to_dict(self) -> dict[str, float | bool | None]:
        """For a report: the two measures (None for an infinite level) and whether the sound was filtered."""
        level = self.speech_to_noise_db
        return {"speech_to_noise_db": round(level, 1) if math.isfinite(level) else None,
                "noise_variation": round(self.variation, 2) if math.isfinite(self.variation) else None,
                "noise_suppressed": self.steady_noise}

    def to_json(self) -> list[float]:
        return [self.speech_to_noise_db, self.variation]

    @classmethod
    def from_json(cls, data: object) -> NoiseMeasure | None:
        """The measure `to_json` wrote, or None for anything else."""
        if isinstance(data, list) and len(data) == 2 and all(isinstance(v, (int, float)) for v in data):
            return cls(float(data[0]), float(data[1]))
        return None


SILENT = NoiseMeasure(float("inf"), float("inf"))
"""The measure of a sound too short to measure, or of digital silence: never filtered."""


def measure_noise(samples: np.ndarray, rate: int) -> NoiseMeasure:
    """`NoiseMeasure` of mono `samples` (N,). Measured on the shared English sound (six lines, nine clips):
    levels of 17.0-43.2 dB; the five English lines under pink noise at 10 dB SNR: 12.3-15.3 dB with a
    variation of 1.02-1.52, and under babble at 10 dB: 14.7-19.6 dB, variation 2.91-3.89."""
    x = np.asarray(samples, np.float64)
    if x.size < _frame_length(rate) or not np.any(x):
        return SILENT
    spectra, _, _ = _spectra(x, rate, padded=False)
    power = np.abs(spectra) ** 2
    energy = power.sum(axis=1)
    sounding = _sounding(energy)
    if sounding.sum() < MIN_FRAMES:
        return SILENT
    quiet = _quiet(energy)
    floor = energy[quiet].mean()
    loud = energy[sounding & (energy >= np.quantile(energy[sounding], 1.0 - LOUD_SHARE))].mean()
    level = float(10.0 * np.log10(max(loud / floor - 1.0, 1e-6)))
    bins = power[quiet]
    mean = bins.mean(axis=0)
    used = mean > 0.0
    variation = float(np.median(bins[:, used].std(axis=0) / mean[used])) if used.any() else float("inf")
    return NoiseMeasure(level, variation)


def suppress_noise(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` (N,) with the steady noise under them suppressed (module docstring); float32, same length."""
    x = np.asarray(samples, np.float64)
    n = _frame_length(rate)
    if x.size < n or not np.any(x):
        return x.astype(np.float32)
    spectra, window, hop = _spectra(x, rate, padded=True)
    power = np.abs(spectra) ** 2
    noise = _noise_spectrum(power)
    posterior = power / noise
    gains = np.empty_like(power)
    previous_clean = np.ones(power.shape[1])  # the previous frame's clean speech over the noise: |G|^2 gamma
    for t in range(power.shape[0]):
        prior = SMOOTHING * previous_clean + (1.0 - SMOOTHING) * np.maximum(posterior[t] - 1.0, 0.0)
        gain = np.maximum(prior / (1.0 + prior), GAIN_FLOOR)
        gains[t] = gain
        previous_clean = gain * gain * posterior[t]
    frames = np.fft.irfft(spectra * gains, n=n, axis=1) * window
    out = np.zeros(x.size + 2 * n)
    norm = np.zeros(x.size + 2 * n)
    for t in range(frames.shape[0]):
        out[t * hop : t * hop + n] += frames[t]
        norm[t * hop : t * hop + n] += window * window
    return (out / np.maximum(norm, 1e-8))[n : n + x.size].astype(np.float32)


def heard(samples: np.ndarray, rate: int) -> tuple[np.ndarray, NoiseMeasure]:
    """(what the phone recogniser is given of mono `samples` (N,): the samples themselves, or suppressed when
    the sound's noise is steady and loud (`NoiseMeasure.steady_noise`); the sound's measure)."""
    measure = measure_noise(samples, rate)
    return (suppress_noise(samples, rate) if measure.steady_noise else samples), measure
