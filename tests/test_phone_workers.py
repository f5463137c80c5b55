"""A runtime's warm phone workers answer what a freshly spawned helper would, and a lost one is replaced."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import media_path
from mytalk.core.audio.line_aside import LineTimingAside
from mytalk.core.audio.line_phones import LineOrigin, UtteranceCache, needs_timing, placed_phone_track
from mytalk.core.audio.phone_helper import PhoneHelper
from mytalk.core.audio.phone_timing import PhoneTimer, PhoneTrack
from mytalk.core.audio.phone_workers import PhoneWorker, PhoneWorkers
from mytalk.core.errors import JobCancelledError
from mytalk.core.media.audio import AudioTrack, decode_audio

FPS = Fraction(25)


def _clip_sound() -> AudioTrack:
    return decode_audio(media_path("video", "hdtf_wda_katiehill_512.mp4"), 16_000, channels=1)


def _line(seconds: float) -> AudioTrack:
    track = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16_000, channels=1)
    return AudioTrack(track.samples[:, : int(seconds * 16_000)].copy(), 16_000)


def _same(a: PhoneTrack | None, b: PhoneTrack) -> bool:
    assert a is not None
    return (a.phones, a.path, a.confidence, a.words) == (b.phones, b.path, b.confidence, b.words)


def _idle_worker(pool: PhoneWorkers, timeout: float = 60.0) -> PhoneWorker:
    """Lease a worker once one is up (the pool starts them in the background), for tests that inspect it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        worker = pool.lease()
        if worker is not None:
            return worker
        time.sleep(0.1)
    raise AssertionError("no phone worker came up")


def _assert_replaced(pool: PhoneWorkers, lost_pid: int) -> None:
    """The pool has started a live worker in place of the one with `lost_pid` (it is given back)."""
    replacement = _idle_worker(pool)
    assert replacement.process.pid != lost_pid and replacement.alive()
    pool.give_back(replacement, clean=True)


def test_a_leased_worker_answers_as_a_fresh_helper_whatever_it_timed_before() -> None:
    """A worker keeps its decoders from lease to lease; what it timed before must not change its answer
    (`phonemes.forget_history`: a pocketsphinx decoder otherwise remembers, `test_phone_history`)."""
    clip, line = _clip_sound(), _line(4.0)
    fresh = PhoneTimer().track(line)
    with PhoneWorkers(count=1) as pool:
        pool.start()
        with PhoneHelper(pool) as first:
            assert first.send(clip)
            assert first.track() is not None
            pid = first._process.pid
        with PhoneHelper(pool) as second:
            assert second.send(line)
            assert second._process.pid == pid, "the same worker was lent again, not a new process"
            assert _same(second.track(), fresh)


def test_a_worker_that_forgot_while_idle_answers_as_a_fresh_helper_too() -> None:
    """The decoders forget a task while the worker is idle (`FORGET_AFTER_S`) rather than at the next one."""
    from mytalk.core.audio.phone_workers import FORGET_AFTER_S

    clip, line = _clip_sound(), _line(4.0)
    fresh = PhoneTimer().track(line)
    with PhoneWorkers(count=1) as pool:
        pool.start()
        with PhoneHelper(pool) as first:
            assert first.send(clip) and first.track() is not None
        time.sleep(FORGET_AFTER_S + 1.5)
        with PhoneHelper(pool) as second:
            assert second.send(line)
            assert _same(second.track(), fresh)


def test_a_cancelled_lease_ends_its_worker_and_the_pool_starts_another() -> None:
    with PhoneWorkers(count=1) as pool:
        pool.start()
        helper = PhoneHelper(pool)
        assert helper.send(_line(11.0))
        process = helper._process
        began = time.monotonic()
        with pytest.raises(JobCancelledError):
            helper.track(is_cancelled=lambda: time.monotonic() - began > 0.3)
        helper.close()
        assert not process.is_alive(), "a busy worker is ended, not given back"
        _assert_replaced(pool, process.pid)


def test_a_worker_that_dies_during_a_lease_makes_the_job_time_it_itself_and_is_replaced() -> None:
    with PhoneWorkers(count=1) as pool:
        pool.start()
        with PhoneHelper(pool) as helper:
            assert helper.send(_line(4.0))
            dead = helper._process
            dead.kill()
            assert helper.track() is None, "the caller times it in-process"
        dead.join(5)
        _assert_replaced(pool, dead.pid)


def test_a_worker_killed_while_idle_is_never_lent_and_is_replaced() -> None:
    with PhoneWorkers(count=1) as pool:
        pool.start()
        worker = _idle_worker(pool)
        pool.give_back(worker, clean=True)
        worker.process.kill()
        worker.process.join(5)
        _assert_replaced(pool, worker.process.pid)


def test_a_line_timed_aside_on_a_leased_worker_fills_the_cache_with_the_in_process_phones(tmp_path: Path) -> None:
    origin = LineOrigin(media_path("audio", "jfk_inaugural_en_16k.wav"), Fraction(0))
    frames = 125
    with PhoneWorkers(count=1) as pool:
        pool.start()
        # The worker first times something else: the line must not hear it.
        with PhoneHelper(pool) as before:
            assert before.send(_clip_sound()) and before.track() is not None
            pid = before._process.pid
        assert needs_timing(origin, frames, FPS)
        with LineTimingAside(origin, frames, FPS, "en", workers=pool) as aside:
            assert aside._worker is not None and aside._worker.process.pid == pid
            assert aside.wait()
        assert not needs_timing(origin, frames, FPS)
        back = _idle_worker(pool)
        assert back.process.pid == pid, "a worker that answered goes back to the pool"
        pool.give_back(back, clean=True)
    job = placed_phone_track(origin, frames, FPS)
    assert job.details["utterances_recognised"] == 0
    own = placed_phone_track(origin, frames, FPS, cache=UtteranceCache(tmp_path / "own"))
    assert own.details["utterances_recognised"] >= 1
    assert (job.phones, job.path, job.words) == (own.phones, own.path, own.words)


def test_closing_the_pool_ends_its_idle_workers() -> None:
    pool = PhoneWorkers(count=2)
    pool.start()
    workers = [_idle_worker(pool), _idle_worker(pool)]
    for worker in workers:
        pool.give_back(worker, clean=True)
    pool.close()
    assert all(not worker.process.is_alive() for worker in workers)
    assert pool.lease() is None
