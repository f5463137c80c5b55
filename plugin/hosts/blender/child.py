"""MyTalk as child processes of Blender (standard library only: Blender's Python has no MyTalk).

Blender runs this add-on in its own Python, without MyTalk, torch or Qt, so all real work happens
in MyTalk's own installation:

- a commit talks to `mytalk runtime` over its JSON-lines protocol (one object per line on stdin and
  stdout, `"v": 1`; see `mytalk.core.runtime.protocol`): the runtime renders the next free version
  `<clip>_<in>-<out>_vNNN` into the render folder with its sidecar report, sends `progress` events
  and stops within a frame on `cancel`, leaving no file;
- Preview starts the Qt panel (`mytalk blender panel`) detached: Blender never waits for it.

A reader thread moves the runtime's lines into a queue, so Blender's UI thread only ever polls
(`RuntimeJob.poll`) and never blocks on the pipe. A crash of MyTalk cannot take Blender down.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .marks import Refused

SHUTDOWN_WAIT_S = 10.0
"""How long a finished or cancelled job's runtime gets to exit after `shutdown` before it is killed."""


def mytalk_command(executable: str) -> list[str]:
    """The command that runs MyTalk's CLI: the `mytalk` script itself, or a Python that has MyTalk
    installed (`python -m mytalk.plugin.cli`), as the add-on preference may name either."""
    name = Path(executable).name.lower()
    if name.startswith("python"):
        return [executable, "-m", "mytalk.plugin.cli"]
    return [executable]


def check_executable(executable: str) -> None:
    """Refuse a missing MyTalk before starting anything; the message says where to set it."""
    if not executable or not Path(executable).is_file():
        raise Refused(f"MyTalk was not found at {executable!r}; set its path in Preferences ▸ Add-ons ▸ MyTalk "
                      "(or run 'mytalk blender install' again)")


def _detached() -> dict[str, Any]:
    """Options that let a child outlive a blocked or closed Blender (and not share its Ctrl-C)."""
    if sys.platform.startswith("win"):
        flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        return {"creationflags": flags}
    return {"start_new_session": True}


def start_panel(executable: str, video: Path, line: Path, start: int, stop: int, audio_in: str,
                render_folder: Path, *, line_channels: str | None = None,
                guide_channels: str | None = None) -> subprocess.Popen[bytes]:
    """Open MyTalk's Qt panel on the clip, the line, the marks and the channels picked; returns at once."""
    check_executable(executable)
    command = [*mytalk_command(executable), "blender", "panel", str(video), "--audio", str(line),
               "--in", str(start), "--out", str(stop), "--audio-in", audio_in, "--render-folder", str(render_folder)]
    if line_channels:
        command += ["--audio-channels", line_channels]
    if guide_channels:
        command += ["--guide-channels", guide_channels]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=environment(), **_detached())


@dataclass
class JobState:
    """What the UI shows of a running job; `poll` updates it."""

    done: int = 0
    total: int = 0
    stage: str = "starting"
    eta_s: float | None = None
    mytalk_version: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    cancelled: bool = False
    finished: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total > 0 else 0.0

    def describe(self) -> str:
        eta = f", about {int(self.eta_s + 0.5)} s left" if self.eta_s is not None else ""
        counts = f" {self.done}/{self.total}" if self.total else ""
        return f"MyTalk: {self.stage}{counts}{eta}"


class RuntimeJob:
    """One commit through a `mytalk runtime` child: start it, `poll` it, `cancel` it, `close` it."""

    JOB_ID = "blender-commit"

    def __init__(self, executable: str, request: dict[str, Any], *, env: dict[str, str] | None = None) -> None:
        check_executable(executable)
        self.state = JobState()
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self.process = subprocess.Popen(
            [*mytalk_command(executable), "runtime"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, env=env, **_detached(),
        )
        self._reader = threading.Thread(target=self._read, name="mytalk-runtime-reader", daemon=True)
        self._reader.start()
        self._send({"type": "hello", "id": "hello"})
        self._send({"type": "commit", "id": self.JOB_ID, "request": request})

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _send(self, message: dict[str, Any]) -> bool:
        if self.process.stdin is None or self.process.poll() is not None:
            return False
        try:
            self.process.stdin.write((json.dumps({"v": 1, **message}) + "\n").encode("utf-8"))
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def poll(self) -> JobState:
        """Apply every event that arrived since the last call; never blocks."""
        state = self.state
        while not state.finished:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:  # the runtime's stdout closed before the job answered: it died
                self.process.wait()
                state.error = f"MyTalk stopped unexpectedly (exit code {self.process.returncode}){self._stderr_tail()}"
                state.finished = True
                break
            self._apply(line)
        return state

    def _apply(self, line: bytes) -> None:
        state = self.state
        try:
            event = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return  # the protocol promises JSON only; anything else is not ours to act on
        state.events.append(event)
        kind, event_id = event.get("event"), event.get("id")
        if kind == "hello":
            state.mytalk_version = str(event.get("mytalk", ""))
        elif event_id != self.JOB_ID:
            return
        elif kind == "progress":
            state.done, state.total = int(event.get("done", 0)), int(event.get("total", 0))
            state.stage, state.eta_s = str(event.get("stage", "")), event.get("eta_s")
        elif kind == "done":
            state.result, state.finished = dict(event.get("result") or {}), True
        elif kind == "error":
            state.cancelled = event.get("code") == "JobCancelledError"
            frame = event.get("frame")
            where = f" (frame {frame})" if frame is not None else ""
            state.error, state.finished = f"{event.get('message', 'MyTalk failed')}{where}", True

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            lines = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return f": {lines[-1].strip()}" if lines else ""

    def cancel(self) -> None:
        """Ask the runtime to stop the job; it answers with an error event (JobCancelledError) and no file."""
        if not self._send({"type": "cancel", "id": "cancel", "job": self.JOB_ID}):
            self.process.kill()

    def close(self) -> None:
        """Shut the runtime down (it finishes cleaning up first); kill it if it does not go."""
        self._send({"type": "shutdown", "id": "shutdown"})
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=SHUTDOWN_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


def render_request(*, video: Path, line: Path, folder: Path, start: int, stop: int, audio_in: str, engine: str,
                   codec: str, extra: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The runtime's commit request: `mytalk sync` fields as strings, output = the render folder."""
    return {"video": str(video), "audio": str(line), "output": str(folder), "in_point": str(start),
            "out_point": str(stop), "audio_in": audio_in, "engine": engine, "codec": codec, **dict(extra)}


def environment() -> dict[str, str]:
    """The child's environment: Blender's, without the variables that point Python at Blender's own
    interpreter and libraries (MyTalk's Python would load the wrong standard library)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}


__all__ = ["JobState", "RuntimeJob", "check_executable", "environment", "mytalk_command", "render_request",
           "start_panel"]
