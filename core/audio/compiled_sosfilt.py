"""scipy's compiled second-order-section loop, loaded without importing the scipy.signal package.

Why: voice activity and the AV-lag envelope band-pass every line (`mytalk.core.audio.bandpass`).
``import scipy.signal`` runs the whole package's initialisation, which pulls in scipy.stats,
scipy.interpolate and scipy.optimize: about 0.7 s and 75 MB of resident memory on our CI machine,
paid once per job by any line over 10 s. In a job that was about 45 MB of the peak (20 MB more of
mapped libraries, 25 MB of Python objects traced), which a 10 s range did not pay: the largest step
between a short range's peak memory and a long one's (issue #15's bar is +10 %). The filter itself is one small Cython extension,
``scipy/signal/_sosfilt``, that needs nothing but numpy; loaded on its own it costs about 20 ms and
2 MB, and it runs the very same machine code as ``scipy.signal.sosfilt``, so the numbers are
identical.

It is loaded under its own name, ``scipy.signal._sosfilt``, and registered in ``sys.modules`` there:
a later ``import scipy.signal`` (a test, another engine) then finds it and uses this one instance
rather than initialising the extension a second time, which Cython modules refuse. When the
extension is not where this scipy keeps it (another layout, another version) this returns None and
the caller filters by other means (`bandpass`: its exact Python loop, or scipy.signal itself).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODULE_NAME = "scipy.signal._sosfilt"
"""The extension's own module name: its init function is derived from it, and scipy.signal imports it by it."""

SosFilter = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(sos (S, 6), x (N,), zi (S, 2)) -> (y (N,), final states (S, 2)), all float64."""


def _extension_path() -> Path | None:
    """Where the installed scipy keeps the compiled loop, or None."""
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = Path(folder) / "signal" / f"_sosfilt{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _load_module() -> object | None:
    """The extension module: the one already imported (by scipy.signal or an earlier call), else loaded."""
    loaded = sys.modules.get(MODULE_NAME)
    if loaded is not None:
        return loaded
    path = _extension_path()
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError:
        return None
    # setdefault: were two threads to load it at once, both use the instance registered first.
    return sys.modules.setdefault(MODULE_NAME, module)


def compiled_sosfilt() -> SosFilter | None:
    """``scipy.signal.sosfilt(sos, x, zi=zi)`` for a 1-D float64 signal, by scipy's compiled loop; None when
    this scipy does not have it where expected (the caller then filters by other means).

    The arrays are prepared as ``sosfilt`` prepares them (a C-contiguous float64 copy of the signal as one
    row, the states as (1, S, 2)), and the loop works on those copies in place."""
    module = _load_module()
    loop = getattr(module, "_sosfilt", None)
    if not callable(loop):
        return None

    def run(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sections = np.asarray(sos, np.float64)
        signal = np.array(np.asarray(x, np.float64).reshape(1, -1), np.float64, order="C")
        states = np.array(np.asarray(zi, np.float64).reshape(1, sections.shape[0], 2), np.float64, order="C")
        loop(sections, signal, states)
        return signal[0], states[0]

    return run
