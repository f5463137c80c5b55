"""Recognition for phone timing: English words, or free phones, on utterances of a line.

Two pocketsphinx decoders, both created on first use and reused (not thread-safe):

- words: the bundled en-us LM and dictionary, first pass only (``fwdflat`` off) and at most
  `WORD_MAX_HMM_PER_FRAME` active HMMs per frame. With the defaults the decoder runs at about
  0.6x real time on this project's CPUs; these two settings bring it to about 0.2x while the
  recognised words still overlap the truth (JFK: "... not what your country can do for you ..."),
  and only their sound matters here, because they are force-aligned afterwards.
- phone loop: ``allphone`` with the bundled phone LM (en-us-phone.lm.bin), about 0.04x real time.

Utterances: a long line is cut at pauses into pieces of at most `MAX_UTTERANCE_S`, so decoding
memory stays bounded and a lost search recovers at the next piece.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from mytalk.core.audio.activity import find_pauses
from mytalk.core.audio.phonemes import (
    ALIGN_RATE,
    SILENCE,
    Phone,
    forget_history,
    frame_timing,
    path_score_per_frame,
)
from mytalk.core.media.audio import AudioTrack

MAX_UTTERANCE_S = 20.0
"""Longest piece decoded at once; lines are cut at pauses (or, without one, at this length)."""

SPLIT_MIN_PAUSE_S = 0.25
"""Pauses at least this long are places to cut a long line."""

WORD_MAX_HMM_PER_FRAME = 3000
"""Beam cap for word recognition (pocketsphinx ``maxhmmpf``; its default, 30000, is 3x slower)."""

_BYTES_PER_SAMPLE = 2


@dataclass(frozen=True)
class Utterance:
    """A piece of a line: ``pcm`` (16 kHz mono int16) from ``start_s`` to ``end_s`` of the line."""

    start_s: float
    end_s: float
    pcm: bytes


@dataclass(frozen=True)
class LoopResult:
    """Phone-loop phones (seconds of the line) and the path score in nats per 10 ms frame."""

    phones: list[Phone]
    score_per_frame: float


def split_utterances(line: AudioTrack, pcm: bytes, max_s: float = MAX_UTTERANCE_S,
                     min_pause_s: float = SPLIT_MIN_PAUSE_S) -> list[Utterance]:
    """``pcm`` (the line at 16 kHz, `phonemes._to_pcm16`) cut at the midpoints of pauses of at least
    ``min_pause_s`` into pieces of at most ``max_s``."""
    return [Utterance(a / ALIGN_RATE, b / ALIGN_RATE, pcm[a * _BYTES_PER_SAMPLE : b * _BYTES_PER_SAMPLE])
            for a, b in utterance_cuts(line, len(pcm) // _BYTES_PER_SAMPLE, max_s, min_pause_s)]


def utterance_cuts(line: AudioTrack, total: int, max_s: float = MAX_UTTERANCE_S,
                   min_pause_s: float = SPLIT_MIN_PAUSE_S) -> list[tuple[int, int]]:
    """`split_utterances`' pieces as (first, end) samples at 16 kHz of a line of ``total`` samples."""
    cuts = [0]
    midpoints = [round((a + b) / 2 * ALIGN_RATE) for a, b in find_pauses(line, min_pause_s=min_pause_s)]
    limit = int(max_s * ALIGN_RATE)
    while total - cuts[-1] > limit:
        inside = [m for m in midpoints if cuts[-1] < m <= cuts[-1] + limit]
        # No pause in reach: a fixed cut; the aligner's silence model absorbs a cut mid-word.
        cuts.append(inside[-1] if inside and inside[-1] - cuts[-1] > limit // 4 else cuts[-1] + limit)
    cuts.append(total)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


class PhoneRecogniser:
    """Word and phone-loop recognition; decoders are created on first use and reused."""

    def __init__(self, spare_words: int = 0) -> None:
        """spare_words: fresh word decoders to keep ready (a warm worker: `phone_workers`). An utterance after
        the word decoder's first then takes a spare instead of waiting for `forget_history`'s reload (0.22 s
        of one core, on a cold preview's path). They are made while idle (`add_spare`), and the used ones
        reloaded into spares (`forget`). Each holds about 95 MB."""
        self._words: Any = None
        self._loop: Any = None
        self._used: set[str] = set()  # the decoders that have decoded something: "words", "loop"
        self._spare_count = spare_words
        self._spares: list[Any] = []  # fresh word decoders
        self._stale: list[Any] = []  # word decoders that decoded something, waiting for `forget`

    def forget(self) -> None:
        """Clear what the decoders remember now (`phonemes.forget_history`), rather than before their next
        utterance, and make the spare word decoders ready again: a warm worker does it while idle."""
        if "words" in self._used:
            forget_history(self._words, words=True)
        if "loop" in self._used:
            forget_history(self._loop)
        self._used.clear()
        while self._stale and len(self._spares) < self._spare_count:
            decoder = self._stale.pop()
            forget_history(decoder, words=True)
            self._spares.append(decoder)
        self._stale.clear()

    def fresh_word_decoders(self) -> int:
        """How many more utterances it can recognise before a word decoder must be reloaded (a fork of a
        `phone_forks` server then retires instead)."""
        return len(self._spares) + (0 if "words" in self._used else 1)

    def add_spare(self) -> bool:
        """Create one missing spare word decoder (0.24 s of one core); False when none is missing. A warm
        worker calls it while idle, one at a time, so a task that comes waits for one at most."""
        if len(self._spares) >= self._spare_count:
            return False
        self._spares.append(self._new_word_decoder())
        return True

    def _ready(self, name: str, decoder: Any) -> Any:
        """`decoder`, made to answer the next utterance as a fresh one would (`phonemes.forget_history`); for
        the words, a spare fresh decoder takes its place when there is one."""
        if name in self._used:
            if name == "words" and self._spares:
                self._stale.append(self._words)
                self._words = decoder = self._spares.pop()
            else:
                forget_history(decoder, words=name == "words")
        self._used.add(name)
        return decoder

    def load(self) -> None:
        """Create both decoders now rather than on first use (the spare word decoders: `add_spare`)."""
        self._word_decoder()
        self._loop_decoder()

    @staticmethod
    def _new_word_decoder() -> Any:
        import pocketsphinx

        return pocketsphinx.Decoder(loglevel="ERROR", fwdflat=False, maxhmmpf=WORD_MAX_HMM_PER_FRAME)

    def _word_decoder(self) -> Any:
        if self._words is None:
            self._words = self._new_word_decoder()
        return self._words

    def _loop_decoder(self) -> Any:
        if self._loop is None:
            import pocketsphinx

            model = pocketsphinx.get_model_path()
            phone_lm = os.path.join(model, "en-us", "en-us-phone.lm.bin")
            self._loop = pocketsphinx.Decoder(loglevel="ERROR", lm=None, allphone=phone_lm)
        return self._loop

    def words(self, utterance: Utterance) -> list[str]:
        """Recognised dictionary words, fillers dropped; [] for none. Variants ("and(2)") are given as
        the base word: forcing one variant on the aligner can make its phone pass fail."""
        return [word for word, _, _ in self.word_segments(utterance)]

    def word_segments(self, utterance: Utterance) -> list[tuple[str, float, float]]:
        """`words` with each word's (start_s, end_s) in seconds of the utterance."""
        decoder = self._ready("words", self._word_decoder())
        decoder.start_utt()
        decoder.process_raw(utterance.pcm, full_utt=True)
        decoder.end_utt()
        frate, offset = frame_timing(decoder)
        return [
            (re.sub(r"\(\d+\)$", "", s.word), max(0.0, s.start_frame / frate + offset), (s.end_frame + 1) / frate + offset)
            for s in decoder.seg()
            if not re.match(r"[<\[+]", s.word)
        ]

    def phone_loop(self, utterance: Utterance) -> LoopResult:
        """Free phone recognition; noise units (+NSN+, ...) become "SIL"."""
        decoder = self._ready("loop", self._loop_decoder())
        decoder.start_utt()
        decoder.process_raw(utterance.pcm, full_utt=True)
        decoder.end_utt()
        frate, offset = frame_timing(decoder)
        end_s = utterance.end_s - utterance.start_s
        phones: list[Phone] = []
        for seg in decoder.seg():
            label = seg.word.upper() if seg.word.isalpha() else SILENCE
            start = max(0.0, seg.start_frame / frate + offset)
            end = min(end_s, (seg.end_frame + 1) / frate + offset)
            if end <= start:
                continue
            if phones and phones[-1].label == SILENCE and label == SILENCE:
                label, start = SILENCE, phones.pop().start_s - utterance.start_s
            phones.append(Phone(label, round(start + utterance.start_s, 4), round(end + utterance.start_s, 4)))
        return LoopResult(phones, path_score_per_frame(decoder.hyp(), decoder.n_frames()))
