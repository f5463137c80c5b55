"""MyTalk for Blender's video sequence editor: a Blender extension (blender_manifest.toml, 4.2+).

This folder is shipped inside the `mytalk` package (`mytalk.plugin.hosts.blender`) only to be
copied into Blender by `mytalk blender install` (or zipped for Install from Disk); it runs inside
Blender's own Python, as `bl_ext.<repository>.mytalk`, and so uses nothing but bpy and the
standard library: MyTalk itself runs as a child process (`child`). Nothing here is imported by
MyTalk.

Sequencer ▸ Sidebar ▸ MyTalk: the active movie strip is the shot, the scene's preview range (else
the first two markers, else the strip) the marks, the selected sound strip (or a chosen file) the
line. Preview opens MyTalk's panel; Commit renders the range and places the fix above the shot.
"""

from __future__ import annotations

import bpy  # type: ignore[import-not-found]

from . import operators, panel, preferences

_CLASSES = (preferences.MyTalkPreferences, preferences.MyTalkSceneSettings, *operators.CLASSES, *panel.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mytalk = bpy.props.PointerProperty(type=preferences.MyTalkSceneSettings)
    bpy.types.WindowManager.mytalk_job = bpy.props.PointerProperty(type=operators.MyTalkJobStatus)


def unregister() -> None:
    del bpy.types.WindowManager.mytalk_job
    del bpy.types.Scene.mytalk
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
