"""Phone timing for any line: transcript alignment, word recognition, or phone-loop recognition.

The mouth needs to know when each phone is spoken. Three ways to learn it, best first:

- ``"transcript"``: the words are known. English words come from the CMU dictionary, words it
  lacks (names, numbers) from espeak-ng's pronunciation; other languages are phonemised by espeak-ng
  and written with the English model's phones (`mytalk.core.audio.ipa_arpabet`). Forced alignment
  then places every phone to a frame or two.
- ``"words"``: English without a transcript. Word recognition (bundled en-us LM), then forced
  alignment of the recognised words. Wrong words still give the right mouth when they sound alike.
- ``"phone-loop"``: any language. Free phone recognition with the bundled phone LM (``allphone``).

Confidence decides between the last two: ``confidence`` is the forced alignment's path score
minus the phone loop's path score on the same audio, in nats per 10 ms frame (both acoustic
scores are relative to the best senone of each frame; the loop's includes its phone-LM penalties,
so well-fitting words score above it; see `phonemes.path_score_per_frame`).
Measured (``python -m benchmarks.bench_phones --confidence``), recognised-word alignment minus loop:

- English speech (6 shared audio lines and the audio of 9 shared video clips): 1.04 to 2.88,
  median 2.28 where the alignment succeeded; on 3 of 15 the alignment of the recognised words
  failed (-inf: noisy meeting, bobmenendez, swalwell);
- espeak-ng Spanish and German (5 sentences each, recognised as English): 1.03 to 3.54, median 1.36.

The two overlap (clean synthetic speech fits the acoustic model unusually well), so the measure
only separates them on average: `WORDS_MIN_CONFIDENCE` = 1.5 keeps 11 of 12 aligned English lines
and sends 7 of 10 foreign ones to the phone loop. Non-English lines never take the word path
anyway: the language code decides that.

Long lines are cut into utterances at pauses (at most `MAX_UTTERANCE_S`), so recognition stays
fast and its memory bounded; the transcript is aligned in one piece (alignment is cheap and
cannot split words it has not placed yet).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mytalk.core.audio.activity import find_pauses
from mytalk.core.audio.espeak import check_language, espeak_languages, ipa_words
from mytalk.core.audio.ipa_arpabet import ipa_to_arpabet
from mytalk.core.audio.noise_suppression import NOISE_RULE, heard, measure_noise
from mytalk.core.audio.phone_recognition import LoopResult, PhoneRecogniser, Utterance, split_utterances
from mytalk.core.audio.phonemes import (
    ALIGN_RATE,
    CARVE_MIN_PAUSE_S,
    SILENCE,
    WORD_TAG,
    ForcedAligner,
    Phone,
    _to_pcm16,
    carve_silences,
    transcript_words,
)
from mytalk.core.media.audio import AudioSource, AudioTrack, peak_level
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress

__all__ = ["WORDS_MIN_CONFIDENCE", "PhoneTimer", "PhoneTrack", "espeak_languages", "phone_track"]

WORDS_MIN_CONFIDENCE = 1.5
"""Word path if (word alignment − phone loop) path score ≥ this, in nats per frame (module docstring)."""

SILENT_PEAK = 1e-3
"""A line whose samples never exceed this (−60 dBFS) has nothing to time."""

ENGLISH = ("en", "en-us")

FOOTAGE_LANGUAGE = "und"
"""The language a `PhoneTimer.footage_track` says (ISO 639's "undetermined"): an actor's footage comes in any."""

FOOTAGE_PHONES = f"phone-loop-1/{NOISE_RULE}"
"""How `PhoneTimer.footage_track` finds phones (the phone loop, on the footage as `noise_suppression.heard`
gives it); part of the key of every profile learned with them, so a change here never mixes profiles learned
one way with jobs that expect the other."""

ALIGN_BEAMS: dict[str, float] = {}
"""Aligner settings beyond pocketsphinx's defaults: none. Wider beams (1e-80) were tried for Spanish
lines that fail ("Final result does not match the grammar") and made JFK's word alignment fail."""


def phones_to_json(phones: tuple[Phone, ...] | list[Phone]) -> list[list[Any]]:
    """Phones as JSON lists [label, start_s, end_s, word] (the form every phone cache stores)."""
    return [[p.label, p.start_s, p.end_s, p.word] for p in phones]


def phones_from_json(data: list[list[Any]]) -> tuple[Phone, ...]:
    """The phones `phones_to_json` wrote (TypeError, ValueError or IndexError when they are not)."""
    return tuple(Phone(str(p[0]), float(p[1]), float(p[2]), str(p[3])) for p in data)


@dataclass(frozen=True)
class PhoneTrack:
    """Phones of one line and how they were found.

    ``phones``: time order, "SIL" included, seconds from the line's first sample, ARPAbet labels
    without stress digits (keys of `phonemes.PHONE_VISEME`). ``path``: "transcript", "words",
    "phone-loop" or "none". ``confidence``: word alignment minus phone loop path score in nats per
    10 ms frame (see the module docstring), None when not measured. ``details``: per-path figures.
    """

    phones: tuple[Phone, ...]
    path: str
    reason: str
    confidence: float | None
    language: str
    words: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhoneTrack:
        """The track `to_dict` wrote (KeyError, TypeError, ValueError or IndexError when it is not one)."""
        return cls(
            phones=phones_from_json(data["phones"]),
            path=str(data["path"]), reason=str(data["reason"]),
            confidence=None if data["confidence"] is None else float(data["confidence"]),
            language=str(data["language"]), words=tuple(str(w) for w in data["words"]), details=dict(data["details"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; phones as [label, start_s, end_s, word]."""
        return {
            "path": self.path,
            "reason": self.reason,
            "confidence": self.confidence,
            "language": self.language,
            "words": list(self.words),
            "phones": phones_to_json(self.phones),
            "details": dict(self.details),
        }


def _spoken_words(transcript: str, language: str) -> list[str]:
    if language in ENGLISH:
        return transcript_words(transcript)
    text = transcript.replace("\u2019", "'").lower()
    return [w.strip("'") for w in re.findall(r"[\w']+", text) if w.strip("'")]


class PhoneTimer:
    """Holds the pocketsphinx decoders (created on first use, reused across lines; not thread-safe). Every
    utterance is timed as on fresh decoders (`phonemes.forget_history`), so what it timed before never
    changes an answer."""

    def __init__(self, spare_words: int = 0) -> None:
        """spare_words: fresh word decoders kept ready (`PhoneRecogniser`; a warm worker)."""
        self._aligner = ForcedAligner(**ALIGN_BEAMS)
        self._recogniser = PhoneRecogniser(spare_words)
        self._known: dict[tuple[str, str], str | None] = {}

    def load(self) -> PhoneTimer:
        """Create the decoders now rather than on first use (a warm `phone_workers` process, while idle)."""
        self._recogniser.load()
        self._aligner.load()
        return self

    def add_spare(self) -> bool:
        """Create one missing spare word decoder (`PhoneRecogniser.add_spare`); False when none is missing."""
        return self._recogniser.add_spare()

    def fresh_word_decoders(self) -> int:
        """`PhoneRecogniser.fresh_word_decoders`: utterances left before a reload."""
        return self._recogniser.fresh_word_decoders()

    def forget(self) -> None:
        """Clear what the decoders remember now rather than before their next utterance (about 0.22 s, the
        word recogniser's reload): a warm `phone_workers` process does it while idle."""
        self._recogniser.forget()
        self._aligner.forget()

    def track(
        self,
        line: AudioSource,
        *,
        transcript: str | None = None,
        language: str = "en",
        progress: ProgressFn = no_progress,
        is_cancelled: CancelFn = never_cancelled,
    ) -> PhoneTrack:
        """Phones of ``line`` (any rate and channels); never raises for bad audio (path "none").

        Raises `UsageError` for a language code espeak-ng does not know.
        """
        code = check_language(language)
        if line.num_samples < ALIGN_RATE // 10 * line.rate // ALIGN_RATE or peak_level(line) < SILENT_PEAK:
            return PhoneTrack((), "none", "the line is empty or silent, so there are no phones to time", None, code)
        mono = line.mono()
        pcm = _to_pcm16(mono)
        duration = mono.duration_s
        fallback = ""
        details: dict[str, Any] = {}
        if transcript is not None and transcript.strip():
            result = self._transcript(mono, pcm, transcript, code, details, progress, is_cancelled)
            if result is not None:
                return result
            fallback = f"the transcript could not be aligned ({details.get('transcript_error', 'unknown error')}), so "
        check_cancelled(is_cancelled, "phone timing")
        return self._recognise(mono, pcm, duration, code, fallback, details, progress, is_cancelled)[0]

    def footage_track(
        self,
        footage: AudioSource,
        *,
        progress: ProgressFn = no_progress,
        is_cancelled: CancelFn = never_cancelled,
        suppress_noise: bool = True,
    ) -> PhoneTrack:
        """Phones of an actor's own footage, from which the actor's mouth is learned per phone: phone-loop
        recognition alone, whatever the footage's language; never raises for bad audio (path "none").

        Footage whose noise is loud and steady (a location's air conditioning, a generator, camera hiss) is
        heard with it suppressed, as a line is (`noise_suppression.heard`; `details` says so), unless
        `suppress_noise` is False (`benchmarks/bench_noisy_lines.py --footage` compares the two). With pink
        noise at 10 dB SNR under the first 20 s of the nine shared clips (two seeds), the loop's visemes
        agreed with the clean footage's on 39.6 % of the speaking frames as heard and 53.5 % suppressed, and
        the openness prior correlated at 0.716 and 0.766. No 4 s window of the shared sound is filtered.

        Why not the words a line gets: the footage comes without a transcript and in any language (a dub
        learns the actor from footage in the original one), and English word recognition, two thirds of a
        line's timing cost, gave the learned mouth nothing. Measured with the evaluation suite on the nine
        shared clips (`shift`, `dub` and `closures` protocols, session 28), footage timed by the loop alone
        against the loop-or-words choice a line gets: lip-error ratio 0.905 against 0.907, aperture r 0.367
        against 0.363, dub sync peak 0.704 against 0.712 (within the halves' noise of 0.05), plan r 0.978
        against 0.973, closures kept on 7 of 7 clips against 6 of 7; and a cold first preview's learning of
        an 8 s clip lost about 1.3 CPU-seconds of word recognition and alignment."""
        if footage.num_samples < footage.rate // 10 or peak_level(footage) < SILENT_PEAK:
            return PhoneTrack((), "none", "the footage's sound is empty or silent, so there are no phones to time",
                              None, FOOTAGE_LANGUAGE)
        mono = footage.mono()
        samples = mono.samples[0]
        cleaned, noise = heard(samples, mono.rate) if suppress_noise else (samples, measure_noise(samples, mono.rate))
        if cleaned is not samples:
            mono = AudioTrack(cleaned[np.newaxis, :], mono.rate)
        reason = ("phone-loop recognition, as for all of an actor's footage: it needs no transcript and "
                  "reads any language")
        track = self._recognise(mono, _to_pcm16(mono), mono.duration_s, FOOTAGE_LANGUAGE, "", {}, progress,
                                is_cancelled, loop_reason=reason)[0]
        return replace(track, details={**track.details, **noise.to_dict(), "noise_suppressed": cleaned is not samples})

    def recognition_candidates(self, line: AudioTrack, language: str = "en") -> tuple[PhoneTrack, dict[str, tuple[Phone, ...]]]:
        """Recognition without a transcript, with the phones of every path it tried ("words",
        "phone-loop"), carved: for benchmarks that judge each path, not only the chosen one."""
        code = check_language(language)
        mono = line.mono()
        return self._recognise(mono, _to_pcm16(mono), mono.duration_s, code, "", {}, no_progress, never_cancelled)

    # -- transcript ---------------------------------------------------------------------------

    def _pronounce(self, words: list[str], language: str) -> tuple[list[str], list[str]]:
        """Dictionary keys for ``words`` (adding espeak-ng pronunciations as needed), and the
        words that got no pronunciation at all."""
        english = language in ENGLISH
        decoder_words: list[str] = []
        failed: list[str] = []
        todo: list[str] = []
        for word in dict.fromkeys(words):
            if (word, language) in self._known:
                continue
            if english and not self._aligner.unknown_words([word]):
                self._known[(word, language)] = word
            else:
                todo.append(word)
        voice = "en-us" if english else language
        for word, ipa in zip(todo, ipa_words(todo, voice), strict=True):
            phones, _ = ipa_to_arpabet(ipa)
            key = word if english else f"{word}{WORD_TAG}{language}"
            if phones and " " not in key:
                self._aligner.add_pronunciation(key, phones)
                self._known[(word, language)] = key
            else:
                self._known[(word, language)] = None
        for word in words:
            known = self._known.get((word, language))
            if known is None:
                failed.append(word)
            else:
                decoder_words.append(known)
        return decoder_words, failed

    def _transcript(
        self, line: AudioTrack, pcm: bytes, transcript: str, language: str, details: dict[str, Any],
        progress: ProgressFn, is_cancelled: CancelFn,
    ) -> PhoneTrack | None:
        words = _spoken_words(transcript, language)
        if not words:
            details["transcript_error"] = "it has no words"
            return None
        started = time.process_time()
        if language in ENGLISH:
            added = [w for w in dict.fromkeys(words) if self._aligner.unknown_words([w])]
        else:
            added = list(dict.fromkeys(words))
        keys, failed = self._pronounce(words, language)
        details["espeak_words"] = added
        if failed:
            details["transcript_error"] = f"no pronunciation for {', '.join(failed[:5])}"
            return None
        progress(0, 2, "phone timing: transcript")
        try:
            phones, score = self._aligner.align_words(pcm, keys, line.duration_s)
        except RuntimeError as exc:
            details["transcript_error"] = str(exc)
            return None
        check_cancelled(is_cancelled, "phone timing")
        progress(1, 2, "phone timing: transcript")
        loop = self._recogniser.phone_loop(Utterance(0.0, line.duration_s, pcm))
        confidence = round(score - loop.score_per_frame, 4)
        details.update(align_attempt=self._aligner.last_attempt, align_score=round(score, 4),
                       loop_score=round(loop.score_per_frame, 4),
                       seconds=round(time.process_time() - started, 3))
        progress(2, 2, "phone timing: transcript")
        where = "English dictionary" if language in ENGLISH else f"espeak-ng '{language}' phonemes"
        extra = f", {len(added)} word(s) from espeak-ng" if language in ENGLISH and added else ""
        reason = (f"the transcript was force-aligned ({where}{extra}); it fits {confidence:+.2f} nats/frame "
                  "against free phone recognition")
        return PhoneTrack(tuple(_carve(line, phones)), "transcript", reason, confidence, language, tuple(words), details)

    # -- recognition --------------------------------------------------------------------------

    def time_utterance(self, utt: Utterance, english: bool) -> UtteranceTiming:
        """Recognition of one utterance: the phone loop always, and for English the recognised words
        force-aligned (piecewise where they cannot be aligned whole). Times are in the same seconds as
        ``utt.start_s`` (give ``start_s=0`` for times relative to the utterance)."""
        frames = max(1, round((utt.end_s - utt.start_s) * 100))
        t0 = time.process_time()
        loop = self._recogniser.phone_loop(utt)
        seconds = {"phone_loop": time.process_time() - t0, "words": 0.0, "align": 0.0}
        if not english:
            return UtteranceTiming(frames, tuple(loop.phones), loop.score_per_frame, seconds=seconds)
        t0 = time.process_time()
        segments = self._recogniser.word_segments(utt)
        recognised = [w for w, _, _ in segments]
        seconds["words"] = time.process_time() - t0
        if not recognised:
            # Nothing but silence or noise here: the loop's phones stand (mostly SIL).
            return UtteranceTiming(frames, tuple(loop.phones), loop.score_per_frame, word_phones=tuple(loop.phones),
                                   align_score=loop.score_per_frame, seconds=seconds)
        t0 = time.process_time()
        piecewise, lost = 0, 0.0
        try:
            phones, score = self._aligner.align_words(utt.pcm, recognised, utt.end_s - utt.start_s)
            phones = [Phone(p.label, round(p.start_s + utt.start_s, 4), round(p.end_s + utt.start_s, 4), p.word)
                      for p in phones]
        except RuntimeError:
            phones, score, lost = self._align_piecewise(utt, segments, loop)
            piecewise = 1
        seconds["align"] = time.process_time() - t0
        return UtteranceTiming(frames, tuple(loop.phones), loop.score_per_frame, tuple(recognised), tuple(phones),
                               score, piecewise, lost, seconds)

    def _recognise(
        self, line: AudioTrack, pcm: bytes, duration: float, language: str, fallback: str,
        details: dict[str, Any], progress: ProgressFn, is_cancelled: CancelFn, loop_reason: str | None = None,
    ) -> tuple[PhoneTrack, dict[str, tuple[Phone, ...]]]:
        """`loop_reason`: the phone loop alone, with that reason (`footage_track`), even for English."""
        utterances = split_utterances(line, pcm)
        english = language in ENGLISH and loop_reason is None
        timings: list[UtteranceTiming] = []
        total = len(utterances)
        for i, utt in enumerate(utterances):
            check_cancelled(is_cancelled, "phone timing")
            progress(i, total, "phone timing: recognition")
            timings.append(self.time_utterance(utt, english))
        progress(total, total, "phone timing: recognition")
        pieces = [(t, list(t.loop_phones), None if t.word_phones is None else list(t.word_phones), t.frames)
                  for t in timings]
        return decide_recognition(line, pieces, language, fallback, details, loop_reason=loop_reason)

    def _align_piecewise(
        self, utt: Utterance, segments: list[tuple[str, float, float]], loop: LoopResult,
    ) -> tuple[list[Phone], float, float]:
        """When the recognised words of ``utt`` cannot be aligned in one piece: each word on its own
        span of audio (the recogniser's times), the phone loop's phones where a word fails and in the
        gaps between words. Returns phones (seconds of the line), the path score per frame (the
        loop's score counted for the lost stretches), and the seconds lost to the loop."""
        phones: list[Phone] = []
        total = 0.0
        lost = 0.0
        cursor = 0.0
        length = utt.end_s - utt.start_s
        loop_rel = [Phone(p.label, p.start_s - utt.start_s, p.end_s - utt.start_s, p.word) for p in loop.phones]

        def from_loop(a: float, b: float) -> list[Phone]:
            return [Phone(p.label, max(p.start_s, a), min(p.end_s, b), p.word)
                    for p in loop_rel if p.end_s > a and p.start_s < b and min(p.end_s, b) > max(p.start_s, a)]

        for word, start, end in segments:
            start, end = max(start, cursor), min(end, length)
            if end - start < 0.03:
                continue
            if start > cursor:
                phones += from_loop(cursor, start)
                total += loop.score_per_frame * (start - cursor)
            a, b = round(start * ALIGN_RATE) * 2, round(end * ALIGN_RATE) * 2
            try:
                piece, score = self._aligner.align_words(utt.pcm[a:b], [word], end - start)
                phones += [Phone(p.label, p.start_s + start, p.end_s + start, p.word) for p in piece]
                total += score * (end - start)
            except RuntimeError:
                phones += from_loop(start, end)
                total += loop.score_per_frame * (end - start)
                lost += end - start
            cursor = end
        if cursor < length:
            phones += from_loop(cursor, length)
            total += loop.score_per_frame * (length - cursor)
        shifted = [Phone(p.label, round(p.start_s + utt.start_s, 4), round(p.end_s + utt.start_s, 4), p.word)
                   for p in phones if p.end_s > p.start_s]
        return shifted, total / max(length, 1e-9), lost


@dataclass(frozen=True)
class UtteranceTiming:
    """What recognition found in one utterance (`PhoneTimer.time_utterance`).

    ``frames``: its length in 10 ms frames; ``loop_phones`` and ``loop_score`` (nats per frame): the free
    phone loop; ``words``, ``word_phones`` and ``align_score``: the recognised English words force-aligned
    (None when not tried: not English); ``piecewise``/``lost_s``: whether the words had to be aligned one by
    one and how many seconds fell back to the loop; ``seconds``: processor time per pass.
    """

    frames: int
    loop_phones: tuple[Phone, ...]
    loop_score: float
    words: tuple[str, ...] = ()
    word_phones: tuple[Phone, ...] | None = None
    align_score: float | None = None
    piecewise: int = 0
    lost_s: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)


RecognisedPiece = tuple[UtteranceTiming, list[Phone], list[Phone] | None, int]
"""(an utterance's timing, its loop phones and its word phones in the line's seconds, the frames it counts for)."""


def decide_recognition(
    line: AudioTrack, pieces: list[RecognisedPiece], language: str, fallback: str, details: dict[str, Any],
    *, loop_reason: str | None = None,
) -> tuple[PhoneTrack, dict[str, tuple[Phone, ...]]]:
    """The phone track of ``line`` from its recognised pieces: the words' alignment where it fits the
    audio better than free phones by `WORDS_MIN_CONFIDENCE` (English only), else the phone loop; with
    ``loop_reason``, the phone loop for that reason (no words were tried).

    Each piece's scores count for its ``frames`` (all of an utterance when the line is the utterances;
    only the part inside the line when a line is cut from longer, separately timed utterances)."""
    english = language in ENGLISH
    loop_phones: list[Phone] = []
    word_phones: list[Phone] = []
    words: list[str] = []
    loop_score = align_score = 0.0
    frames = 0
    seconds = {"words": 0.0, "align": 0.0, "phone_loop": 0.0}
    for timing, loop, aligned, n in pieces:
        for name, value in timing.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
        loop_phones += loop
        loop_score += timing.loop_score * n
        frames += n
        if aligned is None or timing.align_score is None:
            continue
        word_phones += aligned
        align_score += timing.align_score * n
        words += timing.words
        if timing.piecewise:
            details["piecewise"] = details.get("piecewise", 0) + timing.piecewise
            details["piecewise_lost_s"] = round(details.get("piecewise_lost_s", 0.0) + timing.lost_s, 3)
    details.update(seconds={k: round(v, 3) for k, v in seconds.items()}, utterances=len(pieces),
                   loop_score=round(loop_score / max(frames, 1), 4))
    candidates = {"phone-loop": tuple(_carve(line, loop_phones))}
    if word_phones:
        candidates["words"] = tuple(_carve(line, word_phones))
    if not any(p.label != SILENCE for p in loop_phones):
        reason = fallback + "recognition found no speech in the line"
        return PhoneTrack((), "none", reason, None, language, (), details), candidates
    if loop_reason is not None:
        return PhoneTrack(candidates["phone-loop"], "phone-loop", loop_reason, None, language, (), details), candidates
    if english:
        confidence = round((align_score - loop_score) / max(frames, 1), 4) if words else None
        details["align_score"] = round(align_score / max(frames, 1), 4) if words else None
        if confidence is not None and confidence >= WORDS_MIN_CONFIDENCE:
            reason = (f"{fallback}recognised English words fit {confidence:+.2f} nats/frame against free "
                      f"phones (threshold {WORDS_MIN_CONFIDENCE:+.2f}), so their forced alignment is used")
            return PhoneTrack(candidates["words"], "words", reason, confidence, language,
                              tuple(words), details), candidates
        why = ("no words were recognised" if confidence is None else
               f"recognised words fit only {confidence:+.2f} nats/frame against free phones "
               f"(threshold {WORDS_MIN_CONFIDENCE:+.2f})")
        reason = f"{fallback}{why}, so phone-loop recognition is used"
        return PhoneTrack(candidates["phone-loop"], "phone-loop", reason, confidence, language,
                          tuple(words), details), candidates
    reason = (f"{fallback}no transcript and the language is '{language}', which the English word "
              "recogniser cannot read, so phone-loop recognition is used")
    return PhoneTrack(candidates["phone-loop"], "phone-loop", reason, None, language, (), details), candidates


def _carve(line: AudioTrack, phones: list[Phone]) -> list[Phone]:
    """Real pauses are silence, whatever a decoder stretched over them (`carve_silences`)."""
    pauses = find_pauses(line, min_pause_s=CARVE_MIN_PAUSE_S, edge_guard_s=0.0)
    return carve_silences(phones, [(round(a, 4), round(b, 4)) for a, b in pauses])


def phone_track(
    line: AudioSource,
    *,
    transcript: str | None = None,
    language: str = "en",
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    timer: PhoneTimer | None = None,
) -> PhoneTrack:
    """Phones of one line, from the line as the recogniser is given it: a noisy line's steady noise
    suppressed first (`noise_suppression.heard`; ``details`` says so). `timer`: a `PhoneTimer` to reuse
    across lines (its decoders load once), else a fresh one."""
    mono = line.mono()
    samples = mono.samples[0]
    cleaned, noise = heard(samples, mono.rate)
    given = mono if cleaned is samples else AudioTrack(cleaned[np.newaxis, :], mono.rate)
    track = (timer or PhoneTimer()).track(given, transcript=transcript, language=language, progress=progress,
                                          is_cancelled=is_cancelled)
    return replace(track, details={**track.details, **noise.to_dict()})
