"""The MyTalk panel: mark a range, pick the line, preview against the original, commit a version.

A dockable QWidget that every host embeds (the standalone window, the timeline round trip, the
DaVinci Resolve launcher). It is an adapter: the transport is `mytalk.ui.transport.Transport`,
frames come from the core's reader, and all rendering happens in the runtime child process
(`RuntimeClient`), so a crash in an engine costs a restarted runtime, never the host.

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

import json
import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mytalk.core.errors import MyTalkError
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media.audio import decode_audio
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.runtime.protocol import sync_request_to_json
from mytalk.ui.decoder import FrameDecoder
from mytalk.ui.jobs import JobEntry, JobListWidget
from mytalk.ui.playback import AudioPlayback
from mytalk.ui.runtime_client import RuntimeClient
from mytalk.ui.scrub_bar import ScrubBar
from mytalk.ui.settings import SettingsPanel
from mytalk.ui.tasks import run_in_background
from mytalk.ui.timecode_display import TimecodeDisplay
from mytalk.ui.transport import ClipTiming, Transport
from mytalk.ui.viewer import ViewerWidget
from mytalk.ui.viseme_lane import VisemeLane
from mytalk.ui.viseme_track import TrackKey, track_from_report
from mytalk.ui.waveform import DISPLAY_RATE, WaveformView, offset_text

log = logging.getLogger("mytalk.ui.panel")

VIDEO_SUFFIXES = {".mov", ".mp4", ".mkv", ".mxf", ".avi", ".m4v", ".webm"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".aac", ".m4a", ".aif", ".aiff", ".ogg"}
NUDGE_MS = Fraction(10, 1000)


class ErrorBanner(QFrame):
    """A dismissible strip across the top of the panel: what went wrong, and on which frame."""

    restartRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.restart = QPushButton("Restart runtime", self)
        self.restart.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.restart.clicked.connect(self.restartRequested)
        self.restart.hide()
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.restart)
        layout.addWidget(close)
        self.kind = "error"
        self.hide()

    def show_message(self, text: str, kind: str = "error", *, offer_restart: bool = False) -> None:
        self.kind = kind
        colours = {"error": ("#4a1717", "#ffb4ab"), "info": ("#17324a", "#b4dcff")}
        background, foreground = colours.get(kind, colours["error"])
        self.setStyleSheet(f"#errorBanner {{ background: {background}; border-radius: 4px; }} "
                           f"#errorBanner QLabel {{ color: {foreground}; }}")
        self.label.setText(text)
        self.restart.setVisible(offer_restart)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()


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
        self.clip: Path | None = None
        self.info: MediaInfo | None = None
        self.decoder: FrameDecoder | None = None
        self.line: Path | None = None
        self.preview: dict[str, Any] | None = None
        self.poster: dict[str, Any] | None = None  # a rendering preview's first frame, until the proxy is done
        self.preview_decoder: FrameDecoder | None = None
        self.commit_hook: Any = None
        self._track_requests: set[str] = set()
        self._job_keys: dict[str, TrackKey] = {}  # clip, line, range and slip each job was sent with
        self._face_box_frame = -1
        self._closed = False

        self.runtime = runtime or RuntimeClient(self)
        self.audio = AudioPlayback(self)
        self.audio.load()  # before any worker thread exists: see AudioPlayback.load
        self._play_timer = QTimer(self)
        self._play_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._play_timer.timeout.connect(self._on_play_tick)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_now)
        self._play_clock = QElapsedTimer()
        self._play_origin = (0, 0.0)  # (frame, audio seconds) when playback with sound started
        self._play_audio = False

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
        ms_nudge = self._button("−10 ms", "Slip the line 10 ms earlier (Shift+,)", lambda: self.nudge_seconds(-NUDGE_MS))
        ms_nudge_plus = self._button("+10 ms", "Slip the line 10 ms later (Shift+.)", lambda: self.nudge_seconds(NUDGE_MS))
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
        self.settings.facePointCleared.connect(lambda: self.viewer.set_face_point(None))
        settings_box = QGroupBox("Settings", self)
        QVBoxLayout(settings_box).addWidget(self.settings)
        self.preview_button = self._button("Preview", "Render a fast proxy of the marked range (P)", self.start_preview)
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
        filters = "Video (" + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES)) + ");;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", str(self.clip.parent if self.clip else Path.home()), filters)
        if path:
            self.load_clip(Path(path))

    def choose_line(self) -> None:
        filters = ("Audio (" + " ".join(f"*{s}" for s in sorted(AUDIO_SUFFIXES | VIDEO_SUFFIXES))
                   + ");;All files (*)")
        start = self.line.parent if self.line else (self.clip.parent if self.clip else Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open replacement line", str(start), filters)
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
        self.clip, self.info, self.decoder = path, info, decoder
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
        self.line = path
        self.visemes.clear()
        self.open_line_button.setToolTip(f"Replacement line: {path}")
        self.open_line_button.setText(f"Line: {path.name}" if len(path.name) <= 28 else f"Line: {path.name[:25]}…")
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
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in AUDIO_SUFFIXES or (self.clip is not None and path.suffix.lower() in VIDEO_SUFFIXES
                                                         and event.modifiers() & Qt.KeyboardModifier.AltModifier):
                self.load_line(path)
            elif path.suffix.lower() in VIDEO_SUFFIXES:
                self.load_clip(path)

    # -- display ---------------------------------------------------------------------------------

    def _on_transport(self, what: str) -> None:
        if what in ("position", "clip"):
            if self.viewer.face_boxes and self.transport.position != self._face_box_frame:
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
        try:
            a = self.decoder.frame(position)
            b = None
            if self.preview and self.preview_decoder is not None and self.preview["start"] <= position < self.preview["stop"]:
                b = self.preview_decoder.frame(position - self.preview["start"])
        except (MyTalkError, IndexError) as error:
            self.show_error(f"cannot show frame {position} ({self.transport.timecode(position)}): {error}")
            return
        caption = "" if b is not None or not self.preview else "outside the preview range"
        if b is None and self.poster is not None and position == self.poster["start"]:
            b, caption = self.poster["image"], "first frame of the preview; the rest is rendering"
        self.viewer.caption = caption
        self.viewer.set_frames(a, b)

    def set_view_mode(self, mode: str) -> None:
        """"A" (original), "B" (the preview) or "wipe"."""
        self.viewer.set_mode(mode)
        {"A": self.mode_a, "B": self.mode_b, "wipe": self.mode_wipe}[mode].setChecked(True)

    def toggle_ab(self) -> None:
        self.set_view_mode("A" if self.viewer.mode != "A" else "B")

    # -- playback --------------------------------------------------------------------------------

    def _on_speed_changed(self) -> None:
        speed = self.transport.speed
        self.play_button.setIcon(self._play_icons[1 if speed else 0])
        if not speed:
            self._play_timer.stop()
            self.audio.stop()
            self._play_audio = False
            return
        fps = float(self.transport.fps)
        self._play_timer.start(max(1, int(round(1000 / fps))))
        self._play_audio = False
        if speed == 1:
            self._start_audio()

    def _start_audio(self) -> None:
        position = self.transport.position
        if self.preview and self.preview["start"] <= position < self.preview["stop"]:
            source, seconds = Path(self.preview["path"]), (position - self.preview["start"]) / float(self.transport.fps)
        elif self.clip is not None:
            source, seconds = self.clip, position / float(self.transport.fps)
        else:
            return
        if self.audio.play(source, seconds):
            self._play_audio = True
            self._play_origin = (position, seconds)

    def _on_play_tick(self) -> None:
        audio_position = self.audio.position_seconds() if self._play_audio else None
        if audio_position is not None and self.transport.speed == 1:
            # The sound card is the clock: the picture follows it, so lips and line stay together.
            frame0, seconds0 = self._play_origin
            target = frame0 + int((audio_position - seconds0) * float(self.transport.fps))
            if target >= self.transport.frame_count - 1:
                self.transport.stop()
            self.transport.seek(target)
            return
        self.transport.tick()

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
        """Apply one editing key; True when it was ours."""
        key = Qt.Key(event.key())
        mods = event.modifiers()
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        t = self.transport
        if mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.MetaModifier):
            return False
        if key == Qt.Key.Key_K and event.isAutoRepeat():
            return True
        actions = {
            Qt.Key.Key_I: t.clear_in if alt else t.set_in,
            Qt.Key.Key_O: t.clear_out if alt else t.set_out,
            Qt.Key.Key_Space: t.toggle_play,
            Qt.Key.Key_J: t.shuttle_reverse,
            Qt.Key.Key_K: t.press_k,
            Qt.Key.Key_L: t.shuttle_forward,
            Qt.Key.Key_Left: (lambda: t.step_seconds(-1)) if shift else (lambda: t.step(-1)),
            Qt.Key.Key_Right: (lambda: t.step_seconds(1)) if shift else (lambda: t.step(1)),
            Qt.Key.Key_Up: t.go_to_in,
            Qt.Key.Key_Down: t.go_to_out,
            Qt.Key.Key_Home: t.go_to_start,
            Qt.Key.Key_End: t.go_to_end,
            Qt.Key.Key_Comma: (lambda: self.nudge_seconds(-NUDGE_MS)) if shift else (lambda: self.nudge_frames(-1)),
            Qt.Key.Key_Period: (lambda: self.nudge_seconds(NUDGE_MS)) if shift else (lambda: self.nudge_frames(1)),
            Qt.Key.Key_Less: lambda: self.nudge_seconds(-NUDGE_MS),
            Qt.Key.Key_Greater: lambda: self.nudge_seconds(NUDGE_MS),
            Qt.Key.Key_Backslash: self.toggle_ab,
            Qt.Key.Key_Bar: lambda: self.set_view_mode("wipe"),
            Qt.Key.Key_P: self.start_preview,
        }
        if key == Qt.Key.Key_X and alt:
            t.clear_marks()
            event.accept()
            return True
        action = actions.get(key)
        if action is None:
            return False
        action()
        event.accept()
        return True

    # -- the line's slip -------------------------------------------------------------------------

    @property
    def audio_in(self) -> Fraction:
        """Seconds into the line that land on the in point (the request's `audio_in`)."""
        return self.waveform.audio_in

    def nudge_frames(self, frames: int) -> None:
        """Slip the line later (positive) or earlier by whole frames of the clip."""
        self.waveform.nudge(Fraction(frames) / self.transport.fps)

    def nudge_seconds(self, seconds: Fraction) -> None:
        self.waveform.nudge(seconds)

    def reset_offset(self) -> None:
        self.waveform.set_audio_in(Fraction(0))
        self._on_offset_changed(Fraction(0))

    def _on_offset_changed(self, value: Fraction) -> None:
        self._update_offset_label()
        self.visemes.clear()  # they were rendered against the old slip

    def _update_offset_label(self) -> None:
        seconds = self.audio_in
        frames = float(seconds * self.transport.fps)
        # Shown as the line's shift against the picture: positive = later, the editor's sense.
        shift_ms = -float(seconds) * 1000 + 0.0  # + 0.0 turns -0.0 into 0.0
        self.offset_label.setText(f"{shift_ms:+.0f} ms ({-frames + 0.0:+.2f} fr)")

    # -- face pick -------------------------------------------------------------------------------

    def _on_face_picked(self, x: float, y: float) -> None:
        self.settings.set_face_point((x, y))
        if self.clip is not None and self.runtime.is_ready():
            position = self.transport.position
            request_id = self.runtime.send("track", video=str(self.clip), start=position, stop=position + 1,
                                           face=f"{x:.0f},{y:.0f}")
            self._track_requests.add(request_id)

    def _on_track_event(self, event: dict[str, Any]) -> None:
        if event["event"] not in ("done", "error"):
            return
        self._track_requests.discard(str(event.get("id")))
        if event["event"] == "error":
            return  # tracking not installed, or no face there: the clicked point is used as is
        frames = [frame for frame in event["result"].get("frames", []) if frame.get("found") and frame.get("box")]
        if frames:
            self._face_box_frame = int(frames[0]["index"])
            self.viewer.set_face_boxes([tuple(frames[0]["box"])])  # type: ignore[list-item]

    # -- requests --------------------------------------------------------------------------------

    def marked_range(self) -> tuple[int, int] | None:
        return self.transport.range()

    def build_request(self, *, kind: str = "commit") -> SyncRequest:
        """The request for the marked range with the current settings; MyTalkError says what is missing."""
        if self.clip is None:
            raise MyTalkError("open a clip first (Clip…)")
        if self.line is None:
            raise MyTalkError("open the replacement line first (Line…)")
        marked = self.marked_range()
        if marked is None:
            raise MyTalkError("mark the range to fix first: I at the first frame, O at the last")
        values = self.settings.values()
        engine = values.pop("engine")
        if not engine:
            raise MyTalkError("no engine is available yet; wait for the runtime to start")
        output = values.pop("output")
        if output is None:
            if kind == "commit":
                raise MyTalkError("choose the output folder for commits (Settings ▸ Output)")
            output = self.clip.parent
        start, stop = marked
        return SyncRequest(video=self.clip, audio=self.line, output=output, in_point=str(start), out_point=str(stop),
                           audio_in=offset_text(self.audio_in), engine=engine, **values)

    def _range_label(self, kind: str, start: int, stop: int) -> str:
        return f"{kind} {self.transport.timecode(start)} – {self.transport.timecode(stop - 1)}  ({stop - start} fr)"

    def _submit(self, kind: str) -> str | None:
        try:
            request = self.build_request(kind=kind)
        except MyTalkError as error:
            self.show_error(str(error))
            return None
        job_id = self.runtime.send(kind, request=sync_request_to_json(request))
        start, stop = int(request.in_point or 0), int(request.out_point or 0)
        self._job_keys[job_id] = TrackKey(str(request.video), str(request.audio), start, stop, self.audio_in)
        self.jobs.add(JobEntry(job_id, kind, self._range_label(kind.capitalize(), start, stop),
                               first_frame=max(0, start - request.handles)))
        return job_id

    def track_key(self) -> TrackKey | None:
        """The clip, line, range and slip as they are now: what a viseme track must match to be drawn."""
        marked = self.marked_range()
        if self.clip is None or self.line is None or marked is None:
            return None
        return TrackKey(str(self.clip), str(self.line), marked[0], marked[1], self.audio_in)

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
        if job_id in self._track_requests:
            self._on_track_event(event)
            return
        entry = self.jobs.entries.get(job_id)
        if entry is None:
            if event["event"] == "error":
                self.show_error(str(event.get("message")))
            return
        if event["event"] == "error" and event.get("frame") is None and entry.current_frame is not None:
            # A crashed runtime cannot say where it was; the last progress event can.
            event = {**event, "frame": entry.current_frame}
        entry.apply(event, self.transport.timecode)
        if event["event"] == "preview-ready" and event.get("partial"):
            self._show_poster(event)
        elif event["event"] == "preview-ready":
            self._show_preview(event)
        elif event["event"] == "done" and entry.kind == "commit":
            self._on_committed(entry, event.get("result") or {})
        if event["event"] in ("done", "error"):
            key = self._job_keys.pop(job_id, None)
            if event["event"] == "done" and key is not None:
                self._show_visemes(entry, key, event.get("result") or {})
        elif event["event"] == "error" and entry.state == "failed":
            self.show_error(f"{entry.label}: {entry.message}")
        if event["event"] == "error" and self.poster is not None and self.poster.get("id") == job_id:
            self.poster = None  # that preview failed or was cancelled: its first frame is not a result
            self._render_now()
        self.jobs.update_entry(job_id)

    def _show_poster(self, event: dict[str, Any]) -> None:
        """Show a rendering preview's first frame as B on the in point, until its proxy arrives."""
        image = cv2.imread(str(event["path"]), cv2.IMREAD_COLOR)
        if image is None:  # pruned or unreadable: the proxy will follow anyway
            return
        self.poster = {"image": cv2.cvtColor(image, cv2.COLOR_BGR2RGB), "start": int(event["start"]),
                       "stop": int(event["stop"]), "id": event.get("id")}
        if self.viewer.mode == "A":
            self.set_view_mode("B")
        self.transport.stop()
        self.transport.seek(self.poster["start"])
        self._render_now()
        self.previewFirstFrame.emit({k: v for k, v in self.poster.items() if k != "image"})

    def _show_preview(self, event: dict[str, Any]) -> None:
        self.poster = None
        path = Path(event["path"])
        try:
            decoder = FrameDecoder(path)
        except MyTalkError as error:
            self.show_error(f"the preview {path.name} cannot be read: {error}")
            return
        self._drop_preview()
        self.preview = {"path": str(path), "start": int(event["start"]), "stop": int(event["stop"]), "id": event.get("id")}
        self.preview_decoder = decoder
        self.scrub_bar.set_preview_range((self.preview["start"], self.preview["stop"]))
        if self.viewer.mode == "A":
            self.set_view_mode("B")
        self.transport.stop()
        self.transport.seek(self.preview["start"])
        self._render_now()
        self.previewReady.emit(dict(self.preview))

    def _show_visemes(self, entry: JobEntry, key: TrackKey, result: dict[str, Any]) -> None:
        """Draw the visemes of a finished preview (its report rides in the done event) or commit
        (its sidecar is the report); a result for another clip, line, range or slip is not drawn."""
        report = result.get("report")
        if report is None and entry.kind == "commit" and result.get("sidecar"):
            try:
                report = json.loads(Path(result["sidecar"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                log.info("no visemes from %s: %s", result["sidecar"], error)
        track = track_from_report(report, key, self.transport.fps) if isinstance(report, dict) else None
        if track is not None:
            self.visemes.set_track(track)
        elif key == self.track_key():
            engine = (report or {}).get("engine") if isinstance(report, dict) else None
            name = f" (engine {engine.get('name')})" if isinstance(engine, dict) else ""
            self.visemes.clear(f"The last {entry.kind} reported no visemes{name}")

    def _drop_preview(self) -> None:
        if self.preview_decoder is not None:
            self.preview_decoder.close()
        self.preview = None
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
        offer = "press Restart" in message
        self.show_error(message, offer_restart=offer)
        self._update_runtime_label()

    def _on_runtime_restarted(self) -> None:
        if self.banner.isVisible():
            self.banner.show_message(self.banner.text.split("\n")[0].replace("; restarting it", "")
                                     + ". A new runtime is running: queue the job again.", "info")
        self._update_runtime_label()

    def restart_runtime(self) -> None:
        self.banner.hide()
        self.runtime.start()

    def _update_runtime_label(self) -> None:
        state = self.runtime.state
        hello = self.runtime.hello or {}
        text = {"starting": "runtime starting…", "crashed": "runtime stopped", "stopped": "runtime off"}.get(state)
        if state == "ready":
            text = f"runtime ready · MyTalk {hello.get('mytalk', '?')}"
        colour = {"ready": "#57ab5a", "starting": "#c69026"}.get(state, "#e5534b")
        self.runtime_label.setText(f"<span style='color:{colour}'>●</span> {text}")

    def _update_buttons(self) -> None:
        ready = self.clip is not None and self.line is not None and self.marked_range() is not None
        self.preview_button.setEnabled(ready)
        self.commit_button.setEnabled(ready)
        tip = "" if ready else "Open a clip and a line, and mark a range (I / O)"
        self.preview_button.setToolTip(tip or "Render a fast proxy of the marked range (P)")

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
        self._play_timer.stop()
        self._render_timer.stop()
        self.audio.stop()
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


__all__ = ["MyTalkPanel", "create_panel"]
