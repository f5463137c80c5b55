"""`mytalk blender panel VIDEO --audio LINE --in N --out M --audio-in X`: the Preview of Blender's add-on.

Blender's Python has no Qt and no MyTalk, so the add-on's Preview button starts this command as a
detached child process: MyTalk's own window, opened on the strip's file with Blender's marks
(clip-relative frames, out exclusive) and the line slipped as it sits in the sequencer. The
editor previews and tunes there; the add-on's Commit renders and places the result in Blender.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mytalk.core.errors import UsageError
from mytalk.core.timecode import parse_offset_seconds

if TYPE_CHECKING:
    from mytalk.plugin.standalone import StandaloneWindow


def open_window(video: Path, audio: Path, start: int, stop: int, audio_in: str | None = None,
                render_folder: Path | None = None, *, start_runtime: bool = True) -> StandaloneWindow:
    """The standalone window on `video` frames `[start, stop)` with `audio` slipped by `audio_in`
    (frames or seconds into the line at the in point); a QApplication must exist."""
    if stop <= start or start < 0:
        raise UsageError(f"blender panel: --in {start} --out {stop} is not a range; the out frame is exclusive")
    from mytalk.plugin.standalone import StandaloneWindow

    window = StandaloneWindow(None, None, start_runtime=start_runtime)
    window.setWindowTitle(f"MyTalk — Blender — {video.name}")
    panel = window.panel
    if panel.load_clip(video, start=start, stop=stop):
        if render_folder is not None:
            # The panel's own commits of this clip go where the add-on's go (remembered for the clip).
            panel.output_folders.choose(video, render_folder)
            panel.set_project(None)
        if panel.load_line(audio) and audio_in:
            # A fresh line starts at audio_in 0; a nudge moves the line later, i.e. lowers audio_in.
            panel.reset_offset()
            panel.nudge_seconds(-parse_offset_seconds(audio_in, panel.transport.fps, what="--audio-in"))
    return window


def run_panel(video: Path, audio: Path, start: int, stop: int, audio_in: str | None = None,
              render_folder: Path | None = None) -> int:
    """Open the window and run until it closes; returns its exit status."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["mytalk"])
    app.setApplicationName("MyTalk")
    window = open_window(video, audio, start, stop, audio_in, render_folder)
    window.show()
    return int(app.exec())


__all__ = ["open_window", "run_panel"]
