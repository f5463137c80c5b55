"""The speech driver: mouth shape from any line's audio, learned from the actor's reference footage.

What it learns, per actor (`SpeechModel.fit`, from a few seconds to minutes of footage):

- a low-dimensional mouth-shape space: a weighted PCA of the frontal lower-face shapes
  (`geometry.LOWER_FACE`, pose removed), lips weighted most, so the first components are jaw
  opening, lip spreading and rounding of *this* actor's mouth (identity is kept by construction);
- a ridge regression from speaker-normalised band energies with temporal context to those
  components. Band energies (8 log bands of the 55-7600 Hz mel spectrum) normalised per speaker
  (`SpeakerNormaliser`, fitted on each speaker's own voiced frames) carry the syllable rhythm and
  the vowel openness but little of the voice itself, so a dub actor, another language or another
  microphone land in the same feature space. Context (±`CONTEXT` frames) carries coarticulation;
- the audio-visual lag: lips usually move slightly before the sound (and some footage has its
  sound track offset by several frames). Mouth frame t is paired with audio frame t + lag, where
  lag is measured on the reference by cross-correlating the mouth aperture with the evaluation's
  1-4 kHz envelope; with too little footage to measure it reliably the prior `PRIOR_LAG` is used.

At prediction time the mouth is closed where the line is silent (soft voice-activity gate), the
lag is applied so the mouth is not late, and with a transcript the forced-aligned p/b/m frames
shut the lips. Measured limits (see the engine report): per-frame audio-to-shape prediction from
seconds of footage explains only part of the variance (cross-validated aperture correlation 0.3-0.55
on the shared clips), so motion is right in rhythm and openness, not in every lip detail.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from mytalk.core.audio.features import SpeakerNormaliser, mel_per_frame
from mytalk.core.engines.classic.geometry import LIPS_POS, aperture
from mytalk.core.media.audio import AudioSource, AudioTrack
from mytalk.core.ndfilters import gaussian_filter1d

NUM_BANDS = 8
"""Log-energy bands over the 80 mel bins: coarse enough to be voice-independent after normalisation."""

CONTEXT = 2
"""Frames of audio context on each side of the (lagged) frame: 5 frames, 200 ms at 25 fps."""

COMPONENTS = 3
"""Mouth-shape components predicted from audio: opening, spreading, rounding. More overfit seconds of data."""

RIDGE_PER_DIM = 10.0
"""Ridge strength per feature dimension on standardised features; chosen on the shift protocol of the
shared clips (weaker regularisation overfits a few seconds of reference and raises the error)."""

LAG_SEARCH = (-4, 10)
"""Lags searched (frames, sound after mouth is positive); real footage sits between -2 and +10."""

PRIOR_LAG = 0
"""Lag used when the reference cannot measure it (shorter than `MIN_LAG_SECONDS` or a weak peak)."""

MIN_LAG_SECONDS = 4.0
MIN_LAG_PEAK = 0.3
"""Below 4 s or a correlation peak of 0.3, speech rhythm makes side peaks 6-9 frames away
(evaluation.md), so the measured lag is not trusted."""

LIP_WEIGHT, OTHER_WEIGHT, DEPTH_WEIGHT = 1.0, 0.3, 0.2
"""Weighted PCA: the lips decide the components; cheeks and jaw follow; MediaPipe's depth is noisy."""

CLOSED_SHARE = 0.1
"""The closed (rest) shape is the mean of the reference frames with the smallest 10 % apertures."""


PAUSE_S = 0.2
"""The mouth rests in pauses of at least 0.2 s. Shorter gaps (stop closures, syllable breaks) are left to
the regression: forcing the lips shut there made the shift-protocol error worse than doing nothing on
two of the shared clips (the real mouth stays half open between syllables)."""


def speech_gate(line: AudioSource, fps: Fraction, num_frames: int) -> np.ndarray:
    """1 while the line speaks, 0 in its pauses of `PAUSE_S` or longer, soft over about a frame: (num_frames,)."""
    from mytalk.core.audio.activity import ActivityParams, voiced_frames

    voiced = voiced_frames(line.mono_at(FEATURE_RATE), fps, num_frames, ActivityParams(min_pause_s=PAUSE_S))
    voiced = voiced.astype(np.float64)
    if voiced.size > 1:
        voiced = gaussian_filter1d(voiced, 0.7, mode="nearest")
    return np.clip(voiced, 0.0, 1.0)


FEATURE_RATE = 16_000
"""Speech features are computed at 16 kHz: the mel bank stops at 7.6 kHz anyway, and a 48 kHz line
would cost three times the spectrum memory for the same numbers."""

CHUNK_FRAMES = 250
MARGIN_FRAMES = 25
"""Features are computed 250 frames at a time with 25 frames of audio either side (dropped after), so
memory is that of a 12 s window whatever the length of the range."""


def band_features(track: AudioSource, fps: Fraction, num_frames: int) -> np.ndarray:
    """Log10 energies of `NUM_BANDS` equal groups of mel bins per video frame: (num_frames, 8) float64.

    The track (placed so sample 0 is the start of frame 0) is resampled to `FEATURE_RATE` and analysed
    in overlapping chunks (`CHUNK_FRAMES`); the margins keep each chunk's edge frames identical to a
    whole-track analysis up to the log-mel's per-call floor, which only touches near-silent cells.
    """
    from mytalk.core.media.audio import place_line

    mono = track.mono_at(FEATURE_RATE)
    out = np.empty((num_frames, NUM_BANDS))
    for first in range(0, num_frames, CHUNK_FRAMES):
        last = min(num_frames, first + CHUNK_FRAMES)
        lo = max(0, first - MARGIN_FRAMES)
        hi = min(num_frames, last + MARGIN_FRAMES)
        piece = place_line(mono, num_frames=hi - lo, fps=fps, line_offset_s=Fraction(lo) / Fraction(fps))
        mel = mel_per_frame(piece, fps, hi - lo).astype(np.float64)[first - lo : last - lo]
        edges = np.linspace(0, mel.shape[1], NUM_BANDS + 1).astype(int)
        power = 10.0**mel
        bands = [power[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        out[first:last] = np.log10(np.maximum(np.stack(bands, axis=1), 1e-12))
    return out


def stack_lagged(features: np.ndarray, blocks: np.ndarray, lag: int, context: int) -> np.ndarray:
    """Row t → features of rows t + lag - context … t + lag + context of the same block: (T, (2c+1) D).

    ``blocks`` (T,) labels contiguous runs (one per reference range); neighbours past a run's end
    repeat its edge row, since a range has no audio outside itself.
    """
    t = features.shape[0]
    out = np.empty((t, (2 * context + 1) * features.shape[1]), np.float64)
    offsets = np.arange(-context, context + 1) + lag
    idx = np.arange(t)
    for b in np.unique(blocks):
        rows = idx[blocks == b]
        lo, hi = rows[0], rows[-1]
        gather = np.clip(rows[:, None] + offsets[None, :], lo, hi)
        out[rows] = features[gather].reshape(rows.size, -1)
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 10:
        return float("nan"), n
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return (float((x * y).sum() / denom) if denom > 0 else float("nan")), n


def measure_lag(
    apertures: np.ndarray, envelopes: np.ndarray, blocks: np.ndarray, fps: float
) -> tuple[int, dict[str, Any]]:
    """The audio-visual lag of the reference (frames; sound after the mouth is positive).

    Pearson correlation of aperture[t] with envelope[t + lag], pooled over blocks (frame-weighted),
    for lags in `LAG_SEARCH`; the evaluation measures lag the same way. Returns (lag, details); the
    prior `PRIOR_LAG` when the footage is too short or the peak too weak to trust.
    """
    lags = np.arange(LAG_SEARCH[0], LAG_SEARCH[1] + 1)
    curve = np.zeros(lags.size)
    weight = np.zeros(lags.size)
    for b in np.unique(blocks):
        ap, env = apertures[blocks == b], envelopes[blocks == b]
        n = ap.size
        for i, lag in enumerate(lags):
            lo, hi = max(0, -int(lag)), min(n, n - int(lag))
            if hi - lo < 10:
                continue
            r, used = _pearson(ap[lo:hi], env[lo + int(lag) : hi + int(lag)])
            if np.isfinite(r):
                curve[i] += r * used
                weight[i] += used
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(weight > 0, curve / np.maximum(weight, 1), np.nan)
    seconds = float(np.isfinite(apertures).sum()) / fps
    details: dict[str, Any] = {"curve": [None if not np.isfinite(c) else round(float(c), 3) for c in curve],
                               "lags": [int(v) for v in lags], "seconds": round(seconds, 2)}
    if not np.isfinite(curve).any():
        details.update(measured=None, peak=None, reliable=False)
        return PRIOR_LAG, details
    best = int(np.nanargmax(curve))
    peak = float(curve[best])
    at_edge = best in (0, lags.size - 1)
    reliable = seconds >= MIN_LAG_SECONDS and peak >= MIN_LAG_PEAK and not at_edge
    details.update(measured=int(lags[best]), peak=round(peak, 3), reliable=reliable)
    return (int(lags[best]) if reliable else PRIOR_LAG), details


@dataclass
class SpeechModel:
    """Audio → frontal lower-face shape of one actor. Arrays, so it saves to a plain npz.

    shape_mean: (P*3,) mean frontal shape, flattened. basis: (K, P*3) shape change per unit of each
    component. projection: (K, P*3) weighted-PCA directions (to read components off a shape), with
    projection_mean (P*3,) the weighted mean. closed: (P, 3) rest shape. norm_mean / norm_std: (B,)
    the actor's band-energy normaliser. x_mean (D,), y_mean (K,), weights (D, K): the ridge.
    lag: frames (sound after mouth positive). info: how it was fitted, for the report.
    """

    shape_mean: np.ndarray
    basis: np.ndarray
    projection: np.ndarray
    projection_mean: np.ndarray
    closed: np.ndarray
    norm_mean: np.ndarray
    norm_std: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    weights: np.ndarray
    lag: int
    context: int = CONTEXT
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_points(self) -> int:
        return int(self.closed.shape[0])

    @classmethod
    def fit(
        cls,
        shapes: np.ndarray,
        bands: np.ndarray,
        blocks: np.ndarray,
        usable: np.ndarray,
        speech: np.ndarray,
        apertures: np.ndarray,
        envelopes: np.ndarray,
        fps: float,
    ) -> SpeechModel:
        """Fit on reference rows.

        shapes: (M, P, 3) frontal shapes (NaN where no face). bands: (M, B) `band_features`.
        blocks: (M,) contiguous-run labels. usable: (M,) rows whose audio may be learned from
        (False e.g. for the edit range under `--guide none`). speech: (M,) voice probability.
        apertures (M,) and envelopes (M,) for the lag. fps: frames per second (lag seconds).
        """
        found = np.isfinite(shapes).all(axis=(1, 2))
        if found.sum() < 5:
            raise ValueError("at least 5 reference frames with a face are needed to learn the mouth")
        p = shapes.shape[1]
        weight = np.full((p, 3), OTHER_WEIGHT)
        weight[LIPS_POS] = LIP_WEIGHT
        weight[:, 2] *= DEPTH_WEIGHT
        flat = shapes[found].reshape(int(found.sum()), -1)
        wflat = (shapes[found] * weight).reshape(flat.shape)
        shape_mean = flat.mean(axis=0)
        projection_mean = wflat.mean(axis=0)
        _, _, vt = np.linalg.svd(wflat - projection_mean, full_matrices=False)
        k = min(COMPONENTS, vt.shape[0])
        projection = vt[:k]
        coef = (wflat - projection_mean) @ projection.T
        # The basis maps components back to *all* points unweighted (least squares over the frames).
        basis = np.linalg.lstsq(coef, flat - shape_mean, rcond=None)[0]

        ap_all = aperture(shapes)
        order = np.argsort(np.where(found, ap_all, np.inf))
        n_closed = max(3, int(round(CLOSED_SHARE * found.sum())))
        closed = shapes[order[:n_closed]].mean(axis=0)

        audio_rows = usable & np.isfinite(bands).all(axis=1)
        ap_for_lag = np.where(found & audio_rows, apertures, np.nan)
        env_for_lag = np.where(audio_rows, envelopes, np.nan)
        lag, lag_info = measure_lag(ap_for_lag, env_for_lag, blocks, fps)

        voiced = audio_rows & (speech > 0.5)
        train = found & audio_rows
        norm = SpeakerNormaliser().fit(bands[audio_rows], voiced[audio_rows]) if train.sum() >= 10 else None
        d = (2 * CONTEXT + 1) * bands.shape[1]
        if norm is None:
            # No usable audio: the mouth can only rest. A zero regression keeps it at the mean shape.
            norm_mean = np.zeros(bands.shape[1])
            norm_std = np.ones(bands.shape[1])
            x_mean, y_mean, weights = np.zeros(d), coef.mean(axis=0), np.zeros((d, k))
        else:
            assert norm.mean is not None and norm.std is not None
            norm_mean, norm_std = norm.mean, norm.std
            z = (np.nan_to_num(bands) - norm_mean) / norm_std
            x = stack_lagged(z, blocks, lag, CONTEXT)[train]
            y = ((shapes[train] * weight).reshape(int(train.sum()), -1) - projection_mean) @ projection.T
            x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
            xc, yc = x - x_mean, y - y_mean
            weights = np.linalg.solve(xc.T @ xc + RIDGE_PER_DIM * d * np.eye(d), xc.T @ yc)
        info = {"lag_frames": lag, "lag": lag_info, "frames_with_face": int(found.sum()),
                "frames_learned_from_audio": int(train.sum()), "components": k}
        return cls(shape_mean=shape_mean, basis=basis, projection=projection, projection_mean=projection_mean,
                   closed=closed, norm_mean=np.asarray(norm_mean, np.float64), norm_std=np.asarray(norm_std, np.float64),
                   x_mean=x_mean, y_mean=y_mean, weights=weights, lag=lag, info=info)

    def components_of(self, shapes: np.ndarray) -> np.ndarray:
        """Components (T, K) of frontal shapes (T, P, 3), with the same weighting as the fit."""
        p = shapes.shape[1]
        weight = np.full((p, 3), OTHER_WEIGHT)
        weight[LIPS_POS] = LIP_WEIGHT
        weight[:, 2] *= DEPTH_WEIGHT
        flat = (shapes * weight).reshape(shapes.shape[0], -1)
        return (flat - self.projection_mean) @ self.projection.T

    def shapes_from(self, components: np.ndarray) -> np.ndarray:
        """Frontal shapes (T, P, 3) from components (T, K)."""
        flat = components @ self.basis + self.shape_mean
        return flat.reshape(components.shape[0], self.num_points, 3)

    def predict(
        self,
        line: AudioSource,
        fps: Fraction,
        num_frames: int,
        *,
        speech_prob: np.ndarray | None = None,
        closures: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frontal shapes (num_frames, P, 3) for a line placed on the range, and the gate (num_frames,).

        The line's own voiced frames fit its normaliser (per-speaker normalisation), so a different
        voice maps into the actor's feature space. ``speech_prob`` (num_frames,): voice probability of
        the line per frame (`speech_gate`); the mouth is blended towards the closed shape by 1 - prob
        at the lagged time. ``closures`` (num_frames,) bool: frames whose audio (not lagged) is a p/b/m: shut there.
        """
        comps, gate = self.predict_components(line, fps, num_frames, speech_prob=speech_prob, closures=closures)
        return self.gated_shapes(comps, gate), gate

    def predict_components(
        self,
        line: AudioSource,
        fps: Fraction,
        num_frames: int,
        *,
        speech_prob: np.ndarray | None = None,
        closures: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`predict` before the shapes are made: components (num_frames, K) and the gate (num_frames,).
        A few numbers a frame, so a long range's plan keeps these and makes shapes a window at a time
        (`gated_shapes`)."""
        bands = band_features(line, fps, num_frames)
        prob = np.ones(num_frames) if speech_prob is None else np.asarray(speech_prob, np.float64)
        voiced = prob > 0.5
        norm = SpeakerNormaliser().fit(bands, voiced if voiced.sum() >= 10 else None)
        assert norm.mean is not None and norm.std is not None
        z = (bands - norm.mean) / norm.std
        x = stack_lagged(z, np.zeros(num_frames, np.int64), self.lag, self.context)
        comps = (x - self.x_mean) @ self.weights + self.y_mean
        # Mouth frame t goes with sound frame t + lag: the gate is read there too.
        lagged = np.clip(np.arange(num_frames) + self.lag, 0, num_frames - 1)
        gate = prob[lagged]
        if closures is not None:
            shut = np.asarray(closures, bool)[lagged]
            gate = np.where(shut, 0.0, gate)
        return comps, gate

    def gated_shapes(self, components: np.ndarray, gate: np.ndarray) -> np.ndarray:
        """Frontal shapes (T, P, 3) of components (T, K), blended towards the closed mouth by 1 - gate (T,)."""
        shapes = self.shapes_from(components)
        return self.closed[None] + np.asarray(gate)[:, None, None] * (shapes - self.closed[None])

    # --- storage -------------------------------------------------------------------------------

    _ARRAYS = ("shape_mean", "basis", "projection", "projection_mean", "closed", "norm_mean", "norm_std",
               "x_mean", "y_mean", "weights")

    def state(self) -> dict[str, np.ndarray]:
        """Plain arrays for `np.savez` (no pickles); `from_state` reverses it."""
        out = {f"speech_{name}": np.asarray(getattr(self, name), np.float64) for name in self._ARRAYS}
        out["speech_lag"] = np.array([self.lag, self.context], np.int64)
        return out

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> SpeechModel:
        lag, context = (int(v) for v in arrays["speech_lag"])
        values = {name: np.asarray(arrays[f"speech_{name}"], np.float64) for name in cls._ARRAYS}
        return cls(**values, lag=lag, context=context, info=dict(info or {}))


def transcript_closures(line: AudioTrack, transcript: str, fps: Fraction, num_frames: int) -> tuple[np.ndarray | None, str | None]:
    """Frames whose phone is a p/b/m by forced alignment of the transcript: ((num_frames,) bool, None),
    or (None, reason) when the transcript cannot be used (the audio alone then drives the mouth)."""
    from mytalk.core.audio.phonemes import VISEMES, TranscriptWarning, force_align, visemes_per_frame

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TranscriptWarning)
        phones = force_align(line, transcript)
    if not phones:
        reason = "; ".join(str(w.message) for w in caught) or "the transcript could not be aligned"
        return None, reason
    visemes = visemes_per_frame(phones, fps, num_frames)
    return visemes == VISEMES.index("closed"), None
