"""FAKE DaVinci Resolve scripting API, for tests only. This is NOT Resolve.

Resolve cannot run on the test machines, so `mytalk.plugin.hosts.resolve` is tested against this
recorded fake. It implements exactly the `DaVinciResolveScript` calls that the adapter uses, with
the parameter names, defaults and return types of Resolve's documentation (transcribed in
`tests/resolve_api.pyi`, from Resolve 21.1's `DaVinciResolveScript.pyi` and the README of earlier
releases), and nothing else: any other call raises AttributeError, so the adapter cannot start
depending on an undocumented call without a test noticing. `test_hosts_resolve_signatures.py`
checks both: the adapter's calls against the documentation, and this fake against the same.
Every call is appended to `FakeResolve.calls` as `(object_name, method, args)` so tests can check
the exact conversation.

Behaviour taken from the documentation (and from published scripts that use it):
- `Timeline.GetMarkInOut()` -> {"video": {"in": i, "out": o}, "audio": {...}}, keys omitted when
  unset; frames counted from the timeline start, out inclusive;
- `TimelineItem.GetStart()/GetEnd()` are absolute timeline frames, GetEnd exclusive;
  `GetLeftOffset()` is the source frame at the item's start;
- `MediaPool.ImportMedia([{"FilePath": path}])` -> [MediaPoolItem] (the list-of-paths form is
  deprecated in 21.1, so the fake refuses it);
- `MediaPool.AppendToTimeline([clipInfo])` -> [TimelineItem]; clipInfo keys mediaPoolItem,
  startFrame, endFrame (inclusive), mediaType (1 video), trackIndex, recordFrame (absolute);
- `MediaPoolItem.GetClipProperty()` -> a dict of all properties (the keyed form is deprecated in
  21.1; the fake still answers it as documented);
- `Timeline.AddTrack("video")` -> True and appends a track; `GetTrackCount("video")` counts them;
- `TimelineItem.AddMarker(frameId, color, name, note, duration, customData)` -> True;
- `TimelineItem.GetProperty()` -> a dict of every Inspector key (Resolve's defaults unless a test sets them);
  `SetProperty(key, value)` -> True for a documented key, False otherwise; `CopyGrades([items])` copies the
  item's grade (a label here, Resolve's node graph there) onto each target and answers `grades_copy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Call = tuple[str, str, tuple[Any, ...]]

# The documented TypedDicts (tests/resolve_api.pyi), as the plain dicts Resolve passes and returns.
MarkInOut = dict[str, dict[str, int]]
ClipProperties = dict[str, str]
TimelineItemProperties = dict[str, Any]
INSPECTOR_DEFAULTS: TimelineItemProperties = {
    "Pan": 0.0, "Tilt": 0.0, "ZoomX": 1.0, "ZoomY": 1.0, "ZoomGang": True, "RotationAngle": 0.0, "AnchorPointX": 0.0,
    "AnchorPointY": 0.0, "Pitch": 0.0, "Yaw": 0.0, "FlipX": False, "FlipY": False, "CropLeft": 0.0, "CropRight": 0.0,
    "CropTop": 0.0, "CropBottom": 0.0, "CropSoftness": 0.0, "CropRetain": False, "DynamicZoomEase": 0,
    "CompositeMode": 0, "Opacity": 100.0, "Distortion": 0.0, "RetimeProcess": 0, "MotionEstimation": 0, "Scaling": 0,
    "ResizeFilter": 0}
"""What `GetProperty()` answers for a clip nobody changed (the README's example output, and its keys)."""
AppendClipInfo = dict[str, Any]
ImportClipInfo = dict[str, Any]


class _Recorder:
    """Base of the fake objects: records each documented call in the shared log."""

    def __init__(self, log: list[Call], label: str) -> None:
        self._log = log
        self._label = label

    def _record(self, method: str, *args: Any) -> None:
        self._log.append((self._label, method, args))


class FakeMediaPoolItem(_Recorder):
    def __init__(self, log: list[Call], path: str, frames: int) -> None:
        super().__init__(log, f"MediaPoolItem({Path(path).name})")
        self.path = path
        self.frames = frames

    def GetClipProperty(self, propertyName: str | None = None) -> str | ClipProperties:  # noqa: N802, N803 - Resolve's API names
        properties = {"File Path": self.path, "Frames": str(self.frames)}
        if propertyName is None:
            self._record("GetClipProperty")
            return properties
        self._record("GetClipProperty", propertyName)
        return properties.get(propertyName, "")


@dataclass
class FakeMarker:
    frame: int
    color: str
    name: str
    note: str
    duration: int
    custom_data: str


class FakeTimelineItem(_Recorder):
    def __init__(self, log: list[Call], name: str, media: FakeMediaPoolItem | None, start: int, end: int,
                 left_offset: int, track: int) -> None:
        super().__init__(log, f"TimelineItem({name})")
        self.name, self.media, self.start, self.end, self.left_offset, self.track = name, media, start, end, left_offset, track
        self.markers: list[FakeMarker] = []
        self.properties: TimelineItemProperties = dict(INSPECTOR_DEFAULTS)
        self.grade: str | None = None  # what the Color page did to the clip, as a label
        self.grades_copy = True  # what CopyGrades answers (Resolve answers False when it could not)

    def GetName(self) -> str:  # noqa: N802
        self._record("GetName")
        return self.name

    def GetStart(self, subframePrecision: bool = False) -> float:  # noqa: N802, N803
        self._record("GetStart", *((True,) if subframePrecision else ()))
        return float(self.start)

    def GetEnd(self, subframePrecision: bool = False) -> float:  # noqa: N802, N803
        self._record("GetEnd", *((True,) if subframePrecision else ()))
        return float(self.end)

    def GetDuration(self, subframePrecision: bool = False) -> float:  # noqa: N802, N803
        self._record("GetDuration", *((True,) if subframePrecision else ()))
        return float(self.end - self.start)

    def GetLeftOffset(self, subframePrecision: bool = False) -> float:  # noqa: N802, N803
        self._record("GetLeftOffset", *((True,) if subframePrecision else ()))
        return float(self.left_offset)

    def GetMediaPoolItem(self) -> FakeMediaPoolItem | None:  # noqa: N802
        self._record("GetMediaPoolItem")
        return self.media

    def AddMarker(self, frameId: int, color: str, name: str, note: str, duration: int,  # noqa: N802, N803
                  customData: str | None = None) -> bool:
        self._record("AddMarker", frameId, color, name, note, duration, customData)
        if any(marker.frame == frameId for marker in self.markers):
            return False  # Resolve refuses a second marker on the same frame
        self.markers.append(FakeMarker(frameId, color, name, note, duration, customData or ""))
        return True

    def GetProperty(self, propertyKey: str | None = None) -> int | TimelineItemProperties:  # noqa: N802, N803
        if propertyKey is None:
            self._record("GetProperty")
            return dict(self.properties)
        self._record("GetProperty", propertyKey)
        return self.properties.get(propertyKey, 0)

    def SetProperty(self, propertyKey: str, propertyValue: Any) -> bool:  # noqa: N802, N803
        self._record("SetProperty", propertyKey, propertyValue)
        if propertyKey not in INSPECTOR_DEFAULTS:
            return False
        self.properties[propertyKey] = propertyValue
        return True

    def CopyGrades(self, tgtTimelineItems: list[FakeTimelineItem]) -> bool:  # noqa: N802, N803
        self._record("CopyGrades", [item.name for item in tgtTimelineItems])
        if not self.grades_copy:
            return False
        for item in tgtTimelineItems:
            item.grade = self.grade
        return True


class FakeTimeline(_Recorder):
    def __init__(self, log: list[Call], name: str, fps: str, drop_frame: bool, start_frame: int) -> None:
        super().__init__(log, f"Timeline({name})")
        self.name, self.fps, self.drop_frame, self.start_frame = name, fps, drop_frame, start_frame
        self.video_tracks: list[list[FakeTimelineItem]] = [[]]
        self.marks: dict[str, dict[str, int]] = {}
        self.current_item: FakeTimelineItem | None = None

    def GetName(self) -> str:  # noqa: N802
        self._record("GetName")
        return self.name

    def GetSetting(self, settingName: str) -> str:  # noqa: N802, N803
        self._record("GetSetting", settingName)
        return {"timelineFrameRate": self.fps,
                "timelineDropFrameTimecode": "1" if self.drop_frame else "0"}.get(settingName, "")

    def GetStartFrame(self) -> int:  # noqa: N802
        self._record("GetStartFrame")
        return self.start_frame

    def GetMarkInOut(self) -> MarkInOut:  # noqa: N802
        self._record("GetMarkInOut")
        return {kind: dict(marks) for kind, marks in self.marks.items()}

    def GetCurrentVideoItem(self) -> FakeTimelineItem | None:  # noqa: N802
        self._record("GetCurrentVideoItem")
        return self.current_item

    def GetTrackCount(self, trackType: str) -> int:  # noqa: N802, N803
        self._record("GetTrackCount", trackType)
        return len(self.video_tracks) if trackType == "video" else 1

    def AddTrack(self, trackType: str, subTrackType: str | None = None) -> bool:  # noqa: N802, N803
        if subTrackType is None:
            self._record("AddTrack", trackType)
        else:
            self._record("AddTrack", trackType, subTrackType)
        if trackType != "video":
            return False
        self.video_tracks.append([])
        return True


class FakeMediaPool(_Recorder):
    def __init__(self, log: list[Call], timeline: FakeTimeline | None) -> None:
        super().__init__(log, "MediaPool")
        self.timeline = timeline
        self.items: list[FakeMediaPoolItem] = []

    def ImportMedia(self, clipInfos: list[ImportClipInfo]) -> list[FakeMediaPoolItem]:  # noqa: N802, N803
        self._record("ImportMedia", [dict(info) for info in clipInfos])
        paths = [str(info["FilePath"]) for info in clipInfos]
        imported = [FakeMediaPoolItem(self._log, p, frames=0) for p in paths if Path(p).is_file()]
        self.items += imported
        return imported

    def AppendToTimeline(self, clipInfos: list[AppendClipInfo]) -> list[FakeTimelineItem]:  # noqa: N802, N803
        self._record("AppendToTimeline", [dict(info) for info in clipInfos])
        if self.timeline is None:
            return []  # Resolve appends to the current timeline only
        placed: list[FakeTimelineItem] = []
        for info in clipInfos:
            track = int(info.get("trackIndex", 1))
            if not 1 <= track <= len(self.timeline.video_tracks):
                return []
            media = info["mediaPoolItem"]
            frames = int(info["endFrame"]) - int(info["startFrame"]) + 1  # endFrame is inclusive
            record = int(info.get("recordFrame", self.timeline.start_frame))
            item = FakeTimelineItem(self._log, Path(media.path).name, media, record, record + frames,
                                    int(info["startFrame"]), track)
            self.timeline.video_tracks[track - 1].append(item)
            placed.append(item)
        return placed


class FakeProject(_Recorder):
    def __init__(self, log: list[Call], timeline: FakeTimeline | None) -> None:
        super().__init__(log, "Project")
        self.timeline = timeline
        self.media_pool = FakeMediaPool(log, timeline)

    def GetCurrentTimeline(self) -> FakeTimeline | None:  # noqa: N802 - documented as Timeline; None without one
        self._record("GetCurrentTimeline")
        return self.timeline

    def GetMediaPool(self) -> FakeMediaPool:  # noqa: N802
        self._record("GetMediaPool")
        return self.media_pool


class FakeProjectManager(_Recorder):
    def __init__(self, log: list[Call], project: FakeProject) -> None:
        super().__init__(log, "ProjectManager")
        self.project = project

    def GetCurrentProject(self) -> FakeProject:  # noqa: N802
        self._record("GetCurrentProject")
        return self.project


@dataclass
class FakeResolve:
    """`DaVinciResolveScript.scriptapp("Resolve")` of a Resolve with one project and one timeline."""

    timeline: FakeTimeline | None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.timeline is not None:
            self.timeline._log = self.calls
        self.project = FakeProject(self.calls, self.timeline)
        self.manager = FakeProjectManager(self.calls, self.project)

    def GetProjectManager(self) -> FakeProjectManager:  # noqa: N802
        self.calls.append(("Resolve", "GetProjectManager", ()))
        return self.manager

    def methods_called(self) -> list[str]:
        return [f"{method}" for _, method, _ in self.calls]


def resolve_with_clip(video: Path, *, fps: str = "25", drop_frame: bool = False, start_frame: int = 90000,
                      record_start: int = 90050, left_offset: int = 20, frames: int = 80) -> FakeResolve:
    """A fake Resolve whose timeline holds `video` (frames left_offset.. of it) at `record_start` on V1."""
    calls: list[Call] = []
    timeline = FakeTimeline(calls, "Reel 1", fps, drop_frame, start_frame)
    media = FakeMediaPoolItem(calls, str(video), frames=0)
    item = FakeTimelineItem(calls, video.name, media, record_start, record_start + frames, left_offset, 1)
    timeline.video_tracks[0].append(item)
    timeline.current_item = item
    return FakeResolve(timeline, calls)
