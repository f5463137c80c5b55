"""Forced alignment of the JFK line with pocketsphinx, and visemes / openness per video frame."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

from benchmarks.eval.metrics import loudness_db, silent_frames
from conftest import media_path
from mytalk.core.audio import (
    VISEMES,
    ForcedAligner,
    Phone,
    TranscriptWarning,
    find_pauses,
    force_align,
    openness_prior,
    viseme_coverage,
    visemes_per_frame,
    voiced_frames,
)
from mytalk.core.audio.phonemes import transcript_words
from mytalk.core.media import AudioTrack, decode_audio

JFK_TEXT = (
    "And so, my fellow Americans: ask not what your country can do for you — "
    "ask what you can do for your country."
)
CLOSED = VISEMES.index("closed")


@pytest.fixture(scope="module")
def jfk() -> AudioTrack:
    return decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16000)


@pytest.fixture(scope="module")
def jfk_phones(jfk: AudioTrack) -> list[Phone]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TranscriptWarning)
        return force_align(jfk, JFK_TEXT)


def test_transcript_words() -> None:
    assert transcript_words(JFK_TEXT)[:5] == ["and", "so", "my", "fellow", "americans"]
    assert transcript_words("Don\u2019t stop -- well-known, \"quoted\"!") == ["don't", "stop", "well", "known", "quoted"]
    assert transcript_words(" ... ") == []


@pytest.mark.media
def test_jfk_words_and_phones_in_order(jfk: AudioTrack, jfk_phones: list[Phone]) -> None:
    assert len(jfk_phones) > 60
    starts = np.array([p.start_s for p in jfk_phones])
    ends = np.array([p.end_s for p in jfk_phones])
    assert (ends > starts).all() and (np.diff(starts) > 0).all()
    assert np.all(starts[1:] >= ends[:-1] - 1e-6)  # no overlaps
    assert ends[-1] <= jfk.duration_s + 1e-6
    words = [p.word for p in jfk_phones if p.word]
    spoken = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    assert spoken == transcript_words(JFK_TEXT)
    first_ask = next(p.start_s for p in jfk_phones if p.word == "ask")
    first_country = next(p.start_s for p in jfk_phones if p.word == "country")
    # "ask" follows the first long pause (about 3.2 s) and "country" comes after it.
    assert 2.9 < first_ask < 3.6 and first_ask < first_country < 6.5
    assert all(p.label.isalpha() and p.label.isupper() for p in jfk_phones)


@pytest.mark.media
def test_jfk_phones_cover_the_speech_and_silences_cover_the_pauses(jfk: AudioTrack, jfk_phones: list[Phone]) -> None:
    fps = Fraction(25)
    n = int(jfk.duration_s * fps)
    voiced = voiced_frames(jfk, fps, n)
    speech = 1.0 - viseme_coverage([p for p in jfk_phones if p.label != "SIL"], fps, n)[:, 0]
    assert speech[voiced].mean() > 0.85  # phones cover the voiced frames
    assert speech[~voiced].mean() < 0.35  # and little of the pauses
    # The evaluation's silent frames (30 dB under the speech level for >= 5 frames) are all silence.
    silent = silent_frames(loudness_db(jfk.samples[0], jfk.rate, fps, n))
    assert silent.sum() >= 10 and speech[silent].max() == 0.0
    # So is the middle of every pause of 0.3 s or more that voice activity finds, including the
    # one between "ask" and "not" that the aligner gives to a 300 ms "k" (carved out as silence).
    pauses = find_pauses(jfk, min_pause_s=0.25)
    assert len(pauses) >= 4
    for a, b in pauses:
        inner = slice(int(np.ceil((a + 0.2 * (b - a)) * fps)), int((b - 0.2 * (b - a)) * fps))
        assert speech[inner].max() == 0.0, (a, b)


@pytest.mark.media
def test_jfk_visemes_close_on_bilabials(jfk_phones: list[Phone]) -> None:
    for fps in (Fraction(25), Fraction(30000, 1001), Fraction(1350, 61)):
        n = int(11 * fps)
        visemes = visemes_per_frame(jfk_phones, fps, n)
        openness = openness_prior(jfk_phones, fps, n)
        assert visemes.shape == openness.shape == (n,)
        bilabials = [p for p in jfk_phones if p.label in {"M", "B", "P"}]
        assert len(bilabials) >= 2  # "my", "americans"
        for phone in bilabials:
            frame = int((phone.start_s + phone.end_s) / 2 * fps)
            assert visemes[frame] == CLOSED and openness[frame] == 0.0, (phone, fps)
        opens = [p for p in jfk_phones if p.label in {"AA", "AE"} and p.duration_s >= 0.08]
        assert opens and all(openness[int((p.start_s + p.end_s) / 2 * fps)] > 0.5 for p in opens)
        assert VISEMES[visemes[0]] == "rest" and openness[0] == 0.0


@pytest.mark.media
def test_44k_input_gives_the_same_boundaries(jfk_phones: list[Phone]) -> None:
    track = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 44100)
    phones = ForcedAligner().align(track, JFK_TEXT)
    assert [p.label for p in phones] == [p.label for p in jfk_phones]
    shift = np.abs(np.array([p.start_s for p in phones]) - np.array([p.start_s for p in jfk_phones]))
    assert np.median(shift) <= 0.011


@pytest.mark.media
def test_unusable_transcripts_warn_and_skip(jfk: AudioTrack) -> None:
    aligner = ForcedAligner()
    with pytest.warns(TranscriptWarning, match="zzqxv"):
        assert aligner.align(jfk, "ask not zzqxv") == []
    with pytest.warns(TranscriptWarning, match="no words"):
        assert aligner.align(jfk, " -- ") == []
    with pytest.warns(TranscriptWarning, match="silent"):
        assert aligner.align(AudioTrack(np.zeros((1, 16000), np.float32), 16000), "ask not") == []
    # The aligner still works after a refusal.
    assert aligner.align(jfk, JFK_TEXT)


def test_viseme_priority_and_coverage() -> None:
    fps = Fraction(25)  # frames of 40 ms
    phones = [
        Phone("AA", 0.00, 0.065, "pa"),
        Phone("P", 0.065, 0.095, "pa"),  # 30 ms closure, 37.5 % of frames 1 and 2 each
        Phone("AA", 0.095, 0.20, "pa"),
    ]
    cover = viseme_coverage(phones, fps, 6)
    assert cover.shape == (6, len(VISEMES)) and np.allclose(cover.sum(axis=1), 1.0)
    visemes = visemes_per_frame(phones, fps, 6)
    assert VISEMES[visemes[0]] == "open" and visemes[1] == visemes[2] == CLOSED
    assert VISEMES[visemes[3]] == "open" and VISEMES[visemes[5]] == "rest"
    openness = openness_prior(phones, fps, 6)
    assert openness[1] == openness[2] == 0.0 and openness[0] == pytest.approx(1.0) and openness[5] == 0.0
    # Shorter than 30 % of a frame, a closure loses its frame to the vowel around it.
    brief = [Phone("AA", 0.0, 0.07), Phone("M", 0.07, 0.08), Phone("AA", 0.08, 0.2)]
    assert visemes_per_frame(brief, fps, 5)[1] != CLOSED
    assert viseme_coverage([], fps, 0).shape == (0, len(VISEMES))
    unknown = visemes_per_frame([Phone("+NSN+", 0.0, 0.1)], fps, 3)
    assert (unknown == 0).all()
