"""Lip-shape error against ground truth: shared by the shift and adr protocols.

Ground truth at output frame t is the source's lip points at source frame `truth(t)`, a
fractional frame (t − D·fps in shift, the re-timed map in adr), linearly interpolated between the
two neighbouring frames of a source track of the whole window. The do-nothing baseline is the
source's own lips at frame t, tracked over exactly the output's range so that a do-nothing
output (same pixels, same range) gets exactly the same landmarks and a ratio of exactly 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.contact_sheet import Panel, SheetRow, pick_frames, write_sheet
from benchmarks.eval.landmarks import Track
from benchmarks.eval.metrics import error_ratio, lip_error, sample_points, shape_error
from benchmarks.eval.protocols.base import ClipContext, halves_mask


def lip_figures(
    window_track: Track, range_track: Track, out_track: Track, truth: np.ndarray, only: np.ndarray | None = None
) -> dict[str, Any]:
    """Full and shape-only error ratios, overall and per half.

    truth: (T,) source frame (fractional, NaN where undefined) per output frame.
    only: (T,) bool, the frames to score (default: all with a face in output, source and truth).
    Returns {"full": ErrorRatio dict, "shape": ..., "halves": {"ratio": [a, b], "shape_ratio": [a, b]}}.
    """
    gt = sample_points(window_track.lips(), truth - window_track.start)
    out, src = out_track.lips(), range_track.lips()
    n = min(len(out), len(src), gt.shape[0])
    gt, out, src = gt[:n], out[:n], src[:n]
    usable = np.isfinite(gt).all(axis=(1, 2)) & np.isfinite(src).all(axis=(1, 2)) & np.isfinite(out).all(axis=(1, 2))
    if only is not None:
        usable &= only[:n]
    full_tool, full_base = lip_error(out, gt), lip_error(src, gt)
    shape_tool, shape_base = shape_error(out, gt), shape_error(src, gt)
    full = error_ratio(full_tool, full_base, usable)
    shape = error_ratio(shape_tool, shape_base, usable)
    first, second = halves_mask(n)
    halves = {
        "ratio": [error_ratio(full_tool, full_base, usable & m).ratio for m in (first, second)],
        "shape_ratio": [error_ratio(shape_tool, shape_base, usable & m).ratio for m in (first, second)],
    }
    # Frames where the output lost the face but the source had one are a finding, not noise.
    lost = int((np.isfinite(src).all(axis=(1, 2)) & ~np.isfinite(out).all(axis=(1, 2))).sum())
    return {"full": full.to_dict(), "shape": shape.to_dict(), "halves": halves, "output_face_lost": lost,
            "frames_without_truth": int((~np.isfinite(gt).all(axis=(1, 2))).sum())}


def truth_sheet(
    ctx: ClipContext, path: Path, title: str, output: Path, start: int, range_track: Track, truth: np.ndarray
) -> Path | None:
    """Rows of source t | ground truth | output t, cropped to the source mouth box at t."""
    rows = []
    for offset in pick_frames(range_track.found):
        box = range_track.mouth_box(start + offset, scale=1.6)
        if box is None:
            continue
        panels = [Panel("source", ctx.info.path, start + offset)]
        if np.isfinite(truth[offset]):
            panels.append(Panel("truth", ctx.info.path, int(np.floor(truth[offset] + 0.5))))
        panels.append(Panel("output", output, offset))
        rows.append(SheetRow(f"t={start + offset}", box, tuple(panels)))
    return write_sheet(path, title, rows)
