"""Remembered Delaunay triangulations (`classic.triangle_memo`): qhull's answer, bit for bit, without scipy.

A warm re-render of a range triangulates the same mean face again; remembering the answer lets it skip
importing scipy.spatial (about 0.35 s). What is remembered must be exactly what qhull gives, in its
order (the warp rasterises triangles in that order), and anything doubtful must go back to qhull.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from import_probe import modules_loaded_by
from mytalk.core.engines.classic import render, triangle_memo
from mytalk.core.engines.classic.render import MeshTopology
from mytalk.core.engines.classic.triangle_memo import memo_key, memo_path, remembered_triangulation
from mytalk.core.engines.classic.warp import triangulate
from mytalk.core.jobs.cleanup import clean_leftovers, own_folders
from mytalk.core.tempnames import temp_path
from mytalk.core.userdirs import user_dirs
from synthetic_face import canonical_face


def _templates() -> list[np.ndarray]:
    """Mean faces like a job's: the synthetic face at a few openings, jittered as tracking would."""
    rng = np.random.default_rng(11)
    return [canonical_face(opening)[:, :2] + rng.normal(0.0, 0.004, (478, 2)) for opening in (0.0, 0.1, 0.3)]


def _qhull_only(points: np.ndarray, folder: Path | None = None) -> np.ndarray:
    return triangulate(points)


def _no_qhull(points: np.ndarray) -> np.ndarray:
    raise AssertionError("qhull was called for points that were remembered")


def test_first_call_is_qhull_and_second_is_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    for n in (3, 4, 10, 60, 214):
        points = rng.uniform(-1.0, 1.0, (n, 2))
        expected = triangulate(points)
        first = remembered_triangulation(points, tmp_path)
        assert first.dtype == np.int64 and np.array_equal(first, expected)
        assert memo_path(points, tmp_path) == tmp_path / f"delaunay_{memo_key(points)}.npy"
        assert memo_path(points, tmp_path).is_file()
        with monkeypatch.context() as patch:
            patch.setattr(triangle_memo, "triangulate", _no_qhull)
            again = remembered_triangulation(points, tmp_path)
        assert again.dtype == np.int64 and np.array_equal(again, expected)


def test_mesh_topology_is_unchanged_by_the_memo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's topology from a remembered triangulation equals the one computed by qhull every time."""
    for template in _templates():
        with monkeypatch.context() as patch:
            patch.setattr(render, "remembered_triangulation", _qhull_only)
            expected = MeshTopology.from_template(template)
        missed = MeshTopology.from_template(template, tmp_path)
        with monkeypatch.context() as patch:
            patch.setattr(triangle_memo, "triangulate", _no_qhull)
            remembered = MeshTopology.from_template(template, tmp_path)
        for topology in (missed, remembered):
            for name in ("anchors", "ring", "triangles", "mouth_triangles"):
                got, want = getattr(topology, name), getattr(expected, name)
                assert got.dtype == want.dtype and np.array_equal(got, want), name


def test_the_default_folder_is_the_tracking_cache() -> None:
    """Beside the tracking results the template comes from, in a folder the clean-up scans."""
    template = _templates()[0]
    MeshTopology.from_template(template)
    folder = user_dirs().tracking_cache
    assert len(list(folder.glob("delaunay_*.npy"))) == 1
    assert folder in own_folders(user_dirs()), "the clean-up scans it for a killed writer's temporary file"


def test_the_key_is_the_exact_points() -> None:
    points = np.random.default_rng(1).uniform(0.0, 1.0, (20, 2))
    nudged = points.copy()
    nudged[7, 1] = np.nextafter(nudged[7, 1], 2.0)
    assert memo_key(points) != memo_key(nudged)
    assert memo_key(points) != memo_key(points[:19])
    assert memo_key(points) != memo_key(points.reshape(2, 20))
    assert memo_key(points) == memo_key(np.asfortranarray(points)) == memo_key(points.tolist())
    single = points.astype(np.float32)
    assert memo_key(single) == memo_key(single.astype(np.float64))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "out of range", "float", "object"])
def test_a_doubtful_entry_goes_back_to_qhull(tmp_path: Path, damage: str) -> None:
    points = np.random.default_rng(2).uniform(0.0, 1.0, (30, 2))
    expected = triangulate(points)
    path = memo_path(points, tmp_path)
    if damage == "garbage":
        path.write_bytes(b"not an array")
    elif damage == "truncated":
        remembered_triangulation(points, tmp_path)
        path.write_bytes(path.read_bytes()[:-7])
    elif damage == "wrong shape":
        np.save(path, expected.reshape(-1))
    elif damage == "out of range":
        np.save(path, expected + 30)
    elif damage == "float":
        np.save(path, expected.astype(np.float64))
    else:
        np.save(path, np.array([expected], dtype=object), allow_pickle=True)
    assert np.array_equal(remembered_triangulation(points, tmp_path), expected)
    assert np.array_equal(np.load(path, allow_pickle=False), expected), "the entry is rewritten"


def test_degenerate_points_are_not_remembered(tmp_path: Path) -> None:
    for points in (np.zeros((2, 2)), np.array([[0.0, 0.0], [1.0, np.nan], [0.0, 1.0]]),
                   np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])):
        assert remembered_triangulation(points, tmp_path).shape == (0, 3)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_that_cannot_be_written_only_costs_qhull(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    points = np.random.default_rng(3).uniform(0.0, 1.0, (25, 2))
    assert np.array_equal(remembered_triangulation(points, blocked), triangulate(points))


def test_a_killed_writers_leftover_is_cleaned() -> None:
    folder = user_dirs().ensure(user_dirs().tracking_cache)
    leftover = temp_path(folder / "delaunay_0123456789abcdef0123456789abcdef.npy")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = leftover.with_name(leftover.name.replace(f"-{os.getpid()}-", f"-{dead.stdout.strip()}-"))
    leftover.write_bytes(b"half an entry")
    report = clean_leftovers()
    assert leftover in report.removed and not leftover.exists()


def test_a_remembered_topology_needs_no_scipy(tmp_path: Path) -> None:
    template = _templates()[1]
    MeshTopology.from_template(template, tmp_path)
    np.save(tmp_path / "template.npy", template)
    assert modules_loaded_by(
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from mytalk.core.engines.classic.render import MeshTopology\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "MeshTopology.from_template(np.load(folder / 'template.npy'), folder)\n") == []
