"""The add-on's preferences and per-scene settings, and their defaults.

The MyTalk to run defaults to the one that built this copy of the extension: `mytalk blender
install` writes its path into `mytalk_install.json` beside this file. Preferences ▸ Add-ons ▸
MyTalk overrides it, and so does the `MYTALK_EXECUTABLE` environment variable (a studio's launcher,
a test).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import bpy  # type: ignore[import-not-found]

INSTALL_RECORD = "mytalk_install.json"
RENDERS_FOLDER_NAME = "MyTalk Renders"
ENGINES = (("classic", "Classic", "Learns the actor from the clip's own footage; no trained weights"),
           ("mytalk", "MyTalk (neural)", "The neural engine; needs models trained with 'mytalk train'"),
           ("copy", "Copy (conform check)", "Writes the range unchanged, to check a round trip"))
CODECS = (("prores", "ProRes 422 HQ (.mov)", "The mezzanine most editors accept"),
          ("prores4444", "ProRes 4444 (.mov)", "ProRes with more colour detail"),
          ("dnxhr", "DNxHR HQX (.mxf)", "Avid's mezzanine"),
          ("ffv1", "FFV1 (.mkv, lossless)", "Lossless: the fix is bit-exact"))


def install_record() -> dict[str, Any]:
    """What `mytalk blender install` recorded: {"mytalk": executable, "python": ..., "version": ...}."""
    path = Path(__file__).with_name(INSTALL_RECORD)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def default_executable() -> str:
    return os.environ.get("MYTALK_EXECUTABLE") or str(install_record().get("mytalk", ""))


def default_render_folder() -> Path:
    """`MyTalk Renders` beside the saved .blend, else in the user's videos folder (never the clip's
    folder: camera cards and shared media volumes are often read-only)."""
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//")) / RENDERS_FOLDER_NAME
    videos = Path.home() / ("Movies" if sys.platform == "darwin" else "Videos")
    return videos / RENDERS_FOLDER_NAME


class MyTalkPreferences(bpy.types.AddonPreferences):  # type: ignore[misc]
    """Preferences ▸ Add-ons ▸ MyTalk."""

    bl_idname = __package__

    executable: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="MyTalk", subtype="FILE_PATH", default=default_executable(),
        description="The mytalk program (or a Python that has MyTalk installed) that renders the fixes")
    render_folder: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Render Folder", subtype="DIR_PATH", default="",
        description="Where commits are written; empty: 'MyTalk Renders' beside the .blend, or in your videos folder")
    engine: bpy.props.EnumProperty(name="Engine", items=ENGINES, default="classic")  # type: ignore[valid-type]
    codec: bpy.props.EnumProperty(name="Codec", items=CODECS, default="prores")  # type: ignore[valid-type]

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.prop(self, "executable")
        layout.prop(self, "render_folder")
        row = layout.row()
        row.prop(self, "engine")
        row.prop(self, "codec")

    def resolved_render_folder(self) -> Path:
        return Path(bpy.path.abspath(self.render_folder)) if self.render_folder else default_render_folder()


class MyTalkSceneSettings(bpy.types.PropertyGroup):  # type: ignore[misc]
    """Per scene: a line file to use when no sound strip is selected, and the channels picked of the line and of
    the clip's own sound (a production recorder's poly take, a camera's inputs: Blender mixes them all)."""

    line_file: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Line File", subtype="FILE_PATH", default="",
        description="The replacement line, used when no sound strip is selected")
    line_offset: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Line Offset", unit="TIME_ABSOLUTE", default=0.0,
        description="Seconds into the line file that land on the first marked frame")
    line_channels: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Line Channels", default="",
        description="The line's channels the mouth follows and the render carries, numbered from 1 (3, 1-2) or by "
                    "the recorder's track name (boom); empty: all of them")
    guide_channels: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Guide Channels", default="",
        description="The channels of the clip's own sound that are the actor's microphone, heard by the guide and "
                    "the actor's learning (3, boom); empty: the clip's first stream with sound")


def preferences(context: Any) -> MyTalkPreferences:
    return context.preferences.addons[__package__].preferences


__all__ = ["MyTalkPreferences", "MyTalkSceneSettings", "default_render_folder", "install_record", "preferences"]
