"""Host adapters: where a shot comes from and where a committed render goes back to.

Every host (a timeline file, DaVinci Resolve, later a thin shim for another NLE) answers the same
two questions behind one small protocol, OTIO-adapter style:

- `current_shot()`: which clip is under the editor's marks, as a `Shot` that maps the marked
  record range onto frames of the source media file;
- `place_result(shot, result)`: put a commit's file back in the cut, on a new track at the same
  record time, without touching anything that was there, and say where it went.

The panel knows nothing about hosts (`ui` never imports `plugin`): `attach` loads the shot into
a panel and sets its `commit_hook`, duck-typed, so a host stays a plain module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from mytalk.core.errors import MyTalkError
from mytalk.core.timecode import frames_to_smpte


@dataclass(frozen=True)
class Shot:
    """A marked piece of a clip in a cut, in both time spaces.

    `source_start`/`source_stop` are clip-relative frames of `video` (stop exclusive), the numbers
    the panel and the core use. `record_start` is where `source_start` sits in the cut, in the
    host's record frames; `record_fps` and `record_offset` (frames of the cut's start timecode)
    turn it into the timecode the editor sees.
    """

    name: str
    video: Path
    source_start: int
    source_stop: int
    record_start: int
    record_fps: Fraction
    record_offset: int = 0
    drop_frame: bool | None = None
    host_data: dict[str, Any] = field(default_factory=dict)
    guide_channels: str | None = None
    """The channels of the clip's own sound that the cut plays with the shot (the audio streams its clips
    use), as `--guide-channels` picks them; None where that is the clip's default sound or not known."""

    @property
    def frames(self) -> int:
        return self.source_stop - self.source_start

    @property
    def record_timecode(self) -> str:
        return frames_to_smpte(self.record_offset + self.record_start, self.record_fps, drop=self.drop_frame)

    def record_frame_for(self, source_frame: int) -> int:
        """Record frame where a source frame of this shot lands (same rate assumed, as checked on pick)."""
        return self.record_start + (source_frame - self.source_start)

    def record_timecode_for(self, source_frame: int) -> str:
        """The cut's timecode where a source frame of this shot lands."""
        return frames_to_smpte(self.record_offset + self.record_frame_for(source_frame), self.record_fps,
                               drop=self.drop_frame)


@dataclass(frozen=True)
class Placement:
    """Where a committed render was put: a sentence for the job list, and the facts for tests."""

    description: str
    record_start: int
    track: str
    timeline_file: Path | None = None


class HostAdapter(Protocol):
    """What the panel needs from a host."""

    name: str

    def current_shot(self) -> Shot:
        """The shot under the editor's marks; a MyTalkError says what to select when there is none."""
        ...

    def place_result(self, shot: Shot, result: dict[str, Any]) -> Placement:
        """Put a commit result (`CommitResult.to_dict()`) back in the cut at the shot's record time."""
        ...


class HostError(MyTalkError, RuntimeError):
    """The host application or file refused an operation; the message says which and what to do."""


def attach(panel: Any, host: HostAdapter, shot: Shot) -> None:
    """Load `shot` into `panel` (clip and marks) and route its commits back into `host`.

    The commit may cover a different range than the shot when the editor re-marked inside the
    panel: the placement follows the committed range (`result["start"]`), not the original pick.
    """
    if not panel.load_clip(shot.video, start=shot.source_start, stop=shot.source_stop):
        return
    if shot.guide_channels is not None:
        # What the editor hears in the cut is what the guide and the actor's learning should hear.
        box = panel.guide_channels_box
        if box.choose(shot.guide_channels):
            panel.status_line.show_note(f"{shot.video.name}: the guide and the actor's learning hear what the cut "
                                        f"plays with {shot.name}, {box.caption()}")
        else:
            panel.show_error(f"the cut plays channels {shot.guide_channels} of {shot.video.name} with {shot.name}; "
                             "the panel offers one channel, or a stereo stream's pair: pick them in the Guide box")

    def place(result: dict[str, Any]) -> str:
        return host.place_result(shot, result).description

    panel.commit_hook = place


__all__ = ["HostAdapter", "HostError", "Placement", "Shot", "attach"]
