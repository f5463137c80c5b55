"""Per-frame arrays read by windows (`core.frame_arrays`): what a long range's meshes and plan live in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mytalk.core.frame_arrays import FrameArray, FrameWindow, NpyFrames, ScratchFrames, read_row


def _rows(count: int = 40) -> np.ndarray:
    return np.random.default_rng(3).normal(size=(count, 5, 3)).astype(np.float32)


def test_every_kind_reads_the_same_windows_clipped_to_the_array(tmp_path: Path) -> None:
    rows = _rows()
    np.save(tmp_path / "rows.npy", rows)
    scratch = ScratchFrames(len(rows), rows.shape[1:], np.float32, folder=tmp_path)
    scratch.write(0, rows[:17])
    scratch.write(17, rows[17:])
    for source in (FrameArray(rows), NpyFrames(tmp_path / "rows.npy"), scratch):
        assert len(source) == 40 and source.row_shape == (5, 3)
        for start, stop in ((0, 40), (3, 9), (39, 40), (35, 60), (-5, 2), (12, 12)):
            np.testing.assert_array_equal(source.read(start, stop), rows[max(0, start) : min(40, stop)])
        np.testing.assert_array_equal(read_row(source, 21), rows[21])
    scratch.close()


def test_a_window_reads_its_rows_of_the_source_clipped_to_the_window(tmp_path: Path) -> None:
    rows = _rows()
    np.save(tmp_path / "rows.npy", rows)
    window = FrameWindow(NpyFrames(tmp_path / "rows.npy"), 10, 25)
    assert len(window) == 15 and window.row_shape == (5, 3)
    for start, stop in ((0, 15), (2, 6), (10, 40), (-3, 1), (7, 7)):
        np.testing.assert_array_equal(window.read(start, stop), rows[10:25][max(0, start) : min(15, stop)])
    np.testing.assert_array_equal(read_row(window, 0), rows[10])
    with pytest.raises(ValueError, match="not inside"):
        FrameWindow(FrameArray(rows), 30, 41)


def test_a_read_is_a_copy_that_the_reader_owns(tmp_path: Path) -> None:
    rows = _rows()
    for source in (FrameArray(rows), ScratchFrames(len(rows), rows.shape[1:], np.float32, folder=tmp_path)):
        window = source.read(0, 4)
        window[:] = 7.0
        assert not (source.read(0, 4) == 7.0).all()


def test_scratch_rows_start_as_the_fill_and_reject_rows_that_do_not_fit(tmp_path: Path) -> None:
    scratch = ScratchFrames(10, (2,), np.float64, folder=tmp_path, fill=np.nan)
    assert np.isnan(scratch.read(0, 10)).all()
    scratch.write(4, np.ones((2, 2)))
    assert np.isnan(scratch.read(0, 4)).all() and (scratch.read(4, 6) == 1.0).all() and np.isnan(scratch.read(6, 10)).all()
    with pytest.raises(ValueError, match="do not fit"):
        scratch.write(9, np.ones((2, 2)))
    with pytest.raises(ValueError, match="do not fit"):
        scratch.write(0, np.ones((1, 3)))


def test_scratch_rows_leave_no_file_behind(tmp_path: Path) -> None:
    """The scratch file has no name: a job that is killed leaves nothing for a clean-up to find."""
    scratch = ScratchFrames(1000, (166, 2), np.float64, folder=tmp_path)
    scratch.write(0, np.zeros((1000, 166, 2)))
    assert list(tmp_path.iterdir()) == []
    scratch.close()
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_or_fortran_npy_is_refused(tmp_path: Path) -> None:
    rows = _rows()
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        NpyFrames(path)
    np.save(path, np.asfortranarray(rows))
    with pytest.raises(ValueError, match="C-ordered"):
        NpyFrames(path)
