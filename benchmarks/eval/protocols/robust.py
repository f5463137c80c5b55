"""robust: every clip must render with exact frame counts; bad inputs must fail cleanly.

Good inputs: a range of each clip (and a range of the .mov that spans its faceless cutaway:
frames without a face pass through, they never abort the run). Each must exit 0 with exactly
out − in frames, an audio stream exactly as long as the range, and nothing else left behind.

Bad inputs: a missing file, a text file named .mp4, an empty audio file, a range past the end,
in > out. Each must exit 2 with exactly one line on stderr and leave no output and no report.

Reported per case: exit code, first error line, output frame count, audio stream present.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.mediaio import audio_sample_count, count_frames, probe_clip, write_wav
from benchmarks.eval.protocols.base import ClipContext, not_applicable
from benchmarks.eval.settings import CUTAWAY_CLIP, ROBUST_AUDIO, EvalSettings
from benchmarks.eval.tools import Tool, ToolJob

NAME = "robust"


@dataclass(frozen=True)
class Case:
    """One robust run: what to pass and what must happen ("ok" or "error")."""

    name: str
    video: Path
    audio: Path
    start: int | None
    stop: int | None
    expect: str
    fps: Fraction | None = None


def _check(case: Case, tool: Tool, folder: Path, timeout_note: str = "") -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in folder.iterdir()}
    output, report = folder / "out.mkv", folder / "report.json"
    for stale in (output, report):
        stale.unlink(missing_ok=True)
    before -= {output.name, report.name}
    job = ToolJob(video=case.video, audio=case.audio, output=output, report=report, start=case.start, stop=case.stop,
                  guide="auto", codec="ffv1")
    run = tool.run(job)
    left = sorted({p.name for p in folder.iterdir()} - before - {output.name, report.name})
    frames = count_frames(output) if output.is_file() else None
    audio = audio_sample_count(output) if output.is_file() else None
    expected = None if case.start is None or case.stop is None else case.stop - case.start
    result: dict[str, Any] = {
        "case": case.name,
        "video": case.video.name,
        "range": [case.start, case.stop],
        "expect": case.expect,
        "exit_code": run.exit_code,
        "first_error_line": run.first_error_line if run.exit_code != 0 else None,
        "stderr_lines": len(run.error_lines),
        "frames": frames,
        "frames_expected": expected if case.expect == "ok" else 0,
        "audio": audio is not None and audio[0] > 0,
        "seconds": round(run.seconds, 2),
        "left_behind": left,
    }
    if case.expect == "ok":
        audio_ok = False
        if audio is not None and case.fps is not None and expected is not None:
            samples, rate = audio
            audio_ok = abs(samples - round(Fraction(expected) * rate / case.fps)) <= 1
            result["audio_samples"] = {"written": samples, "expected": round(Fraction(expected) * rate / case.fps), "rate": rate}
        faceless = ((run.report or {}).get("tracking") or {}).get("faceless_frames")
        result["faceless_frames"] = None if faceless is None else len(faceless)
        result["ok"] = run.exit_code == 0 and frames == expected and audio_ok and not left
    else:
        result["ok"] = (
            run.exit_code == 2 and len(run.error_lines) == 1 and not output.exists() and not report.exists() and not left
        )
    if not result["ok"] and run.exit_code not in (0, 2):
        result["stderr_tail"] = run.stderr[-1500:]
    # Outputs are not needed after counting; keep the folder small.
    output.unlink(missing_ok=True)
    return result


def good_range(ctx: ClipContext) -> tuple[int, int]:
    """The good run's range: `robust_s` seconds centred in the window, or the whole window."""
    if ctx.settings.robust_s is None:
        return 0, ctx.window
    length = min(ctx.window, ctx.info.frames(ctx.settings.robust_s))
    start = (ctx.window - length) // 2
    return start, start + length


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    """The clip's good-input case."""
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    start, stop = good_range(ctx)
    case = Case(f"{ctx.name} [{start},{stop})", ctx.info.path, ctx.media_dir / "audio" / ROBUST_AUDIO, start, stop, "ok", ctx.fps)
    result = _check(case, tool, ctx.folder(NAME))
    return _as_protocol_result([result])


def run_bad_inputs(tool: Tool, media_dir: Path, workdir: Path, settings: EvalSettings, clip: Path) -> dict[str, Any]:
    """The bad-input cases (and the faceless-stretch case), run once per report.

    `clip` is any good clip, used for the range errors.
    """
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = workdir / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    audio = media_dir / "audio" / ROBUST_AUDIO
    text = folder / "not_a_video.mp4"
    text.write_text("This is a text file, not a video.\n")
    empty = folder / "empty.wav"
    write_wav(empty, np.zeros(0, np.float32), 48_000)
    info = probe_clip(clip)
    cases = [
        Case("missing video file", folder / "does_not_exist.mp4", audio, 0, 10, "error"),
        Case("text file named .mp4", text, audio, 0, 10, "error"),
        Case("empty audio", clip, empty, 0, 10, "error"),
        Case("range past the end", clip, audio, info.frame_count - 5, info.frame_count + 20, "error"),
        Case("in > out", clip, audio, 20, 10, "error"),
    ]
    cutaway = media_dir / "video" / CUTAWAY_CLIP
    if cutaway.is_file():
        cinfo = probe_clip(cutaway)
        a, b = (cinfo.frames(s) for s in settings.faceless_s)
        cases.append(Case(f"faceless stretch {CUTAWAY_CLIP} [{a},{b})", cutaway, audio, a, b, "ok", cinfo.fps))
    results = [_check(case, tool, workdir / f"case{i}") for i, case in enumerate(cases)]
    return _as_protocol_result(results)


def _as_protocol_result(cases: list[dict[str, Any]]) -> dict[str, Any]:
    good = [c for c in cases if c["expect"] == "ok"]
    bad = [c for c in cases if c["expect"] == "error"]
    return {
        "protocol": NAME,
        "cases": cases,
        "figures": {
            "good_passed": sum(c["ok"] for c in good),
            "good_total": len(good),
            "bad_passed": sum(c["ok"] for c in bad),
            "bad_total": len(bad),
        },
        "baselines": {},
        "halves": {},
        "checks": {
            "good inputs succeed with exact frames": all(c["ok"] for c in good),
            "bad inputs exit 2 with one line, nothing left": all(c["ok"] for c in bad),
        },
    }
