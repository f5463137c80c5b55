"""Writing a run's report: `report.json` with every figure per clip, `report.md` with the tables.

The Markdown has one table per protocol with one row per clip, and each figure's baseline beside
it in parentheses: do-nothing (the source frames unchanged) everywhere, and for dub also the real
footage playing its own sound. Contact sheets are linked from the rows.

JSON has no infinity: non-finite numbers (a PSNR of nothing changed) are written as the strings
"inf", "-inf" and "nan".
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_json(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(report), indent=2, allow_nan=False))
    return path


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: numbers rounded, infinity as ∞, missing as –."""
    if value is None:
        return "–"
    if isinstance(value, str):
        if value == "inf":
            return "∞"
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}f}"
    return str(value)


def _signed(value: Any) -> str:
    return "–" if value is None else f"{value:+d}"


def _link(path: str | None, base: Path) -> str:
    if not path:
        return "–"
    return f"[sheet]({os.path.relpath(path, base)})"


def _verdict(result: dict[str, Any]) -> str:
    checks = result.get("checks", {})
    if not checks:
        return "–"
    failed = [name for name, ok in checks.items() if ok is False]
    open_checks = [name for name, ok in checks.items() if ok is None]
    reasons = []
    if any("lag" in name or "peak" in name for name in open_checks):
        reasons.append("AV: unreliable")
    if any(name.startswith("plan") for name in open_checks):
        reasons.append("plan: not reported")
    if any(name.startswith("closures") for name in open_checks):
        reasons.append("closures: no p/b/m frame")
    unjudged = f" (not judged: {', '.join(reasons)})" if reasons else ""
    return ("✓" if not failed else "✗ " + "; ".join(failed)) + unjudged


def _plan(figures: dict[str, Any], suffix: str = "") -> str:
    """"r / amplitude" of the plan-to-output fit, or – without plans."""
    r, amplitude = figures.get(f"plan_r{suffix}"), figures.get(f"plan_amplitude{suffix}")
    return "–" if r is None and amplitude is None else f"{fmt(r)} / {fmt(amplitude)}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _rows(report: dict[str, Any], protocol: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, clip["results"][protocol]) for name, clip in report["clips"].items() if protocol in clip["results"]]


def _failed_row(name: str, result: dict[str, Any], width: int) -> list[str] | None:
    if result.get("skipped"):
        return [name, "n/a: " + result["skipped"]] + [""] * (width - 2)
    if result.get("error") and not result.get("figures"):
        return [name, "FAILED: " + result["error"]] + [""] * (width - 2)
    return None


def _shift_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["clip", "range", "lip-error ratio (do-nothing 1.00)", "shape-only ratio (1.00)",
              "error IOD (do-nothing)", "aperture r (do-nothing)", "AV lag (real / do-nothing)", "lag − real",
              "peak (real)", "AV reliable", "plan r / amplitude", "meets targets", "sheet"]
    rows = []
    for name, r in _rows(report, "shift"):
        bad = _failed_row(name, r, len(header))
        if bad:
            rows.append(bad)
            continue
        f, b = r["figures"], r["baselines"]
        rows.append([
            name, f"{r['range'][0]}-{r['range'][1]}", fmt(f["ratio"], 3), fmt(f["shape_ratio"], 3),
            f"{fmt(f['error_iod'], 4)} ({fmt(b['do_nothing_error_iod'], 4)})",
            f"{fmt(f.get('aperture_r'))} ({fmt(b.get('do_nothing_aperture_r'))})",
            f"{_signed(f['lag'])} ({_signed(b['real_lag'])} / {_signed(b['do_nothing_lag'])})",
            _signed(f["lag_vs_real"]), f"{fmt(f['peak'])} ({fmt(b['real_peak'])})", fmt(r["reliable_av"]),
            _plan(f), _verdict(r), _link(r.get("sheet"), base),
        ])
    return _table(header, rows)


def _adr_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["clip", "range", "pause edits (s)", "mean shift (frames)", "lip-error ratio (do-nothing 1.00)",
              "shape-only ratio (1.00)", "error IOD (do-nothing)", "plan r / amplitude", "meets targets", "sheet"]
    rows = []
    for name, r in _rows(report, "adr"):
        bad = _failed_row(name, r, len(header))
        if bad:
            rows.append(bad)
            continue
        f, b, d = r["figures"], r["baselines"], r["detail"]
        edits = " ".join(f"{e['change_s']:+.2f}" for e in d["edits"]) or "none"
        rows.append([
            name, f"{r['range'][0]}-{r['range'][1]}", edits, fmt(d["mean_shift_frames"], 1), fmt(f["ratio"], 3),
            fmt(f["shape_ratio"], 3), f"{fmt(f['error_iod'], 4)} ({fmt(b['do_nothing_error_iod'], 4)})",
            _plan(f), _verdict(r), _link(r.get("sheet"), base),
        ])
    return _table(header, rows)


def _dub_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["clip", "speech", "AV lag (real / do-nothing)", "lag − real", "peak (real / do-nothing)",
              "peak ÷ real", "sharpness ratio (do-nothing 1.00)", "sharpness p10, open frames (1.00)",
              "speck ratio (1.00)", "flicker ratio (1.00)", "jitter ratio (1.00)",
              "closed in silence (real / do-nothing)", "AV reliable", "plan r / amplitude", "meets targets", "sheet"]
    rows = []
    for name, r in _rows(report, "dub"):
        bad = _failed_row(name, r, len(header))
        if bad:
            rows.append(bad)
            continue
        f, b = r["figures"], r["baselines"]
        rows.append([
            name, r["audio"], f"{_signed(f['lag'])} ({_signed(b['real_lag'])} / {_signed(b['do_nothing_lag'])})",
            _signed(f["lag_vs_real"]), f"{fmt(f['peak'])} ({fmt(b['real_peak'])} / {fmt(b['do_nothing_peak'])})",
            fmt(f["peak_ratio"]), fmt(f["sharpness_ratio"]), fmt(f.get("sharpness_p10_open")),
            fmt(f.get("speck_ratio")), fmt(f.get("flicker_ratio")), fmt(f["jitter_ratio"]),
            f"{fmt(f['closed_share'])} ({fmt(b['real_closed_share'])} / {fmt(b['do_nothing_closed_share'])})",
            fmt(r["reliable_av"]), _plan(f), _verdict(r),
            _link(r.get("sheet"), base) + (f" [worst]({os.path.relpath(r['worst_sheet'], base)})" if r.get("worst_sheet") else ""),
        ])
    return _table(header, rows)


def _pair(figures: dict[str, Any], figure: str) -> str:
    """"with transcript / without" of one closures figure."""
    return f"{fmt(figures.get(figure + '_transcript'))} / {fmt(figures.get(figure + '_no_transcript'))}"


def _closures_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["clip", "line (frames)", "p/b/m · f/v · oo · ee frames", "closed on p/b/m: text / audio only (do-nothing)",
              "f/v near teeth: text / audio only (do-nothing)", "width oo ÷ ee: text / audio only (do-nothing)",
              "lag − real: text / audio only (real lag)", "AV reliable", "plan r / amplitude: text / audio only",
              "meets targets", "sheets"]
    rows = []
    for name, r in _rows(report, "closures"):
        bad = _failed_row(name, r, len(header))
        if bad:
            rows.append(bad)
            continue
        f, b, d = r["figures"], r["baselines"], r["detail"]
        frames = d["frames"]
        sheets = " ".join(
            f"[{mode.replace('_', ' ')}]({os.path.relpath(path, base)})" for mode, path in r.get("sheets", {}).items() if path
        ) or "–"

        rows.append([
            name, f"{r['audio']}{' (synthetic)' if r.get('voice') else ''} ({r['range'][1]})",
            " · ".join(str(frames[g]) for g in ("p/b/m", "f/v", "oo", "ee")),
            f"{_pair(f, 'closure_share')} ({fmt(b['do_nothing_closure_share'])})",
            f"{_pair(f, 'fv_share')} ({fmt(b['do_nothing_fv_share'])})",
            f"{_pair(f, 'width_ratio')} ({fmt(b['do_nothing_width_ratio'])})",
            f"{_signed(f.get('lag_vs_real_transcript'))} / {_signed(f.get('lag_vs_real_no_transcript'))} "
            f"({_signed(b['real_lag'])})",
            fmt(r["reliable_av"]), f"{_plan(f, '_transcript')} · {_plan(f, '_no_transcript')}", _verdict(r), sheets,
        ])
    notes = {r["detail"].get("lines_note") for _, r in _rows(report, "closures") if r.get("detail")} - {None}
    return _table(header, rows) + [f"\nNote: {note}." for note in sorted(notes)]


def _preserve_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["clip", "range", "changed outside mask (do-nothing 0)", "frames changed", "PSNR outside dB (∞)",
              "max diff", "changed px outside the lower-face region (0)", "frames with mask", "faceless frames",
              "changed inside mask", "meets targets", "sheet"]
    rows = []
    for name, r in _rows(report, "preserve"):
        bad = _failed_row(name, r, len(header))
        if bad:
            rows.append(bad)
            continue
        f, d = r["figures"], r["detail"]
        if r.get("error"):
            rows.append([name, f"{r['range'][0]}-{r['range'][1]}", "FAILED: " + r["error"]] + [""] * (len(header) - 3))
            continue
        rows.append([
            name, f"{r['range'][0]}-{r['range'][1]}", fmt(f["changed_outside"]), fmt(f["frames_changed"]),
            fmt(f["psnr_outside_db"], 1), fmt(f["max_abs_outside"]), fmt(f.get("changed_outside_region")),
            fmt(d["frames_with_mask"]),
            fmt(d["faceless_frames"]), fmt(d["changed_inside_mask"]), _verdict(r), _link(r.get("sheet"), base),
        ])
    return _table(header, rows)


def _speed_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["clip", "frames", "tool s (fps)", "tool work s", "transcode s (fps)", "ratio", "work ratio", "meets targets"]
    rows = []
    for name, r in _rows(report, "speed"):
        bad = _failed_row(name, r, len(header))
        if bad:
            rows.append(bad)
            continue
        f, b = r["figures"], r["baselines"]
        rows.append([
            name, str(r["detail"]["frames"]), f"{fmt(f['tool_s'])} ({fmt(f['tool_fps'], 1)})", fmt(f["work_s"]),
            f"{fmt(b['transcode_s'])} ({fmt(b['transcode_fps'], 1)})", fmt(f["ratio"]), fmt(f["work_ratio"]), _verdict(r),
        ])
    return _table(header, rows)


def _robust_section(report: dict[str, Any], base: Path) -> list[str]:
    header = ["case", "expect", "exit", "first error line", "frames (expected)", "audio", "faceless frames", "passed"]
    cases: list[dict[str, Any]] = []
    for _, r in _rows(report, "robust"):
        cases += r.get("cases", [])
    if report.get("bad_inputs"):
        cases += report["bad_inputs"].get("cases", [])
    rows = [
        [
            c["case"], c["expect"], str(c["exit_code"]), c.get("first_error_line") or "–",
            f"{fmt(c['frames'])} ({fmt(c['frames_expected'])})", fmt(c["audio"]), fmt(c.get("faceless_frames")),
            "✓" if c["ok"] else "✗" + (f" left {', '.join(c['left_behind'])}" if c["left_behind"] else ""),
        ]
        for c in cases
    ]
    return _table(header, rows)


_SECTIONS = {
    "shift": ("shift: sync recovery (target: ratio < 0.5, lag within ±1 of real)", _shift_section),
    "adr": ("adr: guide alignment (target: ratio < 0.3)", _adr_section),
    "dub": ("dub: new speech (targets: lag ±1 of real, peak ≥ 0.8 × real, sharpness ≥ 0.9, sharpness p10 over "
            "open-mouth frames ≥ 0.85, speck ratio ≤ 1.1, flicker ratio ≤ 1.2, jitter ≤ 1.2)", _dub_section),
    "closures": ("closures: phones of a known-text line (targets: closed on ≥ 90 % of p/b/m frames with "
                 "--transcript, ≥ 60 % without; plan r ≥ 0.9, amplitude 0.9-1.1)", _closures_section),
    "preserve": ("preserve: pixels outside the mask and outside the evaluation's lower-face region (target: 0 "
                 "changed, PSNR ∞)", _preserve_section),
    "speed": ("speed (target: tool ÷ transcode ≤ 1.5)", _speed_section),
    "robust": ("robust: good inputs exact, bad inputs exit 2 with one line and nothing left", _robust_section),
}


def _summary_section(report: dict[str, Any]) -> list[str]:
    rows = []
    for protocol, s in report["summary"].items():
        medians = ", ".join(f"{k} {fmt(v, 3)}" for k, v in s["median"].items())
        checks = ", ".join(f"{k}: {v}" for k, v in s["checks_passed"].items())
        reliable = f"{s['reliable_av_clips']}/{s['clips']}" if protocol in ("shift", "dub", "closures") else "–"
        rows.append([protocol, str(s["clips"]), reliable, medians, checks])
    return _table(["protocol", "clips", "AV-reliable clips", "medians (AV figures: reliable clips only)", "checks met"], rows)


def _noise_section(report: dict[str, Any]) -> list[str]:
    rows = []
    for protocol, figures in report["noise"].items():
        for name, n in figures.items():
            rows.append([
                protocol, name, fmt(n["halves_median_abs_diff"], 3), fmt(n["halves_max_abs_diff"], 3),
                str(n["halves_clips"]), fmt(n["repeat_max_spread"], 4),
            ])
    return _table(["protocol", "figure", "halves: median |a − b|", "halves: max |a − b|", "clips",
                   "repeat runs: max spread"], rows)


def markdown(report: dict[str, Any], base: Path) -> str:
    """The whole Markdown report; links are relative to `base` (the report's folder)."""
    setting = report["setting"]
    lines = [
        f"# MyTalk evaluation: engine `{report['engine']}`, setting `{setting['name']}`",
        "",
        f"{report['created']} · suite {report['suite_version']} · {len(report['clips'])} clips · "
        f"protocols {', '.join(report['protocols'])} · {report['seconds']} s · codec {setting['codec']} · "
        f"D = {setting['shift_s']} s · window {setting['window_s'] or 'whole clip'}"
        + (" · **reference tool of the suite, not the product**" if report.get("reference_tool") else ""),
        "",
        "Baselines are in parentheses: do-nothing = the source frames unchanged with the new line; "
        "real = the real footage with its own sound over the same range. Lags are in frames, positive when "
        "the sound comes after the mouth. IOD = inter-ocular distance.",
        "",
        "## Summary",
        "",
        *_summary_section(report),
    ]
    for protocol in report["protocols"]:
        title, section = _SECTIONS[protocol]
        results = [r for _, r in _rows(report, protocol)]
        if protocol == "robust" and report.get("bad_inputs"):
            results.append(report["bad_inputs"])
        if results and all(r.get("skipped") for r in results):
            lines += ["", f"## {title}", "", f"Not applicable: {results[0]['skipped']}."]
            continue
        lines += ["", f"## {title}", "", *section(report, base)]
    lines += [
        "",
        "## Noise levels",
        "",
        "Spread of each figure between the two halves of a clip's range (the tracker is deterministic, so this "
        "is the measurement's own noise on real speech), and between repeated runs when the report was made "
        "with --repeat (tool re-run, every landmark re-tracked without the cache).",
        "",
        *_noise_section(report),
        "",
    ]
    return "\n".join(lines)


def write_markdown(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(report, path.parent))
    return path
