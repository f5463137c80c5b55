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


DESCRIPTOR_SIZE = 2 * len(LIPS_POS) + 1
"""Floats per frame of `shape_descriptors`: each lip point's (x, y), and the gap."""


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
) -> Selection:
    """Viterbi over candidate reference mouths.

    index_desc (K, D) descriptors of the appearance entries, index_block / index_frame (K,) where
    each entry comes from (for "the next frame of the same take"). target_desc (T, D); valid (T,)
    frames to fill (runs of valid frames are solved independently).
    """
    k_total = index_desc.shape[0]
    t_total = target_desc.shape[0]
    choice = np.full(t_total, -1, np.int64)
    cost_out = np.full(t_total, np.nan)
    if k_total == 0:
        return Selection(choice, np.full(t_total, -1, np.int64), np.zeros(t_total), cost_out, {"switches": 0})
    # successor[k]: entry showing the next frame of the same take (frame + 1, else + 2), or -1.
    key = {(int(b), int(f)): k for k, (b, f) in enumerate(zip(index_block, index_frame, strict=True))}
    successor = np.full(k_total, -1, np.int64)
    skip = np.zeros(k_total, bool)
    for k, (b, f) in enumerate(zip(index_block, index_frame, strict=True)):
        nxt = key.get((int(b), int(f) + 1))
        if nxt is None:
            nxt = key.get((int(b), int(f) + 2))
            skip[k] = nxt is not None
        successor[k] = -1 if nxt is None else nxt
    jump = JumpDistances(index_desc)

    t = 0
    switches = 0
    while t < t_total:
        if not valid[t]:
            t += 1
            continue
        end = t
        while end < t_total and valid[end]:
            end += 1
        run = np.arange(t, end)
        dist_all = pairwise_distance(target_desc[run], index_desc)  # (R, K)
        k_near = min(candidates, k_total)
        near = np.argsort(dist_all, axis=1)[:, :k_near]
        cand: list[np.ndarray] = []
        score: list[np.ndarray] = []
        back: list[np.ndarray] = []
        for i in range(run.size):
            c = near[i]
            if i > 0:
                prev_succ = successor[cand[-1]]
                c = np.unique(np.concatenate([c, prev_succ[prev_succ >= 0]]))
            unary = dist_all[i, c]
            if i == 0:
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
        j = int(np.argmin(score[-1]))
        for i in range(run.size - 1, -1, -1):
            choice[run[i]] = cand[i][j]
            cost_out[run[i]] = dist_all[i, cand[i][j]]
            j = int(back[i][j])
        t = end
    fade_from = np.full(t_total, -1, np.int64)
    fade_weight = np.zeros(t_total)
    for i in range(1, t_total):
        a, b = choice[i - 1], choice[i]
        if a < 0 or b < 0 or a == b or successor[a] == b:
            continue
        switches += 1
        if fade:
            fade_from[i] = successor[a] if successor[a] >= 0 else a
            fade_weight[i] = 0.5
    finite = cost_out[np.isfinite(cost_out)]
    stats = {"switches": switches, "entries_used": int(np.unique(choice[choice >= 0]).size),
             "mean_shape_distance_iod": round(float(finite.mean()), 4) if finite.size else None}
    return Selection(choice, fade_from, fade_weight, cost_out, stats)
