"""`PanelModel`: the panel's state and decisions in plain Python, the widgets' single source.

The Qt panel (`mytalk.ui.panel`) keeps layout, signals, painting and I/O on its side; every
choice (is a request complete, what does this event change, which frame is B, which file plays)
is made here, on plain data, so it is tested without a display and reusable by another front end.
The marked range and the playhead live in the `Transport`, the other Qt-free model the panel shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mytalk.core.jobs.request import SyncRequest
from mytalk.ui.panel_model.events import JobView, Reaction, with_crash_frame
from mytalk.ui.panel_model.face import FacePick
from mytalk.ui.panel_model.opened import OpenedFiles
from mytalk.ui.panel_model.preview import PreviewState
from mytalk.ui.panel_model.request import RequestInputs, build_request, request_track_key
from mytalk.ui.panel_model.slip import Slip
from mytalk.ui.transport import Transport
from mytalk.ui.viseme_track import TrackKey


class PanelModel:
    """Clip, line, slip, picked face, preview state and the jobs in flight of one panel."""

    def __init__(self, transport: Transport | None = None) -> None:
        self.transport = transport if transport is not None else Transport()
        self.clip: Path | None = None
        self.line: Path | None = None
        self.line_channels: str | None = None
        """The line's channels picked (`--audio-channels` text); None: all of them. A new line has none."""
        self.guide_channels: str | None = None
        """The clip's own channels picked as the actor's (`--guide-channels` text); None: the job's default. A new
        clip has none."""
        self.slip = Slip()
        self.face = FacePick()
        self.preview = PreviewState()
        self.job_keys: dict[str, TrackKey] = {}
        """The clip, line, range and slip each job was sent with: its visemes are drawn only if they still hold."""
        self.opened = OpenedFiles()
        """The clip's and the line's identities when they were opened (`changed_inputs`)."""

    # -- inputs ----------------------------------------------------------------------------------

    def set_clip(self, path: Path) -> None:
        """A new clip: the old one's proxy, picked face and picked channels no longer apply.

        A poster still on its way stays: its job keeps running, and its error or proxy ends it."""
        self.clip = path
        self.guide_channels = None
        self.opened.opened(path)
        self.preview.drop_proxy()
        self.face.reset()

    def set_line(self, path: Path | None) -> None:
        """The replacement line (None: back to none, when a first line failed to decode), with no channel picked."""
        self.line = path
        self.line_channels = None
        if path is not None:
            self.opened.opened(path)

    def changed_inputs(self) -> list[Path]:
        """The clip and the line, where they changed on disk since they were opened (`OpenedFiles`)."""
        return self.opened.changed([self.clip, self.line])

    def inputs(self) -> RequestInputs:
        """The request inputs as they are now."""
        return RequestInputs(self.clip, self.line, self.transport.range(), self.slip.audio_in, self.face.point,
                             self.line_channels, self.guide_channels)

    def ready(self) -> bool:
        """A clip, a line and a marked range: Preview and Commit can be pressed."""
        return self.inputs().complete

    def track_key(self) -> TrackKey | None:
        """The clip, line, range and slip as they are now: what a viseme track must match to be drawn."""
        return self.inputs().track_key()

    def build_request(self, settings: Mapping[str, Any], *, kind: str = "commit") -> SyncRequest:
        """The request for the marked range; `MyTalkError` says what is missing."""
        return build_request(self.inputs(), settings, kind=kind)

    def job_sent(self, job_id: str, request: SyncRequest) -> None:
        """Remember what job `job_id` was rendered against."""
        self.job_keys[job_id] = request_track_key(request, self.slip.audio_in)

    def sound_source(self, position: int) -> tuple[Path, float] | None:
        """The file and time (s) to play from at frame `position`."""
        return self.preview.sound_source(position, self.transport.fps, self.clip)

    # -- runtime events --------------------------------------------------------------------------

    def on_event(self, event: Mapping[str, Any], job: JobView | None) -> Reaction:
        """Take one runtime event; `job` is the queued job with the event's id, if any."""
        job_id = str(event.get("id"))
        name = event.get("event")
        if self.face.owns(job_id):
            return Reaction(event, face_box=self.face.on_track_event(event))
        if job is None:
            # Not ours to track (an answer to an old panel's request): only an error is worth saying.
            return Reaction(event, error=str(event.get("message")) if name == "error" else None)
        event = with_crash_frame(event, job.current_frame)
        partial = name == "preview-ready" and bool(event.get("partial"))
        result: Mapping[str, Any] = (event.get("result") or {}) if name == "done" else {}
        visemes = None
        if name in ("done", "error"):
            key = self.job_keys.pop(job_id, None)
            if name == "done" and key is not None:
                visemes = (key, result)
        return Reaction(event, job=True, poster=partial, proxy=name == "preview-ready" and not partial,
                        committed=result if name == "done" and job.kind == "commit" else None, visemes=visemes,
                        poster_dropped=name == "error" and self.preview.forget_failed(job_id))
