"""The building blocks of "nothing lost": the commit step, version locks, and the clean-up of dead jobs.

Faults are real: a disk remounted read-only in the middle of a commit, a lock file whose owner is
gone, temporary files named for a process that has exited. Nothing of ours is replaced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import MYTALK
from mytalk.core.errors import OutputError
from mytalk.core.filelock import release, try_lock
from mytalk.core.jobs.cleanup import clean_leftovers
from mytalk.core.jobs.staging import StagedOutputs, same_mount, staging_root
from mytalk.core.jobs.versioning import lock_folder, lock_path, reserve_version
from mytalk.core.tempnames import parse_temp_name, temp_path


def _journal() -> list[Path]:
    folder = Path(os.environ["MYTALK_HOME"]) / "cache" / "journal"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _exited_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_commit_puts_every_file_in_place_and_keeps_no_backup(tmp_path: Path) -> None:
    old, new = tmp_path / "render.mkv", tmp_path / "render.json"
    old.write_bytes(b"earlier render")
    with StagedOutputs() as staged:
        staged.stage(old).write_bytes(b"new render")
        staged.stage(new).write_bytes(b"{}")
        assert len(_journal()) == 1  # recorded before the files exist
        staged.commit()
    assert (old.read_bytes(), new.read_bytes()) == (b"new render", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.json", "render.mkv"]
    assert _journal() == []


def test_leaving_without_commit_deletes_the_staged_files_only(tmp_path: Path) -> None:
    target = tmp_path / "o.mov"
    target.write_bytes(b"earlier")
    with pytest.raises(KeyError), StagedOutputs() as staged:
        staged.stage(target).write_bytes(b"half")
        raise KeyError("the engine failed")
    assert [p.name for p in tmp_path.iterdir()] == ["o.mov"] and target.read_bytes() == b"earlier"
    assert _journal() == []


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): probably a container without CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


_COMMIT_ON_A_DISK_GOING_READ_ONLY = """
import subprocess, sys
from pathlib import Path
from mytalk.core.errors import OutputError
from mytalk.core.jobs.staging import StagedOutputs
first, second, mount = map(Path, sys.argv[1:])
with StagedOutputs() as staged:
    staged.stage(first).write_bytes(b"new render")
    staged.stage(second).write_bytes(b"new report")
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    try:
        staged.commit()
    except OutputError as error:
        print(error)
"""


def test_a_disk_that_turns_read_only_mid_commit_puts_everything_back(tmp_path: Path, tmpfs: Path) -> None:
    """The render can be put in place, the report (on a disk that just went read-only) cannot."""
    first, second = tmp_path / "o.mkv", tmpfs / "r.json"
    first.write_bytes(b"earlier render")
    second.write_bytes(b"earlier report")
    job = subprocess.run([sys.executable, "-c", _COMMIT_ON_A_DISK_GOING_READ_ONLY, str(first), str(second), str(tmpfs)],
                         capture_output=True, text=True, env=dict(os.environ))
    assert "read-only" in job.stdout and "as before" in job.stdout, job.stdout + job.stderr
    assert first.read_bytes() == b"earlier render" and second.read_bytes() == b"earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mkv", "tmpfs"]
    # The staged report could not be deleted from the read-only disk: its record stays, so the
    # first clean-up once the disk is writable again removes it.
    assert len(_journal()) == 1 and len(list(tmpfs.iterdir())) == 2
    subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    done = subprocess.run([str(MYTALK), "clean"], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0 and "removed" in done.stdout, done.stderr
    assert [p.name for p in tmpfs.iterdir()] == ["r.json"] and _journal() == []


def test_a_lock_file_nobody_holds_does_not_take_the_version(tmp_path: Path) -> None:
    stale, running = lock_path(tmp_path, "shot_v001.mov"), lock_path(tmp_path, "shot_v002.json")
    assert stale.parent == lock_folder(), "version locks live in the user cache, not in the render folder"
    stale.parent.mkdir(parents=True)
    stale.write_text("left by a killed commit")
    held = try_lock(running)  # a running commit of v002
    assert held is not None
    try:
        with reserve_version(tmp_path, "shot", (".mov", ".json")) as slot:
            assert slot.version == 1
            assert list(tmp_path.iterdir()) == [], "a reservation puts nothing in the render folder"
            with reserve_version(tmp_path, "shot", (".mov", ".json")) as other:
                assert other.version == 3
    finally:
        release(running, held)
    assert list(tmp_path.iterdir()) == [] and list(lock_folder().iterdir()) == []
    assert _journal() == []


def test_the_lock_is_the_folders_whatever_its_path_is_called(tmp_path: Path) -> None:
    (tmp_path / "renders").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "renders")
    assert lock_path(tmp_path / "link", "shot_v001.mov") == lock_path(tmp_path / "renders", "shot_v001.mov")
    assert lock_path(tmp_path, "shot_v001.mov") != lock_path(tmp_path / "renders", "shot_v001.mov")
    assert lock_path(tmp_path, "shot_v001.mov") != lock_path(tmp_path, "shot_v001.json")
    assert len(lock_path(tmp_path, "s" * 250 + ".mov").name) < 64


def test_staged_files_wait_in_a_job_folder_of_their_own_outside_the_target_folder(tmp_path: Path) -> None:
    render = tmp_path / "renders"
    render.mkdir()
    with StagedOutputs() as staged:
        temp = staged.stage(render / "shot_v001.mov")
        temp.write_bytes(b"frames")
        assert temp.parent.parent == staging_root() and parse_temp_name(temp.parent.name) is not None
        assert list(render.iterdir()) == [], "nothing of a running job is in the render folder"
        staged.commit()
    assert [p.name for p in render.iterdir()] == ["shot_v001.mov"]
    assert list(staging_root().iterdir()) == [] and _journal() == []


def test_another_mount_gets_a_job_folder_beside_the_target_so_the_rename_stays_atomic(tmp_path: Path) -> None:
    render = tmp_path / "renders"
    render.mkdir()
    elsewhere = Path("/dev/shm")
    if not elsewhere.is_dir() or same_mount(elsewhere, render):
        pytest.skip("no second mount to stage on")
    root = elsewhere / f"mytalk-test-{os.getpid()}"
    try:
        with StagedOutputs(root=root) as staged:
            temp = staged.stage(render / "o.mkv")
            temp.write_bytes(b"frames")
            assert temp.parent.parent == render and temp.parent.name.startswith(".mytalk-")
            staged.commit()
        assert [p.name for p in render.iterdir()] == ["o.mkv"] and list(root.iterdir()) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_claimed_version_that_appears_meanwhile_is_never_replaced(tmp_path: Path) -> None:
    """Another machine committed the same version into a shared folder: the second commit saves nothing."""
    with reserve_version(tmp_path, "shot", (".mov", ".json")) as slot:
        with StagedOutputs() as staged:
            staged.stage(slot.path(".mov")).write_bytes(b"mine")
            staged.stage(slot.path(".json")).write_bytes(b"{}")
            slot.path(".mov").write_bytes(b"theirs")  # appears while the render runs
            with pytest.raises(OutputError, match="another job wrote this version"):
                staged.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot_v001.mov"]
    assert slot.path(".mov").read_bytes() == b"theirs"
    assert list(staging_root().iterdir()) == [] and _journal() == []


def test_clean_removes_only_what_dead_processes_left(tmp_path: Path) -> None:
    dead = _exited_pid()
    partial = tmp_path / f".mytalk-{dead}-0123456789abcdef.partial.mov"
    backup = tmp_path / f".mytalk-{dead}-fedcba9876543210.backup.mov"
    partial.write_bytes(b"half a render")
    backup.write_bytes(b"maybe the only copy of a user's file")
    with StagedOutputs() as live:  # this process is alive: its files are not touched
        mine = live.stage(tmp_path / "live.mkv")
        mine.write_bytes(b"being written")
        report = clean_leftovers([tmp_path])
        assert mine.exists() and len(_journal()) == 1
    assert report.removed == [partial] and report.kept == [backup]
    assert backup.exists() and "left 1 backup" in report.summary()


def test_temporary_names_are_short_and_say_who_owns_them(tmp_path: Path) -> None:
    target = tmp_path / ("o" * 250 + ".mov")
    temp = temp_path(target)
    assert len(temp.name) < 48 and temp.parent == tmp_path and temp.suffix == ".mov"
    parsed = parse_temp_name(temp.name)
    assert parsed is not None and parsed.pid == os.getpid() and parsed.kind == "partial"
    assert parse_temp_name("o.mov") is None and parse_temp_name(".mytalk-12-zz.partial.mov") is None
