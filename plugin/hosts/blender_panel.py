"""`mytalk blender panel VIDEO --audio LINE --in N --out M --audio-in X [--audio-channels P] [--guide-channels P]`:
the Preview of Blender's add-on.

Blender's Python has no Qt and no MyTalk, so the add-on's Preview button starts this command as a
detached child process: MyTalk's own window, opened on the strip's file with Blender's marks
(clip-relative frames, out exclusive), the line slipped as it sits in the sequencer, and the channels picked
in the add-on's sidebar. The editor previews and tunes there; the add-on's Commit renders and places the result
in Blender.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mytalk.core.errors import UsageError
from mytalk.core.timecode import parse_offset_seconds

if TYPE_CHECKING:
    from mytalk.plugin.standalone import StandaloneWindow
    from mytalk.ui.channels_box import ChannelsBox


def preselect(box: ChannelsBox, text: str | None, path: Path, what: str) -> str | None:
    """Set the panel's channel box to the pick `text` made in Blender's sidebar; None when done (or nothing was
    picked), else the line that says why not: a pick the file does not hold (as the job words it), or one the
    box does not offer (it offers one channel, or a stereo stream's pair)."""
    if not text:
        return None
    from mytalk.core.errors import MyTalkError
    from mytalk.core.media.channel_pick import pick_channels, sound_channels

    try:
        channels = sound_channels(path)
        numbers = [channel.number for channel in pick_channels(text, path, channels, what=what).channels]
    except MyTalkError as error:
        return str(error)
    if numbers == [channel.number for channel in channels] and len({c.stream_index for c in channels}) == 1:
        offered: str | None = None  # every channel of the file's one stream, in order: what no pick hears
    else:
        offered = str(numbers[0]) if len(numbers) == 1 else "-".join(map(str, numbers))
    if box.choose(offered):
        return None
    return (f"{what} {text}: the panel offers one channel, or a stereo stream's pair, of {path.name}; pick them in "
            f"the box (the add-on's Commit still renders {text})")


def open_window(video: Path, audio: Path, start: int, stop: int, audio_in: str | None = None,
                render_folder: Path | None = None, *, start_runtime: bool = True, line_channels: str | None = None,
                guide_channels: str | None = None) -> StandaloneWindow:
    """The standalone window on `video` frames `[start, stop)` with `audio` slipped by `audio_in`
    (frames or seconds into the line at the in point) and the channels picked of each (`preselect`; a pick the
    panel cannot take is said in its banner); a QApplication must exist."""
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
        refused = [preselect(panel.guide_channels_box, guide_channels, video, "--guide-channels")]
        if panel.load_line(audio):
            refused.append(preselect(panel.line_channels_box, line_channels, audio, "--audio-channels"))
            if audio_in:
                # A fresh line starts at audio_in 0; a nudge moves the line later, i.e. lowers audio_in.
                panel.reset_offset()
                panel.nudge_seconds(-parse_offset_seconds(audio_in, panel.transport.fps, what="--audio-in"))
        reasons = [reason for reason in refused if reason is not None]
        if reasons:
            panel.show_error("; ".join(reasons))  # one banner: the second would hide the first
    return window


def run_panel(video: Path, audio: Path, start: int, stop: int, audio_in: str | None = None,
              render_folder: Path | None = None, *, line_channels: str | None = None,
              guide_channels: str | None = None) -> int:
    """Open the window and run until it closes; returns its exit status."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["mytalk"])
    app.setApplicationName("MyTalk")
    window = open_window(video, audio, start, stop, audio_in, render_folder, line_channels=line_channels,
                         guide_channels=guide_channels)
    window.show()
    return int(app.exec())


__all__ = ["open_window", "run_panel"]
