"""Fault injection: whatever happens to a job, nothing is lost (issue #13).

Each row does something hostile to a real `mytalk` process (a signal by pid at a named stage, a
full disk on a real tmpfs, a long name, a closed pipe, a hostile runtime line, an input rewritten
in place) and asserts the same things: the exit code, one line on stderr, no traceback, OUT (and
the report) exactly as before the command, no stray file anywhere (output folders, the job
journal, MyTalk's cache), and every input's bytes unchanged.

Signals are sent from here, by pid, to a process that `fault_harness.py` stopped at the start of
the stage under test; nothing of MyTalk is replaced. Clips are short synthetic ones from
`media_factory`, rendered with the `copy` engine: the stages and the commit step are the same
for every engine, and a run then takes about two seconds.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import media_factory as mf
from cli_helpers import MYTALK, CliResult, run_mytalk

HARNESS = Path(__file__).with_name("fault_harness.py")
OLD_OUT = b"an earlier render that must survive"
OLD_REPORT = b'{"an": "earlier report"}'
RUN_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file() or os.name != "posix",
                                reason="fault injection stops processes and reads their state from /proc (Linux)")


# -- fixtures and helpers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    clip: Path
    line: Path

    def hashes(self) -> dict[str, str]:
        return {p.name: _sha256(p) for p in (self.clip, self.line)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    folder = tmp_path_factory.mktemp("inputs")
    clip = mf.make_h264(folder / "clip.mp4", num_frames=36)
    line = mf.make_click_wav(folder / "line.wav", rate=48000, num_samples=48000 * 2, clicks=[1000, 40000])
    return Inputs(clip, line)


def _snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders (hidden ones too) with its SHA-256, or its kind for a non-file."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not path.exists():
                found[str(path)] = "link"
            elif path.is_file():
                found[str(path)] = _sha256(path)
            elif not path.is_dir():
                found[str(path)] = "special"
    return found


def _home() -> Path:
    return Path(os.environ["MYTALK_HOME"])


def _journal_and_temps() -> list[str]:
    """Journal records and MyTalk temporary files anywhere under MYTALK_HOME: there must be none."""
    home = _home()
    found = [str(p) for p in (home / "cache" / "journal").glob("*")] if (home / "cache" / "journal").is_dir() else []
    found += [str(p) for p in home.rglob(".mytalk-*")]
    return found


def _logs() -> list[str]:
    folder = _home() / "logs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_nothing_lost(result: CliResult, *, code: int, words: str, before: dict[str, str], folders: list[Path],
                        inputs: Inputs, input_hashes: dict[str, str]) -> None:
    """The row contract: exit code, one stderr line naming the problem, nothing lost, nothing left."""
    assert result.code == code, (result.code, result.stderr)
    assert len(result.stderr_lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert words.lower() in result.stderr.lower(), result.stderr
    assert _snapshot(*folders) == before, "OUT or the report changed, or a stray file was left"
    assert _journal_and_temps() == [], "a journal record or temporary file was left behind"
    assert inputs.hashes() == input_hashes, "an input was written to"
    if code != 1:
        assert _logs() == [], "an input or environment problem was logged as an internal error"


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class Stopped:
    """A `mytalk` process run by the harness, stopped at the start of `stage`."""

    def __init__(self, stage: str, args: list[str | Path], folder: Path, *, feed: bytes | None = None) -> None:
        """`feed` is written to stdin (left open, as a panel leaves the runtime's) before waiting."""
        self.out_path, self.err_path = folder / "harness.out", folder / "harness.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(HARNESS), stage, *map(str, args)], stdout=out, stderr=err,
                stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL, env=dict(os.environ),
            )
        if feed is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(feed)
            self.process.stdin.flush()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while _state(self.process.pid) != "T":
            if self.process.poll() is not None:
                pytest.fail(f"the job ended before stage {stage!r} (exit {self.process.returncode}): "
                            f"{self.err_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"the job did not reach stage {stage!r} within {RUN_TIMEOUT_S} s")
            time.sleep(0.02)

    def send(self, sig: int | None) -> None:
        """Deliver `sig` (None: none) and let the process go on."""
        if sig is not None:
            os.kill(self.process.pid, sig)
        if sig != signal.SIGKILL:
            os.kill(self.process.pid, signal.SIGCONT)

    def finish(self) -> CliResult:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail("the job did not end after the signal")
        return CliResult(self.process.returncode, self.out_path.read_text(errors="replace"),
                         self.err_path.read_text(errors="replace"))


@dataclass
class Scene:
    """A work folder with an earlier render and report at OUT and R, and the command's arguments."""

    work: Path
    out: Path
    report: Path

    def sync_args(self, inputs: Inputs, *extra: str | Path) -> list[str | Path]:
        return ["sync", inputs.clip, "--audio", inputs.line, "-o", self.out, "--report", self.report,
                "--engine", "copy", "--quiet", *extra]


def _scene(tmp_path: Path, suffix: str = ".mkv") -> Scene:
    work = tmp_path / "work"
    work.mkdir()
    scene = Scene(work, work / f"o{suffix}", work / "r.json")
    scene.out.write_bytes(OLD_OUT)
    scene.report.write_bytes(OLD_REPORT)
    return scene


# -- signals at each stage --------------------------------------------------------------------------

STAGES = ("prepare", "render", "mux", "report", "commit")
SIGNAL_ROWS = [(stage, sig, 128 + sig, name) for stage in STAGES
               for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP"))]
SIGNAL_ROWS.append(("render", signal.SIGINT, 130, "cancelled"))


@pytest.mark.parametrize(("stage", "sig", "code", "words"), SIGNAL_ROWS,
                         ids=[f"{row[0]}-{signal.Signals(row[1]).name}" for row in SIGNAL_ROWS])
def test_a_stop_signal_at_any_stage_cleans_up_and_leaves_out_as_it_was(
        stage: str, sig: int, code: int, words: str, inputs: Inputs, tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    before, hashes = _snapshot(scene.work), inputs.hashes()
    job = Stopped(stage, scene.sync_args(inputs), tmp_path)
    job.send(sig)
    assert_nothing_lost(job.finish(), code=code, words=words, before=before, folders=[scene.work],
                        inputs=inputs, input_hashes=hashes)


@pytest.mark.parametrize("stage", ["mux", "report"])
def test_what_sigkill_leaves_is_found_and_removed_by_mytalk_clean(stage: str, inputs: Inputs, tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    before, hashes = _snapshot(scene.work), inputs.hashes()
    job = Stopped(stage, scene.sync_args(inputs), tmp_path)
    job.send(signal.SIGKILL)
    assert job.finish().code == -signal.SIGKILL
    assert _snapshot(scene.work) == before, "a killed job leaves nothing in the output folder"
    # Its partial file waits in the job's own folder under the user's scratch, named in its record.
    left = [p for p in _home().rglob(".mytalk-*") if p.is_file() and p.parent.parent.name == "staging"]
    assert left and _journal_and_temps(), "a killed job should have left a partial file and its journal record"
    cleaned = run_mytalk("clean")
    assert cleaned.code == 0 and len(cleaned.stderr_lines) == 1, cleaned.stderr
    assert all(str(p) in cleaned.stdout for p in left), cleaned.stdout  # says what was removed
    assert_nothing_lost(cleaned, code=0, words="removed", before=before, folders=[scene.work], inputs=inputs,
                        input_hashes=hashes)


def test_the_next_run_removes_what_a_killed_run_left(inputs: Inputs, tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    job = Stopped("commit", scene.sync_args(inputs), tmp_path)  # both files complete, not yet in place
    job.send(signal.SIGKILL)
    job.finish()
    assert scene.out.read_bytes() == OLD_OUT
    other = tmp_path / "other.mkv"
    result = run_mytalk("sync", inputs.clip, "--audio", inputs.line, "-o", other, "--engine", "copy")
    assert result.code == 0, result.stderr
    # Said after the job's own line, so a run that fails still prints exactly one line.
    assert result.stderr_lines[0].startswith("wrote ") and len(result.stderr_lines) == 2, result.stderr
    assert "removed 2 file(s) left by interrupted jobs" in result.stderr_lines[1], result.stderr
    assert sorted(p.name for p in scene.work.iterdir()) == ["o.mkv", "r.json"]
    assert _journal_and_temps() == []


def test_sigkill_inside_the_commit_step_is_rolled_back_by_the_next_clean(inputs: Inputs, tmp_path: Path) -> None:
    """Killed with the render renamed onto OUT but the report not yet: the one half-done state."""
    scene = _scene(tmp_path)
    before, hashes = _snapshot(scene.work), inputs.hashes()
    job = Stopped("rename-1", scene.sync_args(inputs), tmp_path)
    job.send(signal.SIGKILL)
    assert job.finish().code == -signal.SIGKILL
    assert scene.out.read_bytes() != OLD_OUT and scene.report.read_bytes() == OLD_REPORT  # half committed
    cleaned = run_mytalk("clean")
    assert f"put back {scene.out}" in cleaned.stdout, cleaned.stdout
    assert_nothing_lost(cleaned, code=0, words="put back 1 file", before=before, folders=[scene.work], inputs=inputs,
                        input_hashes=hashes)


def test_sigterm_inside_the_commit_step_waits_for_it_to_finish(inputs: Inputs, tmp_path: Path) -> None:
    """The commit step is never cut in two: the signal is acted on after it, and the line says so."""
    scene = _scene(tmp_path)
    hashes = inputs.hashes()
    job = Stopped("rename-1", scene.sync_args(inputs), tmp_path)
    job.send(signal.SIGTERM)
    result = job.finish()
    assert result.code == 143 and len(result.stderr_lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "saved complete" in result.stderr and str(scene.out) in result.stderr, result.stderr
    assert json.loads(scene.report.read_text())["output"]["frames"] == 36  # both files are the new ones
    assert scene.out.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # Matroska
    assert sorted(p.name for p in scene.work.iterdir()) == ["o.mkv", "r.json"]
    assert _journal_and_temps() == [] and inputs.hashes() == hashes


def test_a_sync_needs_no_network(inputs: Inputs, tmp_path: Path) -> None:
    """In a network namespace with no interfaces at all, a render with its report still succeeds."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--net", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare and the right to create a network namespace (root, CAP_SYS_ADMIN)")
    out, report = tmp_path / "o.mkv", tmp_path / "r.json"
    done = subprocess.run([unshare, "--net", str(MYTALK), "sync", str(inputs.clip), "--audio", str(inputs.line),
                           "-o", str(out), "--report", str(report), "--engine", "copy", "--quiet"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=dict(os.environ))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(report.read_text())["output"]["frames"] == 36 and out.stat().st_size > 0


# -- a full disk -------------------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB tmpfs: a disk that fills up. Needs root and CAP_SYS_ADMIN (skips otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the full-disk rows run in CI and on the dev box as root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): "
                    "probably a container without CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` until at most `leave` bytes are free."""
    stats = os.statvfs(folder)
    with (folder / "filler").open("wb") as handle:
        remaining = max(0, stats.f_bavail * stats.f_frsize - leave)
        try:
            while remaining > 0:
                chunk = min(remaining, 1 << 16)
                handle.write(b"\0" * chunk)
                remaining -= chunk
            handle.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


DISK_ROWS = [
    # id, OUT on the tmpfs?, report on the tmpfs?, OUT suffix, bytes left free
    ("report-on-a-full-disk", False, True, ".mkv", 0),
    ("mkv-mux-on-a-full-disk", True, False, ".mkv", 96 * 1024),
    ("mov-mux-on-a-full-disk", True, False, ".mov", 96 * 1024),
    ("mp4-on-a-full-disk", True, True, ".mp4", 8 * 1024),
]


@pytest.mark.parametrize(("out_on_tmpfs", "report_on_tmpfs", "suffix", "leave"), [r[1:] for r in DISK_ROWS],
                         ids=[r[0] for r in DISK_ROWS])
def test_a_full_disk_exits_2_and_leaves_out_and_the_report_as_they_were(
        out_on_tmpfs: bool, report_on_tmpfs: bool, suffix: str, leave: int, small_tmpfs: Path, inputs: Inputs,
        tmp_path: Path) -> None:
    scene = _scene(tmp_path, suffix)
    out = small_tmpfs / scene.out.name if out_on_tmpfs else scene.out
    report = small_tmpfs / scene.report.name if report_on_tmpfs else scene.report
    out.write_bytes(OLD_OUT)
    report.write_bytes(OLD_REPORT)
    _fill(small_tmpfs, leave)
    before, hashes = _snapshot(scene.work, small_tmpfs), inputs.hashes()
    result = run_mytalk("sync", inputs.clip, "--audio", inputs.line, "-o", out, "--report", report,
                        "--engine", "copy", "--quiet")
    assert_nothing_lost(result, code=2, words="no space left", before=before, folders=[scene.work, small_tmpfs],
                        inputs=inputs, input_hashes=hashes)


# -- long names ---------------------------------------------------------------------------------------


def test_legal_long_names_for_out_and_the_report_work(inputs: Inputs, tmp_path: Path) -> None:
    out = tmp_path / ("o" * 250 + ".mov")  # 254 bytes: legal, but a name derived from it is not
    report = tmp_path / ("r" * 250 + ".json")  # 255 bytes
    result = run_mytalk("sync", inputs.clip, "--audio", inputs.line, "-o", out, "--report", report,
                        "--engine", "copy", "--quiet")
    assert result.code == 0 and result.stderr_lines == [], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, report.name])
    assert json.loads(report.read_text())["output"]["frames"] == 36
    assert _journal_and_temps() == []


NAME_ROWS = [
    ("out-name-over-255-bytes", lambda w: ["-o", w / ("o" * 252 + ".mov")], "too long"),
    ("report-name-over-255-bytes", lambda w: ["-o", w / "o.mkv", "--report", w / ("r" * 252 + ".json")], "too long"),
]


@pytest.mark.parametrize(("builder", "words"), [r[1:] for r in NAME_ROWS], ids=[r[0] for r in NAME_ROWS])
def test_an_illegal_long_name_exits_2_before_anything_is_written(
        builder: Callable[[Path], list[Any]], words: str, inputs: Inputs, tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    before, hashes = _snapshot(scene.work), inputs.hashes()
    result = run_mytalk("sync", inputs.clip, "--audio", inputs.line, *builder(scene.work), "--engine", "copy", "--quiet")
    assert_nothing_lost(result, code=2, words=words, before=before, folders=[scene.work], inputs=inputs,
                        input_hashes=hashes)


# -- a broken pipe ------------------------------------------------------------------------------------


def test_a_reader_that_closes_the_pipe_gets_exit_2_and_one_line(inputs: Inputs, tmp_path: Path) -> None:
    hashes = inputs.hashes()
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before mytalk writes (`mytalk probe X | true`)
    try:
        done = subprocess.run([str(MYTALK), "probe", str(inputs.clip)], stdout=write_end, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S, text=True)
    finally:
        os.close(write_end)
    result = CliResult(done.returncode, "", done.stderr)
    assert_nothing_lost(result, code=2, words="broken pipe", before={}, folders=[], inputs=inputs, input_hashes=hashes)


# -- hostile runtime lines ---------------------------------------------------------------------------

HOSTILE_LINES = [
    # id, the line (without newline), words in the error event
    ("deep-nesting", b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ("deep-nesting-in-a-request", b'{"v":1,"type":"hello","id":"h","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "nested too deeply"),
    ("huge-integer", b'{"v":1,"type":"hello","id":' + b"9" * 100_000 + b"}", "cannot be read"),
    ("huge-float", b'{"v":1,"type":"preview","id":"f","request":{"video":"a.mov","audio":"b.wav","output":"o",'
                   b'"openness":1e999999}}', "must be finite"),
    ("nan", b'{"v":1,"type":"hello","id":NaN}', "NaN"),
    ("nul-byte", b'{"v":1,"type":"hello","id":"a\x00b"}', "not JSON"),
    ("escaped-nul-in-a-path", b'{"v":1,"type":"probe","id":"n","path":"/tmp/a\\u0000b.mov"}', "NUL"),
    ("invalid-utf-8", b'{"v":1,"type":"probe","id":"u","path":"\xff\xfe.mov"}', "UTF-8"),
    ("over-the-line-limit", b'{"v":1,"type":"hello","id":"' + b"x" * (3 << 19) + b'"}', "too long"),
    ("lone-surrogate-echoed", b'{"v":1,"type":"probe","id":"\\udcff","path":"/nope/\\udcff.mov"}', "not found"),
]


@pytest.mark.parametrize(("line", "words"), [r[1:] for r in HOSTILE_LINES], ids=[r[0] for r in HOSTILE_LINES])
def test_the_runtime_answers_any_line_with_an_error_event_and_goes_on(
        line: bytes, words: str, inputs: Inputs, tmp_path: Path) -> None:
    hashes = inputs.hashes()
    requests = line + b"\n" + b'{"v":1,"type":"hello","id":"after"}\n{"v":1,"type":"shutdown","id":"bye"}\n'
    done = subprocess.run([str(MYTALK), "runtime"], input=requests, capture_output=True, timeout=RUN_TIMEOUT_S,
                          env=dict(os.environ))
    events = [json.loads(raw) for raw in done.stdout.splitlines()]  # every line is valid JSON
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and done.stderr.strip() == b"", done.stderr
    assert [e["event"] for e in events] == ["hello", "error", "hello", "done"], events
    assert words.lower() in events[1]["message"].lower(), events[1]
    assert events[1]["code"] != "InternalError" and _logs() == [], events[1]
    assert events[2]["id"] == "after"
    assert inputs.hashes() == hashes and _journal_and_temps() == []


# -- an input rewritten in place ---------------------------------------------------------------------


def _rewrite_in_place(path: Path) -> None:
    """Change some samples of a WAV without changing its size, then put its mtime back."""
    stat = path.stat()
    with path.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        block = handle.read(64)
        handle.seek(stat.st_size // 2)
        handle.write(bytes(b ^ 0x5A for b in block))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size


def test_a_rewrite_between_two_runs_gets_the_new_hash(inputs: Inputs, tmp_path: Path) -> None:
    line = tmp_path / "line.wav"
    shutil.copyfile(inputs.line, line)
    time.sleep(2.1)  # old enough that its hash is cached (see mytalk.core.hashing.RACY_WINDOW_NS)
    hashes = []
    for run in range(2):
        report = tmp_path / f"r{run}.json"
        result = run_mytalk("sync", inputs.clip, "--audio", line, "-o", tmp_path / f"o{run}.mkv", "--report", report,
                            "--engine", "copy", "--quiet")
        assert result.code == 0, result.stderr
        hashes.append(json.loads(report.read_text())["inputs"]["audio"]["sha256"])
        assert hashes[-1] == _sha256(line), "the report vouches for bytes that are not the file's"
        _rewrite_in_place(line)  # same size, mtime put back: only ctime tells
    assert hashes[0] != hashes[1]


def test_an_input_rewritten_during_the_job_fails_it_and_out_stays(inputs: Inputs, tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    line = tmp_path / "line.wav"
    shutil.copyfile(inputs.line, line)
    before, hashes = _snapshot(scene.work), inputs.hashes()
    job = Stopped("hash", ["sync", inputs.clip, "--audio", line, "-o", scene.out, "--report", scene.report,
                           "--engine", "copy", "--quiet"], tmp_path)
    _rewrite_in_place(line)  # the frames and the audio were read from the old bytes
    rewritten = _sha256(line)
    job.send(None)
    assert_nothing_lost(job.finish(), code=2, words="changed while", before=before, folders=[scene.work],
                        inputs=inputs, input_hashes=hashes)
    assert _sha256(line) == rewritten  # as the test left it: MyTalk never writes an input


# -- the runtime stopped mid-job ---------------------------------------------------------------------


def _commit_line(inputs: Inputs, folder: Path, job_id: str, kind: str = "commit") -> bytes:
    """A commit (or preview) request line for the runtime, with the copy engine into FFV1."""
    request = {"video": str(inputs.clip), "audio": str(inputs.line), "output": str(folder), "engine": "copy",
               "codec": "ffv1"}
    return json.dumps({"v": 1, "type": kind, "id": job_id, "request": request}).encode() + b"\n"


def _commit_in_a_fresh_runtime(inputs: Inputs, folder: Path) -> dict[str, Any]:
    """Start a runtime as the panel does after a crash, commit once, and return the job's last event.

    stdin stays open until the answer arrives: end of input means the panel is gone, and the
    runtime then cancels what it was doing.
    """
    runtime = subprocess.Popen([str(MYTALK), "runtime"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=dict(os.environ))
    assert runtime.stdin is not None and runtime.stdout is not None
    try:
        runtime.stdin.write(_commit_line(inputs, folder, "j2"))
        runtime.stdin.flush()
        for raw in runtime.stdout:
            event = json.loads(raw)
            if event.get("id") == "j2" and event["event"] in ("done", "error"):
                return event
        pytest.fail("the runtime ended without answering the commit")
    finally:
        runtime.stdin.close()
        runtime.wait(timeout=RUN_TIMEOUT_S)


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _delivered(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


RUNTIME_SIGNAL_ROWS = [
    # kind, stage, signal, words; the stage is where the job stands when the signal arrives
    ("commit", "render", signal.SIGTERM, "SIGTERM"),
    ("commit", "mux", signal.SIGHUP, "SIGHUP"),
    ("commit", "commit", signal.SIGTERM, "SIGTERM"),
    ("preview", "render", signal.SIGHUP, "SIGHUP"),
]


@pytest.mark.parametrize(("kind", "stage", "sig", "words"), RUNTIME_SIGNAL_ROWS,
                         ids=[f"{r[0]}-at-{r[1]}-{r[3]}" for r in RUNTIME_SIGNAL_ROWS])
def test_the_runtime_stopped_mid_job_cleans_up_and_burns_no_version(
        kind: str, stage: str, sig: int, words: str, inputs: Inputs, tmp_path: Path) -> None:
    """The signal cancels the job in the worker thread, which may be just past its last cancel check:
    then the job completes. Either way it is all or nothing, and no version number is lost."""
    renders = tmp_path / "renders"
    renders.mkdir()
    previews = _home() / "cache" / "previews"
    hashes = inputs.hashes()
    job = Stopped(stage, ["runtime"], tmp_path, feed=_commit_line(inputs, renders, "j1", kind))
    job.send(sig)
    result = job.finish()
    assert result.code == 128 + sig, (result.code, result.stderr)
    assert len(result.stderr_lines) == 1 and words in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert _journal_and_temps() == [] and inputs.hashes() == hashes and _logs() == []
    last = [e for e in _events(result.stdout) if e["id"] == "j1"][-1]
    complete = {"commit": (renders, ["clip_0-36_v001.json", "clip_0-36_v001.mkv"]),
                "preview": (previews, ["clip_0-36_j1.first.png", "clip_0-36_j1.mp4"])}[kind]
    if last["event"] == "error":
        assert last["code"] == "JobCancelledError", last
        assert _delivered(renders) == [] and _delivered(previews) == []
    else:
        assert last["event"] == "done" and _delivered(complete[0]) == complete[1], last
    done = _commit_in_a_fresh_runtime(inputs, renders)
    expected = 2 if kind == "commit" and last["event"] == "done" else 1
    assert done["event"] == "done" and done["result"]["version"] == expected, done


def test_a_runtime_killed_mid_commit_does_not_burn_the_version(inputs: Inputs, tmp_path: Path) -> None:
    renders = tmp_path / "renders"
    renders.mkdir()
    job = Stopped("commit", ["runtime"], tmp_path, feed=_commit_line(inputs, renders, "j1"))
    job.send(signal.SIGKILL)
    job.finish()
    assert _delivered(renders) == [], "no partial file or lock in the render folder (issue #16)"
    # The panel restarts the runtime: it removes what the killed one left, and v001 is free again.
    done = _commit_in_a_fresh_runtime(inputs, renders)
    assert done["event"] == "done" and done["result"]["version"] == 1, done
    assert _delivered(renders) == ["clip_0-36_v001.json", "clip_0-36_v001.mkv"]
    assert _journal_and_temps() == []


# -- inputs that are not files, names that are not names ----------------------------------------------


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


BAD_KIND_ROWS = [
    # id, args builder (inputs, work folder) -> mytalk arguments, words in the error line
    ("fifo-as-video", lambda i, w: ["sync", _fifo(w, "f.mov"), "--audio", i.line, "-o", w / "o.mkv"], "FIFO"),
    ("dev-null-as-video", lambda i, w: ["sync", "/dev/null", "--audio", i.line, "-o", w / "o.mkv"], "FIFO"),
    ("dev-zero-as-audio", lambda i, w: ["sync", i.clip, "--audio", "/dev/zero", "-o", w / "o.mkv"], "FIFO"),
    ("fifo-as-report", lambda i, w: ["sync", i.clip, "--audio", i.line, "-o", w / "o.mkv", "--report",
                                     _fifo(w, "r.json")], "FIFO"),
    ("fifo-as-transcript", lambda i, w: ["sync", i.clip, "--audio", i.line, "-o", w / "o.mkv", "--transcript",
                                         f"@{_fifo(w, 't.txt')}"], "not a text file"),
    ("actor-name-with-a-newline", lambda i, w: ["actor", "build", "evil\n", i.clip], "actor name"),
]


@pytest.mark.parametrize(("builder", "words"), [r[1:] for r in BAD_KIND_ROWS], ids=[r[0] for r in BAD_KIND_ROWS])
def test_inputs_that_are_not_files_and_bad_names_exit_2(
        builder: Callable[[Inputs, Path], list[Any]], words: str, inputs: Inputs, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    args = builder(inputs, work)
    before, hashes = _snapshot(work), inputs.hashes()
    engine = ["--engine", "copy", "--quiet"] if args[0] == "sync" else []
    result = run_mytalk(*args, *engine, timeout=30)  # a FIFO read by mistake would wait for ever
    assert_nothing_lost(result, code=2, words=words, before=before, folders=[work], inputs=inputs, input_hashes=hashes)
    actors = _home() / "data" / "actors"
    assert not actors.exists() or list(actors.iterdir()) == []
