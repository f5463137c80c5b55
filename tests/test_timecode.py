"""Timecode parsing and formatting: frames, seconds, SMPTE and drop-frame."""

from __future__ import annotations

from fractions import Fraction

import pytest

from mytalk.core.errors import UsageError
from mytalk.core.timecode import (
    format_fps,
    frames_to_smpte,
    parse_offset_seconds,
    parse_position,
    seconds_to_frame,
)

NTSC = Fraction(30000, 1001)
NTSC60 = Fraction(60000, 1001)
FILM = Fraction(24000, 1001)


@pytest.mark.parametrize(
    ("text", "fps", "frame"),
    [
        ("0", Fraction(25), 0),
        ("120", Fraction(25), 120),
        ("2.5s", Fraction(25), 63),  # 62.5 frames: halves round up
        ("2s", Fraction(25), 50),
        ("400ms", Fraction(25), 10),
        ("1.0s", NTSC, 30),  # 29.97 frames
        ("00:00:05:00", Fraction(25), 125),
        ("00:00:01:00", NTSC, 30),
        ("00:01:00;02", NTSC, 1800),  # first label after the drop at minute 1
        ("00:00:59;29", NTSC, 1799),
        ("00:10:00;00", NTSC, 17982),  # tenth minute keeps its labels
        ("01:00:00;00", NTSC, 107892),  # an hour of 29.97 DF is 107892 frames
        ("01:00:00;00", NTSC60, 215784),
        ("00:00:01:00", Fraction(2213, 100), 22),  # odd rates count 22 frames per timecode second
    ],
)
def test_parse_position(text: str, fps: Fraction, frame: int) -> None:
    assert parse_position(text, fps) == frame


@pytest.mark.parametrize("fps", [NTSC, NTSC60])
def test_drop_frame_round_trip_over_an_hour(fps: Fraction) -> None:
    for frame in list(range(0, 4000)) + list(range(17970, 18010)) + [107891, 107892, 215783]:
        label = frames_to_smpte(frame, fps)
        assert ";" in label
        assert parse_position(label, fps) == frame, label


def test_non_drop_round_trip() -> None:
    for fps in (Fraction(24), FILM, Fraction(25), Fraction(2213, 100), Fraction(50)):
        for frame in range(0, 5000, 7):
            assert parse_position(frames_to_smpte(frame, fps), fps) == frame


def test_drop_frame_labels_skip() -> None:
    assert frames_to_smpte(1799, NTSC) == "00:00:59;29"
    assert frames_to_smpte(1800, NTSC) == "00:01:00;02"
    assert frames_to_smpte(17982, NTSC) == "00:10:00;00"
    assert frames_to_smpte(3600, NTSC60) == "00:01:00;04"


def test_source_timecode() -> None:
    assert parse_position("@01:00:10:00", Fraction(25), source_start="01:00:00:00") == 250
    with pytest.raises(UsageError, match="no source timecode"):
        parse_position("@01:00:10:00", Fraction(25))


@pytest.mark.parametrize(
    ("text", "fps", "message"),
    [
        ("00:01:00;00", NTSC, "does not exist in drop-frame"),
        ("00:00:01;00", Fraction(25), "only exists at 29.97"),
        ("00:00:00:25", Fraction(25), "not valid"),
        ("abc", Fraction(25), "not a position"),
        ("", Fraction(25), "empty"),
    ],
)
def test_bad_positions(text: str, fps: Fraction, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_position(text, fps)


def test_offsets_keep_exact_seconds() -> None:
    assert parse_offset_seconds("0.0125s", Fraction(25)) == Fraction(1, 80)
    assert parse_offset_seconds("-0.4s", Fraction(25)) == Fraction(-2, 5)
    assert parse_offset_seconds("10", Fraction(25)) == Fraction(2, 5)
    assert parse_offset_seconds("-10", Fraction(25)) == Fraction(-2, 5)
    assert parse_offset_seconds("00:00:01:00", NTSC) == Fraction(1001, 1000)


def test_helpers() -> None:
    assert seconds_to_frame(Fraction(1), NTSC) == 30
    assert format_fps(NTSC) == "29.97"
    assert format_fps(FILM) == "23.976"
    assert format_fps(Fraction(25)) == "25"
