"""Phones timed in the helper process are the phones the caller would time itself (an actor's footage:
`PhoneTimer.footage_track`); cancelling ends it."""

from __future__ import annotations

import time

import pytest

from conftest import media_path
from mytalk.core.audio.phone_helper import PhoneHelper
from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.errors import JobCancelledError
from mytalk.core.media.audio import AudioTrack, decode_audio


def _line(first_s: float, seconds: float) -> AudioTrack:
    track = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16_000, channels=1)
    a = int(first_s * 16_000)
    return AudioTrack(track.samples[:, a : a + int(seconds * 16_000)].copy(), 16_000)


def test_the_helper_times_the_same_phones_in_the_order_sent() -> None:
    lines = [_line(0.0, 3.0), _line(4.0, 3.0)]
    with PhoneHelper() as helper:
        assert all(helper.send(line) for line in lines)
        answers = [helper.track(), helper.track()]
        assert helper.track() is None, "nothing more was sent"
    timer = PhoneTimer()
    for line, answer in zip(lines, answers, strict=True):
        own = timer.footage_track(line)
        assert answer is not None and answer.path == "phone-loop"
        assert (answer.phones, answer.path, answer.confidence, answer.words) == (own.phones, own.path,
                                                                                 own.confidence, own.words)


def test_cancelling_while_it_times_stops_the_wait_and_ends_the_process() -> None:
    helper = PhoneHelper()
    assert helper.send(_line(0.0, 10.0))
    process = helper._process
    began = time.monotonic()
    with pytest.raises(JobCancelledError):
        helper.track(is_cancelled=lambda: time.monotonic() - began > 0.3)
    helper.close()
    assert process is not None and not process.is_alive()


def test_a_helper_that_died_says_so_and_the_caller_times_it_itself() -> None:
    with PhoneHelper() as helper:
        assert helper.send(_line(0.0, 2.0))
        helper._process.kill()
        assert helper.track() is None
        assert not helper.send(_line(0.0, 2.0)), "a dead helper is not used again"
