"""What a timeline-file host offers the standalone window's timeline dock.

Every cut format (OTIO/EDL/FCP XML through `OtioTimeline`, Kdenlive and Shotcut projects through
the MLT host) is opened by its manifest entry (`mytalk.plugin.loader.open_timeline`), so the dock
cannot name a class: it types its host as this protocol, the small set of things it uses. A host
is a plain class that happens to have them (structural typing, as `HostAdapter`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from mytalk.plugin.hosts import HostAdapter, Shot


class TimelineEntry(Protocol):
    """One clip row of the dock: its number, its track, its name, its record span and its media file."""

    @property
    def number(self) -> int:
        """1-based, in record order: how `mytalk batch CUT --list`, cue sheets' events and `--shot` name it."""
        ...

    @property
    def track_name(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def record_start(self) -> int:
        """First record frame, counted from the cut's start."""
        ...

    @property
    def record_stop(self) -> int:
        """Record frame after the last one (exclusive)."""
        ...

    @property
    def media(self) -> Path | None:
        """The clip's media file, or None for a generator or offline media."""
        ...


@runtime_checkable
class TimelineHost(HostAdapter, Protocol):
    """A cut file as a host: list its clips, turn a record range into a `Shot`, place results.

    Record frames are counted from the cut's start; `record_timecode` adds the cut's start
    timecode, and `parse_record` reads back what an editor types (frames, seconds or timecode).
    `place_result` (from `HostAdapter`) writes a new version of the cut, never the cut itself.
    """

    path: Path

    def clips(self) -> Sequence[TimelineEntry]:
        """Video clips of every track, top track first, in record order."""
        ...

    def shot(self, record_start: int, record_stop: int | None = None) -> Shot:
        """The clip under a record range as a `Shot`; a MyTalkError says why there is none."""
        ...

    def parse_record(self, text: str) -> int: ...

    def record_timecode(self, frame: int) -> str: ...


Item = TypeVar("Item")


def most_overlapped(candidates: Iterable[tuple[int, int, int, Item]], start: int, stop: int) -> Item | None:
    """The item under record frames [start, stop), as every timeline host picks it: of the candidates
    `(first, stop, rank, item)`, the one whose [first, stop) overlaps the range most, the higher rank (the
    upper track) on a tie, the first such on a full tie; None when none overlaps. The shot a host reads and
    the clip whose look its fix copies are picked by this one rule, so they are the same clip."""
    best: tuple[int, int, Item] | None = None
    for first, end, rank, item in candidates:
        overlap = min(stop, end) - max(start, first)
        if overlap > 0 and (best is None or (overlap, rank) > best[:2]):
            best = (overlap, rank, item)
    return None if best is None else best[2]


def stacked_above(layers: Sequence[Sequence[Item]], track_under: Callable[[Item], int | None],
                  top: int) -> list[tuple[int, list[Item]]]:
    """Where a version's fix tracks go, as every timeline file host places them: `layers` hold fixes that do
    not overlap; each layer's fixes over one track (`track_under`, None for a fix that covers no clip: the
    `top` track) go on a track of their own directly above it, so whatever the cut shows above the clip (a
    title, a lower third) stays above the fix. Returns (track each goes above, its fixes), from the bottom:
    by that track, then by layer."""
    stacks: dict[tuple[int, int], list[Item]] = {}
    for number, layer in enumerate(layers):
        for fix in layer:
            track = track_under(fix)
            stacks.setdefault((top if track is None else track, number), []).append(fix)
    return [(above, stacks[(above, number)]) for above, number in sorted(stacks)]


__all__ = ["TimelineEntry", "TimelineHost", "most_overlapped", "stacked_above"]
