"""The runtime process, driven exactly as the panel and host shims drive it: JSON lines on a pipe.

Every test starts the real `mytalk runtime` console script and renders real clips; nothing of
ours is mocked. The engine is taken from `available_engines()` (classic when it exists).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.core.runtime.protocol import PROTOCOL_VERSION

MYTALK = Path(sys.executable).with_name("mytalk")
CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames, with speech
LINE = "jfk_inaugural_en_16k.wav"


def pick_engine() -> str:
    engines = available_engines()
    return "classic" if "classic" in engines else engines[0]


class Runtime:
    """A `mytalk runtime` child with a reader thread, so tests can wait for events with a timeout."""

    def __init__(self, env: dict[str, str] | None = None, command: list[str] | None = None) -> None:
        self.process = subprocess.Popen(
            command or [str(MYTALK), "runtime"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.raw_lines: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.raw_lines.append(line)
            self.events.put(json.loads(line))

    def send(self, message: dict[str, Any] | str) -> None:
        assert self.process.stdin is not None
        line = message if isinstance(message, str) else json.dumps({"v": 1, **message})
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def next_event(self, timeout: float = 60) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def wait_for(self, request_id: str | None, names: tuple[str, ...] = ("done", "error"), timeout: float = 120,
                 seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The first event with `request_id` whose name is in `names`; events on the way go to `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(max(0.1, deadline - time.monotonic()))
            if seen is not None:
                seen.append(event)
            if event.get("id") == request_id and event["event"] in names:
                return event

    def close(self) -> int:
        if self.process.poll() is None:
            try:
                self.send({"type": "shutdown", "id": "bye"})
                self.process.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@pytest.fixture
def runtime() -> Any:
    proc = Runtime()
    hello = proc.next_event(timeout=60)
    assert hello["event"] == "hello"
    yield proc
    proc.close()


def sync_request(output: Path, *, start: int = 25, stop: int = 50, **extra: Any) -> dict[str, Any]:
    return {"video": str(media_path("video", CLIP)), "audio": str(media_path("audio", LINE)), "output": str(output),
            "in_point": str(start), "out_point": str(stop), "engine": pick_engine(), **extra}


def test_hello_announces_protocol_version_and_installed_engines(runtime: Runtime) -> None:
    runtime.send({"type": "hello", "id": "h1"})
    hello = runtime.wait_for("h1", ("hello",))
    assert hello["v"] == PROTOCOL_VERSION and hello["protocol"] == PROTOCOL_VERSION
    assert hello["engines"] == available_engines()
    assert set(hello["requests"]) == {"hello", "probe", "track", "learn", "prepare", "preview", "commit", "cancel",
                                      "shutdown"}
    assert hello["mytalk"]


def test_bad_requests_get_one_line_errors_and_the_runtime_keeps_going(runtime: Runtime, tmp_path: Path) -> None:
    runtime.send("this is not json")
    event = runtime.next_event()
    assert event["event"] == "error" and event["code"] == "ProtocolError" and "JSON" in event["message"]
    runtime.send(json.dumps({"v": 99, "type": "hello", "id": "x"}))
    assert "version" in runtime.next_event()["message"]
    runtime.send({"type": "render", "id": "r"})
    event = runtime.wait_for("r")
    assert event["code"] == "ProtocolError" and "unknown request type" in event["message"]
    runtime.send({"type": "preview", "id": "p", "request": {"video": "x.mov"}})
    assert "missing audio, output" in runtime.wait_for("p")["message"]
    runtime.send({"type": "probe", "id": "nofile", "path": str(tmp_path / "missing.mov")})
    event = runtime.wait_for("nofile")
    assert event["event"] == "error" and event["code"] == "MediaNotFoundError"
    runtime.send({"type": "hello", "id": "still"})
    assert runtime.wait_for("still", ("hello",))["event"] == "hello"
    # Everything on stdout was a protocol line.
    assert all(json.loads(line)["v"] == PROTOCOL_VERSION for line in runtime.raw_lines)


def test_probe_answers_with_the_clip_facts(runtime: Runtime) -> None:
    runtime.send({"type": "probe", "id": "p1", "path": str(media_path("video", CLIP))})
    result = runtime.wait_for("p1")["result"]
    assert result["video"]["fps"] == "25/1" and result["video"]["frame_count"] == 125


def test_preview_of_a_short_range_reports_throttled_progress_then_the_proxy(runtime: Runtime, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    began = time.monotonic()
    runtime.send({"type": "preview", "id": "j1", "request": sync_request(tmp_path, start=25, stop=50)})
    # First the in point's rendered frame, as a PNG, while the rest renders; then the proxy.
    poster = runtime.wait_for("j1", ("preview-ready", "error"), seen=seen)
    assert poster["event"] == "preview-ready" and poster.get("partial") is True, poster
    assert Path(poster["path"]).suffix == ".png" and (poster["start"], poster["stop"]) == (25, 50)
    first = cv2.imread(poster["path"])
    assert first is not None and first.shape[0] <= 540
    ready = runtime.wait_for("j1", ("preview-ready", "error"), seen=seen)
    assert ready["event"] == "preview-ready" and not ready.get("partial"), ready
    elapsed = time.monotonic() - began
    done = runtime.wait_for("j1")
    assert done["event"] == "done"
    path = Path(ready["path"])
    assert path.is_file() and path.suffix == ".mp4"
    assert Path(os.environ["MYTALK_HOME"]) in path.parents, "previews go to the user cache"
    assert (ready["start"], ready["stop"], ready["frames"]) == (25, 50, 25)
    assert done["result"]["report"]["engine"]["name"] == pick_engine()
    progress = [e for e in seen if e["event"] == "progress" and e["id"] == "j1"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]
    # At most ~10 a second: every stage may add its first and last event.
    stages = {e["stage"] for e in progress}
    assert len(progress) <= 10 * elapsed + 2 * len(stages) + 1
    assert not list(tmp_path.iterdir()), "a preview never writes into the output folder"


def test_a_prepared_preview_streams_its_frames_with_an_eta_for_the_whole_job(runtime: Runtime, tmp_path: Path) -> None:
    request = sync_request(tmp_path, start=25, stop=75)
    seen: list[dict[str, Any]] = []
    runtime.send({"type": "prepare", "id": "r1", "request": request})
    prepared = runtime.wait_for("r1", seen=seen)
    assert prepared["event"] == "done" and (prepared["result"]["start"], prepared["result"]["stop"]) == (25, 75), prepared
    assert not list(tmp_path.iterdir()), "prepare writes nothing but caches"
    runtime.send({"type": "preview", "id": "j1", "request": request})
    ready = runtime.wait_for("j1", ("preview-ready",), seen=seen)
    while ready.get("partial"):
        ready = runtime.wait_for("j1", ("preview-ready",), seen=seen)
    assert runtime.wait_for("j1", seen=seen)["event"] == "done"
    mine = [e for e in seen if e.get("id") == "j1"]
    tracking = [e for e in mine if e["event"] == "progress" and e["stage"] == "face tracking"]
    # Opened at 0 (the frame count the whole-job ETA needs), then whole at once: the prepared range came from
    # the tracking cache.
    assert [(e["done"], e["total"]) for e in tracking] == [(0, 50), (50, 50)], tracking
    assert not any(e["event"] == "progress" and e["stage"].startswith("learning") for e in mine)
    streamed = [e for e in mine if e["event"] == "preview-frames"]
    counts = [e["ready"] for e in streamed]
    assert counts[0] == 1 and counts[-1] == 50 and counts == sorted(counts), counts
    assert mine.index(streamed[-1]) < mine.index(ready), "every frame was shown before the proxy was done"
    assert (streamed[0]["start"], streamed[0]["stop"]) == (25, 75)
    assert not Path(streamed[0]["folder"]).exists(), "the streamed frames go once the proxy is there"
    # The ETA covers the whole job: the cached tracking stage is over as it starts (no ETA of its own),
    # yet it says how long the 50 frames still to render will take.
    assert tracking[0].get("eta_s", 0) > 0, tracking


def test_the_actor_learned_at_clip_load_is_what_the_prepare_of_a_range_then_finds(tmp_path: Path) -> None:
    """`learn` needs only the clip; the prepare that follows learns nothing more about the actor."""
    runtime = Runtime(env={"MYTALK_HOME": str(tmp_path / "home")})  # an empty profile cache: nothing learned yet
    try:
        assert runtime.next_event(timeout=60)["event"] == "hello"
        seen: list[dict[str, Any]] = []
        runtime.send({"type": "learn", "id": "l1", "request": {"video": str(media_path("video", CLIP)), "engine": "classic"}})
        learned = runtime.wait_for("l1", seen=seen)
        assert learned["event"] == "done" and learned["result"]["learned"] is True, learned
        assert any(e["event"] == "progress" and e["stage"].startswith("learning") for e in seen if e.get("id") == "l1")
        assert learned["result"]["line_timed"] is False, "no line was named"
        # The line, once picked: its phones are timed ahead, before any marks; the actor is not learned again.
        line_request = {"video": str(media_path("video", CLIP)), "engine": "classic",
                        "audio": str(media_path("audio", LINE)), "audio_in": "0"}
        runtime.send({"type": "learn", "id": "l0", "request": line_request})
        seen.clear()
        timed = runtime.wait_for("l0", seen=seen)
        assert timed["event"] == "done" and timed["result"]["line_timed"] is True, timed
        stages = {e["stage"] for e in seen if e.get("id") == "l0" and e["event"] == "progress"}
        assert "phone timing: recognition" in stages and not any(s.startswith("learning") for s in stages), stages
        runtime.send({"type": "prepare", "id": "r1", "request": sync_request(tmp_path / "out", start=25, stop=75)})
        seen.clear()
        assert runtime.wait_for("r1", seen=seen)["event"] == "done"
        stages = {e["stage"] for e in seen if e.get("id") == "r1" and e["event"] == "progress"}
        assert "face tracking" in stages and not any(stage.startswith("learning") for stage in stages), stages
        # Unguided, the range's own sound must be left out of what is learned, and the range is not known yet.
        runtime.send({"type": "learn", "id": "l2", "request": {"video": str(media_path("video", CLIP)), "guide": "none"}})
        assert runtime.wait_for("l2")["result"]["learned"] is False
        runtime.send({"type": "learn", "id": "l3", "request": {"audio": "x.wav"}})
        refused = runtime.wait_for("l3")
        assert refused["code"] == "ProtocolError" and "at least video" in refused["message"], refused
    finally:
        runtime.close()


def test_commit_writes_v001_then_v002_with_sidecars_and_never_overwrites(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "renders"
    request = sync_request(out, start=10, stop=35, codec="prores")
    runtime.send({"type": "commit", "id": "c1", "request": request})
    runtime.send({"type": "commit", "id": "c2", "request": request})  # queues behind c1
    first, second = runtime.wait_for("c1"), runtime.wait_for("c2")
    assert first["event"] == second["event"] == "done", (first, second)
    stem = Path(CLIP).stem
    assert first["result"]["output"] == str(out / f"{stem}_10-35_v001.mov")
    assert second["result"]["output"] == str(out / f"{stem}_10-35_v002.mov")
    assert sorted(p.name for p in out.iterdir()) == [
        f"{stem}_10-35_v001.json", f"{stem}_10-35_v001.mov", f"{stem}_10-35_v002.json", f"{stem}_10-35_v002.mov"]
    v1_bytes = (out / f"{stem}_10-35_v001.mov").read_bytes()
    sidecar = json.loads((out / f"{stem}_10-35_v002.json").read_text())
    assert sidecar["inputs"]["video"]["sha256"] and sidecar["inputs"]["audio"]["sha256"]
    assert sidecar["engine"]["name"] == pick_engine() and sidecar["engine"]["version"]
    assert sidecar["settings"]["codec"] == "prores" and sidecar["range"]["frames"] == 25
    assert sidecar["output"]["path"] == second["result"]["output"]
    # A third commit still leaves v001 as it was.
    runtime.send({"type": "commit", "id": "c3", "request": request})
    assert runtime.wait_for("c3")["result"]["version"] == 3
    assert (out / f"{stem}_10-35_v001.mov").read_bytes() == v1_bytes


def test_cancel_stops_a_running_commit_within_a_second_and_leaves_no_files(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "renders"
    request = sync_request(out, start=0, stop=125, codec="prores")
    runtime.send({"type": "commit", "id": "long", "request": request})
    runtime.send({"type": "commit", "id": "queued", "request": request})
    runtime.wait_for("long", ("progress",))
    asked = time.monotonic()
    runtime.send({"type": "cancel", "id": "x1", "job": "long"})
    stopped = runtime.wait_for("long")
    latency = time.monotonic() - asked
    assert stopped["event"] == "error" and stopped["code"] == "JobCancelledError", stopped
    assert latency < 1.0, f"cancel took {latency:.2f} s"
    # The queued one starts next; cancelling it too leaves nothing behind.
    runtime.send({"type": "cancel", "id": "x2", "job": "queued"})
    assert runtime.wait_for("queued")["code"] == "JobCancelledError"
    runtime.send({"type": "cancel", "id": "x3", "job": "never-existed"})
    assert runtime.wait_for("x3")["result"]["cancelled"] is False
    leftovers = [p.name for p in out.iterdir()] if out.exists() else []
    assert leftovers == [], leftovers


def test_a_failing_job_names_the_error_and_the_next_job_still_runs(runtime: Runtime, tmp_path: Path) -> None:
    runtime.send({"type": "preview", "id": "bad", "request": sync_request(tmp_path, start=100, stop=400)})
    error = runtime.wait_for("bad")
    assert error["event"] == "error" and error["code"] == "RangeError" and "125 frames" in error["message"]
    # A line slipped wholly off the range (the panel's slip sets audio_in) is refused, not rendered shut.
    runtime.send({"type": "preview", "id": "off", "request": sync_request(tmp_path, start=0, stop=5, audio_in="600s")})
    error = runtime.wait_for("off")
    assert error["event"] == "error" and error["code"] == "UsageError" and "does not reach" in error["message"], error
    runtime.send({"type": "preview", "id": "good", "request": sync_request(tmp_path, start=0, stop=5)})
    assert runtime.wait_for("good")["event"] == "done"


def test_track_answers_with_faces_or_says_tracking_is_missing(runtime: Runtime) -> None:
    runtime.send({"type": "track", "id": "t1", "video": str(media_path("video", CLIP)), "start": 0, "stop": 2})
    event = runtime.wait_for("t1", timeout=300)
    if event["event"] == "error":
        assert event["code"] == "NotInstalledError" and "not installed" in event["message"]
    else:
        assert event["result"]["start"] == 0 and len(event["result"]["frames"]) == 2


def _phone_workers_of(pid: int) -> dict[int, float]:
    """The runtime's spawned children (its phone workers, or its fork server; the resource tracker is not
    one) → CPU seconds used by each and by its children, live (a fork server's forks serve several tasks
    before they exit) or collected."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float, bytes]] = {}  # pid → (parent, CPU seconds with collected children, cmdline)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), sum(int(field) for field in fields[11:15]) / tick, command)
    return {child: cpu + sum(grand_cpu for grand_parent, grand_cpu, _ in stats.values() if grand_parent == child)
            for child, (parent, cpu, command) in stats.items() if parent == pid and b"spawn_main" in command}


def _settled_workers(pid: int, count: int, timeout: float = 90.0) -> dict[int, float]:
    """Wait until `count` workers exist and have stopped loading (their CPU time holds still for a second)."""
    deadline = time.monotonic() + timeout
    last: dict[int, float] = {}
    while time.monotonic() < deadline:
        now = _phone_workers_of(pid)
        if len(now) == count and now == last:
            return now
        last = now
        time.sleep(1.0)
    raise AssertionError(f"the runtime's phone workers did not settle: {last}")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list the runtime's processes")
def test_the_runtime_starts_two_phone_workers_after_hello_and_its_jobs_share_them(runtime: Runtime,
                                                                                  tmp_path: Path) -> None:
    """A cold preview's phones (the clip's own sound and the line) are timed by the warm workers the runtime
    started after its hello (on Linux one fork server with two slots, `phone_forks`): they do the work, and
    no process of the job's own is left behind."""
    from mytalk.core.audio.phone_forks import can_fork

    processes = 1 if can_fork() else 2
    deadline = time.monotonic() + 90
    while True:
        runtime.send({"type": "hello", "id": "warm?"})
        if runtime.wait_for("warm?", ("hello",))["warmed_up"]:
            break
        assert time.monotonic() < deadline, "the runtime never said it had warmed up"
        time.sleep(0.2)
    before = _settled_workers(runtime.process.pid, processes)
    runtime.send({"type": "preview", "id": "w", "request": sync_request(tmp_path, start=0, stop=50)})
    assert runtime.wait_for("w", timeout=300)["event"] == "done"
    after = _phone_workers_of(runtime.process.pid)
    assert set(after) == set(before), "the same two workers, none spawned for the job and none lost"
    assert all(after[pid] - before[pid] > 0.4 / processes for pid in before), (before, after)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list the runtime's open files")
def test_the_runtime_opens_no_socket(runtime: Runtime, tmp_path: Path) -> None:
    runtime.send({"type": "preview", "id": "n", "request": sync_request(tmp_path, start=0, stop=5)})
    assert runtime.wait_for("n")["event"] == "done"
    fds = Path(f"/proc/{runtime.process.pid}/fd")
    targets = [os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()]
    assert not [t for t in targets if t.startswith("socket:")], targets


def test_shutdown_and_end_of_input_both_exit_cleanly(tmp_path: Path) -> None:
    proc = Runtime()
    assert proc.next_event()["event"] == "hello"
    proc.send({"type": "shutdown", "id": "s"})
    assert proc.wait_for("s")["result"] == {"shutdown": True}
    assert proc.process.wait(timeout=15) == 0
    proc = Runtime()
    assert proc.next_event()["event"] == "hello"
    proc.process.stdin.close()  # type: ignore[union-attr]
    assert proc.process.wait(timeout=15) == 0


def test_the_core_entry_point_the_panel_starts_serves_the_same_protocol_and_filters_native_chatter() -> None:
    """The panel starts `python -m mytalk.core.runtime` (not the plugin's CLI); it must behave as `mytalk runtime`."""
    pytest.importorskip("PySide6")
    from mytalk.ui.runtime_client import default_command

    program, arguments = default_command()
    proc = Runtime(command=[program, *arguments])
    assert proc.next_event()["event"] == "hello"
    proc.send({"type": "track", "id": "t", "video": str(media_path("video", CLIP)), "start": 0, "stop": 2})
    tracked = proc.wait_for("t", timeout=300)
    assert tracked["event"] == "done" or tracked["code"] == "NotInstalledError"
    proc.send({"type": "shutdown", "id": "s"})
    assert proc.wait_for("s")["result"] == {"shutdown": True}
    assert proc.process.wait(timeout=15) == 0
    assert all(json.loads(line)["v"] == PROTOCOL_VERSION for line in proc.raw_lines)
    stderr = proc.process.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
    assert "inference_feedback_manager" not in stderr and "Created TensorFlow Lite" not in stderr, stderr
