"""A sync request as the user states it, and its resolution against the actual media.

`SyncRequest` holds strings exactly as typed (CLI flags, panel fields, runtime JSON), so every
front end shares one parser. Its user settings (engine, openness, codec, …) are checked on
construction through the manifest's settings schema, so a bad value is refused with the same
words by the CLI, the runtime and the panel. `resolve_request` turns the rest into frame
numbers against the probed clip and raises a `MyTalkError` naming the bad field, which front
ends report as one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from mytalk.core.engines import engine_spec
from mytalk.core.engines.base import EngineSettings, ReferenceRange
from mytalk.core.engines.default_reference import default_references
from mytalk.core.errors import MediaFormatError, MediaNotFoundError, RangeError, UsageError
from mytalk.core.media.channel_pick import ChannelPick, pick_channels
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.settings import (
    GUIDE_MODES,
    VIDEO_SUFFIXES,
    check_values,
    parse_face_point,
    shipped_settings,
    split_media_spec,
)
from mytalk.core.timecode import frames_to_smpte, parse_offset_seconds, parse_position

__all__ = [
    "GUIDE_MODES",
    "ResolvedRequest",
    "SyncRequest",
    "check_language",
    "check_range",
    "guide_channel_pick",
    "line_channel_pick",
    "parse_face_point",
    "parse_range",
    "parse_reference",
    "probe_video",
    "read_transcript",
    "resolve_request",
]

MAX_TRANSCRIPT_BYTES = 256 * 1024
"""A transcript is the words of one line; a file much larger than any script is a wrong path."""
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]+)*$")


def _shipped_default(name: str) -> Callable[[], Any]:
    """A `default_factory` for a setting's manifest default, read when a request is made, not on import."""
    return lambda: shipped_settings()[name].default_value


@dataclass
class SyncRequest:
    """What to render, as the user typed it. Positions are strings parsed against the clip."""

    video: Path
    audio: Path
    output: Path
    in_point: str | None = None
    out_point: str | None = None
    audio_in: str | None = None
    audio_channels: str | None = None
    """The line's channels the mouth follows and the render carries, as typed (`3`, `1-2`, `boom`;
    `channel_pick.pick_channels`); None: its first stream with sound, all of its channels."""
    guide: str = "auto"
    guide_channels: str | None = None
    """The clip's own channels that are the actor's (the guide track), as typed like `audio_channels`: the
    guide's alignment and learning the actor from the clip hear only them. None: the clip's sound stream
    (`sound_stream.clip_sound_stream`), all of its channels mixed."""
    transcript: str | None = None
    language: str = field(default_factory=_shipped_default("language"))
    engine: str | None = None
    """None: the default engine (`mytalk.core.engines.default_engine`, the manifest's)."""
    codec: str | None = None
    """None: picked by the output's extension (a commit uses the manifest's default codec)."""
    handles: int = field(default_factory=_shipped_default("handles"))
    references: list[str] = field(default_factory=list)
    face: str | None = None
    report: Path | None = None
    quality: str = field(default_factory=_shipped_default("quality"))
    motion_driver: str = field(default_factory=_shipped_default("motion_driver"))
    openness: float = field(default_factory=_shipped_default("openness"))
    smoothing: float = field(default_factory=_shipped_default("smoothing"))
    mask_mode: str = field(default_factory=_shipped_default("mask_mode"))
    actor: str | None = None
    device: str = field(default_factory=_shipped_default("device"))
    proxy: bool = False
    """Write the output as a proxy (at most `PREVIEW_PROXY_HEIGHT` lines, scaled after the render) whatever
    the quality: the panel's preview renders exactly as its commit will and only the file is smaller."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Settings of `manifest.json` without a field of their own (one added to the manifest), by name:
    checked through the schema like the others, filled with their defaults, and handed to the engine
    in `EngineSettings.extra`. `with_settings` sorts keyword values into fields and `extra`."""

    @classmethod
    def with_settings(cls, **values: Any) -> SyncRequest:
        """A request from keyword values: request fields by name, any other manifest setting into `extra`.
        What the CLI, the runtime and the panel call, so that a new manifest entry needs no field here."""
        names = {f.name for f in fields(cls)}
        schema = shipped_settings()
        extra = {k: values.pop(k) for k in list(values) if k not in names and k in schema}
        unknown = sorted(k for k in values if k not in names)
        if unknown:
            raise UsageError(f"unknown setting(s) {', '.join(unknown)}; the settings are those of manifest.json")
        return cls(**values, extra={**values.pop("extra", {}), **extra})

    def __post_init__(self) -> None:
        """Check every user setting through the manifest's schema; store them in its types."""
        schema = shipped_settings()
        named = {f.name for f in fields(self)}
        stray = sorted(k for k in self.extra if k in named or k not in schema)
        if stray:
            raise UsageError(f"setting(s) {', '.join(stray)}: not an added manifest setting; pass them by name")
        # An added setting left out gets its manifest default, as a named one does.
        self.extra = {**{k: s.default_value for k, s in schema.items() if k not in named}, **self.extra}
        values = self.settings()
        if self.engine is not None:
            # Engines are the one open-ended setting: the registry knows what this installation
            # has (the manifest's enum is the shipped set the panel and --help list), and its
            # message names the installed ones.
            engine_spec(values.pop("engine"))
        checked = check_values(schema, values)
        for name, value in checked.items():
            if name in named:
                setattr(self, name, value)
            else:
                self.extra[name] = value

    def settings(self) -> dict[str, Any]:
        """The request's values of the manifest's settings (those left to a default are absent)."""
        schema = shipped_settings()
        named = {f.name: getattr(self, f.name) for f in fields(self) if f.name in schema and getattr(self, f.name) is not None}
        return {**named, **{k: v for k, v in self.extra.items() if v is not None}}

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON-ready values; added settings sit beside the named ones, as on the wire."""
        data = asdict(self)
        data.update(data.pop("extra"))
        for key in ("video", "audio", "output", "report"):
            data[key] = None if data[key] is None else str(data[key])
        return data


@dataclass(frozen=True)
class ResolvedRequest:
    """A request checked against the media: frame numbers, exact offsets, parsed settings."""

    request: SyncRequest
    info: MediaInfo
    start: int
    stop: int
    line_offset_s: Fraction
    references: tuple[ReferenceRange, ...]
    settings: EngineSettings
    guide_pick: ChannelPick | None = None
    """The clip's own channels the guide and learning hear (`SyncRequest.guide_channels`), None for all."""

    @property
    def fps(self) -> Fraction:
        assert self.info.video is not None
        return self.info.video.fps

    def range_dict(self) -> dict[str, Any]:
        return {
            "in": self.start,
            "out": self.stop,
            "frames": self.stop - self.start,
            "in_timecode": frames_to_smpte(self.start, self.fps),
            "out_timecode": frames_to_smpte(self.stop, self.fps),
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "handles": self.request.handles,
            "line_offset_s": str(self.line_offset_s),
        }


def probe_video(path: Path, known: MediaInfo | None = None) -> MediaInfo:
    """Probe a clip that must have a picture; errors name the file and the fix. `known`: the file's probe,
    when the caller has one of it as it is now (`clip_probes.ClipProbes`), checked the same way."""
    if known is None and not path.exists():
        raise MediaNotFoundError(f"video not found: {path}")
    info = known if known is not None else probe(path)
    if info.video is None or info.video.frame_count <= 0:
        raise MediaFormatError(f"{path}: has no video frames; pick a clip with a picture")
    return info


def check_range(start: int, stop: int, frame_count: int, *, label: str, cut_short: str | None = None) -> None:
    """Raise RangeError unless 0 <= start < stop <= frame_count (stop is exclusive). `cut_short`: the
    clip's `VideoStreamInfo.cut_short_note`, added to a range past its end (the frames may be on their way)."""
    why = f"; {cut_short}" if cut_short else ""
    if start < 0:
        raise RangeError(f"{label}: in point {start} is before the first frame (0)")
    if start >= frame_count:
        raise RangeError(f"{label}: in point {start} is past the end; the clip has {frame_count} frames "
                         f"(0-{frame_count - 1}){why}")
    if stop <= start:
        raise RangeError(f"{label}: out point {stop} must be after the in point {start} (out is exclusive)")
    if stop > frame_count:
        raise RangeError(f"{label}: out point {stop} is past the end; the clip has {frame_count} frames, "
                         f"so out ≤ {frame_count}{why}")


def parse_range(text: str, info: MediaInfo, *, label: str) -> tuple[int, int]:
    """Parse `IN-OUT` (either side may be empty: `-120`, `48-`) against a clip."""
    assert info.video is not None
    video = info.video
    if "-" not in text:
        raise UsageError(f"{label} {text!r}: write a range as IN-OUT, for example 0-120 or 0s-4.8s")
    left, _, right = text.partition("-")
    start = parse_position(left, video.fps, source_start=video.start_timecode, what=label) if left.strip() else 0
    stop = (
        parse_position(right, video.fps, source_start=video.start_timecode, what=label)
        if right.strip()
        else video.frame_count
    )
    check_range(start, stop, video.frame_count, label=f"{label} {text!r}", cut_short=video.cut_short_note)
    return start, stop


def parse_reference(text: str, video_path: Path, video_info: MediaInfo) -> ReferenceRange:
    """`0-120`, `0s-4.8s` (ranges of VIDEO), `OTHER.mov` or `OTHER.mov:IN-OUT`."""
    path, span = split_media_spec(text)
    if path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        info = probe_video(path)
        assert info.video is not None
        start, stop = parse_range(span, info, label=f"--reference {path.name}") if span else (0, info.video.frame_count)
        return ReferenceRange(path, start, stop)
    start, stop = parse_range(text, video_info, label="--reference")
    return ReferenceRange(video_path, start, stop)


def read_transcript(text: str | None) -> str | None:
    """`--transcript TEXT` or `--transcript @FILE`."""
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        if path.exists() and not path.is_file():
            # A FIFO would wait for ever and /dev/zero never ends.
            raise UsageError(f"--transcript {text!r}: {path} is not a text file; give the path of one")
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_TRANSCRIPT_BYTES + 1)
        except OSError as error:
            raise UsageError(f"--transcript {text!r}: cannot read {path}: {error.strerror}") from None
        if len(data) > MAX_TRANSCRIPT_BYTES:
            raise UsageError(f"--transcript {text!r}: {path} is over {MAX_TRANSCRIPT_BYTES // 1024} KB; "
                             "give the words of this one line only")
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError(f"--transcript {text!r}: {path} is not UTF-8 text; save it as UTF-8") from None
    return text.strip()


def check_language(code: str | None) -> str:
    """The line's language as an espeak-ng code (`en`, `es`, `pt-br`), lower-cased; UsageError if unknown.

    `en_US` is read as `en-us`. Checked against espeak-ng's own list when it loads; otherwise any well-formed
    ISO 639 code passes, since recognition without a transcript needs no espeak-ng (non-English
    lines use the language-independent phone loop).
    """
    text = (code or "").strip().lower().replace("_", "-") or str(shipped_settings()["language"].default_value)
    if not _LANGUAGE_CODE.fullmatch(text):
        raise UsageError(f"--language {code!r}: give an espeak-ng language code such as en, es, de, fr or pt-br")
    known = _espeak_languages()
    # espeak-ng lists regional voices (`en-gb`, `fr-fr`); a bare `en` or `fr` picks its default one.
    if known and text not in known and not any(k.startswith(text + "-") for k in known):
        close = sorted(k for k in known if k.split("-")[0] == text.split("-")[0])
        hint = f"; {text.split('-')[0]} has: {', '.join(close[:8])}" if close else (
            "; list the codes with: python -c \"from mytalk.core.audio.espeak import espeak_languages; "
            "print(espeak_languages())\"")
        raise UsageError(f"--language {code!r}: espeak-ng has no language {text!r}{hint}")
    return text


def _espeak_languages() -> frozenset[str]:
    """espeak-ng's language codes, or an empty set when espeak-ng cannot load (check by form only)."""
    try:
        # Imported here: loading espeak-ng (ctypes) is work that only a sync needs, not every import.
        from mytalk.core.audio.espeak import espeak_languages

        return frozenset(code.lower() for code in espeak_languages())
    except (ImportError, OSError, RuntimeError):
        return frozenset()


def _face_point_in_frame(text: str | None, width: int, height: int) -> tuple[float, float] | None:
    """`--face X,Y`, refused when it lies outside the stored frame: such a point can only be a typo (or
    another clip's click), and the tracker would otherwise quietly take whichever face is nearest to it."""
    point = parse_face_point(text)
    # One pixel of slack: a click on the picture's very edge, turned and desqueezed to stored pixels
    # (`DisplayGeometry.points_to_stored`) in floating point, may land a hair outside it.
    if point is not None and not (-1 <= point[0] <= width + 1 and -1 <= point[1] <= height + 1):
        raise UsageError(f"--face {text}: the point is outside the frame ({width}×{height} stored pixels, "
                         "X from 0 to the width, Y from 0 to the height); give a point on the face to edit")
    return point


def line_channel_pick(request: SyncRequest) -> ChannelPick | None:
    """The channels of the request's line that `audio_channels` picks, checked against the file (a
    `UsageError` that lists its channels); None when it picks none."""
    text = (request.audio_channels or "").strip()
    if not text:
        return None
    return pick_channels(text, Path(request.audio))


def guide_channel_pick(request: SyncRequest, info: MediaInfo) -> ChannelPick | None:
    """The clip's own channels that `guide_channels` picks, checked against the clip (`info`, its probe): a
    `UsageError` that lists its channels, or says it has no sound; None when it picks none."""
    text = (request.guide_channels or "").strip()
    if not text:
        return None
    if not info.audio:
        raise UsageError(f"--guide-channels {text}: {request.video.name} has no sound to pick from; "
                         f"leave --guide-channels out")
    return pick_channels(text, Path(request.video), what="--guide-channels")


def resolve_request(request: SyncRequest, clip_info: MediaInfo | None = None) -> ResolvedRequest:
    """Check a request against its media; raise a MyTalkError naming the first bad field. `clip_info`: the
    clip's probe, when the caller has one of the file as it is now (else it is probed here)."""
    if request.guide not in GUIDE_MODES:
        raise UsageError(f"--guide {request.guide!r}: choose one of {', '.join(GUIDE_MODES)}")
    language = check_language(request.language)
    info = probe_video(request.video, clip_info)
    assert info.video is not None
    video = info.video
    fps, tc = video.fps, video.start_timecode
    start = parse_position(request.in_point, fps, source_start=tc, what="--in") if request.in_point else 0
    stop = parse_position(request.out_point, fps, source_start=tc, what="--out") if request.out_point else video.frame_count
    check_range(start, stop, video.frame_count, label=str(request.video.name), cut_short=video.cut_short_note)
    offset = parse_offset_seconds(request.audio_in, fps, what="--audio-in") if request.audio_in else Fraction(0)
    references = tuple(parse_reference(text, request.video, info) for text in request.references) or (
        default_references(request.video, video.frame_count, fps)
    )
    guide_pick = guide_channel_pick(request, info)
    if guide_pick is not None:
        # The clip's own ranges are learned from the picked channels; another file's from its own sound.
        clip = request.video.resolve()
        references = tuple(replace(ref, channels=guide_pick) if Path(ref.path).resolve() == clip else ref
                           for ref in references)
    settings = EngineSettings(
        motion_driver=request.motion_driver,
        openness=request.openness,
        smoothing=request.smoothing,
        mask_mode=request.mask_mode,
        quality=request.quality,
        face_point=_face_point_in_frame(request.face, video.width, video.height),
        transcript=read_transcript(request.transcript),
        actor=request.actor,
        device=request.device,
        language=language,
        extra=dict(request.extra),
    )
    return ResolvedRequest(request, info, start, stop, offset, references, settings, guide_pick)
