"""dub (new speech): drive the clip's window with a different real speech recording.

There is no ground truth for a new line, so the figures compare the output with the real
footage playing its own sound:
- AV lag and peak correlation of the output with the new line, against the real footage's lag
  and peak with its own audio (targets: lag within ±1, peak at least 80 % of real's);
- mouth sharpness: variance of the Laplacian in the mouth box, output ÷ source (≥ 0.9);
- lip jitter: mean absolute second difference of the lip points, output ÷ source (≤ 1.2);
- worst frames (`mouth_detail`, issue #12): the 10th percentile of the per-frame sharpness ratio over
  frames whose output mouth is at least as open as the source's (≥ 0.85), the speck ratio (≤ 1.1) and
  the in-mouth flicker ratio (≤ 1.2), with a contact sheet of the softest open-mouth frames;
- share of the new line's silent frames with a closed mouth (real footage: its own pauses);
- plan fidelity (`base.plan_figures`, issue #11): the output's tracked aperture against the one
  the engine reports it planned per frame (r ≥ 0.9, amplitude 0.9-1.1); missing without plans.

The shared speech is all English; `--dub-voices with-synthetic` adds synthetic Spanish and German
lines (espeak-ng, see `benchmarks.eval.voices`) to the rotation, and results driven by one carry
"voice": "synthetic LANG (espeak-ng)".

AV figures are marked unreliable when the real footage's peak is under 0.3 or the range is
shorter than 4 s; summaries take the median over reliable clips. Do-nothing's figures (the
source frames with the new line) are the floor: unrelated audio still peaks at 0.05-0.25.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.contact_sheet import Panel, SheetRow, pick_frames, write_sheet
from benchmarks.eval.mediaio import ANALYSIS_RATE, decode_audio_mono, iter_frames, read_wav, to_gray
from benchmarks.eval.metrics import (
    MAX_LAG_FRAMES,
    audio_envelope,
    av_lag,
    av_reliable,
    closed_share,
    laplacian_variance,
    lip_jitter,
    loudness_db,
    safe_ratio,
    silent_frames,
)
from benchmarks.eval.mouth_detail import MouthDetail
from benchmarks.eval.protocols.base import (
    ClipContext,
    av_halves,
    failed,
    halves_mask,
    not_applicable,
    output_name,
    plan_figures,
)
from benchmarks.eval.settings import DUB_AUDIO
from benchmarks.eval.tools import Tool, ToolJob
from benchmarks.eval.voices import voice_label

NAME = "dub"


def pick_audio(ctx: ClipContext) -> Path:
    """The speech file for this clip: the next one in rotation that covers the window.

    The rotation starts at the clip's position in the media folder, so a clip always gets the
    same file whatever else is selected. With nothing long enough, the longest file is used.

    Extra voices (`ctx.dub_voices`, the synthetic non-English lines) are placed first in a
    rotation of extras + shared files: the clip at position i takes extra i mod (extras +
    shared) when that is an extra and it covers the window. Every other clip gets exactly the
    shared file it gets without extras, so English figures stay comparable between the two
    modes. With the nine shared clips and two extras, Spanish lands on clips 0 and 7 of the
    folder and German on clips 1 and 8.
    """
    folder = ctx.media_dir / "audio"
    files = [folder / name for name in DUB_AUDIO if (folder / name).is_file()]
    if not files:
        raise FileNotFoundError(f"no dub speech files in {folder}; expected {', '.join(DUB_AUDIO)}")
    clips = sorted(p.name for p in (ctx.media_dir / "video").glob("*"))
    offset = clips.index(ctx.name) if ctx.name in clips else 0
    needed = float(ctx.window / ctx.fps)
    extras = list(ctx.dub_voices)
    slot = offset % (len(extras) + len(files))
    if slot < len(extras) and read_wav(extras[slot], ANALYSIS_RATE).size / ANALYSIS_RATE >= needed:
        return extras[slot]
    durations = {f: read_wav(f, ANALYSIS_RATE).size / ANALYSIS_RATE for f in files}
    for i in range(len(files)):
        candidate = files[(offset + i) % len(files)]
        if durations[candidate] >= needed:
            return candidate
    return max(files, key=lambda f: durations[f])


def _sharpness(ctx: ClipContext, output: Path, stop: int, track: Any, out_track: Any) -> tuple[np.ndarray, np.ndarray, MouthDetail]:
    """Laplacian variance in the source's lip box per frame [0, stop): (output, source), NaN without a face,
    and the worst-frame figures (`mouth_detail`) over the same frames."""
    out_values = np.full(stop, np.nan)
    src_values = np.full(stop, np.nan)
    detail = MouthDetail()
    src_ap, out_ap = track.aperture(), out_track.aperture()
    source_frames = iter_frames(ctx.info.path, 0, stop)
    for (index, src), (_, out) in zip(source_frames, iter_frames(output, 0, stop), strict=False):
        box = track.mouth_box(index, scale=1.0)
        if box is None:
            detail.add(index, np.zeros((1, 1)), np.zeros((1, 1)), None, None, np.nan, np.nan)
            continue
        x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), box[2], box[3]
        src_gray, out_gray = to_gray(src), to_gray(out)
        src_values[index] = laplacian_variance(src_gray[y0:y1, x0:x1])
        out_values[index] = laplacian_variance(out_gray[y0:y1, x0:x1])
        detail.add(index, out_gray, src_gray, track.landmarks[index - track.start], box,
                   float(out_ap[index - out_track.start]), float(src_ap[index - track.start]))
    return out_values, src_values, detail


def _mean(values: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    chosen = values if mask is None else values[mask]
    chosen = chosen[np.isfinite(chosen)]
    return float(chosen.mean()) if chosen.size else None


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = ctx.folder(NAME)
    n = ctx.window
    audio = pick_audio(ctx)
    stem = output_name(tool, NAME)
    job = ToolJob(
        video=ctx.info.path, audio=audio, output=folder / f"{stem}.mkv", report=folder / f"{stem}.json",
        start=0, stop=n, guide="auto", codec=ctx.settings.codec,
    )
    tool_run = tool.run(job)
    if not tool_run.ok:
        return failed(tool_run, NAME)

    src_track = ctx.source_track(0, n)
    out_track = ctx.store.track(job.output, 0, n, ctx.fps)
    src_ap, out_ap = src_track.aperture(), out_track.aperture()
    out_audio = decode_audio_mono(job.output, ANALYSIS_RATE)
    out_audio = np.zeros(0, np.float32) if out_audio is None else out_audio
    line_env = audio_envelope(out_audio, ANALYSIS_RATE, ctx.fps, n)
    own_env = ctx.own_envelope(0, n)
    tool_sync = av_lag(out_ap, line_env)
    real_sync = av_lag(src_ap, own_env)
    nothing_sync = av_lag(src_ap, line_env)
    reliable = av_reliable(real_sync, n, ctx.fps)
    lag_offset = None if tool_sync.lag is None or real_sync.lag is None else tool_sync.lag - real_sync.lag
    peak_ratio = safe_ratio(tool_sync.peak, real_sync.peak)

    out_sharp_frames, src_sharp_frames, detail = _sharpness(ctx, job.output, n, src_track, out_track)
    worst = detail.figures()
    out_sharp, src_sharp = _mean(out_sharp_frames), _mean(src_sharp_frames)
    sharp_frames = int(np.isfinite(src_sharp_frames).sum())
    sharpness = safe_ratio(out_sharp, src_sharp)
    jitter_out, jitter_src = lip_jitter(out_track.lips()), lip_jitter(src_track.lips())
    jitter = safe_ratio(jitter_out, jitter_src)

    line_silent = silent_frames(loudness_db(out_audio, ANALYSIS_RATE, ctx.fps, n))
    own_silent = silent_frames(loudness_db(ctx.own_segment(0.0, n, ANALYSIS_RATE), ANALYSIS_RATE, ctx.fps, n))
    closed = closed_share(out_ap, line_silent)
    closed_real = closed_share(src_ap, own_silent)
    closed_nothing = closed_share(src_ap, line_silent)

    plan = plan_figures(tool_run, out_ap)

    first, second = halves_mask(n)
    halves = {
        **plan.halves,
        **av_halves(out_ap, line_env, src_ap, own_env, ctx.fps, MAX_LAG_FRAMES),
        "sharpness_ratio": [
            safe_ratio(_mean(out_sharp_frames, m), _mean(src_sharp_frames, m)) for m in (first, second)
        ],
        "jitter_ratio": [
            safe_ratio(lip_jitter(out_track.lips()[m]), lip_jitter(src_track.lips()[m])) for m in (first, second)
        ],
        "closed_share": [closed_share(np.where(m, out_ap, np.nan), line_silent) for m in (first, second)],
    }
    rows = []
    for offset in pick_frames(src_track.found):
        box = src_track.mouth_box(offset, scale=1.6)
        if box is not None:
            rows.append(SheetRow(f"t={offset}", box, (Panel("source", ctx.info.path, offset), Panel("output", job.output, offset))))
    sheet = write_sheet(folder / f"{stem}.png", f"dub {ctx.name} with {audio.name} {tool.name}", rows)
    worst_rows = []
    for offset in detail.worst_open_frames():
        box = src_track.mouth_box(offset, scale=1.6)
        if box is not None:
            worst_rows.append(SheetRow(f"t={offset}", box, (Panel("source", ctx.info.path, offset), Panel("output", job.output, offset))))
    worst_sheet = write_sheet(folder / f"{stem}_worst.png", f"dub {ctx.name}: softest open-mouth frames, {tool.name}",
                              worst_rows) if worst_rows else None
    voice = voice_label(audio)
    return {
        "protocol": NAME,
        "range": [0, n],
        "audio": audio.name,
        # Only for a synthetic line, so a shared-files report reads exactly as before.
        **({"voice": voice} if voice else {}),
        "figures": {
            "lag": tool_sync.lag,
            "lag_vs_real": lag_offset,
            "peak": tool_sync.peak,
            "peak_ratio": peak_ratio,
            "sharpness_ratio": sharpness,
            "jitter_ratio": jitter,
            "sharpness_p10_open": worst["sharpness_p10_open"],
            "speck_ratio": worst["speck_ratio"],
            "flicker_ratio": worst["flicker_ratio"],
            "closed_share": closed,
            **plan.figures,
        },
        "baselines": {
            "real_lag": real_sync.lag,
            "real_peak": real_sync.peak,
            "real_closed_share": closed_real,
            "do_nothing_lag": nothing_sync.lag,
            "do_nothing_peak": nothing_sync.peak,
            "do_nothing_closed_share": closed_nothing,
            "do_nothing_sharpness_ratio": 1.0,
            "do_nothing_jitter_ratio": 1.0,
        },
        "halves": halves,
        "checks": {
            # None = not judged: on an unreliable clip a lag or peak match is as likely to be luck.
            "lag within ±1 of real": (lag_offset is not None and abs(lag_offset) <= 1) if reliable else None,
            "peak ≥ 0.8 × real": (peak_ratio is not None and peak_ratio >= 0.8) if reliable else None,
            "sharpness ≥ 0.9": sharpness is not None and sharpness >= 0.9,
            "jitter ≤ 1.2": jitter is not None and jitter <= 1.2,
            "sharpness p10 (open frames) ≥ 0.85": worst["sharpness_p10_open"] is not None and worst["sharpness_p10_open"] >= 0.85,
            "speck ratio ≤ 1.1": worst["speck_ratio"] is not None and worst["speck_ratio"] <= 1.1,
            "flicker ratio ≤ 1.2": worst["flicker_ratio"] is not None and worst["flicker_ratio"] <= 1.2,
            **plan.checks,
        },
        "reliable_av": reliable,
        "detail": {
            "tool_sync": tool_sync.to_dict(),
            "real_sync": real_sync.to_dict(),
            "do_nothing_sync": nothing_sync.to_dict(),
            "sharpness": {"output": out_sharp, "source": src_sharp, "frames": sharp_frames},
            "worst_frames": {**worst, "softest_open_frames": detail.worst_open_frames()},
            "jitter_iod_per_frame2": {"output": jitter_out, "source": jitter_src},
            "silent_frames": {"line": int(line_silent.sum()), "own": int(own_silent.sum())},
            "plan": plan.detail,
            "tool_seconds": round(tool_run.seconds, 2),
            "command": tool_run.command,
        },
        "output": str(job.output),
        "sheet": None if sheet is None else str(sheet),
        "worst_sheet": None if worst_sheet is None else str(worst_sheet),
    }

