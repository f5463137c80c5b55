"""The guide driver's audio side: align a new line to the production (guide) audio with DTW.

In ADR the actor re-records the same words with a different rhythm. Aligning the new line to the
guide track frame by frame says, for every output frame, which moment of the real take had the
same sound; the guide driver then re-times the actor's real mouth motion along that map.

- Features: `alignment_features` (speaker-normalised cepstra and deltas at the video frame rate).
- DTW: symmetric steps (diagonal weighted 2, so a path's total weight is N + M whatever its shape)
  inside a Sakoe-Chiba band around the diagonal, so it cannot jump to a far-away repeated word.
  Each row is solved in closed form (a cumulative minimum handles the horizontal steps), so the
  cost is O(N * band) numpy work and no Python loop over cells.
- Time map: one guide position per line frame, from the path, then pauses are re-anchored (see
  `anchor_pauses`) and the map is lightly smoothed. It is monotone by construction.
- Decision (``--guide auto``): `decide_guide` compares the alignment cost with a threshold
  calibrated on the shared clips (tests/test_audio_alignment.py has the figures).

Units: frames are video frames at the source's fps; a time-map value x means guide frame x
(integer x = that frame exactly, fractional values lie between frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from mytalk.core.audio.activity import bool_runs, find_pauses
from mytalk.core.media.audio import AudioTrack
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress

GUIDE_COST_THRESHOLD = 0.6
"""Normalised DTW cost under which the line is taken to have the guide's words (``--guide auto``).

Calibrated on the 15 shared tracks (`benchmarks/bench_audio.py --calibrate`; figures in
tests/test_audio_alignment.py): matched lines, re-timed and degraded like another take, cost at
most 0.46; other speakers' lines and the same speaker's other words at least 0.72.
"""

DEFAULT_MIN_BAND = 12
"""Smallest Sakoe-Chiba half-width (frames): half a second at 25 fps."""

DEFAULT_BAND_SHARE = 0.25
"""Default half-width as a share of the longer sequence: an ADR take drifts by up to a quarter of
its length from the guide's rhythm, and rarely more."""

DEFAULT_MAX_BAND = 400
"""Cap on the default half-width (frames; 16 s at 25 fps), so memory stays O(N) on long ranges."""


@dataclass(frozen=True)
class Alignment:
    """Result of `align_to_guide`.

    path: (K, 2) int64 pairs (line frame, guide frame), monotone, from (0, 0) to (N-1, M-1).
    time_map: (N,) float64, for each line (output) frame the guide frame position it shows.
    cost: normalised mean local cost along the path over the line's voiced frames
        (dimensionless: 0 = identical, about 1 = as far apart as two random frames of the guide).
    matched: whether ``cost`` is under the guide threshold (the words match).
    band: the Sakoe-Chiba half-width used (frames).
    """

    path: np.ndarray
    time_map: np.ndarray
    cost: float
    matched: bool
    band: int

    def to_dict(self) -> dict[str, object]:
        """Summary for the job report (no arrays)."""
        return {"cost": _json_float(self.cost), "matched": self.matched, "band_frames": self.band,
                "line_frames": int(self.time_map.size)}


@dataclass(frozen=True)
class GuideDecision:
    """What ``--guide auto`` decided, for the report: use the guide when ``matched``."""

    matched: bool
    cost: float
    threshold: float

    def to_dict(self) -> dict[str, object]:
        return {"guide_matched": self.matched, "guide_cost": _json_float(self.cost), "guide_threshold": self.threshold}


def _json_float(value: float) -> float | None:
    """Rounded for the report; None for NaN (nothing voiced to compare), which JSON cannot hold."""
    return round(value, 4) if math.isfinite(value) else None


def decide_guide(cost: float, *, threshold: float = GUIDE_COST_THRESHOLD) -> GuideDecision:
    """Decide from an alignment cost whether the line says the guide's words.

    Under the threshold: the same line re-timed (use the guide driver). Over it: a different line,
    another language or another speaker saying other words (use the speech driver). A NaN cost
    (nothing voiced to compare) is never a match.
    """
    cost = float(cost)
    return GuideDecision(matched=bool(np.isfinite(cost) and cost < threshold), cost=cost, threshold=threshold)


def default_band(num_line: int, num_guide: int) -> int:
    """Default Sakoe-Chiba half-width (frames) for a line of N frames and a guide of M frames.

    The band runs along the corner-to-corner diagonal, so a line longer or shorter than its guide
    as a whole needs no extra width; the band only bounds how far the rhythm drifts inside it.
    """
    share = int(math.ceil(DEFAULT_BAND_SHARE * max(num_line, num_guide)))
    return max(DEFAULT_MIN_BAND, min(share, DEFAULT_MAX_BAND))


def _band_limits(n: int, m: int, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Per line frame i, the guide columns [lo_i, hi_i) within ``band`` of the diagonal.

    The diagonal runs from (0, 0) to (n-1, m-1); lo and hi are non-decreasing, so every cell of a
    row has its up and diagonal predecessors in the previous row's window or outside the band.
    """
    centre = np.arange(n) * ((m - 1) / max(n - 1, 1))
    lo = np.clip(np.floor(centre - band), 0, m - 1).astype(np.int64)
    hi = np.clip(np.ceil(centre + band) + 1, 1, m).astype(np.int64)
    lo[0], hi[-1] = 0, m
    return lo, hi


def _banded_cost(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: int) -> np.ndarray:
    """Local costs inside the band: (N, width), cell (i, k) = cost of line frame i vs guide frame
    lo[i] + k, inf outside [lo[i], hi[i]). Cost = Euclidean distance / sqrt(D), an RMS difference
    per feature (features are speaker-normalised, so about 1.4 between unrelated frames).

    A row loop of direct differences: measured faster here than blocked matrix products, whose
    gathers cost more than they save at D = 26, and exact (no |x|^2 + |y|^2 - 2xy cancellation).
    """
    n, d = x.shape
    out = np.full((n, width), np.inf)
    for i in range(n):
        a, b = int(lo[i]), int(hi[i])
        diff = y[a:b] - x[i]
        out[i, : b - a] = np.sqrt(np.einsum("wd,wd->w", diff, diff) / d)
    return out


def dtw(
    line_features: np.ndarray,
    guide_features: np.ndarray,
    band: int,
    *,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> tuple[np.ndarray, np.ndarray]:
    """Banded symmetric DTW. Returns (path (K, 2) int64, local cost along the path (K,) float64).

    Steps: (1, 1) weighted 2 * cost, (1, 0) and (0, 1) weighted 1 * cost. Each row i is solved in
    closed form: with A[j] the best arrival from row i-1 and c the row's costs, the horizontal
    recursion D[j] = min(A[j], D[j-1] + c[j]) equals cumsum(c) + running-min(A - cumsum(c)).
    """
    x = np.asarray(line_features, np.float64)
    y = np.asarray(guide_features, np.float64)
    n, m = x.shape[0], y.shape[0]
    lo, hi = _band_limits(n, m, band)
    width = int((hi - lo).max())
    acc = np.full((n, width), np.inf)
    cost = _banded_cost(x, y, lo, hi, width)
    prev_acc = np.full(m + 1, np.inf)  # row i-1 in guide coordinates, index m is a sentinel
    total = max(n, 1)
    for i in range(n):
        if i % 256 == 0:
            check_cancelled(is_cancelled, "guide alignment")
            progress(i, total, "guide alignment")
        a, b = int(lo[i]), int(hi[i])
        c = cost[i, : b - a]
        if i == 0:
            arrive = np.full(b - a, np.inf)
            arrive[0] = c[0]
        else:
            up = prev_acc[a:b] + c
            diag_src = np.concatenate([[prev_acc[a - 1] if a > 0 else np.inf], prev_acc[a : b - 1]])
            arrive = np.minimum(up, diag_src + 2 * c)
        cum = np.cumsum(c)
        row = cum + np.minimum.accumulate(arrive - cum)
        acc[i, : b - a] = row
        if i > 0:
            prev_acc[int(lo[i - 1]) : int(hi[i - 1])] = np.inf
        prev_acc[a:b] = row
    progress(total, total, "guide alignment")

    def at(table: np.ndarray, i: int, j: int) -> float:
        k = j - int(lo[i])
        return float(table[i, k]) if 0 <= k < int(hi[i] - lo[i]) else math.inf

    i, j = n - 1, m - 1
    path = [(i, j)]
    local = [at(cost, i, j)]
    while i > 0 or j > 0:
        here = at(cost, i, j)
        options = (
            (at(acc, i - 1, j - 1) + 2 * here) if i > 0 and j > 0 else math.inf,
            (at(acc, i - 1, j) + here) if i > 0 else math.inf,
            (at(acc, i, j - 1) + here) if j > 0 else math.inf,
        )
        step = int(np.argmin(options))
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
        local.append(at(cost, i, j))
    return np.array(path[::-1], dtype=np.int64), np.array(local[::-1])


def _map_from_path(path: np.ndarray, n: int) -> np.ndarray:
    """Mean guide frame per line frame along the path: (n,) float64, non-decreasing."""
    sums = np.bincount(path[:, 0], weights=path[:, 1].astype(np.float64), minlength=n)
    counts = np.bincount(path[:, 0], minlength=n)
    return sums / np.maximum(counts, 1)


def anchor_pauses(time_map: np.ndarray, line_voiced: np.ndarray, num_guide: int) -> np.ndarray:
    """Re-anchor the map inside the line's pauses: each half of a pause stays with its word.

    In silence DTW has nothing to align (room tone matches room tone anywhere), so where inside a
    pause it stalls or skips is arbitrary. But the mouth's closing after a word and its opening
    before the next (which leads the sound) are timed from the words. So a pause of P line frames,
    between words mapped to guide frames g0 and g1, is split at its middle: the first half advances
    one guide frame per frame from g0, the second half arrives at g1 the same way, and neither
    crosses the guide gap's centre. A stretched pause therefore holds the middle of the guide's
    pause, and a shortened one skips it, like an editor's cut. Leading and trailing silence are
    anchored to the first and last word only.
    """
    out = np.asarray(time_map, np.float64).copy()
    voiced = np.asarray(line_voiced, bool)
    n = out.size
    if voiced.shape[0] != n or not voiced.any():
        return out
    top = float(num_guide - 1)
    for start, end, value in bool_runs(voiced):
        if value:
            continue
        idx = np.arange(start, end, dtype=np.float64)
        if start == 0:
            g1 = out[end]
            out[start:end] = np.clip(g1 - (end - idx), 0.0, g1)
        elif end == n:
            g0 = out[start - 1]
            out[start:end] = np.clip(g0 + (idx - start + 1), g0, top)
        else:
            g0, g1 = out[start - 1], out[end]
            centre = 0.5 * (g0 + g1)
            half = start + 0.5 * (end - start)
            first = np.minimum(g0 + (idx - start + 1), centre)
            second = np.maximum(g1 - (end - idx), centre)
            out[start:end] = np.where(idx < half, first, second)
    return np.maximum.accumulate(out)


def smooth_map(time_map: np.ndarray) -> np.ndarray:
    """[1, 2, 1] / 4 smoothing: turns DTW's staircases into slopes, keeps straight lines and
    monotonicity (a positive-weight average of a non-decreasing sequence is non-decreasing)."""
    if time_map.size < 3:
        return time_map.copy()
    # Odd reflection extends the map linearly past its ends, so the end frames are kept as they are.
    padded = np.pad(time_map, 1, mode="reflect", reflect_type="odd")
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


def align_to_guide(
    line_features: np.ndarray,
    guide_features: np.ndarray,
    *,
    band: int | None = None,
    line_voiced: np.ndarray | None = None,
    guide_voiced: np.ndarray | None = None,
    threshold: float = GUIDE_COST_THRESHOLD,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> Alignment:
    """Align a new line to the guide track over the same range.

    ``line_features`` (N, D) and ``guide_features`` (M, D): `alignment_features` of the line and of
    the guide at the source's fps (both cover the same edit range, so the path runs corner to
    corner). ``band``: Sakoe-Chiba half-width in frames (default `default_band`).
    ``line_voiced`` (N,) / ``guide_voiced`` (M,) bool: voice activity; with ``line_voiced`` the
    pauses of the line are re-anchored (`anchor_pauses`) and the cost counts voiced line frames only
    (two silences always match, which says nothing about the words). ``guide_voiced`` is used for
    the cost's scale: random voiced guide frames.

    Returns an `Alignment` whose ``time_map`` (N,) gives, for each line frame, the guide frame
    position to show; ``cost`` is the mean path cost divided by the mean cost between the line's
    frames and random guide frames, so it does not depend on the features' scale or on noise.
    """
    x = np.asarray(line_features, np.float64)
    y = np.asarray(guide_features, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"line and guide features must be (N, D) and (M, D), got {x.shape} and {y.shape}")
    n, m = x.shape[0], y.shape[0]
    if n == 0 or m == 0:
        raise ValueError("cannot align an empty line or guide")
    half_width = default_band(n, m) if band is None else max(1, int(band))
    path, local = dtw(x, y, half_width, progress=progress, is_cancelled=is_cancelled)

    time_map = _map_from_path(path, n)
    voiced = np.ones(n, bool) if line_voiced is None else np.asarray(line_voiced, bool).reshape(-1)
    if voiced.shape[0] != n:
        raise ValueError(f"line_voiced has {voiced.shape[0]} frames, the line has {n}")
    if line_voiced is not None:
        time_map = anchor_pauses(time_map, voiced, m)
    time_map = np.clip(smooth_map(time_map), 0.0, m - 1.0)

    cost = _normalised_cost(x, y, path, local, voiced, guide_voiced)
    return Alignment(path=path, time_map=time_map, cost=cost, matched=decide_guide(cost, threshold=threshold).matched,
                     band=half_width)


def _normalised_cost(
    x: np.ndarray,
    y: np.ndarray,
    path: np.ndarray,
    local: np.ndarray,
    voiced: np.ndarray,
    guide_voiced: np.ndarray | None,
) -> float:
    """Mean path cost over voiced line frames ÷ mean cost of those frames against other guide frames.

    The denominator is the cost of a "wrong" alignment: each voiced line frame against guide
    frames drawn evenly across the guide (voiced ones where known). Dividing by it cancels the
    features' scale, noise and speaker differences, which raise both terms alike.
    """
    on_path = voiced[path[:, 0]]
    if not on_path.any():
        return math.nan
    numerator = float(local[on_path].mean())
    candidates = np.arange(y.shape[0]) if guide_voiced is None else np.flatnonzero(np.asarray(guide_voiced, bool))
    if candidates.size < 2:
        candidates = np.arange(y.shape[0])
    pick = candidates[np.linspace(0, candidates.size - 1, min(64, candidates.size)).round().astype(np.int64)]
    rows = x[np.flatnonzero(voiced)]
    diff = rows[:, None, :] - y[pick][None, :, :]
    reference = float(np.sqrt((diff**2).sum(-1) / x.shape[1]).mean())
    return numerator / max(reference, 1e-9)


# --- a re-timed line with an exact ground truth (calibration, tests, the adr protocol) -----------


@dataclass(frozen=True)
class PauseEdit:
    """One pause change: the guide pause [start_s, end_s) and its change in s (+ longer, - shorter)."""

    start_s: float
    end_s: float
    change_s: float


Piece = tuple[int, int, int, bool]
"""(line_start, length, guide_start, is_copy) in samples: ``length`` samples of the line from
``line_start`` are the guide's from ``guide_start`` on (copy), or a pause held at ``guide_start``."""


def _line_to_guide_samples(pieces: tuple[Piece, ...], t: np.ndarray) -> np.ndarray:
    total = pieces[-1][0] + pieces[-1][1] if pieces else 0
    t = np.clip(t, 0, max(total - 1, 0))
    out = np.zeros(t.shape)
    for start, length, source, is_copy in pieces:
        inside = (t >= start) & (t < start + length)
        out[inside] = source + (t[inside] - start) if is_copy else source
    return out


@dataclass(frozen=True)
class RetimedLine:
    """A line made from the guide's own audio with some pauses stretched or shortened.

    track: the new line (mono float32, at the guide's rate).
    time_map: (num_frames,) float64 ground truth at the line's frame centres: the guide frame
        position whose mouth each line frame should show (inside a stretched pause, the pause's
        middle), in the same units as `Alignment.time_map`.
    edits: the pause changes, in time order.
    pieces: how the line was assembled (see `Piece`), for `line_to_guide_s`.
    """

    track: AudioTrack
    time_map: np.ndarray
    edits: tuple[PauseEdit, ...]
    pieces: tuple[Piece, ...] = field(repr=False)

    def line_to_guide_s(self, line_s: np.ndarray | float) -> np.ndarray:
        """Guide time (s) of line time(s) ``line_s`` (s); times outside the line are clamped to it."""
        rate = self.track.rate
        t = np.atleast_1d(np.asarray(line_s, np.float64)) * rate
        return _line_to_guide_samples(self.pieces, t) / rate


def _pingpong(source: np.ndarray, lo: int, hi: int, centre: int, length: int) -> np.ndarray:
    """``length`` samples walking forward from ``centre``, bouncing between lo and hi-1: a pause's
    own room tone, with no jump in level (a plain loop would click at its seam)."""
    span = max(hi - lo, 2)
    period = 2 * (span - 1)
    k = (centre - lo + np.arange(length)) % period
    idx = lo + np.where(k < span, k, period - k)
    return source[np.clip(idx, 0, source.size - 1)]


def retime_at_pauses(
    track: AudioTrack,
    fps: Fraction,
    rng: np.random.Generator,
    *,
    min_change_s: float = 0.10,
    max_change_s: float = 0.30,
    max_edits: int = 4,
    crossfade_s: float = 0.005,
) -> RetimedLine:
    """Re-time a line at its pauses: the adr protocol's "same words, different rhythm".

    Up to ``max_edits`` pauses (the longest) are each stretched or shortened by a random 100-300 ms,
    alternately (so the length stays close); a pause too short to lose the drawn amount plus 40 ms
    is stretched instead. Words are copied sample for sample, so the ground truth is exact. A
    stretched pause is filled with its own room tone played back and forth around its centre, and
    every splice is cross-faded over 5 ms inside the pause. The line has
    round(num_samples * fps / rate) frames at ``fps``; the time map is evaluated at frame centres.
    """
    fps = Fraction(fps)
    mono = track.mono()
    samples = mono.samples[0]
    rate = mono.rate
    pauses = find_pauses(mono)
    chosen = sorted(sorted(pauses, key=lambda p: p[0] - p[1])[:max_edits])
    plans: list[tuple[int, int, int, int]] = []
    edits: list[PauseEdit] = []
    for k, (start_s, end_s) in enumerate(chosen):
        change = float(rng.uniform(min_change_s, max_change_s))
        longer = k % 2 == 0 or end_s - start_s < change + 0.04
        signed = round((change if longer else -change) * rate)
        lo, hi = int(round(start_s * rate)), int(round(end_s * rate))
        plans.append((lo, hi, (lo + hi) // 2, signed))
        edits.append(PauseEdit(start_s, end_s, signed / rate))

    pieces: list[Piece] = []
    chunks: list[np.ndarray] = []
    cursor = out_len = 0
    for lo, hi, centre, change in plans:
        if change > 0:
            if centre > cursor:
                pieces.append((out_len, centre - cursor, cursor, True))
                chunks.append(samples[cursor:centre])
                out_len += centre - cursor
            pieces.append((out_len, change, centre, False))
            chunks.append(_pingpong(samples, lo, hi, centre, change))
            out_len += change
            cursor = centre
        else:
            cut_start = centre + change // 2  # change < 0: floor division moves left
            if cut_start > cursor:
                pieces.append((out_len, cut_start - cursor, cursor, True))
                chunks.append(samples[cursor:cut_start])
                out_len += cut_start - cursor
            cursor = cut_start - change
    if samples.size > cursor:
        pieces.append((out_len, samples.size - cursor, cursor, True))
        chunks.append(samples[cursor:])
        out_len += samples.size - cursor
    line = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    line = _crossfade(line, samples, pieces, int(round(crossfade_s * rate)))

    num_frames = int(round(Fraction(line.size) * fps / rate))
    centres_s = (np.arange(num_frames) + 0.5) * (fps.denominator / fps.numerator)
    guide_s = _line_to_guide_samples(tuple(pieces), centres_s * rate) / rate
    # Guide frame k's centre is at (k + 0.5) / fps, so a time t is frame position t * fps - 0.5.
    truth = guide_s * (fps.numerator / fps.denominator) - 0.5
    return RetimedLine(AudioTrack(line.astype(np.float32), rate), truth, tuple(edits), tuple(pieces))


def _crossfade(line: np.ndarray, source: np.ndarray, pieces: list[Piece], width: int) -> np.ndarray:
    """Fade from what would have followed the previous piece into each new piece over ``width`` samples.

    Only the first samples of a piece change, and only inside a pause: timing is untouched.
    """
    out = line.copy()
    if width <= 0:
        return out
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, width))
    for prev, piece in zip(pieces, pieces[1:], strict=False):
        start, length = piece[0], piece[1]
        n = min(width, length)
        if prev[3]:
            tail = source[prev[2] + prev[1] : prev[2] + prev[1] + n]
        else:
            tail = line[start - 1 : start].repeat(n)
        if tail.size < n:
            tail = np.pad(tail, (0, n - tail.size))
        seg = slice(start, start + n)
        out[seg] = ramp[:n] * line[seg] + (1 - ramp[:n]) * tail
    return out
