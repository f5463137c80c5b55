"""Crash-proof versions (issue #16): a commit killed with SIGKILL leaves nothing in the render folder, and the
next commit of the same range is v001.

The commit runs in a real `mytalk runtime` (the process the panel talks to), stopped by `fault_harness.py`
at the start of a job stage and then killed by pid with SIGKILL: no `finally`, no signal handler, no
clean-up of its own runs. Its partial files wait in a job folder under the user's scratch folder and its
version locks in the user's cache, so the render folder is exactly as it was; the next start (a fresh
runtime, as the panel starts one after a crash) or the next commit (in a runtime that was already
running) undoes the rest. Clips are short synthetic ones rendered with the `copy` engine into FFV1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import media_factory as mf
from cli_helpers import MYTALK
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.staging import staging_root
from mytalk.core.jobs.versioning import lock_folder

HARNESS = Path(__file__).with_name("fault_harness.py")
TIMEOUT_S = 60
DELIVERED = ["clip_0-36_v001.json", "clip_0-36_v001.mkv"]

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file() or os.name != "posix",
                                reason="the runtime is stopped and killed by pid, its state read from /proc (Linux)")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("crash_inputs")
    clip = mf.make_h264(folder / "clip.mp4", num_frames=36)
    line = mf.make_click_wav(folder / "line.wav", rate=48000, num_samples=48000 * 2, clicks=[1000, 40000])
    return clip, line


def _home() -> Path:
    return Path(os.environ["MYTALK_HOME"])


def _listing(folder: Path) -> list[str]:
    """Every name in a folder, hidden ones too; [] for a folder that does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _leftovers() -> dict[str, list[str]]:
    """What of a job is still anywhere in MyTalk's own folders: journal records, job folders, lock files."""
    return {"journal": _listing(_home() / "cache" / "journal"), "staging": _listing(staging_root()),
            "locks": _listing(lock_folder())}


NOTHING_LEFT = {"journal": [], "staging": [], "locks": []}


def _commit_line(clip: Path, line: Path, folder: Path, job_id: str) -> bytes:
    request = {"video": str(clip), "audio": str(line), "output": str(folder), "engine": "copy", "codec": "ffv1"}
    return json.dumps({"v": 1, "type": "commit", "id": job_id, "request": request}).encode() + b"\n"


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _kill_runtime_at(stage: str, feed: bytes, tmp_path: Path) -> None:
    """Start `mytalk runtime` under the harness, send it `feed`, and SIGKILL it once it stops at `stage`."""
    with (tmp_path / "runtime.err").open("wb") as err:
        runtime = subprocess.Popen([sys.executable, str(HARNESS), stage, "runtime"], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ))
    assert runtime.stdin is not None
    runtime.stdin.write(feed)
    runtime.stdin.flush()
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while _state(runtime.pid) != "T":
            if runtime.poll() is not None:
                pytest.fail(f"the runtime ended before stage {stage!r}: {(tmp_path / 'runtime.err').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the runtime did not reach stage {stage!r} within {TIMEOUT_S} s")
            time.sleep(0.02)
        os.kill(runtime.pid, signal.SIGKILL)
    finally:
        runtime.kill()  # no-op once it is dead; a failed wait above must not leave it stopped for ever
        runtime.wait(timeout=TIMEOUT_S)
        runtime.stdin.close()
    assert runtime.returncode == -signal.SIGKILL


def _commit_in_a_fresh_runtime(feed: bytes) -> dict[str, Any]:
    """Start a runtime as the panel does after a crash, commit once, and return the job's last event."""
    runtime = subprocess.Popen([str(MYTALK), "runtime"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=dict(os.environ))
    assert runtime.stdin is not None and runtime.stdout is not None
    try:
        runtime.stdin.write(feed)
        runtime.stdin.flush()
        for raw in runtime.stdout:
            event = json.loads(raw)
            if event.get("id") == "j2" and event["event"] in ("done", "error"):
                return event
        pytest.fail("the runtime ended without answering the commit")
    finally:
        runtime.stdin.close()  # end of input: the runtime shuts down
        runtime.wait(timeout=TIMEOUT_S)


@pytest.mark.parametrize("stage", ["render", "mux", "commit"])
def test_a_runtime_killed_mid_commit_leaves_nothing_in_the_render_folder_and_the_next_commit_is_v001(
        stage: str, inputs: tuple[Path, Path], tmp_path: Path) -> None:
    clip, line = inputs
    renders = tmp_path / "renders"
    renders.mkdir()
    _kill_runtime_at(stage, _commit_line(clip, line, renders, "j1"), tmp_path)

    assert _listing(renders) == [], "a killed commit leaves no partial file and no lock in the render folder"
    left = _leftovers()
    assert left["journal"] and left["locks"], f"the killed job's record and version locks are in the cache: {left}"
    # The job's own folder (and, once encoding began, its partial files) under the user's scratch folder.
    assert left["staging"] and all(name.startswith(".mytalk-") for name in left["staging"]), left
    if stage != "render":
        assert [p for p in staging_root().rglob(".mytalk-*") if p.is_file()], "the partial picture is there"

    done = _commit_in_a_fresh_runtime(_commit_line(clip, line, renders, "j2"))
    assert done["event"] == "done" and done["result"]["version"] == 1, done
    assert _listing(renders) == DELIVERED
    assert _leftovers() == NOTHING_LEFT


def test_a_commit_killed_while_putting_its_files_in_place_is_undone_by_the_next_commit(
        inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """Killed just after the picture was renamed into place, before its sidecar: the one moment the render
    folder holds something of a killed job. The next commit, in a process that was already running (no
    start-up sweep), takes it away first, and is v001 itself."""
    clip, line = inputs
    renders = tmp_path / "renders"
    renders.mkdir()
    _kill_runtime_at("rename-1", _commit_line(clip, line, renders, "j1"), tmp_path)
    assert _listing(renders) == ["clip_0-36_v001.mkv"], "half committed: the picture without its sidecar"

    session = commands.JobSession(preview_dir=tmp_path / "previews")
    result = commands.commit(session, SyncRequest(video=clip, audio=line, output=renders, engine="copy",
                                                  codec="ffv1"))
    assert result.version == 1 and _listing(renders) == DELIVERED
    assert json.loads(result.sidecar.read_text())["output"]["path"] == str(result.output)
    assert _leftovers() == NOTHING_LEFT


def test_a_stale_lock_never_burns_a_version_number(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """The killed commit's lock file is still in the cache (no start-up sweep ran): nobody holds it, so the
    next commit takes v001 over instead of moving on to v002."""
    clip, line = inputs
    renders = tmp_path / "renders"
    renders.mkdir()
    _kill_runtime_at("render", _commit_line(clip, line, renders, "j1"), tmp_path)
    stale = _leftovers()["locks"]
    assert len(stale) == 2, stale  # the picture's and the sidecar's

    # Only the version reservation, without the commit's own sweep: the lock alone must not take v001.
    from mytalk.core.jobs.versioning import next_version, reserve_version

    assert next_version(renders, "clip_0-36", (".mkv", ".json")) == 1
    with reserve_version(renders, "clip_0-36", (".mkv", ".json")) as slot:
        assert slot.version == 1
    assert _listing(renders) == []
