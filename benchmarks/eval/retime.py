"""The adr protocol's re-timed line: the clip's own words with their pauses lengthened or shortened.

An ADR line is the same words as the production take, spoken with a different rhythm. We make one
whose timing we know exactly: cut the clip's own audio at pauses (found from its energy
envelope) and stretch or shorten each chosen pause by 100-300 ms. Words are copied sample for
sample, so the ground-truth time map (line time → source time) is exact: inside a word the
mouth at line time τ is the source mouth at `time_map.source_time(τ)`.

A stretched pause is filled by playing the pause's own room tone back and forth around its centre
(a ping-pong loop has no jump in level), and every splice is cross-faded over 5 ms inside the
pause, so the line has no clicks that a tool could lock on to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks.eval.metrics import true_runs

HOP_S = 0.010
"""Envelope hop (s): pauses are located to 10 ms."""

MIN_PAUSE_S = 0.12
"""Shortest gap counted as a pause (s): shorter gaps are stop consonants, not breaks between words."""

EDGE_GUARD_S = 0.15
"""Pauses this close to the start or end of the line are left alone (s): they are not between words."""

CROSSFADE_S = 0.005
"""Splice cross-fade (s), inside the pause's low-level room tone."""


@dataclass(frozen=True)
class Piece:
    """One stretch of the new line: `length` samples from source sample `source_start`.

    kind "copy": source samples played in order; kind "hold": a stretched pause, whose ground
    truth is the source at `source_start` (the pause centre) throughout.
    """

    line_start: int
    length: int
    source_start: int
    kind: str


@dataclass(frozen=True)
class TimeMap:
    """Exact map from the new line's time to the source line's time, piece by piece (samples)."""

    rate: int
    pieces: tuple[Piece, ...]

    @property
    def line_samples(self) -> int:
        return self.pieces[-1].line_start + self.pieces[-1].length if self.pieces else 0

    def source_time(self, line_s: np.ndarray | float) -> np.ndarray:
        """Source time (s) of line time(s) `line_s` (s); NaN before 0 and after the line ends."""
        t = np.atleast_1d(np.asarray(line_s, np.float64)) * self.rate
        out = np.full(t.shape, np.nan)
        for piece in self.pieces:
            inside = (t >= piece.line_start) & (t < piece.line_start + piece.length)
            if piece.kind == "copy":
                out[inside] = piece.source_start + (t[inside] - piece.line_start)
            else:
                out[inside] = piece.source_start
        return out / self.rate

    def to_dict(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "pieces": [
                {"line_start_s": round(p.line_start / self.rate, 6), "length_s": round(p.length / self.rate, 6),
                 "source_start_s": round(p.source_start / self.rate, 6), "kind": p.kind}
                for p in self.pieces
            ],
        }


@dataclass(frozen=True)
class Edit:
    """One pause change: the pause [start_s, end_s) of the source, and its change in s (+ longer)."""

    start_s: float
    end_s: float
    change_s: float


@dataclass(frozen=True)
class RetimedLine:
    """The re-timed line (mono float32 at `time_map.rate`), its exact time map and its edits."""

    samples: np.ndarray
    time_map: TimeMap
    edits: tuple[Edit, ...] = field(default_factory=tuple)

    @property
    def duration_change_s(self) -> float:
        return sum(e.change_s for e in self.edits)


def _envelope_db(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS level in dB over 20 ms windows every 10 ms."""
    hop = max(1, int(round(HOP_S * rate)))
    win = 2 * hop
    n = max(0, (samples.size - win) // hop + 1)
    if n == 0:
        return np.zeros(0)
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(samples, np.float64) ** 2)])
    starts = np.arange(n) * hop
    rms = np.sqrt((energy[starts + win] - energy[starts]) / win)
    return 20 * np.log10(np.maximum(rms, 1e-6))


def find_pauses(
    samples: np.ndarray, rate: int, min_pause_s: float = MIN_PAUSE_S, threshold: float = 0.35
) -> list[tuple[float, float]]:
    """Pauses between words as (start_s, end_s), longest first.

    The level threshold sits `threshold` of the way from the noise floor (10th percentile) to the
    speech level (95th percentile) in dB, which adapts to noisy and to clean recordings alike.
    """
    level = _envelope_db(samples, rate)
    if level.size == 0:
        return []
    floor, speech = np.percentile(level, 10), np.percentile(level, 95)
    if speech - floor < 10:
        return []  # no dynamics: continuous noise or continuous speech, no usable pauses
    quiet = level < floor + threshold * (speech - floor)
    pauses: list[tuple[float, float]] = []
    duration = samples.size / rate
    for t, end in true_runs(quiet):
        # Window k covers [k·hop, k·hop + 2·hop); the quiet stretch is the middle of the run.
        start_s, end_s = (t + 1) * HOP_S, (end + 0.5) * HOP_S
        if end_s - start_s >= min_pause_s and start_s > EDGE_GUARD_S and end_s < duration - EDGE_GUARD_S:
            pauses.append((start_s, end_s))
    return sorted(pauses, key=lambda p: p[0] - p[1])


def _pingpong(source: np.ndarray, lo: int, hi: int, centre: int, length: int) -> np.ndarray:
    """`length` samples walking forward from `centre`, bouncing between lo and hi-1."""
    span = max(hi - lo, 2)
    period = 2 * (span - 1)
    k = (centre - lo + np.arange(length)) % period
    idx = lo + np.where(k < span, k, period - k)
    return source[np.clip(idx, 0, source.size - 1)]


def retime_line(
    samples: np.ndarray,
    rate: int,
    *,
    seed: int,
    min_change_s: float = 0.10,
    max_change_s: float = 0.30,
    max_edits: int = 4,
) -> RetimedLine:
    """Stretch or shorten up to `max_edits` pauses of `samples` by 100-300 ms each.

    Changes alternate longer/shorter (net length stays close to the original) with magnitudes
    drawn from `seed`; a pause too short to lose the drawn amount (plus 40 ms of margin) is
    stretched instead. With no pause at all the line is returned unchanged, with no edits.
    """
    samples = np.asarray(samples, np.float32)
    rng = np.random.default_rng(seed)
    # Fast continuous speech may have no 120 ms pause: fall back to shorter, shallower dips
    # between syllables (those can only be stretched, see below).
    found = find_pauses(samples, rate) or find_pauses(samples, rate, min_pause_s=0.04, threshold=0.5)
    pauses = sorted(found[:max_edits])
    margin = 0.04
    plans: list[tuple[int, int, int, int]] = []  # (pause lo, pause hi, centre, change) in samples
    edits: list[Edit] = []
    for i, (start_s, end_s) in enumerate(pauses):
        change = float(rng.uniform(min_change_s, max_change_s))
        longer = i % 2 == 0 or end_s - start_s < change + margin
        signed = change if longer else -change
        lo, hi = int(round(start_s * rate)), int(round(end_s * rate))
        plans.append((lo, hi, (lo + hi) // 2, int(round(signed * rate))))
        edits.append(Edit(start_s, end_s, round(signed * rate) / rate))

    pieces: list[Piece] = []
    chunks: list[np.ndarray] = []
    cursor, out_len = 0, 0

    def copy(until: int) -> None:
        nonlocal cursor, out_len
        if until > cursor:
            pieces.append(Piece(out_len, until - cursor, cursor, "copy"))
            chunks.append(samples[cursor:until])
            out_len += until - cursor
        cursor = until

    for lo, hi, centre, change in plans:
        if change > 0:
            copy(centre)
            pieces.append(Piece(out_len, change, centre, "hold"))
            chunks.append(_pingpong(samples, lo, hi, centre, change))
            out_len += change
        else:
            cut = -change
            copy(centre - cut // 2)
            cursor = centre - cut // 2 + cut
    copy(samples.size)
    line = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    line = _crossfade_splices(line, samples, pieces, int(round(CROSSFADE_S * rate)))
    return RetimedLine(line.astype(np.float32), TimeMap(rate, tuple(pieces)), tuple(edits))


def _crossfade_splices(line: np.ndarray, source: np.ndarray, pieces: list[Piece], width: int) -> np.ndarray:
    """Fade from what would have followed the previous piece into each new piece over `width` samples.

    Only the first `width` samples of a piece change, and only inside a pause: timing is untouched.
    """
    out = line.copy()
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, width)) if width > 0 else np.zeros(0)
    for prev, piece in zip(pieces, pieces[1:], strict=False):
        n = min(width, piece.length)
        if n == 0:
            continue
        if prev.kind == "copy":
            tail = source[prev.source_start + prev.length : prev.source_start + prev.length + n]
        else:
            tail = line[piece.line_start - 1 : piece.line_start].repeat(n)
        if tail.size < n:
            tail = np.pad(tail, (0, n - tail.size))
        seg = slice(piece.line_start, piece.line_start + n)
        out[seg] = ramp[:n] * line[seg] + (1 - ramp[:n]) * tail
    return out
