"""What every protocol shares: one clip's context, and the way a protocol result is shaped.

A protocol is a function `run(ctx, tool) -> dict` returning a JSON-ready result with:
- "figures": flat name → number (or None) — the headline figures, the ones compared across
  repeated runs to measure noise;
- "baselines": flat name → number — do-nothing and real-footage figures to show beside them;
- "halves": name → [first half, second half] — the same figures on each half of the range,
  whose spread is the suite's noise level for that figure;
- "checks": name → bool — pass/fail against evaluation.md's targets, for the table; None when
  not judged (AV targets on a clip whose AV figures are unreliable);
- "detail", "output", "sheet", "error": everything else.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.landmarks import LandmarkStore, Track
from benchmarks.eval.mediaio import ANALYSIS_RATE, LINE_RATE, ClipInfo, audio_segment, decode_audio_mono
from benchmarks.eval.metrics import PlanFidelity, audio_envelope, av_lag, av_reliable, plan_fidelity
from benchmarks.eval.settings import EvalSettings
from benchmarks.eval.tools import Tool, ToolRun


@dataclass
class ClipContext:
    """One clip under evaluation, with memoised source analyses.

    window: frames [0, window) of the clip are used. workdir: this clip's output folder.
    dub_voices: extra speech files for the dub rotation besides the shared ones (the synthetic
    non-English lines of `benchmarks.eval.voices`); empty = the shared files only.
    """

    info: ClipInfo
    settings: EvalSettings
    store: LandmarkStore
    workdir: Path
    media_dir: Path
    dub_voices: tuple[Path, ...] = ()
    voices_dir: Path | None = None
    """Where synthetic lines are written and reused (the closures protocol's English lines); None:
    the clip's own folder. The runner puts it beside the report, so `--cache none` keeps them."""
    _audio: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.path.name

    @property
    def fps(self) -> Fraction:
        return self.info.fps

    @property
    def window(self) -> int:
        if self.settings.window_s is None:
            return self.info.frame_count
        return min(self.info.frame_count, self.info.frames(self.settings.window_s))

    def edit_range(self) -> tuple[int, int]:
        """The last `edit_share` of the window: (start, stop) frames."""
        start = int(round((1 - self.settings.edit_share) * self.window))
        return start, self.window

    @property
    def seed(self) -> int:
        """A per-clip seed that does not change between runs or machines."""
        return zlib.crc32(self.name.encode())

    def folder(self, protocol: str) -> Path:
        path = self.workdir / protocol
        path.mkdir(parents=True, exist_ok=True)
        return path

    def source_track(self, start: int, stop: int) -> Track:
        """Source landmarks of frames [start, stop), tracked as exactly that range."""
        return self.store.track(self.info.path, start, stop, self.fps)

    def own_audio(self, rate: int = ANALYSIS_RATE) -> np.ndarray:
        """The clip's own sound, mono at `rate`, sample 0 at frame 0 (zeros when it has none)."""
        if rate not in self._audio:
            samples = decode_audio_mono(self.info.path, rate)
            self._audio[rate] = np.zeros(0, np.float32) if samples is None else samples
        return self._audio[rate]

    def own_segment(self, start_s: float, num_frames: int, rate: int = LINE_RATE) -> np.ndarray:
        """Exactly `num_frames` frames' worth of own audio from `start_s` (s), zero-padded."""
        length = (num_frames * rate * self.fps.denominator) // self.fps.numerator
        return audio_segment(self.own_audio(rate), rate, start_s, int(length))

    def own_envelope(self, start: int, stop: int) -> np.ndarray:
        """AV-lag envelope of the clip's own sound over frames [start, stop)."""
        segment = self.own_segment(float(start / self.fps), stop - start, ANALYSIS_RATE)
        return audio_envelope(segment, ANALYSIS_RATE, self.fps, stop - start)


def output_envelope(run: ToolRun, fps: Fraction, num_frames: int) -> np.ndarray:
    """AV-lag envelope of the audio the tool wrote into its output (NaN when it wrote none)."""
    samples = decode_audio_mono(run.output, ANALYSIS_RATE)
    if samples is None or samples.size == 0:
        return np.full(num_frames, np.nan)
    return audio_envelope(samples, ANALYSIS_RATE, fps, num_frames)


def failed(run: ToolRun, protocol: str) -> dict[str, Any]:
    """The result of a protocol whose tool run failed: the figures are missing, the reason is kept."""
    return {
        "protocol": protocol,
        "error": f"exit {run.exit_code}: {run.first_error_line or '(no message)'}",
        "figures": {},
        "baselines": {},
        "halves": {},
        "checks": {"tool succeeded": False},
        "detail": {"command": run.command, "stderr": run.stderr[-2000:]},
    }


def not_applicable(tool: Tool, protocol: str) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "skipped": f"{tool.name} does not take part in {protocol}",
        "figures": {},
        "baselines": {},
        "halves": {},
        "checks": {},
    }


def planned_apertures(report: dict[str, Any] | None, num_frames: int) -> np.ndarray | None:
    """The engine's planned mouth aperture per output frame, from `frames[i]["planned_aperture"]`
    of its `--report` (inner-lip gap ÷ IOD in the image plane, as `Track.aperture`): (num_frames,),
    NaN where a frame's plan is null. None when no frame carries the key (an engine or a version
    without plans, or a reference tool): the plan figures are then missing, not zero."""
    frames = (report or {}).get("frames") or []
    if not any(isinstance(f, dict) and "planned_aperture" in f for f in frames):
        return None
    out = np.full(num_frames, np.nan)
    for i, record in enumerate(frames[:num_frames]):
        value = record.get("planned_aperture") if isinstance(record, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[i] = float(value)
    return out


@dataclass(frozen=True)
class PlanFigures:
    """Plan-to-output fidelity of one run, shaped for a protocol result.

    figures: plan_r, plan_amplitude, plan_slope (None without plans); halves: plan_r and
    plan_amplitude per half of the range; checks: "plan r ≥ 0.9" and "plan amplitude 0.9-1.1"
    (None, not judged, without plans); detail: the fit and how many frames carried a plan.
    """

    figures: dict[str, Any]
    halves: dict[str, list[Any]]
    checks: dict[str, Any]
    detail: dict[str, Any]


def plan_figures(run: ToolRun, output_aperture: np.ndarray) -> PlanFigures:
    """`PlanFigures` of a tool run against the output's tracked aperture (T,)."""
    n = int(np.asarray(output_aperture).size)
    planned = planned_apertures(run.report, n)
    if planned is None:
        fit = PlanFidelity(None, None, None, 0)
        halves: list[PlanFidelity] = [fit, fit]
    else:
        fit = plan_fidelity(planned, output_aperture)
        halves = [plan_fidelity(np.where(m, planned, np.nan), output_aperture) for m in halves_mask(n)]
    figures = {"plan_r": rounded(fit.r), "plan_amplitude": rounded(fit.amplitude), "plan_slope": rounded(fit.slope)}
    checks: dict[str, Any] = {
        "plan r ≥ 0.9": None if fit.r is None else fit.r >= 0.9,
        "plan amplitude 0.9-1.1": None if fit.amplitude is None else 0.9 <= fit.amplitude <= 1.1,
    }
    return PlanFigures(
        figures,
        {"plan_r": [h.r for h in halves], "plan_amplitude": [h.amplitude for h in halves]},
        checks,
        {**fit.to_dict(), "planned_frames": 0 if planned is None else int(np.isfinite(planned).sum())},
    )


def halves_mask(num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Bool masks of the first and second half of a range."""
    first = np.arange(num_frames) < num_frames // 2
    return first, ~first


def av_halves(
    out_ap: np.ndarray, out_env: np.ndarray, src_ap: np.ndarray, own_env: np.ndarray, fps: Fraction, max_lag: int
) -> dict[str, list[Any]]:
    """AV figures on each half of a range, for the noise levels.

    Lags count only on halves that are themselves reliable (≥ 4 s, real peak ≥ 0.3, peak not at
    the search edge): on shorter halves speech rhythm alone moves the peak by 6-15 frames, which
    is the reason for the reliability rule, not a property of the tool.
    """
    halves: dict[str, list[Any]] = {"lag": [], "lag_vs_real": [], "real_lag": [], "peak": [], "real_peak": []}
    n = min(out_ap.size, src_ap.size)
    for mask in halves_mask(n):
        tool = av_lag(np.where(mask, out_ap[:n], np.nan), out_env[:n], max_lag)
        real = av_lag(np.where(mask, src_ap[:n], np.nan), own_env[:n], max_lag)
        ok = av_reliable(real, int(mask.sum()), fps)
        halves["lag"].append(tool.lag if ok else None)
        halves["real_lag"].append(real.lag if ok else None)
        halves["lag_vs_real"].append(tool.lag - real.lag if ok and tool.lag is not None and real.lag is not None else None)
        halves["peak"].append(tool.peak)
        halves["real_peak"].append(real.peak)
    return halves


def rounded(value: float | None, digits: int = 4) -> float | None:
    """JSON-friendly rounding; inf stays inf (json writes it as Infinity, read back by Python)."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return round(float(value), digits)


def output_name(tool: Tool, protocol: str) -> str:
    """File stem of a tool's output: tool names like "ref:oracle" become "ref-oracle"."""
    return f"{protocol}-{tool.name.replace(':', '-').replace('/', '-')}"
