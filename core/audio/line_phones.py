"""Phones of a placed line, timed once per utterance of the line's *file*, so that a slip costs nothing.

An editor slips a replacement line against the picture a few frames at a time and previews after
each slip. Timing the placed line's phones from scratch (`phone_timing.PhoneTimer.track`) costs about
a quarter of its length in word recognition, 1.7 s for a 5 s range, and a slip changes the placed
samples, so a cache keyed by them (`phone_cache`) always misses: the slip paid it every time.

Here the recognition is tied to the file, not to the placement:

- the file is read in fixed blocks of `BLOCK_S` (decoded at 16 kHz mono exactly as a whole decode
  would give them, `media.audio.decode_audio_span`), and each block is cut at its pauses into
  utterances of at most `UTTERANCE_S` (`phone_recognition.split_utterances`). Where the cuts fall
  depends only on the file, never on where the line is placed;
- each utterance the placement touches is recognised once (the phone loop, and for English the
  recognised words force-aligned, `PhoneTimer.time_utterance`) and the result is cached on disk,
  keyed by the utterance's samples and the language;
- the placement's phones are the utterances' phones moved to the range's clock and cut to it; the
  choice between words and the phone loop weighs each utterance by the part of it inside the range
  (`phone_timing.decide_recognition`), and real pauses of the placed line are carved to silence.

A preview and the commit of the same placement read the same cache entries, or make identical ones,
so they get the same phones; a slip of a few frames reuses every utterance already timed, and only
an utterance newly entering the range is recognised. An utterance the range touches only in a pause
(its part inside the range is unvoiced) is not recognised for it: the range takes silence from it
either way (`_to_recognise`); a runtime times such utterances after the job's first frame, for slips.
A word cut by the range's edge is recognised with its whole sound, as it was spoken. A transcript is
aligned over the placed line itself (cheap) and does not come here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.atomic import AtomicFile
from mytalk.core.audio.activity import LEVEL_HOP_S, voiced_fine
from mytalk.core.audio.espeak import check_language
from mytalk.core.audio.noise_suppression import (
    NOISE_RULE,
    SILENT,
    NoiseMeasure,
    measure_noise,
    suppress_noise,
)
from mytalk.core.audio.phone_recognition import Utterance, utterance_cuts
from mytalk.core.audio.phone_timing import (
    ENGLISH,
    SILENT_PEAK,
    PhoneTimer,
    PhoneTrack,
    RecognisedPiece,
    UtteranceTiming,
    decide_recognition,
    phones_from_json,
    phones_to_json,
)
from mytalk.core.audio.phonemes import ALIGN_RATE, SILENCE, TIMING_RULE, Phone, _to_pcm16
from mytalk.core.cache_budget import touch
from mytalk.core.media.audio import AudioTrack, decode_audio_span, peak_level, placement
from mytalk.core.media.channel_pick import ChannelPick
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress
from mytalk.core.userdirs import UserDirs, user_dirs

BLOCK_S = 30
"""The file is cut into utterances a block of this many seconds at a time: the memory of one block
(2 MB at 16 kHz), however long the file (a dub stem may last an hour)."""

UTTERANCE_S = 4.0
"""Longest utterance. A range touches the utterances it overlaps, so the sound recognised beyond the
range is at most one utterance each side; short ones keep the first preview of a line close to the
cost of recognising the range alone (phrases of speech are shorter than this anyway)."""

CUT_MIN_PAUSE_S = 0.12
"""Pauses this long are places to cut: shorter than a line's own split (0.25 s), so that fluent speech
still finds a pause before a fixed cut at `UTTERANCE_S` has to fall inside a word."""

UTTERANCE_CACHE_VERSION = 1
"""Bump when recognition changes what it returns for the same samples."""


@dataclass(frozen=True)
class LineOrigin:
    """Where a job's line comes from: the replacement file, and its time (s) on the range's first frame; the
    stream and its channels the editor picked (`channel_pick.ChannelPick`), where the file's own sound
    (its first stream with sound, every channel mixed) is not what the actor says."""

    path: Path
    offset_s: Fraction
    stream_index: int | None = None
    rows: tuple[int, ...] | None = None

    @classmethod
    def picked(cls, path: Path, offset_s: Fraction, pick: ChannelPick | None) -> LineOrigin:
        """The line `path` at `offset_s`, read from the channels `pick` names (None: the file's own sound)."""
        if pick is None:
            return cls(path, offset_s)
        return cls(path, offset_s, pick.stream_index, pick.rows)

    def task(self) -> tuple[str, tuple[int, int], int | None, tuple[int, ...] | None]:
        """The origin as a phone worker's task carries it (plain values, `phone_workers`): the offset exact, so
        that a worker places the line on the very samples the job does."""
        offset = Fraction(self.offset_s)
        return str(self.path), (offset.numerator, offset.denominator), self.stream_index, self.rows


def _optional_phones(data: list[list[Any]] | None) -> tuple[Phone, ...] | None:
    return None if data is None else phones_from_json(data)


def _timing_to_json(timing: UtteranceTiming) -> dict[str, Any]:
    return {"frames": timing.frames, "loop_phones": phones_to_json(timing.loop_phones), "loop_score": timing.loop_score,
            "words": list(timing.words), "word_phones": None if timing.word_phones is None else phones_to_json(timing.word_phones),
            "align_score": timing.align_score, "piecewise": timing.piecewise, "lost_s": timing.lost_s}


def _timing_from_json(data: dict[str, Any]) -> UtteranceTiming:
    return UtteranceTiming(int(data["frames"]), phones_from_json(data["loop_phones"]), float(data["loop_score"]), tuple(str(w) for w in data["words"]),
                           _optional_phones(data["word_phones"]),
                           None if data["align_score"] is None else float(data["align_score"]),
                           int(data["piecewise"]), float(data["lost_s"]), {})


class UtteranceCache:
    """Recognised utterances on disk (small JSON files written atomically), keyed by their samples."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else user_dirs().cache / "phones" / "utterances"

    @staticmethod
    def key(pcm: bytes, language: str) -> str:
        digest = hashlib.sha256(json.dumps({"v": UTTERANCE_CACHE_VERSION, "language": language,
                                            "timing": TIMING_RULE}).encode())
        digest.update(pcm)
        return digest.hexdigest()[:40]

    def get_json(self, key: str) -> Any:
        path = self.folder / f"{key}.json"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or unreadable: made again and rewritten
        touch(path)  # used now: the cache's trim (`mytalk.core.cache_budget`) removes entries used longest ago
        return value

    def put_json(self, key: str, value: Any) -> None:
        try:
            UserDirs.ensure(self.folder)
            with AtomicFile(self.folder / f"{key}.json") as temp:
                temp.write_text(json.dumps(value), encoding="utf-8")
        except OSError:
            pass  # a cache that cannot be written costs time, never the job

    def get(self, key: str) -> UtteranceTiming | None:
        data = self.get_json(key)
        try:
            return None if data is None else _timing_from_json(data)
        except (ValueError, KeyError, TypeError, IndexError, AssertionError):
            return None

    def put(self, key: str, timing: UtteranceTiming) -> None:
        self.put_json(key, _timing_to_json(timing))


@dataclass(frozen=True)
class _Piece:
    """An utterance of the file: samples [first, first + len) at `ALIGN_RATE`, and its pcm."""

    first: int
    pcm: bytes

    @property
    def count(self) -> int:
        return len(self.pcm) // 2

    @property
    def peak(self) -> float:
        """Largest absolute sample, full scale 1 (as `peak_level`): silent pieces are never recognised."""
        samples = np.frombuffer(self.pcm, np.int16)
        return float(np.abs(samples.astype(np.int32)).max()) / 32768.0 if samples.size else 0.0


def _known_cuts(pcm: bytes, cache: UtteranceCache) -> tuple[str, list[tuple[int, int]] | None]:
    """(the cache key of a block's cuts, the cuts when the cache has them)."""
    key = "cuts-" + UtteranceCache.key(pcm, f"{UTTERANCE_S}/{CUT_MIN_PAUSE_S}")
    known = cache.get_json(key)
    if isinstance(known, list):
        try:
            return key, [(int(a), int(b)) for a, b in known]
        except (TypeError, ValueError):
            pass
    return key, None


def _block_cuts(track: AudioTrack, pcm: bytes, cache: UtteranceCache) -> list[tuple[int, int]]:
    """Where a block is cut into utterances (`utterance_cuts`), remembered by the block's samples: finding
    the pauses of 30 s of sound takes longer (0.45 s) than everything else a slip asks. The zeros after
    the file's end (the last block is decoded whole) are one silent piece, never searched for pauses."""
    key, known = _known_cuts(pcm, cache)
    if known is not None:
        return known
    total = len(pcm) // 2
    nonzero = np.flatnonzero(np.frombuffer(pcm, np.int16))
    sound = int(nonzero[-1]) + 1 if nonzero.size else 0
    cuts = utterance_cuts(AudioTrack(track.samples[:, :sound], track.rate), sound, UTTERANCE_S, CUT_MIN_PAUSE_S) \
        if sound else []
    if sound < total:
        cuts.append((sound, total))
    cache.put_json(key, cuts)
    return cuts


def _block_noise(pcm: bytes, sound: np.ndarray, cache: UtteranceCache) -> NoiseMeasure:
    """The block's `NoiseMeasure`, measured on its `sound` (its samples up to the file's end) and remembered
    by its samples, as its cuts are."""
    key = "noise-" + UtteranceCache.key(pcm, NOISE_RULE)
    known = NoiseMeasure.from_json(cache.get_json(key))
    if known is not None:
        return known
    measure = measure_noise(sound, ALIGN_RATE) if sound.size else SILENT
    cache.put_json(key, measure.to_json())
    return measure


def _heard_block(track: AudioTrack, pcm: bytes, cache: UtteranceCache) -> tuple[np.ndarray, bytes, NoiseMeasure]:
    """(the block's samples (1, N) as the recogniser is given them, their pcm, the block's noise): the block
    itself, or with its steady noise suppressed (`noise_suppression`). A property of the block's samples
    alone, like its cuts, so every placement and slip hears an utterance alike. The zeros after the file's
    end (the last block is decoded whole) are neither measured nor filtered."""
    samples = track.samples[0]
    nonzero = np.flatnonzero(samples)
    sound = samples[: int(nonzero[-1]) + 1] if nonzero.size else samples[:0]
    measure = _block_noise(pcm, sound, cache)
    if not measure.steady_noise:
        return track.samples, pcm, measure
    cleaned = samples.copy()
    cleaned[: sound.size] = suppress_noise(sound, ALIGN_RATE)
    heard = AudioTrack(cleaned[np.newaxis, :], ALIGN_RATE)
    return heard.samples, _to_pcm16(heard), measure


@dataclass(frozen=True)
class _FileSound:
    """What `_file_utterances` found: the utterances (None: a block's cuts not cached, with `known_only`),
    the placed samples as the recogniser hears them, and the noise of each block they touch."""

    pieces: list[_Piece] | None
    placed: AudioTrack
    noise: tuple[NoiseMeasure, ...] = ()


def _file_utterances(origin: LineOrigin, lo: int, hi: int, cache: UtteranceCache, known_only: bool = False) -> _FileSound:
    """The utterances of the file that overlap samples [lo, hi) at 16 kHz, each whole, in time order, and those
    samples themselves (zeros outside the file), both as the recogniser hears them (`_heard_block`). One decode
    serves both: the blocks' samples are the whole file's (`decode_audio_span`), and so is the placed part cut
    from them. `known_only`: no utterances when a block's cuts are not cached yet (they are not searched for).
    A block is cut at the pauses of its own samples, and heard after."""
    block = BLOCK_S * ALIGN_RATE
    pieces: list[_Piece] = []
    if hi <= 0:
        return _FileSound(pieces, AudioTrack(np.zeros((1, max(0, hi - lo)), np.float32), ALIGN_RATE))
    first_block, last_block = max(0, lo) // block, (hi - 1) // block
    span = decode_audio_span(Path(origin.path), ALIGN_RATE, first_block * block, (last_block - first_block + 1) * block,
                             channels=1, stream_index=origin.stream_index, rows=origin.rows)
    heard_span = span.samples.copy()
    noise: list[NoiseMeasure] = []
    for index in range(first_block, last_block + 1):
        at = (index - first_block) * block
        track = AudioTrack(span.samples[:, at : at + block], ALIGN_RATE)
        pcm = _to_pcm16(track)
        cuts = _known_cuts(pcm, cache)[1] if known_only else _block_cuts(track, pcm, cache)
        if cuts is None:
            return _FileSound(None, AudioTrack(np.zeros((1, 0), np.float32), ALIGN_RATE))
        heard_samples, heard_pcm, measure = _heard_block(track, pcm, cache)
        heard_span[:, at : at + block] = heard_samples
        noise.append(measure)
        for a, b in cuts:
            first = index * block + a
            if first < hi and index * block + b > lo:
                pieces.append(_Piece(first, heard_pcm[2 * a : 2 * b]))
    placed = np.zeros((1, hi - lo), np.float32)
    src0 = first_block * block
    a, b = max(lo, src0), min(hi, src0 + span.num_samples)
    if b > a:
        placed[:, a - lo : b - lo] = heard_span[:, a - src0 : b - src0]
    return _FileSound(pieces, AudioTrack(placed, ALIGN_RATE), tuple(noise))


def _noise_details(noise: tuple[NoiseMeasure, ...]) -> dict[str, Any]:
    """For the report: the noise of the first block a placement touches that was filtered, else of its first
    block (`NoiseMeasure.to_dict`)."""
    filtered = [m for m in noise if m.steady_noise]
    return (filtered or list(noise) or [SILENT])[0].to_dict()


def _moved(phones: tuple[Phone, ...], shift_s: float, end_s: float) -> list[Phone]:
    """`phones` moved by `shift_s` and cut to [0, end_s]."""
    out = []
    for p in phones:
        a, b = max(0.0, p.start_s + shift_s), min(end_s, p.end_s + shift_s)
        if b > a:
            out.append(Phone(p.label, round(a, 4), round(b, 4), p.word))
    return out


def _with_silence_between(phones: list[Phone], end_s: float) -> list[Phone]:
    """`phones` (time order) with SIL over every stretch of [0, end_s] none of them covers."""
    out: list[Phone] = []
    cursor = 0.0
    for p in phones:
        if p.start_s > cursor + 1e-4:
            out.append(Phone(SILENCE, round(cursor, 4), p.start_s))
        out.append(p)
        cursor = max(cursor, p.end_s)
    if end_s > cursor + 1e-4:
        out.append(Phone(SILENCE, round(cursor, 4), round(end_s, 4)))
    return out


@dataclass(frozen=True)
class _Placement:
    """A line placed on a range, as its phones are timed: the language's code, the placement's first sample
    and count at 16 kHz, and what `_file_utterances` found of the file there."""

    code: str
    first: int
    count: int
    sound: _FileSound

    @property
    def silent(self) -> bool:
        """Too short (under 0.1 s) or too quiet to hold phones: nothing of it is recognised."""
        return self.count < ALIGN_RATE // 10 or peak_level(self.sound.placed) < SILENT_PEAK

    def untimed(self, indices: list[int], cache: UtteranceCache) -> list[int]:
        """Those of the utterances `indices` whose timing the cache lacks."""
        pieces = self.sound.pieces
        assert pieces is not None
        return [i for i in indices if cache.get_json(UtteranceCache.key(pieces[i].pcm, self.code)) is None]


def _placed(origin: LineOrigin, num_frames: int, fps: Fraction, language: str, cache: UtteranceCache,
            known_only: bool = False) -> _Placement:
    """The line `origin` placed on `num_frames` at `fps` (`_Placement`); `known_only` as `_file_utterances`.
    Raises UsageError for an unknown language, before anything is decoded."""
    code = check_language(language)
    first, count = placement(ALIGN_RATE, num_frames=num_frames, fps=fps, line_offset_s=origin.offset_s)
    return _Placement(code, first, count, _file_utterances(origin, first, first + count, cache, known_only))


def _unvoiced_inside(piece: _Piece, lo: int, hi: int) -> bool:
    """Whether samples [lo, hi) of the file, inside `piece`, are all unvoiced by the piece's own voice
    activity (`activity.voiced_fine`, 10 ms steps): a property of the piece's samples alone, like its cuts
    and its recognition, so a preview and a commit of a placement, or two slips, always agree on it."""
    samples = np.frombuffer(piece.pcm, np.int16).astype(np.float32) / 32768.0
    voiced = voiced_fine(AudioTrack(samples[np.newaxis, :], ALIGN_RATE))
    step = round(LEVEL_HOP_S * ALIGN_RATE)
    first, last = (lo - piece.first) // step, -(-(hi - piece.first) // step)
    return not voiced[max(first, 0) : last].any()


def _sounding(pieces: list[_Piece]) -> list[int]:
    """The placement's utterances with sound (not digital silence): the only ones ever recognised."""
    return [i for i, piece in enumerate(pieces) if piece.peak >= SILENT_PEAK]


def _to_recognise(pieces: list[_Piece], first: int, count: int) -> list[int]:
    """Which of a placement's utterances are recognised: not those without sound (digital silence), nor
    those whose part inside the placement is unvoiced (`_unvoiced_inside`): the range only takes silence
    from them. A range ending 0.14 s into a pause used to recognise the whole 4 s utterance after it (0.8
    CPU-seconds of a cold first preview) for that silence. When every piece with sound is unvoiced inside
    the placement, all of them are recognised, so that a range inside a pause is timed as before."""
    sounding = _sounding(pieces)
    spoken = [i for i in sounding if not _unvoiced_inside(pieces[i], max(pieces[i].first, first),
                                                          min(pieces[i].first + pieces[i].count, first + count))]
    return spoken or sounding


def needs_timing(origin: LineOrigin, num_frames: int, fps: Fraction, *, language: str = "en",
                 cache: UtteranceCache | None = None) -> bool:
    """Whether `placed_phone_track` of this placement would recognise anything (an utterance, or even
    the cuts of a block, not cached yet): a job starts timing the line aside only then. Reads the cache
    (and remembers a block's noise measure); costs the decode of the placement's blocks, and a noisy block's
    filter (`_heard_block`)."""
    cache = cache or UtteranceCache()
    at = _placed(origin, num_frames, fps, language, cache, known_only=True)
    pieces = at.sound.pieces
    if pieces is None:
        return True  # a block never cut: nothing of it can have been timed
    if at.silent:
        return False  # nothing is recognised for an empty or silent placement
    return bool(at.untimed(_to_recognise(pieces, at.first, at.count), cache))


def placed_phone_track(
    origin: LineOrigin,
    num_frames: int,
    fps: Fraction,
    *,
    language: str = "en",
    timer: PhoneTimer | None = None,
    cache: UtteranceCache | None = None,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> PhoneTrack:
    """Phones of the line `origin` placed on `num_frames` frames at `fps`, seconds from the range's first
    frame (module docstring). ``details`` says how many utterances were recognised and how many reused.

    Raises what decoding the file raises (`MediaNotFoundError`, `MediaFormatError`); UsageError for an
    unknown language."""
    cache = cache or UtteranceCache()
    at = _placed(origin, num_frames, fps, language, cache)
    code, first, count, sound = at.code, at.first, at.count, at.sound
    pieces, placed = sound.pieces, sound.placed
    assert pieces is not None  # cuts are made, not only read
    if at.silent:
        return PhoneTrack((), "none", "the line is empty or silent, so there are no phones to time", None, code)
    end_s = count / ALIGN_RATE
    todo = _to_recognise(pieces, first, count)
    recognised: list[RecognisedPiece] = []
    reused = 0
    for step, i in enumerate(todo):
        check_cancelled(is_cancelled, "phone timing")
        progress(step, len(todo), "phone timing: recognition")
        piece = pieces[i]
        timing = cache.get(UtteranceCache.key(piece.pcm, code))
        if timing is None:
            timer = timer or PhoneTimer()
            timing = time_into_cache(piece.pcm, code, timer, cache)
        else:
            reused += 1
        shift = (piece.first - first) / ALIGN_RATE
        inside = min(first + count, piece.first + piece.count) - max(first, piece.first)
        recognised.append((timing, _moved(timing.loop_phones, shift, end_s),
                           None if timing.word_phones is None else _moved(timing.word_phones, shift, end_s),
                           max(1, round(inside / ALIGN_RATE * 100))))
    progress(len(todo), len(todo), "phone timing: recognition")
    details: dict[str, Any] = {"scope": "utterances of the line's file", "utterances_reused": reused,
                               "utterances_recognised": len(todo) - reused, **_noise_details(sound.noise)}
    if not recognised:
        return PhoneTrack((), "none", "recognition found no speech in the line", None, code, (), details)
    track, _ = decide_recognition(placed, recognised, code, "", details)
    if track.path == "none":
        return track
    return PhoneTrack(tuple(_with_silence_between(list(track.phones), end_s)), track.path, track.reason,
                      track.confidence, track.language, track.words, track.details)


def untimed_utterances(origin: LineOrigin, num_frames: int, fps: Fraction, *, language: str = "en",
                       cache: UtteranceCache | None = None) -> list[bytes]:
    """The samples (pcm) of each utterance `placed_phone_track` of this placement would recognise because
    the cache lacks it, in time order; the blocks' cuts are made (and cached) as there. For timing them
    on several processes at once (`phone_workers.PhoneWorkers.submit`), each with `time_into_cache`."""
    cache = cache or UtteranceCache()
    at = _placed(origin, num_frames, fps, language, cache)
    pieces = at.sound.pieces
    assert pieces is not None  # cuts are made, not only read
    if at.silent:
        return []  # nothing is recognised for an empty or silent placement
    return [pieces[i].pcm for i in at.untimed(_to_recognise(pieces, at.first, at.count), cache)]


def skipped_utterances(origin: LineOrigin, num_frames: int, fps: Fraction, *, language: str = "en",
                       cache: UtteranceCache | None = None) -> list[bytes]:
    """The samples (pcm) of each utterance with sound that `placed_phone_track` of this placement leaves
    unrecognised because the range takes only silence from it (`_to_recognise`), and that the cache lacks:
    a slip of a few frames may bring its speech in, so a runtime times them once a job's first frame is out
    (`line_aside.time_skipped_later`), and the slip then costs nothing."""
    cache = cache or UtteranceCache()
    at = _placed(origin, num_frames, fps, language, cache, known_only=True)
    pieces = at.sound.pieces
    if pieces is None or at.silent:
        return []
    recognised = set(_to_recognise(pieces, at.first, at.count))
    return [pieces[i].pcm for i in at.untimed([i for i in _sounding(pieces) if i not in recognised], cache)]


def time_into_cache(pcm: bytes, language: str, timer: PhoneTimer, cache: UtteranceCache | None = None) -> UtteranceTiming:
    """Recognise one utterance of a line's file (16 kHz mono int16 `pcm`) and cache it: the one place an
    utterance is timed, wherever that happens (`placed_phone_track`, or a phone worker)."""
    code = check_language(language)
    timing = timer.time_utterance(Utterance(0.0, len(pcm) // 2 / ALIGN_RATE, pcm), code in ENGLISH)
    (cache or UtteranceCache()).put(UtteranceCache.key(pcm, code), timing)
    return timing


LEARN_AHEAD_S = 15
"""How much of a line `learn_line_ahead` times from its placement, before any range is marked: more
than a usual replacement range, so the first preview's utterances are all there."""


def learn_line_ahead(
    origin: LineOrigin,
    *,
    language: str = "en",
    seconds: int = LEARN_AHEAD_S,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> PhoneTrack:
    """Recognise into the cache the utterances of the line's file over `seconds` from `origin`: what the
    first preview of any range placed there reads (`placed_phone_track`). The panel asks for it when
    a line is picked, while the editor marks the range; the phones it returns are only informative."""
    return placed_phone_track(origin, seconds * 100, Fraction(100), language=language, progress=progress,
                              is_cancelled=is_cancelled)
