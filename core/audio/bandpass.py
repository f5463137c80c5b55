"""Zero-phase 4th-order Butterworth band-pass: scipy's ``sosfiltfilt`` without importing scipy.signal.

Voice activity and the AV-lag envelope (`mytalk.core.audio.activity`) band-pass every line. Importing
scipy.signal for that took about 0.7 s and 75 MB (it pulls scipy.stats and scipy.interpolate): a third
of a one-frame preview job, and the step that made a long range's peak memory exceed a short one's.
So for the rates and bands the pipeline uses (16 kHz analysis audio, 48 kHz output audio; the
300-4000 Hz voice band and the 1-4 kHz envelope band) the second-order sections are stored here,
exactly as ``scipy.signal.butter(4, band, btype="bandpass", fs=rate, output="sos")`` returns them,
and a signal is filtered by the same steps as ``scipy.signal.sosfiltfilt`` with its defaults: odd
extension by 3 * ntaps samples at both ends, initial states from ``sosfilt_zi`` scaled by the first
sample, and the recurrence of scipy's compiled ``sosfilt``, which `compiled_sosfilt` loads on its
own (20 ms, 2 MB). On x86-64 the result is the same to the last bit (tests/test_audio_bandpass.py
compares both the sections and the filtered signal with scipy).

A signal up to `LOOP_MAX_SAMPLES` (a one-frame preview's line) runs a Python loop with the compiled
loop's order of operations instead: cheaper than loading anything. Should this scipy not keep its
compiled loop where expected, a longer one, or a rate or band not in the table, goes to scipy.signal.

`butter4_bandpass_blocks` gives the same samples for a line of any length in bounded memory: a
ten-minute line filtered whole held four copies of itself in float64 (300 MB at 16 kHz). Both
passes are recurrences that carry four sections' state from one sample to the next, so they run
block by block with the state handed on, which is the same arithmetic in the same order; what one
pass needs of the other is recomputed from the state noted at each block's start, not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from mytalk.core.audio.blocks import BLOCK_SAMPLES
from mytalk.core.audio.compiled_sosfilt import compiled_sosfilt

LOOP_MAX_SAMPLES = 16_000
"""Longest signal filtered by the Python loop (1 s at 16 kHz); longer ones by scipy's compiled loop.

The loop costs about 1.8 µs a sample for both passes, so a one-frame preview's line takes a
millisecond or two, and needs not even scipy's top package (loading the compiled loop on its own
costs about 20 ms). From about 10 000 samples the compiled loop is the cheaper. Should it not be
loadable, a longer signal goes to scipy.signal, whose import (0.6 to 1 s) is then the cheaper."""

BUTTER4_BANDPASS_SOS: dict[tuple[int, float, float], tuple[tuple[float, ...], ...]] = {
    # (rate, low Hz, high Hz): scipy.signal.butter(4, (low, high), btype="bandpass", fs=rate, output="sos")
    (16000, 300.0, 4000.0): (
        (0.07357224074378527, 0.14714448148757053, 0.07357224074378527, 1.0, -0.11239013466717741, 0.05453766895422771),
        (1.0, 2.0, 1.0, 1.0, -0.021182850546376048, 0.48770895451090834),
        (1.0, -2.0, 1.0, 1.0, -1.7737956119733878, 0.7891432359010758),
        (1.0, -2.0, 1.0, 1.0, -1.9074295116981568, 0.9211292201379907),
    ),
    (16000, 1000.0, 4000.0): (
        (0.03797304141947668, 0.07594608283895336, 0.03797304141947668, 1.0, -0.36033432943426025, 0.17410929884676093),
        (1.0, 2.0, 1.0, 1.0, -1.2519264039358682, 0.4537872134492351),
        (1.0, -2.0, 1.0, 1.0, -0.04605835937495226, 0.5866228548586724),
        (1.0, -2.0, 1.0, 1.0, -1.6681205766493765, 0.8141384982137754),
    ),
    (48000, 300.0, 4000.0): (
        (0.0019625834485891766, 0.003925166897178353, 0.0019625834485891766, 1.0, -1.2828066225655128, 0.4317488602560051),
        (1.0, 2.0, 1.0, 1.0, -1.4936189502864712, 0.7164558489644023),
        (1.0, -2.0, 1.0, 1.0, -1.9208965767277966, 0.9228361685737493),
        (1.0, -2.0, 1.0, 1.0, -1.9720092918878296, 0.973582972404299),
    ),
    (48000, 1000.0, 4000.0): (
        (0.0009334986129548445, 0.001866997225909689, 0.0009334986129548445, 1.0, -1.4898664301055722, 0.6058549186354987),
        (1.0, 2.0, 1.0, 1.0, -1.7590923021412463, 0.7882947474424179),
        (1.0, -2.0, 1.0, 1.0, -1.5663049893617946, 0.7934291579247641),
        (1.0, -2.0, 1.0, 1.0, -1.9207510212497567, 0.9383583030307947),
    ),
}


SosKernel = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""One pass over a stretch of signal: (samples, section states) -> (output, states after the stretch)."""


def butter4_bandpass(samples: np.ndarray, rate: int, band: tuple[float, float]) -> np.ndarray:
    """``sosfiltfilt(butter(4, band, btype="bandpass", fs=rate, output="sos"), samples)``: (N,) float64.

    `samples` is 1-D and longer than 27 samples (scipy's default padding), as for scipy.
    """
    sos, kernel = _butter4_kernel(rate, band, np.asarray(samples).size)
    return _filtfilt(sos, kernel, np.asarray(samples, np.float64))


def _filtfilt(sos: np.ndarray, kernel: SosKernel, x: np.ndarray) -> np.ndarray:
    """scipy's ``sosfiltfilt`` of the 1-D float64 `x` with its default padding, each pass run by `kernel`:
    one block, the forward pass over the whole extended signal and then the backward one, as scipy runs them."""
    edge = _pad_length(sos)
    if x.ndim != 1 or x.size <= edge:
        raise ValueError(f"the signal must be 1-D and longer than {edge} samples (shape {x.shape})")
    ext = _OddExtended(lambda start, stop: x[start:stop], x.size, edge)
    return np.concatenate(list(_checkpointed_passes(kernel, sosfilt_zi(sos), ext, len(ext))))


def _butter4_kernel(rate: int, band: tuple[float, float], size: int) -> tuple[np.ndarray, SosKernel]:
    """The sections and the recurrence that filter a `size`-sample signal in `band`.

    The Python loop for a short signal with stored sections (`LOOP_MAX_SAMPLES`); scipy's compiled loop,
    loaded without scipy.signal (`compiled_sosfilt`), for the rest; scipy.signal's ``sosfilt`` should that
    not be loadable. All three give the same numbers, so a blocked result equals the whole one bit for
    bit whichever way it goes.
    """
    stored = BUTTER4_BANDPASS_SOS.get((int(rate), float(band[0]), float(band[1])))
    if stored is not None:
        sos = np.array(stored, np.float64)
    else:
        # Imported here, not at the top: see the module docstring. Only a rate or band the pipeline never uses.
        from scipy.signal import butter

        sos = np.asarray(butter(4, band, btype="bandpass", fs=rate, output="sos"), np.float64)
    if stored is not None and size <= LOOP_MAX_SAMPLES:
        return sos, lambda x, zi: _sosfilt4_state(sos, x, zi)
    compiled = compiled_sosfilt()
    if compiled is not None:
        return sos, lambda x, zi: compiled(sos, x, zi)
    from scipy.signal import sosfilt

    def kernel(x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y, zf = sosfilt(sos, x, zi=zi)
        return np.asarray(y, np.float64), np.asarray(zf, np.float64)

    return sos, kernel


def _pad_length(sos: np.ndarray) -> int:
    """scipy ``sosfiltfilt``'s default odd-extension length: 3 * (2 * sections + 1 - trailing zeros)."""
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * ntaps


def butter4_bandpass_blocks(read: Callable[[int, int], np.ndarray], size: int, rate: int, band: tuple[float, float],
                            *, block: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
    """``butter4_bandpass`` of a `size`-sample signal read piecewise, as consecutive blocks in time order.

    `read(start, stop)` returns samples [start, stop) as 1-D float64 (it is called several times
    for the same range). The blocks joined are `butter4_bandpass(read(0, size), rate, band)` bit for
    bit, while the memory held is a few blocks of `block` samples and two filter states per block,
    whatever `size` is. See `_checkpointed_passes` for how.
    """
    if block < 1:
        raise ValueError(f"block must be at least 1 sample, not {block}")
    sos, kernel = _butter4_kernel(rate, band, size)
    edge = _pad_length(sos)
    if size <= edge:
        raise ValueError(f"the signal must be longer than {edge} samples (it has {size})")
    return _checkpointed_passes(kernel, sosfilt_zi(sos), _OddExtended(read, size, edge), block)


class _OddExtended:
    """scipy's odd extension of a signal (`edge` samples rotated 180 degrees about each end sample
    added at both ends), read by ranges without building it."""

    def __init__(self, read: Callable[[int, int], np.ndarray], size: int, edge: int) -> None:
        head, tail = read(0, edge + 1), read(size - edge - 1, size)
        # The same expressions as scipy.signal._arraytools.odd_ext, so the same values.
        self._left = 2 * head[0:1] - head[edge:0:-1]
        self._right = 2 * tail[-1:] - tail[-2::-1]
        self._read, self.size, self.edge = read, size, edge

    def __len__(self) -> int:
        return self.size + 2 * self.edge

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) of the extended signal (index 0 is the first padding sample)."""
        edge, end = self.edge, self.edge + self.size
        parts = []
        if start < edge:
            parts.append(self._left[start : min(stop, edge)])
        if stop > edge and start < end:
            parts.append(self._read(max(start, edge) - edge, min(stop, end) - edge))
        if stop > end:
            parts.append(self._right[max(start, end) - end : stop - end])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _checkpointed_passes(kernel: SosKernel, zi: np.ndarray, ext: _OddExtended, block: int) -> Iterator[np.ndarray]:
    """The forward-backward filter of `ext`, yielded in time order with its padding cut off.

    The backward pass needs the forward output last sample first, and the result is wanted first
    sample first, so done whole it holds the line twice. Instead each pass runs once to note its
    filter state where each block starts (a checkpoint: eight numbers), and a block's output is
    recomputed from its checkpoint when it is needed: the same recurrence from the same state over
    the same samples, so the same numbers. A line of one block (every short line) is filtered once
    each way; a long one costs three forward and two backward passes instead of a copy of itself.
    """
    spans = [(start, min(start + block, len(ext))) for start in range(0, len(ext), block)]
    forward_states, last_forward = _forward_checkpoints(kernel, zi, ext, spans)
    backward_states, first_result = _backward_checkpoints(kernel, zi, ext, spans, forward_states, last_forward)
    del last_forward
    for k, (start, stop) in enumerate(spans):
        if k == 0:
            result, first_result = first_result, np.empty(0)
        else:
            forward = kernel(ext.read(start, stop), forward_states[k])[0]
            result = kernel(forward[::-1], backward_states[k])[0][::-1]
        low, high = max(start, ext.edge), min(stop, ext.edge + ext.size)
        if high > low:
            yield result[low - start : high - start]


def _forward_checkpoints(kernel: SosKernel, zi: np.ndarray, ext: _OddExtended,
                         spans: list[tuple[int, int]]) -> tuple[list[np.ndarray], np.ndarray]:
    """The forward state entering each block (from ``zi * ext[0]``, as scipy), and the last block's output."""
    states: list[np.ndarray] = []
    state = zi * ext.read(0, 1)
    output = np.empty(0)
    for start, stop in spans:
        states.append(state)
        output, state = kernel(ext.read(start, stop), state)
    return states, output


def _backward_checkpoints(kernel: SosKernel, zi: np.ndarray, ext: _OddExtended, spans: list[tuple[int, int]],
                          forward_states: list[np.ndarray], last_forward: np.ndarray,
                          ) -> tuple[list[np.ndarray], np.ndarray]:
    """The backward state entering each block from its end (from ``zi * forward[-1]``, as scipy), and the
    first block's result (the backward pass ends there, so it is at hand)."""
    states: list[np.ndarray] = [zi] * len(spans)
    state = zi * last_forward[-1:]
    output = np.empty(0)
    for k in range(len(spans) - 1, -1, -1):
        forward = last_forward if k == len(spans) - 1 else kernel(ext.read(*spans[k]), forward_states[k])[0]
        states[k] = state
        output, state = kernel(forward[::-1], state)
    return states, output[::-1]


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfilt_zi``: step-response steady state of each section, (n_sections, 2)."""
    zi = np.empty((sos.shape[0], 2), np.float64)
    scale = 1.0
    for section in range(sos.shape[0]):
        b, a = sos[section, :3], sos[section, 3:]
        # scipy.signal.lfilter_zi for a normalised section (a[0] == 1): solve zi = A zi + B, with A
        # the transposed companion matrix of a.
        companion = np.zeros((2, 2), np.float64)
        companion[0, :] = -a[1:] / (1.0 * a[0:1])
        companion[1, 0] = 1.0
        zi[section] = scale * np.linalg.solve(np.eye(2) - companion.T, b[1:] - a[1:] * b[0])
        scale *= np.sum(b) / np.sum(a)
    return zi


def sosfiltfilt_loop(sos: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, samples)`` with its defaults, for 4 normalised sections: (N,) float64."""
    if sos.shape != (4, 6) or not np.all(sos[:, 3] == 1.0):
        raise ValueError(f"sosfiltfilt_loop takes 4 normalised second-order sections, not shape {sos.shape}")
    return _filtfilt(sos, lambda x, zi: _sosfilt4_state(sos, x, zi), np.asarray(samples, np.float64))


def _sosfilt4_state(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.sosfilt(sos, x, zi=zi)`` for 4 sections: the output and the final states.

    The four sections run in one pass per sample (as scipy's loop does), on Python floats: the same
    IEEE double operations, in the same order, as scipy's ``_sosfilt``. The final states let a long
    signal be filtered a block at a time with the same result.
    """
    (b00, b01, b02, _, a01, a02), (b10, b11, b12, _, a11, a12), (b20, b21, b22, _, a21, a22), (
        b30, b31, b32, _, a31, a32) = sos.tolist()
    (s00, s01), (s10, s11), (s20, s21), (s30, s31) = zi.tolist()
    out: list[float] = []
    put = out.append
    for x0 in x.tolist():
        x1 = b00 * x0 + s00
        s00 = b01 * x0 - a01 * x1 + s01
        s01 = b02 * x0 - a02 * x1
        x2 = b10 * x1 + s10
        s10 = b11 * x1 - a11 * x2 + s11
        s11 = b12 * x1 - a12 * x2
        x3 = b20 * x2 + s20
        s20 = b21 * x2 - a21 * x3 + s21
        s21 = b22 * x2 - a22 * x3
        x4 = b30 * x3 + s30
        s30 = b31 * x3 - a31 * x4 + s31
        s31 = b32 * x3 - a32 * x4
        put(x4)
    return np.array(out, np.float64), np.array([[s00, s01], [s10, s11], [s20, s21], [s30, s31]], np.float64)
