"""An interlaced frame's moving mouth is painted from one instant (`composite.one_instant`).

A 1080i frame's two fields are 1/50 s apart, in alternate rows: a mouth that moves between them is combed.
The classic engine warped and pasted such pictures whole, and each field of the render then showed
streaks (`docs/fidelity.md`). The pictures it paints from are now taken to the upper field's instant
where the fields disagree, and kept where they agree.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from woven_fields import woven_clip

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.composite.one_instant import COMB_LEVEL, one_instant


def _combed(shift: int, first_row: int = 0, size: tuple[int, int] = (24, 32)) -> tuple[np.ndarray, np.ndarray]:
    """(frame rows [first_row, first_row + h) of a woven picture, the upper field's own picture): a bright
    square on grey, moved `shift` px right in the lower field (odd frame rows)."""
    h, w = size
    upper = np.full((h, w, 3), 0.4, np.float32)
    lower = upper.copy()
    upper[6:18, 8:20] = 0.9
    lower[6:18, 8 + shift : 20 + shift] = 0.9
    woven = upper.copy()
    odd = (np.arange(h) + first_row) % 2 == 1
    woven[odd] = lower[odd]
    return woven, upper


@pytest.mark.parametrize("first_row", [0, 1, 7])
def test_rows_where_the_fields_disagree_take_the_upper_fields_instant_and_the_rest_are_kept(first_row: int) -> None:
    woven, upper = _combed(shift=3, first_row=first_row)
    out = one_instant(woven, first_row)
    rows = np.arange(woven.shape[0])
    odd = (rows + first_row) % 2 == 1
    inner = odd & (rows > 0) & (rows < woven.shape[0] - 1)
    # Inside the square's rows the lower field is interpolated from the upper field, which there is the
    # upper picture itself (its rows above and below agree).
    core = inner & (rows > 6) & (rows < 17)
    assert np.array_equal(out[core], upper[core])
    assert np.array_equal(out[~odd], woven[~odd]), "the upper field is never touched"
    assert np.array_equal(out[odd & ~inner], woven[odd & ~inner]), "a row at the box's edge is kept"
    assert np.array_equal(out[:, 24:], woven[:, 24:]), "where the fields agree, nothing changes"


def test_a_still_picture_and_a_smooth_ramp_are_kept_whole() -> None:
    rng = np.random.default_rng(2)
    ramp = np.linspace(0.1, 0.9, 40, dtype=np.float32)[:, None, None] * np.ones((40, 30, 3), np.float32)
    noisy = ramp + rng.uniform(-COMB_LEVEL / 2, COMB_LEVEL / 2, ramp.shape).astype(np.float32)
    for picture in (ramp, noisy, _combed(shift=0)[0]):
        assert np.array_equal(one_instant(picture, 0), picture)
        assert np.array_equal(one_instant(picture, 1), picture)


def _combed_share(source: list[np.ndarray], render: list[np.ndarray]) -> float:
    """Of the lower-field pixels the render changed, the share the comb test flags in the render."""
    flagged, total = 0, 0
    for before, after in zip(source, render, strict=True):
        changed = np.abs(after - before).max(axis=-1) > 0
        changed[0::2] = False  # lower-field rows only
        changed[0], changed[-1] = False, False
        ys, xs = np.nonzero(changed)
        up, down = after[ys - 1, xs] - after[ys, xs], after[ys + 1, xs] - after[ys, xs]
        combed = (((up > COMB_LEVEL) & (down > COMB_LEVEL)) | ((up < -COMB_LEVEL) & (down < -COMB_LEVEL))).any(-1)
        flagged += int(combed.sum())
        total += ys.size
    return flagged / max(total, 1)


@pytest.mark.media
def test_the_painted_mouth_of_an_interlaced_clip_whose_fields_move_is_not_combed(tmp_path: Path) -> None:
    """Measured on this clip: 19 % of the painted lower-field pixels were combed before (the source's moving
    mouth: 30 %), 5 % now, about the share the comb test flags in still fields' texture."""
    clip = woven_clip(tmp_path / "woven_1080i.mov", 30)
    out = tmp_path / "fixed.mkv"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", "0", "--out", "30", "--quiet")
    assert result.code == 0, result.stderr

    def rgb(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24").astype(np.float32) / 255 for f in container.decode(video=0)]

    source, render = rgb(clip), rgb(out)
    assert len(render) == 30
    share = _combed_share(source, render)
    assert share < 0.10, f"{share:.1%} of the painted lower-field pixels are combed"
