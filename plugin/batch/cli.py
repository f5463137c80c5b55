"""`mytalk batch CUT -o FOLDER (--stem DUB.wav | --cues CUES.csv)`: the command line of a batch.

    mytalk batch CUT.otio --list                       the cut's clips, numbered as events and --shot
    mytalk batch CUT.otio --stem DUB.wav -o FOLDER     every shot with a face, its slice of the stem
        [--stem-start TC]                              where the stem starts (default: its BWF time stamp)
        [--stem-channels PICK]                         its channels, as sync's --audio-channels (default all)
    mytalk batch CUT.edl --cues CUES.csv -o FOLDER     one shot per cue (format: `plugin.batch.cues`)
        [--guide-channels PICK]                        either way: the clips' own channels that are the actor's
        [--actors MAP.csv] [--workers N] [--cluster ray|ray://HOST:PORT|auto] [--codec ...] [settings]

Exit codes: 0 every planned shot rendered (or was already done); 2 bad input, one line, before anything
renders; 3 the batch ran to the end but some shots failed (listed first in the report); 130 and 143
stopped by Ctrl-C or SIGTERM, every finished shot kept, nothing half-written (run it again to go on).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from mytalk.core.errors import MediaNotFoundError, UsageError
from mytalk.core.jobs.request import check_language
from mytalk.core.settings import Setting, check_values
from mytalk.plugin.batch.driver import BatchEvents, BatchProgress, Runner, open_cut, run_batch
from mytalk.plugin.batch.plan import BatchPlan
from mytalk.plugin.batch.shots import BatchSettings, ShotOutcome

FAILED_SHOTS_EXIT = 3
_RUN_ONLY = ("codec", "handles", "quality", "engine")
"""Settings the batch takes as its own options rather than as engine settings."""


def add_batch_arguments(parser: argparse.ArgumentParser, schema: Mapping[str, Setting],
                        add_settings: Any) -> None:
    """The `batch` subcommand's options; `add_settings(parser, schema)` adds the manifest settings."""
    parser.add_argument("cut", type=Path, help="the cut: any timeline the panel reads (.otio, .edl, .xml, .kdenlive, .mlt)")
    parser.add_argument("-o", "--output", type=Path, help="batch folder: shots/, qc/, the cut's new version, report.html")
    lines = parser.add_mutually_exclusive_group()
    lines.add_argument("--stem", type=Path, help="one dialogue stem for the whole cut; it starts where its Broadcast "
                       "WAV time stamp says, else on the cut's first frame")
    lines.add_argument("--cues", type=Path, help="ADR cue sheet (CSV): record in/out or event, line file, ...")
    parser.add_argument("--stem-start", metavar="TC", help="record timecode of the stem's first sample "
                        "(00:59:58:00 for a stem printed from its 2-pop), over its time stamp")
    parser.add_argument("--stem-channels", metavar="PICK", help="the stem's channels every shot uses, as sync's "
                        "--audio-channels takes them (3, 1-2, a track name); default all of them")
    parser.add_argument("--guide-channels", metavar="PICK", help="the clips' own channels that are the actor's "
                        "microphone, as sync's --guide-channels takes them, for every shot; default: the channels the "
                        "cut plays with each shot where it says (Kdenlive, Shotcut, FCP XML), else each clip's first "
                        "stream with sound")
    parser.add_argument("--actors", type=Path, help="CSV or JSON: source clip (name or path) -> stored actor profile")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per two cores here)")
    parser.add_argument("--cluster", default="local",
                        help="local (default), ray (start or join a local Ray), ray://HOST:PORT, or auto (RAY_ADDRESS)")
    parser.add_argument("--list", action="store_true", help="print the cut's clips with their numbers and stop")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_settings(parser, {name: setting for name, setting in schema.items() if name != "quality"})


def read_actor_map(path: Path) -> dict[str, str]:
    """`--actors`: a JSON object, or a CSV with two columns (clip, actor profile) and an optional header."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise MediaNotFoundError(f"--actors {path}: file not found") from error
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise UsageError(f"--actors {path.name}: not valid JSON ({error})") from error
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise UsageError(f"--actors {path.name}: give an object of clip name -> actor profile name")
        return dict(data)
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and cells[0].lower() in ("clip", "source", "source clip", "file")):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise UsageError(f"--actors {path.name} line {number}: give a clip and an actor profile, comma separated")
        mapping[cells[0]] = cells[1]
    return mapping


def batch_settings(args: argparse.Namespace, schema: Mapping[str, Setting]) -> BatchSettings:
    """The shots' settings from the command line, each checked here: a bad value is one line and exit 2
    before the batch folder is made or an actor learned, not an error from the first shot's request."""
    values = {name: getattr(args, name) for name in schema if name not in _RUN_ONLY and getattr(args, name, None) is not None}
    check_values(schema, values)
    if "language" in values:
        check_language(values["language"])  # against espeak-ng's list, which the schema cannot know
    if args.handles is not None and args.handles < 0:
        raise UsageError(f"--handles {args.handles}: give 0 or more frames")
    return BatchSettings(engine=args.engine, codec=args.codec or "prores", handles=args.handles or 0,
                         settings=values, actors=read_actor_map(args.actors) if args.actors else {})


def make_runner(cluster: str, workers: int | None) -> Runner:
    if cluster == "local":
        from mytalk.plugin.batch.local_pool import LocalRunner

        return LocalRunner(workers)
    from mytalk.plugin.batch.ray_pool import RayRunner

    return RayRunner(cluster, workers)


def list_clips(cut: Path, stream: TextIO) -> int:
    host = open_cut(cut)
    for clip in host.clips():
        stream.write(f"{clip.number:4d}  {host.record_timecode(clip.record_start)}  "
                     f"{clip.record_stop - clip.record_start:6d} fr  {clip.track_name:6s}  {clip.name}  "
                     f"{clip.media or '(no media)'}\n")
    return 0


class _Printer:
    """Progress lines on stderr: each shot as it ends, and the whole batch with its ETA."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream, self.quiet, self.last = stream, quiet, 0.0

    def plan(self, plan: BatchPlan) -> None:
        self.stream.write(f"batch: lines from {plan.source}\n")
        self.stream.write(f"batch: {len(plan.jobs)} shot(s) to render, {len(plan.skipped)} not planned\n")
        for skipped in plan.skipped:
            self.stream.write(f"  not planned: {skipped.record_in_tc} {skipped.clip_name or skipped.cue}: {skipped.reason}\n")

    def stage(self, text: str) -> None:
        self.stream.write(f"batch: {text}\n")

    def progress(self, progress: BatchProgress, event: tuple[int, int, int, str]) -> None:
        now = time.perf_counter()
        if self.quiet or now - self.last < 1.0:
            return
        self.last = now
        number, done, total, stage = event
        eta = progress.eta_s()
        overall = progress.done_frames() / max(progress.total_frames, 1)
        self.stream.write(f"  shot {number:03d} {stage} {done}/{total}   batch {overall:4.0%} "
                          f"({progress.finished}/{progress.shots} shots)"
                          f"{'' if eta is None else f'  ETA {int(eta) // 60}:{int(eta) % 60:02d}'}\n")

    def outcome(self, progress: BatchProgress, outcome: ShotOutcome) -> None:
        qc = outcome.qc or {}
        figures = (f"offset {qc.get('offset_frames')} fr, confidence {qc.get('confidence')}" if qc.get("frames") else "")
        flag = f"  FLAGGED: {'; '.join(qc.get('flags', []))}" if qc.get("flagged") else ""
        what = outcome.error if outcome.status == "failed" else figures
        self.stream.write(f"  shot {outcome.number:03d} {outcome.status} in {outcome.seconds:.1f} s"
                          f"{f' ({what})' if what else ''}{flag}   [{progress.finished}/{progress.shots}]\n")


def run_batch_command(args: argparse.Namespace, schema: Mapping[str, Setting]) -> int:
    """`mytalk batch`; returns the exit code (a `MyTalkError` is left to the caller: one line, exit 2)."""
    if args.list:
        return list_clips(args.cut, sys.stdout)
    if args.output is None:
        raise UsageError("batch: give the batch folder with -o FOLDER (or --list to see the cut's clips)")
    if args.stem is None and args.cues is None:
        raise UsageError("batch: give the lines with --stem DUB.wav or --cues CUES.csv")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more")
    settings = batch_settings(args, schema)
    runner = make_runner(args.cluster, args.workers)
    printer = _Printer(sys.stderr, args.quiet)
    result = run_batch(args.cut, args.output, runner, settings, stem=args.stem, cues=args.cues, stem_start=args.stem_start,
                       stem_channels=args.stem_channels, guide_channels=args.guide_channels,
                       events=BatchEvents(printer.plan, printer.stage, printer.progress, printer.outcome))
    json_report, html_report = result.reports
    sys.stderr.write(f"batch: {len(result.outcomes)} shot(s) in {result.seconds:.1f} s; report {html_report}\n")
    for version in result.timeline_versions:
        sys.stderr.write(f"batch: new version of the cut: {version}\n")
    print(json.dumps({"report": str(json_report), "html": str(html_report),
                      "timeline_versions": [str(path) for path in result.timeline_versions],
                      "shots": len(result.outcomes), "failed": len(result.failed)}))
    return FAILED_SHOTS_EXIT if result.failed else 0
