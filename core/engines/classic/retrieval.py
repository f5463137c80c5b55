"""Retrieval: which of the actor's own reference mouths paints each output frame.

Every output frame has a target mouth shape (the motion plan). The appearance index holds the
actor's reference mouths with their shapes. Picking the nearest shape per frame independently makes
the teeth and lip texture pop from frame to frame, so the choice is a path through candidates
(Viterbi), as in Video Rewrite:

- target cost: how far the candidate's lip shape is from the target's (mean point distance of the
  40 lip points, centred on the mouth, in inter-ocular distances, plus the aperture difference
  counted twice: the inner-lip gap decides whether teeth show);
- transition cost: zero when the next reference frame simply follows the previous one (real
  motion, real texture continuity), a little for holding a frame or skipping one, and otherwise a
  switch penalty plus the shape jump between the two reference mouths.

Where the path jumps between unrelated reference frames, the renderer switches on the frame. A one-frame
cross-fade (half of the previous run's continuation, half of the new mouth; `select_path(fade=True)`)
was the default until the worst-frame figures of issue #12: two sets of teeth half over each other are
a soft, doubled frame (among the softest tenth of the dub frames), while the path already picks
consecutive mouths of similar shape, so the switch itself does not show (the in-mouth flicker ratio
stayed at 0.94-1.02 on the HDTF clips without it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mytalk.core.engines.classic.geometry import LIPS_POS, LOWER_MID_POS, UPPER_MID_POS
from mytalk.core.ndfilters import gaussian_filter1d

CANDIDATES = 8
"""Nearest reference mouths considered per frame, plus the successors of the previous frame's."""

SWITCH_COST = 0.012
"""Penalty (IOD) for jumping to an unrelated reference frame: about a third of a typical lip-shape
difference between consecutive speech frames, so a run continues unless a clearly better mouth exists."""

HOLD_COST = 0.004
SKIP_COST = 0.002
JUMP_WEIGHT = 0.5
APERTURE_WEIGHT = 2.0


OWN_MOUTH_BELOW = 0.015
PAINT_ABOVE = 0.045
"""Mouth change (IOD, shape distance incl. the gap) under which the frame's own mouth, warped, is shown,
and over which the retrieved mouth fully replaces it. Warping a mouth by a little keeps the frame's own
teeth, light and grain exactly; opening a closed mouth needs the inside of a real open one."""


MIX_BAND = (0.35, 0.65)
"""`opening_share`: retrieval weights below 0.35 show the frame's own opening, above 0.65 the retrieved
one; a smoothstep between."""


def retrieval_weight(target: np.ndarray, source: np.ndarray, valid: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Per frame (T,) share of the retrieved mouth, from the change between target and source shapes
    (T, P, 2) canonical; smoothed over time (sigma frames) so the switch between own and retrieved
    mouth is a fade, not a flicker."""
    return weight_from_change(shape_change(target, source, valid), valid, sigma)


def shape_change(target: np.ndarray, source: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T,) descriptor distance between target and source shapes (T, P, 2) of the valid frames, else 0."""
    change = np.zeros(valid.size)
    if valid.any():
        change[valid] = descriptor_distance(shape_descriptors(target[valid]), shape_descriptors(source[valid]))
    return change


def weight_from_change(change: np.ndarray, valid: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """`retrieval_weight` from the per-frame `shape_change` of the whole range."""
    weight = np.clip((change - OWN_MOUTH_BELOW) / (PAINT_ABOVE - OWN_MOUTH_BELOW), 0.0, 1.0)
    if sigma > 0 and weight.size > 1:
        weight = gaussian_filter1d(weight, sigma, mode="nearest")
    return np.where(valid, weight, 0.0)


def opening_share(weight: float) -> float:
    """How much of a retrieved opening (teeth, tongue, darkness) to show for a `retrieval_weight`.

    Two different mouths half over each other read as one soft, doubled mouth (the softest frames of the
    dub figures had shares of 0.36-0.71), so the share is pushed to 0 or 1 (`MIX_BAND`, a smoothstep) and
    mixes only during a short switch. Closing lips keep the plain weight: a p/b/m of one or two frames has
    its weight spread by the temporal smoothing, and pushing that to 0 let it stay open."""
    t = min(max((weight - MIX_BAND[0]) / (MIX_BAND[1] - MIX_BAND[0]), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def shape_descriptors(canon: np.ndarray) -> np.ndarray:
    """Lip descriptors from 2-D canonical lower-face shapes (..., P, 2) → (..., 81).

    The 40 lip points centred on their mean (mouth shape, not where the jaw put it), flattened, and
    the inner-lip gap scaled by `APERTURE_WEIGHT` as the last column.
    """
    c = np.asarray(canon, np.float64)
    lips = c[..., LIPS_POS, :]
    centred = lips - lips.mean(axis=-2, keepdims=True)
    gap = np.linalg.norm(c[..., LOWER_MID_POS, :] - c[..., UPPER_MID_POS, :], axis=-1)
    return np.concatenate([centred.reshape(*c.shape[:-2], -1), APERTURE_WEIGHT * gap[..., None]], axis=-1)


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between descriptors (broadcasting): mean lip-point distance + weighted gap difference."""
    pa, pb = a[..., :-1], b[..., :-1]
    diff = (pa - pb).reshape(*np.broadcast_shapes(pa.shape, pb.shape)[:-1], -1, 2)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1) + np.abs(a[..., -1] - b[..., -1])


def pairwise_distance(a: np.ndarray, b: np.ndarray, chunk: int = 64) -> np.ndarray:
    """`descriptor_distance` between every row of a (N, D) and of b (M, D): (N, M).

    Computed `chunk` rows at a time: the broadcast difference is (chunk, M, D) floats, so memory stays
    bounded however long the range (a 60 s range against 400 mouths would otherwise need 400 MB).
    """
    out = np.empty((a.shape[0], b.shape[0]))
    for i in range(0, a.shape[0], chunk):
        out[i : i + chunk] = descriptor_distance(a[i : i + chunk, None, :], b[None, :, :])
    return out


class JumpDistances:
    """`pairwise_distance(index_desc, index_desc)`, each row computed the first time a lookup needs it.

    The Viterbi only looks up jumps from the previous frame's few candidates, so a short range needs a
    handful of rows where the whole (K, K) table took about 75 ms for 400 mouths (the bulk of a one-frame
    job's prepare); a long range fills at most the whole table, once. A row is the same numbers whichever
    rows are computed with it (each entry is reduced on its own), so the path cannot change.
    """

    def __init__(self, index_desc: np.ndarray) -> None:
        self.index_desc = index_desc
        k_total = index_desc.shape[0]
        self.table = np.empty((k_total, k_total))  # (K, K): 1.3 MB for 400 mouths, filled row by row
        self.known = np.zeros(k_total, bool)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) jump distances from entries `a` to entries `b`."""
        missing = np.unique(a[~self.known[a]])
        if missing.size:
            self.table[missing] = pairwise_distance(self.index_desc[missing], self.index_desc)
            self.known[missing] = True
        return self.table[a[:, None], b[None, :]]


@dataclass
class Selection:
    """The chosen reference mouth per output frame.

    choice: (T,) appearance index entry, -1 where the frame has no target (no face).
    fade_from: (T,) entry to cross-fade from at a switch, -1 elsewhere; fade_weight: (T,) its weight.
    target_cost: (T,) shape distance of the choice to the target (IOD).
    """

    choice: np.ndarray
    fade_from: np.ndarray
    fade_weight: np.ndarray
    target_cost: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


PATH_WINDOW = 250
"""Frames of a run whose path is decided at once (10 s at 25 fps). A longer run is solved a window at a
time, each window's path read back from `PATH_LOOKAHEAD` frames further on and continued from its
last choice, so the search's memory is a window's however long the range (a ten-minute run of 400
mouths held (15000, 400) distances, 48 MB, before), and a streamed job's frames are decided about
this far behind the plan."""

PATH_LOOKAHEAD = 125
"""Frames past a window that its path is read back from (5 s at 25 fps). A Viterbi path's choice at a
frame rarely depends on frames more than a few mouth runs later: on speech-like targets the windowed
path costs within 0.01 % of the whole-run optimum (`tests/test_retrieval_windows.py`)."""

DISTANCE_ROWS = 256
"""Frames whose distances to every reference mouth are computed at once: (256, K) floats."""


@dataclass
class _Successors:
    """For each index entry, the entry showing the next frame of the same take (frame + 1, else + 2),
    or -1; `skip` where that successor is two frames on."""

    next: np.ndarray
    skip: np.ndarray

    @classmethod
    def of(cls, index_block: np.ndarray, index_frame: np.ndarray) -> _Successors:
        key = {(int(b), int(f)): k for k, (b, f) in enumerate(zip(index_block, index_frame, strict=True))}
        successor = np.full(len(index_block), -1, np.int64)
        skip = np.zeros(len(index_block), bool)
        for k, (b, f) in enumerate(zip(index_block, index_frame, strict=True)):
            nxt = key.get((int(b), int(f) + 1))
            if nxt is None:
                nxt = key.get((int(b), int(f) + 2))
                skip[k] = nxt is not None
            successor[k] = -1 if nxt is None else nxt
        return cls(successor, skip)


def select_path(
    index_desc: np.ndarray,
    index_block: np.ndarray,
    index_frame: np.ndarray,
    target_desc: np.ndarray,
    valid: np.ndarray,
    *,
    candidates: int = CANDIDATES,
    switch_cost: float = SWITCH_COST,
    fade: bool = False,
    window: int = PATH_WINDOW,
    lookahead: int = PATH_LOOKAHEAD,
) -> Selection:
    """Viterbi over candidate reference mouths.

    index_desc (K, D) descriptors of the appearance entries, index_block / index_frame (K,) where
    each entry comes from (for "the next frame of the same take"). target_desc (T, D); valid (T,)
    frames to fill (runs of valid frames are solved independently). A run longer than `window` plus
    `lookahead` frames is solved a window at a time (`PATH_WINDOW`); a shorter one in one piece.
    """
    search = PathSearch(index_desc, index_block, index_frame, target_desc.shape[0], candidates=candidates,
                        switch_cost=switch_cost, fade=fade, window=window, lookahead=lookahead)
    search.add(target_desc, valid)
    return search.finish()


class PathSearch:
    """`select_path` fed with the range's frames in order, a few at a time, as a streamed job plans them.

    A frame's choice is final (`decided`) once the frames its window reads are in: the end of its run,
    or `lookahead` frames past its window. The choices are those `select_path` makes with every frame at
    once, since the windows fall on the same frames either way.
    """

    def __init__(self, index_desc: np.ndarray, index_block: np.ndarray, index_frame: np.ndarray, frames: int, *,
                 candidates: int = CANDIDATES, switch_cost: float = SWITCH_COST, fade: bool = False,
                 window: int = PATH_WINDOW, lookahead: int = PATH_LOOKAHEAD) -> None:
        self.index_desc = index_desc
        self.selection = Selection(np.full(frames, -1, np.int64), np.full(frames, -1, np.int64), np.zeros(frames),
                                   np.full(frames, np.nan), {"switches": 0})
        self.successors = _Successors.of(index_block, index_frame)
        self.jump = JumpDistances(index_desc)
        self.candidates = min(candidates, index_desc.shape[0])
        self.switch_cost = switch_cost
        self.fade = fade
        self.window, self.lookahead = max(1, int(window)), max(0, int(lookahead))
        self._fed = 0
        self._pending: list[np.ndarray] = []
        """Descriptors of the current run's undecided frames, from `_begin`."""
        self._begin = 0
        self._previous = -1
        self._switches = 0
        self._faded = 1
        """Frames before this one have had their switch counted (and cross-fade set)."""

    @property
    def decided(self) -> int:
        """Frames [0, decided) have their final choice."""
        return self._begin if self._pending else self._fed

    def add(self, target_desc: np.ndarray, valid: np.ndarray) -> int:
        """The next frames' descriptors (k, D) and whether each has a target (k,); returns `decided`."""
        for row, ok in zip(target_desc, valid, strict=True):
            if ok:
                if not self._pending:
                    self._begin, self._previous = self._fed, -1
                self._pending.append(row)
                if len(self._pending) > self.window + self.lookahead:
                    self._decide(self.window)
            elif self._pending:
                self._decide(len(self._pending))
            self._fed += 1
        self._count_switches(self.decided)
        return self.decided

    def finish(self) -> Selection:
        """Decide what is left (the last run) and return the whole selection with its figures."""
        if self._pending:
            self._decide(len(self._pending))
        self._count_switches(self._fed)
        selection = self.selection
        if self.index_desc.shape[0]:
            choice, cost = selection.choice[: self._fed], selection.target_cost[: self._fed]
            finite = cost[np.isfinite(cost)]
            selection.stats = {"switches": self._switches, "entries_used": int(np.unique(choice[choice >= 0]).size),
                               "mean_shape_distance_iod": round(float(finite.mean()), 4) if finite.size else None}
        return selection

    def _decide(self, count: int) -> None:
        """Fix the choices of the first `count` pending frames, reading `lookahead` more where there are."""
        if self.index_desc.shape[0] == 0:  # no reference mouths: nothing to choose, every choice stays -1
            del self._pending[:count]
            self._begin += count
            return
        rows = np.stack(self._pending[: count + self.lookahead])
        path, cost = _solve(self.index_desc, rows, self.successors, self.jump, self._previous,
                            candidates=self.candidates, switch_cost=self.switch_cost)
        begin = self._begin
        self.selection.choice[begin : begin + count] = path[:count]
        self.selection.target_cost[begin : begin + count] = cost[:count]
        self._previous = int(path[count - 1])
        del self._pending[:count]
        self._begin += count

    def _count_switches(self, upto: int) -> None:
        """Count the switches (and set the cross-fades) of the decided frames [`_faded`, upto)."""
        choice, successor = self.selection.choice, self.successors.next
        for i in range(self._faded, upto):
            a, b = choice[i - 1], choice[i]
            if a < 0 or b < 0 or a == b or successor[a] == b:
                continue
            self._switches += 1
            if self.fade:
                self.selection.fade_from[i] = successor[a] if successor[a] >= 0 else a
                self.selection.fade_weight[i] = 0.5
        self._faded = max(self._faded, upto)


def _solve(index_desc: np.ndarray, target: np.ndarray, successors: _Successors, jump: JumpDistances,
           previous: int, *, candidates: int, switch_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest path through consecutive valid frames `target` (R, D): (R,) entries and (R,) their
    shape distances. previous: the entry chosen for the frame before, or -1 at the start of a run; a
    window continues the path from it, as the frame after it would in one piece."""
    successor, skip = successors.next, successors.skip
    cand: list[np.ndarray] = []
    score: list[np.ndarray] = []
    back: list[np.ndarray] = []
    unaries: list[np.ndarray] = []
    if previous >= 0:
        cand.append(np.array([previous], np.int64))
        score.append(np.zeros(1))
    rows = target.shape[0]
    for first in range(0, rows, DISTANCE_ROWS):
        dist = pairwise_distance(target[first : first + DISTANCE_ROWS], index_desc)  # (r, K)
        near = np.argsort(dist, axis=1)[:, :candidates]
        for i in range(dist.shape[0]):
            c = near[i]
            if cand:
                prev_succ = successor[cand[-1]]
                c = np.unique(np.concatenate([c, prev_succ[prev_succ >= 0]]))
            unary = dist[i, c]
            unaries.append(unary)
            if not cand:
                cand.append(c)
                score.append(unary)
                back.append(np.zeros(c.size, np.int64))
                continue
            p = cand[-1]
            trans = switch_cost + JUMP_WEIGHT * jump(p, c)
            follows = successor[p][:, None] == c[None, :]
            trans = np.where(follows, np.where(skip[p][:, None], SKIP_COST, 0.0), trans)
            trans = np.where(p[:, None] == c[None, :], HOLD_COST, trans)
            total = score[-1][:, None] + trans
            arg = np.argmin(total, axis=0)
            cand.append(c)
            score.append(total[arg, np.arange(c.size)] + unary)
            back.append(arg)
    offset = 1 if previous >= 0 else 0  # cand[0] is then the previous frame's choice
    path = np.empty(rows, np.int64)
    cost = np.empty(rows)
    j = int(np.argmin(score[-1]))
    for i in range(rows - 1, -1, -1):
        path[i] = cand[i + offset][j]
        cost[i] = unaries[i][j]
        j = int(back[i][j])
    return path, cost
