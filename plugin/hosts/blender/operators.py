"""The sequencer operators: Commit (render and place), Cancel, Preview (the Qt panel).

Commit follows Blender's own render operator: invoked from the UI it is modal (a timer polls the
MyTalk runtime child, the progress shows in the status bar and the panel, Esc or the panel's Cancel
stops it); executed from a script or in background mode it blocks until the job ends, so a script
can act on its result. Both paths poll the same `RuntimeJob` and place the result the same way.
"""

from __future__ import annotations

import os
import time
from typing import Any

import bpy  # type: ignore[import-not-found]

from . import child, notes, placement
from .marks import Refused
from .preferences import preferences
from .shot import BlenderShot, all_strips, read_shot

POLL_INTERVAL_S = 0.1
"""How often the modal operator reads the runtime's events (the runtime sends at most 10 a second)."""


class MyTalkJobStatus(bpy.types.PropertyGroup):  # type: ignore[misc]
    """The running commit as the panel draws it (window-manager data: never saved in the .blend)."""

    running: bpy.props.BoolProperty(default=False)  # type: ignore[valid-type]
    progress: bpy.props.FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")  # type: ignore[valid-type]
    text: bpy.props.StringProperty(default="")  # type: ignore[valid-type]
    cancel_requested: bpy.props.BoolProperty(default=False)  # type: ignore[valid-type]
    last_result: bpy.props.StringProperty(default="")  # type: ignore[valid-type]
    panel_pid: bpy.props.IntProperty(default=0)  # type: ignore[valid-type]
    """Process id of the last panel Preview opened (0: none)."""


def _tag_redraw(context: Any) -> None:
    for window in getattr(context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()


def _status(context: Any, text: str | None) -> None:
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        workspace.status_text_set(text)


class _CommitRun:
    """One commit from start to placement; shared by the modal and the blocking paths."""

    def __init__(self, context: Any) -> None:
        prefs = preferences(context)
        self.scene = context.scene
        self.shot: BlenderShot = read_shot(context.scene)
        self.engine, self.codec = prefs.engine, prefs.codec
        self.folder = prefs.resolved_render_folder()
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as error:
            raise Refused(f"cannot create the render folder {self.folder} ({error.strerror}); choose another in "
                          "Preferences ▸ Add-ons ▸ MyTalk") from None
        request = child.render_request(video=self.shot.video, line=self.shot.line, folder=self.folder,
                                       start=self.shot.source.start, stop=self.shot.source.stop,
                                       audio_in=self.shot.audio_in, engine=self.engine, codec=self.codec,
                                       extra=self.shot.channel_fields())
        self.job = child.RuntimeJob(bpy.path.abspath(prefs.executable), request, env=child.environment())

    def poll(self, context: Any) -> child.JobState:
        state = self.job.poll()
        status = context.window_manager.mytalk_job
        status.progress, status.text = state.fraction, state.describe()
        return state

    def finish(self, operator: Any, context: Any) -> set[str]:
        """Close the runtime, then place the result or say why there is none."""
        self.job.close()
        state = self.job.state
        if not state.finished:  # stopped from Blender's side (an exception, the file closing) before it ended
            state.cancelled = state.finished = True
        status = context.window_manager.mytalk_job
        status.running, status.cancel_requested, status.progress = False, False, 0.0
        _status(context, None)
        if state.cancelled:
            status.text = "MyTalk: cancelled; nothing was written"
            operator.report({"WARNING"}, status.text)
            return {"CANCELLED"}
        if state.result is None:
            status.text = f"MyTalk: {state.error or 'the render failed'}"
            operator.report({"ERROR"}, status.text)
            return {"CANCELLED"}
        source = all_strips(self.scene.sequence_editor).get(self.shot.strip_name)
        if source is None:
            status.text = f"MyTalk: the strip {self.shot.strip_name!r} is gone; the render is {state.result['output']}"
            operator.report({"ERROR"}, status.text)
            return {"CANCELLED"}
        properties = placement.provenance(self.shot, state.result, engine=self.engine,
                                          mytalk_version=state.mytalk_version)
        try:
            placed = placement.place(self.scene, source, self.shot, state.result, properties)
        except Refused as error:
            status.text = f"MyTalk: {error}; the render is {state.result['output']}"
            operator.report({"ERROR"}, status.text)
            return {"CANCELLED"}
        told = notes.result_notes(state.result)
        more = f"; {len(told)} note{'s' if len(told) != 1 else ''} in the Info log" if told else ""
        status.text = status.last_result = f"MyTalk: {placed.description}{more}"
        operator.report({"INFO"}, status.text)
        for note in told:  # what the command line prints after "wrote ...": faceless frames, the job's warnings
            operator.report({"WARNING"}, f"MyTalk: {note}")
        return {"FINISHED"}


class MYTALK_OT_commit(bpy.types.Operator):  # type: ignore[misc]
    """Render the marked range of the active movie strip with the line, and place the fix above it"""

    bl_idname = "mytalk.commit"
    bl_label = "Commit"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return context.scene is not None and context.scene.sequence_editor is not None \
            and not context.window_manager.mytalk_job.running

    def _start(self, context: Any) -> _CommitRun | None:
        status = context.window_manager.mytalk_job
        try:
            run = _CommitRun(context)
        except Refused as error:
            status.text = f"MyTalk: {error}"
            self.report({"ERROR"}, status.text)
            return None
        except OSError as error:
            status.text = f"MyTalk: could not start MyTalk ({error}); check its path in Preferences ▸ Add-ons ▸ MyTalk"
            self.report({"ERROR"}, status.text)
            return None
        status.running, status.cancel_requested, status.progress = True, False, 0.0
        status.text = f"MyTalk: rendering {run.shot.strip_name} frames {run.shot.scene_range.start}-" \
                      f"{run.shot.scene_range.stop - 1} ({run.shot.scene_range.source})"
        return run

    def execute(self, context: Any) -> set[str]:
        """Blocking: for scripts and background mode, where no event loop would drive a modal."""
        run = self._start(context)
        if run is None:
            return {"CANCELLED"}
        wm = context.window_manager
        wm.progress_begin(0, 1000)
        try:
            while not run.poll(context).finished:
                if wm.mytalk_job.cancel_requested:
                    run.job.cancel()
                    wm.mytalk_job.cancel_requested = False
                wm.progress_update(int(run.job.state.fraction * 1000))
                time.sleep(POLL_INTERVAL_S)
        except BaseException:
            run.job.cancel()
            run.finish(self, context)
            raise
        finally:
            wm.progress_end()
        return run.finish(self, context)

    def invoke(self, context: Any, event: Any) -> set[str]:
        # Instance state of the modal run (not class annotations: Blender reads those as properties).
        self._run: _CommitRun | None = self._start(context)
        if self._run is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_INTERVAL_S, window=context.window)
        wm.progress_begin(0, 1000)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: Any, event: Any) -> set[str]:
        run: _CommitRun | None = getattr(self, "_run", None)
        wm = context.window_manager
        if run is None:
            return {"CANCELLED"}
        escape = event.type == "ESC" and event.value == "PRESS"
        if escape or wm.mytalk_job.cancel_requested:
            wm.mytalk_job.cancel_requested = False
            run.job.cancel()
        if event.type != "TIMER" and not escape:
            return {"PASS_THROUGH"}
        state = run.poll(context)
        wm.progress_update(int(state.fraction * 1000))
        _status(context, f"{state.describe()} (Esc to cancel)")
        _tag_redraw(context)
        if not state.finished:
            return {"RUNNING_MODAL"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        result = run.finish(self, context)
        _tag_redraw(context)
        return result

    def cancel(self, context: Any) -> None:
        """Blender is closing the operator (the file is being closed): stop the job, leave no file."""
        run: _CommitRun | None = getattr(self, "_run", None)
        if run is not None and not run.job.state.finished:
            run.job.cancel()
            run.finish(self, context)


class MYTALK_OT_cancel(bpy.types.Operator):  # type: ignore[misc]
    """Stop the running MyTalk commit; nothing is written"""

    bl_idname = "mytalk.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return bool(context.window_manager.mytalk_job.running)

    def execute(self, context: Any) -> set[str]:
        context.window_manager.mytalk_job.cancel_requested = True
        return {"FINISHED"}


class MYTALK_OT_preview(bpy.types.Operator):  # type: ignore[misc]
    """Open the MyTalk panel on the marked range and the line, to preview and tune before committing"""

    bl_idname = "mytalk.preview"
    bl_label = "Preview in MyTalk"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return context.scene is not None and context.scene.sequence_editor is not None

    def execute(self, context: Any) -> set[str]:
        prefs = preferences(context)
        try:
            shot = read_shot(context.scene)
            process = child.start_panel(bpy.path.abspath(prefs.executable), shot.video, shot.line, shot.source.start,
                                        shot.source.stop, shot.audio_in, prefs.resolved_render_folder(),
                                        line_channels=shot.line_channels, guide_channels=shot.guide_channels)
        except Refused as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"could not start MyTalk ({error}); check its path in Preferences ▸ Add-ons ▸ MyTalk")
            return {"CANCELLED"}
        context.window_manager.mytalk_job.panel_pid = process.pid
        self.report({"INFO"}, f"MyTalk: opening the panel on {shot.strip_name} frames {shot.source.start}-"
                              f"{shot.source.stop - 1} of {shot.video.name}")
        return {"FINISHED"}


CLASSES = (MyTalkJobStatus, MYTALK_OT_commit, MYTALK_OT_cancel, MYTALK_OT_preview)

__all__ = ["CLASSES", "MYTALK_OT_cancel", "MYTALK_OT_commit", "MYTALK_OT_preview", "MyTalkJobStatus"]
