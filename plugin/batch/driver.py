"""`mytalk batch`: plan a whole cut, render every shot where it runs, then version the cut and report.

In order, and nothing written before the plan is complete and checked:

1. **plan** (`plan.plan_batch`): the cut's shots with their lines (stem or cue sheet), a quick look for
   a face in each; a bad cue sheet or stem, or an `--actors` map naming a clip not in the cut or a
   profile not stored (`shots.resolve_actor_map`), or an engine missing its trained models
   (`shots.check_engine_installed`), stops here with one line, exit code 2;
2. **actors**: for a clip `--actors` does not name, each source clip's actor is learned once, before its shots, as a task
   of its own (`commands.learn_actor`), so two workers never learn the same clip at once; the shots
   then find it in the profile cache (a shared user folder on a cluster: `docs/scale.md`);
3. **shots**, on the local pool (`local_pool`) or on Ray (`ray_pool`): each writes its render and report
   atomically into `FOLDER/shots/`, a shot already done is skipped (`shots.already_done`), and a shot
   that fails twice is reported, not fatal;
4. **the cut's new version** (`CUT_mytalk_vNNN.ext` in FOLDER) with every rendered fix on a track of
   its own above the picture, at its record time; the cut is never written;
5. **the QC report** (`report.json`, `report.html`).

Progress is reported per shot and overall, with an ETA from the frames rendered so far; Ctrl-C (or the
`cancel` event) stops every running shot within a frame, and the same command later goes on from
where it stopped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mytalk.core.errors import UsageError
from mytalk.plugin.batch.plan import BatchPlan, ShotJob
from mytalk.plugin.batch.shots import BatchSettings, ShotOutcome


@dataclass
class BatchProgress:
    """The overall state the driver shows: frames rendered of all shots, and an ETA from their rate."""

    total_frames: int
    began: float = field(default_factory=time.perf_counter)
    shot_frames: dict[int, int] = field(default_factory=dict)
    finished: int = 0
    shots: int = 0

    def update(self, number: int, done: int, total: int, stage: str) -> None:
        if stage == "render":
            self.shot_frames[number] = done

    def done_frames(self) -> int:
        return sum(self.shot_frames.values())

    def eta_s(self) -> float | None:
        done = self.done_frames()
        if done <= 0:
            return None
        return (time.perf_counter() - self.began) * (self.total_frames - done) / done


@dataclass(frozen=True)
class BatchResult:
    """What a batch delivered: the plan, each shot's outcome, the cut's new version and the reports."""

    plan: BatchPlan
    outcomes: list[ShotOutcome]
    timeline_versions: list[Path]
    reports: tuple[Path, Path]
    seconds: float

    @property
    def failed(self) -> list[ShotOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


def open_cut(cut: Path) -> Any:
    """The cut's timeline host, by its suffix, as the manifest lists the hosts."""
    from mytalk.plugin.loader import open_timeline
    from mytalk.plugin.manifest import load_manifest

    return open_timeline([load_manifest()], Path(cut).expanduser())


def check_folder(folder: Path) -> Path:
    """The batch folder, made if needed; a file there is refused."""
    folder = Path(os.path.abspath(Path(folder).expanduser()))  # workers may run in another working folder
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o {folder}: is a file; give a folder for the batch's renders and report")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def place_fixes(host: Any, outcomes: Sequence[ShotOutcome], jobs: Sequence[ShotJob], folder: Path) -> list[Path]:
    """Write the cut's next version with every rendered shot on the fix track, in one go."""
    by_number = {job.number: job for job in jobs}
    fixes = []
    for outcome in outcomes:
        if outcome.status in ("done", "skipped") and outcome.output:
            job = by_number[outcome.number]
            provenance = {"render": outcome.output, "sidecar": outcome.report, "batch_shot": job.number,
                          "cue": job.cue, "source_clip": job.video, "source_range": [job.source_start, job.source_stop],
                          "record_start": job.record_start, "line": job.line, "audio_in": job.audio_in,
                          "from_timeline": str(host.path)}
            fixes.append((Path(outcome.output), job.record_start, job.source_stop - job.source_start, provenance,
                          Path(job.video)))
    if not fixes:
        return []
    return list(host.write_version_with(fixes, folder=folder))


def clip_numbers(host: Any, jobs: Sequence[ShotJob]) -> dict[int, int]:
    """Each job's clip number in the cut (for `mytalk panel --timeline CUT --shot N`)."""
    numbers: dict[int, int] = {}
    for job in jobs:
        clip = host.clip_at(job.record_start, job.record_stop)
        numbers[job.number] = int(clip.number)
    return numbers


class Runner:
    """Where the shots run: `learn` the clips' actors, then `render` the shots (see `local_pool`, `ray_pool`)."""

    name = "runner"
    workers = 1
    runs_here = True
    """Whether the shots run on this machine, with its user folder and devices: only then can the driver
    check before any shot what the engine needs installed (a cluster's nodes have their own)."""

    def connect(self) -> None:
        """Reach where the shots will run, before anything is made: a cluster that cannot be reached is one
        line (a `MyTalkError`) while the batch folder is still untouched. The local pool has nothing to reach."""

    def learn(self, clips: Sequence[str], settings: BatchSettings) -> None:
        raise NotImplementedError

    def render(self, jobs: Sequence[ShotJob], folder: Path, settings: BatchSettings,
               on_progress: Callable[[tuple[int, int, int, str]], None],
               on_outcome: Callable[[ShotOutcome], None], cancel: threading.Event) -> list[ShotOutcome]:
        raise NotImplementedError


@dataclass
class BatchEvents:
    """What the driver tells whoever runs it (the CLI prints these)."""

    on_plan: Callable[[BatchPlan], None] = lambda plan: None
    on_stage: Callable[[str], None] = lambda text: None
    on_progress: Callable[[BatchProgress, tuple[int, int, int, str]], None] = lambda progress, event: None
    on_outcome: Callable[[BatchProgress, ShotOutcome], None] = lambda progress, outcome: None


def run_batch(cut: Path, folder: Path, runner: Runner, settings: BatchSettings, *, stem: Path | None = None,
              cues: Path | None = None, events: BatchEvents | None = None,
              cancel: threading.Event | None = None, stem_start: str | None = None,
              stem_channels: str | None = None, guide_channels: str | None = None) -> BatchResult:
    """The whole batch (module docstring); raises a `MyTalkError` for bad input before anything renders."""
    from mytalk.plugin.batch.plan import plan_batch
    from mytalk.plugin.batch.report import BatchSummary, write_reports
    from mytalk.plugin.batch.shots import actor_for, check_engine_installed, resolve_actor_map

    events = events or BatchEvents()
    cancel = cancel or threading.Event()
    began = time.perf_counter()
    host = open_cut(cut)
    if settings.actors:
        settings = replace(settings, actors=resolve_actor_map(settings.actors, host.clips(), "--actors",
                                                              check_stored=runner.runs_here))
    plan = plan_batch(host, stem=stem, cue_sheet=cues, stem_start=stem_start, stem_channels=stem_channels,
                      guide_channels=guide_channels)
    if runner.runs_here:
        check_engine_installed(plan.jobs, Path(os.path.abspath(Path(folder).expanduser())), settings)
    if plan.jobs:
        runner.connect()
    folder = check_folder(folder)
    events.on_plan(plan)
    progress = BatchProgress(sum(job.source_stop - job.source_start for job in plan.jobs), shots=len(plan.jobs))
    outcomes: list[ShotOutcome] = []
    if plan.jobs:
        clips = list(dict.fromkeys(job.video for job in plan.jobs if not actor_for(job, settings)))
        if clips:
            events.on_stage(f"learning the actor of {len(clips)} source clip(s)")
            runner.learn(clips, settings)
        events.on_stage(f"rendering {len(plan.jobs)} shot(s) on {runner.name}, {runner.workers} worker(s)")
        progress.began = time.perf_counter()

        def shot_progress(event: tuple[int, int, int, str]) -> None:
            progress.update(*event)
            events.on_progress(progress, event)

        def shot_done(outcome: ShotOutcome) -> None:
            progress.finished += 1
            frames = next(job.source_stop - job.source_start for job in plan.jobs if job.number == outcome.number)
            progress.shot_frames[outcome.number] = frames
            events.on_outcome(progress, outcome)

        outcomes = runner.render(plan.jobs, folder, settings, shot_progress, shot_done, cancel)
    versions = place_fixes(host, outcomes, plan.jobs, folder)
    summary = BatchSummary(Path(cut), folder, settings, runner.name, runner.workers, time.perf_counter() - began,
                           versions)
    reports = write_reports(summary, plan, outcomes, clip_numbers(host, plan.jobs))
    return BatchResult(plan, outcomes, versions, reports, time.perf_counter() - began)
