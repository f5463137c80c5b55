"""What B shows: a finished preview proxy over its range, or a rendering preview's frames so far.

A preview sends `preview-ready` twice (see `mytalk.core.runtime.protocol`): first a PNG of its
first frame (`"partial": true`), then the proxy; in between, `preview-frames` events say how many
of its frames are ready as pictures in a folder. The poster stands in for B on the in point and the
streamed frames on the frames they cover, only until the proxy arrives or the job fails: a failed
or cancelled preview's frames are not a result, and showing them would let the editor judge a
render that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

POSTER_CAPTION = "first frame of the preview; the rest is rendering"
STREAM_CAPTION = "preview frame {ready} of {total} rendered; the rest is rendering"
OUTSIDE_CAPTION = "outside the preview range"


@dataclass(frozen=True)
class PreviewRange:
    """A finished proxy: its file and the clip frames [start, stop) it covers."""

    path: Path
    start: int
    stop: int
    id: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PreviewRange:
        """From a (complete) `preview-ready` event."""
        job_id = event.get("id")
        return cls(Path(event["path"]), int(event["start"]), int(event["stop"]), None if job_id is None else str(job_id))

    def covers(self, frame: int) -> bool:
        return self.start <= frame < self.stop

    def as_dict(self) -> dict[str, Any]:
        """The `previewReady` signal's payload."""
        return {"path": str(self.path), "start": self.start, "stop": self.stop, "id": self.id}


@dataclass(frozen=True)
class Poster:
    """A rendering preview's first frame (an RGB array, height x width x 3) for frame `start`."""

    image: Any
    start: int
    stop: int
    id: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any], image: Any) -> Poster:
        """From a partial `preview-ready` event and the picture read from its `path`."""
        job_id = event.get("id")
        return cls(image, int(event["start"]), int(event["stop"]), None if job_id is None else str(job_id))

    def as_dict(self) -> dict[str, Any]:
        """The `previewFirstFrame` signal's payload (no pixels)."""
        return {"start": self.start, "stop": self.stop, "id": self.id}


@dataclass(frozen=True)
class StreamedFrames:
    """A rendering preview's frames [start, start + ready), one picture each in `folder`."""

    folder: Path
    start: int
    stop: int
    ready: int
    id: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> StreamedFrames:
        """From a `preview-frames` event."""
        job_id = event.get("id")
        return cls(Path(event["folder"]), int(event["start"]), int(event["stop"]), int(event["ready"]),
                   None if job_id is None else str(job_id))

    def covers(self, frame: int) -> bool:
        return self.start <= frame < self.start + self.ready

    def picture(self, frame: int) -> Path:
        """The file of clip frame `frame` (the runtime's naming, `core.jobs.preview_stream`)."""
        from mytalk.core.jobs.preview_stream import streamed_frame_name

        return self.folder / streamed_frame_name(frame - self.start)


@dataclass(frozen=True)
class BFrame:
    """What to put on B for one playhead position."""

    proxy_index: int | None
    """Frame of the proxy to decode, or None when the playhead is outside it (or there is none)."""
    poster: Poster | None
    caption: str
    streamed: Path | None = None
    """A rendering preview's picture of this frame, to show while the proxy is not there yet."""


@dataclass
class PreviewState:
    """The latest proxy and the poster of a preview still rendering."""

    proxy: PreviewRange | None = None
    poster: Poster | None = None
    stream: StreamedFrames | None = None

    def show_poster(self, poster: Poster) -> Poster:
        self.poster = poster
        return poster

    def take_frames(self, frames: StreamedFrames) -> bool:
        """More frames of the rendering preview; True when they are the first of their job (seek to them)."""
        first = self.stream is None or self.stream.id != frames.id
        self.stream = frames
        return first

    def take_proxy(self, proxy: PreviewRange) -> PreviewRange:
        """The proxy replaces any earlier one and its own poster and streamed frames."""
        self.proxy, self.poster, self.stream = proxy, None, None
        return proxy

    def drop_poster(self) -> None:
        """The proxy has arrived (even one that cannot be read): the poster and the streamed frames have served."""
        self.poster = None
        self.stream = None

    def drop_proxy(self) -> None:
        self.proxy = None

    def forget_failed(self, job_id: str) -> bool:
        """A preview failed or was cancelled: its poster and frames go; True when B must be redrawn."""
        shown = False
        if self.stream is not None and self.stream.id == job_id:
            self.stream, shown = None, True
        if self.poster is not None and self.poster.id == job_id:
            self.poster, shown = None, True
        return shown

    def b_frame(self, position: int) -> BFrame:
        """B at `position`: the proxy's frame inside its range, else the poster on its frame."""
        if self.proxy is not None and self.proxy.covers(position):
            return BFrame(position - self.proxy.start, None, "")
        stream = self.stream
        if stream is not None and stream.covers(position):
            poster = self.poster if self.poster is not None and self.poster.id == stream.id else None
            caption = STREAM_CAPTION.format(ready=stream.ready, total=stream.stop - stream.start)
            return BFrame(None, poster if position == stream.start else None, caption, stream.picture(position))
        if self.poster is not None and position == self.poster.start:
            return BFrame(None, self.poster, POSTER_CAPTION)
        return BFrame(None, None, OUTSIDE_CAPTION if self.proxy is not None else "")

    def sound_source(self, position: int, fps: Fraction, clip: Path | None) -> tuple[Path, float] | None:
        """The file and time (s) to play sound from at `position`: inside the proxy its sound,
        which carries the new line; elsewhere the clip's own. None without a clip."""
        if self.proxy is not None and self.proxy.covers(position):
            return self.proxy.path, (position - self.proxy.start) / float(fps)
        if clip is not None:
            return clip, position / float(fps)
        return None
