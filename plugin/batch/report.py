"""The batch's QC report for the editor: `report.json` for tools, `report.html` for a browser.

One row per shot, flagged shots first (`qc.ShotQc.flags` says why), then the rest in record order,
then the shots that were not rendered (skipped at planning, or failed) with the reason. Each row
shows the shot's thumbnails, where it sits in the cut, the figures MyTalk measured on its own
render, its warnings and its time, and for a flagged shot the command that opens it in the panel
(`mytalk panel --timeline CUT --shot N`, N being the cut's clip number as `mytalk batch CUT --list`
prints it). The HTML is one self-contained file (inline style, thumbnails by relative path beside
it), so the batch folder can be copied or shared as is. Both files are written atomically.
"""

from __future__ import annotations

import html
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mytalk.core.atomic import AtomicFile
from mytalk.plugin.batch.plan import BatchPlan, ShotJob
from mytalk.plugin.batch.shots import BatchSettings, ShotOutcome

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


@dataclass(frozen=True)
class BatchSummary:
    """Everything the report says besides the shots: the cut, where the lines came from, the run."""

    cut: Path
    folder: Path
    settings: BatchSettings
    runner: str
    workers: int
    seconds: float
    timeline_versions: Sequence[Path] = ()


def shot_rows(plan: BatchPlan, outcomes: Sequence[ShotOutcome], clip_numbers: dict[int, int]) -> list[dict[str, Any]]:
    """The report's rows: flagged first, then record order; `clip_numbers` maps a job number to the
    cut's clip number (for `--shot`)."""
    by_number = {outcome.number: outcome for outcome in outcomes}
    rows = [_row(job, by_number.get(job.number), clip_numbers.get(job.number)) for job in plan.jobs]
    return sorted(rows, key=lambda row: (not row["flagged"], row["status"] != "failed", row["record_start"]))


def _row(job: ShotJob, outcome: ShotOutcome | None, clip_number: int | None) -> dict[str, Any]:
    qc = (outcome.qc if outcome is not None else None) or {}
    status = outcome.status if outcome is not None else "not run"
    flags = list(qc.get("flags", [])) + ([f"failed: {outcome.error}"] if outcome is not None and outcome.error else [])
    return {
        **job.to_dict(),
        "clip_number": clip_number,
        "status": status,
        "output": outcome.output if outcome else None,
        "report": outcome.report if outcome else None,
        "seconds": round(outcome.seconds, 2) if outcome else None,
        "attempts": outcome.attempts if outcome else 0,
        "worker": outcome.worker if outcome else None,
        "qc": qc,
        "flags": flags,
        "flagged": bool(flags) or status not in ("done", "skipped"),
    }


def write_reports(summary: BatchSummary, plan: BatchPlan, outcomes: Sequence[ShotOutcome],
                  clip_numbers: dict[int, int]) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into the batch folder; returns their paths."""
    rows = shot_rows(plan, outcomes, clip_numbers)
    counts = {status: sum(1 for row in rows if row["status"] == status) for status in ("done", "skipped", "failed")}
    data = {
        "cut": str(summary.cut),
        "lines": plan.source,
        "settings": summary.settings.to_dict(),
        "runner": summary.runner,
        "workers": summary.workers,
        "seconds": round(summary.seconds, 2),
        "counts": {"shots": len(rows), "rendered": counts["done"], "already_done": counts["skipped"],
                   "failed": counts["failed"], "flagged": sum(1 for row in rows if row["flagged"]),
                   "not_planned": len(plan.skipped)},
        "timeline_versions": [str(path) for path in summary.timeline_versions],
        "shots": rows,
        "not_planned": [skipped.to_dict() for skipped in plan.skipped],
    }
    folder = summary.folder
    json_path, html_path = folder / REPORT_JSON, folder / REPORT_HTML
    with AtomicFile(json_path) as temp:
        temp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with AtomicFile(html_path) as temp:
        temp.write_text(render_html(data, folder), encoding="utf-8")
    return json_path, html_path


def _relative(path: str | None, folder: Path) -> str | None:
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_uri()


def _figure(value: Any, suffix: str = "") -> str:
    return "–" if value is None else f"{value}{suffix}"


def render_html(data: dict[str, Any], folder: Path) -> str:
    """The report as one HTML page."""
    esc = html.escape
    counts = data["counts"]
    rows: list[str] = []
    for row in data["shots"]:
        qc = row["qc"]
        thumb = _relative(qc.get("thumbnails"), folder)
        picture = f'<img src="{esc(thumb)}" alt="shot {row["number"]}">' if thumb else '<div class="none">no render</div>'
        flags = "".join(f"<li>{esc(flag)}</li>" for flag in row["flags"])
        warnings = qc.get("warnings") or []
        open_cmd = ""
        if row["flagged"] and row.get("clip_number") is not None:
            command = shlex.join(["mytalk", "panel", "--timeline", data["cut"], "--shot", str(row["clip_number"])])
            open_cmd = f'<div class="cmd">open in the panel: <code>{esc(command)}</code></div>'
        output = _relative(row.get("output"), folder)
        rows.append(f"""
<tr class="{'flagged' if row['flagged'] else 'ok'}">
  <td class="num">{row['number']:03d}<div class="status {esc(row['status'])}">{esc(row['status'])}</div></td>
  <td>{picture}</td>
  <td><b>{esc(row['cue'])}</b>{'' if row['cue'] == row['clip_name'] else f" · {esc(row['clip_name'])}"}<br>record {esc(row['record_in_tc'])} · {row['record_stop'] - row['record_start']} fr
      <br>source {row['source_start']}–{row['source_stop']} of {esc(Path(row['video']).name)}
      <br>line {esc(Path(row['line']).name)} at {esc(row['audio_in'])}
      {f'<br>character {esc(row["actor"])}' if row.get('actor') else ''}
      {f'<br>words <i>{esc(row["transcript"])}</i>' if row.get('transcript') else ''}
      {f'<br><span class="note">note: {esc(row["notes"])}</span>' if row.get('notes') else ''}
      {f'<br>file <a href="{esc(output)}">{esc(Path(row["output"]).name)}</a>' if output else ''}</td>
  <td class="fig">offset {_figure(qc.get('offset_frames'), ' fr')}<br>confidence {_figure(qc.get('confidence'))}
      <br>closed in pauses {_figure(None if qc.get('closed_in_silence') is None else f"{qc['closed_in_silence']:.0%}")}
      <br>faceless frames {_figure(qc.get('faceless_frames'))}<br>speech {_figure(qc.get('seconds_of_speech'), ' s')}</td>
  <td>{f'<ul class="flags">{flags}</ul>' if flags else '<span class="good">no flags</span>'}{open_cmd}
      {f'<details><summary>{len(warnings)} warning(s)</summary><ul>' + ''.join(f'<li>{esc(w)}</li>' for w in warnings[:50]) + '</ul></details>' if warnings else ''}</td>
  <td class="fig">{_figure(row['seconds'], ' s')}<br>{row['attempts']} attempt(s)<br><small>{esc(row.get('worker') or '')}</small></td>
</tr>""")
    skipped = "".join(
        f"<tr><td>{esc(s['cue'])}</td><td>{esc(s['clip_name'])}</td><td>{esc(s['record_in_tc'])}</td><td>{esc(s['reason'])}</td></tr>"
        for s in data["not_planned"])
    versions = "".join(f"<li>{esc(path)}</li>" for path in data["timeline_versions"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MyTalk batch QC: {esc(Path(data['cut']).name)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d1d1f; background: #fafafa; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} .sub {{ color: #555; margin-bottom: 16px; }}
.counts span {{ display: inline-block; margin-right: 14px; padding: 3px 9px; border-radius: 10px; background: #e8e8ed; }}
.counts .warn {{ background: #ffe1d6; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 16px; background: white; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 8px; vertical-align: top; text-align: left; }}
tr.flagged {{ background: #fff5f0; }} tr.flagged td.num {{ border-left: 4px solid #d9480f; }}
tr.ok td.num {{ border-left: 4px solid #2b8a3e; }}
img {{ height: 72px; border-radius: 3px; }} .none {{ color: #999; }}
.fig {{ white-space: nowrap; color: #333; }} .num {{ font-weight: 600; }}
.status {{ font-weight: normal; font-size: 12px; color: #666; }} .status.failed {{ color: #c92a2a; }}
.flags {{ margin: 0; padding-left: 18px; color: #c2410c; }} .good {{ color: #2b8a3e; }} .note {{ color: #7c4a03; }}
.cmd code {{ font-size: 12px; background: #f1f3f5; padding: 2px 4px; }}
</style></head><body>
<h1>MyTalk batch QC: {esc(Path(data['cut']).name)}</h1>
<div class="sub">lines from {esc(data['lines'])} · {esc(data['runner'])}, {data['workers']} worker(s) · {data['seconds']} s</div>
<div class="counts"><span>{counts['shots']} shots</span><span>{counts['rendered']} rendered</span>
<span>{counts['already_done']} already done</span><span class="{'warn' if counts['failed'] else ''}">{counts['failed']} failed</span>
<span class="{'warn' if counts['flagged'] else ''}">{counts['flagged']} flagged for review</span>
<span>{counts['not_planned']} not planned</span></div>
{f'<p>Timeline version: <ul>{versions}</ul></p>' if versions else ''}
<table><tr><th>shot</th><th>render</th><th>where</th><th>measured on the render</th><th>review</th><th>time</th></tr>
{''.join(rows)}
</table>
{f'<h2>Not planned</h2><table><tr><th>cue</th><th>clip</th><th>record</th><th>why</th></tr>{skipped}</table>' if skipped else ''}
</body></html>
"""
