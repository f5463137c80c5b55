"""The retrieval's jump distances computed a row at a time (`retrieval.JumpDistances`), not as a whole table.

A one-frame job used to spend about 75 ms on the (K, K) table of jumps between the actor's mouths, and
looked none of it up. The rows now come when the Viterbi first needs them; they must be the very numbers
of the whole table, so the chosen path and its costs cannot change.
"""

from __future__ import annotations

import numpy as np
import pytest

from mytalk.core.engines.classic import retrieval
from mytalk.core.engines.classic.retrieval import JumpDistances, pairwise_distance, select_path


class _WholeTable:
    """The previous behaviour: every jump computed up front."""

    def __init__(self, index_desc: np.ndarray) -> None:
        self.table = pairwise_distance(index_desc, index_desc)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.table[a[:, None], b[None, :]]


def _index(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K mouth descriptors in takes of consecutive frames (some with a dropped frame), like a profile's."""
    desc = rng.normal(0.0, 0.05, (k, 81))
    block = np.repeat(np.arange(k // 20 + 1), 20)[:k]
    frame = np.arange(k) % 20 + (rng.random(k) < 0.1)
    return desc, block, np.cumsum(frame > 0) + frame


def test_rows_are_the_whole_tables_rows() -> None:
    rng = np.random.default_rng(0)
    for k in (1, 2, 9, 64, 65, 150, 401):
        desc = rng.normal(0.0, 0.05, (k, 81))
        whole = pairwise_distance(desc, desc)
        jumps = JumpDistances(desc)
        for _ in range(30):
            a = rng.integers(0, k, int(rng.integers(1, 20)))
            b = rng.integers(0, k, int(rng.integers(1, 20)))
            assert np.array_equal(jumps(a, b), whole[a[:, None], b[None, :]])
        assert jumps.known.sum() <= k


@pytest.mark.parametrize("frames", [1, 2, 7, 60, 300])
def test_the_path_is_unchanged(frames: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(frames)
    for k in (5, 80, 250):
        desc, block, frame = _index(rng, k)
        target = desc[rng.integers(0, k, frames)] + rng.normal(0.0, 0.01, (frames, 81))
        valid = rng.random(frames) > 0.1
        for fade in (False, True):
            got = select_path(desc, block, frame, target, valid, fade=fade)
            with monkeypatch.context() as patch:
                patch.setattr(retrieval, "JumpDistances", _WholeTable)
                expected = select_path(desc, block, frame, target, valid, fade=fade)
            for name in ("choice", "fade_from", "fade_weight", "target_cost"):
                assert np.array_equal(getattr(got, name), getattr(expected, name), equal_nan=True), name
            assert got.stats == expected.stats


def test_a_single_frame_computes_no_jump(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    desc, block, frame = _index(rng, 300)
    made: list[JumpDistances] = []

    class Spy(JumpDistances):
        def __init__(self, index_desc: np.ndarray) -> None:
            super().__init__(index_desc)
            made.append(self)

    monkeypatch.setattr(retrieval, "JumpDistances", Spy)
    select_path(desc, block, frame, desc[:1], np.ones(1, bool))
    assert len(made) == 1 and not made[0].known.any()
