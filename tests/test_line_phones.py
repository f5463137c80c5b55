"""A placed line's phones are timed per utterance of the line's file: a slip reuses them, and the result
never depends on what was timed before (a preview and the commit of one placement agree)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import media_path
from media_factory import make_click_wav
from mytalk.core.audio.line_phones import (
    BLOCK_S,
    UTTERANCE_S,
    LineOrigin,
    UtteranceCache,
    _file_utterances,
    learn_line_ahead,
    placed_phone_track,
    skipped_utterances,
    time_into_cache,
)
from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.audio.phonemes import SILENCE, Phone
from mytalk.core.errors import JobCancelledError
from mytalk.core.media.audio import decode_audio_span

FPS = Fraction(25)
FRAMES = 100  # a 4 s range
LINE = "jfk_inaugural_en_16k.wav"


def _origin(offset_frames: int = 0) -> LineOrigin:
    return LineOrigin(media_path("audio", LINE), Fraction(offset_frames) / FPS)


def _spoken(phones: tuple[Phone, ...], lo: float, hi: float, shift: float = 0.0) -> list[tuple[str, float, float]]:
    """Non-silent phones lying wholly inside [lo, hi], moved by `shift`."""
    return [(p.label, round(p.start_s + shift, 3), round(p.end_s + shift, 3))
            for p in phones if p.label != SILENCE and p.start_s >= lo and p.end_s <= hi]


def test_a_slip_reuses_every_utterance_and_moves_the_phones_with_the_line(tmp_path: Path) -> None:
    cache = UtteranceCache(tmp_path)
    placed = placed_phone_track(_origin(0), FRAMES, FPS, cache=cache)
    # What a runtime does once the job's first frame is out: the utterance the range took only silence from.
    skipped = skipped_utterances(_origin(0), FRAMES, FPS, cache=cache)
    assert len(skipped) == 1
    time_into_cache(skipped[0], "en", PhoneTimer(), cache)
    slipped = placed_phone_track(_origin(3), FRAMES, FPS, cache=cache)  # the line 3 frames (0.12 s) later
    assert placed.path in ("words", "phone-loop") and placed.details["utterances_recognised"] >= 1
    assert slipped.details["utterances_recognised"] == 0, slipped.details
    assert slipped.details["utterances_reused"] >= 1
    assert slipped.path == placed.path
    # The same speech, 0.12 s earlier on the range's clock, away from the range's edges.
    moved = _spoken(placed.phones, 0.5, 3.0, shift=-0.12)
    assert len(moved) >= 5
    assert moved == _spoken(slipped.phones, 0.38, 2.88)


def test_a_placement_times_the_same_phones_whatever_was_timed_before(tmp_path: Path) -> None:
    """Reused utterances give exactly what a fresh timing gives: a preview after slips and a commit on an
    empty cache paint the same mouth."""
    warm = UtteranceCache(tmp_path / "warm")
    placed_phone_track(_origin(0), FRAMES, FPS, cache=warm)
    after_slip = placed_phone_track(_origin(6), FRAMES, FPS, cache=warm)
    fresh = placed_phone_track(_origin(6), FRAMES, FPS, cache=UtteranceCache(tmp_path / "cold"))
    assert fresh.details["utterances_reused"] == 0
    assert after_slip.phones == fresh.phones
    assert (after_slip.path, after_slip.confidence, after_slip.words) == (fresh.path, fresh.confidence, fresh.words)


def test_the_phones_cover_the_range_in_time_order(tmp_path: Path) -> None:
    track = placed_phone_track(_origin(10), FRAMES, FPS, cache=UtteranceCache(tmp_path))
    end = FRAMES / float(FPS)
    assert track.phones[0].start_s == 0.0 and abs(track.phones[-1].end_s - end) < 1e-3
    for before, after in zip(track.phones, track.phones[1:], strict=False):
        assert after.start_s >= before.start_s and abs(after.start_s - before.end_s) < 2e-3, (before, after)
    assert all(0.0 <= p.start_s < p.end_s <= end + 1e-4 for p in track.phones)


def test_the_utterances_are_the_files_whatever_the_placement(tmp_path: Path) -> None:
    cache = UtteranceCache(tmp_path)
    line = LineOrigin(media_path("audio", LINE), Fraction(0))
    rate = 16_000
    found, wide = _file_utterances(line, 0, 4 * rate, cache), _file_utterances(line, 0, 10 * rate, cache)
    near, placed, wider = found.pieces, found.placed, wide.pieces
    assert near is not None and wider is not None
    whole = decode_audio_span(line.path, rate, 0, 4 * rate, channels=1)
    assert not found.noise[0].steady_noise, "a clean line is heard as it is"
    assert np.array_equal(placed.samples, whole.samples), "the placed part is the file's own samples"
    assert [(u.first, u.count) for u in near] == [(u.first, u.count) for u in wider[: len(near)]]
    assert all(u.count <= UTTERANCE_S * rate for u in wider)
    assert all(b.first == a.first + a.count for a, b in zip(wider, wider[1:], strict=False)), "no gaps"
    assert all((u.first // (BLOCK_S * rate)) == ((u.first + u.count - 1) // (BLOCK_S * rate)) for u in wider)


def test_silence_beyond_the_file_is_silence_and_a_range_wholly_outside_has_no_phones(tmp_path: Path) -> None:
    cache = UtteranceCache(tmp_path)
    line_s = 11.0
    tail = placed_phone_track(_origin(int((line_s - 2) * 25)), FRAMES, FPS, cache=cache)  # 2 s of line, then nothing
    assert tail.path != "none"
    assert all(p.label == SILENCE for p in tail.phones if p.start_s >= 2.1), tail.phones[-3:]
    early = placed_phone_track(_origin(-50), FRAMES, FPS, cache=cache)  # the line starts 2 s into the range
    assert all(p.label == SILENCE for p in early.phones if p.end_s <= 1.95)
    assert any(p.label != SILENCE for p in early.phones)
    outside = placed_phone_track(_origin(40 * 25), FRAMES, FPS, cache=cache)
    assert outside.path == "none" and outside.phones == ()


def test_an_unreadable_entry_is_timed_again(tmp_path: Path) -> None:
    cache = UtteranceCache(tmp_path)
    first = placed_phone_track(_origin(0), FRAMES, FPS, cache=cache)
    for entry in tmp_path.glob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    again = placed_phone_track(_origin(0), FRAMES, FPS, cache=cache)
    assert again.details["utterances_reused"] == 0 and again.phones == first.phones


def test_timing_a_line_ahead_fills_what_any_range_placed_there_reads() -> None:
    """What the panel's `learn` of a picked line does, in the user folder's cache (the test's own)."""
    ahead = learn_line_ahead(_origin(0), seconds=8)
    assert ahead.details["utterances_recognised"] >= 2
    for offset in (0, 3, 25):
        track = placed_phone_track(_origin(offset), FRAMES, FPS)
        assert track.details["utterances_recognised"] == 0, (offset, track.details)


def test_cancelling_stops_between_utterances(tmp_path: Path) -> None:
    with pytest.raises(JobCancelledError):
        placed_phone_track(_origin(0), FRAMES, FPS, cache=UtteranceCache(tmp_path), is_cancelled=lambda: True)


def test_a_silent_line_has_no_phones(tmp_path: Path) -> None:
    path = make_click_wav(tmp_path / "silence.wav", rate=16_000, num_samples=16_000 * 5, clicks=[])
    track = placed_phone_track(LineOrigin(path, Fraction(0)), FRAMES, FPS, cache=UtteranceCache(tmp_path / "c"))
    assert track.path == "none" and "silent" in track.reason


def test_a_line_timed_aside_leaves_the_job_nothing_to_recognise_and_the_same_phones(tmp_path: Path) -> None:
    """The job's line timed in a process of its own (`line_aside`) fills the utterance cache the job then
    reads: the job recognises nothing itself, and its phones are those of an in-process timing."""
    from mytalk.core.audio.line_aside import LineTimingAside
    from mytalk.core.audio.line_phones import needs_timing

    assert needs_timing(_origin(5), FRAMES, FPS)
    with LineTimingAside(_origin(5), FRAMES, FPS, "en") as aside:
        assert aside.started
        assert aside.wait()
    assert not needs_timing(_origin(5), FRAMES, FPS)
    job = placed_phone_track(_origin(5), FRAMES, FPS)
    assert job.details["utterances_recognised"] == 0 and job.details["utterances_reused"] >= 1
    fresh = placed_phone_track(_origin(5), FRAMES, FPS, cache=UtteranceCache(tmp_path / "fresh"))
    assert fresh.details["utterances_recognised"] >= 1
    assert (job.phones, job.path, job.confidence, job.words) == (fresh.phones, fresh.path, fresh.confidence,
                                                                 fresh.words)
    with LineTimingAside(_origin(5), FRAMES, FPS, "en") as again:
        assert not again.started, "everything is cached: no process"


def test_cancelling_a_line_timed_aside_ends_its_process() -> None:
    import time

    from mytalk.core.audio.line_aside import LineTimingAside

    aside = LineTimingAside(_origin(0), 25 * 20, FPS, "en")
    assert aside._worker is not None
    process = aside._worker.process
    began = time.monotonic()
    with pytest.raises(JobCancelledError):
        aside.wait(is_cancelled=lambda: time.monotonic() - began > 0.2)
    assert process is not None and not process.is_alive()
    aside.close()


def test_an_utterance_the_range_only_touches_in_a_pause_is_not_recognised(tmp_path: Path) -> None:
    """JFK pauses from 4.33 s to 5.41 s, and the file's next utterance is cut at 4.865 s, the pause's middle: a
    5 s range takes only silence from it, so it is not recognised (0.8 CPU-seconds of a cold first preview);
    the range's last frames are silence either way. A runtime times it once the job's first frame is out
    (`time_skipped_later`, on its pool), and a slip that brings its speech into the range reads it."""
    from mytalk.core.audio.line_aside import time_skipped_later
    from mytalk.core.audio.line_phones import needs_timing, untimed_utterances
    from mytalk.core.audio.phone_workers import PhoneWorkers

    cache = UtteranceCache()
    pieces = _file_utterances(LineOrigin(media_path("audio", LINE), Fraction(0)), 0, 5 * 16_000, cache).pieces
    assert pieces is not None and [round(p.first / 16_000, 3) for p in pieces] == [0.0, 3.845, 4.865]
    assert len(untimed_utterances(_origin(0), 125, FPS, cache=cache)) == 2
    placed = placed_phone_track(_origin(0), 125, FPS, cache=cache)
    assert placed.details["utterances_recognised"] == 2 and placed.details["utterances_reused"] == 0
    tail = [p.label for p in placed.phones if p.end_s > 4.45]
    assert tail and set(tail) == {SILENCE}
    assert not needs_timing(_origin(0), 125, FPS, cache=cache)
    [third] = skipped_utterances(_origin(0), 125, FPS, cache=cache)
    assert third == pieces[2].pcm
    with PhoneWorkers(count=1, forking=False) as pool:
        assert time_skipped_later(_origin(0), 125, FPS, "en", pool) == 1
    assert skipped_utterances(_origin(0), 125, FPS, cache=cache) == []
    # The line 12 frames earlier on the range: it now ends at 5.48 s, in the next word, read from the cache.
    later = placed_phone_track(_origin(12), 125, FPS, cache=cache)
    assert later.details["utterances_recognised"] == 0 and later.details["utterances_reused"] == 3
    assert any(p.label != SILENCE for p in later.phones if p.start_s >= 4.9)
    fresh = placed_phone_track(_origin(12), 125, FPS, cache=UtteranceCache(tmp_path / "fresh"))
    assert (fresh.phones, fresh.path) == (later.phones, later.path)
