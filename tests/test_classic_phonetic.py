"""The phonetic driver: phone coverage, coarticulation, and an actor's mouth planned from phones.

The planning tests use a real actor (Bob Menendez's first 4 s, learned from its own sound) and a
line whose phones are given, so each test knows which shape every frame must show: the lips shut
on p/b/m and in pauses, open wider on "aa" than on "ee", narrower on "oo" than on "ee".
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.audio.phonemes import Phone
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.geometry import aperture
from mytalk.core.engines.classic.phonetic_driver import (
    PHONE_SET,
    PhoneticModel,
    anticipate_rounding,
    frame_phones,
    frame_visemes,
    mouth_width,
    phone_coverage,
)

FPS = Fraction(25)
BOB = "hdtf_wda_bobmenendez_512.mp4"


def _phones(spec: list[tuple[str, int, int]]) -> list[Phone]:
    """(label, first frame, end frame) at 25 fps -> phones in seconds."""
    return [Phone(label, a / 25, b / 25, "") for label, a, b in spec]


def test_coverage_rows_sum_to_one_and_fill_silence() -> None:
    cover = phone_coverage(_phones([("AA", 2, 4), ("P", 4.5, 5)]), FPS, 8)  # type: ignore[list-item]
    assert cover.shape == (8, len(PHONE_SET))
    assert np.allclose(cover.sum(axis=1), 1.0)
    sil, aa, p = PHONE_SET.index("SIL"), PHONE_SET.index("AA"), PHONE_SET.index("P")
    assert cover[0, sil] == pytest.approx(1.0)
    assert cover[2, aa] == pytest.approx(1.0) and cover[3, aa] == pytest.approx(1.0)
    assert cover[4, p] == pytest.approx(0.5) and cover[4, sil] == pytest.approx(0.5)


def test_a_short_closure_wins_its_frame() -> None:
    # The p covers 30 % of frame 3, the vowel 70 %: the closure is what the frame must show.
    phones = [Phone("AA", 0.0, 3.7 / 25, ""), Phone("P", 3.7 / 25, 4.0 / 25, ""), Phone("AA", 4.0 / 25, 6 / 25, "")]
    labels = [PHONE_SET[i] for i in frame_phones(phone_coverage(phones, FPS, 6))]
    assert labels[3] == "P" and labels[2] == "AA" and labels[4] == "AA"
    assert frame_visemes(phone_coverage(phones, FPS, 6))[3] == 1  # "closed"


def test_rounding_is_anticipated_over_consonants_only() -> None:
    # "s t uw": the s and t before the rounded vowel take some of its rounding; a vowel before does not.
    phones = _phones([("IY", 0, 2), ("S", 2, 3), ("T", 3, 4), ("UW", 4, 7)])
    cover = phone_coverage(phones, FPS, 7)
    ahead = anticipate_rounding(cover)
    uw = PHONE_SET.index("UW")
    assert ahead[3, uw] > ahead[2, uw] > 0.0  # nearer the vowel, rounder
    assert ahead[1, uw] == 0.0  # the vowel IY keeps its own shape
    assert np.allclose(ahead.sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def bob_profile(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    import os

    from mytalk.core.engines.classic.profile_builder import build_profile

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("MYTALK_HOME")
    os.environ["MYTALK_HOME"] = str(home)
    try:
        return build_profile([ReferenceRange(media_path("video", BOB), 0, 100)])
    finally:
        if old is None:
            os.environ.pop("MYTALK_HOME", None)
        else:
            os.environ["MYTALK_HOME"] = old


@pytest.mark.media
def test_the_reference_is_labelled_from_its_own_sound(bob_profile) -> None:  # type: ignore[no-untyped-def]
    frames = bob_profile.frames
    labels = bob_profile.phonetic.info["reference_labels"]
    assert labels and labels[0]["path"] == "phone-loop"  # footage is timed by the phone loop (`footage_track`)
    # Bob speaks through most of the first 4 s: most labelled frames carry a phone, not silence.
    assert frames.labelled.mean() > 0.9
    assert (frames.phones[frames.labelled, PHONE_SET.index("SIL")] < 0.5).mean() > 0.5
    assert bob_profile.phonetic.info["phones_seen"] >= 15


@pytest.mark.media
def test_planned_shapes_follow_the_phones(bob_profile) -> None:  # type: ignore[no-untyped-def]
    model: PhoneticModel = bob_profile.phonetic
    speech = bob_profile.speech
    spec = [("SIL", 0, 6), ("AA", 6, 14), ("B", 14, 16), ("AA", 16, 24), ("SIL", 24, 32), ("IY", 32, 42),
            ("SIL", 42, 48), ("UW", 48, 58), ("SIL", 58, 66), ("M", 66, 69), ("AA", 69, 77), ("SIL", 77, 90)]
    n = 90
    phones = _phones(spec)
    speaking = np.array([label != "SIL" for label, a, b in spec for _ in range(a, b)], np.float64)
    plan = model.plan(speech, phones, FPS, n, speech_prob=speaking)
    gap = aperture(plan.shapes)
    width = mouth_width(plan.shapes)
    lead = model.lead
    closed_gap = float(aperture(speech.closed[None])[0])

    def frames(label: str, a: int, b: int) -> np.ndarray:
        # the mouth shows the phone at t + lead; keep away from the run's edges (coarticulation)
        idx = np.arange(a - lead + 2, b - lead - 2)
        assert all(plan.phones[i] == label for i in idx)
        return idx

    aa = np.r_[frames("AA", 6, 14), frames("AA", 16, 24)]
    iy, uw = frames("IY", 32, 42), frames("UW", 48, 58)
    # Closures and pauses shut the lips (the actor's own closed shape), whatever the smoothing did.
    for label, a, b in (("B", 14, 16), ("M", 66, 69)):
        shut = [i for i in range(a, b) if plan.closures[i]]
        assert shut, f"{label} was not planned as a closure"
        assert np.all(gap[shut] <= closed_gap + 1e-6)
    assert np.all(gap[27:30] <= closed_gap + 1e-6) and np.all(gap[82:88] <= closed_gap + 1e-6)
    # Open vowels open wider than close ones; "oo" is narrower than "ee".
    assert gap[aa].mean() > gap[iy].mean() > closed_gap
    assert width[uw].mean() < width[iy].mean()
    assert plan.visemes[int(iy[0])] == "spread" and plan.visemes[int(uw[0])] == "rounded"
    # The stages are reported for the motion-chain benchmark, and the plan is the last of them.
    assert set(plan.stage_apertures) == {"phones", "range", "loudness", "gated"}
    assert np.allclose(plan.stage_apertures["gated"], gap)


@pytest.mark.media
def test_the_model_saves_and_loads_with_the_profile(bob_profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mytalk.core.engines.classic.profile import ActorProfile

    folder = bob_profile.save(tmp_path / "bob")
    loaded = ActorProfile.load(folder)
    assert np.array_equal(loaded.phonetic.table, bob_profile.phonetic.table)
    assert np.array_equal(loaded.phonetic.context_keys, bob_profile.phonetic.context_keys)
    assert loaded.phonetic.lead == bob_profile.phonetic.lead
    assert loaded.phonetic.info["phones_seen"] == bob_profile.phonetic.info["phones_seen"]


def _sync(tmp_path: Path, audio: Path, *extra: str) -> dict:
    out = tmp_path / "out.mkv"
    report = tmp_path / "out.json"
    result = run_mytalk("sync", media_path("video", BOB), "--audio", audio, "-o", out, "--in", 100, "--out", 160,
                        "--reference", "0-100", "--guide", "none", "--codec", "ffv1", "--report", report, "--quiet",
                        *extra)
    assert result.code == 0, result.stderr
    return json.loads(report.read_text())


@pytest.mark.media
@pytest.mark.slow
def test_a_transcript_drives_the_mouth_by_its_phones(tmp_path: Path) -> None:
    jfk = media_path("audio", "jfk_inaugural_en_16k.wav")
    # The range is 2.4 s: JFK's line up to "Americans" (it ends at 2.14 s).
    report = _sync(tmp_path, jfk, "--transcript", "And so, my fellow Americans")
    motion = report["engine_report"]["motion"]
    assert report["engine_report"]["driver"] == "phonetic"
    assert report["engine_report"]["phones"]["path"] == "transcript"
    assert motion["driver_decision"].startswith("phonetic")
    frames = report["frames"]
    # The M of "my" and of "Americans" are planned as closures, with the lips shut.
    shown = [f for f in frames if f.get("viseme") == "closed"]
    assert shown, "no closure in the plan"
    assert all(f["planned_aperture"] < 0.03 for f in shown if f.get("planned_aperture") is not None)
    opened = [f["planned_aperture"] for f in frames if f.get("viseme") == "open" and f.get("planned_aperture")]
    assert opened and np.median(opened) > 0.05
    # The phone track itself, in seconds of the line, for the panel's lane.
    phones = report["engine_report"]["phones"]["phones"]
    assert phones and {"M", "AY"} <= {p[0] for p in phones}


@pytest.mark.media
@pytest.mark.slow
def test_a_transcript_missing_words_is_reported(tmp_path: Path) -> None:
    jfk = media_path("audio", "jfk_inaugural_en_16k.wav")
    report = _sync(tmp_path, jfk, "--transcript", "And so")  # the line goes on: "my fellow Americans"
    phones = report["engine_report"]["phones"]
    assert phones["path"] == "transcript"
    assert "cover only" in phones["warning"] and phones["voiced_frames_with_phone"] < 0.8


@pytest.mark.media
@pytest.mark.slow
def test_a_spanish_transcript_is_timed_through_espeak(tmp_path: Path) -> None:
    from scipy.io import wavfile

    from mytalk.core.audio.espeak import synthesize

    text = "Mi madre compra manzanas baratas."
    spoken = synthesize(text, "es")
    samples = spoken.track.mono().resampled(48_000).samples[0]
    line = tmp_path / "es.wav"
    wavfile.write(str(line), 48_000, np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16))
    report = _sync(tmp_path, line, "--transcript", text, "--language", "es")
    phones = report["engine_report"]["phones"]
    assert report["engine_report"]["driver"] == "phonetic"
    assert phones["path"] == "transcript" and phones["language"] == "es"
    assert sum(1 for f in report["frames"] if f.get("viseme") == "closed") >= 3  # m, m, p, m, b


@pytest.mark.media
@pytest.mark.slow
def test_a_silent_line_falls_back_to_the_speech_driver_and_rests(tmp_path: Path) -> None:
    from scipy.io import wavfile

    line = tmp_path / "silence.wav"
    wavfile.write(str(line), 48_000, np.zeros(48_000 * 3, np.int16))
    report = _sync(tmp_path, line)
    motion = report["engine_report"]["motion"]
    assert report["engine_report"]["driver"] == "speech"
    assert motion["driver_decision"].startswith("speech:")
    assert report["engine_report"]["phones"]["path"] == "none"
