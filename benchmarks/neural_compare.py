"""Side-by-side comparison of the neural engine (`mytalk`) and the `classic` engine on the evaluation suite.

    python -m benchmarks.neural_compare --out out/neural-compare [--clips A.mp4,B.mp4] [--config small]
        [--motion-steps 300] [--appearance-steps 180] [--setting fast] [--threads 1] [--phones]

Per clip, the neural engine is fine-tuned for that actor, from scratch, on the clip's frames *before*
the suite's edit range only (the first 40 % of the window, plus any frames after the window): the
shift and adr protocols drive the edit range with the clip's own sound, so training on it would
leak the answer. Each clip gets its own user folder (MYTALK_HOME) whose `base` model is that
actor's fine-tune, because the suite calls `mytalk sync --engine mytalk` without `--actor`.
Weights stay in OUT/homes (never inside the repository). Then the suite runs for `mytalk` (per
clip) and once for `classic` (all clips), and OUT/compare.md puts the figures side by side.

`--phones` trains the motion model with the line's phone track as a second input (`motion.model
phone_features = "visemes"` on top of the `--config` preset, written to OUT/phones.toml): the
training clips are timed by recognition from their own sound, and each line of the suite at sync.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.eval.settings import SETTINGS, default_media_dir, select_clips

REPO = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], env: dict[str, str], log: Path) -> float:
    began = time.perf_counter()
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        done = subprocess.run(cmd, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - began


def _mytalk() -> str:
    return str(Path(sys.executable).with_name("mytalk"))


def _training_ranges(clip: Path, setting: Any) -> list[str]:
    """`clip:IN-OUT` specs of the frames the suite never edits with the clip's own sound."""
    from benchmarks.eval.mediaio import probe_clip

    info = probe_clip(clip)
    count = info.frame_count
    window = count if setting.window_s is None else min(count, info.frames(setting.window_s))
    start = int(round((1 - setting.edit_share) * window))
    specs = [f"{clip}:0-{start}"]
    if count - window >= 8:
        specs.append(f"{clip}:{window}-{count}")
    return specs


def _figures(report: dict[str, Any], clip: str) -> dict[str, Any]:
    results = report["clips"].get(clip, {}).get("results", {})

    def get(protocol: str, key: str) -> Any:
        r = results.get(protocol) or {}
        return (r.get("figures") or {}).get(key)

    robust = results.get("robust") or {}
    cases = robust.get("cases", [])
    return {
        "shift ratio": get("shift", "ratio"), "shift shape ratio": get("shift", "shape_ratio"),
        "shift lag − real": get("shift", "lag_vs_real"), "shift aperture r": get("shift", "aperture_r"),
        "adr ratio": get("adr", "ratio"), "adr shape ratio": get("adr", "shape_ratio"),
        "dub lag − real": get("dub", "lag_vs_real"), "dub peak ÷ real": get("dub", "peak_ratio"),
        "dub sharpness": get("dub", "sharpness_ratio"), "dub jitter": get("dub", "jitter_ratio"),
        "dub closed in silence": get("dub", "closed_share"),
        "preserve changed outside": get("preserve", "changed_outside"),
        "speed fps": get("speed", "tool_fps"), "speed ÷ transcode": get("speed", "ratio"),
        "robust cases ok": f"{sum(bool(c.get('ok')) for c in cases)}/{len(cases)}" if cases else None,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def compare_table(classic: dict[str, Any], neural: dict[str, dict[str, Any]], clips: list[str]) -> str:
    names = list(_figures({"clips": {}}, "x"))
    lines = ["| figure (target) | " + " | ".join(f"{c} classic | {c} mytalk" for c in clips) + " |",
             "|---|" + "---|---|" * len(clips)]
    targets = {"shift ratio": "< 0.5", "adr ratio": "< 0.3", "dub lag − real": "±1", "dub peak ÷ real": "≥ 0.8",
               "dub sharpness": "≥ 0.9", "dub jitter": "≤ 1.2", "preserve changed outside": "0",
               "speed ÷ transcode": "≤ 1.5"}
    for name in names:
        cells = []
        for clip in clips:
            cells.append(_cell(_figures(classic, clip)[name]))
            cells.append(_cell(_figures(neural.get(clip, {"clips": {}}), clip)[name]))
        label = f"{name} ({targets[name]})" if name in targets else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.neural_compare", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", default="fast", help="fast (the suite's two fast clips), or comma-separated names")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="fast")
    parser.add_argument("--config", default="small", help="preset or TOML for the per-actor fine-tune")
    parser.add_argument("--motion-steps", type=int, default=300)
    parser.add_argument("--appearance-steps", type=int, default=180)
    parser.add_argument("--threads", type=int, default=1, help="OMP threads of every process (shared CPUs: 1)")
    parser.add_argument("--protocols", default=None, help="subset of the suite's protocols (default: all)")
    parser.add_argument("--skip-classic", action="store_true")
    parser.add_argument("--phones", action="store_true",
                        help="motion model with the phone input (phone_features = \"visemes\"; --config must be a preset)")
    args = parser.parse_args(argv)
    setting = SETTINGS[args.setting]
    media = default_media_dir()
    clips = select_clips(args.clips, setting, media)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "commands.log"
    config = args.config
    if args.phones:
        from mytalk.core.engines.mytalk.config import PRESETS

        if config not in PRESETS:
            parser.error(f"--phones needs --config to be one of the presets {', '.join(PRESETS)}; put "
                         "phone_features = \"visemes\" in your TOML's [motion.model] instead")
        config = str(out / "phones.toml")
        Path(config).write_text(f'preset = "{args.config}"\n\n[motion.model]\nphone_features = "visemes"\n')
    base_env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
    protocols = ["--protocols", args.protocols] if args.protocols else []
    timings: dict[str, Any] = {}
    neural: dict[str, dict[str, Any]] = {}
    for clip in clips:
        home = out / "homes" / clip.stem
        env = {**base_env, "MYTALK_HOME": str(home)}
        data = out / "data" / clip.stem
        t: dict[str, float] = {}
        if not (home / "data" / "models" / "base" / "appearance.safetensors").is_file():
            t["dataset_s"] = _run([_mytalk(), "dataset", "build", *_training_ranges(clip, setting), "-o", str(data),
                                   "--quiet"], env, log)
            t["motion_s"] = _run([_mytalk(), "train", "motion", str(data), "--config", config, "--steps",
                                  str(args.motion_steps), "--device", "cpu", "--quiet"], env, log)
            t["appearance_s"] = _run([_mytalk(), "train", "appearance", str(data), "--config", config, "--steps",
                                      str(args.appearance_steps), "--device", "cpu", "--quiet"], env, log)
        eval_out = out / f"eval-mytalk-{clip.stem}"
        t["eval_s"] = _run([sys.executable, "-m", "benchmarks.eval", "--engine", "mytalk", "--clips", clip.name,
                            "--setting", args.setting, "--out", str(eval_out), "--quiet", *protocols], env, log)
        neural[clip.name] = json.loads((eval_out / "report.json").read_text())
        timings[clip.name] = t
    classic: dict[str, Any] = {"clips": {}}
    if not args.skip_classic:
        eval_out = out / "eval-classic"
        env = {**base_env, "MYTALK_HOME": str(out / "homes" / "classic")}
        timings["classic_eval_s"] = _run([sys.executable, "-m", "benchmarks.eval", "--engine", "classic", "--clips",
                                          ",".join(c.name for c in clips), "--setting", args.setting, "--out",
                                          str(eval_out), "--quiet", *protocols], env, log)
        classic = json.loads((eval_out / "report.json").read_text())
    table = compare_table(classic, neural, [c.name for c in clips])
    phones = " with phone input (visemes)" if args.phones else ""
    text = (f"# classic vs mytalk{phones} ({args.setting} setting, mytalk fine-tuned per actor with '{args.config}': "
            f"{args.motion_steps} motion + {args.appearance_steps} appearance steps, CPU, {args.threads} thread(s))\n\n"
            f"{table}\n\nTimings (s): {json.dumps(timings)}\n")
    (out / "compare.md").write_text(text)
    (out / "compare.json").write_text(json.dumps({"timings": timings, "clips": [c.name for c in clips],
                                                  "classic": {c.name: _figures(classic, c.name) for c in clips},
                                                  "mytalk": {c.name: _figures(neural[c.name], c.name) for c in clips}},
                                                 indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
