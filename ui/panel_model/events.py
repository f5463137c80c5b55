"""Runtime events as the panel reacts to them, decided without Qt.

The event shapes are the runtime protocol's (`mytalk.core.runtime.protocol`): `progress`,
`preview-ready` (partial, then complete), `done` and `error`, each with the id of the request it
answers. `RuntimeClient` also reports every request still open when the runtime dies as an
`error` event (code `RuntimeCrashed`, no frame). A `Reaction` lists what one event asks of the
panel; the widgets then do it (draw, seek, emit), in the order the fields are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mytalk.ui.panel_model.face import Box
from mytalk.ui.viseme_track import TrackKey


@dataclass(frozen=True)
class JobView:
    """What the event handling needs to know of a queued job's row."""

    kind: str
    """"preview" or "commit"."""
    current_frame: int | None = None
    """The source frame it was rendering at its last progress event."""


@dataclass(frozen=True)
class Reaction:
    """What one runtime event asks of the panel."""

    event: Mapping[str, Any]
    """The event to apply to the job's row: an error without a frame gets the last rendered one."""
    job: bool = False
    """The event belongs to a queued preview or commit (its row is updated)."""
    face_box: Box | None = None
    """A track request found the picked face here (source pixels): draw it."""
    error: str | None = None
    """A message for the error banner."""
    poster: bool = False
    """A partial `preview-ready`: show the first frame at `event["path"]` as B."""
    proxy: bool = False
    """A complete `preview-ready`: open the proxy at `event["path"]` as B."""
    committed: Mapping[str, Any] | None = None
    """A commit finished with this result: the host places it."""
    visemes: tuple[TrackKey, Mapping[str, Any]] | None = None
    """A job finished: draw the visemes of its result, if they still match (key it was sent with)."""
    poster_dropped: bool = False
    """A preview failed or was cancelled while its poster was on B: redraw without it."""


def with_crash_frame(event: Mapping[str, Any], current_frame: int | None) -> Mapping[str, Any]:
    """An error event with its frame: a crashed runtime cannot say where it was, the last progress
    event can, and an editor fixes a failure by going to that frame."""
    if event.get("event") == "error" and event.get("frame") is None and current_frame is not None:
        return {**event, "frame": current_frame}
    return event
