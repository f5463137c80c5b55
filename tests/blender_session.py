"""Runs inside Blender (`.venv-blender/bin/python`, bpy as a module, headless): the user's path through
MyTalk's sequencer extension, for `tests/test_hosts_blender.py`.

Usage: python blender_session.py SPEC.json. SPEC names the clip, the line, the render folder, the
frames folder and where to write the findings (JSON). The extension must already be installed in
the `user_default` repository of the Blender config folder that `XDG_CONFIG_HOME` points at (as
`mytalk blender install` leaves it); this script only enables it, as a user does in Preferences.

The script records what it sees and asserts nothing: the test judges the findings, so a failure
names the number that was wrong.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import bpy  # type: ignore[import-not-found]

MODULE = "bl_ext.user_default.mytalk"


def movie_scene(spec: dict[str, Any]) -> tuple[Any, Any]:
    """A 25 fps scene: the clip on channel 2 starting at scene frame `clip_frame_start`, trimmed by
    `clip_trim` frames at its head; its own sound on channel 1; the line on channel 3 (over the marks,
    so the fix must skip it); a colour strip on channel 5 away from the marks."""
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 512, 512, 100
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    clip = strips.new_movie(name="shot", filepath=spec["video"], channel=2, frame_start=spec["clip_frame_start"])
    clip.frame_offset_start = spec["clip_trim"]
    own_sound = strips.new_sound(name="shot sound", filepath=spec["video"], channel=1,
                                 frame_start=spec["clip_frame_start"])
    line = strips.new_sound(name="line", filepath=spec["line"], channel=3, frame_start=spec["line_frame_start"])
    colour = strips.new_effect(name="slate", type="COLOR", channel=5, frame_start=1, length=10)
    for strip in strips:
        strip.select = strip in (clip, own_sound, line)
    editor.active_strip = clip
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = spec["mark_in"], spec["mark_out_inclusive"]
    scene.frame_start, scene.frame_end = 1, int(clip.frame_final_end)
    del colour
    return scene, clip


def commit(findings: dict[str, Any], key: str) -> None:
    """Run the add-on's Commit as a script does (its blocking path) and keep what it said."""
    try:
        result, raised = sorted(bpy.ops.mytalk.commit()), ""
    except RuntimeError as error:  # bpy.ops raises what an operator reports as ERROR
        result, raised = ["ERROR"], str(error)
    findings[key] = {"result": result, "raised": raised, "status": bpy.context.window_manager.mytalk_job.text}


def refusals(scene: Any, clip: Any, findings: dict[str, Any]) -> None:
    """Each of these must be refused with a message, placing nothing."""
    editor = scene.sequence_editor
    before = len(editor.strips_all)
    scene.render.fps = 24
    commit(findings, "refused_fps")
    scene.render.fps = 25
    editor.active_strip = editor.strips_all["line"]
    commit(findings, "refused_no_movie")
    editor.active_strip = clip
    saved = scene.frame_preview_start, scene.frame_preview_end
    scene.frame_preview_start, scene.frame_preview_end = 900, 950
    commit(findings, "refused_outside")
    scene.frame_preview_start, scene.frame_preview_end = saved
    findings["strips_added_by_refusals"] = len(editor.strips_all) - before


def channels_refused(scene: Any, findings: dict[str, Any]) -> None:
    """A channel the clip's sound does not have, typed in the sidebar: the runtime refuses the job, and nothing is
    placed."""
    editor = scene.sequence_editor
    before = len(editor.strips_all)
    scene.mytalk.guide_channels = "7"
    commit(findings, "refused_channels")
    scene.mytalk.guide_channels = ""
    findings["strips_added_by_channels_refused"] = len(editor.strips_all) - before


def preview(findings: dict[str, Any]) -> None:
    """Preview starts MyTalk's panel detached; record its command line, then stop it (it is this process's child)."""
    bpy.ops.mytalk.preview()
    pid = bpy.context.window_manager.mytalk_job.panel_pid
    command = b""
    for _ in range(100):  # /proc may show an empty command line for a moment while the child starts
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        if command:
            break
        time.sleep(0.05)
    findings["preview_command"] = command.decode().split("\0")[:-1]
    if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still running, as it should be: close it
        os.kill(pid, signal.SIGTERM)
        findings["preview_exit"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    else:
        findings["preview_exit"] = "exited by itself"


def mixdown(scene: Any, spec: dict[str, Any], name: str) -> str:
    """Blender's own mix of every sound strip over the marks (Render ▸ Render Audio), 48 kHz mono 16-bit WAV,
    into the spec's frames folder; the scene's frame range is put back."""
    saved = scene.frame_start, scene.frame_end
    scene.frame_start, scene.frame_end = spec["mark_in"], spec["mark_out_inclusive"]
    path = Path(spec["frames"]).parent / f"{name}.wav"
    bpy.ops.sound.mixdown(filepath=str(path), container="WAV", codec="PCM", format="S16", mixrate=48000,
                          channels="MONO")
    scene.frame_start, scene.frame_end = saved
    return str(path)


def heard_over_the_marks(scene: Any, spec: dict[str, Any], findings: dict[str, Any]) -> None:
    """What plays over the marks after the commit, and, to show the mix would tell, with the fix's sound strip
    unmuted for a moment."""
    placed = [s for s in scene.sequence_editor.strips_all if "mytalk_source_file" in s.keys() and s.type == "SOUND"]
    findings["mix_after"] = mixdown(scene, spec, "mix_after")
    if placed and placed[0].mute:
        placed[0].mute = False
        findings["mix_unmuted"] = mixdown(scene, spec, "mix_unmuted")
        placed[0].mute = True


def strip_record(strip: Any) -> dict[str, Any]:
    return {"name": strip.name, "type": strip.type, "channel": strip.channel, "mute": bool(strip.mute),
            "frame_final_start": strip.frame_final_start, "frame_final_end": strip.frame_final_end,
            "frame_final_duration": strip.frame_final_duration,
            "filepath": bpy.path.abspath(strip.filepath) if strip.type == "MOVIE" else bpy.path.abspath(strip.sound.filepath),
            "properties": {k: strip[k] for k in strip.keys() if k.startswith("mytalk_")}}


def render(scene: Any, spec: dict[str, Any], frames: tuple[int, int] | None = None, folder: Path | None = None) -> None:
    """Blender renders the sequencer to PNG, untone-mapped: view transform Standard, no look, exposure 0,
    gamma 1, so an sRGB 8-bit strip comes out as its decoded pixels. Frames `frames` (first, last), by default
    the spec's, into `folder`, by default the spec's."""
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
    scene.display_settings.display_device = "sRGB"
    scene.render.use_sequencer = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.render.use_file_extension = True
    scene.frame_start, scene.frame_end = frames or (spec["render_first"], spec["render_last"])
    scene.render.filepath = str((folder or Path(spec["frames"])) / "frame_####")
    bpy.ops.render.render(animation=True, write_still=False)


def graded(scene: Any, clip: Any, spec: dict[str, Any], findings: dict[str, Any]) -> None:
    """The shot's colour settings changed as an editor changes them in the sequencer (Strip ▸ Color: saturation
    and multiply), and the line's strip muted, then committed again: Blender renders frames of the range with the new fix on top, then with
    every fix muted (the shot itself). (Strip modifiers are not made here: bpy 5.0.1 as a module crashes in
    `Strip.modifiers.new`.)"""
    clip.color_saturation, clip.color_multiply = 0.5, 1.15
    editor = scene.sequence_editor
    earlier = [s for s in editor.strips_all if "mytalk_source_file" in s.keys()]
    for strip in editor.strips_all:  # as the editor picks them again: the shot (active), its sound and the line
        strip.select = strip.name in (clip.name, "shot sound", "line")
    editor.active_strip = clip
    editor.strips_all["line"].mute = True  # the line's strip silenced: the fix's sound strip is the line heard now
    # A lower third over the range on the first free channel above the earlier fix: the new fix must go above it.
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    title = strips.new_effect(name="lower third", type="COLOR", channel=6, frame_start=spec["mark_in"] - 5,
                              length=spec["mark_out_inclusive"] - spec["mark_in"] + 10)
    commit(findings, "graded_commit")
    findings["lower_third_channel"] = int(title.channel)
    title.mute = True  # so the renders below compare the fix with the shot alone
    new = [s for s in editor.strips_all if "mytalk_source_file" in s.keys() and s not in earlier]
    movie = next((s for s in new if s.type == "MOVIE"), None)
    findings["graded_placed"] = [strip_record(s) for s in new]
    if movie is None:
        return
    findings["graded_settings"] = {"saturation": movie.color_saturation, "multiply": movie.color_multiply}
    frames = (spec["graded_first"], spec["graded_last"])
    for strip in earlier:
        strip.mute = True
    render(scene, spec, frames, Path(spec["graded_frames"]) / "fix")
    movie.mute = True
    render(scene, spec, frames, Path(spec["graded_frames"]) / "shot")
    findings["graded_fix_file"] = bpy.path.abspath(movie.filepath)


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    findings: dict[str, Any] = {"blender": bpy.app.version_string}
    try:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.ops.preferences.addon_enable(module=MODULE)
        prefs = bpy.context.preferences.addons[MODULE].preferences
        findings["default_executable"] = prefs.executable
        prefs.render_folder, prefs.engine, prefs.codec = spec["render_folder"], spec["engine"], spec["codec"]
        scene, clip = movie_scene(spec)
        refusals(scene, clip, findings)
        channels_refused(scene, findings)
        scene.mytalk.line_channels, scene.mytalk.guide_channels = spec["line_channels"], spec["guide_channels"]
        preview(findings)
        findings["mix_before"] = mixdown(scene, spec, "mix_before")
        commit(findings, "commit")
        heard_over_the_marks(scene, spec, findings)
        editor = scene.sequence_editor
        findings["clip"] = strip_record(clip)
        findings["placed"] = [strip_record(s) for s in editor.strips_all if "mytalk_source_file" in s.keys()]
        render(scene, spec)
        findings["rendered"] = sorted(p.name for p in Path(spec["frames"]).glob("frame_*.png"))
        graded(scene, clip, spec, findings)
    except Exception:  # noqa: BLE001 - the test reads the traceback from the findings
        findings["exception"] = traceback.format_exc()
    Path(spec["findings"]).write_text(json.dumps(findings, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
