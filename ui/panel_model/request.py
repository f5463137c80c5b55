"""From what the editor set up (clip, line, marked range, slip, picked face, settings) to a
`SyncRequest`, or a `MyTalkError` that says what is still missing.

The panel never writes a request by hand: the CLI and the runtime parse the same `SyncRequest`,
so positions go out as strings (`in_point="25"`, `audio_in="-0.080000s"`) and are resolved against
the clip by the core, exactly as when typed on the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from mytalk.core.errors import MyTalkError
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media.writer import CODEC_PRESETS
from mytalk.core.userdirs import default_renders_dir
from mytalk.ui.panel_model.face import Point, face_text
from mytalk.ui.panel_model.slip import audio_in_text
from mytalk.ui.viseme_track import TrackKey

NOT_READY_TIP = "Open a clip and a line, and mark a range (I / O)"


@dataclass(frozen=True)
class RequestInputs:
    """The panel's side of a request: everything but the settings form."""

    clip: Path | None
    line: Path | None
    marked: tuple[int, int] | None
    """Clip frames [start, stop), stop exclusive, as `Transport.range()` gives them."""
    audio_in: Fraction = Fraction(0)
    face_point: Point | None = None
    line_channels: str | None = None
    """The line's channels picked (`--audio-channels` text, the panel's `ChannelsBox` beside Line…); None: all of them."""
    guide_channels: str | None = None
    """The clip's own channels picked as the actor's (`--guide-channels` text, the `ChannelsBox` beside Clip…);
    None: the job's default (the clip's first stream with sound)."""

    @property
    def complete(self) -> bool:
        """A clip, a line and a range: enough to enable Preview and Commit."""
        return self.clip is not None and self.line is not None and self.marked is not None

    def track_key(self) -> TrackKey | None:
        """What a viseme track must match to be drawn: these inputs' clip, line, range and slip."""
        if self.clip is None or self.line is None or self.marked is None:
            return None
        return TrackKey(str(self.clip), str(self.line), self.marked[0], self.marked[1], self.audio_in,
                        self.line_channels)


def build_request(inputs: RequestInputs, settings: Mapping[str, Any], *, kind: str = "commit") -> SyncRequest:
    """The request for `kind` ("preview" or "commit") of the marked range.

    `settings` is the settings form's `values()`: SyncRequest keyword arguments plus `engine`, `output`
    (None when unset) and `wrapper`. A preview without an output folder names the default render folder
    (its proxy goes to the cache anyway; nothing is written beside the clip); a commit must name the
    folder it writes versions into. A commit whose `wrapper` (".mxf") is not the codec's first container
    names `<folder>/<clip><wrapper>`: the runtime then writes its versions into the folder, in that container
    (`commands.commit_target`). The face comes from `inputs`: the form only displays the picked point.
    """
    if inputs.clip is None:
        raise MyTalkError("open a clip first (Clip…)")
    if inputs.line is None:
        raise MyTalkError("open the replacement line first (Line…)")
    if inputs.marked is None:
        raise MyTalkError("mark the range to fix first: I at the first frame, O at the last")
    values = dict(settings)
    engine = values.pop("engine", None)
    if not engine:
        raise MyTalkError("no engine is available yet; wait for the runtime to start")
    output = values.pop("output", None)
    wrapper = values.pop("wrapper", None)
    if output is None:
        if kind == "commit":
            raise MyTalkError("choose the render folder for commits (Render folder, under the settings)")
        output = default_renders_dir()
    preset = CODEC_PRESETS.get(str(values.get("codec")))
    if kind == "commit" and wrapper and preset is not None and wrapper != preset.extensions[0]:
        output = Path(output) / f"{inputs.clip.stem}{wrapper}"
    values["face"] = face_text(inputs.face_point)
    start, stop = inputs.marked
    return SyncRequest.with_settings(video=inputs.clip, audio=inputs.line, output=Path(output), in_point=str(start),
                       out_point=str(stop), audio_in=audio_in_text(inputs.audio_in),
                       audio_channels=inputs.line_channels, guide_channels=inputs.guide_channels, engine=engine,
                       **values)


def learn_request(clip: Path | None, settings: Mapping[str, Any], face_point: Point | None,
                  guide_channels: str | None = None) -> SyncRequest | None:
    """The `learn` request for the open clip (`commands.learn_actor`), or None without a clip or an engine.

    Only the clip, its channels picked as the actor's (`guide_channels`: learning hears them), the engine and the
    settings matter to what is learned; the line and output fields are the clip and the default render folder,
    which learning never reads or writes."""
    values = dict(settings)
    engine = values.pop("engine", None)
    values.pop("output", None)
    values.pop("wrapper", None)
    if clip is None or not engine:
        return None
    values["face"] = face_text(face_point)
    return SyncRequest.with_settings(video=clip, audio=clip, output=default_renders_dir(), engine=engine,
                                     guide_channels=guide_channels, **values)


def line_learn_request(inputs: RequestInputs, settings: Mapping[str, Any]) -> SyncRequest | None:
    """The `learn` request that times the picked line's phones ahead, from its slip on
    (`commands.learn_actor` with a line), or None without a clip, a line or an engine. The marks are not
    needed: the phones are timed per utterance of the line's file, so any range placed there reuses them."""
    learn = learn_request(inputs.clip, settings, inputs.face_point, inputs.guide_channels)
    if learn is None or inputs.line is None:
        return None
    return replace(learn, audio=inputs.line, audio_in=audio_in_text(inputs.audio_in), audio_channels=inputs.line_channels)


def request_track_key(request: SyncRequest, audio_in: Fraction) -> TrackKey:
    """The key a job was sent with, so that its visemes are drawn only while nothing moved.

    `audio_in` is the exact slip the request's string was made from (the string is rounded)."""
    return TrackKey(str(request.video), str(request.audio), int(request.in_point or 0), int(request.out_point or 0),
                    audio_in, request.audio_channels)


def range_label(kind: str, start: int, stop: int, timecode: Callable[[int], str]) -> str:
    """A job row's title: `Preview 00:00:01:00 – 00:00:01:24  (25 fr)`, out shown inclusive as
    editors mark it, though `stop` is exclusive."""
    return f"{kind.capitalize()} {timecode(start)} – {timecode(stop - 1)}  ({stop - start} fr)"
