"""`mytalk actor build | list | remove` and `sync --actor` under the isolated MYTALK_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.engines.actors import profile_folder
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_store import load_profile

pytestmark = pytest.mark.media

BOB = "hdtf_wda_bobmenendez_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"


def test_actor_build_list_use_remove_round_trip(tmp_path: Path, isolated_user_dirs: Path) -> None:
    clip = media_path("video", BOB)
    built = run_mytalk("actor", "build", "bob", f"{clip}:0-60", "--quiet")
    assert built.code == 0, built.stderr
    assert "built actor 'bob'" in built.stderr
    folder = profile_folder("bob")
    assert folder.is_relative_to(isolated_user_dirs)
    assert (folder / "profile.json").is_file() and (folder / "profile.npz").is_file()

    listed = run_mytalk("actor", "list", "--json")
    assert listed.code == 0, listed.stderr
    actors = json.loads(listed.stdout)["actors"]
    assert [a["name"] for a in actors] == ["bob"]
    assert actors[0]["sources"][0]["start"] == 0 and actors[0]["sources"][0]["stop"] == 60

    # What was stored is what is loaded: the profile learned frames 0-59 only.
    profile = load_profile("bob")
    assert isinstance(profile, ActorProfile)
    assert profile.frames.frame.min() == 0 and profile.frames.frame.max() == 59
    assert len(profile.appearance) > 0 and all(0 <= f < 60 for _, f in profile.appearance_frames())
    crop = profile.appearance.image(0)
    assert crop.ndim == 3 and crop.shape[2] == 3 and 0.0 <= float(crop.min()) and float(crop.max()) <= 1.0
    assert np.isfinite(profile.speech.weights).all()

    out = tmp_path / "actor.mkv"
    report = tmp_path / "actor.json"
    synced = run_mytalk("sync", clip, "--audio", media_path("audio", LINE), "-o", out, "--in", 120, "--out", 140,
                        "--actor", "bob", "--codec", "ffv1", "--report", report, "--quiet")
    assert synced.code == 0, synced.stderr
    used = json.loads(report.read_text())["engine_report"]["profile"]
    assert used["name"] == "bob" and used["temporary"] is False

    removed = run_mytalk("actor", "remove", "bob")
    assert removed.code == 0, removed.stderr
    assert not folder.exists()
    assert json.loads(run_mytalk("actor", "list", "--json").stdout)["actors"] == []

    missing = run_mytalk("sync", clip, "--audio", media_path("audio", LINE), "-o", tmp_path / "none.mkv",
                         "--in", 120, "--out", 140, "--actor", "bob", "--quiet")
    assert missing.code == 2 and len(missing.stderr_lines) == 1
    assert "no actor profile named 'bob'" in missing.stderr
    assert not (tmp_path / "none.mkv").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("actor", "build", "bad/name", "x.mp4"), "actor name"),
        (("actor", "remove", "ghost"), "no actor profile named 'ghost'"),
        (("actor", "build", "ok", "/no/such/clip.mp4"), "not found"),
    ],
)
def test_actor_command_errors_are_one_clear_line(args: tuple[str, ...], words: str) -> None:
    result = run_mytalk(*args)
    assert result.code == 2, result.stderr
    assert len(result.stderr_lines) == 1 and words in result.stderr, result.stderr
