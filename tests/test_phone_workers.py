"""A runtime's warm phone workers answer what a freshly spawned helper would, and a lost one is replaced.

Both ways a pool runs: a fork server, each task in a fork of it (`phone_forks`, Linux), and spawned workers
(elsewhere, and `forking=False`)."""

from __future__ import annotations

import os
import signal
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.audio.line_aside import LineTimingAside
from mytalk.core.audio.line_phones import LineOrigin, UtteranceCache, needs_timing, placed_phone_track
from mytalk.core.audio.phone_forks import can_fork
from mytalk.core.audio.phone_helper import PhoneHelper
from mytalk.core.audio.phone_recognition import Utterance
from mytalk.core.audio.phone_timing import PhoneTimer, PhoneTrack, UtteranceTiming
from mytalk.core.audio.phone_workers import PhoneWorkers
from mytalk.core.audio.phonemes import _to_pcm16
from mytalk.core.errors import JobCancelledError
from mytalk.core.media.audio import AudioTrack, decode_audio

FPS = Fraction(25)


@pytest.fixture(params=["forks", "spawned"])
def forking(request: pytest.FixtureRequest) -> bool:
    """Which way the pool runs its tasks (`PhoneWorkers(forking=...)`)."""
    if request.param == "forks" and not can_fork():
        pytest.skip("a fork server runs only on Linux")
    return bool(request.param == "forks")


def _clip_sound() -> AudioTrack:
    return decode_audio(media_path("video", "hdtf_wda_katiehill_512.mp4"), 16_000, channels=1)


def _line(seconds: float) -> AudioTrack:
    track = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16_000, channels=1)
    return AudioTrack(track.samples[:, : int(seconds * 16_000)].copy(), 16_000)


def _same(a: PhoneTrack | None, b: PhoneTrack) -> bool:
    assert a is not None
    return (a.phones, a.path, a.confidence, a.words) == (b.phones, b.path, b.confidence, b.words)


LONG_S = 66.0
"""The length of `_long_footage`."""


def _long_footage() -> AudioTrack:
    """Footage whose phones take a task seconds to time (the phone loop runs at about 0.05 of real time), so
    that it is still running when a test cancels it, kills its process or queues others behind it."""
    return AudioTrack(np.tile(_line(11.0).samples, (1, round(LONG_S / 11.0))), 16_000)


def _pcm(first_s: float, seconds: float) -> bytes:
    """A piece of the line as a line's utterance is sent to the pool (16 kHz mono int16)."""
    track = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16_000, channels=1)
    return _to_pcm16(AudioTrack(track.samples[:, int(first_s * 16_000) : int((first_s + seconds) * 16_000)].copy(),
                                16_000))


def _as_fresh(pcm: bytes) -> tuple[object, ...]:
    """What fresh decoders make of a line's utterance (word recognition, alignment, the phone loop)."""
    timing = PhoneTimer().time_utterance(Utterance(0.0, len(pcm) / 2 / 16_000, pcm), True)
    return _fields(timing)


def _fields(timing: UtteranceTiming | None) -> tuple[object, ...]:
    assert timing is not None
    return (timing.loop_phones, timing.loop_score, timing.words, timing.word_phones, timing.align_score)


def _timed_on(pool: PhoneWorkers, pcm: bytes) -> tuple[object, ...]:
    """A line's utterance timed by a task of `pool`, as the task left it in the utterance cache."""
    handle = pool.submit(("utterance", pcm, "en"), seconds=len(pcm) / 2 / 16_000)
    assert handle is not None
    outcome = handle.wait()
    assert outcome is not None and outcome[0] == "ok", outcome
    return _fields(UtteranceCache().get(UtteranceCache.key(pcm, "en")))


def _pool_pids(pool: PhoneWorkers, count: int = 1, timeout: float = 60.0) -> list[int]:
    """The pool's process pids once `count` live workers or slots are up (the pool starts them in the
    background): `count` spawned workers, or one fork server."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pids = pool.pids
        if len(pool.tasks_run) == count and pids and all(Path(f"/proc/{pid}").exists() for pid in pids):
            return pids
        time.sleep(0.1)
    raise AssertionError(f"the pool did not come up with {count} worker(s): {pool.pids}")


def _loaded_pids(pool: PhoneWorkers, count: int = 1) -> list[int]:
    """Start the pool and wait until its `count` workers or slots are up and loaded; its process pids."""
    pool.start()
    pids = _pool_pids(pool, count)
    assert pool.wait_loaded(60)
    return pids


def _assert_replaced(pool: PhoneWorkers, lost_pid: int) -> None:
    """The pool has started a live worker in place of the one with `lost_pid`."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        pids = pool.pids
        if pids and lost_pid not in pids:
            return
        time.sleep(0.1)
    raise AssertionError(f"no worker replaced {lost_pid}: {pool.pids}")


def _children(pid: int) -> list[int]:
    """The live child processes of `pid` (a fork server's running tasks)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _wait_for_children(pid: int, count: int, timeout: float = 30.0, *, besides: tuple[int, ...] = ()) -> list[int]:
    """The `count` live children of `pid`, none of them in `besides`, once there are."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        children = _children(pid)
        if len(children) == count and not set(children) & set(besides):
            return children
        time.sleep(0.02)
    raise AssertionError(f"{pid} has children {_children(pid)}, not {count}")


def test_a_pool_worker_answers_as_a_fresh_helper_whatever_it_timed_before(forking: bool) -> None:
    """A worker keeps its decoders from task to task; what it timed before must not change its answer
    (`phonemes.forget_history`: a pocketsphinx decoder otherwise remembers, `test_phone_history`)."""
    clip, line = _clip_sound(), _line(4.0)
    fresh = PhoneTimer().footage_track(line)
    first_words, second_words = _pcm(0.0, 3.8), _pcm(4.9, 3.9)
    fresh_words = _as_fresh(second_words)
    with PhoneWorkers(count=1, forking=forking) as pool:
        pool.start()
        [pid] = _pool_pids(pool)
        with PhoneHelper(pool) as first:
            assert first.send(clip)
            assert first.track() is not None
        with PhoneHelper(pool) as second:
            assert second.send(line)
            assert _same(second.track(), fresh)
        # A line's utterances go through the word recogniser too: the second is timed as on fresh decoders.
        _timed_on(pool, first_words)
        assert _timed_on(pool, second_words) == fresh_words
        assert pool.pids == [pid], "the same worker ran them all, no process was spawned for them"


def test_a_worker_that_forgot_while_idle_answers_as_a_fresh_helper_too() -> None:
    """The decoders forget a task while the worker is idle (`FORGET_AFTER_S`) rather than at the next one."""
    from mytalk.core.audio.phone_workers import FORGET_AFTER_S

    clip, line = _clip_sound(), _line(4.0)
    fresh = PhoneTimer().footage_track(line)
    with PhoneWorkers(count=1, forking=False) as pool:
        pool.start()
        with PhoneHelper(pool) as first:
            assert first.send(clip) and first.track() is not None
        time.sleep(FORGET_AFTER_S + 1.5)
        with PhoneHelper(pool) as second:
            assert second.send(line)
            assert _same(second.track(), fresh)


def test_pending_tasks_go_out_first_ones_first_then_the_longest_first(forking: bool) -> None:
    """Two workers finish a job's phones together when the longest sound goes first (the clip's 8 s before a
    line's 1 s utterance), and the task that finds a line's utterances goes before all of them."""
    silence = np.zeros((1, 16_000 * 9), np.float32)
    ended: list[str] = []
    with PhoneWorkers(count=1, forking=forking) as pool:
        pool.start()
        _pool_pids(pool)
        busy = pool.submit(("clip", _long_footage().samples, 16_000), seconds=LONG_S)
        assert busy is not None
        time.sleep(0.3)  # taken by the worker: the next ones wait in the queue
        for name, seconds, first in (("short", 1.0, False), ("long", 9.0, False), ("first", 0.0, True)):
            handle = pool.submit(("clip", silence[:, : int(16_000 * max(seconds, 0.5))], 16_000), seconds=seconds,
                                 first=first)
            assert handle is not None
            handle.on_done(lambda outcome, name=name: ended.append(name))
        last = pool.submit(("clip", silence[:, :8000], 16_000), seconds=0.5)
        assert last is not None and last.wait() is not None
        assert busy.wait() is not None and busy.wait()[0] == "ok"
    assert ended == ["first", "long", "short"]


def test_a_cancelled_task_ends_its_worker_and_the_pool_starts_another() -> None:
    with PhoneWorkers(count=1, forking=False) as pool:
        pool.start()
        [pid] = _pool_pids(pool)
        helper = PhoneHelper(pool)
        assert helper.send(_long_footage())
        began = time.monotonic()
        with pytest.raises(JobCancelledError):
            helper.track(is_cancelled=lambda: time.monotonic() - began > 0.3)
        helper.close()
        _assert_replaced(pool, pid)
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], \
            "a busy worker is ended, not kept"


def test_a_worker_that_dies_during_a_task_makes_the_job_time_it_itself_and_is_replaced(forking: bool) -> None:
    """Killed mid-task: the spawned worker, or the fork server itself (with its running child)."""
    with PhoneWorkers(count=1, forking=forking) as pool:
        pool.start()
        [pid] = _pool_pids(pool)
        with PhoneHelper(pool) as helper:
            assert helper.send(_long_footage())
            time.sleep(0.5)
            os.kill(pid, signal.SIGKILL)
            assert helper.track() is None, "the caller times it in-process"
        _assert_replaced(pool, pid)


def test_a_worker_killed_while_idle_never_gets_a_task_and_is_replaced(forking: bool) -> None:
    line = _line(4.0)
    fresh = PhoneTimer().footage_track(line)
    with PhoneWorkers(count=1, forking=forking) as pool:
        pool.start()
        [pid] = _pool_pids(pool)
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        with PhoneHelper(pool) as helper:
            assert helper.send(line)
            assert _same(helper.track(), fresh), "the task waited for the replacement"
        _assert_replaced(pool, pid)


def test_a_line_timed_aside_on_the_pool_shares_its_utterances_and_fills_the_cache_with_the_in_process_phones(
        tmp_path: Path, forking: bool) -> None:
    """A cold job's phones on two workers: the clip's own sound and the line's utterances, each a task of the
    pool, so both workers time some; the cache then holds what the job would have timed itself."""
    origin = LineOrigin(media_path("audio", "jfk_inaugural_en_16k.wav"), Fraction(0))
    frames = 125
    with PhoneWorkers(count=2, forking=forking) as pool:
        pids = _loaded_pids(pool, 2)
        assert needs_timing(origin, frames, FPS)
        with PhoneHelper(pool) as helper, LineTimingAside(origin, frames, FPS, "en", workers=pool) as aside:
            assert aside.started
            assert helper.send(_clip_sound())
            assert aside.wait()
            assert helper.track() is not None
        assert not needs_timing(origin, frames, FPS)
        assert sorted(pool.pids) == sorted(pids), "workers that answered stay in the pool"
        assert all(count > 0 for count in pool.tasks_run), pool.tasks_run
    job = placed_phone_track(origin, frames, FPS)
    assert job.details["utterances_recognised"] == 0
    own = placed_phone_track(origin, frames, FPS, cache=UtteranceCache(tmp_path / "own"))
    assert own.details["utterances_recognised"] >= 2
    assert (job.phones, job.path, job.words) == (own.phones, own.path, own.words)


def test_a_pool_not_started_is_started_by_its_first_task_and_a_closed_one_takes_none(forking: bool) -> None:
    """A job sent before the runtime's warm-up starts the workers every later job uses."""
    line = _line(2.0)
    with PhoneWorkers(count=2, forking=forking) as pool:
        assert pool.pids == []
        handle = pool.submit(("clip", line.samples, 16_000), seconds=2.0)
        assert handle is not None and len(pool.tasks_run) == 2
        assert len(pool.pids) == (1 if forking else 2), "one fork server, or two spawned workers"
        outcome = handle.wait()
        assert outcome is not None and outcome[0] == "ok"
        assert _same(PhoneTrack.from_dict(outcome[1]), PhoneTimer().footage_track(line))
        pids = _pool_pids(pool, 2)
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids), "closing the pool ends its workers"
    assert pool.submit(("clip", line.samples, 16_000)) is None


def test_a_line_learned_ahead_with_the_pool_is_timed_on_every_worker_and_reads_as_the_in_process_phones(
        tmp_path: Path, forking: bool) -> None:
    """The panel's `learn` of a picked line: its 15 s ahead are timed on the warm workers at once, not by
    decoders the runtime would load for it, and a job then reads what it would have timed itself."""
    from mytalk.core.audio.line_phones import LEARN_AHEAD_S
    from mytalk.core.engines.base import EngineSettings
    from mytalk.core.engines.classic.motion_stage import ClassicMotion

    origin = LineOrigin(media_path("audio", "jfk_inaugural_en_16k.wav"), Fraction(0))
    ahead = (origin, LEARN_AHEAD_S * 100, Fraction(100))
    with PhoneWorkers(count=2, forking=forking) as pool:
        _loaded_pids(pool, 2)
        assert needs_timing(*ahead)
        assert ClassicMotion().learn_line(origin, EngineSettings(), lambda *a: None, lambda: False, workers=pool)
        assert all(count > 0 for count in pool.tasks_run), pool.tasks_run
    learned = placed_phone_track(*ahead)
    assert learned.details["utterances_recognised"] == 0, "the workers timed every utterance"
    own = placed_phone_track(*ahead, cache=UtteranceCache(tmp_path / "own"))
    assert own.details["utterances_recognised"] >= 3
    assert (learned.phones, learned.path, learned.words) == (own.phones, own.path, own.words)


@pytest.mark.skipif(not can_fork(), reason="a fork server runs only on Linux")
def test_a_cancelled_task_kills_its_fork_and_the_server_serves_the_next_task_at_once() -> None:
    """A fork server's slot survives a cancel: the fork running the task is killed at once (it may be blocked
    in C for seconds), another is forked for the slot, and the next task is answered as on fresh decoders,
    with nothing to reload or restart."""
    line = _line(4.0)
    fresh = PhoneTimer().footage_track(line)
    with PhoneWorkers(count=1, forking=True) as pool:
        [pid] = _loaded_pids(pool)
        [child] = _wait_for_children(pid, 1)  # forked ahead, before any task
        busy = pool.submit(("clip", _long_footage().samples, 16_000), seconds=LONG_S)
        assert busy is not None
        time.sleep(0.5)
        assert _children(pid) == [child], "the task went to the fork made ahead"
        busy.cancel()
        assert busy.wait() == ("cancelled", "")
        _wait_for_children(pid, 1, timeout=5.0, besides=(child,))
        began = time.monotonic()
        handle = pool.submit(("clip", line.samples, 16_000), seconds=4.0)
        assert handle is not None
        outcome = handle.wait()
        assert outcome is not None and outcome[0] == "ok"
        assert _same(PhoneTrack.from_dict(outcome[1]), fresh)
        assert time.monotonic() - began < 5.0
        assert pool.pids == [pid], "the server stays"
        assert not Path(f"/proc/{child}").exists()


@pytest.mark.skipif(not can_fork(), reason="a fork server runs only on Linux")
def test_a_fork_that_dies_during_a_task_is_lost_and_its_server_serves_the_next_one() -> None:
    line = _line(4.0)
    fresh = PhoneTimer().footage_track(line)
    with PhoneWorkers(count=1, forking=True) as pool:
        [pid] = _loaded_pids(pool)
        with PhoneHelper(pool) as helper:
            [child] = _wait_for_children(pid, 1)
            assert helper.send(_long_footage())
            time.sleep(0.5)
            os.kill(child, signal.SIGKILL)
            assert helper.track() is None, "the caller times it in-process"
        with PhoneHelper(pool) as helper:
            assert helper.send(line)
            assert _same(helper.track(), fresh)
        assert pool.pids == [pid]


@pytest.mark.skipif(not can_fork(), reason="a fork server runs only on Linux")
def test_closing_a_pool_ends_its_server_and_the_fork_still_running() -> None:
    with PhoneWorkers(count=2, forking=True) as pool:
        [pid] = _loaded_pids(pool, 2)
        children = _wait_for_children(pid, 2)
        busy = pool.submit(("clip", _long_footage().samples, 16_000), seconds=LONG_S)
        assert busy is not None
        time.sleep(0.5)
    end = time.monotonic() + 10
    while time.monotonic() < end and any(Path(f"/proc/{p}").exists() for p in [pid, *children]):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{child}").exists() for child in children), "the forks die with their server"
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.skipif(not can_fork(), reason="a fork server runs only on Linux")
def test_a_fork_serves_tasks_while_it_has_fresh_word_decoders_then_another_takes_over() -> None:
    """A fork answers one utterance per fresh word decoder (its own and the spares it inherited), then
    retires rather than reload one; every answer is a fresh decoder's, and the next fork takes over."""
    from mytalk.core.audio.phone_workers import SPARE_WORD_DECODERS

    pieces = [_pcm(2.7 * i, 2.5) for i in range(SPARE_WORD_DECODERS + 2)]  # four pieces of the 11 s line
    fresh = [_as_fresh(pcm) for pcm in pieces]
    with PhoneWorkers(count=1, forking=True) as pool:
        [pid] = _loaded_pids(pool)
        [first] = _wait_for_children(pid, 1)
        for pcm, wanted in zip(pieces[:-1], fresh[:-1], strict=True):
            assert _timed_on(pool, pcm) == wanted
        [second] = _wait_for_children(pid, 1, besides=(first,))
        assert _timed_on(pool, pieces[-1]) == fresh[-1]
        assert _children(pid) == [second]
