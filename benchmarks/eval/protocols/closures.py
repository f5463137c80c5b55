"""closures (issue #11): does the mouth show the phones of a line whose words are known?

A line with a known transcript drives the start of the clip's window, like dub, twice: once with
`--transcript TEXT` and once without (audio only). The lines (`known_lines`) are JFK's
"And so, my fellow Americans ..." from the shared media and, when Debian's `espeak-ng` is on
PATH, three English lines written for the purpose (`voices.KNOWN_TEXT_LINES`); each clip takes
one in rotation by its place in the media folder, as dub does. Without espeak-ng only JFK is
used, and the result says so ("lines_note").

The line is forced-aligned to its text by `mytalk.core.audio.phonemes.force_align` (the suite's
ground truth of which phone is spoken when; the product may use the same aligner, which is why
the audio-only run is the independent check). A line longer than the window is cut at the last
pause between two words that ends inside it, and the transcript cut with it, so text and audio
always agree. The range is [0, the line's length), at most the window.

Frame rule: output frame n shows [n/fps, (n+1)/fps) of the line; it is "inside" a phone set when
those phones cover at least half of that interval (`metrics.phone_frames`).

Figures, per run (suffix `_transcript` or `_no_transcript`):
- closure_share: of the frames inside a p, b or m, the share whose output lips are shut: aperture
  (inner-lip gap ÷ IOD) under 0.02, or under the actor's own closed-mouth gap, the 10th percentile
  of the source's aperture over the window's frames with a face (`metrics.shut_threshold`).
  Targets: ≥ 0.9 with the transcript, ≥ 0.6 without.
- fv_share: of the frames inside an f or v, the share with the lower lip near the upper teeth
  (aperture under 0.06).
- width_ratio: mean mouth width (lip corners 61 ↔ 291, ÷ IOD) on rounded frames (UW, OW, W) ÷ on
  spread frames (IY, EY, IH); under 1 when "oo" is narrower than "ee".
- lag_vs_real: AV lag of the output with the line, minus the real footage's with its own sound
  (as dub; judged only when reliable).
- plan_r, plan_amplitude, plan_slope: plan-to-output fidelity (`base.plan_figures`).
Baselines: the same shares and ratio for the source frames unchanged (do-nothing).

A contact sheet per run shows source and output mouth crops on p/b/m, f/v, "oo" and "ee" frames,
each labelled with the phone and its word.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.eval.contact_sheet import Panel, SheetRow, write_sheet
from benchmarks.eval.landmarks import Track
from benchmarks.eval.mediaio import ANALYSIS_RATE, LINE_RATE, decode_audio_mono, read_wav, write_wav
from benchmarks.eval.metrics import (
    LIP_TEETH_APERTURE,
    audio_envelope,
    av_lag,
    av_reliable,
    mean_ratio,
    phone_coverage,
    phone_frames,
    share_below,
    shut_threshold,
)
from benchmarks.eval.protocols.base import (
    ClipContext,
    failed,
    not_applicable,
    output_name,
    plan_figures,
    rounded,
)
from benchmarks.eval.tools import Tool, ToolJob, ToolRun
from benchmarks.eval.voices import espeak_available, synthesise_known_lines, voice_label
from mytalk.core.audio.phonemes import SILENCE, Phone, force_align, transcript_words
from mytalk.core.media.audio import AudioTrack

NAME = "closures"

JFK_AUDIO = "jfk_inaugural_en_16k.wav"
JFK_TEXT = (
    "And so, my fellow Americans: ask not what your country can do for you \u2014 "
    "ask what you can do for your country."
)
"""The whole 11 s file, checked by forced alignment: every word is placed, none is left over."""

CLOSURE = frozenset({"P", "B", "M"})
LIP_TEETH = frozenset({"F", "V"})
ROUNDED = frozenset({"UW", "OW", "W"})
SPREAD = frozenset({"IY", "EY", "IH"})
SHEET_GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("p/b/m", CLOSURE), ("f/v", LIP_TEETH), ("oo", ROUNDED), ("ee", SPREAD),
)
SHEET_ROWS_PER_GROUP = 3

CUT_MIN_PAUSE_S = 0.15
"""A line is cut only inside a pause at least this long: the mouth has time to settle there."""

CUT_INTO_PAUSE_S = 0.3
"""Where in the pause the cut falls: this far in (at most half the pause), so the line ends in silence."""


@dataclass(frozen=True)
class KnownLine:
    """A speech file and its exact words. synthetic: spoken by espeak-ng (see `voices`)."""

    audio: Path
    text: str
    synthetic: bool


def known_lines(media_dir: Path, voices_dir: Path) -> tuple[list[KnownLine], str | None]:
    """The lines with known words, and a note when the synthetic ones are missing (no espeak-ng)."""
    lines = []
    jfk = media_dir / "audio" / JFK_AUDIO
    if jfk.is_file():
        lines.append(KnownLine(jfk, JFK_TEXT, False))
    note = None
    if espeak_available():
        lines += [KnownLine(path, text, True) for path, text in synthesise_known_lines(voices_dir)]
    else:
        note = "espeak-ng is not on PATH (Debian: apt-get install espeak-ng): only the JFK line is used"
    return lines, note


def pick_line(ctx: ClipContext, lines: list[KnownLine]) -> KnownLine:
    """The clip's line: rotation by the clip's place in the media folder, stable across selections."""
    clips = sorted(p.name for p in (ctx.media_dir / "video").glob("*"))
    offset = clips.index(ctx.name) if ctx.name in clips else 0
    return lines[offset % len(lines)]


def align(samples: np.ndarray, rate: int, text: str) -> tuple[list[Phone], list[str]]:
    """Forced alignment of `text` on mono `samples`: (phones, warnings). No phones when it fails."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        phones = force_align(AudioTrack(np.asarray(samples, np.float32), rate), text)
    return phones, [str(w.message) for w in caught]


def word_runs(phones: list[Phone]) -> list[tuple[str, float, float]]:
    """(word, start_s, end_s) of each spoken word in order. A silence that pause carving put inside
    a word (JFK's "as | k") does not split it: a word continues while the word label is unchanged."""
    runs: list[tuple[str, float, float]] = []
    for phone in phones:
        if phone.label == SILENCE or not phone.word:
            continue
        if runs and runs[-1][0] == phone.word and _no_other_word_between(runs[-1], phone, phones):
            runs[-1] = (phone.word, runs[-1][1], phone.end_s)
        else:
            runs.append((phone.word, phone.start_s, phone.end_s))
    return runs


def _no_other_word_between(run: tuple[str, float, float], phone: Phone, phones: list[Phone]) -> bool:
    return not any(p.word and p.word != run[0] and run[2] <= p.start_s < phone.start_s for p in phones)


def cut_point(phones: list[Phone], max_s: float) -> tuple[float, int] | None:
    """Where to cut a line to fit `max_s` seconds: (cut time s, number of words kept), inside the
    last pause (≥ CUT_MIN_PAUSE_S) between two words that fits; None when no pause fits."""
    runs = word_runs(phones)
    best = None
    for k in range(1, len(runs)):
        gap_start, gap_end = runs[k - 1][2], runs[k][1]
        if gap_end - gap_start < CUT_MIN_PAUSE_S:
            continue
        cut = gap_start + min(CUT_INTO_PAUSE_S, (gap_end - gap_start) / 2)
        if cut <= max_s:
            best = (cut, k)
    return best


@dataclass(frozen=True)
class PlacedLine:
    """The line as fed to the tool: samples at LINE_RATE, its words, their phones, the range."""

    samples: np.ndarray
    text: str
    phones: list[Phone]
    frames: int
    cut: bool
    warnings: list[str]


def place_line(ctx: ClipContext, line: KnownLine) -> PlacedLine | None:
    """Fit the line to the window (cut at a pause when longer), and align the words that remain.
    None when the line cannot be aligned or no pause falls inside the window."""
    analysis = read_wav(line.audio, ANALYSIS_RATE)
    phones, notes = align(analysis, ANALYSIS_RATE, line.text)
    if not phones:
        return None
    window_s = float(ctx.window / ctx.fps)
    samples = read_wav(line.audio, LINE_RATE)
    text, cut = line.text, False
    if samples.size / LINE_RATE > window_s:
        point = cut_point(phones, window_s)
        if point is None:
            return None
        cut_s, kept = point
        samples = samples[: int(cut_s * LINE_RATE)]
        text = " ".join(transcript_words(line.text)[:kept])
        phones, more = align(read_wav(line.audio, ANALYSIS_RATE)[: int(cut_s * ANALYSIS_RATE)], ANALYSIS_RATE, text)
        notes += more
        cut = True
        if not phones:
            return None
    frames = min(ctx.window, math.ceil(samples.size / LINE_RATE * float(ctx.fps)))
    return PlacedLine(samples, text, phones, frames, cut, notes)


def _phone_at(phones: list[Phone], labels: frozenset[str], n: int, fps: float) -> Phone | None:
    """The phone of `labels` covering most of frame n."""
    a, b = n / fps, (n + 1) / fps
    best, overlap = None, 0.0
    for phone in phones:
        if phone.label in labels:
            o = min(b, phone.end_s) - max(a, phone.start_s)
            if o > overlap:
                best, overlap = phone, o
    return best


def _sheet(ctx: ClipContext, path: Path, title: str, output: Path, src: Track, phones: list[Phone],
           masks: dict[str, np.ndarray]) -> Path | None:
    """Source | output mouth crops on up to 3 frames per phone group, one per distinct phone."""
    rows = []
    fps = float(ctx.fps)
    for group, labels in SHEET_GROUPS:
        seen: set[tuple[float, str]] = set()
        for n in np.flatnonzero(masks[group]):
            phone = _phone_at(phones, labels, int(n), fps)
            box = src.mouth_box(int(n), scale=1.6)
            if phone is None or box is None or (phone.start_s, phone.label) in seen:
                continue
            seen.add((phone.start_s, phone.label))
            label = f"t={n} {phone.label} '{phone.word}'"
            rows.append(SheetRow(label, box, (Panel("src", ctx.info.path, int(n)), Panel("out", output, int(n)))))
            if len(seen) >= SHEET_ROWS_PER_GROUP:
                break
    return write_sheet(path, title, rows)


def _shapes(aperture: np.ndarray, width: np.ndarray, masks: dict[str, np.ndarray], shut: float) -> dict[str, Any]:
    return {
        "closure_share": rounded(share_below(aperture, masks["p/b/m"], shut)),
        "fv_share": rounded(share_below(aperture, masks["f/v"], LIP_TEETH_APERTURE)),
        "width_ratio": rounded(mean_ratio(width, masks["oo"], masks["ee"])),
    }


def run(ctx: ClipContext, tool: Tool) -> dict[str, Any]:
    if not tool.supports(NAME):
        return not_applicable(tool, NAME)
    folder = ctx.folder(NAME)
    lines, note = known_lines(ctx.media_dir, ctx.voices_dir or ctx.workdir / "voices")
    if not lines:
        return {**not_applicable(tool, NAME), "skipped": f"no line with known words ({JFK_AUDIO} missing)"}
    # The clip's line in rotation; when it cannot be fitted to the window (JFK's pause-free opening is
    # longer than an 8 s window), the next line in rotation that fits.
    first = pick_line(ctx, lines)
    start = lines.index(first)
    line, placed = first, None
    for k in range(len(lines)):
        line = lines[(start + k) % len(lines)]
        placed = place_line(ctx, line)
        if placed is not None:
            break
    if placed is None:
        return {**not_applicable(tool, NAME),
                "skipped": f"no known-text line could be aligned or fitted to the {ctx.window}-frame window"}
    n = placed.frames
    line_path = folder / "line.wav"
    write_wav(line_path, placed.samples, LINE_RATE)

    runs: dict[str, tuple[ToolJob, ToolRun]] = {}
    for mode, transcript in (("transcript", placed.text), ("no_transcript", None)):
        stem = f"{output_name(tool, NAME)}-{mode.replace('_', '-')}"
        job = ToolJob(
            video=ctx.info.path, audio=line_path, output=folder / f"{stem}.mkv", report=folder / f"{stem}.json",
            start=0, stop=n, guide="auto", codec=ctx.settings.codec, transcript=transcript,
        )
        tool_run = tool.run(job)
        if not tool_run.ok:
            result = failed(tool_run, NAME)
            result["detail"]["mode"] = mode
            return result
        runs[mode] = (job, tool_run)

    window_track = ctx.source_track(0, ctx.window)
    src = window_track.slice(0, n)
    src_ap, src_width = src.aperture(), src.mouth_width()
    shut = shut_threshold(window_track.aperture())
    masks = {group: phone_frames(placed.phones, labels, ctx.fps, n) for group, labels in SHEET_GROUPS}
    own_env = ctx.own_envelope(0, n)
    real_sync = av_lag(src_ap, own_env)
    reliable = av_reliable(real_sync, n, ctx.fps)
    line_env = audio_envelope(read_wav(line_path, ANALYSIS_RATE), ANALYSIS_RATE, ctx.fps, n)
    nothing_sync = av_lag(src_ap, line_env)

    figures: dict[str, Any] = {}
    halves: dict[str, list[Any]] = {}
    checks: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    sheets: dict[str, str | None] = {}
    outputs: list[str] = []
    for mode, (job, tool_run) in runs.items():
        out = ctx.store.track(job.output, 0, n, ctx.fps)
        out_ap = out.aperture()
        audio = decode_audio_mono(job.output, ANALYSIS_RATE)
        env = audio_envelope(np.zeros(0, np.float32) if audio is None else audio, ANALYSIS_RATE, ctx.fps, n)
        sync = av_lag(out_ap, env)
        lag_offset = None if sync.lag is None or real_sync.lag is None else sync.lag - real_sync.lag
        shapes = _shapes(out_ap, out.mouth_width(), masks, shut)
        plan = plan_figures(tool_run, out_ap)
        figures.update({f"{k}_{mode}": v for k, v in shapes.items()})
        figures.update({f"lag_vs_real_{mode}": lag_offset, f"peak_{mode}": rounded(sync.peak)})
        figures.update({f"{k}_{mode}": v for k, v in plan.figures.items()})
        halves.update({f"{k}_{mode}": v for k, v in plan.halves.items()})
        target = 0.9 if mode == "transcript" else 0.6
        share = shapes["closure_share"]
        checks[f"closures ≥ {target:.0%} ({mode.replace('_', ' ')})"] = None if share is None else share >= target
        checks[f"lag within ±1 of real ({mode.replace('_', ' ')})"] = (
            (lag_offset is not None and abs(lag_offset) <= 1) if reliable else None
        )
        if mode == "transcript":
            checks.update(plan.checks)
        detail[mode] = {
            "sync": sync.to_dict(), "plan": plan.detail, "output_face_frames": int(out.found.sum()),
            "tool_seconds": round(tool_run.seconds, 2), "command": tool_run.command,
            "engine_phones": _engine_phones(tool_run),
        }
        sheet = _sheet(ctx, folder / f"{output_name(tool, NAME)}-{mode.replace('_', '-')}.png",
                       f"closures {ctx.name} {line.audio.name} {mode.replace('_', ' ')} {tool.name}",
                       job.output, src, placed.phones, masks)
        sheets[mode] = None if sheet is None else str(sheet)
        outputs.append(str(job.output))

    baseline_shapes = _shapes(src_ap, src_width, masks, shut)
    fps = ctx.fps
    return {
        "protocol": NAME,
        "range": [0, n],
        "audio": line.audio.name,
        **({"voice": voice_label(line.audio)} if line.synthetic else {}),
        "text": placed.text,
        "figures": figures,
        "baselines": {
            **{f"do_nothing_{k}": v for k, v in baseline_shapes.items()},
            "real_lag": real_sync.lag,
            "real_peak": rounded(real_sync.peak),
            "do_nothing_lag": nothing_sync.lag,
        },
        "halves": halves,
        "checks": checks,
        "reliable_av": reliable,
        "detail": {
            **detail,
            "shut_threshold_iod": round(shut, 4),
            "frames": {group: int(mask.sum()) for group, mask in masks.items()},
            "phone_coverage_rule": "a frame is inside a phone set when it covers ≥ half of [n/fps, (n+1)/fps)",
            "line_cut_at_pause": placed.cut,
            "line_seconds": round(placed.samples.size / LINE_RATE, 3),
            "alignment_warnings": placed.warnings,
            "phones": [[p.label, p.start_s, p.end_s, p.word] for p in placed.phones],
            "closure_coverage": [round(float(c), 3) for c in phone_coverage(placed.phones, CLOSURE, fps, n)],
            "real_sync": real_sync.to_dict(),
            "do_nothing_sync": nothing_sync.to_dict(),
            "lines_note": note,
            "lines_available": [p.audio.name for p in lines],
        },
        "output": outputs[0] if outputs else None,
        "outputs": outputs,
        "sheet": sheets.get("transcript"),
        "sheets": sheets,
    }


def _engine_phones(run: ToolRun) -> int | None:
    """How many output frames the engine's report labels with a phone (None: no phone labels)."""
    frames = (run.report or {}).get("frames") or []
    if not any(isinstance(f, dict) and "phone" in f for f in frames):
        return None
    return sum(1 for f in frames if isinstance(f, dict) and f.get("phone"))
