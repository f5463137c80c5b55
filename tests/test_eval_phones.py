"""Issue #11's figures on constructed data with known answers: aperture r, plan-to-output
fidelity, frames inside phones, closures, lip-on-teeth and rounded-vs-spread mouth width, the
closures protocol's line cutting, and how the suite passes a transcript to the tool."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmarks.eval import metrics
from benchmarks.eval.__main__ import build_parser
from benchmarks.eval.protocols.base import PlanFigures, plan_figures, planned_apertures
from benchmarks.eval.protocols.closures import JFK_TEXT, cut_point, word_runs
from benchmarks.eval.report import markdown
from benchmarks.eval.runner import make_tool, summarise
from benchmarks.eval.settings import SETTINGS
from benchmarks.eval.tools import MyTalkTool, ToolJob, ToolRun
from benchmarks.eval.voices import KNOWN_TEXT_LINES
from mytalk.core.audio.phonemes import Phone, transcript_words
from mytalk.core.face.regions import LEFT_EYE_OUTER, MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT, RIGHT_EYE_OUTER
from tests.conftest import media_path

FPS = Fraction(25)


# --- aperture r ---------------------------------------------------------------------------------------


def test_pearson_r_is_one_for_a_scaled_copy_and_ignores_missing_frames() -> None:
    truth = np.sin(np.linspace(0, 12, 100)) * 0.1 + 0.15
    out = 3 * truth + 0.2
    out[[5, 50]] = np.nan  # faceless frames drop out, they do not poison r
    assert metrics.pearson_r(out, truth) == pytest.approx(1.0)
    assert metrics.pearson_r(-truth, truth) == pytest.approx(-1.0)
    # A mouth left alone (constant) has no r at all, not r = 0.
    assert metrics.pearson_r(np.full(100, 0.1), truth) is None
    assert metrics.pearson_r(truth[:2], truth[:2]) is None


def test_sample_series_interpolates_like_the_lip_points() -> None:
    series = np.array([0.0, 0.1, 0.3, np.nan, 0.5])
    got = metrics.sample_series(series, np.array([0.0, 0.5, 1.25, 2.0, 2.5, 4.0, -0.1, 4.2]))
    assert got[:4] == pytest.approx([0.0, 0.05, 0.15, 0.3])
    # Next to a faceless frame, before the start and past the end: no truth.
    assert np.isnan(got[4]) and got[5] == pytest.approx(0.5) and np.isnan(got[6]) and np.isnan(got[7])


def test_aperture_r_of_a_shifted_mouth_is_low_and_of_the_truth_high() -> None:
    rng = np.random.default_rng(3)
    speech = np.convolve(rng.random(130), np.hanning(7) / 3, mode="same")  # ~3 syllables a second
    d = 10  # frames: the shift protocol's D·fps
    truth = speech[:100]
    do_nothing = speech[d : d + 100]
    r_truth = metrics.pearson_r(truth + rng.normal(0, 0.01, 100), truth)
    r_nothing = metrics.pearson_r(do_nothing, truth)
    assert r_truth is not None and r_nothing is not None
    assert r_truth > 0.9 and abs(r_nothing) < 0.5


# --- plan-to-output fidelity -------------------------------------------------------------------------


def test_plan_fidelity_separates_a_squashed_render_from_a_faithful_one() -> None:
    rng = np.random.default_rng(0)
    planned = 0.05 + 0.25 * rng.random(200)
    faithful = planned + 0.03  # a constant offset (a different closed gap) is still faithful
    fit = metrics.plan_fidelity(planned, faithful)
    assert fit.r == pytest.approx(1.0) and fit.amplitude == pytest.approx(1.0) and fit.slope == pytest.approx(1.0)
    squashed = metrics.plan_fidelity(planned, 0.1 + 0.5 * (planned - 0.05))
    assert squashed.r == pytest.approx(1.0) and squashed.amplitude == pytest.approx(0.5)
    # Noise with the plan's spread: the amplitude alone looks right, r and the slope do not.
    unrelated = metrics.plan_fidelity(planned, rng.permutation(planned))
    assert unrelated.amplitude == pytest.approx(1.0)
    assert unrelated.r is not None and abs(unrelated.r) < 0.3
    assert unrelated.slope is not None and abs(unrelated.slope) < 0.3
    # Frames without a plan or without a tracked face are left out; too few frames: no figures.
    holes = planned.copy()
    holes[::2] = np.nan
    assert metrics.plan_fidelity(holes, faithful).frames == 100
    assert metrics.plan_fidelity(holes[:15], faithful[:15]).r is None


def _run_with(frames: list[dict[str, object]]) -> ToolRun:
    return ToolRun(0, "", 1.0, Path("out.mkv"), {"frames": frames})


def test_planned_apertures_are_read_per_output_frame_and_missing_without_the_key() -> None:
    assert planned_apertures(_run_with([{"index": 7}, {"index": 8}]).report, 2) is None
    assert planned_apertures(None, 3) is None
    got = planned_apertures(_run_with([{"planned_aperture": 0.1}, {"planned_aperture": None}, {"index": 9}]).report, 4)
    assert got is not None and got[0] == pytest.approx(0.1) and np.isnan(got[1:]).all()

    absent = plan_figures(_run_with([{"index": i} for i in range(30)]), np.linspace(0, 0.3, 30))
    assert isinstance(absent, PlanFigures)
    assert absent.figures == {"plan_r": None, "plan_amplitude": None, "plan_slope": None}
    assert set(absent.checks.values()) == {None}  # not judged, not failed
    planned = np.linspace(0.0, 0.3, 30)
    present = plan_figures(_run_with([{"planned_aperture": float(v)} for v in planned]), 0.8 * planned)
    assert present.figures["plan_r"] == pytest.approx(1.0)
    assert present.figures["plan_amplitude"] == pytest.approx(0.8)
    assert present.checks == {"plan r ≥ 0.9": True, "plan amplitude 0.9-1.1": False}


# --- phones, closures and shapes -------------------------------------------------------------------


def test_a_frame_is_inside_a_phone_that_covers_at_least_half_of_it() -> None:
    # At 25 fps frame n is [0.04 n, 0.04 (n + 1)).
    phones = [
        Phone("P", 0.02, 0.06, "pie"),   # half of frame 0, half of frame 1: both inside
        Phone("AY", 0.06, 0.20, "pie"),
        Phone("M", 0.201, 0.2195, "me"),  # 46 % of frame 5: outside
        Phone("B", 0.30, 0.34, "by"),     # the second half of frame 7 and the first half of frame 8
    ]
    inside = metrics.phone_frames(phones, {"P", "B", "M"}, FPS, 10)
    assert np.flatnonzero(inside).tolist() == [0, 1, 7, 8]
    cover = metrics.phone_coverage(phones, {"P", "B", "M"}, FPS, 10)
    assert cover[5] == pytest.approx(0.4625)
    # NTSC: edges at n · 1001/30000 s, never rounded to whole milliseconds.
    ntsc = metrics.phone_frames([Phone("F", 1001 / 30000, 2 * 1001 / 30000, "f")], {"F"}, Fraction(30000, 1001), 3)
    assert ntsc.tolist() == [False, True, False]


def test_shut_threshold_is_the_actors_closed_gap_or_two_percent() -> None:
    tight = np.concatenate([np.zeros(20), np.full(80, 0.2)])  # an actor whose lips meet: floor 0.02
    assert metrics.shut_threshold(tight) == pytest.approx(0.02)
    loose = np.concatenate([np.full(20, 0.035), np.full(80, 0.2), [np.nan] * 5])  # never reads below 0.035
    assert metrics.shut_threshold(loose) == pytest.approx(0.035)
    assert metrics.shut_threshold(np.full(4, np.nan)) == pytest.approx(0.02)


def test_share_below_counts_only_the_chosen_frames_with_a_face() -> None:
    aperture = np.array([0.01, 0.3, np.nan, 0.015, 0.2, 0.0])
    chosen = np.array([True, True, True, True, False, False])
    assert metrics.share_below(aperture, chosen, 0.02) == pytest.approx(2 / 3)
    assert metrics.share_below(aperture, np.zeros(6, bool), 0.02) is None


def _face(width: float, iod: float) -> np.ndarray:
    lm = np.zeros((478, 3))
    lm[MOUTH_CORNER_RIGHT, :2] = (100 - width / 2, 200)
    lm[MOUTH_CORNER_LEFT, :2] = (100 + width / 2, 200)
    lm[RIGHT_EYE_OUTER, :2] = (100 - iod / 2, 100)
    lm[LEFT_EYE_OUTER, :2] = (100 + iod / 2, 100)
    return lm


def test_mouth_width_and_the_rounded_over_spread_ratio() -> None:
    faces = np.stack([_face(40, 100), _face(60, 100), _face(30, 60), _face(0, 0)])
    faces[3] = np.nan
    width = metrics.mouth_width(faces)
    assert width[:3] == pytest.approx([0.4, 0.6, 0.5]) and np.isnan(width[3])
    rounded = np.array([True, False, False, True])
    spread = np.array([False, True, False, False])
    assert metrics.mean_ratio(width, rounded, spread) == pytest.approx(0.4 / 0.6)
    assert metrics.mean_ratio(width, rounded, np.zeros(4, bool)) is None


# --- the closures protocol's line cutting -----------------------------------------------------------


def _phones() -> list[Phone]:
    return [
        Phone("SIL", 0.0, 0.3), Phone("AE", 0.3, 0.5, "ask"), Phone("S", 0.5, 0.6, "ask"),
        Phone("SIL", 0.6, 0.9),  # pause carving inside "ask": not a word boundary
        Phone("K", 0.9, 1.0, "ask"), Phone("N", 1.0, 1.1, "not"), Phone("AA", 1.1, 1.3, "not"),
        Phone("T", 1.3, 1.4, "not"), Phone("SIL", 1.4, 2.4), Phone("W", 2.4, 2.5, "what"),
        Phone("AH", 2.5, 2.6, "what"), Phone("T", 2.6, 2.65, "what"), Phone("Y", 2.7, 2.8, "you"),
        Phone("UW", 2.8, 3.0, "you"),
    ]


def test_word_runs_keep_a_word_split_by_a_carved_pause_whole() -> None:
    assert [w for w, _, _ in word_runs(_phones())] == ["ask", "not", "what", "you"]


def test_a_long_line_is_cut_inside_the_last_pause_between_words_that_fits() -> None:
    # The only pause between two words is 1.4-2.4 s: the cut falls 0.3 s into it, keeping 2 words.
    assert cut_point(_phones(), 3.5) == (pytest.approx(1.7), 2)
    assert cut_point(_phones(), 1.6) is None  # the pause inside "ask" is never a cut


def test_known_lines_are_rich_in_the_issues_phones() -> None:
    words = [w for line in KNOWN_TEXT_LINES for w in transcript_words(line.text)]
    assert sum(w[0] in "pbm" for w in words) >= 15
    assert sum("f" in w or "v" in w for w in words) >= 8
    assert transcript_words(JFK_TEXT)[:4] == ["and", "so", "my", "fellow"]


# --- the tool's command line --------------------------------------------------------------------------


def test_transcript_is_passed_and_language_only_when_set() -> None:
    tool = MyTalkTool("classic", executable=Path("/bin/mytalk"))
    base = dict(video=Path("v.mp4"), audio=Path("a.wav"), output=Path("o.mkv"), report=Path("r.json"), start=0, stop=10)
    plain = tool.command(ToolJob(**base))  # type: ignore[arg-type]
    assert "--transcript" not in plain and "--language" not in plain
    english = tool.command(ToolJob(**base, transcript="Bobby put the bench by the pool."))  # type: ignore[arg-type]
    assert english[english.index("--transcript") + 1] == "Bobby put the bench by the pool."
    assert "--language" not in english
    spanish = tool.command(ToolJob(**base, transcript="hola", language="es"))  # type: ignore[arg-type]
    assert spanish[spanish.index("--language") + 1] == "es"


def test_motion_driver_reaches_the_command_line_only_when_asked_for() -> None:
    base = dict(video=Path("v.mp4"), audio=Path("a.wav"), output=Path("o.mkv"), report=Path("r.json"), start=0, stop=10)
    assert "--motion-driver" not in MyTalkTool("classic", executable=Path("/bin/mytalk")).command(ToolJob(**base))  # type: ignore[arg-type]
    args = build_parser().parse_args(["--engine", "classic", "--out", "o", "--motion-driver", "speech"])
    tool = make_tool(args.engine, SETTINGS["fast"], args.motion_driver)
    assert isinstance(tool, MyTalkTool)
    cmd = tool.command(ToolJob(**base))  # type: ignore[arg-type]
    assert cmd[cmd.index("--motion-driver") + 1] == "speech"
    assert build_parser().parse_args(["--engine", "classic", "--out", "o"]).motion_driver is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--engine", "classic", "--out", "o", "--motion-driver", "loud"])


@pytest.mark.media
def test_learn_seconds_passes_the_products_sample_of_the_references() -> None:
    """`--learn-seconds S`: each frame-span reference (or the whole clip, for a job without one) becomes the
    product's own sample of it, so the suite measures what a long clip's default costs."""
    video = media_path("video", "wav2lip_pr600_man_720p_cutaway.mov")  # 681 frames at 30 fps
    base = dict(video=video, audio=Path("a.wav"), output=Path("o.mkv"), report=Path("r.json"), start=300, stop=400)

    def references(cmd: list[str]) -> list[str]:
        return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--reference"]

    args = build_parser().parse_args(["--engine", "classic", "--out", "o", "--learn-seconds", "4"])
    tool = make_tool(args.engine, SETTINGS["fast"], args.motion_driver, args.learn_seconds)
    assert references(tool.command(ToolJob(**base, references=("0-273",)))) == ["76-196"]  # type: ignore[arg-type]
    assert references(tool.command(ToolJob(**base, references=("other.mov:0-50",)))) == ["other.mov:0-50"]  # type: ignore[arg-type]
    assert references(tool.command(ToolJob(**base))) == ["280-400"]  # type: ignore[arg-type]
    plain = MyTalkTool("classic", executable=Path("/bin/mytalk"))
    assert references(plain.command(ToolJob(**base, references=("0-273",)))) == ["0-273"]  # type: ignore[arg-type]
    assert references(plain.command(ToolJob(**base))) == []  # type: ignore[arg-type]


# --- report ------------------------------------------------------------------------------------------------


def test_report_shows_aperture_r_plan_and_closures_with_medians() -> None:
    shift = {
        "protocol": "shift", "range": [4, 10], "reliable_av": True,
        "figures": {"ratio": 0.2, "shape_ratio": 0.1, "error_iod": 0.01, "aperture_r": 0.81, "lag": 3,
                    "lag_vs_real": 0, "peak": 0.5, "plan_r": None, "plan_amplitude": None, "plan_slope": None},
        "baselines": {"do_nothing_error_iod": 0.05, "do_nothing_aperture_r": 0.12, "real_lag": 3, "real_peak": 0.6,
                      "do_nothing_lag": 13},
        "halves": {}, "checks": {"ratio < 0.5": True, "plan r ≥ 0.9": None},
    }
    closures = {
        "protocol": "closures", "range": [0, 100], "audio": "jfk.wav", "reliable_av": False,
        "figures": {"closure_share_transcript": 0.75, "closure_share_no_transcript": 0.5, "fv_share_transcript": 1.0,
                    "fv_share_no_transcript": 0.5, "width_ratio_transcript": 0.9, "width_ratio_no_transcript": 1.0,
                    "lag_vs_real_transcript": 2, "lag_vs_real_no_transcript": 9, "plan_r_transcript": 0.95,
                    "plan_amplitude_transcript": 1.02},
        "baselines": {"do_nothing_closure_share": 0.25, "do_nothing_fv_share": 0.0, "do_nothing_width_ratio": 1.01,
                      "real_lag": 1, "real_peak": 0.2, "do_nothing_lag": 4},
        "halves": {}, "checks": {"closures ≥ 90% (transcript)": False, "closures ≥ 60% (no transcript)": False},
        "detail": {"frames": {"p/b/m": 4, "f/v": 2, "oo": 6, "ee": 3}, "lines_note": None},
        "sheets": {"transcript": None, "no_transcript": None},
    }
    report = {
        "engine": "x", "created": "now", "suite_version": "1", "seconds": 1.0, "reference_tool": False,
        "setting": {"name": "fast", "codec": "ffv1", "shift_s": 0.4, "window_s": 5.0},
        "protocols": ["shift", "closures"], "bad_inputs": None,
        "clips": {"a.mp4": {"results": {"shift": shift, "closures": closures}}}, "noise": {},
    }
    report["summary"] = summarise(report)
    assert report["summary"]["shift"]["median"]["aperture_r"] == pytest.approx(0.81)
    assert report["summary"]["closures"]["median"]["closure_share_transcript"] == pytest.approx(0.75)
    # AV figures count only on reliable clips; this one is not.
    assert report["summary"]["closures"]["median"]["lag_vs_real_no_transcript"] is None
    text = markdown(report, Path("."))
    assert "0.81 (0.12)" in text
    assert "0.75 / 0.50 (0.25)" in text and "4 · 2 · 6 · 3" in text
    assert "0.95 / 1.02" in text and "plan: not reported" in text
