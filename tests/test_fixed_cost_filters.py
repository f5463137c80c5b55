"""`mytalk.core.ndfilters.gaussian_filter1d` against scipy.ndimage's, bit for bit.

It exists so a classic job need not import scipy.ndimage (about 0.25 s of a warm one-frame job); the
motion plan, the retrieval weight and every driver smooth with it, so any difference would move
pixels. The comparisons are exact (``np.array_equal``), on the kernel taps and on the filtered data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.ndimage import _filters as scipy_filters
from scipy.ndimage import gaussian_filter1d as scipy_gaussian_filter1d

from import_probe import modules_loaded_by
from mytalk.core.ndfilters import gaussian_filter1d, gaussian_kernel1d, kernel_radius

MODES = ("reflect", "nearest", "constant")
SIGMAS = (0.05, 0.3, 0.6, 0.7, 1.0, 1.2, 1.5, 2.0, 3.3, 7.0, 20.0)
"""Tiny (a one-tap kernel), the callers' values (0.6-1.5 frames) and kernels longer than the data."""


def _same(expected: np.ndarray, got: np.ndarray) -> bool:
    return expected.dtype == got.dtype and expected.shape == got.shape and bool(np.array_equal(expected, got))


@pytest.mark.parametrize("sigma", [*SIGMAS, 1, 2, np.float64(0.7)])
def test_kernel_taps_are_scipys(sigma: float) -> None:
    radius = kernel_radius(sigma)
    expected = scipy_filters._gaussian_kernel1d(sigma, 0, radius)
    got = gaussian_kernel1d(sigma, radius)
    assert radius == int(4.0 * float(sigma) + 0.5)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(got, got[::-1]), "exactly symmetric: scipy takes its symmetric loop"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_one_dimensional_sequences(dtype: type, mode: str) -> None:
    rng = np.random.default_rng(len(mode))
    for length in (1, 2, 3, 5, 8, 13, 40, 200):
        for sigma in SIGMAS:
            x = (rng.standard_normal(length) * rng.choice([1e-3, 1.0, 1e3])).astype(dtype)
            cval = float(rng.standard_normal())
            expected = scipy_gaussian_filter1d(x, sigma, mode=mode, cval=cval)
            assert _same(expected, gaussian_filter1d(x, sigma, mode=mode, cval=cval)), (length, sigma)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_axis_of_landmark_tracks(dtype: type) -> None:
    """The motion plan smooths (T, P, 2) tracks along time; the phonetic driver (T, C) along axis 0."""
    rng = np.random.default_rng(7)
    for shape in [(30, 478, 2), (7, 5), (2, 3, 4), (1, 9), (50, 1)]:
        x = rng.normal(100.0, 20.0, shape).astype(dtype)
        for axis in range(-len(shape), len(shape)):
            for mode in MODES:
                expected = scipy_gaussian_filter1d(x, 1.2, axis=axis, mode=mode)
                got = gaussian_filter1d(x, 1.2, axis=axis, mode=mode)
                assert _same(expected, got) and got.flags.c_contiguous, (shape, axis, mode)


def test_many_random_inputs() -> None:
    rng = np.random.default_rng(2024)
    for _ in range(1500):
        ndim = int(rng.integers(1, 4))
        shape = tuple(int(rng.integers(1, 12 if ndim > 1 else 80)) for _ in range(ndim))
        x = (rng.standard_normal(shape) * rng.choice([1e-6, 1.0, 1e6])).astype(rng.choice([np.float32, np.float64]))
        axis = int(rng.integers(-ndim, ndim))
        mode = str(rng.choice(MODES))
        sigma = float(rng.uniform(0.01, 30.0))
        truncate = float(rng.choice([4.0, 2.5, 1.0]))
        expected = scipy_gaussian_filter1d(x, sigma, axis=axis, mode=mode, cval=0.5, truncate=truncate)
        got = gaussian_filter1d(x, sigma, axis=axis, mode=mode, cval=0.5, truncate=truncate)
        assert _same(expected, got), (shape, axis, mode, sigma, truncate)


def test_special_values_and_views() -> None:
    """Non-finite values spread as in scipy; a strided view filters like its copy; the input is kept."""
    x = np.array([0.0, 1.0, np.nan, 3.0, np.inf, 5.0, -np.inf, 7.0, 8.0, 9.0, 1e308, 1e308])
    for mode in MODES:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # silent, as scipy is
            got = gaussian_filter1d(x, 0.8, mode=mode)
        assert np.array_equal(scipy_gaussian_filter1d(x, 0.8, mode=mode), got, equal_nan=True)
    base = np.random.default_rng(3).standard_normal((20, 6))
    view = base[::2, 1::2]
    before = view.copy()
    assert _same(scipy_gaussian_filter1d(view, 1.0, axis=0, mode="nearest"),
                 gaussian_filter1d(view, 1.0, axis=0, mode="nearest"))
    assert np.array_equal(view, before)


def test_empty_input_and_bad_arguments() -> None:
    empty = np.zeros((0, 3), np.float32)
    assert _same(scipy_gaussian_filter1d(empty, 1.0, axis=0), gaussian_filter1d(empty, 1.0, axis=0))
    with pytest.raises(TypeError):
        gaussian_filter1d(np.arange(5), 1.0)
    with pytest.raises(ValueError):
        gaussian_filter1d(np.zeros(5), 1.0, mode="wrap")  # type: ignore[arg-type]


def test_classic_smoothing_modules_import_no_scipy() -> None:
    """Importing the classic engine's drivers, motion and retrieval (and using the filter) loads no scipy."""
    assert modules_loaded_by(
        "import numpy as np\n"
        "import mytalk.core.engines.classic.motion, mytalk.core.engines.classic.retrieval\n"
        "import mytalk.core.engines.classic.guide_driver, mytalk.core.engines.classic.phonetic_driver\n"
        "import mytalk.core.engines.classic.speech_driver\n"
        "from mytalk.core.ndfilters import gaussian_filter1d\n"
        "gaussian_filter1d(np.ones((5, 3)), 1.0, axis=0, mode='nearest')\n") == []
