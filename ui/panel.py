"""The MyTalk panel: mark a range, pick the line, preview against the original, commit a version.

A dockable QWidget that every host embeds (the standalone window, the timeline round trip, the
DaVinci Resolve launcher). It is an adapter: the transport is `mytalk.ui.transport.Transport`,
frames come from the core's reader, and all rendering happens in the runtime child process
(`RuntimeClient`), so a crash in an engine costs a restarted runtime, never the host.

The widget is a thin Qt layer (napari's `_qt` split): layout, signals, painting and file I/O live
here; what a request holds, what a runtime event changes, which frame B shows and which file
plays are decided by `mytalk.ui.panel_model.PanelModel`, without Qt. Keys are looked up in
`mytalk.ui.keymap`, and `mytalk.ui.player.Player` runs playback against the sound clock.

Editing habits, as in Avid, Premiere and Resolve (keys work wherever the focus is in the panel,
except inside text and number fields):

    I / O            mark in / out at the playhead        Alt+I, Alt+O, Alt+X  clear in, out, both
    Space            play / stop                          J / K / L            shuttle back, stop, forward
    K+J, K+L         step one frame back / forward        Left / Right         step one frame
    Shift+Left/Right step one second                      Up / Down            go to in / out
    Home / End       first / last frame                   , / .                slip the line one frame
    Shift+, / .      slip the line 10 ms                  \\                    toggle A/B;  | wipe
    P                preview the marked range
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from mytalk.core.errors import MyTalkError
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media.audio import decode_audio
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.runtime.protocol import sync_request_to_json
from mytalk.ui.decoder import FrameDecoder
from mytalk.ui.error_banner import ErrorBanner
from mytalk.ui.jobs import JobEntry, JobListWidget
from mytalk.ui.keymap import Command, command_for
from mytalk.ui.panel_model import JobView, PanelModel, Poster, PreviewRange, range_label
from mytalk.ui.panel_model.files import clip_filter, drop_target, line_button_text, line_filter
from mytalk.ui.panel_model.request import NOT_READY_TIP
from mytalk.ui.panel_model.slip import NUDGE_S
from mytalk.ui.panel_model.status import offers_restart, restarted_message, runtime_status
from mytalk.ui.panel_model.visemes import viseme_outcome
from mytalk.ui.playback import AudioPlayback
from mytalk.ui.player import Player
from mytalk.ui.runtime_client import RuntimeClient
from mytalk.ui.scrub_bar import ScrubBar
from mytalk.ui.settings import SettingsPanel
from mytalk.ui.tasks import run_in_background
from mytalk.ui.timecode_display import TimecodeDisplay
from mytalk.ui.transport import ClipTiming, Transport
from mytalk.ui.viewer import ViewerWidget
from mytalk.ui.viseme_lane import VisemeLane
from mytalk.ui.viseme_track import TrackKey
from mytalk.ui.waveform import DISPLAY_RATE, WaveformView

log = logging.getLogger("mytalk.ui.panel")

PREVIEW_TIP = "Render a fast proxy of the marked range (P)"


class MyTalkPanel(QWidget):
    """The panel. Hosts use `load_clip`, `load_line`, `set_range`, the `committed` signal and
    `commit_hook` (called with each commit result; its return text is shown on the job)."""

    clipLoaded = Signal(str)
    previewReady = Signal(dict)
    previewFirstFrame = Signal(dict)
    committed = Signal(dict)
    errorShown = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, video: Path | None = None, audio: Path | None = None,
                 start_runtime: bool = True, runtime: RuntimeClient | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MyTalkPanel")
        self.setWindowTitle("MyTalk")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.transport = Transport()
        self.model = PanelModel(self.transport)
        self.info: MediaInfo | None = None
        self.decoder: FrameDecoder | None = None
        self.preview_decoder: FrameDecoder | None = None
        self.commit_hook: Any = None
        self._closed = False

        self.runtime = runtime or RuntimeClient(self)
        self.audio = AudioPlayback(self)
        self.audio.load()  # before any worker thread exists: see AudioPlayback.load
        self.player = Player(self.transport, self.audio, self.model.sound_source, self)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_now)

        self._build()
        self.transport.subscribe(self._on_transport)
        self.runtime.ready.connect(self._on_runtime_ready)
        self.runtime.eventReceived.connect(self._on_event)
        self.runtime.crashed.connect(self._on_runtime_crashed)
        self.runtime.restarted.connect(self._on_runtime_restarted)
        self.runtime.stateChanged.connect(lambda state: self._update_runtime_label())
        self.banner.restartRequested.connect(self.restart_runtime)
        self.jobs.cancelRequested.connect(self.cancel)
        self._update_runtime_label()
        self._update_buttons()
        if start_runtime:
            self.runtime.start()
        if video is not None:
            self.load_clip(Path(video))
        if audio is not None:
            self.load_line(Path(audio))

    # -- state, kept by the model ----------------------------------------------------------------

    @property
    def clip(self) -> Path | None:
        """The open clip (never written to), or None."""
        return self.model.clip

    @property
    def line(self) -> Path | None:
        """The replacement line, or None."""
        return self.model.line

    @property
    def preview(self) -> PreviewRange | None:
        """The finished proxy shown as B over its range, or None."""
        return self.model.preview.proxy

    @property
    def poster(self) -> Poster | None:
        """A rendering preview's first frame, shown as B on its in point until the proxy is done."""
        return self.model.preview.poster

    # -- construction ----------------------------------------------------------------------------

    def _button(self, text: str, tip: str, slot: Any, *, checkable: bool = False) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        # Buttons never take the keyboard focus: Space must stay play/stop, not "press button".
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if slot is not None:
            button.clicked.connect(slot)
        return button

    def _build(self) -> None:
        self.open_clip_button = self._button("Clip…", "Open the clip to fix", self.choose_clip)
        self.open_line_button = self._button("Line…", "Open the replacement line (wav, mp3, …)", self.choose_line)
        self.clip_label = QLabel("No clip", self)
        self.clip_label.setObjectName("clipLabel")
        self.clip_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.runtime_label = QLabel(self)
        self.runtime_label.setObjectName("runtimeLabel")
        top = QHBoxLayout()
        top.addWidget(self.open_clip_button)
        top.addWidget(self.open_line_button)
        top.addWidget(self.clip_label, 1)
        top.addWidget(self.runtime_label)

        self.banner = ErrorBanner(self)

        self.viewer = ViewerWidget(self)
        self.viewer.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.viewer.facePicked.connect(self._on_face_picked)

        self.mode_a = self._button("A", "Original (\\ toggles A/B)", lambda: self.set_view_mode("A"), checkable=True)
        self.mode_b = self._button("B", "MyTalk preview (\\ toggles A/B)", lambda: self.set_view_mode("B"), checkable=True)
        self.mode_wipe = self._button("Wipe", "Wipe between A and B; drag the yellow line (|)",
                                      lambda: self.set_view_mode("wipe"), checkable=True)
        self._modes = QButtonGroup(self)
        for button in (self.mode_a, self.mode_b, self.mode_wipe):
            button.setFixedWidth(48)
            self._modes.addButton(button)
        self.mode_a.setChecked(True)

        t = self.transport
        icon = self.style().standardIcon
        pixmaps = QStyle.StandardPixmap
        self.to_start_button = self._button("", "First frame (Home)", t.go_to_start)
        self.back_button = self._button("", "Step back one frame (Left)", lambda: t.step(-1))
        self.play_button = self._button("", "Play / stop (Space; J/K/L shuttle)", t.toggle_play)
        self.forward_button = self._button("", "Step forward one frame (Right)", lambda: t.step(1))
        self.to_end_button = self._button("", "Last frame (End)", t.go_to_end)
        self._play_icons = (icon(pixmaps.SP_MediaPlay), icon(pixmaps.SP_MediaStop))
        for button, pixmap in ((self.to_start_button, pixmaps.SP_MediaSkipBackward),
                               (self.back_button, pixmaps.SP_MediaSeekBackward),
                               (self.forward_button, pixmaps.SP_MediaSeekForward),
                               (self.to_end_button, pixmaps.SP_MediaSkipForward)):
            button.setIcon(icon(pixmap))
        self.play_button.setIcon(self._play_icons[0])
        self.mark_in_button = self._button("In", "Mark in at the playhead (I)", lambda: t.set_in())
        self.mark_out_button = self._button("Out", "Mark out at the playhead (O)", lambda: t.set_out())
        for button in (self.to_start_button, self.back_button, self.play_button, self.forward_button,
                       self.to_end_button):
            button.setFixedWidth(38)
        for button in (self.mark_in_button, self.mark_out_button):
            button.setFixedWidth(44)

        self.timecode = TimecodeDisplay(self.transport, self)
        controls = QHBoxLayout()
        controls.addWidget(self.mode_a)
        controls.addWidget(self.mode_b)
        controls.addWidget(self.mode_wipe)
        controls.addStretch(1)
        for button in (self.mark_in_button, self.to_start_button, self.back_button, self.play_button,
                       self.forward_button, self.to_end_button, self.mark_out_button):
            controls.addWidget(button)
        controls.addStretch(1)
        controls.addWidget(self.timecode.field)
        controls.addWidget(self.timecode.rate)

        self.scrub_bar = ScrubBar(self.transport, self)
        self.waveform = WaveformView(self.transport, self)
        self.waveform.offsetChanged.connect(self._on_offset_changed)
        self.visemes = VisemeLane(self.waveform, self.track_key, self)

        fps_nudge = self._button("−1 fr", "Slip the line one frame earlier (,)", lambda: self.nudge_frames(-1))
        fps_nudge_plus = self._button("+1 fr", "Slip the line one frame later (.)", lambda: self.nudge_frames(1))
        ms_nudge = self._button("−10 ms", "Slip the line 10 ms earlier (Shift+,)", lambda: self.nudge_seconds(-NUDGE_S))
        ms_nudge_plus = self._button("+10 ms", "Slip the line 10 ms later (Shift+.)", lambda: self.nudge_seconds(NUDGE_S))
        reset = self._button("0", "Line starts at the in point (audio-in 0)", self.reset_offset)
        for button in (fps_nudge, fps_nudge_plus, ms_nudge, ms_nudge_plus, reset):
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.offset_label = QLabel(self)
        self.offset_label.setObjectName("offsetLabel")
        slip = QHBoxLayout()
        slip.addWidget(self.timecode.marks, 1)
        slip.addWidget(QLabel("Slip line", self))
        for button in (fps_nudge, ms_nudge, reset, ms_nudge_plus, fps_nudge_plus):
            slip.addWidget(button)
        slip.addWidget(self.offset_label)

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.viewer, 1)
        left_layout.addLayout(controls)
        left_layout.addWidget(self.scrub_bar)
        left_layout.addWidget(self.waveform)
        left_layout.addWidget(self.visemes)
        left_layout.addLayout(slip)

        self.settings = SettingsPanel(self)
        self.settings.facePointCleared.connect(self._on_face_cleared)
        settings_box = QGroupBox("Settings", self)
        QVBoxLayout(settings_box).addWidget(self.settings)
        self.preview_button = self._button("Preview", PREVIEW_TIP, self.start_preview)
        self.commit_button = self._button("Commit", "Render the final version into the output folder", self.start_commit)
        self.preview_button.setObjectName("previewButton")
        self.commit_button.setObjectName("commitButton")
        self.commit_button.setStyleSheet("QPushButton#commitButton:enabled { font-weight: bold; }")
        actions = QHBoxLayout()
        actions.addWidget(self.preview_button)
        actions.addWidget(self.commit_button)
        self.jobs = JobListWidget(self)
        jobs_box = QGroupBox("Jobs", self)
        QVBoxLayout(jobs_box).addWidget(self.jobs)

        right = QWidget(self)
        right.setMinimumWidth(300)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(settings_box)
        right_layout.addLayout(actions)
        right_layout.addWidget(jobs_box, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self._update_offset_label()

    # -- loading ---------------------------------------------------------------------------------

    def choose_clip(self) -> None:
        start = str(self.clip.parent if self.clip else Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", start, clip_filter())
        if path:
            self.load_clip(Path(path))

    def choose_line(self) -> None:
        start = self.line.parent if self.line else (self.clip.parent if self.clip else Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open replacement line", str(start), line_filter())
        if path:
            self.load_line(Path(path))

    def load_clip(self, path: Path, *, start: int | None = None, stop: int | None = None) -> bool:
        """Open a clip (never written to); optionally mark [start, stop). False, with the error
        shown, when it cannot be read."""
        path = Path(path).expanduser()
        try:
            info = probe(path)
            if info.video is None or info.video.frame_count <= 0:
                raise MyTalkError(f"{path.name}: has no video frames; pick a clip with a picture")
            decoder = FrameDecoder(path, info)
        except MyTalkError as error:
            self.show_error(str(error))
            return False
        self.stop_playback()
        if self.decoder is not None:
            self.decoder.close()
        self._drop_preview()
        self.visemes.clear()
        self.model.set_clip(path)
        self.info, self.decoder = info, decoder
        video = info.video
        self.viewer.set_source_size((video.width, video.height))
        self.viewer.set_face_point(None)
        self.viewer.set_face_boxes([])
        self.settings.set_face_point(None)
        self.settings.set_default_output(path)
        self.transport.set_clip(ClipTiming(video.frame_count, video.fps, video.start_timecode))
        if start is not None and stop is not None:
            self.transport.set_range(start, stop)
            self.transport.seek(start)
        self.clip_label.setText(f"{path.name}   {video.width}×{video.height}   {self.timecode.rate.text()}   "
                                f"{video.frame_count} frames")
        self.clip_label.setToolTip(str(path))
        self.waveform.set_production(None)
        if info.audio:
            run_in_background(lambda: decode_audio(path, DISPLAY_RATE, channels=1).samples[0],
                              self._on_production_audio, self._on_audio_failed, owner=self)
        self._render_now()
        self._update_buttons()
        self.viewer.setFocus()
        self.clipLoaded.emit(str(path))
        return True

    def load_line(self, path: Path) -> bool:
        """Use `path` as the replacement line (any audio file, or a video's sound)."""
        path = Path(path).expanduser()
        if not path.is_file():
            self.show_error(f"replacement line not found: {path}; pick the file again")
            return False
        self.model.set_line(path)
        self.visemes.clear()
        self.open_line_button.setToolTip(f"Replacement line: {path}")
        self.open_line_button.setText(line_button_text(path))
        self.waveform.message = f"decoding {path.name}…"
        self.waveform.set_line(None)
        run_in_background(lambda: decode_audio(path, DISPLAY_RATE, channels=1).samples[0],
                          self._on_line_audio, self._on_audio_failed, owner=self)
        self._update_buttons()
        return True

    def set_range(self, start: int, stop: int) -> None:
        """Mark [start, stop) (stop exclusive) and park the playhead on the in point."""
        self.transport.set_range(start, stop)
        self.transport.seek(start)

    def _on_production_audio(self, samples: Any) -> None:
        self.waveform.set_production(samples)

    def _on_line_audio(self, samples: Any) -> None:
        self.waveform.set_line(samples)

    def _on_audio_failed(self, error: BaseException) -> None:
        self.waveform.message = f"cannot draw the line: {error}"
        self.waveform.update()
        if isinstance(error, MyTalkError):
            self.show_error(str(error))

    # -- drag and drop ---------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            target = drop_target(path, has_clip=self.clip is not None, alt=alt)
            if target == "line":
                self.load_line(path)
            elif target == "clip":
                self.load_clip(path)

    # -- display ---------------------------------------------------------------------------------

    def _on_transport(self, what: str) -> None:
        if what in ("position", "clip"):
            if self.model.face.drop_box_off(self.transport.position):
                self.viewer.set_face_boxes([])  # a tracked box belongs to the frame it was found on
            self._schedule_render()
        if what == "speed":
            self._on_speed_changed()
        if what in ("marks", "clip"):
            self._update_buttons()
            self.waveform.update()
            if self.visemes.model.visible(self.track_key()) is None:
                self.visemes.update()  # the range moved: the lane drops visemes of the old one

    def _schedule_render(self) -> None:
        # Coalesce: while scrubbing, many positions arrive per paint; decode only the latest.
        # A child timer (not QTimer.singleShot) so that it dies with the panel.
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render_now(self) -> None:
        self._render_timer.stop()
        if self._closed:
            return
        if self.decoder is None:
            self.viewer.set_frames(None)
            return
        position = self.transport.position
        plan = self.model.preview.b_frame(position)
        try:
            a = self.decoder.frame(position)
            b = None
            if plan.proxy_index is not None and self.preview_decoder is not None:
                b = self.preview_decoder.frame(plan.proxy_index)
        except (MyTalkError, IndexError) as error:
            self.show_error(f"cannot show frame {position} ({self.transport.timecode(position)}): {error}")
            return
        if b is None and plan.poster is not None:
            b = plan.poster.image
        self.viewer.caption = plan.caption
        self.viewer.set_frames(a, b)

    def set_view_mode(self, mode: str) -> None:
        """"A" (original), "B" (the preview) or "wipe"."""
        self.viewer.set_mode(mode)
        {"A": self.mode_a, "B": self.mode_b, "wipe": self.mode_wipe}[mode].setChecked(True)

    def toggle_ab(self) -> None:
        self.set_view_mode("A" if self.viewer.mode != "A" else "B")

    # -- playback --------------------------------------------------------------------------------

    def _on_speed_changed(self) -> None:
        self.play_button.setIcon(self._play_icons[1 if self.transport.speed else 0])
        self.player.on_speed_changed()

    def stop_playback(self) -> None:
        self.transport.stop()

    # -- keyboard --------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.handle_key(event):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_K and not event.isAutoRepeat():
            self.transport.release_k()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def handle_key(self, event: QKeyEvent) -> bool:
        """Apply one editing key (see `mytalk.ui.keymap`); True when it was ours."""
        try:
            name = str(Qt.Key(event.key()).name).removeprefix("Key_")
        except ValueError:  # a key code this Qt has no member for (some dead keys): never ours
            return False
        mods = event.modifiers()
        command = command_for(name, alt=bool(mods & Qt.KeyboardModifier.AltModifier),
                              shift=bool(mods & Qt.KeyboardModifier.ShiftModifier),
                              control=bool(mods & (Qt.KeyboardModifier.ControlModifier
                                                   | Qt.KeyboardModifier.MetaModifier)),
                              auto_repeat=event.isAutoRepeat())
        if command is None:
            return False
        self.run_command(command)
        event.accept()
        return True

    def run_command(self, command: Command) -> None:
        """Do what a key's command says: transport verbs by name, and the panel's own."""
        t = self.transport
        own = {
            "none": lambda: None,
            "step": lambda: t.step(command.amount),
            "step_seconds": lambda: t.step_seconds(command.amount),
            "nudge_frames": lambda: self.nudge_frames(command.amount),
            "nudge_ms": lambda: self.nudge_seconds(Fraction(command.amount, 1000)),
            "toggle_ab": self.toggle_ab,
            "wipe": lambda: self.set_view_mode("wipe"),
            "preview": self.start_preview,
        }
        action = own.get(command.name) or getattr(t, command.name)
        action()

    # -- the line's slip -------------------------------------------------------------------------

    @property
    def audio_in(self) -> Fraction:
        """Seconds into the line that land on the in point (the request's `audio_in`)."""
        return self.model.slip.audio_in

    def nudge_frames(self, frames: int) -> None:
        """Slip the line later (positive) or earlier by whole frames of the clip."""
        self._show_slip(self.model.slip.nudge_frames(frames, self.transport.fps))

    def nudge_seconds(self, seconds: Fraction) -> None:
        self._show_slip(self.model.slip.nudge(seconds))

    def reset_offset(self) -> None:
        self._show_slip(self.model.slip.reset())

    def _show_slip(self, audio_in: Fraction) -> None:
        self.waveform.set_audio_in(audio_in)
        self._on_offset_changed(audio_in)

    def _on_offset_changed(self, value: Fraction) -> None:
        # The waveform reports a drag once the mouse is released; nudges come through the model.
        self.model.slip.set(value)
        self._update_offset_label()
        self.visemes.clear()  # they were rendered against the old slip

    def _update_offset_label(self) -> None:
        self.offset_label.setText(self.model.slip.label(self.transport.fps))

    # -- face pick -------------------------------------------------------------------------------

    def _on_face_picked(self, x: float, y: float) -> None:
        self.model.face.pick((x, y))
        self.settings.set_face_point((x, y))
        fields = self.model.face.track_fields(self.clip, self.transport.position)
        if fields is not None and self.runtime.is_ready():
            self.model.face.sent(self.runtime.send("track", **fields))

    def _on_face_cleared(self) -> None:
        self.model.face.clear()
        self.viewer.set_face_point(None)

    # -- requests --------------------------------------------------------------------------------

    def marked_range(self) -> tuple[int, int] | None:
        return self.transport.range()

    def build_request(self, *, kind: str = "commit") -> SyncRequest:
        """The request for the marked range with the current settings; MyTalkError says what is missing."""
        return self.model.build_request(self.settings.values(), kind=kind)

    def _submit(self, kind: str) -> str | None:
        try:
            request = self.build_request(kind=kind)
        except MyTalkError as error:
            self.show_error(str(error))
            return None
        job_id = self.runtime.send(kind, request=sync_request_to_json(request))
        self.model.job_sent(job_id, request)
        start, stop = int(request.in_point or 0), int(request.out_point or 0)
        self.jobs.add(JobEntry(job_id, kind, range_label(kind, start, stop, self.transport.timecode),
                               first_frame=max(0, start - request.handles)))
        return job_id

    def track_key(self) -> TrackKey | None:
        """The clip, line, range and slip as they are now: what a viseme track must match to be drawn."""
        return self.model.track_key()

    def start_preview(self) -> str | None:
        """Queue a preview of the marked range; returns the job id (None when something is missing)."""
        return self._submit("preview")

    def start_commit(self) -> str | None:
        """Queue a commit of the marked range; returns the job id."""
        return self._submit("commit")

    def cancel(self, job_id: str) -> None:
        """Cancel a queued or running job; it ends with a 'cancelled' entry and no file."""
        entry = self.jobs.entries.get(job_id)
        if entry is None or entry.finished or not self.runtime.is_running():
            return
        self.runtime.send("cancel", job=job_id)

    # -- runtime events --------------------------------------------------------------------------

    def _on_runtime_ready(self, hello: dict[str, Any]) -> None:
        self.settings.set_engines(list(hello.get("engines", [])), hello.get("default_engine"))
        self._update_runtime_label()
        self._update_buttons()

    def _on_event(self, event: dict[str, Any]) -> None:
        job_id = str(event.get("id"))
        entry = self.jobs.entries.get(job_id)
        reaction = self.model.on_event(event, JobView(entry.kind, entry.current_frame) if entry else None)
        if reaction.face_box is not None:
            self.viewer.set_face_boxes([reaction.face_box])
        if reaction.error is not None:
            self.show_error(reaction.error)
        if entry is None or not reaction.job:
            return
        entry.apply(dict(reaction.event), self.transport.timecode)
        if reaction.poster:
            self._show_poster(reaction.event)
        elif reaction.proxy:
            self._show_preview(reaction.event)
        elif reaction.committed is not None:
            self._on_committed(entry, dict(reaction.committed))
        if reaction.visemes is not None:
            self._show_visemes(entry, *reaction.visemes)
        if reaction.poster_dropped:
            self._render_now()  # that preview failed or was cancelled: its first frame is not a result
        self.jobs.update_entry(job_id)

    def _show_poster(self, event: Any) -> None:
        """Show a rendering preview's first frame as B on the in point, until its proxy arrives."""
        image = cv2.imread(str(event["path"]), cv2.IMREAD_COLOR)
        if image is None:  # pruned or unreadable: the proxy will follow anyway
            return
        poster = self.model.preview.show_poster(Poster.from_event(event, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
        self._show_b_from(poster.start)
        self.previewFirstFrame.emit(poster.as_dict())

    def _show_preview(self, event: Any) -> None:
        self.model.preview.drop_poster()
        proxy = PreviewRange.from_event(event)
        try:
            decoder = FrameDecoder(proxy.path)
        except MyTalkError as error:
            self.show_error(f"the preview {proxy.path.name} cannot be read: {error}")
            return
        self._drop_preview()
        self.model.preview.take_proxy(proxy)
        self.preview_decoder = decoder
        self.scrub_bar.set_preview_range((proxy.start, proxy.stop))
        self._show_b_from(proxy.start)
        self.previewReady.emit(proxy.as_dict())

    def _show_b_from(self, frame: int) -> None:
        """Switch to B (a wipe stays a wipe), stopped on `frame`: a new result is judged at once."""
        if self.viewer.mode == "A":
            self.set_view_mode("B")
        self.transport.stop()
        self.transport.seek(frame)
        self._render_now()

    def _show_visemes(self, entry: JobEntry, key: TrackKey, result: Any) -> None:
        outcome = viseme_outcome(entry.kind, key, result, self.transport.fps, self.track_key())
        if outcome.track is not None:
            self.visemes.set_track(outcome.track)
        elif outcome.empty_text is not None:
            self.visemes.clear(outcome.empty_text)

    def _drop_preview(self) -> None:
        if self.preview_decoder is not None:
            self.preview_decoder.close()
        self.model.preview.drop_proxy()
        self.preview_decoder = None
        self.scrub_bar.set_preview_range(None)

    def _on_committed(self, entry: JobEntry, result: dict[str, Any]) -> None:
        if self.commit_hook is not None:
            try:
                note = self.commit_hook(result)
            except MyTalkError as error:
                self.show_error(f"the render was written ({Path(result.get('output', '')).name}) but could not be "
                                f"placed: {error}")
                note = None
            if note:
                entry.message = f"{entry.message}; {note}"
        self.committed.emit(result)

    def _on_runtime_crashed(self, message: str) -> None:
        for entry in self.jobs.active():
            self.jobs.update_entry(entry.id)
        self.show_error(message, offer_restart=offers_restart(message))
        self._update_runtime_label()

    def _on_runtime_restarted(self) -> None:
        if self.banner.isVisible():
            self.banner.show_message(restarted_message(self.banner.text), "info")
        self._update_runtime_label()

    def restart_runtime(self) -> None:
        self.banner.hide()
        self.runtime.start()

    def _update_runtime_label(self) -> None:
        colour, text = runtime_status(self.runtime.state, self.runtime.hello)
        self.runtime_label.setText(f"<span style='color:{colour}'>●</span> {text}")

    def _update_buttons(self) -> None:
        ready = self.model.ready()
        self.preview_button.setEnabled(ready)
        self.commit_button.setEnabled(ready)
        self.preview_button.setToolTip(PREVIEW_TIP if ready else NOT_READY_TIP)

    # -- errors ----------------------------------------------------------------------------------

    def show_error(self, message: str, *, offer_restart: bool = False) -> None:
        log.info("panel error: %s", message)
        self.banner.show_message(message, "error", offer_restart=offer_restart)
        self.errorShown.emit(message)

    # -- teardown --------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop playback and the runtime (cancelling its jobs); idempotent."""
        if self._closed:
            return
        self._closed = True
        self.player.stop()
        self._render_timer.stop()
        self.runtime.stop()
        for decoder in (self.decoder, self.preview_decoder):
            if decoder is not None:
                decoder.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def create_panel(parent: QWidget | None = None, *, video: Path | str | None = None,
                 audio: Path | str | None = None) -> MyTalkPanel:
    """The manifest's panel factory: a ready panel (runtime starting) for a host to dock.

    A QApplication must exist (every host has one); the panel starts its runtime child process
    at once so that the first Preview does not wait for it.
    """
    if QApplication.instance() is None:
        raise RuntimeError("create_panel needs a running QApplication; create one first (the host normally has it)")
    return MyTalkPanel(parent, video=Path(video) if video else None, audio=Path(audio) if audio else None)


__all__ = ["ErrorBanner", "MyTalkPanel", "create_panel"]
