"""The interface every engine implements, and the data a sync job hands to it.

An engine has two phases, because lip-sync needs the whole line before the first frame:
`prepare` sees the job (range, placed replacement audio, guide audio, reference footage) and the
tracked range, and may learn from references; `render` then streams frames in order, one in, one out, so
memory does not grow with the range. Handle frames (context before and after the range) go
through `render` too; the job writes only the in-range ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import av

from mytalk.core.media.audio import AudioSource
from mytalk.core.media.channel_pick import ChannelPick
from mytalk.core.media.probe import MediaInfo
from mytalk.core.media.reader import SourceFrame
from mytalk.core.progress import CancelFn, ProgressFn

if TYPE_CHECKING:
    from mytalk.core.audio.line_phones import LineOrigin
    from mytalk.core.engines.tracking import TrackedRange


@dataclass(frozen=True)
class ReferenceRange:
    """Footage an engine may learn the actor from: frames [start, stop) of `path`, and which of its sound is
    the actor's: `channels`, the editor's pick of the clip's own channels (`--guide-channels`), or None for the
    file's sound stream, all of its channels mixed (`sound_stream.clip_sound_stream`)."""

    path: Path
    start: int
    stop: int
    channels: ChannelPick | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"path": str(self.path), "start": self.start, "stop": self.stop}
        if self.channels is not None:
            found["channels"] = self.channels.to_dict()
        return found


def _manifest_default(name: str) -> Any:
    """A `default_factory` for a setting's manifest default, read when settings are made, not on import."""

    def default() -> Any:
        from mytalk.core.settings import shipped_settings

        return shipped_settings()[name].default_value

    return field(default_factory=default)


@dataclass(frozen=True)
class EngineSettings:
    """User controls shared by all engines; each engine declares which it honours (`settings_honoured`).
    Defaults are the manifest's (`manifest.json`'s settings section is their one definition)."""

    motion_driver: str = _manifest_default("motion_driver")
    openness: float = _manifest_default("openness")
    smoothing: float = _manifest_default("smoothing")
    mask_mode: str = _manifest_default("mask_mode")
    quality: str = _manifest_default("quality")
    face_point: tuple[float, float] | None = None
    transcript: str | None = None
    actor: str | None = None
    device: str = _manifest_default("device")
    language: str = _manifest_default("language")
    """espeak-ng language code of the line (`en`, `es`, `de`, …): how a transcript is phonemised,
    and whether recognition without one may use English words or only a language-independent phone loop."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Every other setting of `manifest.json`, checked through its schema, by name: a setting added to the
    manifest reaches the engine here without a field of its own (`value`)."""

    def value(self, name: str) -> Any:
        """A setting by its manifest name, whether it has a field here or arrived in `extra`."""
        if name in self.extra:
            return self.extra[name]
        if name in self.__dataclass_fields__ and name != "extra":
            return getattr(self, name)
        raise KeyError(f"no setting {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            **dict(self.extra),
            "motion_driver": self.motion_driver,
            "openness": self.openness,
            "smoothing": self.smoothing,
            "mask_mode": self.mask_mode,
            "quality": self.quality,
            "face_point": list(self.face_point) if self.face_point else None,
            "transcript": self.transcript,
            "actor": self.actor,
            "device": self.device,
            "language": self.language,
        }


@dataclass(frozen=True)
class EngineJob:
    """Everything an engine may use. The line and guide cover exactly [start, stop).

    `guide` is the clip's own production audio over the range, or None with `--guide none`: an
    engine must then not look at the clip's audio over the edit range at all.
    """

    video: MediaInfo
    start: int
    stop: int
    handles: int
    line: AudioSource
    guide: AudioSource | None
    guide_mode: str
    references: tuple[ReferenceRange, ...]
    settings: EngineSettings
    line_origin: LineOrigin | None = None
    """The file `line` was cut from and its time on the range's first frame, when it came from one: phone
    timing then works on the file's own utterances, so a slip reuses it (`mytalk.core.audio.line_phones`)."""
    sound_stream: int | None = None
    """The container stream read as the clip's own sound (`mytalk.core.media.sound_stream`; None: the first
    audio stream): `guide` comes from it, and so does the clock offset between its samples and the picture."""

    @property
    def fps(self) -> Fraction:
        assert self.video.video is not None
        return self.video.video.fps

    @property
    def num_frames(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class ActorFootage:
    """The footage an engine may learn the actor from, known as soon as a clip is open: before a line
    is chosen or a range marked.

    Learning the actor is the largest cost of a first preview (seconds for a short clip; a clip over
    30 s is learned from a 20 s sample of it by default, `mytalk.core.engines.default_reference`), and it
    depends on neither the line nor the marks, so the panel has it learned while the editor is still
    marking (`commands.learn_actor`). `guided` is false under `--guide none` or for a clip without
    sound: the edit range's own sound must then be left out of what is learned, and the range is not
    known yet, so nothing is learned ahead.
    """

    video: MediaInfo
    references: tuple[ReferenceRange, ...]
    settings: EngineSettings
    guided: bool


@dataclass(slots=True)
class FrameRecord:
    """What the report says about one output frame.

    Slotted: a job keeps one per frame until it writes the report, 15 000 for a ten-minute range."""

    index: int
    face_found: bool | None = None
    confidence: float | None = None
    mask_box: tuple[int, int, int, int] | None = None
    changed_pixels: int = 0
    warnings: list[str] = field(default_factory=list)
    planned_aperture: float | None = None
    """The mouth opening the motion plan asked for: inner-lip gap ÷ inter-ocular distance in the image
    plane (the evaluation's measure), so plan and rendered output can be compared frame by frame."""
    phone: str | None = None
    viseme: str | None = None
    """The phone (ARPAbet) and viseme the mouth was told to show in this frame: the line's phone at the
    frame's time plus the actor's lip lead, so they describe the picture, not the sound."""
    rejected_face: str | None = None
    """Why a face the tracker saw in this frame was not taken as the subject (a graphic, a poster,
    another person; `mytalk.core.face.subject`): the frame passed through untouched."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "face_found": self.face_found,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "mask_box": list(self.mask_box) if self.mask_box else None,
            "changed_pixels": self.changed_pixels,
            "warnings": self.warnings,
        }
        if self.rejected_face:
            out["rejected_face"] = self.rejected_face
        if self.planned_aperture is not None:
            out["planned_aperture"] = round(self.planned_aperture, 5)
        if self.phone is not None or self.viseme is not None:
            out["phone"] = self.phone
            out["viseme"] = self.viseme
        return out


def rejected_detections(records: list[FrameRecord]) -> list[dict[str, Any]]:
    """Runs of frames where a face was seen but not taken as the subject, with the reason: the report
    shows the editor that the graphic or the other person was noticed and deliberately left alone."""
    runs: list[dict[str, Any]] = []
    for record in records:
        if not record.rejected_face:
            continue
        last = runs[-1] if runs else None
        if last is not None and last["reason"] == record.rejected_face and record.index - last["last"] <= 4:
            last["last"] = record.index
            last["frames"] += 1
        else:
            runs.append({"first": record.index, "last": record.index, "frames": 1, "reason": record.rejected_face})
    return runs


@dataclass
class RenderedFrame:
    """One output frame in the source's pixel format, with its report record."""

    index: int
    in_range: bool
    frame: av.VideoFrame
    record: FrameRecord


WaitFn = Callable[[int], None]
"""Blocks until the tracking of range frames [0, rows) is final (`track_feed.TrackFeed.wait`): a stage
that streams plans behind the tracker."""


def ready_now(rows: int) -> None:
    """The `WaitFn` of a range tracked whole before planning: every row is already final."""


class Engine(Protocol):
    """A lip-sync engine. The painting ones are a motion stage and an appearance stage composed by
    `mytalk.core.engines.stages.StagedEngine`; `copy` passes frames through.

    The job calls, in order: `check` (settings and models, before any work), tracking of the range
    when `needs_tracking` (`mytalk.core.engines.tracking`), `prepare`, `render`, `report`.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    needs_tracking: ClassVar[bool]

    @classmethod
    def settings_honoured(cls) -> tuple[str, ...]:
        """The user settings (`EngineSettings` field names) this engine reads."""
        ...

    def check(self, job: EngineJob) -> None:
        """Raise MyTalkError on bad settings or a missing model; nothing heavy is done yet."""

    def prepare(self, job: EngineJob, tracked: TrackedRange | None, progress: ProgressFn,
                is_cancelled: CancelFn, wait: WaitFn = ready_now) -> None:
        """Plan the line (the tracked range is given when `needs_tracking`); raise MyTalkError on bad input.

        `wait(rows)` returns once the tracking of range frames [0, rows) is final: a job that tracks while
        it paints (`track_feed`) hands `tracked` over before it is complete, and an engine that does not
        plan behind the tracker calls `wait(num_frames)` first."""

    def render(
        self, frames: Iterator[SourceFrame], progress: ProgressFn, is_cancelled: CancelFn
    ) -> Iterator[RenderedFrame]:
        """Yield one RenderedFrame per source frame, in order, handles included."""
        ...

    def report(self) -> dict[str, Any]:
        """Engine-specific figures and decisions for the job report (driver chosen, costs…)."""
        ...
