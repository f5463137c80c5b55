"""Where does the classic engine lose motion? The shift protocol's setup, measured stage by stage.

    python -m benchmarks.motion_chain [--clips all|A.mp4,B.mp4] [--out DIR] [--motion-driver NAME]

Per clip, on the shift protocol's setup (`benchmarks.eval.protocols.shift`: edit range = the last
60 %, line = the clip's own sound 0.4 s earlier, `--guide none --reference 0-<start>`, ground truth
at output frame t = the source aperture at t − 0.4·fps, interpolated), the mouth aperture is taken
at each stage of the chain:

- the phonetic driver's steps (`PhoneticPlan.stage_apertures`: phones, range, loudness, gated),
  planned in-process from the profile the engine builds (`cached_build_profile`, same references,
  exclusions and tracker settings, so the CLI run leaves it in the cache) and the line exactly as
  `mytalk sync` places it; canonical units;
- plan: the final plan of the CLI run (`frames[i]["planned_aperture"]`, after `finish_plan` and the
  warp back to the image: inner-lip gap ÷ IOD);
- output: the rendered file re-tracked afresh (inner-lip gap ÷ IOD).

Each stage gets its Pearson r against the truth, and r and amplitude (std ratio) against the next
stage. Per clip also the driver and phone path the engine took, the lead, and the output's AV lag
against the real footage's (as the shift protocol measures them). One run, no timing assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.landmarks import LandmarkStore
from benchmarks.eval.mediaio import LINE_RATE, probe_clip, write_wav
from benchmarks.eval.metrics import MAX_LAG_FRAMES, av_lag, av_reliable, median, pearson_r, sample_series
from benchmarks.eval.protocols.base import ClipContext, output_envelope, planned_apertures
from benchmarks.eval.settings import FULL, default_media_dir, select_clips
from benchmarks.eval.tools import MyTalkTool, ToolJob

DRIVER_STAGES = ("phones", "range", "loudness", "gated")
STAGES = (*DRIVER_STAGES, "plan", "output")


@dataclass
class ClipChain:
    """One clip's chain. r_truth[stage]: r against the truth; r_next / amp_next[stage]: r and std
    ratio (next ÷ this) against the next stage (None for the last). lag figures in frames."""

    clip: str
    range: tuple[int, int]
    driver: str | None
    phone_path: str | None
    lead: int | None
    r_truth: dict[str, float | None] = field(default_factory=dict)
    r_next: dict[str, float | None] = field(default_factory=dict)
    amp_next: dict[str, float | None] = field(default_factory=dict)
    do_nothing_r: float | None = None
    lag: int | None = None
    real_lag: int | None = None
    lag_vs_real: int | None = None
    peak: float | None = None
    reliable_av: bool = False
    error: str | None = None


def amplitude(this: np.ndarray, nxt: np.ndarray) -> float | None:
    """std(next) ÷ std(this) over the frames where both are finite."""
    ok = np.isfinite(this) & np.isfinite(nxt)
    if ok.sum() < 3 or float(np.std(this[ok])) <= 0:
        return None
    return float(np.std(nxt[ok]) / np.std(this[ok]))


def driver_stages(path: Path, line_path: Path, start: int, stop: int, fps: Fraction) -> dict[str, np.ndarray]:
    """The phonetic driver's stage apertures, planned with the engine's own inputs (`ClassicMotion._drive_phonetic`)."""
    from mytalk.core.audio.activity import envelope
    from mytalk.core.audio.phone_timing import PhoneTimer
    from mytalk.core.engines.base import ReferenceRange
    from mytalk.core.engines.classic.profile_cache import cached_build_profile
    from mytalk.core.engines.classic.speech_driver import speech_gate
    from mytalk.core.face.tracker import TrackerSettings
    from mytalk.core.jobs.sync import OUTPUT_AUDIO_RATE
    from mytalk.core.media.audio import decode_audio, place_line

    n = stop - start
    profile, _ = cached_build_profile([ReferenceRange(path, 0, start)], exclude_audio=[ReferenceRange(path, start, stop)],
                                      tracker_settings=TrackerSettings(face_point=None))
    line = place_line(decode_audio(line_path, OUTPUT_AUDIO_RATE, channels=None), num_frames=n, fps=fps, line_offset_s=0)
    prob = speech_gate(line, fps, n)
    track = PhoneTimer().track(line, transcript=None, language="en")
    plan = profile.phonetic.plan(profile.speech, track.phones, fps, n, speech_prob=prob,
                                 loudness=envelope(line.mono().resampled(16_000), fps, n))
    return {k: np.asarray(v, np.float64) for k, v in plan.stage_apertures.items()}


def measure(clip: Path, out: Path, store: LandmarkStore, motion_driver: str | None = None) -> ClipChain:
    from mytalk.core.face.canonical import mouth_aperture
    from mytalk.core.face.video_tracking import track_video

    ctx = ClipContext(probe_clip(clip), FULL, store, out / clip.stem, clip.parent.parent)
    start, stop = ctx.edit_range()
    n, fps = stop - start, ctx.fps
    d = float(FULL.shift_s * fps)
    folder = ctx.folder("chain")
    line_path = folder / "line.wav"
    write_wav(line_path, ctx.own_segment(float(start / fps) - FULL.shift_s, n, LINE_RATE), LINE_RATE)
    job = ToolJob(video=ctx.info.path, audio=line_path, output=folder / "out.mkv", report=folder / "out.json",
                  start=start, stop=stop, guide="none", references=(f"0-{start}",), codec=FULL.codec)
    run = MyTalkTool("classic", motion_driver=motion_driver).run(job)
    if not run.ok:
        return ClipChain(clip.name, (start, stop), None, None, None, error=f"exit {run.exit_code}: {run.first_error_line}")
    engine = (run.report or {}).get("engine_report", {})
    phones = engine.get("phones") or engine.get("motion", {}).get("phones", {})
    chain = ClipChain(clip.name, (start, stop), engine.get("driver"), phones.get("path"), phones.get("lag_frames"))

    window_ap = ctx.source_track(0, stop).aperture()
    truth = sample_series(window_ap, start + np.arange(n) - d)
    obs = track_video(job.output, 0, n, use_cache=False)
    out_ap = np.asarray(mouth_aperture(np.stack([o.landmarks for o in obs])), np.float64)
    out_ap[~np.array([o.found for o in obs], bool)] = np.nan
    plan = planned_apertures(run.report, n)
    series = {**driver_stages(ctx.info.path, line_path, start, stop, fps),
              "plan": np.full(n, np.nan) if plan is None else plan, "output": out_ap}
    for this, nxt in zip(STAGES, (*STAGES[1:], None), strict=True):
        chain.r_truth[this] = pearson_r(series[this], truth)
        chain.r_next[this] = None if nxt is None else pearson_r(series[this], series[nxt])
        chain.amp_next[this] = None if nxt is None else amplitude(series[this], series[nxt])
    src_ap = window_ap[start:stop]
    chain.do_nothing_r = pearson_r(src_ap, truth)

    # AV lag exactly as the shift protocol takes it.
    max_lag = MAX_LAG_FRAMES + math.ceil(d)
    tool_sync = av_lag(out_ap, output_envelope(run, fps, n), max_lag)
    real_sync = av_lag(src_ap, ctx.own_envelope(start, stop), max_lag)
    chain.lag, chain.real_lag, chain.peak = tool_sync.lag, real_sync.lag, tool_sync.peak
    chain.lag_vs_real = None if tool_sync.lag is None or real_sync.lag is None else tool_sync.lag - real_sync.lag
    chain.reliable_av = av_reliable(real_sync, n, fps)
    job.output.unlink(missing_ok=True)
    return chain


def _f(v: float | int | None, width: int = 6) -> str:
    if v is None:
        return "—".rjust(width)
    return f"{v:{width}d}" if isinstance(v, int) else f"{v:{width}.2f}"


def table(chains: Sequence[ClipChain]) -> str:
    """r vs truth per stage | r → next stage | amplitude → next stage | path, lead, lag − real."""
    head = ("clip".ljust(26) + " driver   path      lead" + "".join(f" {s[:6]:>6}" for s in STAGES) + " │"
            + "".join(f" {s[:4] + '→':>6}" for s in STAGES[:-1]) + " │"
            + "".join(f" {s[:4] + '×':>6}" for s in STAGES[:-1]) + " │ noth   lag  real Δlag")
    rows = [head, "-" * len(head)]

    def row(label: str, c: ClipChain | None, values: dict[str, list[float | None]]) -> str:
        meta = (f" {(c.driver or '—')[:8]:8s} {(c.phone_path or '—')[:9]:9s} {_f(c.lead, 3)}" if c
                else " " * 23)
        return (label[:26].ljust(26) + meta + "".join(f" {_f(v)}" for v in values["truth"]) + " │"
                + "".join(f" {_f(v)}" for v in values["next"]) + " │"
                + "".join(f" {_f(v)}" for v in values["amp"]) + " │"
                + f" {_f(values['tail'][0], 4)} {_f(values['tail'][1], 5)} {_f(values['tail'][2], 5)} {_f(values['tail'][3], 4)}")

    cols: list[dict[str, list[float | None]]] = []
    for c in chains:
        if c.error:
            rows.append(f"{c.clip[:26].ljust(26)} FAILED {c.error}")
            continue
        v = {"truth": [c.r_truth[s] for s in STAGES], "next": [c.r_next[s] for s in STAGES[:-1]],
             "amp": [c.amp_next[s] for s in STAGES[:-1]],
             "tail": [c.do_nothing_r, c.lag, c.real_lag, c.lag_vs_real]}
        cols.append(v)
        rows.append(row(c.clip + ("" if c.reliable_av else " *"), c, v))
    if cols:
        med = {k: [median([v[k][i] for v in cols]) for i in range(len(cols[0][k]))] for k in cols[0]}
        med["tail"] = [med["tail"][0], None, None, median([v["tail"][3] for v in cols])]
        rows += ["-" * len(head), row("median", None, med)]
    rows.append("r vs truth per stage │ r to the next stage │ std(next) ÷ std(this) │ do-nothing r, output lag, "
                "real lag, lag − real (frames; * = AV unreliable)")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.motion_chain", description=__doc__.split("\n")[0])
    parser.add_argument("--clips", default="all", help="all, or comma-separated clip names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("out/motion_chain"), help="output folder (default: out/motion_chain)")
    parser.add_argument("--cache", type=Path, default=None, help="landmark cache folder (default: OUT/cache)")
    parser.add_argument("--motion-driver", choices=("auto", "guide", "phonetic", "speech"), default=None,
                        help="passed to `mytalk sync --motion-driver` (default: the product's own)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = LandmarkStore((args.cache or out / "cache").resolve())
    chains = []
    for clip in select_clips(args.clips, FULL, default_media_dir().resolve()):
        chains.append(measure(clip, out, store, args.motion_driver))
        print(f"{clip.name}: {chains[-1].r_truth}", file=sys.stderr, flush=True)
    text = table(chains)
    print(text)
    (out / "motion_chain.txt").write_text(text + "\n")
    payload: dict[str, Any] = {"clips": [asdict(c) for c in chains], "stages": list(STAGES),
                               "medians": {f"r_truth.{s}": median([c.r_truth.get(s) for c in chains]) for s in STAGES}}
    (out / "motion_chain.json").write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
