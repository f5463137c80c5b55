"""shift (sync recovery): can the tool move the mouth to a new timing without being shown it?

Edit range = the last 60 % of the window. The replacement line is the clip's own sound taken
D = 0.4 s earlier, so at output frame t the right mouth is the source mouth of frame t − D·fps.
The tool runs with `--guide none --reference 0-<start>`: it may learn the actor only from the
first 40 %, and never hears the production sound of the range.

Reported: lip-shape error against the ground truth ÷ do-nothing's (full and shape-only), and the
AV lag of the output against the real footage's lag over the same range (do-nothing sits D·fps
away; a good tool within ±1 frame of real). Targets (evaluation.md): ratio well under 0.5.

Also (issue #11): aperture r, the Pearson r of the output's mouth aperture against the ground
truth's (the source aperture at t − D·fps, interpolated between frames like the lip points), with
do-nothing's beside it (the source's own aperture: −0.3 to 0.3 on real speech, 1.0 is perfect);
and plan fidelity (`base.plan_figures`): the output's aperture against the aperture the engine
says it planned per frame in its report (r ≥ 0.9, amplitude 0.9-1.1), missing for an engine
that reports no plan.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.eval.mediaio import ANALYSIS_RATE, LINE_RATE, read_wav, write_wav
from benchmarks.eval.metrics import (
    MAX_LAG_FRAMES,
    audio_envelope,
    av_lag,
    av_reliable,
    pearson_r,
    sample_series,
)
from benchmarks.eval.protocols.base import (
    ClipContext,
    av_halves,
    failed,
    halves_mask,
    not_applicable,
    output_envelope,
    output_name,
    plan_figures,
    rounded,
)
from benchmarks.eval.protocols.groundtruth import lip_figures, truth_sheet
from benchmarks.eval.tools import Tool, ToolJob

NAME = "shift"


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = ctx.folder(NAME)
    start, stop = ctx.edit_range()
    n = stop - start
    d = float(ctx.settings.shift_s * ctx.fps)  # frames, fractional at odd rates (8.85 at 22.13 fps)
    line = ctx.own_segment(float(start / ctx.fps) - ctx.settings.shift_s, n, LINE_RATE)
    line_path = folder / "line.wav"
    write_wav(line_path, line, LINE_RATE)

    def truth(offsets: np.ndarray) -> np.ndarray:
        return start + np.asarray(offsets, np.float64) - d

    stem = output_name(tool, NAME)
    job = ToolJob(
        video=ctx.info.path, audio=line_path, output=folder / f"{stem}.mkv", report=folder / f"{stem}.json",
        start=start, stop=stop, guide="none", references=(f"0-{start}",), codec=ctx.settings.codec, truth=truth,
    )
    tool_run = tool.run(job)
    if not tool_run.ok:
        return failed(tool_run, NAME)

    window_track = ctx.source_track(0, stop)
    range_track = ctx.source_track(start, stop)
    out_track = ctx.store.track(job.output, 0, n, ctx.fps)
    truth_frames = truth(np.arange(n))
    lips = lip_figures(window_track, range_track, out_track, truth_frames)

    # The search must reach do-nothing's expected lag (real + D·fps), which can pass 15 frames
    # when the real footage itself sits at +6 to +10.
    max_lag = MAX_LAG_FRAMES + math.ceil(d)
    line_env = audio_envelope(read_wav(line_path, ANALYSIS_RATE), ANALYSIS_RATE, ctx.fps, n)
    own_env = ctx.own_envelope(start, stop)
    out_env = output_envelope(tool_run, ctx.fps, n)
    src_ap, out_ap = range_track.aperture(), out_track.aperture()
    tool_sync = av_lag(out_ap, out_env, max_lag)
    real_sync = av_lag(src_ap, own_env, max_lag)
    nothing_sync = av_lag(src_ap, line_env, max_lag)
    reliable = av_reliable(real_sync, n, ctx.fps)
    av_half = av_halves(out_ap, out_env, src_ap, own_env, ctx.fps, max_lag)

    # Aperture r, tool and do-nothing over the same frames (a face in output, source and truth).
    truth_ap = sample_series(window_track.aperture(), truth_frames - window_track.start)
    m = min(out_ap.size, src_ap.size, truth_ap.size)
    scored = np.isfinite(out_ap[:m]) & np.isfinite(src_ap[:m]) & np.isfinite(truth_ap[:m])
    gt_ap = np.where(scored, truth_ap[:m], np.nan)
    aperture_r = pearson_r(out_ap[:m], gt_ap)
    nothing_aperture_r = pearson_r(src_ap[:m], gt_ap)
    plan = plan_figures(tool_run, out_ap)

    lag_offset = None if tool_sync.lag is None or real_sync.lag is None else tool_sync.lag - real_sync.lag
    sheet = truth_sheet(
        ctx, folder / f"{stem}.png", f"shift {ctx.name} [{start},{stop}) D={ctx.settings.shift_s}s {tool.name}",
        job.output, start, range_track, truth_frames,
    )
    figures = {
        "ratio": lips["full"]["ratio"],
        "shape_ratio": lips["shape"]["ratio"],
        "error_iod": lips["full"]["tool"],
        "aperture_r": rounded(aperture_r),
        "lag": tool_sync.lag,
        "lag_vs_real": lag_offset,
        "peak": tool_sync.peak,
        **plan.figures,
    }
    return {
        "protocol": NAME,
        "range": [start, stop],
        "shift_frames": d,
        "figures": figures,
        "baselines": {
            "do_nothing_ratio": 1.0,
            "do_nothing_error_iod": lips["full"]["do_nothing"],
            "do_nothing_shape_error_iod": lips["shape"]["do_nothing"],
            "do_nothing_aperture_r": rounded(nothing_aperture_r),
            "real_lag": real_sync.lag,
            "real_peak": real_sync.peak,
            "do_nothing_lag": nothing_sync.lag,
        },
        "halves": {
            "ratio": lips["halves"]["ratio"],
            "shape_ratio": lips["halves"]["shape_ratio"],
            "aperture_r": [pearson_r(np.where(h, out_ap[:m], np.nan), gt_ap) for h in halves_mask(m)],
            **av_half,
            **plan.halves,
        },
        "checks": {
            "ratio < 0.5": lips["full"]["ratio"] is not None and lips["full"]["ratio"] < 0.5,
            # None = not judged: on an unreliable clip a lag match is as likely to be luck.
            "lag within ±1 of real": (lag_offset is not None and abs(lag_offset) <= 1) if reliable else None,
            **plan.checks,
        },
        "reliable_av": reliable,
        "detail": {
            "aperture_r_frames": int(scored.sum()),
            "plan": plan.detail,
            "full": lips["full"],
            "shape": lips["shape"],
            "output_face_lost": lips["output_face_lost"],
            "frames_without_truth": lips["frames_without_truth"],
            "max_lag": max_lag,
            "tool_sync": tool_sync.to_dict(),
            "real_sync": real_sync.to_dict(),
            "do_nothing_sync": nothing_sync.to_dict(),
            "tool_seconds": round(tool_run.seconds, 2),
            "command": tool_run.command,
        },
        "output": str(job.output),
        "sheet": None if sheet is None else str(sheet),
    }
