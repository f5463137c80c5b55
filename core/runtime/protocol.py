"""The runtime's wire format: versioned JSON lines over stdin and stdout.

One JSON object per line, UTF-8, each carrying `"v": 1`. The panel (or a thin host shim in
another language) writes requests and reads events; nothing else ever appears on the runtime's
stdout, so a reader can treat every line as an event.

Requests (panel -> runtime), each with an `"id"` chosen by the sender:

    {"v": 1, "type": "hello", "id": "h1"}
    {"v": 1, "type": "probe", "id": "p1", "path": "/clips/a.mov"}
    {"v": 1, "type": "track", "id": "t1", "video": "/clips/a.mov", "start": 0, "stop": 25, "face": "640,300"}
    {"v": 1, "type": "learn", "id": "l1", "request": {"video": "/clips/a.mov", <other SyncRequest fields, optional>}}
    {"v": 1, "type": "prepare", "id": "r1", "request": {<SyncRequest fields, as strings>}}
    {"v": 1, "type": "preview", "id": "j1", "request": {<SyncRequest fields, as strings>}}
    {"v": 1, "type": "commit", "id": "j2", "request": {...}}
      (`request` may carry "transcript": the line's words, and "language": its espeak-ng code, default "en")
    {"v": 1, "type": "cancel", "id": "c1", "job": "j1"}
    {"v": 1, "type": "shutdown", "id": "s1"}

Events (runtime -> panel):

    {"v": 1, "event": "hello", "id": "h1", "protocol": 1, "mytalk": "0.1.0", "engines": ["copy"], ...}
    {"v": 1, "event": "progress", "id": "j1", "done": 12, "total": 25, "stage": "render", "eta_s": 0.4}
    {"v": 1, "event": "preview-ready", "id": "j1", "partial": true, "path": "/cache/previews/a_0-25_j1.first.png", "start": 0, "stop": 25}
    {"v": 1, "event": "preview-frames", "id": "j1", "folder": "/cache/previews/a_0-25_j1.frames", "ready": 9, "start": 0, "stop": 25}
    {"v": 1, "event": "preview-ready", "id": "j1", "path": "/cache/previews/a_0-25_j1.mp4", ...}
    {"v": 1, "event": "done", "id": "j1", "result": {...}}
    {"v": 1, "event": "error", "id": "j1", "message": "...", "code": "RangeError", "frame": 17}

A preview sends `preview-ready` twice: first with `"partial": true` and the path of a PNG of its
first rendered frame (the in point), as soon as that frame exists, so the editor sees the result
while the rest renders; then with the proxy's path once it is complete. A reader that only wants
the proxy skips the partial one. In between, `preview-frames` says how many frames from the in
point are ready in `folder` as `NNNNNN.jpg` (`mytalk.core.jobs.preview_stream`), at most five times
a second: the editor scrubs what has rendered while the rest renders. The folder is gone once the
proxy is ready.

`learn` learns the actor from the clip (`commands.learn_actor`) into the caches; only the clip, the
references, the engine and its settings are read, so a request without line, marks or output is
complete. The panel sends it as soon as a clip is open: the largest part of a first preview's wait
is then done while the editor marks the range and picks the line. A `learn` that also names a line
(`audio` other than the clip, and its `audio_in`) then times that line's phones ahead as well, per
utterance of the line's file (`mytalk.core.audio.line_phones`), and says `line_timed`: the panel sends
it when a line is picked, and any range or slip of that line later reuses them.

`prepare` does everything a preview of the same request does before its first frame (tracking,
learning the actor, timing the line's phones) into the caches, and answers `done`. The panel sends
it when the clip, the line and the marks are set, and cancels it when they change, so that Preview
starts painting at once.

The `done` result of a preview or a commit holds, beside its file, what the command line prints after
"wrote ...": `warnings`, the job's own (a clip or line cut short, a line silent over the range, a camera's
channels heard mixed), and `faceless`, the runs of frames `[start, stop)` passed through unchanged for want
of the actor's face (`commands.job_notes`). The panel shows them in the job's row and its status line.

Every request ends in exactly one `done` or `error` event with its id (a job after its progress
events). The module is pure: building and checking messages, no I/O, so the panel's client and
the tests use the same definitions as the server.

`decode` turns every malformed line into a `ProtocolError`, whatever is in it: nesting deep
enough to exhaust the parser's recursion, integers past Python's digit limit, NaN and Infinity
(not JSON), invalid UTF-8. `check_request` refuses NUL characters (no path or name may hold one)
once the request's id is known, so the error event carries it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from mytalk.core.errors import MyTalkError
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.settings import shipped_settings

PROTOCOL_VERSION = 1
REQUEST_TYPES: tuple[str, ...] = ("hello", "probe", "track", "learn", "prepare", "preview", "commit", "cancel",
                                  "shutdown")
EVENT_TYPES: tuple[str, ...] = ("hello", "progress", "preview-ready", "preview-frames", "done", "error")
JOB_TYPES: tuple[str, ...] = ("track", "learn", "prepare", "preview", "commit")
"""Requests that run as queued jobs, one at a time; the others are answered at once."""

PROGRESS_INTERVAL_S = 0.1
"""Progress events per job are at most 10 a second: more only floods the pipe and the UI."""

MAX_LINE_BYTES = 1 << 20
"""A request line longer than this is refused: no legitimate request comes near it."""

_PATH_FIELDS = ("video", "audio", "output", "report")


class ProtocolError(MyTalkError, ValueError):
    """A request line is not valid JSON, has the wrong version, or lacks a required field."""


def encode(message: Mapping[str, Any]) -> str:
    """One protocol line (no newline): compact JSON, non-ASCII kept as is (file names).

    A value that cannot be UTF-8 (a lone surrogate echoed from a request's `\\udXXX` escape) is
    sent escaped instead, so every event can be written and every request gets its answer.
    """
    line = json.dumps({"v": PROTOCOL_VERSION, **message}, ensure_ascii=False, separators=(",", ":"))
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps({"v": PROTOCOL_VERSION, **message}, ensure_ascii=True, separators=(",", ":"))
    return line


def decode(line: str | bytes) -> dict[str, Any]:
    """Parse one line into a dict, checking the version. Raises `ProtocolError`."""
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(f"request line of {len(line)} bytes is too long (limit {MAX_LINE_BYTES})")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("request line is not UTF-8; send JSON text encoded as UTF-8") from None
    try:
        message = json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"request line is not JSON ({error.msg} at column {error.colno}); send one object per line") from None
    except RecursionError:
        raise ProtocolError("request line is nested too deeply; send one flat object per line") from None
    except ProtocolError:
        raise
    except ValueError as error:  # e.g. an integer past Python's 4300-digit conversion limit
        raise ProtocolError(f"request line has a value that cannot be read ({str(error)[:80]}); send one object per line") from None
    if not isinstance(message, dict):
        raise ProtocolError("request line must be a JSON object such as {\"v\": 1, \"type\": \"hello\", \"id\": \"1\"}")
    version = message.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(f"protocol version {_short(version)} is not supported; this runtime speaks \"v\": {PROTOCOL_VERSION}")
    return message


def _refuse_constant(name: str) -> Any:
    raise ProtocolError(f"request line holds {name}, which is not JSON; send finite numbers")


def _refuse_nul(message: Any) -> None:
    """No field may hold a NUL character: no path, name or id can contain one."""
    pending = [message]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if "\0" in key:
                    raise ProtocolError("request line has a NUL character in a field name")
                pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and "\0" in item:
            raise ProtocolError("request line has a NUL character in a value; paths and names cannot hold one")


def check_request(message: Mapping[str, Any]) -> tuple[str, str]:
    """Return (type, id) of a decoded request, or raise `ProtocolError` naming what is missing."""
    kind = message.get("type")
    if kind not in REQUEST_TYPES:
        raise ProtocolError(f"unknown request type {kind!r}; use one of {', '.join(REQUEST_TYPES)}")
    request_id = message.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool) or str(request_id) == "":
        raise ProtocolError(f"{kind} request needs an \"id\" (a string or number) to match its events")
    _refuse_nul(message)
    return str(kind), str(request_id)


def request_event_id(message: Mapping[str, Any]) -> str | None:
    """Best-effort id of a (possibly malformed) request, for the error event that answers it."""
    value = message.get("id")
    return None if value is None or isinstance(value, bool | dict | list) else str(value)


# -- SyncRequest over the wire ---------------------------------------------------------------


def sync_request_to_json(request: SyncRequest) -> dict[str, Any]:
    """The JSON form of a request: paths and positions as strings, like the CLI's flags."""
    return request.to_dict()


def learn_request_from_json(data: Any, *, what: str = "learn.request") -> SyncRequest:
    """The `SyncRequest` of a `learn`: the clip is required; the line and output, which learning never
    reads, default to the clip and its folder so the request checks like any other."""
    if not isinstance(data, dict) or not data.get("video"):
        raise ProtocolError(f"{what} must be an object with at least video")
    video = str(data["video"])
    return sync_request_from_json({"audio": video, "output": str(Path(video).expanduser().parent), **data}, what=what)


def sync_request_from_json(data: Any, *, what: str = "request") -> SyncRequest:
    """Build a `SyncRequest` from its JSON form; unknown keys and bad types raise `ProtocolError`.

    Positions stay strings (`"00:00:05;00"`, `"120"`, `"2.5s"`): `resolve_request` parses them
    against the clip exactly as it does for the CLI, so the runtime adds no second parser. User
    settings are converted to their manifest schema type here, and their ranges and choices are
    checked by `SyncRequest` (a `UsageError` worded as the CLI's and the panel's).
    """
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} must be an object with at least video, audio and output")
    schema = shipped_settings()
    # Added manifest settings travel beside the named fields (`SyncRequest.to_dict`), never as "extra".
    known = ({f.name for f in fields(SyncRequest)} - {"extra"}) | set(schema)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProtocolError(f"{what}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}")
    missing = [name for name in ("video", "audio", "output") if not data.get(name)]
    if missing:
        raise ProtocolError(f"{what}: missing {', '.join(missing)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if value is None:
            continue
        if name in _PATH_FIELDS:
            values[name] = Path(str(value)).expanduser()
        elif name in schema:
            values[name] = _wire_value(schema[name].type, value, f"{what}.{name}")
        elif name == "references":
            if not isinstance(value, list):
                raise ProtocolError(f"{what}.references: expected a list of ranges such as [\"0-120\"]")
            values[name] = [str(item) for item in value]
        elif name == "proxy":
            if isinstance(value, bool) or str(value).lower() in ("true", "false"):
                values[name] = value if isinstance(value, bool) else str(value).lower() == "true"
            else:
                raise ProtocolError(f"{what}.proxy: expected true or false, got {_short(value)}")
        else:
            values[name] = str(value)
    # Ranges and choices are checked by the request itself, through the same schema as the CLI's.
    return SyncRequest.with_settings(**values)


def _wire_value(kind: str, value: Any, where: str) -> Any:
    """A setting's JSON value in its schema type. A shim in another language may send numbers as
    strings ("1.2", "4"), so those are converted; what cannot be converted is refused here."""
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ProtocolError(f"{where}: expected a whole number, got {_short(value)}")
        try:
            return int(value)
        except ValueError:
            raise ProtocolError(f"{where}: expected a whole number, got {_short(value)}") from None
    if kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            why = " (it must be finite)" if isinstance(value, int | float) and not isinstance(value, bool) else ""
            raise ProtocolError(f"{where}: expected a number, got {_short(value)}{why}")
        return number
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ProtocolError(f"{where}: expected true or false, got {_short(value)}")
        return value
    return str(value)


def _short(value: Any) -> str:
    """A value for an error message, cut short: a hostile request may send megabytes in one field."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"a {type(value).__name__} too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


# -- events ------------------------------------------------------------------------------------


def hello_event(request_id: str | None, *, mytalk_version: str, engines: list[str], default_engine: str | None,
                pid: int, warmed_up: bool = True) -> dict[str, Any]:
    """`warmed_up`: the runtime has done its warm-up (`server`), or has none to do; a job sent before is
    served all the same, only slower."""
    return {"event": "hello", "id": request_id, "protocol": PROTOCOL_VERSION, "mytalk": mytalk_version,
            "engines": engines, "default_engine": default_engine, "requests": list(REQUEST_TYPES), "pid": pid,
            "warmed_up": warmed_up}


def progress_event(request_id: str, done: int, total: int, stage: str, eta_s: float | None) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "progress", "id": request_id, "done": done, "total": total, "stage": stage}
    if eta_s is not None:
        event["eta_s"] = round(eta_s, 2)
    return event


def preview_ready_event(request_id: str, path: Path, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": "preview-ready", "id": request_id, "path": str(path), **{k: v for k, v in result.items() if k != "path"}}


def preview_poster_event(request_id: str, path: Path, start: int, stop: int) -> dict[str, Any]:
    """The partial `preview-ready`: the preview's first frame as a PNG, before the proxy is done."""
    return {"event": "preview-ready", "id": request_id, "partial": True, "path": str(path), "start": start, "stop": stop}


def preview_frames_event(request_id: str, folder: Path, ready: int, start: int, stop: int) -> dict[str, Any]:
    """A rendering preview's frames so far: [start, start + ready) are JPEGs in `folder`."""
    return {"event": "preview-frames", "id": request_id, "folder": str(folder), "ready": ready, "start": start, "stop": stop}


def done_event(request_id: str | None, result: Any) -> dict[str, Any]:
    return {"event": "done", "id": request_id, "result": result}


def error_event(request_id: str | None, message: str, code: str, frame: int | None = None) -> dict[str, Any]:
    return {"event": "error", "id": request_id, "message": message, "code": code, "frame": frame}


def error_code(error: BaseException) -> str:
    """The `code` of an error event: the MyTalk error class name, or "InternalError" for a bug."""
    if isinstance(error, MyTalkError):
        return type(error).__name__
    return "InternalError"


def check_event(message: Mapping[str, Any]) -> str:
    """Return the event name of a decoded event, or raise `ProtocolError` (used by clients)."""
    name = message.get("event")
    if name not in EVENT_TYPES:
        raise ProtocolError(f"unknown event {name!r}; this client knows {', '.join(EVENT_TYPES)}")
    return str(name)


class ProgressThrottle:
    """Turns a stream of `progress(done, total, stage)` calls into at most ~10 events a second.

    A call passes when `interval_s` has gone by since the last passed call, or when it is the
    first of a new stage or the last of a stage (done == total): the UI then always sees each
    stage begin and end, and never a frozen 99 %. The ETA is the stage's remaining work at the
    stage's average rate so far, in seconds; with `job_eta` (`mytalk.core.runtime.eta.JobEta`) that
    is turned into the whole job's.
    """

    def __init__(self, emit: Callable[[int, int, str, float | None], None], *,
                 interval_s: float = PROGRESS_INTERVAL_S, clock: Callable[[], float] = time.monotonic,
                 job_eta: Callable[[int, int, str, float | None], float | None] | None = None) -> None:
        self._emit = emit
        self._job_eta = job_eta
        self._interval = interval_s
        self._clock = clock
        self._last_emit = float("-inf")
        self._stage: str | None = None
        self._stage_began = 0.0
        self.emitted = 0

    def __call__(self, done: int, total: int, stage: str) -> None:
        now = self._clock()
        new_stage = stage != self._stage
        if new_stage:
            self._stage, self._stage_began = stage, now
        final = total > 0 and done >= total
        if not (new_stage or final or now - self._last_emit >= self._interval):
            return
        self._last_emit = now
        elapsed = now - self._stage_began
        eta = (total - done) * elapsed / done if done > 0 and total > 0 and elapsed > 0 else None
        if self._job_eta is not None:
            eta = self._job_eta(done, total, stage, eta)
        self.emitted += 1
        self._emit(done, total, stage, eta)


def require(message: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """A required field of a request, type-checked; `ProtocolError` names the field and the fix."""
    value = message.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        raise ProtocolError(f"{what} request needs \"{name}\"")
    return value


def parse_job_id(message: Mapping[str, Any]) -> str:
    """The job a cancel request names (`"job"`)."""
    value = message.get("job")
    if value is None or isinstance(value, bool | dict | list) or str(value) == "":
        raise ProtocolError("cancel request needs \"job\": the id of the preview, commit or track request to stop")
    return str(value)


__all__ = [
    "EVENT_TYPES",
    "JOB_TYPES",
    "PROGRESS_INTERVAL_S",
    "PROTOCOL_VERSION",
    "REQUEST_TYPES",
    "ProgressThrottle",
    "ProtocolError",
    "check_event",
    "check_request",
    "decode",
    "done_event",
    "encode",
    "error_code",
    "error_event",
    "hello_event",
    "parse_job_id",
    "preview_frames_event",
    "preview_ready_event",
    "progress_event",
    "require",
    "request_event_id",
    "sync_request_from_json",
    "sync_request_to_json",
]
