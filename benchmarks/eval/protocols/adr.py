"""adr (guide alignment): can the tool follow a re-timed version of the production line?

Same range and references as shift, but the replacement is the clip's own line re-timed: pauses
between words stretched or shortened by 100-300 ms (`retime.py`), and the guide is on, so the
tool hears the production sound of the range and can align the new line to it. Because words are
copied sample for sample, the ground truth is exact: at output frame t the right mouth is the
source mouth at the re-timed map's source time.

Reported: lip-shape error against that ground truth ÷ do-nothing's, full and shape-only, over
the frames the re-timing moves by at least one frame (the figure over all frames is kept in the
detail). Target (evaluation.md): ratio under 0.3. Frames after a shortened line has ended have no
ground truth and are left out. Plan fidelity (`base.plan_figures`) is reported as in shift.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.eval.mediaio import LINE_RATE, write_wav
from benchmarks.eval.protocols.base import ClipContext, failed, not_applicable, output_name, plan_figures
from benchmarks.eval.protocols.groundtruth import lip_figures, truth_sheet
from benchmarks.eval.retime import retime_line
from benchmarks.eval.tools import Tool, ToolJob

NAME = "adr"


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = ctx.folder(NAME)
    start, stop = ctx.edit_range()
    n = stop - start
    own = ctx.own_segment(float(start / ctx.fps), n, LINE_RATE)
    retimed = retime_line(own, LINE_RATE, seed=ctx.seed)
    line_path = folder / "line.wav"
    write_wav(line_path, retimed.samples, LINE_RATE)
    fps = float(ctx.fps)

    def truth(offsets: np.ndarray) -> np.ndarray:
        # Output frame t shows line time t/fps (the line starts at the in point).
        return start + retimed.time_map.source_time(np.asarray(offsets, np.float64) / fps) * fps

    stem = output_name(tool, NAME)
    job = ToolJob(
        video=ctx.info.path, audio=line_path, output=folder / f"{stem}.mkv", report=folder / f"{stem}.json",
        start=start, stop=stop, guide="auto", references=(f"0-{start}",), codec=ctx.settings.codec, truth=truth,
    )
    tool_run = tool.run(job)
    if not tool_run.ok:
        return failed(tool_run, NAME)

    window_track = ctx.source_track(0, stop)
    range_track = ctx.source_track(start, stop)
    out_track = ctx.store.track(job.output, 0, n, ctx.fps)
    truth_frames = truth(np.arange(n))
    # Score only the frames the re-timing moves by a frame or more. Elsewhere the right mouth is
    # the source's own, do-nothing is already right, and both errors are tracker noise alone
    # (0.002-0.005 IOD): counting those frames would only dilute the figure towards noise/noise.
    moved = np.abs(truth_frames - (start + np.arange(n)))
    lips = lip_figures(window_track, range_track, out_track, truth_frames, only=moved >= 1.0)
    every = lip_figures(window_track, range_track, out_track, truth_frames)
    sheet = truth_sheet(
        ctx, folder / f"{stem}.png", f"adr {ctx.name} [{start},{stop}) {len(retimed.edits)} pause edits {tool.name}",
        job.output, start, range_track, truth_frames,
    )
    ratio = lips["full"]["ratio"]
    plan = plan_figures(tool_run, out_track.aperture())
    return {
        "protocol": NAME,
        "range": [start, stop],
        "figures": {"ratio": ratio, "shape_ratio": lips["shape"]["ratio"], "error_iod": lips["full"]["tool"],
                    **plan.figures},
        "baselines": {
            "do_nothing_ratio": 1.0,
            "do_nothing_error_iod": lips["full"]["do_nothing"],
            "do_nothing_shape_error_iod": lips["shape"]["do_nothing"],
        },
        "halves": {"ratio": lips["halves"]["ratio"], "shape_ratio": lips["halves"]["shape_ratio"], **plan.halves},
        "checks": {"ratio < 0.3": ratio is not None and ratio < 0.3, **plan.checks},
        "detail": {
            "full": lips["full"],
            "shape": lips["shape"],
            "frames_moved": int((moved >= 1.0).sum()),
            "plan": plan.detail,
            "all_frames": {"full": every["full"], "shape": every["shape"]},
            "edits": [{"pause_s": [round(e.start_s, 3), round(e.end_s, 3)], "change_s": round(e.change_s, 3)} for e in retimed.edits],
            "line_change_s": round(retimed.duration_change_s, 3),
            "mean_shift_frames": round(float(np.nanmean(moved)), 3) if np.isfinite(moved).any() else None,
            "max_shift_frames": round(float(np.nanmax(moved)), 3) if np.isfinite(moved).any() else None,
            "output_face_lost": lips["output_face_lost"],
            "frames_without_truth": lips["frames_without_truth"],
            "time_map": retimed.time_map.to_dict(),
            "tool_seconds": round(tool_run.seconds, 2),
            "command": tool_run.command,
        },
        "output": str(job.output),
        "sheet": None if sheet is None else str(sheet),
    }
