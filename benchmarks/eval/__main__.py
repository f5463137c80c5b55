"""`python -m benchmarks.eval`: run the evaluation suite and write its report.

    python -m benchmarks.eval --engine copy --clips fast --setting fast --out out/eval-copy
    python -m benchmarks.eval --engine classic --clips all --out out/eval-classic
    python -m benchmarks.eval --engine ref:oracle --protocols shift,adr --out out/eval-oracle
    python -m benchmarks.eval --engine classic --protocols dub --dub-voices with-synthetic --out out/eval-dub
    python -m benchmarks.eval --engine classic --protocols shift,closures --clips voxceleb2_00104_man_tv_224.mp4 --out out/eval-closures

Writes OUT/report.json, OUT/report.md and per clip OUT/clips/CLIP/PROTOCOL/ (lines, tool
reports, contact sheets). Exit code 0 when the run completed (whatever the figures), 2 on bad
arguments; `--strict` also exits 1 when a preserve or robust check failed (what CI needs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.eval.report import write_json, write_markdown
from benchmarks.eval.runner import RunOptions, evaluate
from benchmarks.eval.settings import (
    ALL_PROTOCOLS,
    OPTIONAL_PROTOCOLS,
    PROTOCOLS,
    SETTINGS,
    default_media_dir,
    select_clips,
)
from benchmarks.eval.voices import ESPEAK, synthesise_voices, voice_label


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.eval",
        description="MyTalk evaluation suite: shift, adr, dub, preserve, speed and robust protocols on real footage "
                    "(and, when asked for, closures).",
    )
    parser.add_argument("--engine", required=True,
                        help="engine passed to `mytalk sync --engine` (copy, classic, mytalk), or a reference tool "
                             "of the suite: ref:do-nothing, ref:oracle")
    parser.add_argument("--clips", help="all, fast, or comma-separated clip names (default: the setting's clips)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for the report and the sheets")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="full",
                        help="fast: 5 s windows and short ranges for CI; full: whole clips (default)")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help=f"comma-separated subset of {','.join(ALL_PROTOCOLS)} (default: {','.join(PROTOCOLS)}; "
                             f"{','.join(OPTIONAL_PROTOCOLS)} only when named)")
    parser.add_argument("--media", type=Path, default=None,
                        help="folder with video/ and audio/ (default: ../shared/media beside the repository)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="landmark cache folder (default: OUT/cache); 'none' to track everything afresh")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each protocol this many times (re-tracking without cache) to measure the spread")
    parser.add_argument("--keep-outputs", action="store_true", help="keep the tools' video outputs (large)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when preserve finds a changed pixel outside the mask or a robust check fails")
    parser.add_argument("--dub-voices", choices=("shared", "with-synthetic"), default="shared",
                        help="shared: dub with the shared (all English) speech files only (default); "
                             "with-synthetic: also synthetic Spanish and German lines spoken by espeak-ng "
                             "into OUT/voices/, marked as synthetic in the report")
    parser.add_argument("--motion-driver", choices=("auto", "guide", "phonetic", "speech"), default=None,
                        help="passed to `mytalk sync --motion-driver` (speech = the previous loudness-driven driver); "
                             "default: not passed, the product's own default")
    parser.add_argument("--learn-seconds", type=float, default=None,
                        help="learn the actor from the product's sample of each protocol's reference footage, at "
                             "most this many seconds (what a clip longer than that gets by default); default: all of it")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def strict_failures(report: dict) -> list[str]:  # type: ignore[type-arg]
    """The CI conditions: any changed pixel outside the mask, any failed good or bad input."""
    problems = []
    for name, clip in report["clips"].items():
        for protocol in ("preserve", "robust"):
            result = clip["results"].get(protocol)
            if result is None or result.get("skipped"):
                continue
            for check, ok in result.get("checks", {}).items():
                if ok is False:
                    problems.append(f"{name} {protocol}: {check}" + (f" ({result['error']})" if result.get("error") else ""))
    bad = report.get("bad_inputs") or {}
    for check, ok in bad.get("checks", {}).items():
        if ok is False:
            problems.append(f"bad inputs: {check}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = SETTINGS[args.setting]
    media = (args.media or default_media_dir()).resolve()
    protocols = tuple(p.strip() for p in args.protocols.split(",") if p.strip())
    unknown = [p for p in protocols if p not in ALL_PROTOCOLS]
    if unknown:
        parser.error(f"unknown protocol(s) {', '.join(unknown)}; choose from {', '.join(ALL_PROTOCOLS)}")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    try:
        clips = select_clips(args.clips, settings, media)
    except ValueError as error:
        parser.error(str(error))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = None if args.cache is not None and str(args.cache) == "none" else (args.cache or out / "cache").resolve()
    log = (lambda _: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    voices: list[Path] = []
    if args.dub_voices == "with-synthetic" and "dub" not in protocols:
        log("note: --dub-voices with-synthetic has no effect without the dub protocol")
    elif args.dub_voices == "with-synthetic":
        # Beside the report rather than in the landmark cache: --cache none must not lose them.
        try:
            voices = synthesise_voices(out / "voices")
        except RuntimeError as error:
            parser.error(f"--dub-voices with-synthetic: {error}")
        if not voices:
            parser.error(f"--dub-voices with-synthetic needs {ESPEAK} on PATH (Debian: apt-get install espeak-ng); "
                         "use --dub-voices shared to dub with the shared speech files only")
        for path in voices:
            log(f"dub voice: {path} ({voice_label(path)})")
    options = RunOptions(
        engine=args.engine, clips=tuple(clips), out=out, settings=settings, media_dir=media,
        protocols=protocols, cache_dir=cache, keep_outputs=args.keep_outputs, repeat=args.repeat,
        dub_voices=tuple(voices), motion_driver=args.motion_driver, learn_seconds=args.learn_seconds,
    )
    try:
        report = evaluate(options, log)
    except ValueError as error:
        parser.error(str(error))
    write_json(report, out / "report.json")
    md = write_markdown(report, out / "report.md")
    if not args.quiet:
        print(f"wrote {md} and {out / 'report.json'}", file=sys.stderr)
    if args.strict:
        problems = strict_failures(report)
        for problem in problems:
            print(f"FAILED {problem}", file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
