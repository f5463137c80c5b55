# The documented signatures of exactly the DaVinci Resolve scripting calls MyTalk makes
# (`mytalk.plugin.hosts.resolve`), transcribed for `tests/test_hosts_resolve_signatures.py`.
# Data, not code: the test reads this file with `ast` and never imports it.
#
# Sources (signatures are facts; only the calls we use are transcribed, nothing else):
# 1. `Developer/Scripting/DaVinciResolveScript.pyi` of DaVinci Resolve Studio 21.1.0.14, as vendored
#    unmodified (SHA-256 00078fa1256851b9807621a4eea5e670f4266b0e7003763cba4a62655543f0ec, collected
#    9 Sep 2026 per its provenance note) in github.com/samuelgursky/davinci-resolve-mcp under
#    docs/reference/; read through the stored public-code index (the snapshot we could fetch, commit
#    f5b27357, predates the vendoring, so the file was read by index id, not at a commit). Every method
#    below except `Timeline.GetSetting` is copied from it: parameter names, defaults and annotations.
# 2. `Developer/Scripting/README.md` of Resolve 21.1 ("Last Updated: 31 Aug 2026"), section
#    "Deprecated Calling Conventions": source of the `@deprecated` notes below.
# 3. `Developer/Scripting/README.txt` of earlier releases: "Last Updated: 7 Oct 2025" and
#    "24 Jul 2026", vendored as docs/reference/resolve_scripting_api.txt in the same repository
#    (commits 320ce224 and 3874ee55). They document every call below, with `GetSetting(settingName)`
#    (no `GetSettings`), `ImportMedia([{clipInfo}])`, `GetClipProperty(propertyName=None)` and
#    `GetStart(subframe_precision)`. `Timeline.GetMarkInOut()` is new in 19.1.0 (Resolve's changelog),
#    hence the manifest's minimum of 19.1; no 19.1 README itself could be found to check against.
# 4. `TimelineItem.GetProperty`, `SetProperty` and `CopyGrades` (MyTalk copies the shot's look onto the fix):
#    from a typed stub of the 21.1 API read through the same index (`CopyGrades(self, tgtTimelineItems:
#    List[TimelineItem]) -> bool`, "Copies the current node stack layer grade to the same layer for each
#    item"; `SetProperty(self, propertyKey: str, propertyValue: Any) -> bool`; `GetProperty(self,
#    propertyKey: Optional[str]) -> int | dict[str, str]`). That stub gives `propertyKey` no default, but
#    every README since 16 says "if no key is specified, the method returns a dictionary ... for all
#    supported keys", so the default None is transcribed, as for `GetClipProperty`. The keys of
#    `TimelineItemProperties` are the README's section "Looking up Timeline item properties".
#
# TypedDicts list only the keys MyTalk reads or writes; the vendor stub declares more.

from typing import Any, Literal, TypedDict

from typing_extensions import deprecated

MarkerColor = Literal['Blue', 'Cyan', 'Green', 'Yellow', 'Red', 'Pink', 'Purple', 'Fuchsia', 'Rose', 'Lavender', 'Sky', 'Mint', 'Lemon', 'Sand', 'Cocoa', 'Cream']
TrackType = Literal['video', 'audio', 'subtitle']

class AppendClipInfo(TypedDict, total=False):
    mediaPoolItem: MediaPoolItem
    startFrame: float
    endFrame: float
    mediaType: int
    trackIndex: int
    recordFrame: float

class ImportClipInfo(TypedDict, total=False):
    FilePath: str
    StartIndex: int
    EndIndex: int

MarkInOutRange = TypedDict('MarkInOutRange', {'in': int, 'out': int}, total=False)

class MarkInOut(TypedDict, total=False):
    video: MarkInOutRange
    audio: MarkInOutRange

ClipProperties = TypedDict('ClipProperties', {'File Path': str}, total=False)

class TimelineItemProperties(TypedDict, total=False):
    Pan: float
    Tilt: float
    ZoomX: float
    ZoomY: float
    ZoomGang: bool
    RotationAngle: float
    AnchorPointX: float
    AnchorPointY: float
    Pitch: float
    Yaw: float
    FlipX: bool
    FlipY: bool
    CropLeft: float
    CropRight: float
    CropTop: float
    CropBottom: float
    CropSoftness: float
    CropRetain: bool
    CompositeMode: int
    Opacity: float
    Distortion: float
    Scaling: int
    ResizeFilter: int

class TimelineSettings(TypedDict, total=False):
    timelineFrameRate: float | str
    timelineDropFrameTimecode: str

class Resolve:
    def GetProjectManager(self) -> ProjectManager: ...

class ProjectManager:
    def GetCurrentProject(self) -> Project: ...

class Project:
    def GetMediaPool(self) -> MediaPool: ...
    def GetCurrentTimeline(self) -> Timeline: ...

class MediaPool:
    def AppendToTimeline(self, clipInfos: list[AppendClipInfo]) -> list[TimelineItem]: ...
    def ImportMedia(self, clipInfos: list[ImportClipInfo]) -> list[MediaPoolItem]: ...

class MediaPoolItem:
    def GetClipProperty(self, propertyName: str | None = None) -> str | ClipProperties: ...

class Timeline:
    def GetName(self) -> str: ...
    def GetStartFrame(self) -> int: ...
    def GetTrackCount(self, trackType: TrackType) -> int: ...
    def GetCurrentVideoItem(self) -> TimelineItem | None: ...
    def AddTrack(self, trackType: TrackType, subTrackType: str | None = None) -> bool: ...
    def GetMarkInOut(self) -> MarkInOut: ...
    # Absent from the 21.1 stub; from the README.txt (7 Oct 2025, 24 Jul 2026):
    # "GetSetting(settingName) --> string". Its 21.1 replacement `GetSettings()` is not in any
    # earlier README, so the one call that works from 19.1 to 21.1 is this deprecated one.
    @deprecated("Resolve 21.1 README: use GetSettings() and index into the result")
    def GetSetting(self, settingName: str) -> str: ...

class TimelineItem:
    def GetName(self) -> str: ...
    def GetStart(self, subframePrecision = False) -> float: ...
    def GetEnd(self, subframePrecision = False) -> float: ...
    def GetDuration(self, subframePrecision = False) -> float: ...
    def GetLeftOffset(self, subframePrecision = False) -> float: ...
    def GetMediaPoolItem(self) -> MediaPoolItem | None: ...
    def AddMarker(self, frameId: int, color: MarkerColor, name: str, note: str, duration: int, customData: str | None = None) -> bool: ...
    def GetProperty(self, propertyKey: str | None = None) -> int | TimelineItemProperties: ...
    def SetProperty(self, propertyKey: str, propertyValue: Any) -> bool: ...
    def CopyGrades(self, tgtTimelineItems: list[TimelineItem]) -> bool: ...

def scriptapp(app: str) -> Resolve: ...
