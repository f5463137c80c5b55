"""The one temp-then-rename writer: a target is either as before or complete, and errors read as one line.

Every rename of a file into place in core, ui and plugin goes through it (or through the job commit,
which it serves): a guard below reads the source and fails on a hand-made writer, and a process
killed between writing and renaming leaves only temporary files that `mytalk clean` removes.
"""

from __future__ import annotations

import ast
import errno
import subprocess
import sys
from pathlib import Path

import pytest

from mytalk.core.atomic import AtomicFile, replace_folder, scratch_folder, undo_on_failure, write_atomically
from mytalk.core.errors import OutputError, UsageError
from mytalk.core.jobs.cleanup import clean_leftovers, own_folders
from mytalk.core.tempnames import parse_temp_name
from mytalk.core.userdirs import user_dirs

ROOT = Path(__file__).resolve().parents[1]


def test_a_file_appears_complete_under_its_name_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "render.mov"
    target.write_bytes(b"old")
    with AtomicFile(target) as temp:
        temp.write_bytes(b"new")
        assert target.read_bytes() == b"old", "the target changes only when the block ends"
        name = parse_temp_name(temp.name)
        assert name is not None and name.kind == "partial" and name.suffix == ".mov"
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.mov"]


def test_a_failed_write_leaves_the_target_as_it_was_and_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(KeyError), AtomicFile(target) as temp:
        temp.write_text("half")
        raise KeyError("the writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_rename_that_fails_deletes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a folder"
    target.mkdir()  # a folder where the file goes: the rename fails
    with pytest.raises(OSError), AtomicFile(target) as temp:
        temp.write_text("data")
    assert target.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["a folder"]


def test_a_caller_chosen_temporary_path_is_used_and_discarded(tmp_path: Path) -> None:
    staged = AtomicFile(tmp_path / "render.mov", tmp_path / "staged.mov")
    staged.temp.write_bytes(b"frames")
    staged.discard()
    staged.discard()  # twice is harmless: it runs while another error unwinds
    assert list(tmp_path.iterdir()) == []


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / "stale.png").write_bytes(b"old")

    def fill(temp: Path) -> None:
        assert temp.parent == tmp_path and temp.name.startswith(".bob.")
        (temp / "profile.json").write_text("{}")

    assert replace_folder(folder, fill) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["profile.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bob"], "the old folder and the temporary one are gone"


def test_a_folder_whose_build_fails_stays_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / "profile.json").write_text("old")

    def fill(temp: Path) -> None:
        (temp / "profile.json").write_text("half")
        raise UsageError("too few frames with a face")

    with pytest.raises(UsageError):
        replace_folder(folder, fill)
    assert (folder / "profile.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bob"]


ERROR_ROWS = [
    # (what the block raises, the error that comes out, words of its message)
    ("disk-full", OSError(errno.ENOSPC, "No space left on device"), OutputError, "could not save: No space left"),
    ("already-worded", OutputError("out.mov: is a folder; give a file name"), OutputError, "is a folder"),
    ("not-an-os-error", UsageError("--codec x: choose another"), UsageError, "--codec x"),
    ("a-stop-signal", KeyboardInterrupt(), KeyboardInterrupt, None),
]


@pytest.mark.parametrize(("raised", "expected", "words"), [r[1:] for r in ERROR_ROWS], ids=[r[0] for r in ERROR_ROWS])
def test_a_failed_save_is_undone_first_and_an_os_error_becomes_one_output_error(
        raised: BaseException, expected: type[BaseException], words: str | None) -> None:
    undone: list[bool] = []
    with pytest.raises(expected, match=words) as caught, \
            undo_on_failure(lambda: undone.append(True), lambda error: f"could not save: {error.strerror}"):
        raise raised
    assert undone == [True]
    if isinstance(raised, OSError) and not isinstance(raised, OutputError):
        assert caught.value.__cause__ is raised, "the original error stays attached for the log"
    else:
        assert caught.value is raised


def test_a_save_that_succeeds_undoes_nothing() -> None:
    undone: list[bool] = []
    with undo_on_failure(lambda: undone.append(True), str):
        pass
    assert undone == []


def test_bytes_and_text_are_written_whole_in_one_call(tmp_path: Path) -> None:
    poster, record = tmp_path / "a.first.png", tmp_path / "record.json"
    poster.write_bytes(b"old")
    assert write_atomically(poster, b"\x89PNG new") == poster
    assert write_atomically(record, '{"name": "Zoë"}') == record
    assert poster.read_bytes() == b"\x89PNG new"
    assert record.read_bytes() == '{"name": "Zoë"}'.encode(), "text is UTF-8 whatever the locale"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.first.png", "record.json"]


def test_a_write_that_fails_leaves_neither_a_target_nor_a_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "memo.json", {"not": "bytes"})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_scratch_folder_is_named_for_its_process_and_deleted_however_the_block_ends(tmp_path: Path) -> None:
    actor = tmp_path / "actors" / "bob"
    with pytest.raises(KeyError), scratch_folder(actor) as work:
        name = parse_temp_name(work.name)
        assert work.parent == actor.parent and name is not None and name.kind == "partial"
        (work / "data").mkdir()
        (work / "data" / "crops.npz").write_bytes(b"crops")
        raise KeyError("the build failed")
    assert list(actor.parent.iterdir()) == []


# --- no hand-made writers ---------------------------------------------------------------------

RENAME_ALLOWED = {
    "core/atomic.py": "the one writer",
    # The job commit puts a set of files in place as one: it keeps each existing target as a
    # backup (a hard link, or a rename on file systems without them), renames every staged file
    # onto its target, and renames the backups back when a step fails or when the clean-up
    # recovers a dead job from its journal record. That protocol over several files and their
    # backups is not a single temp-then-rename, so it cannot be written with `AtomicFile`.
    "core/jobs/staging.py": "the job commit (several files and their backups)",
}
SOURCE_FOLDERS = ("core", "ui", "plugin")


def renames_in(source: str) -> list[tuple[int, str]]:
    """(line, code) of each call in `source` that renames a file: `os.replace`/`os.rename`/
    `os.renames`, `shutil.move`, `Path.replace`/`Path.rename` (bound or not) and imports of them.

    A bound `x.replace(target)` is told from `str.replace`/`bytes.replace` by its single argument:
    those need two (old, new); `datetime.replace(tzinfo=...)` and `dataclasses.replace(obj, **changes)`
    take keywords other than `target`.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil", "pathlib"):
            names = [a.name for a in node.names]
            if any(n in ("replace", "rename", "renames", "move") for n in names):
                found.append((node.lineno, ast.unparse(node)))
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr, owner = node.func.attr, node.func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else None
        module_call = (owner_name == "os" and attr in ("replace", "rename", "renames")) or \
            (owner_name == "shutil" and attr == "move") or \
            (owner_name in ("Path", "pathlib") and attr in ("replace", "rename"))
        keywords = [k.arg for k in node.keywords]
        one_target = (len(node.args) == 1 and not keywords) or "target" in keywords
        path_method = attr in ("replace", "rename") and owner_name not in ("dataclasses", "os", "shutil") \
            and one_target
        if module_call or path_method:
            found.append((node.lineno, ast.unparse(node)))
    return found


RENAME_ROWS = [
    # (row id, code, how many renames it holds)
    ("os-replace", "os.replace(temp, target)", 1),
    ("os-rename", "os.rename(temp, target)", 1),
    ("os-renames", "os.renames(temp, target)", 1),
    ("shutil-move", "shutil.move(temp, target)", 1),
    ("path-replace", "temp.replace(target)", 1),
    ("path-rename", "(folder / name).rename(target)", 1),
    ("path-replace-by-keyword", "temp.replace(target=final)", 1),
    ("unbound-path-replace", "Path.replace(temp, target)", 1),
    ("imported-replace", "from os import replace as put", 1),
    ("imported-move", "from shutil import copy, move", 1),
    ("str-replace", "name.replace('_', '-')", 0),
    ("str-replace-with-count", "text.replace('a', 'b', 1)", 0),
    ("dataclass-replace", "dataclasses.replace(request, output=path)", 0),
    ("bare-dataclass-replace", "replace(request, output=path, codec='h264')", 0),
    ("datetime-replace", "when.replace(tzinfo=None)", 0),
    ("os-link", "os.link(target, backup)", 0),
]


@pytest.mark.parametrize(("code", "count"), [r[1:] for r in RENAME_ROWS], ids=[r[0] for r in RENAME_ROWS])
def test_the_guard_finds_renames_and_only_renames(code: str, count: int) -> None:
    assert len(renames_in(code)) == count


def test_no_module_but_the_atomic_writers_renames_files() -> None:
    """A new temp-then-rename writer belongs in `mytalk.core.atomic`: one made by hand picks its own
    temporary name, which `mytalk clean` cannot tell from a user's file when its process is killed."""
    files = sorted(p for folder in SOURCE_FOLDERS for p in (ROOT / folder).rglob("*.py"))
    assert len(files) > 50, f"the source tree was not found under {ROOT}"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in files if path.relative_to(ROOT).as_posix() not in RENAME_ALLOWED
        for line, code in renames_in(path.read_text(encoding="utf-8"))
    ]
    advice = "use mytalk.core.atomic (AtomicFile, write_atomically, replace_folder) instead of:\n"
    assert offenders == [], advice + "\n".join(offenders)
    for allowed in RENAME_ALLOWED:  # an allowance that nothing needs any more is removed, not kept
        assert renames_in((ROOT / allowed).read_text(encoding="utf-8")), f"{allowed} no longer renames files"


# --- a killed writer's leftovers ----------------------------------------------------------------

KILLED_WRITERS = r"""
import json, os, sys
from pathlib import Path

import av
import numpy as np

# Every rename is skipped: the disk is left as if the process were killed after writing each file
# and before putting it in place.
os.replace = lambda src, dst: None

from mytalk.core.atomic import scratch_folder
from mytalk.core.audio.line_phones import UtteranceCache
from mytalk.core.audio.phone_cache import cached_phone_track
from mytalk.core.engines.mytalk.dataset import _save_shard, _write_json
from mytalk.core.media.audio import AudioTrack
from mytalk.core.face.cache import save_observations
from mytalk.core.face.tracker import TrackerSettings
from mytalk.core.hashing import file_sha256
from mytalk.core.jobs.commands import write_poster
from mytalk.core.jobs.journal import JobRecord, journal_folder
from mytalk.core.userdirs import user_dirs

dirs, data = user_dirs(), Path(sys.argv[1])
(dirs.cache / "previews").mkdir(parents=True)
frame = av.VideoFrame.from_ndarray(np.zeros((36, 64, 3), np.uint8), format="rgb24")
write_poster(frame, dirs.cache / "previews" / "clip_0-25_j1.first.png")
JobRecord(journal_folder(dirs)).save()
file_sha256(Path(json.__file__))  # a file unchanged for long: its digest is remembered
save_observations([], "0" * 64, 0, 25, TrackerSettings())
cached_phone_track(AudioTrack(np.zeros(1600, np.float32), 16000))  # a silent line: timed at once, then cached
UtteranceCache().put_json("0" * 40, {"phones": []})
(data / "shards").mkdir(parents=True)
_save_shard(data / "shards" / "0123-0-25.npz", {"points": np.zeros((25, 2), np.float32)})
_write_json(data / "manifest.json", {"videos": []})
with scratch_folder(dirs.models / "actors" / "bob") as work:
    (work / "data").mkdir()
    (work / "data" / "crops.npz").write_bytes(b"crops of the footage")
    os._exit(0)  # killed: the scratch folder is not deleted
"""


def test_what_killed_writers_leave_is_found_and_removed_by_clean(tmp_path: Path) -> None:
    """Each writer converted to `mytalk.core.atomic` leaves, when killed before its rename, a temporary
    name of a dead process in a folder the clean-up scans: MyTalk's own folders always, a dataset's
    when given to `mytalk clean`. Nothing else is left, and the clean-up removes all of it."""
    data = tmp_path / "dataset"
    child = subprocess.run([sys.executable, "-c", KILLED_WRITERS, str(data)], capture_output=True, text=True,
                           timeout=300)
    assert child.returncode == 0, child.stderr
    dirs = user_dirs()
    scanned = [*own_folders(dirs), data, data / "shards"]
    left = sorted(p for folder in scanned if folder.is_dir()
                  for p in folder.iterdir() if p.name.startswith("."))
    assert [p for p in left if parse_temp_name(p.name) is None] == []
    expected = {dirs.cache / "previews", dirs.cache / "journal", dirs.cache / "hashes", dirs.tracking_cache,
                dirs.cache / "phones", dirs.cache / "phones" / "utterances", dirs.models / "actors", data,
                data / "shards"}
    # One leftover per file a writer writes: the tracking cache writes an entry's meshes and its .npz.
    assert {p.parent for p in left} == expected and len(left) == len(expected) + 1, "one leftover per file"
    assert len([p for p in left if p.parent == dirs.tracking_cache]) == 2

    report = clean_leftovers([data, data / "shards"])
    assert sorted(report.removed) == left and report.kept == []
    assert [p for folder in scanned for p in folder.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in data.iterdir()] == ["shards"], "no target appeared: every rename was skipped"
