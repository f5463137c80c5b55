"""Is the mouth in sync with the sound? The aperture against the sound's envelope, frame by frame.

The evaluation suite measures every tool's output with these (`benchmarks/eval`, defined in
`../shared/docs/evaluation.md`), and a batch's QC report measures MyTalk's own output with the very
same functions, so a shot flagged in the report is flagged by the figure the evaluation trusts.
Units: aperture is the inner-lip gap ÷ inter-ocular distance, (T,), NaN without a face; audio is
mono float at `rate` Hz, sample 0 at frame 0; lags are frames, positive when the sound comes after
the mouth movement it goes with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.signal import butter, sosfiltfilt

MAX_LAG_FRAMES = 15
"""Search ±15 frames: wide enough for real footage (up to +10 on the shared clips) plus a 0.4 s shift."""

ENVELOPE_BAND_HZ = (1000.0, 4000.0)
"""The 1-4 kHz band (consonant bursts and formant energy) gives a much cleaner AV peak than raw RMS."""

ENVELOPE_RANGE_DB = 60.0
"""The log envelope is floored 60 dB under its loudest frame, so digital silence is not -inf."""

SILENCE_DROP_DB = 30.0
"""A frame is silent when its loudness is 30 dB or more under the line's speech level (95th pct)."""

SILENCE_MIN_RUN = 5
"""Only pauses of ≥ 5 frames (200 ms at 25 fps) count: inside shorter gaps the mouth need not close."""

CLOSED_APERTURE = 0.06
"""Inner-lip gap under 0.06 IOD counts as closed. Measured on the shared clips: lips at rest read
0.00-0.04, the opening of a spoken syllable 0.10-0.45."""


def _frame_rms(samples: np.ndarray, rate: int, fps: Fraction, num_frames: int) -> np.ndarray:
    """RMS of each frame's own samples [t/fps, (t+1)/fps): (num_frames,), 0 past the end."""
    bounds = np.array([(t * rate * fps.denominator) // fps.numerator for t in range(num_frames + 1)], np.int64)
    padded = np.zeros(max(int(bounds[-1]), samples.size) + 1, np.float64)
    padded[: samples.size] = samples
    energy = np.concatenate([[0.0], np.cumsum(padded**2)])
    counts = np.maximum(bounds[1:] - bounds[:-1], 1)
    return np.sqrt(np.maximum(energy[bounds[1:]] - energy[bounds[:-1]], 0.0) / counts)


def audio_envelope(
    samples: np.ndarray,
    rate: int,
    fps: Fraction,
    num_frames: int,
    band: tuple[float, float] | None = ENVELOPE_BAND_HZ,
) -> np.ndarray:
    """Per-frame log RMS (natural log) of the audio, band-passed to `band` Hz first.

    The band-pass is a 4th-order Butterworth run forwards and backwards (zero phase): a causal
    filter would delay the envelope by a few ms and bias every lag. Shape (num_frames,).
    """
    x = np.asarray(samples, np.float64)
    if band is not None and x.size > 64:
        high = min(band[1], 0.45 * rate)
        sos = butter(4, (band[0], high), btype="bandpass", fs=rate, output="sos")
        x = sosfiltfilt(sos, x)
    rms = _frame_rms(x, rate, fps, num_frames)
    peak = float(rms.max()) if rms.size else 0.0
    floor = max(peak, 1e-9) * 10 ** (-ENVELOPE_RANGE_DB / 20)
    return np.log(rms + floor)


def loudness_db(samples: np.ndarray, rate: int, fps: Fraction, num_frames: int) -> np.ndarray:
    """Per-frame broadband RMS in dBFS, floored at -120 dB: (num_frames,)."""
    rms = _frame_rms(np.asarray(samples, np.float64), rate, fps, num_frames)
    return 20 * np.log10(np.maximum(rms, 1e-6))


def silent_frames(level_db: np.ndarray, drop_db: float = SILENCE_DROP_DB, min_run: int = SILENCE_MIN_RUN) -> np.ndarray:
    """Frames inside pauses of the line: bool (T,).

    A pause is a run of ≥ `min_run` frames whose level is `drop_db` under the speech level (the
    95th percentile). The run's first and last frame are dropped: the mouth is still closing or
    already opening there.
    """
    if level_db.size == 0:
        return np.zeros(0, bool)
    quiet = level_db < np.percentile(level_db, 95) - drop_db
    out = np.zeros_like(quiet)
    for start, end in true_runs(quiet):
        if end - start >= min_run:
            out[start + 1 : end - 1] = True
    return out


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True in a 1-D bool array, in order."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


# --- AV lag -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AvSync:
    """Where aperture and audio envelope line up best.

    lag: frames the sound comes after the mouth at the correlation peak (None: too few frames).
    peak: Pearson correlation at that lag, the sync confidence.
    curve: correlation at every lag from -max_lag to +max_lag (NaN where too few frames overlap).
    frames: frames with a face that took part.
    """

    lag: int | None
    peak: float | None
    curve: list[float] = field(default_factory=list)
    frames: int = 0

    @property
    def at_edge(self) -> bool:
        """The best lag is the first or last searched: the true peak may lie outside the search."""
        return self.lag is not None and abs(self.lag) == (len(self.curve) - 1) // 2

    def to_dict(self) -> dict[str, object]:
        return {
            "lag": self.lag,
            "at_search_edge": self.at_edge,
            "peak": None if self.peak is None else round(self.peak, 4),
            "frames": self.frames,
            "curve": [None if not math.isfinite(c) else round(c, 4) for c in self.curve],
        }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def av_lag(aperture: np.ndarray, envelope: np.ndarray, max_lag: int = MAX_LAG_FRAMES, min_overlap: float = 0.5) -> AvSync:
    """Cross-correlate the aperture with the audio envelope over lags of ±`max_lag` frames.

    At lag k the pairs are (aperture[t], envelope[t + k]); frames without a face are left out.
    Each lag's correlation is a Pearson coefficient over its own overlap, so edge frames do not
    bias it. Lags whose overlap is under `min_overlap` of the valid frames (or under 10) are NaN.
    """
    ap = np.asarray(aperture, np.float64)
    env = np.asarray(envelope, np.float64)
    n = min(ap.size, env.size)
    ap, env = ap[:n], env[:n]
    valid = np.isfinite(ap) & np.isfinite(env)
    count = int(valid.sum())
    need = max(10, int(min_overlap * count))
    curve: list[float] = []
    for k in range(-max_lag, max_lag + 1):
        lo, hi = max(0, -k), min(n, n - k)
        if hi - lo <= 0:
            curve.append(float("nan"))
            continue
        a, e = ap[lo:hi], env[lo + k : hi + k]
        ok = np.isfinite(a) & np.isfinite(e)
        curve.append(pearson(a[ok], e[ok]) if ok.sum() >= need else float("nan"))
    values = np.array(curve)
    if not np.isfinite(values).any():
        return AvSync(None, None, curve, count)
    best = int(np.nanargmax(values))
    return AvSync(best - max_lag, float(values[best]), curve, count)


def closed_share(aperture: np.ndarray, silent: np.ndarray, threshold: float = CLOSED_APERTURE) -> float | None:
    """Share of silent frames (with a face) whose mouth is closed; None without silent frames."""
    ap = np.asarray(aperture, np.float64)
    n = min(ap.size, silent.size)
    ok = silent[:n] & np.isfinite(ap[:n])
    if not ok.any():
        return None
    return float((ap[:n][ok] < threshold).mean())
