"""speed: how long the tool takes on a range, against the floor of decoding and re-encoding it.

Any tool that edits a range must at least decode it and encode it again. In the same run the
suite times a plain PyAV transcode of the same range with the same codec (seek to the keyframe
before the in point, decode, encode, mux the same line as audio) and reports tool ÷ transcode.

Tool and transcode are timed `speed_runs` times, alternating, and the fastest of each is kept
(the least disturbed figure on a shared machine; every sample is in the detail). Two tool times
are given: the wall-clock time of the `mytalk sync` command as a user waits for it (process
start-up and imports included: about 1 s that weighs heavily on short ranges), and the sum of
the stage timings in the tool's own report (the work itself). Target (evaluation.md): ratio ≤ 1.5
on the CPU.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.eval.mediaio import LINE_RATE, SimpleWriter, iter_frames, read_wav, write_wav
from benchmarks.eval.metrics import safe_ratio
from benchmarks.eval.protocols.base import ClipContext, failed, not_applicable, output_name
from benchmarks.eval.tools import Tool, ToolJob

NAME = "speed"


def transcode_seconds(ctx: ClipContext, start: int, stop: int, codec: str, line_path: Any, out_path: Any) -> float:
    """Wall-clock seconds of a plain decode + re-encode of frames [start, stop) (s)."""
    began = time.perf_counter()
    line = read_wav(line_path, LINE_RATE)
    with SimpleWriter(
        out_path, codec=codec, fps=ctx.fps, width=ctx.info.width, height=ctx.info.height,
        pix_fmt=ctx.info.pix_fmt, audio=line, audio_rate=LINE_RATE, color=ctx.info.color,
    ) as writer:
        for _, frame in iter_frames(ctx.info.path, start, stop, seek=True):
            writer.write(frame)
    return time.perf_counter() - began


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = ctx.folder(NAME)
    start, stop = ctx.edit_range()
    if ctx.settings.speed_s is not None:
        stop = min(stop, start + ctx.info.frames(ctx.settings.speed_s))
    n = stop - start
    line_path = folder / "line.wav"
    write_wav(line_path, ctx.own_segment(float(start / ctx.fps), n, LINE_RATE), LINE_RATE)
    codec = ctx.settings.codec
    stem = output_name(tool, NAME)
    job = ToolJob(
        video=ctx.info.path, audio=line_path, output=folder / f"{stem}.mkv", report=folder / f"{stem}.json",
        start=start, stop=stop, guide="auto", codec=codec,
    )
    floors: list[float] = []
    walls: list[float] = []
    works: list[float] = []
    stages: dict[str, float] = {}
    for _ in range(max(1, ctx.settings.speed_runs)):
        # Alternate floor and tool so a burst of load on a shared machine hits both alike.
        floors.append(transcode_seconds(ctx, start, stop, codec, line_path, folder / "transcode.mkv"))
        tool_run = tool.run(job)
        if not tool_run.ok:
            return failed(tool_run, NAME)
        walls.append(tool_run.seconds)
        run_stages = (tool_run.report or {}).get("timings_s") or {}
        if run_stages:
            works.append(float(sum(run_stages.values())))
            if works[-1] == min(works):
                stages = run_stages
    (folder / "transcode.mkv").unlink(missing_ok=True)
    floor_s = min(floors)
    tool_s = min(walls)
    work_s = min(works) if works else None
    ratio = safe_ratio(tool_s, floor_s)
    work_ratio = safe_ratio(work_s, floor_s)
    return {
        "protocol": NAME,
        "range": [start, stop],
        "figures": {
            "tool_s": round(tool_s, 3),
            "tool_fps": round(n / tool_s, 2) if tool_s > 0 else None,
            "ratio": ratio,
            "work_s": None if work_s is None else round(work_s, 3),
            "work_ratio": work_ratio,
        },
        "baselines": {
            "transcode_s": round(floor_s, 3),
            "transcode_fps": round(n / floor_s, 2) if floor_s > 0 else None,
        },
        "halves": {},
        "checks": {
            "ratio ≤ 1.5": ratio is not None and ratio <= 1.5,
            "work ratio ≤ 1.5": work_ratio is not None and work_ratio <= 1.5,
        },
        "detail": {
            "frames": n, "codec": codec, "runs": len(walls), "stages_s": stages,
            "tool_s_all": [round(v, 3) for v in walls], "transcode_s_all": [round(v, 3) for v in floors],
            "work_s_all": [round(v, 3) for v in works], "command": tool_run.command,
        },
        "output": str(job.output),
    }
