"""`mytalk runtime`: the local core process that the panel and host shims talk to.

Why a separate process: the engines run torch and FFmpeg, and a crash there (a segfault in a
decoder, a CUDA abort) must not take the editing application down with it. The panel starts this
process as a child, speaks the JSON-lines protocol of `mytalk.core.runtime.protocol` over its
stdin and stdout, and restarts it when it dies.

Threads: the main thread reads requests, so `cancel` is seen while a job renders; one worker
thread runs the jobs (track, learn, prepare, preview, commit) one at a time, in arrival order. `hello`, `probe`,
`cancel` and `shutdown` are answered by the reader at once. Cancel flags live in a `JobSession`;
`run_sync` polls them per frame, so a running job stops within a frame and leaves no file.

stdout belongs to the protocol. At start-up the real stdout file descriptor is duplicated for
the protocol and descriptor 1 is pointed at stderr, so a stray `print` or a C library writing to
stdout cannot corrupt the event stream. Logging goes to stderr. Nothing here opens a socket.

Nothing a client sends can stop the runtime: every line is decoded and handled under one guard
that turns any exception into an `error` event, and lines are read with a size limit
(`mytalk.core.runtime.lines`). SIGTERM, SIGHUP and SIGINT cancel the jobs, wait for them to clean
up and exit with 143, 129 or 130 and one line on stderr. At start-up the runtime undoes what a
killed predecessor left (`mytalk.core.jobs.cleanup`): the panel restarts it after a crash.

Warm-up: once it has said hello, the runtime gets ready for its first job on a thread of its own, while
the editor is still choosing a clip. It starts its phone-timing processes (`phone_workers`, lent to every
job through the `JobSession`), loads the face models and imports what the default engine's first job
would (`StagedEngine.warm_up`), so a first preview does not pay those seconds. It starts only once the
runtime is idle: a job sent at once is not slowed by it, and loads what it needs itself (its first phone
task starts the phone processes, which then stay for the jobs after it).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from mytalk.core import __version__
from mytalk.core.audio.phone_workers import PhoneWorkers
from mytalk.core.engines import available_engines, create_engine, default_engine
from mytalk.core.errors import JobCancelledError, MyTalkError, environment_error
from mytalk.core.interrupts import Interrupted, stop_on_signals
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import parse_face_point
from mytalk.core.runtime import protocol
from mytalk.core.runtime.eta import JobEta, RenderRates
from mytalk.core.runtime.lines import LineReader, Overlong, signal_wakeup
from mytalk.core.runtime.protocol import ProgressThrottle, ProtocolError
from mytalk.core.userdirs import UserDirs, user_dirs

log = logging.getLogger("mytalk.runtime")

WARM_UP_QUIET_S = 0.3
"""The warm-up starts once no job has been queued or running for this long (`RuntimeServer._warm`)."""

IDLE_POLL_S = 0.05
"""How often the warm-up looks whether the runtime is idle."""

WARM_UP_WAIT_S = 60.0
"""How long the warm-up waits for its phone workers to load before it calls itself done anyway."""

SHUTDOWN_GRACE_S = 5.0
"""How long shutdown waits for a cancelled job to unwind (it normally takes one frame)."""


@dataclass
class _Job:
    """A queued request that runs on the worker thread."""

    id: str
    kind: str
    message: dict[str, Any]


class RuntimeServer:
    """Dispatches protocol requests; `emit` is the only way anything reaches the client.

    `write_line` receives one encoded event (without newline) at a time and must be safe to call
    from the reader and worker threads; `RuntimeServer` serialises the calls with a lock.
    """

    def __init__(self, write_line: Callable[[str], None], session: commands.JobSession | None = None,
                 *, log_dir: Path | None = None, warm_up: bool = False) -> None:
        self._write_line = write_line
        self._write_lock = threading.Lock()
        self.session = session or commands.JobSession()
        self.render_rates = RenderRates()  # seconds per rendered frame, learned from this runtime's own jobs (the ETA)
        self._log_dir = log_dir
        self._queue: deque[_Job] = deque()
        self._running: _Job | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._last_trim: float | None = None  # monotonic time of the cache's last trim (`_trim_cache`)
        self._warm_up = warm_up  # after hello, start the session's phone workers and load the face models
        self._warmed = threading.Event()  # the warm-up has ended (set at once when there is none)
        if not warm_up:
            self._warmed.set()
        self._worker = threading.Thread(target=self._work, name="mytalk-runtime-worker", daemon=True)
        self._worker.start()

    # -- output --------------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        """Write one event line; a broken pipe (client gone) is logged, not raised."""
        line = protocol.encode(event)
        with self._write_lock:
            try:
                self._write_line(line)
            except (BrokenPipeError, ValueError, OSError) as error:
                log.debug("client gone, event dropped: %s", error)

    def hello(self, request_id: str | None = None) -> None:
        engines = available_engines()
        default = default_engine() if default_engine() in engines else None
        self.emit(protocol.hello_event(request_id, mytalk_version=__version__, engines=engines,
                                       default_engine=default, pid=os.getpid(), warmed_up=self._warmed.is_set()))

    def _emit_error(self, request_id: str | None, error: BaseException) -> None:
        try:
            error = environment_error(error) or error  # a full disk is the user's to fix, not a bug
            if isinstance(error, MyTalkError):
                message = str(error).replace("\n", "; ")
            else:
                where = self._log_internal_error(error)
                message = f"internal error: {type(error).__name__}: {error}" + (f"; details in {where}" if where else "")
            event = protocol.error_event(request_id, message[:4000], protocol.error_code(error), commands.failed_frame(error))
        except Exception:  # noqa: BLE001 - describing the error failed too; the request still gets its answer
            event = protocol.error_event(request_id, f"internal error: {type(error).__name__}", "InternalError")
        self.emit(event)

    def _log_internal_error(self, error: BaseException) -> Path | None:
        text = "".join(traceback.format_exception(error))
        log.error("internal error\n%s", text)
        try:
            folder = UserDirs.ensure(self._log_dir or user_dirs().logs)
            path = folder / f"runtime-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
            with path.open("a", encoding="utf-8") as handle:
                handle.write(text + "\n")
            return path
        except OSError:
            return None

    # -- input ---------------------------------------------------------------------------------

    def handle_line(self, line: str | bytes | Overlong) -> bool:
        """Handle one request line; returns False once the runtime should stop reading.

        Never raises (but for a stop signal): whatever the line holds, the answer is an event.
        """
        try:
            if isinstance(line, Overlong):
                raise ProtocolError(f"request line of {line.size} bytes is too long (limit {protocol.MAX_LINE_BYTES}); "
                                    "it was skipped")
            if not line.strip():
                return True
            message = protocol.decode(line)
        except Exception as error:  # noqa: BLE001 - a hostile line gets an error event, never a dead runtime
            self._emit_error(None, error)
            return True
        try:
            return self.handle(message)
        except Exception as error:  # noqa: BLE001
            self._emit_error(protocol.request_event_id(message), error)
            return True

    def handle(self, message: dict[str, Any]) -> bool:
        """Handle one decoded request; returns False after `shutdown`."""
        try:
            kind, request_id = protocol.check_request(message)
        except ProtocolError as error:
            self._emit_error(protocol.request_event_id(message), error)
            return True
        try:
            if kind == "hello":
                self.hello(request_id)
            elif kind == "probe":
                self._probe(request_id, message)
            elif kind == "cancel":
                self._cancel(request_id, protocol.parse_job_id(message))
            elif kind == "shutdown":
                self.shutdown()
                self.emit(protocol.done_event(request_id, {"shutdown": True}))
                return False
            else:
                self._enqueue(_Job(request_id, kind, message))
        except Exception as error:  # noqa: BLE001 - every request gets an answer, even a bug
            self._emit_error(request_id, error)
        return True

    def _probe(self, request_id: str, message: dict[str, Any]) -> None:
        path = Path(protocol.require(message, "path", str, "probe")).expanduser()
        self.emit(protocol.done_event(request_id, self.session.probes.probe(path).to_dict()))

    def _enqueue(self, job: _Job) -> None:
        # Validate before queueing, so a malformed request fails now rather than after a long job.
        if job.kind in ("prepare", "preview", "commit"):
            protocol.sync_request_from_json(job.message.get("request"), what=f"{job.kind}.request")
        elif job.kind == "learn":
            protocol.learn_request_from_json(job.message.get("request"))
        else:
            protocol.require(job.message, "video", str, "track")
        with self._cond:
            if self._closing:
                raise ProtocolError(f"{job.kind} {job.id}: the runtime is shutting down; start it again")
            busy = {queued.id for queued in self._queue} | ({self._running.id} if self._running else set())
            if job.id in busy:
                raise ProtocolError(f"{job.kind}: id {job.id!r} is already queued or running; use a new id per request")
            self.session.register(job.id)
            self._queue.append(job)
            self._cond.notify()

    def _cancel(self, request_id: str, job_id: str) -> None:
        with self._cond:
            queued = next((job for job in self._queue if job.id == job_id), None)
            if queued is not None:
                self._queue.remove(queued)
            running = self._running is not None and self._running.id == job_id
        if queued is not None:
            self.session.finish(job_id)
            self.emit(protocol.error_event(job_id, f"{queued.kind} cancelled before it started; nothing was written",
                                           JobCancelledError.__name__))
            self.emit(protocol.done_event(request_id, {"job": job_id, "cancelled": True, "state": "queued"}))
            return
        flagged = running and commands.cancel(self.session, job_id)
        self.emit(protocol.done_event(request_id, {"job": job_id, "cancelled": bool(flagged),
                                                   "state": "running" if flagged else "unknown"}))

    def shutdown(self, timeout: float = SHUTDOWN_GRACE_S) -> None:
        """Drop queued jobs, cancel the running one and wait for it to unwind."""
        with self._cond:
            self._closing = True
            dropped = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for job in dropped:
            self.session.finish(job.id)
            self.emit(protocol.error_event(job.id, f"{job.kind} cancelled: the runtime shut down; nothing was written",
                                           JobCancelledError.__name__))
        self.session.cancel_all()
        self._worker.join(timeout)

    def serve(self, stream: BinaryIO | Iterable[bytes], *, wake_fd: int | None = None) -> int:
        """Read request lines until `shutdown` or end of input; returns the exit status.

        A stream with a file descriptor is read with `LineReader` (size limit; `wake_fd` lets a
        signal end the wait). A stop signal cancels the jobs, waits for them to clean up, says so
        on stderr in one line and returns 128 + the signal number.
        """
        self.hello(None)
        if self._warm_up:
            threading.Thread(target=self._warm, name="mytalk-runtime-warm-up", daemon=True).start()
        lines: Iterable[bytes | Overlong] = stream
        try:
            lines = LineReader(stream.fileno(), protocol.MAX_LINE_BYTES, wake_fd=wake_fd)  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            pass  # an in-memory stream (tests): iterate it as it is
        try:
            for line in lines:
                if not self.handle_line(line):
                    return 0
        except KeyboardInterrupt as stop:
            self.shutdown()
            name = stop.signal_name if isinstance(stop, Interrupted) else "SIGINT"
            print(f"mytalk-runtime: stopped by {name}; running jobs were cancelled and cleaned up",
                  file=sys.stderr, flush=True)
            return stop.exit_code if isinstance(stop, Interrupted) else 130
        # End of input: the panel is gone, so nobody will read results. Stop cleanly.
        self.shutdown()
        return 0

    def _idle_for(self, quiet_s: float) -> bool:
        """Wait until no job has been queued or running for `quiet_s`; False when the runtime is closing."""
        idle_since: float | None = None
        while True:
            with self._cond:
                if self._closing:
                    return False
                busy = self._running is not None or bool(self._queue)
            now = time.monotonic()
            if busy:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= quiet_s:
                return True
            time.sleep(IDLE_POLL_S)

    def _warm(self) -> None:
        """Get ready for the first job (module docstring); a failure only costs that job the time.

        It waits until the runtime is idle: a job sent at once (a Preview over a restarted runtime's caches)
        would otherwise share the two cores with the warm-up, and it loads what it needs itself anyway."""
        try:
            if not self._idle_for(WARM_UP_QUIET_S):
                return
            if self.session.phone_workers is not None:
                self.session.phone_workers.start()
            engine = create_engine(default_engine())
            if engine.needs_tracking:
                from mytalk.core.face.tracker import load_face_stack

                load_face_stack()
            warm_up = getattr(engine, "warm_up", None)
            if warm_up is not None:
                warm_up()
            if self.session.phone_workers is not None:
                self.session.phone_workers.wait_loaded(WARM_UP_WAIT_S)
        except Exception as error:  # noqa: BLE001 - the first job loads what it needs itself
            log.info("warm-up stopped early: %s", error)
        finally:
            self._warmed.set()

    # -- worker --------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing and nothing left
                job = self._queue.popleft()
                self._running = job
            try:
                self._run(job)
            except Exception as error:  # noqa: BLE001 - a job's bug must not kill the worker
                self._emit_error(job.id, error)
            finally:
                self.session.finish(job.id)
                with self._cond:
                    self._running = None
                if self._last_trim is None or time.monotonic() - self._last_trim >= TRIM_EVERY_S:
                    self._last_trim = time.monotonic()
                    _trim_cache()

    def _run(self, job: _Job) -> None:
        def emit_progress(done: int, total: int, stage: str, eta: float | None) -> None:
            self.emit(protocol.progress_event(job.id, done, total, stage, eta))

        raw = job.message.get("request")
        clip = str(raw.get("video", "")) if isinstance(raw, dict) else str(job.message.get("video", ""))
        throttle = ProgressThrottle(emit_progress, job_eta=JobEta(self.render_rates, clip,
                                                                  renders=job.kind in ("preview", "commit")))
        if self.session.is_cancelled(job.id):
            raise JobCancelledError(f"{job.kind} cancelled before it started; nothing was written")
        if job.kind == "preview":
            request = protocol.sync_request_from_json(job.message.get("request"), what="preview.request")
            result = commands.preview(
                self.session, request, throttle, job_id=job.id,
                on_first_frame=lambda path, start, stop: self.emit(protocol.preview_poster_event(job.id, path, start, stop)),
                on_frames=lambda folder, ready, start, stop: self.emit(
                    protocol.preview_frames_event(job.id, folder, ready, start, stop)),
            )
            summary = result.to_dict()
            self.emit(protocol.preview_ready_event(job.id, result.path, summary))
            self.emit(protocol.done_event(job.id, {**summary, "report": result.report}))
        elif job.kind == "learn":
            learned = commands.learn_actor(self.session, protocol.learn_request_from_json(job.message.get("request")),
                                           throttle, job_id=job.id)
            self.emit(protocol.done_event(job.id, learned.to_dict()))
        elif job.kind == "prepare":
            request = protocol.sync_request_from_json(job.message.get("request"), what="prepare.request")
            prepared = commands.prepare(self.session, request, throttle, job_id=job.id)
            self.emit(protocol.done_event(job.id, prepared.to_dict()))
        elif job.kind == "commit":
            request = protocol.sync_request_from_json(job.message.get("request"), what="commit.request")
            commit_result = commands.commit(self.session, request, throttle, job_id=job.id)
            self.emit(protocol.done_event(job.id, commit_result.to_dict()))
        elif job.kind == "track":
            message = job.message
            video = Path(protocol.require(message, "video", str, "track")).expanduser()
            start = int(protocol.require(message, "start", int, "track"))
            stop = int(protocol.require(message, "stop", int, "track"))
            face = message.get("face")
            point = parse_face_point(face) if isinstance(face, str) else None
            track_result = commands.track(self.session, video, start, stop, throttle, job_id=job.id,
                                          face_point=point)
            self.emit(protocol.done_event(job.id, track_result.to_dict()))


def _claim_stdout() -> TextIO:
    """Keep the real stdout for protocol lines and send everything else written to fd 1 to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "w", encoding="utf-8", newline="\n")


def _sweep_leftovers() -> None:
    """Undo what a killed runtime (or CLI) left behind before taking new jobs; log what it was."""
    from mytalk.core.jobs.cleanup import clean_leftovers

    try:
        summary = clean_leftovers().summary()
    except Exception as error:  # noqa: BLE001 - a failed sweep must not keep the panel from its runtime
        log.warning("could not check for files left by interrupted jobs: %s", error)
        return
    if summary:
        log.warning("%s", summary)


TRIM_EVERY_S = 300.0
"""The runtime trims the cache after a job at most this often: a trim reads every entry's size (a large
cache is some hundred thousand files), and a few minutes of jobs add little to it."""


def _trim_cache() -> None:
    """Keep the user cache within its limit after a job (`mytalk.core.cache_budget`); log what went."""
    from mytalk.core.cache_budget import cache_limit, trim_cache

    try:
        summary = trim_cache(cache_limit()).summary()
    except Exception as error:  # noqa: BLE001 - a bad limit or an unreadable cache must not stop the runtime
        log.warning("could not keep the cache within its limit: %s", error)
        return
    if summary:
        log.info("%s", summary)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `mytalk runtime` (and the manifest's runtime command); returns the exit status."""
    out = _claim_stdout()
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("MYTALK_LOG_LEVEL", "WARNING").upper(),
                        format="mytalk-runtime %(levelname)s %(message)s")

    def write_line(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    try:
        with stop_on_signals(), signal_wakeup() as wake_fd:
            _sweep_leftovers()
            with PhoneWorkers() as workers:
                server = RuntimeServer(write_line, commands.JobSession(phone_workers=workers), warm_up=True)
                return server.serve(sys.stdin.buffer, wake_fd=wake_fd)
    except KeyboardInterrupt as stop:  # a stop signal before serving began: nothing was running
        return stop.exit_code if isinstance(stop, Interrupted) else 130
    finally:
        try:
            out.close()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
