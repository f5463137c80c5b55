"""One shot of a batch: its request, whether it is already done, and rendering it (in a worker).

Everything here runs the same in the driver, in a local worker process and in a Ray task: a shot
is a `ShotJob` (plain values) plus `BatchSettings`, and its result is a `ShotOutcome` (plain values).
A shot's files are its render `NNN_<clip>_<in>-<out>.<ext>` and its report `NNN_….json` in the
batch's `shots/` folder, written by `run_sync` together and atomically, so a shot's files are there
complete or not at all, whoever was killed when.

**Resuming.** A shot is done when its render and its report are there, and the report says it was
made by this MyTalk version from the same request (clip, line, range, placement, every setting) and
from files with the same content (the SHA-256s in the report against the files now, hashed once per
file identity by `core.hashing`). A changed line file, another setting or a newer MyTalk renders it
again; anything else is skipped in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mytalk.core.errors import JobCancelledError, MyTalkError, UsageError
from mytalk.core.jobs.request import SyncRequest
from mytalk.plugin.batch.plan import ShotJob

SHOTS_FOLDER = "shots"
QC_FOLDER = "qc"


@dataclass(frozen=True)
class BatchSettings:
    """What every shot of a batch is rendered with: the engine, the codec and the user settings."""

    engine: str | None = None
    codec: str = "prores"
    handles: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Manifest settings by name (`openness`, `mask_mode`, `language`, ...), as `SyncRequest.with_settings` takes them."""
    actors: Mapping[str, str] = field(default_factory=dict)
    """Source clip → stored actor profile name (`--actors MAP`). As read, keyed by whatever the editor
    wrote (the clip's name in the cut, its file name or its path); the driver keys it by the clips' absolute
    paths before any work (`resolve_actor_map`), as `actor_for` reads it."""

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "codec": self.codec, "handles": self.handles,
                "settings": dict(self.settings), "actors": dict(self.actors)}


@dataclass(frozen=True)
class ShotOutcome:
    """How one shot ended: `done`, `skipped` (already done: resumed), or `failed` with the error."""

    number: int
    status: str
    output: str | None
    report: str | None
    seconds: float
    error: str | None = None
    attempts: int = 1
    worker: str | None = None
    qc: dict[str, Any] | None = None
    """The shot's QC figures (`qc.ShotQc.to_dict`), measured on its render; None when it failed."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def codec_suffix(codec: str) -> str:
    from mytalk.core.media.writer import CODEC_PRESETS

    preset = CODEC_PRESETS.get(codec)
    if preset is None:
        raise MyTalkError(f"--codec {codec!r}: choose one of {', '.join(CODEC_PRESETS)}")
    return preset.extensions[0]


def shot_paths(job: ShotJob, folder: Path, settings: BatchSettings) -> tuple[Path, Path]:
    """(render, report) of a shot in the batch folder."""
    shots = Path(folder) / SHOTS_FOLDER
    return shots / f"{job.name}{codec_suffix(settings.codec)}", shots / f"{job.name}.json"


def actor_for(job: ShotJob, settings: BatchSettings) -> str | None:
    """The stored profile the shot's actor is painted from (`--actors`, by the shot's source clip), or None
    to learn it from the clip. A cue sheet's actor column is the character's name for the report, not a
    profile: it is often the same for two actors, or the name of someone never stored."""
    return settings.actors.get(job.video) if settings.actors else None


def resolve_actor_map(actors: Mapping[str, str], clips: Iterable[Any], where: str, *,
                      check_stored: bool = True) -> dict[str, str]:
    """`--actors` keyed by each clip's absolute media path, as `actor_for` reads it; UsageError before any
    work for a key that names no clip of the cut, a clip given two profiles, or (`check_stored`: the
    shots run here, with this user folder) a profile not stored.

    A key is the clip's name in the cut, its media's file name, or its media's path: the editor writes
    what the timeline shows. A mistyped key or profile would otherwise go unnoticed (the clip's actor is
    learned instead) or fail every one of its shots after the batch has started.
    """
    from mytalk.core.engines.actors import stored_actors

    media = [(str(clip.name), Path(os.path.abspath(clip.media))) for clip in clips if clip.media is not None]
    resolved: dict[str, str] = {}
    for key, profile in actors.items():
        as_path = Path(os.path.abspath(Path(key).expanduser()))
        matched = {str(path) for name, path in media if key in (name, path.name) or as_path == path}
        if not matched:
            names = ", ".join(dict.fromkeys(name for name, _ in media)) or "none"
            raise UsageError(f"{where}: {key!r} is no clip of the cut; give a clip's name in the cut "
                             f"({names}), its file name or its path")
        for path in matched:
            if resolved.setdefault(path, profile) != profile:
                raise UsageError(f"{where}: {Path(path).name} is given two actors, {resolved[path]!r} and "
                                 f"{profile!r}; keep one")
    stored = stored_actors() if check_stored else sorted(set(resolved.values()))
    missing = sorted(set(resolved.values()) - set(stored))
    if missing:
        raise UsageError(f"{where}: no actor profile named {', '.join(map(repr, missing))} (stored: "
                         f"{', '.join(stored) or 'none yet'}); build one with 'mytalk actor build NAME FOOTAGE'")
    return resolved


def check_engine_installed(jobs: Iterable[ShotJob], folder: Path, settings: BatchSettings) -> None:
    """The batch's engine finds what it needs installed on this machine (trained models, a stored actor),
    asked once per actor before any shot of a local batch: otherwise a missing model fails every shot the same way and
    the batch ends with exit code 3 and a folder of nothing, where one line and exit 2 say it all."""
    from mytalk.core.engines import create_engine, default_engine
    from mytalk.core.jobs.request import resolve_request

    engine = create_engine(settings.engine or default_engine())
    installed = getattr(engine, "check_installed", None)
    if installed is None:
        return  # an engine with nothing to install (`copy`)
    asked: set[str | None] = set()
    for job in jobs:
        actor = actor_for(job, settings)
        if actor not in asked:
            asked.add(actor)
            installed(resolve_request(shot_request(job, folder, settings)).settings)


def shot_request(job: ShotJob, folder: Path, settings: BatchSettings) -> SyncRequest:
    """The `SyncRequest` that renders `job` into the batch folder."""
    output, report = shot_paths(job, folder, settings)
    values = dict(settings.settings)
    if job.transcript:
        values["transcript"] = job.transcript
    actor = actor_for(job, settings)
    if actor:
        values["actor"] = actor
    return SyncRequest.with_settings(video=Path(job.video), audio=Path(job.line), output=output, report=report,
                                     in_point=str(job.source_start), out_point=str(job.source_stop),
                                     audio_in=job.audio_in, audio_channels=job.audio_channels,
                                     guide_channels=job.guide_channels,
                                     engine=settings.engine, codec=settings.codec,
                                     handles=settings.handles, quality="final", **values)


def already_done(job: ShotJob, folder: Path, settings: BatchSettings) -> bool:
    """The shot's render and report are there, from this version, this request and these files' content."""
    from mytalk.core import __version__
    from mytalk.core.hashing import file_sha256

    output, report_path = shot_paths(job, folder, settings)
    if not (output.is_file() and report_path.is_file()):
        return False
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        request = shot_request(job, folder, settings).to_dict()
        recorded = report["settings"]
        same_request = all(recorded.get(key) == value for key, value in request.items() if key != "engine")
        inputs = report["inputs"]
        same_files = (inputs["video"]["sha256"] == file_sha256(Path(job.video))
                      and inputs["audio"]["sha256"] == file_sha256(Path(job.line)))
        return bool(report["mytalk_version"] == __version__ and same_request and same_files
                    and report["output"]["frames"] == job.source_stop - job.source_start)
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable or from another layout: render it again


ShotProgress = Callable[[int, int, int, str], None]
"""(shot number, done, total, stage): a shot's progress, as the driver shows it."""


def render_shot(job: ShotJob, folder: Path, settings: BatchSettings, progress: ShotProgress | None = None,
                is_cancelled: Callable[[], bool] | None = None, worker: str | None = None) -> ShotOutcome:
    """Render one shot (or find it done); a `MyTalkError` of the shot is its `failed` outcome, not raised."""
    from mytalk.core.jobs.sync import run_sync
    from mytalk.core.progress import never_cancelled

    began = time.perf_counter()
    output, report = shot_paths(job, folder, settings)
    if already_done(job, folder, settings):
        return ShotOutcome(job.number, "skipped", str(output), str(report), time.perf_counter() - began, worker=worker,
                           qc=_qc(job, folder, output, report))
    output.parent.mkdir(parents=True, exist_ok=True)

    def shot_progress(done: int, total: int, stage: str) -> None:
        if progress is not None:
            progress(job.number, done, total, stage)

    try:
        run_sync(shot_request(job, folder, settings), shot_progress, is_cancelled or never_cancelled)
    except JobCancelledError:
        raise  # the batch stops: it is not this shot's failure
    except MyTalkError as error:
        return ShotOutcome(job.number, "failed", None, None, time.perf_counter() - began,
                           error=str(error).replace("\n", "; "), worker=worker)
    seconds = time.perf_counter() - began
    return ShotOutcome(job.number, "done", str(output), str(report), seconds, worker=worker,
                       qc=_qc(job, folder, output, report))


def _qc(job: ShotJob, folder: Path, output: Path, report: Path) -> dict[str, Any]:
    """The shot's QC (`qc.measure_shot`); a shot whose QC cannot be measured is flagged, never failed."""
    from mytalk.plugin.batch.qc import measure_shot

    try:
        return measure_shot(output, report, Path(folder) / QC_FOLDER / f"{job.name}.jpg").to_dict()
    except (MyTalkError, OSError, ValueError, KeyError) as error:
        return {"flagged": True, "flags": [f"QC could not be measured: {error}"]}


def learn_clip(video: str, settings: BatchSettings, is_cancelled: Callable[[], bool] | None = None) -> bool:
    """Learn one source clip's actor into the profile cache before its shots (`commands.learn_actor`).

    False when the engine learns nothing ahead, or when learning fails: the clip's shots then learn
    or fail on their own, and their reports say why."""
    from mytalk.core.jobs import commands
    from mytalk.core.progress import never_cancelled, no_progress

    request = SyncRequest.with_settings(video=Path(video), audio=Path(video), output=Path(video).parent,
                                        engine=settings.engine, **dict(settings.settings))
    try:
        return commands.learn_actor(commands.JobSession(), request, no_progress, is_cancelled or never_cancelled).learned
    except JobCancelledError:
        raise
    except MyTalkError:
        return False
