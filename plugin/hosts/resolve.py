"""DaVinci Resolve as a host, through its Python scripting API (`DaVinciResolveScript`).

Resolve's own UI manager is gone from the free version since 19.1, so the launcher script in
Workspace ▸ Scripts (`mytalk/resources/resolve_launcher.py`) starts our Qt panel as a separate
process with MyTalk's own Python; that process talks to the running Resolve through the
scripting API ("External scripting using: Local" in Resolve's preferences).

Only these documented calls are used (and `tests/fake_resolve.py` fakes exactly these;
`tests/resolve_api.pyi` holds their documented signatures, which
`tests/test_hosts_resolve_signatures.py` checks this module against):

- read: `GetProjectManager().GetCurrentProject().GetCurrentTimeline()`,
  `Timeline.GetSetting("timelineFrameRate" | "timelineDropFrameTimecode")`, `Timeline.GetStartFrame()`,
  `Timeline.GetMarkInOut()` (19.1+), `Timeline.GetCurrentVideoItem()`, `TimelineItem.GetName/GetStart/
  GetEnd/GetLeftOffset/GetMediaPoolItem()`, `MediaPoolItem.GetClipProperty()` (all properties);
- write: `Project.GetMediaPool()`, `MediaPool.ImportMedia([{"FilePath": path}])`,
  `Timeline.GetTrackCount("video")`, `Timeline.AddTrack("video")`, `MediaPool.AppendToTimeline(
  [{mediaPoolItem, startFrame, endFrame, mediaType, trackIndex, recordFrame}])`,
  `TimelineItem.AddMarker(frameId, color, name, note, duration, customData)` and
  `TimelineItem.GetDuration()` to check the placement;
- the shot's look, onto the fix: `TimelineItem.GetProperty()` (all keys) and `SetProperty(key, value)` for
  the Inspector's transform, crop and composite (`INSPECTOR_PROPERTIES`), and `TimelineItem.CopyGrades(
  [items])` for its grade (19.0+: the current node stack layer's).

Resolve 21.1 deprecates the list-of-paths `ImportMedia`, the keyed `GetClipProperty(name)` and
`GetSetting(name)`. We use the forms that every release from 19.1 documents and 21.1 keeps:
the clipInfo `ImportMedia`, `GetClipProperty()` as a dict. `GetSetting(name)` stays, because its
replacement `GetSettings()` does not exist before 21.1.

Frame conventions (Resolve's, which we convert at this boundary only): `GetStart`/`GetEnd` and
`recordFrame` are absolute timeline frames (01:00:00:00 at 24 fps is 86400), `GetEnd` exclusive;
`GetMarkInOut` gives frames from the timeline's start with the out mark inclusive;
`GetLeftOffset` is the source frame (from the media's first frame) at the item's start;
`endFrame` of a clip info is inclusive.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

from mytalk.core.errors import MediaNotFoundError, RangeError, UsageError
from mytalk.core.media.probe import probe
from mytalk.plugin.hosts import HostError, Placement, Shot

MARKER_COLOR = "Purple"
INSPECTOR_PROPERTIES = ("Pan", "Tilt", "ZoomX", "ZoomY", "ZoomGang", "RotationAngle", "AnchorPointX", "AnchorPointY",
                        "Pitch", "Yaw", "FlipX", "FlipY", "CropLeft", "CropRight", "CropTop", "CropBottom",
                        "CropSoftness", "CropRetain", "CompositeMode", "Opacity", "Distortion", "Scaling",
                        "ResizeFilter")
"""The Inspector's settings that decide how a clip's pixels are shown (the README's "Looking up Timeline item
properties"): the fix has the shot's size, so the same values frame it the same. Retime and dynamic zoom are
left out: the fix plays its frames one to one."""
_NTSC = {"23.976": Fraction(24000, 1001), "29.97": Fraction(30000, 1001), "47.952": Fraction(48000, 1001),
         "59.94": Fraction(60000, 1001), "119.88": Fraction(120000, 1001)}


def parse_frame_rate(text: Any) -> Fraction:
    """Resolve's `timelineFrameRate` setting ("23.976", "25", "29.97 DF"...) as an exact rate."""
    raw = str(text).strip().split()[0] if str(text).strip() else ""
    if raw in _NTSC:
        return _NTSC[raw]
    try:
        value = Fraction(raw)
    except ValueError:
        raise HostError(f"Resolve reports the timeline frame rate as {text!r}; set a standard rate in the "
                        "project settings") from None
    if value <= 0:
        raise HostError(f"Resolve reports a timeline frame rate of {text!r}")
    return value


class ResolveHost:
    """The current timeline of a running Resolve, behind the host protocol."""

    name = "davinci-resolve"

    def __init__(self, resolve: Any) -> None:
        if resolve is None:
            raise HostError("cannot reach DaVinci Resolve: start it, open a project, and set Preferences ▸ System ▸ "
                            "General ▸ External scripting using: Local")
        self.resolve = resolve
        self._shot_items: dict[tuple[str, int, int], Any] = {}  # the items the shots were read from, by media and span

    # -- reading ---------------------------------------------------------------------------------

    def _project(self) -> Any:
        project = self.resolve.GetProjectManager().GetCurrentProject()
        if not project:
            raise HostError("no project is open in Resolve; open one and run MyTalk again")
        return project

    def _timeline(self) -> Any:
        timeline = self._project().GetCurrentTimeline()
        if not timeline:
            raise HostError("no timeline is open in Resolve; open the cut on the Edit page")
        return timeline

    def current_shot(self) -> Shot:
        """The current video item under the timeline's in/out marks, mapped to source frames."""
        timeline = self._timeline()
        fps = parse_frame_rate(timeline.GetSetting("timelineFrameRate"))
        drop = str(timeline.GetSetting("timelineDropFrameTimecode")).strip() in ("1", "True", "true")
        timeline_start = int(timeline.GetStartFrame())
        item = timeline.GetCurrentVideoItem()
        if not item:
            raise HostError("no clip under the playhead on the current video track; park the playhead on the shot")
        media_item = item.GetMediaPoolItem()
        properties = media_item.GetClipProperty() if media_item else {}
        path_text = properties.get("File Path", "") if isinstance(properties, dict) else ""
        if not path_text:
            raise HostError(f"clip {item.GetName()!r} has no media file (a generator or compound clip?); "
                            "MyTalk needs a video file")
        video = Path(path_text)
        if not video.is_file():
            raise MediaNotFoundError(f"clip {item.GetName()!r}: its media {video} is offline; relink it")
        item_start, item_end = int(item.GetStart()), int(item.GetEnd())
        self._shot_items[(str(video), item_start, item_end)] = item  # whose look the fix will take
        start, stop = item_start, item_end
        marks = (timeline.GetMarkInOut() or {}).get("video") or {}
        if "in" in marks or "out" in marks:
            if "in" in marks:
                start = max(start, timeline_start + int(marks["in"]))
            if "out" in marks:
                stop = min(stop, timeline_start + int(marks["out"]) + 1)
            if stop <= start:
                raise RangeError(f"the in/out marks do not cover clip {item.GetName()!r}; mark a range over the shot")
        info = probe(video)
        if info.video is None:
            raise UsageError(f"{video}: has no video")
        if info.video.fps != fps:
            raise UsageError(f"clip {item.GetName()!r} is {float(info.video.fps):.3f} fps in a {float(fps):.3f} fps "
                             "timeline; MyTalk needs the clip at the timeline's rate")
        source_start = int(item.GetLeftOffset()) + (start - item_start)
        source_stop = source_start + (stop - start)
        if source_start < 0 or source_stop > info.video.frame_count:
            raise RangeError(f"clip {item.GetName()!r} maps to frames {source_start}-{source_stop} of {video.name}, "
                             f"which has {info.video.frame_count}; relink the clip")
        return Shot(name=str(item.GetName()), video=video, source_start=source_start, source_stop=source_stop,
                    record_start=start - timeline_start, record_fps=fps, record_offset=timeline_start,
                    drop_frame=drop, host_data={"timeline": str(timeline.GetName())})

    # -- writing ---------------------------------------------------------------------------------

    def place_result(self, shot: Shot, result: dict[str, Any]) -> Placement:
        """Import the render, put it on a new video track at its record frame, mark its provenance."""
        output = Path(result["output"])
        start, stop = int(result["start"]), int(result["stop"])
        frames = stop - start
        project = self._project()
        timeline = self._timeline()
        pool = project.GetMediaPool()
        imported = pool.ImportMedia([{"FilePath": str(output)}])
        if not imported:
            raise HostError(f"Resolve did not import {output}; check that the file exists and its codec is supported")
        media_item = imported[0]
        if not timeline.AddTrack("video"):
            raise HostError("Resolve refused to add a video track; unlock the timeline and try again")
        track = int(timeline.GetTrackCount("video"))
        record = shot.record_offset + shot.record_frame_for(start)
        appended = pool.AppendToTimeline([{
            "mediaPoolItem": media_item, "startFrame": 0, "endFrame": frames - 1, "mediaType": 1,
            "trackIndex": track, "recordFrame": record,
        }])
        if not appended:
            raise HostError(f"Resolve did not place {output.name} on V{track} at frame {record}")
        placed = appended[0]
        provenance = {"mytalk": {"render": str(output), "sidecar": result.get("sidecar"), "version": result.get("version"),
                                 "job_id": result.get("job_id"), "source_clip": str(shot.video),
                                 "source_range": [start, stop]}}
        version = result.get("version")
        title = f"MyTalk v{int(version):03d}" if version else "MyTalk"
        note = f"lip-sync of {shot.video.name} frames {start}-{stop}; report {Path(str(result.get('sidecar'))).name}"
        placed.AddMarker(0, MARKER_COLOR, title, note, 1, json.dumps(provenance))
        duration = int(placed.GetDuration())
        warning = "" if duration == frames else f" (Resolve placed {duration} of {frames} frames: check the clip's end)"
        look = self._copy_look(shot, record, frames, placed)
        return Placement(f"placed on V{track} at {shot.record_timecode_for(start)} in Resolve{look}{warning}",
                         record - shot.record_offset, f"V{track}")

    def _copy_look(self, shot: Shot, record: int, frames: int, placed: Any) -> str:
        """Give the fix the shot's Inspector settings and grade, as the editor sees the shot: the fix is rendered
        from the ungraded, unframed source. Returns what the status line says of it ("" when all was copied)."""
        covered = next((item for (media, first, end), item in reversed(self._shot_items.items())
                        if media == str(shot.video) and first <= record and record + frames <= end), None)
        if covered is None:
            return "; the shot's grade and Inspector settings were not copied (its clip was not read): copy them"
        properties = covered.GetProperty()
        refused = [key for key in INSPECTOR_PROPERTIES if isinstance(properties, dict) and key in properties
                   and not placed.SetProperty(key, properties[key])]
        graded = bool(covered.CopyGrades([placed]))
        notes = ([] if graded else ["its grade (copy it on the Color page)"]) + \
            ([f"Inspector {', '.join(refused)}"] if refused else [])
        return f"; not copied from the shot: {'; '.join(notes)}" if notes else ", with the shot's grade and framing"


# -- connecting to Resolve --------------------------------------------------------------------------


def _module_candidates() -> list[Path]:
    """Where Resolve installs `DaVinciResolveScript.py`, per its scripting README."""
    env = os.environ.get("RESOLVE_SCRIPT_API")
    candidates = [Path(env) / "Modules"] if env else []
    if sys.platform == "darwin":
        candidates.append(Path("/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting/Modules"))
    elif sys.platform.startswith("win"):
        program_data = os.environ.get("PROGRAMDATA", "C:\\ProgramData")
        candidates.append(Path(program_data) / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Developer"
                          / "Scripting" / "Modules")
    else:
        candidates += [Path("/opt/resolve/Developer/Scripting/Modules"),
                       Path("/home/resolve/Developer/Scripting/Modules")]
    return candidates


def load_scripting_module() -> ModuleType:
    """Import `DaVinciResolveScript` from Resolve's install, without editing `sys.path`."""
    for folder in _module_candidates():
        path = folder / "DaVinciResolveScript.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("DaVinciResolveScript", path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise HostError("DaVinci Resolve's scripting module was not found; install Resolve, or set RESOLVE_SCRIPT_API "
                    "to its Developer/Scripting folder")


def connect() -> ResolveHost:
    """The running Resolve, via `DaVinciResolveScript.scriptapp("Resolve")`."""
    module = load_scripting_module()
    return ResolveHost(module.scriptapp("Resolve"))


def main(argv: list[str] | None = None) -> int:
    """`python -m mytalk.plugin.hosts.resolve`: the panel on Resolve's current shot (run by the launcher)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from mytalk.core.errors import MyTalkError
    from mytalk.plugin.hosts import attach
    from mytalk.ui.panel import create_panel

    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv[:1]))
    panel = create_panel()
    panel.setWindowTitle("MyTalk — DaVinci Resolve")
    try:
        host = connect()
        attach(panel, host, host.current_shot())
    except MyTalkError as error:
        QMessageBox.warning(panel, "MyTalk", str(error))
    panel.resize(1280, 800)
    panel.show()
    try:
        return int(app.exec())
    finally:
        panel.shutdown()


def launcher_source(python: str | None = None) -> str:
    """The Workspace ▸ Scripts launcher, with the interpreter that has MyTalk installed filled in."""
    from importlib.resources import files

    text = (files("mytalk.resources") / "resolve_launcher.py").read_text(encoding="utf-8")
    return text.replace("@MYTALK_PYTHON@", python or sys.executable)


def default_scripts_folder() -> Path:
    """Resolve's per-user Scripts/Utility folder, where Workspace ▸ Scripts looks."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility"
    if sys.platform.startswith("win"):
        appdata = Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))
        return appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts" / "Utility"
    return home / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"


def install_launcher(folder: Path | None = None, python: str | None = None) -> Path:
    """Write `MyTalk.py` into Resolve's Scripts folder (never over an existing file of another name)."""
    target_folder = folder or default_scripts_folder()
    target_folder.mkdir(parents=True, exist_ok=True)
    target = target_folder / "MyTalk.py"
    target.write_text(launcher_source(python), encoding="utf-8")
    return target


if __name__ == "__main__":
    sys.exit(main())
