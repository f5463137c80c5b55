"""The one parser of `--face X,Y` and of `FILE[:IN-OUT]`, used by sync, actor build and dataset build."""

from __future__ import annotations

from pathlib import Path

import pytest

from mytalk.core.engines.mytalk.dataset import parse_spec
from mytalk.core.errors import UsageError
from mytalk.core.face.tracker import parse_face_point as tracker_parse_face_point
from mytalk.core.jobs.request import parse_face_point as request_parse_face_point
from mytalk.core.settings import parse_face_point, split_media_spec


def test_there_is_one_face_point_parser() -> None:
    assert tracker_parse_face_point is parse_face_point is request_parse_face_point
    assert parse_face_point(None) is None and parse_face_point("  ") is None
    assert parse_face_point(" 10.5, 20 ") == (10.5, 20.0)
    for bad in ("640", "a,b", "1,2,3", "inf,2", "nan,1"):
        with pytest.raises(UsageError, match=r"^--face "):
            parse_face_point(bad)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "take 1.mov"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    ("suffix", "expected_range"),
    [
        ("", None),
        (":0-120", "0-120"),
        (":0s-4.8s", "0s-4.8s"),
        (":00:00:01:00-00:00:02:12", "00:00:01:00-00:00:02:12"),  # timecodes hold colons too
        (":-48", "-48"),
    ],
)
def test_file_and_range_split_at_the_file(clip: Path, suffix: str, expected_range: str | None) -> None:
    assert split_media_spec(f"{clip}{suffix}") == (clip, expected_range)


def test_a_file_whose_name_holds_a_colon_is_taken_whole(tmp_path: Path) -> None:
    odd = tmp_path / "scene:2.mov"
    odd.write_bytes(b"")
    assert split_media_spec(str(odd)) == (odd, None)
    assert split_media_spec(f"{odd}:5-10") == (odd, "5-10")


def test_a_missing_video_still_splits_so_the_error_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.MOV"
    assert split_media_spec(f"{missing}:00:00:01:00-00:00:02:00") == (missing, "00:00:01:00-00:00:02:00")
    assert split_media_spec("0-120") == (Path("0-120"), None)  # a range of the clip itself, not a file


def test_dataset_specs_use_the_same_grammar(clip: Path) -> None:
    assert parse_spec(f"{clip}:00:00:01:00-00:00:02:00") == (clip, "00:00:01:00-00:00:02:00")
    assert parse_spec(clip) == (clip, "")
