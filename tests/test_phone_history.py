"""Every utterance is timed as on fresh pocketsphinx decoders, whatever they decoded before (`forget_history`).

Phones are cached by an utterance's samples, and a render is meant to be reproducible from its report;
both need the answer to depend on the samples alone."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from conftest import media_path
from mytalk.core.audio.line_phones import LineOrigin, UtteranceCache, learn_line_ahead, placed_phone_track
from mytalk.core.audio.phone_recognition import Utterance
from mytalk.core.audio.phone_timing import PhoneTimer, UtteranceTiming
from mytalk.core.audio.phonemes import _to_pcm16
from mytalk.core.media.audio import AudioTrack, decode_audio

RATE = 16_000


def _pcm(path: Path, first_s: float = 0.0, seconds: float | None = None) -> bytes:
    track = decode_audio(path, RATE, channels=1)
    a = int(first_s * RATE)
    b = track.num_samples if seconds is None else a + int(seconds * RATE)
    return _to_pcm16(AudioTrack(track.samples[:, a:b].copy(), RATE))


def _utterance(pcm: bytes) -> Utterance:
    return Utterance(0.0, len(pcm) / 2 / RATE, pcm)


def _noise(seconds: float) -> bytes:
    values = np.random.default_rng(0).normal(0, 8000, int(seconds * RATE)).clip(-32767, 32767)
    return values.astype("<i2").tobytes()


def _words(decoder: object, pcm: bytes) -> list[tuple[str, int, int]]:
    decoder.start_utt()  # type: ignore[attr-defined]
    decoder.process_raw(pcm, full_utt=True)  # type: ignore[attr-defined]
    decoder.end_utt()  # type: ignore[attr-defined]
    return [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()  # type: ignore[attr-defined]
            if not re.match(r"[<\[+]", s.word)]


def _as_tuple(timing: UtteranceTiming) -> tuple[object, ...]:
    return (timing.loop_phones, timing.loop_score, timing.words, timing.word_phones, timing.align_score)


def test_a_bare_pocketsphinx_decoder_remembers_what_it_decoded() -> None:
    """Why `forget_history` exists: the same 4 s of JFK read differently after the clip's own 8 s."""
    import pocketsphinx

    line = _pcm(media_path("audio", "jfk_inaugural_en_16k.wav"), 0.0, 4.0)
    clip = _pcm(media_path("video", "hdtf_wda_katiehill_512.mp4"))
    fresh = _words(pocketsphinx.Decoder(loglevel="ERROR", fwdflat=False, maxhmmpf=3000), line)
    used = pocketsphinx.Decoder(loglevel="ERROR", fwdflat=False, maxhmmpf=3000)
    _words(used, clip)
    assert _words(used, line) != fresh


def test_an_utterance_is_timed_as_on_fresh_decoders_whatever_they_decoded_before() -> None:
    """Words, phone loop and aligner: the same phones and the same scores after speech or loud noise."""
    line = _utterance(_pcm(media_path("audio", "jfk_inaugural_en_16k.wav"), 0.0, 4.0))
    fresh = PhoneTimer().time_utterance(line, english=True)
    for before in (_pcm(media_path("video", "hdtf_wda_katiehill_512.mp4")), _noise(4.0)):
        timer = PhoneTimer()
        timer.time_utterance(_utterance(before), english=True)
        assert _as_tuple(timer.time_utterance(line, english=True)) == _as_tuple(fresh)


def test_a_placed_line_gets_the_same_phones_whatever_was_timed_ahead(tmp_path: Path) -> None:
    """The panel times a line's first 15 s when it is picked; a render at a slip must not depend on that."""
    origin = LineOrigin(media_path("audio", "jfk_inaugural_en_16k.wav"), Fraction(4))
    learn_line_ahead(LineOrigin(origin.path, Fraction(0)))  # into the (test's own) user cache
    after = placed_phone_track(origin, 100, Fraction(25))
    assert after.details["utterances_reused"] >= 1
    fresh = placed_phone_track(origin, 100, Fraction(25), cache=UtteranceCache(tmp_path / "fresh"))
    assert after.details["utterances_reused"] + after.details["utterances_recognised"] == \
        fresh.details["utterances_recognised"]
    assert (after.phones, after.path, after.words, after.confidence) == \
        (fresh.phones, fresh.path, fresh.words, fresh.confidence)


def test_spare_word_decoders_answer_as_fresh_ones_and_are_made_fresh_again_while_idle() -> None:
    """A warm worker keeps fresh word decoders ready (`PhoneRecogniser(spare_words=...)`): a second
    utterance takes a spare, a third (spares spent) reloads, and `forget` (the worker idle) turns the used
    ones back into spares. Every answer is a fresh decoder's."""
    jfk = media_path("audio", "jfk_inaugural_en_16k.wav")
    lines = [_utterance(_pcm(jfk, first, 3.0)) for first in (0.0, 3.0, 6.0)]
    fresh = [_as_tuple(PhoneTimer().time_utterance(line, english=True)) for line in lines]
    timer = PhoneTimer(spare_words=1).load()
    recogniser = timer._recogniser
    assert not recogniser._spares, "made while idle, one at a time"
    assert timer.add_spare() and not timer.add_spare()
    assert len(recogniser._spares) == 1
    for _ in range(2):
        assert [_as_tuple(timer.time_utterance(line, english=True)) for line in lines] == fresh
        assert not recogniser._spares and len(recogniser._stale) == 1, "the spare taken, then a reload"
        timer.forget()
        assert len(recogniser._spares) == 1 and not recogniser._stale
