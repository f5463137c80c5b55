"""The MyTalk tab of the sequencer's sidebar (View ▸ Sidebar, or N, in the Sequencer)."""

from __future__ import annotations

from typing import Any

import bpy  # type: ignore[import-not-found]

from .marks import Refused
from .shot import read_shot


class SEQUENCER_PT_mytalk(bpy.types.Panel):  # type: ignore[misc]
    """Shows what a commit would fix (strip, marks, line), Preview and Commit, and a running job."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "MyTalk"
    bl_label = "MyTalk Lip-Sync"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return context.scene is not None

    def draw(self, context: Any) -> None:
        layout = self.layout
        scene = context.scene
        status = context.window_manager.mytalk_job
        box = layout.box()
        try:
            if scene.sequence_editor is None:
                raise Refused("add the shot's movie strip to the sequencer")
            shot = read_shot(scene)
        except Refused as error:
            box.label(text=str(error), icon="ERROR")
        else:
            box.label(text=f"{shot.strip_name}: frames {shot.scene_range.start}-{shot.scene_range.stop - 1}",
                      icon="SEQUENCE")
            box.label(text=f"({shot.scene_range.source}; source {shot.source.start}-{shot.source.stop - 1})")
            line = shot.line_strip or shot.line.name
            box.label(text=f"Line: {line} at {shot.line_offset_s:+.3f} s", icon="SOUND")
        col = layout.column(align=True)
        col.prop(scene.mytalk, "line_file")
        col.prop(scene.mytalk, "line_offset")
        col = layout.column(align=True)
        col.prop(scene.mytalk, "line_channels")
        col.prop(scene.mytalk, "guide_channels")
        row = layout.row(align=True)
        row.operator("mytalk.preview", icon="PLAY")
        row.operator("mytalk.commit", icon="RENDER_ANIMATION")
        if status.running:
            if hasattr(layout, "progress"):  # Blender 4.0+
                layout.progress(factor=status.progress, type="BAR", text=status.text)
            else:
                layout.label(text=status.text)
            layout.operator("mytalk.cancel", icon="CANCEL")
        elif status.text:
            layout.label(text=status.text)


CLASSES = (SEQUENCER_PT_mytalk,)

__all__ = ["CLASSES", "SEQUENCER_PT_mytalk"]
