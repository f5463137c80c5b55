"""The phonetic driver: the mouth takes the shapes of the line's *phones*, in the actor's own way.

Why: a per-actor regression from loudness learns the rhythm from a few seconds of footage but not
which shape a sound needs. b/p/m shut the lips, f/v put the lower lip on the teeth, "oo" rounds and
"ee" spreads, and loudness carries none of that. The line's phones do, and they come from a
speaker-independent acoustic model (`mytalk.core.audio.phone_timing`: forced alignment of a
transcript, word recognition then alignment, or phone-loop recognition).

What is learned per actor (`PhoneticModel.fit`), in the speech model's lower-face shape space
(`SpeechModel`: a weighted PCA of frontal lower-face shapes, so identity is kept by construction):

- a **phonetic prior** per phone: openness (`PHONE_OPENNESS`) and lip width (`PHONE_WIDTH`, rounded to
  spread) scaled to the actor's own range (5th to 95th percentile of the reference), mapped into the
  shape space by a least-squares fit of shape components on (aperture, width) over the reference;
- the **actor's shape per phone**: a ridge fit of the reference frames' shape components on their
  phone coverage (the reference footage labelled from its own audio, the same way as a line),
  shrunk towards the prior by `PRIOR_FRAMES` frames' worth of evidence, so phones the references
  never show fall back on the prior;
- **context**: the residual mean per (previous viseme, viseme, next viseme), where the references
  show that triple at least `MIN_CONTEXT_FRAMES` times, shrunk the same way: Video Rewrite's
  triphones on a dense mesh, kept small because seconds of footage hold few triples;
- the **lip lead**: frames by which this actor's mouth leads the sound, measured on the reference the
  way the evaluation measures AV lag (true aperture against the 1-4 kHz envelope, `SpeechModel`'s
  lag) or else against its phones' openness prior; 0 when the reference cannot measure it. A plan at
  lead 0 sits at lag 0 against the line (measured on all nine shared clips), so the lead is what
  makes the output's lag match the actor's own.

Planning a line (`PhoneticModel.plan`): the mouth at frame t shows the phones at t + lead, with
rounding anticipated over the consonants before a rounded vowel; the per-phone shapes are mixed by
coverage, then smoothed over `COARTICULATION_SIGMA` frames (real mouths move through shapes, they do
not step between them); loudness sets the amplitude around the phone shape; p/b/m frames are shut
(closures win their frame, after smoothing); the mouth closes in the line's pauses.

Measured on the shift protocol of the nine shared clips (plan aperture against the truth, before
rendering, median Pearson r): loudness alone 0.29; the openness prior on recognised phones 0.27;
smoothed by 1.5 frames 0.32-0.35; the actor's table (shrinkage 20 frames) 0.34; with loudness at
weight 0.3, 0.37. A learned per-actor weight for loudness overfit seconds of footage (0.27).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from mytalk.core.audio.phonemes import PHONE_OPENNESS, PHONE_VISEME, VISEMES, Phone, frame_coverage
from mytalk.core.engines.classic.geometry import LOWER_FACE, aperture
from mytalk.core.engines.classic.speech_driver import SpeechModel, measure_lag
from mytalk.core.face.regions import MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT
from mytalk.core.ndfilters import gaussian_filter1d

PHONE_SET: tuple[str, ...] = tuple(sorted(PHONE_OPENNESS))
"""The acoustic model's phones (ARPAbet, no stress) plus "SIL": the columns of a phone coverage."""

SIL = PHONE_SET.index("SIL")

PHONE_WIDTH: dict[str, float] = {
    "UW": -1.0, "UH": -0.7, "OW": -0.8, "OY": -0.6, "W": -1.0,
    "SH": -0.5, "ZH": -0.5, "CH": -0.5, "JH": -0.5,
    "R": -0.4, "ER": -0.5, "AO": -0.3, "AW": -0.2,
    "IY": 1.0, "IH": 0.7, "EY": 0.8, "EH": 0.5, "Y": 0.8,
    "AE": 0.4, "S": 0.3, "Z": 0.3, "T": 0.2, "D": 0.2, "N": 0.2, "TH": 0.2, "DH": 0.2,
}
"""Lip-width prior per phone, -1 = most rounded (narrow, protruded) to +1 = most spread; phones not
listed are neutral (0). Rounding: the back rounded vowels, w, the postalveolars (lips pushed
forward) and r; spreading: the front vowels and y."""

ROUNDED = frozenset({"UW", "UH", "OW", "OY", "W"})
"""Phones whose rounding is anticipated over the consonants before them ("st" of "stoop" is already round)."""

ANTICIPATION_FRAMES = 3
"""How far rounding reaches back over consonants, in frames (120 ms at 25 fps; measured lip rounding
starts up to 100-200 ms before a rounded vowel)."""

VOWELS = frozenset(p for p, v in PHONE_VISEME.items() if VISEMES[v] in ("spread", "rounded", "open", "r")) - {"W", "Y", "R"}

PRIOR_FRAMES = 20.0
"""Ridge strength towards the prior, in frames of evidence: a phone seen in 20 reference frames is
half the actor's own mean, half the prior. Chosen on the shift protocol (5: 0.32, 20: 0.34 plan r)."""

MIN_CONTEXT_FRAMES = 3
CONTEXT_FRAMES = 10.0
"""A (previous, current, next) viseme triple is learned from at least 3 frames and shrunk towards the
phone's own shape by 10 frames of evidence."""

COARTICULATION_SIGMA = 1.5
"""Gaussian smoothing of the planned shape over time (frames): 1.5 measured best (1.0: 0.33, 1.5: 0.35,
plan r), like the real mouth's inertia between targets. Closures are applied after it."""

LOUDNESS_WEIGHT = 0.3
"""Loudness (1-4 kHz envelope, z-scored over the line's voiced frames) moves the aperture by 0.3 of the
plan's own aperture spread per standard deviation: louder syllables open wider."""

MAX_GAIN = 2.5
"""The line's aperture is matched to the actor's speaking range (mean and spread over voiced reference
frames): a mix of per-phone means regresses to the middle (the plan's spread was 0.45-0.75 of the
actor's on the shared clips), which reads as mumbling and leaves the output's motion under the
tracker's noise. The gain is capped at 2.5 so a flat line is not blown up."""

LEAD_RANGE = (-3, 3)
"""Lip leads accepted from the reference (frames, mouth before sound positive); a measurement outside it
is a side peak of the speech rhythm (or a sound track offset the editor should fix, not the mouth) and
the prior lead is used. The shared clips' real footage sits at -3 to +1 where its lag is reliable."""

PRIOR_LEAD = 0
"""Phone openness correlates best with the true aperture at lead 0 on most shared clips (6 of 9)."""


def phone_coverage(phones: list[Phone] | tuple[Phone, ...], fps: Fraction, num_frames: int) -> np.ndarray:
    """Share of each video frame's interval [n/fps, (n+1)/fps) covered by each phone of `PHONE_SET`.

    (num_frames, len(PHONE_SET)) float32, rows sum to 1: time without a phone (and unknown labels)
    counts as "SIL". Phone times are seconds from the start of frame 0.
    """
    return frame_coverage(phones, fps, num_frames, lambda label: _COLUMN.get(label, SIL), len(PHONE_SET), SIL)


_COLUMN = {label: i for i, label in enumerate(PHONE_SET)}
_VISEME_OF = np.array([PHONE_VISEME.get(p, 0) for p in PHONE_SET])
_PRIORITY = np.ones(len(PHONE_SET))
_PRIORITY[_VISEME_OF == VISEMES.index("closed")] = 2.5
_PRIORITY[_VISEME_OF == VISEMES.index("lip_teeth")] = 1.5
"""Hard labels weight closures 2.5x and f/v 1.5x, as `phonemes.visemes_per_frame` does: a short b/p/m
covering 30 % of a frame decides it, because a missed closure is the most visible error there is."""


def frame_phones(coverage: np.ndarray) -> np.ndarray:
    """Index into `PHONE_SET` of the phone each frame shows: (T,) int64, closures and f/v weighted."""
    if coverage.shape[0] == 0:
        return np.zeros(0, np.int64)
    return np.argmax(coverage * _PRIORITY[None, :], axis=1).astype(np.int64)


def frame_visemes(coverage: np.ndarray) -> np.ndarray:
    """Viseme index (into `VISEMES`) per frame: (T,) int64."""
    return _VISEME_OF[frame_phones(coverage)]


def anticipate_rounding(coverage: np.ndarray) -> np.ndarray:
    """Rounding spreads back over the consonants before a rounded vowel, `ANTICIPATION_FRAMES` deep.

    A consonant frame within reach of a later rounded phone gives half its weight to that phone
    (decaying with distance), so "st" of "stoop" is planned with rounded lips. Vowels and closures
    keep their own shape: a closure must still shut the lips.
    """
    out = coverage.astype(np.float64).copy()
    labels = frame_phones(coverage)
    rounded = np.array([PHONE_SET[i] in ROUNDED for i in labels])
    keeps = np.array([PHONE_SET[i] in VOWELS or PHONE_SET[i] == "SIL" or _VISEME_OF[i] == VISEMES.index("closed")
                      for i in labels])
    for t in np.flatnonzero(rounded):
        for back in range(1, ANTICIPATION_FRAMES + 1):
            u = t - back
            if u < 0 or keeps[u] or rounded[u]:
                break
            share = 0.5 * (1.0 - (back - 1) / ANTICIPATION_FRAMES)
            out[u] *= 1.0 - share
            out[u, labels[t]] += share
    return out.astype(np.float32)


def _corner_positions() -> tuple[int, int]:
    lf = list(LOWER_FACE)
    return lf.index(MOUTH_CORNER_LEFT), lf.index(MOUTH_CORNER_RIGHT)


def mouth_width(shapes: np.ndarray) -> np.ndarray:
    """Distance between the mouth corners of lower-face shapes (..., P, 2|3), in their units (...,)."""
    left, right = _corner_positions()
    s = np.asarray(shapes)
    return np.linalg.norm(s[..., left, :2] - s[..., right, :2], axis=-1)


def _segments_context(labels: np.ndarray) -> np.ndarray:
    """(T, 3) int: (previous viseme, viseme, next viseme) of each frame's run of equal phones."""
    t = labels.size
    out = np.zeros((t, 3), np.int64)
    if t == 0:
        return out
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], t]
    vis = _VISEME_OF[labels[starts]]
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        prev = vis[k - 1] if k > 0 else 0
        nxt = vis[k + 1] if k + 1 < vis.size else 0
        out[a:b] = (prev, vis[k], nxt)
    return out


def _key(triple: np.ndarray) -> np.ndarray:
    n = len(VISEMES)
    return (triple[..., 0] * n + triple[..., 1]) * n + triple[..., 2]


SHAPE_WINDOW = 256
"""Frames of shapes made at once from a plan's components (256 x 166 points x 3 = 1 MB)."""


@dataclass
class PhoneticPlan:
    """A line planned by phones. shapes: (T, P, 3) frontal lower face. gate: (T,) 1 = speaking shape,
    0 = closed. phones / visemes: (T,) labels the mouth shows (lead applied). closures: (T,) bool.
    stage_apertures: the plan's aperture (canonical units, (T,) each) after each step, so a benchmark
    can see where motion is lost: "phones" (per-phone shapes mixed and smoothed), "range" (matched to
    the actor's speaking range), "loudness", "gated" (closures and pauses: the plan itself)."""

    components: np.ndarray
    speech: SpeechModel
    gate: np.ndarray
    phones: list[str]
    visemes: list[str]
    closures: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)
    stage_apertures: dict[str, np.ndarray] = field(default_factory=dict)

    def shapes_window(self, begin: int, end: int) -> np.ndarray:
        """The shapes of frames [begin, end): a long line's plan keeps its components (a few numbers a
        frame) and makes shapes a window at a time."""
        return self.speech.gated_shapes(self.components[begin:end], self.gate[begin:end])

    @property
    def shapes(self) -> np.ndarray:
        """(T, P, 3) frontal lower face of every frame."""
        return self.shapes_window(0, self.gate.size)


@dataclass
class PhoneticModel:
    """Phones → this actor's lower-face shape components. Plain arrays, so it saves to the profile's npz.

    table: (F, K) components per phone of `PHONE_SET`; prior: (F, K) the phonetic prior in the actor's
    range; context_keys: (C,) encoded viseme triples with context_offsets (C, K); aperture_axis: (K,)
    reads the aperture (canonical units) off components, up to a constant; voiced_aperture: (2,) mean
    and standard deviation of that reading over the reference's voiced frames; lead: frames the lips
    lead the phones.
    """

    table: np.ndarray
    prior: np.ndarray
    context_keys: np.ndarray
    context_offsets: np.ndarray
    aperture_axis: np.ndarray
    voiced_aperture: np.ndarray
    lead: int
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        speech: SpeechModel,
        shapes: np.ndarray,
        coverage: np.ndarray,
        labelled: np.ndarray,
        blocks: np.ndarray,
        voiced: np.ndarray,
        fps: float,
    ) -> PhoneticModel:
        """Learn from reference rows.

        speech: the actor's fitted shape space. shapes: (M, P, 3) frontal lower faces (NaN without a
        face). coverage: (M, F) `phone_coverage` of each row's own audio. labelled: (M,) rows whose
        phones may be learned from (audio allowed and labelled). blocks: (M,) contiguous-run labels.
        voiced: (M,) rows where the footage speaks (its own voice probability over 0.5).
        """
        found = np.isfinite(shapes).all(axis=(1, 2))
        comps = np.full((shapes.shape[0], speech.basis.shape[0]), np.nan)
        if found.any():
            comps[found] = speech.components_of(shapes[found])
        ap = np.where(found, aperture(np.nan_to_num(shapes)), np.nan)
        width = np.where(found, mouth_width(np.nan_to_num(shapes)), np.nan)
        k = comps.shape[1]
        # The actor's range and the map (aperture, width) -> components, over every frame with a face.
        lo, hi = (np.nanpercentile(ap, [5, 95]) if found.sum() >= 5 else (0.0, 0.1))
        w_lo, w_mid, w_hi = (np.nanpercentile(width, [5, 50, 95]) if found.sum() >= 5 else (1.0, 1.0, 1.0))
        design = np.stack([ap[found], width[found], np.ones(int(found.sum()))], axis=1)
        if found.sum() >= 5:
            gmap = np.linalg.lstsq(design, comps[found], rcond=None)[0]
        else:
            gmap = np.zeros((3, k))
        open_prior = np.array([PHONE_OPENNESS[p] for p in PHONE_SET])
        width_prior = np.array([PHONE_WIDTH.get(p, 0.0) for p in PHONE_SET])
        prior_ap = lo + open_prior * (hi - lo)
        prior_w = w_mid + width_prior * (w_hi - w_lo) / 2.0
        prior = np.stack([prior_ap, prior_w, np.ones_like(prior_ap)], axis=1) @ gmap
        # The closed (rest) shape is the actor's own: silence and closures use it exactly.
        closed_comps = speech.components_of(speech.closed[None])[0]
        prior[SIL] = closed_comps
        for p in ("P", "B", "M"):
            prior[PHONE_SET.index(p)] = closed_comps

        train = found & labelled & np.isfinite(coverage).all(axis=1)
        rows = anticipate_rounding(np.nan_to_num(coverage[train]).astype(np.float32)).astype(np.float64)
        target = comps[train]
        gram = rows.T @ rows + PRIOR_FRAMES * np.eye(len(PHONE_SET))
        table = np.linalg.solve(gram, rows.T @ target + PRIOR_FRAMES * prior) if train.any() else prior.copy()

        keys = np.zeros(0, np.int64)
        offsets = np.zeros((0, k))
        if train.sum() >= MIN_CONTEXT_FRAMES:
            residual = target - rows @ table
            triples = _segments_context(frame_phones(rows))
            codes = _key(triples)
            uniq, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
            sums = np.zeros((uniq.size, k))
            np.add.at(sums, inverse, residual)
            keep = counts >= MIN_CONTEXT_FRAMES
            keys = uniq[keep]
            offsets = sums[keep] / (counts[keep, None] + CONTEXT_FRAMES)

        # How aperture reads off the components (ap ≈ comps · axis + c): the loudness term moves the
        # shape along this direction, by axis / |axis|² per unit of aperture.
        axis = np.zeros(k)
        if found.sum() >= 5 and np.nanstd(ap) > 0:
            axis = np.linalg.lstsq(np.c_[comps[found], np.ones(int(found.sum()))], ap[found], rcond=None)[0][:k]
        speaking = found & np.asarray(voiced, bool)
        reading = comps[speaking] @ axis if speaking.sum() >= 5 else (comps[found] @ axis if found.any() else np.zeros(1))
        voiced_aperture = np.array([float(np.mean(reading)), float(np.std(reading))])

        # The lead: the true aperture against the prior openness of the reference's own phones.
        lead = PRIOR_LEAD
        lead_info: dict[str, Any] = {"measured": None, "reliable": False}
        envelope_lag = speech.info.get("lag", {})
        if envelope_lag.get("reliable") and LEAD_RANGE[0] <= int(envelope_lag.get("measured") or 0) <= LEAD_RANGE[1]:
            lead = int(envelope_lag["measured"])
            lead_info = {"measured": lead, "peak": envelope_lag.get("peak"), "reliable": True,
                         "seconds": envelope_lag.get("seconds"), "by": "aperture against the 1-4 kHz envelope"}
        elif train.sum() >= 10:
            op = gaussian_filter1d((np.nan_to_num(coverage) @ open_prior).astype(np.float64), COARTICULATION_SIGMA)
            op = np.where(labelled, op, np.nan)
            measured, details = measure_lag(np.where(found, ap, np.nan), op, blocks, fps)
            lead_info = {"measured": details.get("measured"), "peak": details.get("peak"),
                         "reliable": bool(details.get("reliable")), "seconds": details.get("seconds"),
                         "by": "aperture against the phones' openness"}
            if details.get("reliable") and LEAD_RANGE[0] <= int(details["measured"]) <= LEAD_RANGE[1]:
                lead = int(details["measured"])
        seen = (rows > 0.5).sum(axis=0) if train.any() else np.zeros(len(PHONE_SET))
        info = {
            "frames_learned": int(train.sum()),
            "phones_seen": int((seen >= 1).sum()),
            "phones_from_prior": [p for p, n in zip(PHONE_SET, seen, strict=True) if n < 1 and p != "SIL"],
            "contexts": int(keys.size),
            "lead_frames": lead,
            "lead": lead_info,
            "aperture_range": [round(float(lo), 4), round(float(hi), 4)],
        }
        return cls(table=table, prior=prior, context_keys=keys, context_offsets=offsets, aperture_axis=axis,
                   voiced_aperture=voiced_aperture, lead=lead, info=info)

    def plan(
        self,
        speech: SpeechModel,
        phones: list[Phone] | tuple[Phone, ...],
        fps: Fraction,
        num_frames: int,
        *,
        speech_prob: np.ndarray,
        loudness: np.ndarray | None = None,
    ) -> PhoneticPlan:
        """Plan a line placed on the range (phone times in seconds from frame 0 of the range).

        speech_prob: (T,) voice probability of the line (`speech_gate`); loudness: (T,) the line's
        1-4 kHz log envelope, or None.
        """
        t_count = num_frames
        cover = phone_coverage(phones, fps, t_count)
        shown = np.clip(np.arange(t_count) + self.lead, 0, max(0, t_count - 1))
        seen = anticipate_rounding(cover[shown]).astype(np.float64) if t_count else cover.astype(np.float64)
        comps = seen @ self.table
        if self.context_keys.size and t_count:
            labels = frame_phones(seen)
            codes = _key(_segments_context(labels))
            pos = np.searchsorted(self.context_keys, codes)
            pos = np.clip(pos, 0, self.context_keys.size - 1)
            hit = self.context_keys[pos] == codes
            comps[hit] += self.context_offsets[pos[hit]]
        if t_count > 1:
            comps = gaussian_filter1d(comps, COARTICULATION_SIGMA, axis=0, mode="nearest")
        prob = np.asarray(speech_prob, np.float64)
        gate = prob[shown] if t_count else prob
        voiced = gate > 0.5
        stages = {"phones": comps @ self.aperture_axis}
        norm2 = float(self.aperture_axis @ self.aperture_axis)
        direction = self.aperture_axis / norm2 if norm2 > 0 else self.aperture_axis
        if voiced.sum() >= 5 and norm2 > 0:
            # Match the line's speaking aperture to the actor's (`MAX_GAIN`): an affine map along the
            # aperture direction, so the phones' ordering of shapes is kept.
            reading = comps @ self.aperture_axis
            mean, spread = float(reading[voiced].mean()), float(reading[voiced].std())
            gain = min(MAX_GAIN, float(self.voiced_aperture[1]) / spread) if spread > 1e-9 else 1.0
            wanted = float(self.voiced_aperture[0]) + gain * (reading - mean)
            comps = comps + (wanted - reading)[:, None] * direction[None, :]
        stages["range"] = comps @ self.aperture_axis
        if loudness is not None and voiced.sum() >= 5 and norm2 > 0:
            env = np.asarray(loudness, np.float64)[shown]
            env = np.where(np.isfinite(env), env, np.nanmin(env) if np.isfinite(env).any() else 0.0)
            env = gaussian_filter1d(env, 1.0) if t_count > 1 else env
            z = np.clip((env - env[voiced].mean()) / (env[voiced].std() + 1e-9), -3.0, 3.0)
            spread = float(np.std((comps @ self.aperture_axis)[voiced]))
            comps = comps + (LOUDNESS_WEIGHT * spread * z)[:, None] * direction[None, :]
        stages["loudness"] = comps @ self.aperture_axis
        closed_vis = VISEMES.index("closed")
        # A closure shuts the lips both where the sound has it (the stop's closure phase) and where
        # the lead puts it, so a one-frame b/p/m is never lost between the two clocks.
        closures = (frame_visemes(cover) == closed_vis) | (frame_visemes(cover[shown]) == closed_vis) \
            if t_count else np.zeros(0, bool)
        gate = np.where(closures, 0.0, gate)
        labels = frame_phones(cover[shown]) if t_count else np.zeros(0, np.int64)
        names = [PHONE_SET[i] for i in labels]
        visemes = [VISEMES[_VISEME_OF[i]] for i in labels]
        report = {"lead_frames": self.lead, "closure_frames": int(closures.sum()),
                  "rest_frames": int((gate < 0.5).sum()), "speaking_frames": int(voiced.sum())}
        plan = PhoneticPlan(components=comps, speech=speech, gate=gate, phones=names, visemes=visemes,
                            closures=closures, report=report, stage_apertures=stages)
        gated = np.zeros(t_count)
        for begin in range(0, t_count, SHAPE_WINDOW):
            gated[begin : begin + SHAPE_WINDOW] = aperture(plan.shapes_window(begin, begin + SHAPE_WINDOW))
        stages["gated"] = gated
        return plan

    # --- storage -------------------------------------------------------------------------------

    _ARRAYS = ("table", "prior", "context_offsets", "aperture_axis", "voiced_aperture")

    def state(self) -> dict[str, np.ndarray]:
        """Plain arrays for `np.savez` (no pickles); `from_state` reverses it."""
        out = {f"phonetic_{name}": np.asarray(getattr(self, name), np.float64) for name in self._ARRAYS}
        out["phonetic_context_keys"] = np.asarray(self.context_keys, np.int64)
        out["phonetic_lead"] = np.array([self.lead], np.int64)
        return out

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> PhoneticModel:
        values = {name: np.asarray(arrays[f"phonetic_{name}"], np.float64) for name in cls._ARRAYS}
        return cls(**values, context_keys=np.asarray(arrays["phonetic_context_keys"], np.int64),
                   lead=int(arrays["phonetic_lead"][0]), info=dict(info or {}))
