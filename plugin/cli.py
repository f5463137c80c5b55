"""The `mytalk` command line: a stable contract that outside tools and the benchmarks call.

    mytalk sync VIDEO --audio AUDIO -o OUT [--in X] [--out Y] [--audio-in Z] [--guide auto|none]
                [--transcript TEXT|@FILE] [--reference RANGE ...] [--face X,Y] [--report R.json] [--quiet]
                [one option per setting of manifest.json: --engine, --openness, --codec, --language, ...]
    mytalk actor build NAME FOOTAGE[:IN-OUT] ...   learn an actor profile for --actor
    mytalk actor list [--json] | mytalk actor remove NAME
    mytalk actor build NAME FOOTAGE... --engine mytalk [--config small|FILE.toml]   fine-tune the neural engine
    mytalk dataset build VIDEOS[:IN-OUT]... -o DIR [--crop-size PX]   training data for the neural engine
    mytalk train motion|appearance DIR --config FILE.toml [--resume] [--out NAME] [--steps N] [--device D]
                [--nproc N [--nnodes N --node-rank I --master-addr HOST --master-port P]]   (torchrun, DDP)
    mytalk models pack NAME -o FILE --version V --license L | models install FILE | models list
    mytalk probe FILE            print what MyTalk reads from a clip, as JSON
    mytalk validate [MANIFEST]   check a plugin manifest
    mytalk panel [VIDEO] [--audio FILE]
    mytalk blender install [--target DIR] [--print]   the Blender sequencer extension
    mytalk batch CUT -o FOLDER (--stem DUB.wav | --cues CUES.csv)   fix a whole cut, with a QC report
    mytalk runtime               the local core process: JSON lines on stdin/stdout (for the panel)
    mytalk clean [FOLDER ...]    remove what killed jobs left behind, and say what was removed;
                                 keep the cache within MYTALK_CACHE_LIMIT (--cache: empty it)

Exit codes: 0 success; 2 bad input or usage (also a full disk, a read-only folder, a closed output
pipe), with one line on stderr and no traceback; 1 an internal error, with the path of a log file;
130, 143, 129 stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP, after cleaning up. On any failure
OUT is exactly as it was before the command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from mytalk.core.blas_threads import limit_blas_threads
from mytalk.core.errors import JobCancelledError, MyTalkError, UsageError, environment_error
from mytalk.core.interrupts import Interrupted, stop_on_signals
from mytalk.core.malloc import limit_malloc_arenas
from mytalk.core.native_stderr import filtered_native_stderr
from mytalk.core.settings import GUIDE_MODES, Setting, shipped_settings
from mytalk.plugin.batch.cli import add_batch_arguments, run_batch_command
from mytalk.plugin.hosts.blender_cli import add_blender_commands, is_gui, run_blender
from mytalk.plugin.models_cli import add_models_commands, run_models


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; the contract is one line naming the problem."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


class ProgressBar:
    """A one-line progress bar with fps and ETA on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.stage = ""
        self.began = time.perf_counter()
        self.last_draw = 0.0

    def __call__(self, done: int, total: int, stage: str) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.perf_counter()
        if stage != self.stage:
            self.stage, self.began = stage, now
        if now - self.last_draw < 0.1 and done < total:
            return
        self.last_draw = now
        elapsed = max(now - self.began, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0.0
        filled = int(30 * done / total)
        self.stream.write(
            f"\r{stage:<9} [{'#' * filled}{'-' * (30 - filled)}] {done}/{total} "
            f"{rate:6.1f}/s ETA {int(eta) // 60}:{int(eta) % 60:02d} "
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


# How a setting is spelt on the command line when it is not `--<name-with-dashes>` (the first is shown).
_FLAGS: Mapping[str, tuple[str, ...]] = {"mask_mode": ("--mask", "--mask-mode")}
# Settings whose default on the command line is decided later rather than the manifest's.
_DERIVED_DEFAULTS: Mapping[str, str] = {
    "codec": "default: from the output's extension (.mov prores, .mkv ffv1, .mp4 h264)",
}
_METAVARS: Mapping[str, str] = {"number": "X", "integer": "N", "string": "TEXT"}


def _count(n: int, noun: str) -> str:
    """"1 frame", "2 frames": the summary line is read by editors, not parsed."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _converter(setting: Setting) -> Callable[[str], Any]:
    """Text to the setting's type; ranges and choices are left to the schema check in `SyncRequest`,
    so that a bad value is refused in the same words as by the runtime and the panel."""
    kinds: dict[str, Callable[[str], Any]] = {"number": float, "integer": int, "string": str}
    convert = kinds[setting.type]

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {setting.allowed()} (got {text!r})"
            ) from None

    parse.__name__ = setting.type  # argparse names the type in some messages
    return parse


def _help(setting: Setting) -> str:
    default = _DERIVED_DEFAULTS.get(setting.name, f"default: {setting.default}")
    allowed = "" if setting.enum is not None else f"{setting.allowed()}; "
    return f"{setting.description} ({allowed}{default})".replace("%", "%%")


def add_setting_arguments(parser: argparse.ArgumentParser, schema: Mapping[str, Setting]) -> None:
    """One option per manifest setting: flag, type, choices, default and help all come from the schema.

    Defaults are left as None so that the request sees only what the user typed and fills in the
    manifest's defaults itself; `--help` shows them.
    """
    group = parser.add_argument_group("settings (from manifest.json)")
    for name, setting in schema.items():
        flags = _FLAGS.get(name, (f"--{name.replace('_', '-')}",))
        if setting.type == "boolean":
            group.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None,
                               help=_help(setting))
            continue
        metavar = "{" + ",".join(map(str, setting.enum)) + "}" if setting.enum else _METAVARS[setting.type]
        group.add_argument(*flags, dest=name, type=_converter(setting), default=None, metavar=metavar,
                           help=_help(setting))


def _add_sync_arguments(parser: argparse.ArgumentParser, schema: Mapping[str, Setting]) -> None:
    parser.add_argument("video", type=Path, help="clip to fix (never written to)")
    parser.add_argument("--audio", type=Path, required=True, help="replacement line (wav, mp3, aac, flac or a video)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output file; its extension picks the container")
    parser.add_argument("--in", dest="in_point", help="first frame (frames, 2.5s, 00:00:02:12, @source-TC); default 0")
    parser.add_argument("--out", dest="out_point", help="frame after the last (exclusive); default the clip's end")
    parser.add_argument("--audio-in", help="time in AUDIO that lines up with the in point (2.5s, frames, TC); default 0")
    parser.add_argument("--audio-channels", metavar="PICK",
                        help="channels of AUDIO to use, from 1 across its streams: 3, 1-2, or a track name such as "
                             "boom (a poly WAV's iXML or bext); default: its first stream with sound, all channels")
    parser.add_argument("--guide", choices=GUIDE_MODES, default="auto",
                        help="use the clip's own audio over the range as an alignment guide (auto) or never (none)")
    parser.add_argument("--guide-channels", metavar="PICK",
                        help="channels of VIDEO's own sound that are the actor's microphone, as --audio-channels "
                             "picks them: the guide and the actor's learning hear only them; default: its first "
                             "stream with sound, all channels")
    parser.add_argument("--transcript", help="words of the new line, or @FILE")
    parser.add_argument("--reference", action="append", default=[], metavar="RANGE",
                        help="footage to learn the actor from: 0-120, 0s-4.8s or OTHER.mov:IN-OUT (repeatable)")
    parser.add_argument("--face", help="pixel X,Y of the face to edit when there are several (in the frame as "
                                       "stored, as the report's boxes; a click in the panel gives it)")
    parser.add_argument("--report", type=Path, help="write a JSON report here")
    parser.add_argument("--actor", help="actor profile to use")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_setting_arguments(parser, schema)


def build_parser(schema: Mapping[str, Setting] | None = None) -> argparse.ArgumentParser:
    """The `mytalk` parser; `schema` is the settings table (default: the shipped manifest's)."""
    schema = shipped_settings() if schema is None else schema
    parser = _OneLineParser(prog="mytalk", description="MyTalk lip-sync: regenerate only the mouth to match a new line.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    _add_sync_arguments(commands.add_parser("sync", help="render a clip's range with a replacement line"), schema)
    probe_parser = commands.add_parser("probe", help="print what MyTalk reads from a media file")
    probe_parser.add_argument("file", type=Path)
    validate_parser = commands.add_parser("validate", help="validate a plugin manifest")
    validate_parser.add_argument("manifest", nargs="?", type=Path)
    panel_parser = commands.add_parser("panel", help="open the editing panel in a window of its own")
    panel_parser.add_argument("video", nargs="?", type=Path)
    panel_parser.add_argument("--audio", type=Path)
    panel_parser.add_argument("--timeline", type=Path)
    panel_parser.add_argument("--shot", type=int, metavar="N",
                              help="with --timeline: open the cut's clip N (as `mytalk batch CUT --list` numbers it)")
    commands.add_parser("runtime", help="run the core runtime: versioned JSON lines on stdin and stdout")
    add_batch_arguments(commands.add_parser("batch", help="fix a whole cut: every shot of a dub stem or an ADR cue sheet"),
                        schema, add_setting_arguments)
    add_blender_commands(commands.add_parser("blender", help="Blender's video sequencer: install the extension"))
    clean_parser = commands.add_parser("clean", help="remove temporary files and locks that killed jobs left behind")
    clean_parser.add_argument("folders", nargs="*", type=Path, metavar="FOLDER",
                              help="also look in these folders (the job journal and MyTalk's cache are always checked)")
    clean_parser.add_argument("--cache", action="store_true",
                              help="also empty the cache (tracking, learned actors, phones), which is otherwise kept "
                                   "within MYTALK_CACHE_LIMIT (default 10G); what a job needs is made again")
    actor_parser = commands.add_parser("actor", help="manage actor profiles of the classic engine")
    actor_commands = actor_parser.add_subparsers(dest="actor_command", required=True, parser_class=_OneLineParser)
    build_parser_ = actor_commands.add_parser("build", help="learn an actor from footage and store it as NAME")
    build_parser_.add_argument("name", help="profile name (letters, digits, '_', '.', '-')")
    build_parser_.add_argument("footage", nargs="+", metavar="FOOTAGE[:IN-OUT]",
                               help="clips of the actor, optionally with a range: take1.mov:0-240 or take2.mov:10s-30s")
    build_parser_.add_argument("--face", help="pixel X,Y of the actor's face when there are several")
    build_parser_.add_argument("--channels", metavar="PICK",
                               help="the channels of each footage's sound that are the actor's microphone, as sync's "
                                    "--guide-channels takes them (classic engine); default: its first stream with sound")
    build_parser_.add_argument("--quiet", action="store_true", help="no progress bar")
    list_parser = actor_commands.add_parser("list", help="list the stored actor profiles")
    list_parser.add_argument("--json", action="store_true", help="print JSON")
    remove_parser = actor_commands.add_parser("remove", help="delete a stored actor profile")
    remove_parser.add_argument("name")
    _add_neural_commands(commands, build_parser_, schema)
    return parser


def _add_neural_commands(commands: argparse._SubParsersAction, actor_build: argparse.ArgumentParser,
                         schema: Mapping[str, Setting]) -> None:
    """`dataset build`, `train` and the neural options of `actor build` (the mytalk engine)."""
    from mytalk.core.engines.mytalk.dataset_build import MIN_CLIP_FRAMES
    from mytalk.core.engines.mytalk.dataset_layouts import LAYOUTS

    device, language = schema["device"], schema["language"]
    actor_build.add_argument("--engine", choices=("classic", "mytalk"), default="classic",
                             help="classic: a profile for the classic engine (default); mytalk: fine-tune the neural engine")
    actor_build.add_argument("--config", default="small", help="mytalk engine: preset (tiny, small, base) or TOML file")
    actor_build.add_argument("--device", choices=device.enum, default=device.default, help="mytalk engine: training device")
    dataset_parser = commands.add_parser("dataset", help="training data for the mytalk engine")
    dataset_commands = dataset_parser.add_subparsers(dest="dataset_command", required=True, parser_class=_OneLineParser)
    dataset_build = dataset_commands.add_parser("build", help="track, crop and extract mel and landmarks of videos")
    dataset_build.add_argument("videos", nargs="+", metavar="CORPUS|VIDEO[:IN-OUT]",
                               help="corpus folders (read by --layout), videos, or ranges of videos")
    dataset_build.add_argument("-o", "--output", type=Path, required=True, help="dataset folder (created, or resumed)")
    dataset_build.add_argument("--crop-size", type=int, default=128, help="side of the aligned mouth crops in px (default 128)")
    dataset_build.add_argument("--face", help="pixel X,Y of the face to track when there are several")
    dataset_build.add_argument("--phones", action="store_true",
                               help="also time each clip's phones (for a motion model with phone_features = \"visemes\")")
    dataset_build.add_argument("--language", default=language.default, metavar="CODE",
                               help="language of the clips' speech (with --phones)")
    dataset_build.add_argument("--layout", default="auto",
                               choices=LAYOUTS,
                               help="how corpus folders are laid out (default: detected)")
    dataset_build.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2), metavar="N",
                               help="processes extracting clips in parallel (default: half the cores)")
    dataset_build.add_argument("--val-share", type=float, default=0.05, metavar="F",
                               help="share of speakers held out for validation where the corpus has no split "
                                    "(default 0.05)")
    dataset_build.add_argument("--shard-size", type=int, default=256, metavar="MB",
                               help="start a new tar shard past this size (default 256 MB)")
    dataset_build.add_argument("--min-frames", type=int, default=MIN_CLIP_FRAMES, metavar="N",
                               help=f"reject clips shorter than this (default {MIN_CLIP_FRAMES})")
    dataset_build.add_argument("--keep-silent", action="store_true",
                               help="keep clips without sound (they train the appearance stage only)")
    dataset_build.add_argument("--channels", metavar="PICK",
                               help="the speaker's microphone among each video's channels, as --guide-channels picks "
                                    "them (3, 1-2, boom); a video without them is rejected (default: the video's "
                                    "first stream with sound, all its channels)")
    dataset_build.add_argument("--quiet", action="store_true", help="no progress bar")
    add_models_commands(commands.add_parser("models", help="publish, install and list trained mytalk models"))
    train_parser = commands.add_parser("train", help="train a stage of the mytalk engine on a dataset")
    train_parser.add_argument("stage", choices=("motion", "appearance"))
    train_parser.add_argument("data", type=Path, help="dataset folder from 'mytalk dataset build'")
    train_parser.add_argument("--config", required=True, help="TOML file, or a preset: tiny, small, base")
    train_parser.add_argument("--resume", action="store_true", help="continue the run saved under --out")
    train_parser.add_argument("--out", default="base", help="model name in the user models folder (default: base)")
    train_parser.add_argument("--steps", type=int, help="train to this many steps instead of the config's")
    train_parser.add_argument("--device", choices=device.enum, default=device.default, help=device.description)
    train_parser.add_argument("--quiet", action="store_true", help="no progress bar")
    train_parser.add_argument("--loader-workers", type=int, metavar="N",
                              help="processes drawing batches ahead, per rank (default: none on the CPU, some on CUDA)")
    ranks = train_parser.add_argument_group("distributed (PyTorch DDP through torchrun)")
    ranks.add_argument("--nproc", type=int, default=1, metavar="N", help="processes (GPUs) on this node (default 1)")
    ranks.add_argument("--nnodes", type=int, default=1, metavar="N", help="nodes in the run (default 1)")
    ranks.add_argument("--node-rank", type=int, default=0, metavar="I", help="this node's index, 0 to nnodes-1")
    ranks.add_argument("--master-addr", default="127.0.0.1", metavar="HOST", help="node 0's address (multi-node)")
    ranks.add_argument("--master-port", type=int, default=29500, metavar="PORT", help="node 0's free TCP port")
    ranks.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="an elastic rendezvous instead of --master-addr")


def _sweep_leftovers() -> str:
    """Undo what killed earlier jobs left (see `mytalk.core.jobs.cleanup`); returns what was done, in words
    ("" when nothing). The caller says so only once its own job has succeeded, so a failing command still
    prints exactly one line."""
    from mytalk.core.jobs.cleanup import clean_leftovers

    try:
        return clean_leftovers().summary()
    except Exception:  # noqa: BLE001 - tidying up after others must never fail this render
        return ""


def _trim_cache(limit: int | None) -> str:
    """Keep the cache within `limit` (`mytalk.core.cache_budget`), after the job, so what it just used
    counts as used; returns what was removed, in words ("" when nothing)."""
    from mytalk.core.cache_budget import trim_cache

    try:
        return trim_cache(limit).summary()
    except Exception:  # noqa: BLE001 - keeping the cache in its size must never fail a render that is done
        return ""


def _run_sync(args: argparse.Namespace) -> int:
    from mytalk.core.cache_budget import cache_limit
    from mytalk.core.jobs.request import SyncRequest
    from mytalk.core.jobs.sync import run_sync

    # Only what was typed: the request fills in the manifest's defaults and checks every value.
    typed = {name: getattr(args, name) for name in shipped_settings() if getattr(args, name, None) is not None}
    request = SyncRequest.with_settings(
        video=args.video, audio=args.audio, output=args.output, in_point=args.in_point, out_point=args.out_point,
        audio_in=args.audio_in, audio_channels=args.audio_channels, guide=args.guide,
        guide_channels=args.guide_channels, transcript=args.transcript, references=list(args.reference),
        face=args.face, report=args.report, actor=args.actor, **typed,
    )
    limit = cache_limit()  # a bad MYTALK_CACHE_LIMIT is a usage error: one line and exit 2, before any work
    swept = _sweep_leftovers()
    bar = ProgressBar(sys.stderr, enabled=not args.quiet and sys.stderr.isatty())
    result = run_sync(request, progress=bar)
    trimmed = _trim_cache(limit)
    faceless = result.report["tracking"]["faceless_frames"]
    if not args.quiet:
        note = f", {_count(len(faceless), 'frame')} without a face passed through" if faceless else ""
        print(f"wrote {result.output} ({_count(result.frames_written, 'frame')}{note})", file=sys.stderr)
        for warning in result.job_warnings:  # those of single frames stay in the report
            print(f"mytalk: warning: {warning}", file=sys.stderr)
        for done in (swept, trimmed):
            if done:
                print(f"mytalk: {done}", file=sys.stderr)
    return 0


def _run_probe(args: argparse.Namespace) -> int:
    from mytalk.core.media.channel_pick import sound_channels
    from mytalk.core.media.probe import probe

    info = probe(args.file).to_dict()
    if info.get("audio"):
        # What --audio-channels and --guide-channels pick from: every channel by number, with the recorder's
        # track names.
        info["channels"] = [channel.to_dict() for channel in sound_channels(args.file)]
    print(json.dumps(info, indent=2))
    return 0


def _run_validate(args: argparse.Namespace) -> int:
    from mytalk.plugin.manifest import validate_command

    return validate_command(None if args.manifest is None else str(args.manifest))


def _run_panel(args: argparse.Namespace) -> int:
    from mytalk.plugin.standalone import run_standalone

    if args.shot is not None and args.timeline is None:
        raise UsageError("--shot N needs --timeline CUT: the shot is the cut's clip N")
    return run_standalone(video=args.video, audio=args.audio, timeline=args.timeline, shot=args.shot)


def _run_actor(args: argparse.Namespace) -> int:
    from mytalk.core.engines.classic import actor_cli

    if args.actor_command == "build" and args.engine == "mytalk":
        from mytalk.core.engines.mytalk.finetune import build_actor

        if args.channels is not None:
            raise UsageError("--channels picks the sound the classic engine learns phones from; the mytalk engine's "
                             "fine-tune learns from the pictures: leave --channels out, or use --engine classic")

        bar = ProgressBar(sys.stderr, enabled=not args.quiet and sys.stderr.isatty())
        build_actor(args.name, args.footage, config=args.config, device=args.device, face=args.face, progress=bar)
    elif args.actor_command == "build":
        bar = ProgressBar(sys.stderr, enabled=not args.quiet and sys.stderr.isatty())
        actor_cli.build(args.name, args.footage, face=args.face, channels=args.channels, progress=bar)
    elif args.actor_command == "list":
        actor_cli.list_actors(as_json=args.json)
    else:
        actor_cli.remove(args.name)
    return 0


def _run_dataset(args: argparse.Namespace) -> int:
    from mytalk.core.engines.mytalk.dataset import build_dataset
    from mytalk.core.engines.mytalk.dataset_build import rejection_summary
    from mytalk.core.face.tracker import TrackerSettings
    from mytalk.core.jobs.request import parse_face_point

    bar = ProgressBar(sys.stderr, enabled=not args.quiet and sys.stderr.isatty())
    from mytalk.core.jobs.request import check_language

    if args.shard_size < 1:
        raise UsageError(f"--shard-size {args.shard_size}: give 1 MB or more")
    result = build_dataset(args.videos, args.output, crop_size=args.crop_size,
                           tracker_settings=TrackerSettings(face_point=parse_face_point(args.face)),
                           phones=args.phones, language=check_language(args.language), layout=args.layout,
                           workers=args.workers, val_share=args.val_share, shard_bytes=args.shard_size * 2**20,
                           min_frames=args.min_frames, require_audio=not args.keep_silent, channels=args.channels,
                           progress=bar)
    if not args.quiet:
        clips = result.manifest["videos"]
        val = [v for v in clips if v.get("split") == "val"]
        layouts = ", ".join(f"{k} read as {v}" for k, v in result.layouts.items())
        rejected = (f"{len(result.rejected)} rejected now ({rejection_summary(result.rejected)}; reasons in "
                    f"{args.output / 'rejected.json'})" if result.rejected else "none rejected now")
        print(f"dataset {args.output}: {len(clips)} clip(s) of {len({v.get('speaker') for v in clips})} speaker(s), "
              f"{sum(v['frames_with_face'] for v in clips)} frames with a face; validation {len(val)} clip(s) of "
              f"{len({v.get('speaker') for v in val})} speaker(s); {len(result.built)} built, {len(result.skipped)} "
              f"done or rejected before, {rejected}" + (f"; {layouts}" if layouts else ""), file=sys.stderr)
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from mytalk.core.engines.mytalk.distributed import ranks_from_env
    from mytalk.core.engines.mytalk.launch import Launch, run_torchrun
    from mytalk.core.engines.mytalk.train import check_run, train_command

    launch = Launch(args.nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port,
                    args.rdzv_endpoint).check()
    if args.loader_workers is not None and args.loader_workers < 0:
        raise UsageError(f"--loader-workers {args.loader_workers}: give 0 or more")
    ranks = ranks_from_env()
    if launch.distributed and not ranks.distributed:
        check_run(args.stage, args.data, args.config, world=launch.nproc * launch.nnodes, resume=args.resume,
                  out=args.out, steps=args.steps)
        return run_torchrun(launch, _rank_args(args))
    bar = ProgressBar(sys.stderr, enabled=not args.quiet and sys.stderr.isatty() and ranks.is_main)
    result = train_command(args.stage, args.data, args.config, resume=args.resume, out=args.out, device=args.device,
                           steps=args.steps, loader_workers=args.loader_workers, progress=bar)
    if not args.quiet and ranks.is_main:
        losses = ", ".join(f"{k} {result.first_eval[k]:.4g} -> {v:.4g}" for k, v in result.last_eval.items())
        print(f"trained {args.stage} for {result.steps} steps on {result.device} in {result.seconds:.0f} s ({losses}) "
              f"-> {result.weights}; log and loss plot in {result.run_dir}", file=sys.stderr)
    return 0


def _rank_args(args: argparse.Namespace) -> list[str]:
    """`mytalk train`'s arguments as each rank gets them: the same run, without the launcher's options."""
    out = [args.stage, str(args.data), "--config", str(args.config), "--out", args.out, "--device", args.device]
    if args.resume:
        out.append("--resume")
    if args.steps is not None:
        out += ["--steps", str(args.steps)]
    if args.loader_workers is not None:
        out += ["--loader-workers", str(args.loader_workers)]
    if args.quiet:
        out.append("--quiet")
    return out


def _run_clean(args: argparse.Namespace) -> int:
    from mytalk.core.cache_budget import RECENT_S, cache_limit, format_size, trim_cache
    from mytalk.core.jobs.cleanup import clean_leftovers

    for folder in args.folders:
        if not folder.is_dir():
            raise UsageError(f"clean: {folder} is not a folder; give folders that renders were written to")
    limit = cache_limit()
    report = clean_leftovers(args.folders)
    trimmed = trim_cache(limit, everything=args.cache)
    for path in report.removed:
        print(f"removed {path}")
    for path in report.restored:
        print(f"put back {path}")
    for path in report.kept:
        print(f"left {path} (a backup of unknown origin: check it, then delete it yourself)")
    kept = f", kept what was used in the last {RECENT_S / 60:.0f} minutes" if args.cache and trimmed.after else ""
    print(f"mytalk: {report.summary() or 'nothing left behind by interrupted jobs'}; cache "
          f"{format_size(trimmed.after)} (limit {format_size(limit)}), {trimmed.removed} "
          f"entr{'y' if trimmed.removed == 1 else 'ies'} removed{kept}", file=sys.stderr)
    return 0


def _run_runtime(args: argparse.Namespace) -> int:
    from mytalk.core.runtime.server import main as runtime_main

    return runtime_main()


def _run_batch(args: argparse.Namespace) -> int:
    return run_batch_command(args, shipped_settings())


_COMMANDS = {"sync": _run_sync, "probe": _run_probe, "validate": _run_validate, "panel": _run_panel,
             "runtime": _run_runtime, "actor": _run_actor, "dataset": _run_dataset, "train": _run_train,
             "models": run_models,
             "clean": _run_clean, "blender": run_blender, "batch": _run_batch}


def _log_internal_error(argv: Sequence[str]) -> Path | None:
    """Write the traceback to a log file in the user log folder; return its path."""
    from mytalk.core.userdirs import UserDirs, user_dirs

    try:
        folder = UserDirs.ensure(user_dirs().logs)
        path = folder / f"mytalk-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
        path.write_text(f"mytalk {' '.join(argv)}\n\n{traceback.format_exc()}")
        return path
    except OSError:
        return None


def _say(line: str) -> None:
    """Print the one line a failure gets; a closed stderr (a hung-up terminal) is not an error too."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, or the flush at exit fails once more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mytalk` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    limit_malloc_arenas()
    limit_blas_threads()
    return _main(args_list)


SIGNED_VALUE_OPTIONS = ("--audio-in",)
"""Options whose value may be negative (`--audio-in -0.5s`: the line starts half a second after the in point)."""


def attach_signed_values(args_list: Sequence[str]) -> list[str]:
    """`--audio-in -0.5s` as `--audio-in=-0.5s`.

    argparse reads a value that starts with "-" as the next option unless it is a bare number, so the
    README's negative placements (`-0.5s`, `-00:00:00:12`; a bare `-12` did pass) failed with "expected
    one argument".
    Only a value that starts with "-" and a digit or "." is attached, so a missing value before a real
    option (`--audio-in --quiet`) is still reported as missing.
    """
    out: list[str] = []
    items = list(args_list)
    index = 0
    while index < len(items):
        item = items[index]
        value = items[index + 1] if index + 1 < len(items) else ""
        if item in SIGNED_VALUE_OPTIONS and len(value) > 1 and value[0] == "-" and (value[1].isdigit() or value[1] == "."):
            out.append(f"{item}={value}")
            index += 2
            continue
        if item == "--":  # everything after it is positional, as argparse reads it
            out.extend(items[index:])
            break
        out.append(item)
        index += 1
    return out


def _main(args_list: list[str]) -> int:
    try:
        args = build_parser().parse_args(attach_signed_values(args_list))
        if args.command == "panel" or is_gui(args):
            # A GUI process: its runtime child filters its own stderr and handles its own stop
            # signals; a Python handler here would only run when Qt next returns to Python.
            return _COMMANDS[args.command](args)
        with stop_on_signals(), filtered_native_stderr():
            code = _COMMANDS[args.command](args)
            sys.stdout.flush()  # here, so a reader that went away is reported, not a crash at exit
            return code
    except JobCancelledError as error:
        _say(f"mytalk: {error}")
        return error.exit_code
    except MyTalkError as error:
        message = str(error).replace("\n", "; ")
        _say(f"mytalk: error: {message}")
        return error.exit_code
    except Interrupted as stop:
        # SIGTERM and SIGHUP unwind exactly like Ctrl-C: every temporary file is gone by now.
        how = "cancelled" if stop.signal_name == "SIGINT" else f"stopped by {stop.signal_name}"
        if stop.saved:  # the signal came during the final step, which it never cuts in two
            _say(f"mytalk: {how} just after the job was saved complete: {', '.join(stop.saved)}")
        else:
            _say(f"mytalk: {how}; nothing was written")
        return stop.exit_code
    except KeyboardInterrupt:
        _say("mytalk: cancelled; nothing was written")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        _say("mytalk: error: the program reading mytalk's output closed it early (broken pipe); read all of it")
        return 2
    except Exception as error:  # noqa: BLE001 - the last line of defence: log it, never dump a traceback
        user_error = environment_error(error)
        if user_error is not None:  # a full disk or a read-only folder, wherever it surfaced
            _say(f"mytalk: error: {user_error}")
            return user_error.exit_code
        log = _log_internal_error(args_list)
        where = f"; details in {log}" if log else ""
        _say(f"mytalk: internal error: {type(error).__name__}: {error}{where}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
