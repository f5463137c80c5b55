"""The panel's side of the runtime: a child process over QProcess, restarted when it dies.

Why a child process and not a thread: the runtime loads torch and FFmpeg, and a crash there
must cost the editor a restarted runtime, not the host application and its unsaved cut. QProcess
is event-driven, so reading events needs no thread of ours: lines are parsed as they arrive and
re-emitted as Qt signals on the GUI thread.

Restart policy: on an exit the panel did not ask for, every job still open is reported as failed
("the runtime stopped ..."), `crashed` is emitted with the exit status and the tail of the
runtime's stderr, and a fresh runtime is started. Three crashes within a minute stop the
automatic restarts (a runtime that dies on start-up would otherwise loop); `start()` tries again.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from mytalk.core.runtime import protocol
from mytalk.core.runtime.protocol import ProtocolError

log = logging.getLogger("mytalk.ui.runtime")

_ERROR_LINE = re.compile(r"Error\b|error:|Traceback|Exception|[Ff]atal|Abort|Segmentation")
_CHATTER = re.compile(r"^[WI]\d{4} |^INFO:|^WARNING:")

RESTART_DELAY_MS = 300
CRASH_WINDOW_S = 60.0
MAX_CRASHES_IN_WINDOW = 3
STDERR_TAIL_LINES = 40


def default_command() -> tuple[str, list[str]]:
    """The runtime command: this interpreter running `python -m mytalk.core.runtime`.

    Same interpreter as the panel, so the child sees the same installed packages; `-m` instead
    of the console script because a host application's PATH may not contain the venv. The core's
    own entry point, not `mytalk runtime`: that command lives in the host-adapter layer, which the
    panel must not depend on.
    """
    return sys.executable, ["-m", "mytalk.core.runtime"]


class RuntimeClient(QObject):
    """Owns the runtime child process and speaks the protocol with it.

    Signals: `ready(hello)` after each (re)start, `eventReceived(message)` for every event, `crashed(text)`
    on an unexpected exit, `restarted()` when a replacement runtime has said hello.
    """

    ready = Signal(dict)
    eventReceived = Signal(dict)
    crashed = Signal(str)
    restarted = Signal()
    stateChanged = Signal(str)  # "starting", "ready", "crashed", "stopped"

    def __init__(self, parent: QObject | None = None, *, program: str | None = None,
                 arguments: list[str] | None = None, env: Mapping[str, str] | None = None,
                 auto_restart: bool = True) -> None:
        super().__init__(parent)
        default_program, default_arguments = default_command()
        self.program = program or default_program
        self.arguments = list(arguments if arguments is not None else default_arguments)
        self.env = dict(os.environ if env is None else env)
        self.auto_restart = auto_restart
        self.hello: dict[str, Any] | None = None
        self.state = "stopped"
        self.starts = 0
        self._process: QProcess | None = None
        self._buffer = b""
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._open: dict[str, str] = {}  # request id -> type, for requests still awaiting done/error
        self._crashes: deque[float] = deque()
        self._stopping = False
        self._ids = itertools.count(1)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.setInterval(RESTART_DELAY_MS)
        self._restart_timer.timeout.connect(self._restart)
        self._id_prefix = f"p{os.getpid()}-{id(self) & 0xFFFF:x}-"

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runtime (no-op while one is running)."""
        if self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning:
            return
        self._stopping = False
        self.hello = None
        self._buffer = b""
        process = QProcess(self)
        environment = QProcessEnvironment()
        for key, value in self.env.items():
            environment.insert(key, value)
        # The protocol is UTF-8 JSON; keep Python from buffering it behind a pipe.
        environment.insert("PYTHONUNBUFFERED", "1")
        environment.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(environment)
        process.setProgram(self.program)
        process.setArguments(self.arguments)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        self.starts += 1
        self._set_state("starting")
        process.start()

    def stop(self, timeout_ms: int = 3000) -> None:
        """Ask the runtime to shut down, then make sure it is gone. No restart follows."""
        self._stopping = True
        self._restart_timer.stop()
        process = self._process
        if process is None:
            self._set_state("stopped")
            return
        if process.state() == QProcess.ProcessState.Starting:
            process.waitForStarted(timeout_ms)
        if process.state() == QProcess.ProcessState.Running:
            # A clean shutdown cancels the running job, which then deletes its partial file;
            # closing stdin makes even a runtime still importing exit as soon as it reads.
            self._write({"type": "shutdown", "id": self._new_id()})
            process.closeWriteChannel()
            if not process.waitForFinished(timeout_ms):
                process.kill()
                process.waitForFinished(1000)
        self._process = None
        process.deleteLater()
        self._set_state("stopped")

    def is_running(self) -> bool:
        return self._process is not None and self._process.state() == QProcess.ProcessState.Running

    def is_ready(self) -> bool:
        return self.state == "ready"

    def pid(self) -> int | None:
        """The runtime's process id (for tests and diagnostics), or None when it is not running."""
        if self._process is None:
            return None
        pid = int(self._process.processId())
        return pid or None

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    def error_lines(self, limit: int = 2) -> list[str]:
        """The last lines of the runtime's stderr that look like an error, not library chatter.

        Model runtimes (TFLite, absl) log warnings to stderr on every start; only tracebacks and
        error lines explain a crash to an editor.
        """
        wanted = [line for line in self._stderr_tail if _ERROR_LINE.search(line) and not _CHATTER.match(line)]
        return wanted[-limit:]

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    # -- requests --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids)}"

    def _write(self, message: dict[str, Any]) -> None:
        assert self._process is not None
        self._process.write((protocol.encode(message) + "\n").encode("utf-8"))

    def send(self, kind: str, **fields: Any) -> str:
        """Send a request; returns its id. The matching done/error arrives as an `event`.

        Requests sent while the runtime is still starting are written to the pipe right away:
        the runtime reads them once it is up, so callers need not wait for `ready`.
        """
        if kind not in protocol.REQUEST_TYPES:
            raise ProtocolError(f"unknown request type {kind!r}")
        if self._process is None or self._process.state() == QProcess.ProcessState.NotRunning:
            self.start()
        request_id = str(fields.pop("id", None) or self._new_id())
        self._open[request_id] = kind
        self._write({"type": kind, "id": request_id, **fields})
        return request_id

    def open_requests(self) -> dict[str, str]:
        """Requests awaiting their done or error event: id -> type."""
        return dict(self._open)

    # -- process output --------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                message = protocol.decode(line)
                protocol.check_event(message)
            except ProtocolError as error:
                log.warning("runtime sent a bad line (%s): %r", error, line[:200])
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        name = message["event"]
        if name == "hello" and message.get("id") is None:
            first = self.starts == 1 or self.hello is not None
            self.hello = message
            self._set_state("ready")
            self.ready.emit(message)
            if not first:
                self.restarted.emit()
            return
        if name in ("done", "error") and message.get("id") is not None:
            self._open.pop(str(message["id"]), None)
        self.eventReceived.emit(message)

    def _read_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self._stderr_tail.append(line)
                log.debug("runtime: %s", line)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._handle_exit(f"the runtime could not start ({self.program} {' '.join(self.arguments)}): "
                              f"{self._process.errorString() if self._process else error}")

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._stopping:
            return
        if exit_status == QProcess.ExitStatus.CrashExit:
            how = "crashed (killed by a signal)"
        else:
            how = f"exited with status {exit_code}"
        self._handle_exit(f"the MyTalk runtime {how}")

    def _handle_exit(self, reason: str) -> None:
        if self._stopping:
            return
        self._read_stdout()
        self._read_stderr()
        tail = "\n".join(self.error_lines())
        # Every request still open will never be answered: fail it, so no progress bar hangs.
        for request_id, kind in list(self._open.items()):
            self.eventReceived.emit(protocol.error_event(request_id, f"{kind} stopped: {reason}; the runtime was restarted, "
                                                 "run it again", "RuntimeCrashed") | {"v": protocol.PROTOCOL_VERSION})
        self._open.clear()
        self._process = None
        self._set_state("crashed")
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > CRASH_WINDOW_S:
            self._crashes.popleft()
        will_restart = self.auto_restart and len(self._crashes) < MAX_CRASHES_IN_WINDOW
        message = reason + ("; restarting it" if will_restart else "; press Restart runtime to try again")
        if tail:
            message += f"\n{tail}"
        self.crashed.emit(message)
        if will_restart:
            self._restart_timer.start()

    def _restart(self) -> None:
        if not self._stopping and self._process is None:
            self.start()
