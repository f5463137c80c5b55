"""Retrieval's Viterbi solved a window at a time (`retrieval.select_path`, `PATH_WINDOW`).

A run of valid frames no longer than a window and its lookahead is solved in one piece, as before: the
path must be the very one of the whole-run Viterbi (written out below as it was). A longer run is
decided a window at a time, read back from the lookahead and continued from the window's last choice:
its path must cost (target distances plus transitions) within a fraction of a percent of the optimum,
and agree with it almost everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from mytalk.core.engines.classic import retrieval
from mytalk.core.engines.classic.retrieval import (
    HOLD_COST,
    JUMP_WEIGHT,
    PATH_LOOKAHEAD,
    PATH_WINDOW,
    SKIP_COST,
    SWITCH_COST,
    pairwise_distance,
    select_path,
)


def _successors(block: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = {(int(b), int(f)): k for k, (b, f) in enumerate(zip(block, frame, strict=True))}
    successor = np.full(block.size, -1, np.int64)
    skip = np.zeros(block.size, bool)
    for k, (b, f) in enumerate(zip(block, frame, strict=True)):
        nxt = key.get((int(b), int(f) + 1))
        if nxt is None:
            nxt = key.get((int(b), int(f) + 2))
            skip[k] = nxt is not None
        successor[k] = -1 if nxt is None else nxt
    return successor, skip


def _whole_run_choice(desc: np.ndarray, block: np.ndarray, frame: np.ndarray, target: np.ndarray,
                      valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Viterbi as it was before windows: every run in one piece, its (R, K) distances at once."""
    successor, skip = _successors(block, frame)
    jumps = pairwise_distance(desc, desc)
    choice = np.full(target.shape[0], -1, np.int64)
    cost_out = np.full(target.shape[0], np.nan)
    t = 0
    while t < target.shape[0]:
        if not valid[t]:
            t += 1
            continue
        end = t
        while end < target.shape[0] and valid[end]:
            end += 1
        run = np.arange(t, end)
        dist_all = pairwise_distance(target[run], desc)
        near = np.argsort(dist_all, axis=1)[:, : min(retrieval.CANDIDATES, desc.shape[0])]
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
            trans = SWITCH_COST + JUMP_WEIGHT * jumps[p[:, None], c[None, :]]
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
    return choice, cost_out


def _path_cost(desc: np.ndarray, block: np.ndarray, frame: np.ndarray, target: np.ndarray,
               choice: np.ndarray) -> float:
    """What the Viterbi minimises over a run of valid frames: distances to the targets plus transitions."""
    successor, skip = _successors(block, frame)
    total = float(pairwise_distance(target, desc)[np.arange(choice.size), choice].sum())
    for a, b in zip(choice[:-1], choice[1:], strict=True):
        if a == b:
            total += HOLD_COST
        elif successor[a] == b:
            total += SKIP_COST if skip[a] else 0.0
        else:
            total += SWITCH_COST + JUMP_WEIGHT * float(pairwise_distance(desc[a : a + 1], desc[b : b + 1])[0, 0])
    return total


def _index(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K mouth descriptors in takes of 20 consecutive frames (some with a dropped frame)."""
    desc = rng.normal(0.0, 0.05, (k, 81))
    block = np.repeat(np.arange(k // 20 + 1), 20)[:k]
    frame = np.arange(k) % 20 + (rng.random(k) < 0.1)
    return desc, block, np.cumsum(frame > 0) + frame


def _speech_like(rng: np.random.Generator, desc: np.ndarray, frames: int) -> np.ndarray:
    """Targets that drift smoothly between the index's shapes, as a plan's mouths do."""
    keys = desc[rng.integers(0, desc.shape[0], frames // 6 + 2)]
    t = np.arange(frames) / 6.0
    low = np.floor(t).astype(int)
    w = (t - low)[:, None]
    return (1 - w) * keys[low] + w * keys[low + 1] + rng.normal(0.0, 0.005, (frames, desc.shape[1]))


@pytest.mark.parametrize("frames", [1, 5, 300, PATH_WINDOW + PATH_LOOKAHEAD])
def test_a_run_within_one_window_keeps_the_whole_run_path(frames: int) -> None:
    rng = np.random.default_rng(frames)
    for k in (3, 120):
        desc, block, frame = _index(rng, k)
        target = _speech_like(rng, desc, frames)
        valid = rng.random(frames) > 0.05
        got = select_path(desc, block, frame, target, valid)
        choice, cost = _whole_run_choice(desc, block, frame, target, valid)
        assert np.array_equal(got.choice, choice)
        assert np.array_equal(got.target_cost, cost, equal_nan=True)


@pytest.mark.parametrize(("window", "lookahead"), [(40, 30), (100, 50), (PATH_WINDOW, PATH_LOOKAHEAD)])
def test_a_long_run_in_windows_costs_what_the_whole_run_path_costs(window: int, lookahead: int) -> None:
    rng = np.random.default_rng(window)
    desc, block, frame = _index(rng, 200)
    frames = max(1500, 3 * (window + lookahead))
    target = _speech_like(rng, desc, frames)
    valid = np.ones(frames, bool)
    got = select_path(desc, block, frame, target, valid, window=window, lookahead=lookahead)
    best, _ = _whole_run_choice(desc, block, frame, target, valid)
    assert (got.choice >= 0).all()
    optimum = _path_cost(desc, block, frame, target, best)
    windowed = _path_cost(desc, block, frame, target, got.choice)
    assert optimum <= windowed + 1e-9  # the whole-run path is the optimum: a check of the cost written here
    assert windowed <= optimum * 1.002, (windowed, optimum)
    assert (got.choice == best).mean() >= 0.97, (got.choice == best).mean()


def test_fed_a_few_frames_at_a_time_the_path_is_select_paths() -> None:
    """A streamed job feeds the search a planning window at a time: a choice, once decided, is final and
    is the one `select_path` makes with every frame at once."""
    rng = np.random.default_rng(11)
    desc, block, frame = _index(rng, 150)
    frames = 900
    target = _speech_like(rng, desc, frames)
    valid = np.ones(frames, bool)
    valid[[100, 101, 102, 500]] = False  # runs of several lengths, one longer than a window and its lookahead
    expected = select_path(desc, block, frame, target, valid, window=60, lookahead=25, fade=True)
    search = retrieval.PathSearch(desc, block, frame, frames, window=60, lookahead=25, fade=True)
    begin, decided = 0, 0
    while begin < frames:
        end = min(frames, begin + int(rng.integers(1, 90)))
        now = search.add(target[begin:end], valid[begin:end])
        assert decided <= now <= end
        assert np.array_equal(search.selection.choice[:now], expected.choice[:now])
        # A frame of a long run is decided once the lookahead past its window is in, not at the run's end.
        assert now >= end - (60 + 25)
        decided, begin = now, end
    got = search.finish()
    for name in ("choice", "fade_from", "fade_weight", "target_cost"):
        assert np.array_equal(getattr(got, name), getattr(expected, name), equal_nan=True), name
    assert got.stats == expected.stats and got.stats["switches"] > 0
