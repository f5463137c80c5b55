"""What B shows: a finished preview proxy over its range, or a rendering preview's first frame.

A preview sends `preview-ready` twice (see `mytalk.core.runtime.protocol`): first a PNG of its
first frame (`"partial": true`), then the proxy. The poster stands in for B on the in point only,
and only until the proxy arrives or the job fails: a failed or cancelled preview's first frame is
not a result, and showing it would let the editor judge a render that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

POSTER_CAPTION = "first frame of the preview; the rest is rendering"
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
class BFrame:
    """What to put on B for one playhead position."""

    proxy_index: int | None
    """Frame of the proxy to decode, or None when the playhead is outside it (or there is none)."""
    poster: Poster | None
    caption: str


@dataclass
class PreviewState:
    """The latest proxy and the poster of a preview still rendering."""

    proxy: PreviewRange | None = None
    poster: Poster | None = None

    def show_poster(self, poster: Poster) -> Poster:
        self.poster = poster
        return poster

    def take_proxy(self, proxy: PreviewRange) -> PreviewRange:
        """The proxy replaces any earlier one and its own poster."""
        self.proxy, self.poster = proxy, None
        return proxy

    def drop_poster(self) -> None:
        """The proxy has arrived (even one that cannot be read): the poster has served."""
        self.poster = None

    def drop_proxy(self) -> None:
        self.proxy = None

    def forget_failed(self, job_id: str) -> bool:
        """A preview failed or was cancelled: its poster goes; True when B must be redrawn."""
        if self.poster is None or self.poster.id != job_id:
            return False
        self.poster = None
        return True

    def b_frame(self, position: int) -> BFrame:
        """B at `position`: the proxy's frame inside its range, else the poster on its frame."""
        if self.proxy is not None and self.proxy.covers(position):
            return BFrame(position - self.proxy.start, None, "")
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
