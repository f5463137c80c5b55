"""preserve: outside the mouth, is every output pixel the decoded source pixel, bit for bit?

The tool renders the edit range losslessly (`--codec ffv1`). Each output frame is compared with
the decoded source frame plane by plane, in the source's own pixel format (never through RGB:
a frame taken to RGB and back to 4:2:0 is already about 45 dB and up to 14 levels off). The
region allowed to change is the frame's `mask_box` from the tool's report (x0, y0, x1, y1 px,
end exclusive), widened to whole chroma samples; a frame the report marks faceless, or one with
no or an empty box, must be identical everywhere.

Reported: changed samples outside the mask, frames with a change, PSNR outside (dB; infinite
when nothing changed), the largest difference. Target: exactly 0 changed, PSNR infinite.

A box the tool reports bounds nothing by itself, so the protocol also counts the changed pixels outside
the evaluation's own lower-face region (`lower_face.region_mask`), derived from the source's tracked
landmarks of exactly the edited range (issue #12). Target: 0 on every clip, at 224 px as at 4K.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.eval.contact_sheet import Panel, SheetRow, pick_frames, write_sheet
from benchmarks.eval.lower_face import changed_pixels, region_mask
from benchmarks.eval.mediaio import bit_depth, frame_planes, iter_frames, probe_clip
from benchmarks.eval.metrics import OutsideDiff
from benchmarks.eval.protocols.base import ClipContext, failed, not_applicable, output_name
from benchmarks.eval.tools import Tool, ToolJob

NAME = "preserve"


def _boxes(report: dict[str, Any] | None, start: int, n: int) -> tuple[list[tuple[int, int, int, int] | None], int]:
    """Per output frame, the box allowed to change (None = nothing may change), and faceless count."""
    boxes: list[tuple[int, int, int, int] | None] = [None] * n
    faceless = 0
    for record in (report or {}).get("frames", []):
        i = int(record.get("index", -1)) - start
        if not 0 <= i < n:
            continue
        if record.get("face_found") is False:
            faceless += 1
            continue
        box = record.get("mask_box")
        if box and box[2] > box[0] and box[3] > box[1]:
            boxes[i] = (int(box[0]), int(box[1]), int(box[2]), int(box[3]))
    return boxes, faceless


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = ctx.folder(NAME)
    start, stop = ctx.edit_range()
    n = stop - start
    audio = ctx.media_dir / "audio" / "jfk_inaugural_en_16k.wav"
    stem = output_name(tool, NAME)
    job = ToolJob(
        video=ctx.info.path, audio=audio, output=folder / f"{stem}.mkv", report=folder / f"{stem}.json",
        start=start, stop=stop, guide="auto", codec="ffv1",
    )
    tool_run = tool.run(job)
    if not tool_run.ok:
        return failed(tool_run, NAME)

    out_info = probe_clip(job.output)
    boxes, faceless = _boxes(tool_run.report, start, n)
    outside = OutsideDiff()
    inside_changed = 0
    compared = 0
    changed_frames: list[int] = []
    outside_region = frames_outside_region = 0
    error = None
    if out_info.pix_fmt != ctx.info.pix_fmt or (out_info.width, out_info.height) != (ctx.info.width, ctx.info.height):
        error = (
            f"output is {out_info.width}x{out_info.height} {out_info.pix_fmt}, source "
            f"{ctx.info.width}x{ctx.info.height} {ctx.info.pix_fmt}: cannot compare in the source's format"
        )
    else:
        region_track = ctx.source_track(start, stop)
        pairs = zip(iter_frames(ctx.info.path, start, stop), iter_frames(job.output), strict=False)
        for (index, src), (offset, out) in pairs:
            changed = changed_pixels(src, out)
            if region_track.found[offset]:
                changed &= ~region_mask(region_track.landmarks[offset], (src.width, src.height))
            outside_region += int(changed.sum())
            frames_outside_region += int(changed.any())
            if compared == 0:
                outside.peak = (1 << bit_depth(src)) - 1
            src_planes, out_planes = frame_planes(src), frame_planes(out)
            if outside.add(src_planes, out_planes, boxes[offset]):
                changed_frames.append(index)
            compared += 1
        inside_changed = outside.changed_inside
    frames_ok = compared == n and out_info.frame_count == n
    psnr = outside.psnr_db
    rows = []
    track = None
    if compared and tool_run.report is not None:
        track = ctx.source_track(start, stop)
        for offset in pick_frames(track.found):
            box = track.mouth_box(start + offset, scale=1.6)
            if box is not None:
                rows.append(SheetRow(f"t={start + offset}", box, (Panel("source", ctx.info.path, start + offset), Panel("output", job.output, offset))))
    sheet = write_sheet(folder / f"{stem}.png", f"preserve {ctx.name} [{start},{stop}) {tool.name}", rows) if rows else None
    return {
        "protocol": NAME,
        "range": [start, stop],
        "error": error,
        "figures": {
            "changed_outside": outside.changed if error is None else None,
            "frames_changed": outside.frames_changed if error is None else None,
            "psnr_outside_db": psnr if error is None else None,
            "max_abs_outside": outside.max_abs if error is None else None,
            "changed_outside_region": outside_region if error is None else None,
            "frames_outside_region": frames_outside_region if error is None else None,
        },
        "baselines": {"do_nothing_changed_outside": 0, "do_nothing_psnr_outside_db": math.inf},
        "halves": {},
        "checks": {
            "0 changed outside the mask": error is None and outside.changed == 0,
            "0 changed outside the lower-face region": error is None and outside_region == 0,
            "exact frame count": frames_ok,
        },
        "detail": {
            "frames_expected": n,
            "frames_output": out_info.frame_count,
            "frames_compared": compared,
            "samples_compared_outside": outside.compared,
            "changed_inside_mask": inside_changed,
            "frames_with_mask": sum(b is not None for b in boxes),
            "faceless_frames": faceless,
            "first_changed_frames": changed_frames[:20],
            "pix_fmt": {"source": ctx.info.pix_fmt, "output": out_info.pix_fmt},
            "tool_seconds": round(tool_run.seconds, 2),
            "command": tool_run.command,
        },
        "output": str(job.output),
        "sheet": None if sheet is None else str(sheet),
    }
