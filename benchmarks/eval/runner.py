"""One evaluation run: every selected protocol on every selected clip, gathered into one report.

The run is a plain function of its options (no module state), so the CLI and the tests share it.
Noise is measured two ways (evaluation.md asks for both):
- between the two halves of each clip's range: every protocol reports its figures per half, and
  the report gives the median and largest |first − second| over clips;
- between repeated runs (`repeat` > 1): each extra run re-runs the tool and re-tracks every
  landmark without the cache, and the report gives the largest spread (max − min) of each figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.eval.landmarks import LandmarkStore
from benchmarks.eval.mediaio import probe_clip
from benchmarks.eval.metrics import median
from benchmarks.eval.protocols import REGISTRY
from benchmarks.eval.protocols.base import ClipContext
from benchmarks.eval.protocols.robust import run_bad_inputs
from benchmarks.eval.references import DO_NOTHING, ORACLE, DoNothingTool, OracleTool
from benchmarks.eval.settings import PROTOCOLS, EvalSettings
from benchmarks.eval.tools import MyTalkTool, Tool
from benchmarks.eval.voices import voice_label

SUITE_VERSION = "1.0"

Log = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """Everything one run needs. cache_dir None: landmarks are tracked afresh, nothing is stored."""

    engine: str
    clips: tuple[Path, ...]
    out: Path
    settings: EvalSettings
    media_dir: Path
    protocols: tuple[str, ...] = PROTOCOLS
    cache_dir: Path | None = None
    keep_outputs: bool = False
    repeat: int = 1
    dub_voices: tuple[Path, ...] = ()
    """Extra speech files for the dub rotation (synthetic non-English lines); empty = shared only."""
    motion_driver: str | None = None
    learn_seconds: float | None = None
    """`mytalk sync --motion-driver` for the product's engine; None = not passed (the product's default)."""


def make_tool(engine: str, settings: EvalSettings, motion_driver: str | None = None,
              learn_seconds: float | None = None) -> Tool:
    """`ref:do-nothing` and `ref:oracle` are the suite's references; any other name is a product engine."""
    if engine == DO_NOTHING:
        return DoNothingTool()
    if engine == ORACLE:
        return OracleTool()
    if engine.startswith("ref:"):
        raise ValueError(f"unknown reference tool {engine!r}; the suite has {DO_NOTHING} and {ORACLE}")
    return MyTalkTool(engine, timeout_s=settings.tool_timeout_s, motion_driver=motion_driver,
                      learn_seconds=learn_seconds)


def _clip_info(ctx: ClipContext) -> dict[str, Any]:
    info = ctx.info
    return {
        "fps": f"{info.fps.numerator}/{info.fps.denominator}",
        "frames": info.frame_count,
        "size": [info.width, info.height],
        "pix_fmt": info.pix_fmt,
        "window": [0, ctx.window],
        "edit_range": list(ctx.edit_range()),
    }


def _cleanup(result: dict[str, Any], keep: bool) -> None:
    """Delete a protocol's video output once measured (full-setting ffv1 outputs reach 1 GB)."""
    if keep:
        return
    for output in {result.get("output"), *(result.get("outputs") or [])}:
        if output:
            Path(output).unlink(missing_ok=True)


def evaluate(options: RunOptions, log: Log = lambda _: None) -> dict[str, Any]:
    """Run the protocols and return the report (see `report.py` for writing it)."""
    began = time.perf_counter()
    if options.motion_driver is not None and options.engine.startswith("ref:"):
        raise ValueError(f"--motion-driver applies to a product engine, not to the reference tool {options.engine}")
    if options.learn_seconds is not None and options.engine.startswith("ref:"):
        raise ValueError(f"--learn-seconds applies to a product engine, not to the reference tool {options.engine}")
    tool = make_tool(options.engine, options.settings, options.motion_driver, options.learn_seconds)
    store = LandmarkStore(options.cache_dir)
    clips: dict[str, Any] = {}
    for clip in options.clips:
        info = probe_clip(clip)
        workdir = options.out / "clips" / clip.stem
        ctx = ClipContext(info, options.settings, store, workdir, options.media_dir, options.dub_voices,
                          voices_dir=options.out / "voices")
        results: dict[str, Any] = {}
        for protocol in options.protocols:
            t0 = time.perf_counter()
            result = REGISTRY[protocol](ctx, tool)
            result["seconds"] = round(time.perf_counter() - t0, 2)
            _cleanup(result, options.keep_outputs)
            repeats = [result.get("figures", {})]
            for _ in range(options.repeat - 1):
                fresh = ClipContext(info, options.settings, LandmarkStore(None), workdir, options.media_dir,
                                    options.dub_voices, voices_dir=options.out / "voices")
                again = REGISTRY[protocol](fresh, tool)
                _cleanup(again, options.keep_outputs)
                repeats.append(again.get("figures", {}))
            if options.repeat > 1:
                result["repeat_figures"] = repeats
            results[protocol] = result
            log(f"{clip.name} {protocol}: {_one_line(result)} ({result['seconds']:.1f} s)")
        clips[clip.name] = {"info": _clip_info(ctx), "results": results}

    inputs = None
    if "robust" in options.protocols and options.clips:
        t0 = time.perf_counter()
        inputs = run_bad_inputs(tool, options.media_dir, options.out / "robust", options.settings, options.clips[0])
        inputs["seconds"] = round(time.perf_counter() - t0, 2)
        log(f"bad inputs: {_one_line(inputs)} ({inputs['seconds']:.1f} s)")

    report = {
        "suite_version": SUITE_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": options.engine,
        "reference_tool": options.engine.startswith("ref:"),
        "setting": {**options.settings.to_dict(),
                    **({"motion_driver": options.motion_driver} if options.motion_driver is not None else {}),
                    **({"learn_seconds": options.learn_seconds} if options.learn_seconds is not None else {})},
        "media_dir": str(options.media_dir),
        "protocols": list(options.protocols),
        "repeat": options.repeat,
        "clips": clips,
        "bad_inputs": inputs,
    }
    if options.dub_voices:
        # Only with extra voices, so a report of the shared files alone reads exactly as before.
        report["dub_extra_voices"] = [{"audio": p.name, "voice": voice_label(p) or "extra"} for p in options.dub_voices]
    report["summary"] = summarise(report)
    report["noise"] = noise_levels(report)
    report["seconds"] = round(time.perf_counter() - began, 1)
    return report


def _one_line(result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return "n/a"
    if result.get("error") and not result.get("figures"):
        return f"FAILED {result['error']}"
    figures = ", ".join(f"{k}={_short(v)}" for k, v in list(result.get("figures", {}).items())[:4])
    failed = [name for name, ok in result.get("checks", {}).items() if ok is False]
    return figures + (f"; not met: {', '.join(failed)}" if failed else "")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.3g}"
    return str(value)


_AV_FIGURES = {
    "lag", "lag_vs_real", "peak", "peak_ratio",
    "lag_vs_real_transcript", "lag_vs_real_no_transcript", "peak_transcript", "peak_no_transcript",
}

_AGGREGATES: dict[tuple[str, str], tuple[str, Callable[[list[float]], float]]] = {
    ("preserve", "changed_outside"): ("total", sum),
    ("preserve", "frames_changed"): ("total", sum),
    ("preserve", "psnr_outside_db"): ("worst", min),
    ("preserve", "max_abs_outside"): ("worst", max),
    ("robust", "good_passed"): ("total", sum),
    ("robust", "good_total"): ("total", sum),
    ("robust", "bad_passed"): ("total", sum),
    ("robust", "bad_total"): ("total", sum),
}
"""Figures where a median hides what matters: a single changed pixel, a single failed input."""


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Per protocol: the median of each figure over clips (AV figures over reliable clips only)
    and how many clips met each check."""
    summary: dict[str, Any] = {}
    for protocol in report["protocols"]:
        results = [c["results"][protocol] for c in report["clips"].values() if protocol in c["results"]]
        if protocol == "robust" and report.get("bad_inputs"):
            results.append(report["bad_inputs"])
        results = [r for r in results if not r.get("skipped")]
        if not results:
            continue
        names = list(dict.fromkeys(k for r in results for k in r.get("figures", {})))
        medians: dict[str, float | None] = {}
        for name in names:
            pool = results
            if name in _AV_FIGURES and any("reliable_av" in r for r in results):
                pool = [r for r in results if r.get("reliable_av")]
            values = [_num(r.get("figures", {}).get(name)) for r in pool]
            if (protocol, name) in _AGGREGATES:
                label, fn = _AGGREGATES[(protocol, name)]
                clean = [v for v in values if v is not None]
                medians[f"{name} ({label})"] = fn(clean) if clean else None
            else:
                medians[name] = median(values)
        checks: dict[str, list[int]] = {}
        for r in results:
            for check, ok in r.get("checks", {}).items():
                tally = checks.setdefault(check, [0, 0])
                if ok is None:
                    continue  # not judged (an AV check on an unreliable clip)
                tally[0] += int(bool(ok))
                tally[1] += 1
        summary[protocol] = {
            "median": medians,
            "checks_passed": {k: f"{v[0]}/{v[1]}" for k, v in checks.items()},
            "clips": len(results),
            "reliable_av_clips": sum(bool(r.get("reliable_av")) for r in results),
        }
    return summary


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def noise_levels(report: dict[str, Any]) -> dict[str, Any]:
    """|first half − second half| per figure over clips (median, max), and repeat spreads."""
    noise: dict[str, Any] = {}
    for protocol in report["protocols"]:
        per_figure: dict[str, dict[str, Any]] = {}
        for clip in report["clips"].values():
            result = clip["results"].get(protocol, {})
            for name, pair in result.get("halves", {}).items():
                a, b = (_num(v) for v in pair)
                if a is not None and b is not None:
                    per_figure.setdefault(name, {"halves": [], "repeat": []})["halves"].append(abs(a - b))
            repeats = result.get("repeat_figures") or []
            if len(repeats) > 1:
                for name in repeats[0]:
                    values = [_num(r.get(name)) for r in repeats]
                    clean = [v for v in values if v is not None and math.isfinite(v)]
                    if len(clean) == len(values):
                        per_figure.setdefault(name, {"halves": [], "repeat": []})["repeat"].append(max(clean) - min(clean))
        if per_figure:
            noise[protocol] = {
                name: {
                    "halves_median_abs_diff": median(v["halves"]),
                    "halves_max_abs_diff": max(v["halves"]) if v["halves"] else None,
                    "halves_clips": len(v["halves"]),
                    "repeat_max_spread": max(v["repeat"]) if v["repeat"] else None,
                }
                for name, v in per_figure.items()
            }
    return noise
