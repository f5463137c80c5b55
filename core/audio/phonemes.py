"""Optional transcript: phone timing by forced alignment (pocketsphinx), and visemes per video frame.

With ``--transcript`` the speech driver learns exactly when each phone is spoken. Free phone
recognition is too poor to help (about 50 % phone error with the bundled models), but forcing
the known words onto the audio places phone boundaries to a frame or two, which is what the
mouth needs: the lips close for every p, b and m, the lower lip meets the teeth for f and v.

pocketsphinx is imported and its English models are loaded only when an alignment is first
asked for (`ForcedAligner` keeps one decoder for repeated use). The models ship with the wheel;
nothing is downloaded.

If the transcript cannot be used (a word missing from the pronunciation dictionary, an empty
transcript, audio that cannot be aligned), the functions warn with a `TranscriptWarning` and
return no phones: the speech driver then runs from the audio alone, as without a transcript.

Timing: phone times are acoustic, in seconds from the track's first sample. Lips often lead the
sound; any lead is the driver's business, nothing here shifts the phones.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from typing import Any

import numpy as np

from mytalk.core.audio.activity import find_pauses
from mytalk.core.media.audio import AudioTrack
from mytalk.core.media.resample import resample_blocks
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress

ALIGN_RATE = 16000
"""The bundled en-us acoustic model is trained on 16 kHz speech."""

SILENCE = "SIL"


class TranscriptWarning(UserWarning):
    """The transcript could not be used; phone timing is skipped and the line is driven by audio only."""


@dataclass(frozen=True)
class Phone:
    """One aligned phone: ARPAbet ``label`` without stress digits ("AA", "P", ...) or "SIL",
    from ``start_s`` to ``end_s`` seconds of the track; ``word`` is the word it belongs to
    (lower case, "" for silence)."""

    label: str
    start_s: float
    end_s: float
    word: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def transcript_words(transcript: str) -> list[str]:
    """Words of a transcript as the dictionary spells them: lower case, punctuation removed.

    Apostrophes inside words are kept ("don't"), curly quotes become straight ones, hyphens and
    dashes split words. Digits are kept as they are (and will be reported as unknown words: the
    dictionary has no numerals, so "1961" must be written out).
    """
    text = transcript.replace("\u2019", "'").replace("\u2018", "'").lower()
    text = re.sub(r"[-\u2013\u2014/]", " ", text)
    words = []
    for token in text.split():
        word = re.sub(r"[^a-z0-9']", "", token).strip("'")
        if word:
            words.append(word)
    return words


DIGITAL_SILENCE_MIN_SAMPLES = 32
"""Runs of at least this many zero samples (2 ms at 16 kHz) are digital silence (`_to_pcm16`)."""

DITHER_LSB = 1.0
"""Standard deviation, in 16-bit steps, of the noise that fills digital silence (about −100 dBFS)."""


def _fill_digital_silence(pcm: np.ndarray) -> np.ndarray:
    """``pcm`` (int16 values as float) with runs of exact zeros filled with faint, fixed-seed noise.

    Synthetic or gated speech (espeak-ng's stop closures, a dub line's edited gaps) contains
    stretches of exact zeros. Their frames have no energy at all, so their cepstra are far outside
    anything the acoustic model was trained on: inside a word (a stop closure) every phone scores
    so badly there that the aligner's beams prune the only path the transcript allows ("Final result
    does not match the grammar"). A recording's own noise floor is far above one step, so real
    speech is left bit-identical; the noise is seeded, so results are reproducible. Only a retry of
    a failed alignment uses it: on JFK (a few short zero runs between words) filling made the
    default alignment fail instead.
    """
    zero = pcm == 0
    if not zero.any():
        return pcm
    edges = np.flatnonzero(np.diff(np.concatenate(([0], zero.astype(np.int8), [0]))))
    starts, ends = edges[0::2], edges[1::2]
    long_runs = (ends - starts) >= DIGITAL_SILENCE_MIN_SAMPLES
    if not long_runs.any():
        return pcm
    out = pcm.copy()
    noise = np.random.default_rng(0).normal(0.0, DITHER_LSB, len(pcm)).round()
    for a, b in zip(starts[long_runs], ends[long_runs], strict=True):
        out[a:b] = noise[a:b]
    return out


def _to_pcm16(track: AudioTrack) -> bytes:
    """Mono 16 kHz signed 16-bit little-endian PCM, as pocketsphinx's process_raw expects.

    Resampling is zero-phase (`media.resample.resample_poly`: no time shift). Digital silence is kept as it is:
    the aligner fills it only when it has to (`fill_digital_silence`). Resampled and converted a block at
    a time (`resample_blocks`, the same values): a ten-minute line at 48 kHz made whole in float64, then
    resampled, held about 300 MB on top of the line itself.
    """
    mono = track.mono().samples[0]
    divisor = gcd(track.rate, ALIGN_RATE)
    blocks = resample_blocks(lambda lo, hi: mono[lo:hi], mono.size, ALIGN_RATE // divisor, track.rate // divisor)
    return b"".join((np.clip(values, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes() for _, values in blocks)


def fill_digital_silence(pcm: bytes) -> bytes:
    """16-bit PCM with its digital silence filled (`_fill_digital_silence`); the same bytes if none."""
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    filled = _fill_digital_silence(samples)
    return pcm if filled is samples else filled.astype("<i2").tobytes()


def _base_word(name: str) -> str:
    """'for(2)' -> 'for' (pronunciation variants), '<sil>' -> ''."""
    if name.startswith("<") or name.startswith("+") or name.startswith("["):
        return ""
    return re.sub(r"\(\d+\)$", "", name).split(WORD_TAG)[0]


WORD_TAG = "|"
"""Separates a word from a tag in pronunciations added for other languages ("pan|es"), so they
never collide with the English dictionary's word of the same spelling."""


RETRY_OPTIONS: dict[str, Any] = {"fsgusefiller": False}
"""The aligner's retry, used only when the first attempt loses every path: no optional silence or
filler words between words. With them, pocketsphinx's alignment grammar gives up ("Final result does
not match the grammar") on some lines whose every word fits, e.g. espeak-ng Spanish "El perro come
pan bueno en la mañana"; without them the same lines align, closures within a frame or two. Wider
beams (1e-80) did not help those lines and made JFK's word alignment fail, so they are not used.
A pause the words then have to cover is carved back to silence afterwards (`carve_silences`)."""


TIMING_RULE = "history-free-1"
"""How utterances are timed, for the caches that keep phones: each as on fresh decoders (`forget_history`).
Phones timed before the rule (after whatever the decoder had decoded) are never read back."""


def forget_history(decoder: Any, *, words: bool = False) -> None:
    """Put a pocketsphinx decoder that has decoded something back in the state of a fresh one.

    A decoder's answer for an utterance depends on the utterances it decoded before (measured: the same
    4 s of JFK read "and while my fellow american" fresh and "spent all my fellow american" after the
    clip's 8 s), so phones cached by an utterance's samples would depend on what was timed before them,
    and a render on what its machine had cached. For the phone loop and the aligner the memory lies in
    the feature module (the cepstral mean `get_cmn` reports changes with every utterance): `reinit_feat`
    clears it at no cost, and they then answer exactly as fresh ones, whatever came before. The word recogniser (`words`) keeps more in its
    n-gram search; only `reinit` clears it, reloading the models (about 0.22 s of one core). Neither
    decoding silence (it leaves a NaN cepstral mean), resetting the mean alone (`set_cmn`), nor a new
    search on the loaded language model gives the fresh answer back."""
    if words:
        decoder.reinit()
    else:
        decoder.reinit_feat()


class ForcedAligner:
    """Aligns known English words to audio with pocketsphinx; the decoder is created on first use.

    One instance can align many lines (the models load once, about 0.2 s). Not thread-safe: use
    one instance per worker.
    """

    def __init__(self, **decoder_options: Any) -> None:
        """``decoder_options``: extra pocketsphinx settings for the first attempt (`RETRY_OPTIONS`
        are added to them for the retry)."""
        self._decoder: Any = None
        self._retry: Any = None
        self._options = decoder_options
        self._added: dict[str, str] = {}
        self._used: set[int] = set()  # ids of this aligner's decoders that have decoded something
        self.last_attempt = ""
        """Which attempt produced the last alignment (`align_words`): "default", "filled", ...."""

    def load(self) -> None:
        """Create the decoder now rather than on first use (the retry decoder stays lazy: rarely needed)."""
        self._get_decoder()

    def forget(self) -> None:
        """Clear what the decoders remember now (`forget_history`), rather than before their next alignment."""
        for decoder in (self._decoder, self._retry):
            if decoder is not None and id(decoder) in self._used:
                forget_history(decoder)
        self._used.clear()

    def _get_decoder(self) -> Any:
        if self._decoder is None:
            import pocketsphinx

            # lm=None: no language model (saves loading it); alignment uses its own search.
            self._decoder = pocketsphinx.Decoder(lm=None, loglevel="ERROR", **self._options)
        return self._decoder

    def _get_retry_decoder(self) -> Any:
        """The decoder for the retry (`RETRY_OPTIONS`), created on the first failure; it learns every
        pronunciation the first one was taught."""
        if self._retry is None:
            import pocketsphinx

            self._retry = pocketsphinx.Decoder(lm=None, loglevel="ERROR", **{**self._options, **RETRY_OPTIONS})
            for word, phones in self._added.items():
                self._retry.add_word(word, phones, True)
        return self._retry

    def unknown_words(self, words: list[str]) -> list[str]:
        """The words the pronunciation dictionary does not have, in order, without repeats."""
        decoder = self._get_decoder()
        missing: list[str] = []
        for word in words:
            if decoder.lookup_word(word) is None and word not in missing:
                missing.append(word)
        return missing

    def add_pronunciation(self, word: str, phones: list[str]) -> None:
        """Teach the decoder ``word`` (no spaces) as ARPAbet ``phones``; kept for later lines."""
        self._get_decoder().add_word(word, " ".join(phones), True)
        self._added[word] = " ".join(phones)
        if self._retry is not None:
            self._retry.add_word(word, " ".join(phones), True)

    def align_words(
        self,
        pcm: bytes,
        words: list[str],
        duration_s: float,
        *,
        on_first_pass: Callable[[], None] | None = None,
    ) -> tuple[list[Phone], float]:
        """Phones of dictionary ``words`` forced onto 16 kHz PCM (`_to_pcm16`), and the word pass's
        path score per 10 ms frame (natural log, see `path_score_per_frame`).

        Raises RuntimeError when no alignment is found. Phones are not carved (`carve_silences`).
        Only when the first attempt finds none: again with digital silence filled
        (`fill_digital_silence`), then with a decoder without the optional silences and fillers
        between words (`RETRY_OPTIONS`); ``last_attempt`` says which attempt worked.
        """
        filled = fill_digital_silence(pcm)
        attempts: list[tuple[str, Callable[[], Any], bytes]] = [("default", self._get_decoder, pcm)]
        if filled is not pcm:
            attempts.append(("filled", self._get_decoder, filled))
            attempts.append(("filled, no-fillers", self._get_retry_decoder, filled))
        attempts.append(("no-fillers", self._get_retry_decoder, pcm))
        first: RuntimeError | None = None
        for name, get_decoder, audio in attempts:
            try:
                decoder = get_decoder()
                if id(decoder) in self._used:
                    forget_history(decoder)  # every attempt as on a fresh decoder
                self._used.add(id(decoder))
                decoder, score = self._word_pass(decoder, audio, words)
                alignment = self._phone_pass(decoder, audio, on_first_pass)
            except RuntimeError as exc:
                first = first or exc
                continue
            self.last_attempt = name
            break
        else:
            assert first is not None
            raise first
        frate, offset = frame_timing(decoder)
        phones: list[Phone] = []
        for word in alignment:
            base = _base_word(word.name)
            for phone in word:
                start = max(0.0, phone.start / frate + offset)
                end = min(duration_s, (phone.start + phone.duration) / frate + offset)
                if end <= start:
                    continue
                label = re.sub(r"\d", "", phone.name).upper()
                phones.append(Phone(label, round(start, 4), round(end, 4), base if label != SILENCE else ""))
        return phones, score

    @staticmethod
    def _phone_pass(decoder: Any, pcm: bytes, on_first_pass: Callable[[], None] | None) -> Any:
        """The phone-level pass after a successful word pass: pocketsphinx's alignment object."""
        if on_first_pass is not None:
            on_first_pass()
        decoder.set_alignment()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        alignment = decoder.get_alignment()
        if alignment is None:
            raise RuntimeError("forced alignment returned nothing")
        return alignment

    @staticmethod
    def _word_pass(decoder: Any, pcm: bytes, words: list[str]) -> tuple[Any, float]:
        """The word-level pass on ``decoder``: (decoder, path score per frame); RuntimeError if lost."""
        decoder.set_align_text(" ".join(words))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is None:
            raise RuntimeError("no word alignment found")
        return decoder, path_score_per_frame(hyp, decoder.n_frames())

    def align(
        self,
        track: AudioTrack,
        transcript: str,
        *,
        carve_pauses: bool = True,
        progress: ProgressFn = no_progress,
        is_cancelled: CancelFn = never_cancelled,
    ) -> list[Phone]:
        """Phones of ``transcript`` on ``track`` in time order, silences included as "SIL".

        Returns [] with a `TranscriptWarning` when the transcript cannot be used. Two passes
        (word alignment, then phone alignment), about 0.05 s per second of audio on one core.
        With ``carve_pauses`` the pauses that voice activity finds (>= 0.2 s) become "SIL" even
        where the aligner stretched a phone over them (`carve_silences`).
        """
        words = transcript_words(transcript)
        if not words:
            warnings.warn("the transcript has no words; continuing without phone timing", TranscriptWarning, stacklevel=2)
            return []
        if track.num_samples < ALIGN_RATE // 10 or not np.any(track.samples):
            warnings.warn("the line is empty or silent; continuing without phone timing", TranscriptWarning, stacklevel=2)
            return []
        missing = self.unknown_words(words)
        if missing:
            shown = ", ".join(repr(w) for w in missing[:5])
            warnings.warn(
                f"transcript word(s) {shown} are not in the English pronunciation dictionary; write numbers "
                "and names as they sound (e.g. 'nineteen sixty one') or leave --transcript out; "
                "continuing without phone timing",
                TranscriptWarning,
                stacklevel=2,
            )
            return []

        progress(0, 2, "forced alignment")
        try:
            phones, _ = self.align_words(
                _to_pcm16(track), words, track.duration_s, on_first_pass=lambda: _first_pass_done(progress, is_cancelled)
            )
        except RuntimeError as exc:
            warnings.warn(
                f"the transcript could not be aligned to the line ({exc}); check that it is the words "
                "actually spoken; continuing without phone timing",
                TranscriptWarning,
                stacklevel=2,
            )
            return []
        progress(2, 2, "forced alignment")
        if carve_pauses:
            pauses = find_pauses(track, min_pause_s=CARVE_MIN_PAUSE_S, edge_guard_s=0.0)
            phones = carve_silences(phones, [(round(a, 4), round(b, 4)) for a, b in pauses])
        return phones


def _first_pass_done(progress: ProgressFn, is_cancelled: CancelFn) -> None:
    check_cancelled(is_cancelled, "forced alignment")
    progress(1, 2, "forced alignment")


SCORE_SHIFT = 10
"""pocketsphinx keeps acoustic scores in log base 1.0001 shifted right by 10 bits (SENSCR_SHIFT);
the Python binding exponentiates the unshifted integer, so ln(score) * 2**10 is the log in nats."""


def path_score_per_frame(hyp: Any, num_frames: int) -> float:
    """A hypothesis' path score in nats per 10 ms frame. Acoustic scores are relative to the best
    senone of each frame, so 0 is a perfect fit and speech that fits the model badly goes lower."""
    if num_frames <= 0 or hyp is None or hyp.score <= 0:
        return float("-inf")
    return float(np.log(hyp.score)) * 2**SCORE_SHIFT / num_frames


def frame_timing(decoder: Any) -> tuple[float, float]:
    """(frames per second, offset_s) of a decoder: frame boundary k is at k / frate + offset_s.

    pocketsphinx frame k spans [k / frate, k / frate + wlen); its centre is k / frate + wlen / 2,
    so a boundary between frames k-1 and k sits at k / frate + wlen / 2 - 0.5 / frate.
    """
    config = decoder.config
    frate = float(config["frate"])
    return frate, float(config["wlen"]) / 2 - 0.5 / frate


CARVE_MIN_PAUSE_S = 0.2
"""Only pauses this long override the aligner: shorter quiet gaps are mostly stop closures and
weak consonants (the "k wh" of "ask what"), which the phones describe better than silence."""

MIN_PIECE_S = 0.02
"""A phone cut by a pause keeps a piece only if it is at least this long (two aligner frames)."""


def carve_silences(phones: list[Phone], pauses: list[tuple[float, float]]) -> list[Phone]:
    """Mark the parts of ``phones`` that fall inside ``pauses`` (start_s, end_s) as silence.

    The aligner only inserts a silence where its optional-silence model wins, and it often lets
    a stop consonant absorb a pause instead (JFK's "ask ... not" gets a 300 ms "K"). The lips are
    at rest in a real pause, so a pause found in the audio overrides the phone there: phones
    wholly inside become "SIL", phones overlapping it are trimmed (or split in two around it).
    """
    out = list(phones)
    for a, b in pauses:
        carved: list[Phone] = []
        for phone in out:
            if phone.label == SILENCE or phone.end_s <= a or phone.start_s >= b:
                carved.append(phone)
                continue
            if phone.start_s < a - MIN_PIECE_S:
                carved.append(Phone(phone.label, phone.start_s, a, phone.word))
            carved.append(Phone(SILENCE, max(phone.start_s, a), min(phone.end_s, b), ""))
            if phone.end_s > b + MIN_PIECE_S:
                carved.append(Phone(phone.label, b, phone.end_s, phone.word))
        out = _merge_silences(carved)
    return out


def _merge_silences(phones: list[Phone]) -> list[Phone]:
    """Join touching "SIL" phones, and give a dropped sliver's time to the silence next to it."""
    merged: list[Phone] = []
    for phone in phones:
        if merged and phone.label == SILENCE and merged[-1].label == SILENCE:
            merged[-1] = Phone(SILENCE, merged[-1].start_s, max(merged[-1].end_s, phone.end_s), "")
        elif merged and merged[-1].label == SILENCE and phone.start_s > merged[-1].end_s:
            merged[-1] = Phone(SILENCE, merged[-1].start_s, phone.start_s, "")
            merged.append(phone)
        elif merged and phone.label == SILENCE and phone.start_s > merged[-1].end_s:
            merged.append(Phone(SILENCE, merged[-1].end_s, phone.end_s, ""))
        else:
            merged.append(phone)
    return merged


def force_align(
    track: AudioTrack,
    transcript: str,
    *,
    carve_pauses: bool = True,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> list[Phone]:
    """Forced alignment of ``transcript`` (English) on ``track``: phones in time order, or [] with
    a `TranscriptWarning` when the transcript cannot be used. See `ForcedAligner.align`."""
    return ForcedAligner().align(
        track, transcript, carve_pauses=carve_pauses, progress=progress, is_cancelled=is_cancelled
    )


# --- visemes ---------------------------------------------------------------------------------

VISEMES: tuple[str, ...] = (
    "rest",      # 0 silence: lips together or relaxed
    "closed",    # 1 P B M: lips pressed shut
    "lip_teeth",  # 2 F V: lower lip against the upper teeth
    "dental",    # 3 TH DH: tongue between the teeth, slightly open
    "alveolar",  # 4 T D N L S Z: teeth nearly together, lips relaxed
    "postalveolar",  # 5 SH ZH CH JH: lips pushed forward
    "velar",     # 6 K G NG HH: jaw follows the neighbouring vowel
    "spread",    # 7 IY IH EY EH Y: lips spread, mid opening
    "rounded",   # 8 UW UH OW OY W: lips rounded and protruded
    "r",         # 9 R ER: lightly rounded
    "open",      # 10 AA AE AH AO AW AY: jaw open
)
"""The viseme set: small enough to learn from seconds of footage, distinct enough to see."""

PHONE_VISEME: dict[str, int] = {
    "SIL": 0,
    "P": 1, "B": 1, "M": 1,
    "F": 2, "V": 2,
    "TH": 3, "DH": 3,
    "T": 4, "D": 4, "N": 4, "L": 4, "S": 4, "Z": 4,
    "SH": 5, "ZH": 5, "CH": 5, "JH": 5,
    "K": 6, "G": 6, "NG": 6, "HH": 6,
    "IY": 7, "IH": 7, "EY": 7, "EH": 7, "Y": 7,
    "UW": 8, "UH": 8, "OW": 8, "OY": 8, "W": 8,
    "R": 9, "ER": 9,
    "AA": 10, "AE": 10, "AH": 10, "AO": 10, "AW": 10, "AY": 10,
}

PHONE_OPENNESS: dict[str, float] = {
    "SIL": 0.0, "P": 0.0, "B": 0.0, "M": 0.0,
    "F": 0.1, "V": 0.1, "TH": 0.25, "DH": 0.25,
    "T": 0.2, "D": 0.2, "N": 0.2, "L": 0.3, "S": 0.15, "Z": 0.15,
    "SH": 0.25, "ZH": 0.25, "CH": 0.25, "JH": 0.25,
    "K": 0.35, "G": 0.35, "NG": 0.3, "HH": 0.5,
    "IY": 0.35, "IH": 0.45, "EY": 0.55, "EH": 0.6, "Y": 0.3,
    "UW": 0.3, "UH": 0.4, "OW": 0.55, "OY": 0.6, "W": 0.2,
    "R": 0.35, "ER": 0.4,
    "AA": 1.0, "AE": 0.85, "AH": 0.7, "AO": 0.8, "AW": 0.85, "AY": 0.85,
}
"""Openness prior per phone, 0 = lips shut, 1 = widest (AA): a rough articulatory ordering that the
speech driver scales to the actor's own range."""

VISEME_PRIORITY = np.array([1.0, 2.5, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
"""A short closure must win its frame: a b/p/m covering 30 % of a frame decides it, because a
missed closure is the most visible lip-sync error there is."""


def _frame_edges(fps: Fraction, num_frames: int) -> np.ndarray:
    fps = Fraction(fps)
    if fps <= 0 or num_frames < 0:
        raise ValueError(f"need fps > 0 and num_frames >= 0, got {fps} and {num_frames}")
    return np.arange(num_frames + 1) * (fps.denominator / fps.numerator)


def _phone_overlaps(phones: Sequence[Phone], edges: np.ndarray) -> Iterator[tuple[Phone, np.ndarray, np.ndarray, np.ndarray]]:
    """(phone, the frames it touches, the seconds of each of those frames it covers, those frames' lengths) for
    each phone that covers any frame between `edges` (`_frame_edges`): the one reading of phone times as frames
    that `frame_coverage` and `openness_prior` both weigh."""
    num_frames = edges.size - 1
    for phone in phones:
        first = max(0, int(np.searchsorted(edges, phone.start_s, side="right")) - 1)
        last = min(num_frames, int(np.searchsorted(edges, phone.end_s, side="left")))
        if last <= first:
            continue
        frames = np.arange(first, last)
        overlap = np.minimum(edges[frames + 1], phone.end_s) - np.maximum(edges[frames], phone.start_s)
        yield phone, frames, np.clip(overlap, 0.0, None), edges[frames + 1] - edges[frames]


def frame_coverage(
    phones: Sequence[Phone], fps: Fraction, num_frames: int, column: Callable[[str], int], width: int, rest: int
) -> np.ndarray:
    """Share of each video frame's interval [n/fps, (n+1)/fps) covered by each column of a phone grouping.

    ``column`` maps a phone label to its column (0 ... ``width`` - 1); time without any phone counts as
    column ``rest``. Shape (num_frames, width), float32; rows sum to 1.
    """
    edges = _frame_edges(fps, num_frames)
    cover = np.zeros((num_frames, width))
    if num_frames == 0:
        return cover.astype(np.float32)
    for phone, frames, overlap, length in _phone_overlaps(phones, edges):
        cover[frames, column(phone.label)] += overlap / length
    cover = np.minimum(cover, 1.0)
    cover[:, rest] += np.clip(1.0 - cover.sum(axis=1), 0.0, None)
    return (cover / cover.sum(axis=1, keepdims=True)).astype(np.float32)


def viseme_coverage(phones: list[Phone], fps: Fraction, num_frames: int) -> np.ndarray:
    """Share of each video frame's interval [n/fps, (n+1)/fps) covered by each viseme.

    Shape (num_frames, len(VISEMES)), float32; rows sum to 1 (time without any phone counts as
    "rest"). Unknown phone labels count as "rest" too.
    """
    return frame_coverage(phones, fps, num_frames, lambda label: PHONE_VISEME.get(label, 0), len(VISEMES), 0)


def visemes_per_frame(phones: list[Phone], fps: Fraction, num_frames: int) -> np.ndarray:
    """Viseme index (into `VISEMES`) per video frame: (num_frames,) int64.

    Each frame takes the viseme covering most of its interval, with closures (p/b/m) weighted
    2.5x and lip-teeth (f/v) 1.5x so short but visible shapes are not lost between vowels.
    """
    cover = viseme_coverage(phones, fps, num_frames)
    return np.argmax(cover * VISEME_PRIORITY[None, :], axis=1).astype(np.int64)


def openness_prior(phones: list[Phone], fps: Fraction, num_frames: int) -> np.ndarray:
    """Expected mouth openness per video frame, 0 (shut) to 1 (widest): (num_frames,) float32.

    The time-weighted mean of `PHONE_OPENNESS` over the frame's interval (silence = 0), then 0 in
    frames whose viseme is "closed", so a b/p/m always shuts the lips in its frame.
    """
    edges = _frame_edges(fps, num_frames)
    out = np.zeros(num_frames)
    if num_frames == 0:
        return out.astype(np.float32)
    for phone, frames, overlap, length in _phone_overlaps(phones, edges):
        out[frames] += PHONE_OPENNESS.get(phone.label, 0.0) * overlap / length
    out[visemes_per_frame(phones, fps, num_frames) == VISEMES.index("closed")] = 0.0
    return np.clip(out, 0.0, 1.0).astype(np.float32)
