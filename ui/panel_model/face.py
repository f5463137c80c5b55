"""The picked face: the clicked point, the runtime's track requests for it, and the tracked box.

A click on the viewer picks the subject in a shot with several faces. The point goes into every
request (`face="x,y"`, source pixels); the runtime is also asked to track that one frame, and its
box is drawn so the editor sees which face the engine will take. The box belongs to the frame it
was found on: after any seek it would outline the wrong place, so it is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Point = tuple[float, float]
Box = tuple[float, float, float, float]
"""Source pixels: x0, y0, x1, y1."""


def face_text(point: Point | None) -> str | None:
    """The request's `face`: whole source pixels, as the CLI's `--face 640,360` takes it."""
    return None if point is None else f"{point[0]:.0f},{point[1]:.0f}"


@dataclass
class FacePick:
    """The picked point (None: the engine takes the largest face) and what tracking found there."""

    point: Point | None = None
    pending: set[str] = field(default_factory=set)
    """Ids of track requests still awaiting their done or error event."""
    box: Box | None = None
    box_frame: int = -1

    def pick(self, point: Point) -> None:
        self.point = (float(point[0]), float(point[1]))

    def clear(self) -> None:
        """Forget the point (the engine picks the largest face again)."""
        self.point = None

    def reset(self) -> None:
        """A new clip: neither the point nor a box of the old one applies."""
        self.point = None
        self.box = None
        self.box_frame = -1

    def track_fields(self, clip: Path | None, position: int) -> dict[str, Any] | None:
        """The `track` request's fields for the picked point on frame `position`, or None when
        there is nothing to track (no clip or no point)."""
        face = face_text(self.point)
        if clip is None or face is None:
            return None
        return {"video": str(clip), "start": position, "stop": position + 1, "face": face}

    def sent(self, request_id: str) -> None:
        self.pending.add(request_id)

    def owns(self, request_id: str) -> bool:
        return request_id in self.pending

    def on_track_event(self, event: Mapping[str, Any]) -> Box | None:
        """Take one event of a pending track request; the box to draw when one was found.

        An error (no tracker installed, no face at the click) leaves the point in use as it is:
        the engine still gets it, only the outline is missing.
        """
        name = event.get("event")
        if name not in ("done", "error"):
            return None
        self.pending.discard(str(event.get("id")))
        if name == "error":
            return None
        result = event.get("result") or {}
        frames = [frame for frame in result.get("frames", []) if frame.get("found") and frame.get("box")]
        if not frames:
            return None
        x0, y0, x1, y1 = (float(v) for v in frames[0]["box"])
        self.box, self.box_frame = (x0, y0, x1, y1), int(frames[0]["index"])
        return self.box

    def drop_box_off(self, position: int) -> bool:
        """Forget the box when the playhead left its frame; True when it was dropped."""
        if self.box is None or position == self.box_frame:
            return False
        self.box = None
        return True
