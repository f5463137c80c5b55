"""The line's phone timing is cached by the line's samples, transcript and language."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import media_path
from mytalk.core.audio.phone_cache import cached_phone_track, line_key
from mytalk.core.media.audio import AudioTrack, decode_audio


def _line(seconds: float = 3.0) -> AudioTrack:
    track = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), 16_000, channels=1)
    return AudioTrack(track.samples[:, : int(seconds * 16_000)].copy(), 16_000)


def test_a_second_call_reads_the_same_phones_from_the_cache(tmp_path: Path) -> None:
    line = _line()
    first, hit_first = cached_phone_track(line, folder=tmp_path)
    second, hit_second = cached_phone_track(line, folder=tmp_path)
    assert (hit_first, hit_second) == (False, True)
    assert first.phones and second.phones == first.phones
    assert (second.path, second.reason, second.confidence, second.words) == (first.path, first.reason,
                                                                              first.confidence, first.words)
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_the_key_follows_samples_transcript_and_language() -> None:
    line = _line(1.0)
    other = AudioTrack(line.samples * np.float32(0.5), line.rate)
    keys = {line_key(line, None, "en"), line_key(other, None, "en"), line_key(line, "ask not", "en"),
            line_key(line, None, "es")}
    assert len(keys) == 4
    assert line_key(line, None, "en") == line_key(AudioTrack(line.samples.copy(), line.rate), None, "en")


def test_an_unreadable_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    line = _line(2.0)
    track, _ = cached_phone_track(line, folder=tmp_path)
    entry = next(tmp_path.glob("*.json"))
    entry.write_text("{not json", encoding="utf-8")
    again, hit = cached_phone_track(line, folder=tmp_path)
    assert not hit and again.phones == track.phones
    assert cached_phone_track(line, folder=tmp_path)[1]
