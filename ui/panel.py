"""The MyTalk panel: mark a range, pick the line, preview against the original, commit a version.

A dockable QWidget that every host embeds (the standalone window, the timeline round trip, the
DaVinci Resolve launcher). It is an adapter: the transport is `mytalk.ui.transport.Transport`,
frames come from the core's reader, and all rendering happens in the runtime child process
(`RuntimeClient`), so a crash in an engine costs a restarted runtime, never the host.

The widget is a thin Qt layer (napari's `_qt` split): layout, signals, painting and file I/O live
here; what a request holds, what a runtime event changes, which frame B shows and which file
plays are decided by `mytalk.ui.panel_model.PanelModel`, without Qt. Keys are looked up in
`mytalk.ui.keymap`, `mytalk.ui.player.Player` runs playback against the sound clock, and
`mytalk.ui.anticipation.RuntimeAnticipation` sends the runtime what it can do before Preview is pressed.

Editing habits are Avid's, Premiere's and Resolve's; the keys are listed in `mytalk.ui.keymap.KEY_HELP`
(which the Help shows) and work wherever the focus is in the panel, except inside text and number
fields, where Esc hands them back (`mytalk.ui.key_router`).

Commits go to the project's render folder (`mytalk.ui.panel_model.output`): the timeline file's
when a host opened one (`set_project`), else the clip's; remembered in the user's preferences.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from mytalk.core.errors import MyTalkError
from mytalk.core.face.display import DisplayGeometry
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.media.audio_spool import decode_sound
from mytalk.core.media.channel_pick import SoundChannel, pick_channels, sound_channels
from mytalk.core.media.probe import MediaInfo, VideoStreamInfo, probe
from mytalk.core.media.sound_stream import clip_sound_stream
from mytalk.core.media.writer import CODEC_PRESETS
from mytalk.core.runtime.protocol import sync_request_to_json
from mytalk.core.userdirs import UserDirs, user_dirs
from mytalk.ui.anticipation import RuntimeAnticipation
from mytalk.ui.buttons import tool_button
from mytalk.ui.channels_box import ChannelsBox
from mytalk.ui.decoder import FrameDecoder
from mytalk.ui.elided_label import ElidedLabel
from mytalk.ui.error_banner import ErrorBanner
from mytalk.ui.jobs import JobEntry, JobListWidget
from mytalk.ui.key_router import KeyRouter
from mytalk.ui.keymap import Command, command_for
from mytalk.ui.panel_model import JobView, PanelModel, Poster, PreviewRange, range_label
from mytalk.ui.panel_model.channel_memory import ChannelPicks, PickKind
from mytalk.ui.panel_model.files import (
    check_line,
    clip_filter,
    clip_summary,
    drop_target,
    line_button_text,
    line_filter,
)
from mytalk.ui.panel_model.job_notes import headline
from mytalk.ui.panel_model.output import (
    ProjectFolders,
    RenderFolders,
    WrapperChoices,
    naming_note,
    naming_tip,
)
from mytalk.ui.panel_model.preview import StreamedFrames
from mytalk.ui.panel_model.request import NOT_READY_TIP, learn_request, line_learn_request
from mytalk.ui.panel_model.slip import NUDGE_S
from mytalk.ui.panel_model.status import offers_restart, restarted_message, runtime_status
from mytalk.ui.panel_model.visemes import viseme_outcome
from mytalk.ui.playback import AudioPlayback
from mytalk.ui.player import Player
from mytalk.ui.preferences import QtPreferences
from mytalk.ui.runtime_client import RuntimeClient
from mytalk.ui.scrub_bar import ScrubBar
from mytalk.ui.settings import SettingsPanel
from mytalk.ui.slip_bar import SlipBar
from mytalk.ui.status_line import StatusLine
from mytalk.ui.tasks import run_in_background
from mytalk.ui.timecode_display import TimecodeDisplay
from mytalk.ui.transport import ClipTiming, Transport
from mytalk.ui.transport_bar import TransportBar
from mytalk.ui.viewer import ViewerWidget
from mytalk.ui.viseme_lane import VisemeLane
from mytalk.ui.viseme_track import TrackKey
from mytalk.ui.waveform import DISPLAY_RATE, WaveformView

log = logging.getLogger("mytalk.ui.panel")

PREVIEW_TIP = "Render a fast proxy of the marked range (P)"


class MyTalkPanel(QWidget):
    """The panel. Hosts use `load_clip`, `load_line`, `set_range`, `set_project`, `route_keys_from`,
    the `committed` signal and `commit_hook` (called with each commit result; its return text is
    shown on the job).

    `preferences` is where the render folders are remembered (default: the user's preferences file,
    under `MYTALK_HOME` when set); `playback` plays the sound (default: QtMultimedia's).
    """

    clipLoaded = Signal(str)
    previewReady = Signal(dict)
    previewFirstFrame = Signal(dict)
    committed = Signal(dict)
    errorShown = Signal(str)
    # Made in _build; named here because slots connected before their line use them.
    jobs: JobListWidget
    status_line: StatusLine

    def __init__(self, parent: QWidget | None = None, *, video: Path | None = None, audio: Path | None = None,
                 start_runtime: bool = True, runtime: RuntimeClient | None = None,
                 preferences: QSettings | None = None, playback: AudioPlayback | None = None) -> None:
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
        remembered = QtPreferences(preferences)
        self.output_folders = ProjectFolders(RenderFolders(remembered))
        self.wrappers = WrapperChoices(remembered)
        self.channel_picks = ChannelPicks(remembered)
        self._crash_message: str | None = None
        self._line_fallback: tuple[Path | None, Any, str | None] = (None, None, None)
        """The line in use before the one being decoded, its samples and its channel pick: back in place if that
        one fails."""
        self._line_channel_list: list[SoundChannel] = []
        """The open line's channels (`channel_pick.sound_channels`), offered in `line_channels_box`."""
        self._clip_channel_list: list[SoundChannel] = []
        """The open clip's own channels, offered in `guide_channels_box`."""
        self._matte_switched = False  # commits moved to ProRes 4444 for a keyed clip (`_keep_matte`)

        self.runtime = runtime or RuntimeClient(self)
        self.audio = playback or AudioPlayback()
        self.audio.setParent(self)
        self.audio.load()  # before any worker thread exists: see AudioPlayback.load
        self.player = Player(self.transport, self.audio, self.model.sound_source, self)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_now)
        self.anticipation = RuntimeAnticipation(
            self.runtime, preview_request=lambda: self.build_request(kind="preview"),
            learn_request=lambda: learn_request(self.clip, self.settings.values(), self.model.face.point,
                                                self.model.guide_channels),
            line_request=lambda: line_learn_request(self.model.inputs(), self.settings.values()),
            ready=self.model.ready, on_note=self._show_prepare_note, parent=self)

        self._build()
        self.transport.subscribe(self._on_transport)
        self.runtime.ready.connect(self._on_runtime_ready)
        self.runtime.eventReceived.connect(self._on_event)
        self.runtime.crashed.connect(self._on_runtime_crashed)
        self.runtime.restarted.connect(self._on_runtime_restarted)
        self.runtime.stateChanged.connect(lambda state: self._update_runtime_label())
        self.banner.restartRequested.connect(self.restart_runtime)
        self.jobs.cancelRequested.connect(self.cancel)
        self.audio.statusChanged.connect(self._update_audio_note)
        self.keys = KeyRouter(self, self.handle_key, self.handle_key_release)
        self.keys.install()
        self._update_runtime_label()
        self._update_audio_note()
        self._show_render_folder()
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

    def _build(self) -> None:
        """The panel, top to bottom: the files row, the error banner, the viewer's column beside the side
        column (a splitter), and the status line; made in that order, which is the order of the focus chain."""
        files_row = self._build_files_row()
        self.banner = ErrorBanner(self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self._build_viewer_column())
        splitter.addWidget(self._build_side_column())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        self.status_line = StatusLine(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(files_row)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_line)
        self._update_offset_label()

    def _build_files_row(self) -> QHBoxLayout:
        """Clip… and Line…, the clip's name, and the notes on sound and on the runtime."""
        self.open_clip_button = tool_button(self, "Clip…", "Open the clip to fix", self.choose_clip)
        self.open_line_button = tool_button(self, "Line…", "Open the replacement line (wav, mp3, …)",
                                            self.choose_line)
        self.clip_label = ElidedLabel("No clip", self)
        self.clip_label.setObjectName("clipLabel")
        self.audio_note = QLabel(self)
        self.audio_note.setObjectName("audioNote")
        self.audio_note.hide()
        self.runtime_label = QLabel(self)
        self.runtime_label.setObjectName("runtimeLabel")
        row = QHBoxLayout()
        row.addWidget(self.open_clip_button)
        self.guide_channels_box = ChannelsBox(
            self, name="guideChannels", lead="Guide: ",
            tooltip="Which channels of the clip's own sound are the actor's microphone: the guide's alignment and "
                    "the actor's learning hear only them (the other actor's lavalier of a two-hander is left out)")
        self.guide_channels_box.picked.connect(self._on_guide_channels)
        row.addWidget(self.guide_channels_box)
        row.addWidget(self.open_line_button)
        self.line_channels_box = ChannelsBox(
            self, name="lineChannels",
            tooltip="Which channels of the line the mouth follows and the render carries: the actor's microphone of "
                    "a poly take (boom, lavalier), or all of them mixed")
        self.line_channels_box.picked.connect(self._on_line_channels)
        row.addWidget(self.line_channels_box)
        row.addWidget(self.clip_label, 1)
        row.addWidget(self.audio_note)
        row.addWidget(self.runtime_label)
        return row

    def _build_viewer_column(self) -> QWidget:
        """The viewer, the transport and timecode rows, the scrub bar, the line's waveform and visemes, the slip."""
        self.viewer = ViewerWidget(self)
        self.viewer.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.viewer.facePicked.connect(self._on_face_picked)
        self.timecode = TimecodeDisplay(self.transport, self)
        self.timecode.hide()  # a holder: its field, rate and readouts are laid out by the transport bar
        self.timecode.entered.connect(self._on_position_typed)
        self.timecode.rejected.connect(lambda message: self.status_line.show_note(message, "error"))
        self.transport_bar = TransportBar(self.transport, self.timecode, run_command=self.run_command,
                                          choose_view=self.set_view_mode, parent=self)
        self.scrub_bar = ScrubBar(self.transport, self)
        self.waveform = WaveformView(self.transport, self)
        self.waveform.offsetChanged.connect(self._on_offset_changed)
        self.visemes = VisemeLane(self.waveform, self.track_key, self)
        self.slip_bar = SlipBar(nudge_frames=self.nudge_frames, nudge_seconds=self.nudge_seconds,
                                reset=self.reset_offset, step_s=NUDGE_S, parent=self)

        column = QWidget(self)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.viewer, 1)
        for part in (self.transport_bar, self.scrub_bar, self.waveform, self.visemes, self.slip_bar):
            layout.addWidget(part)
        return column

    def _build_side_column(self) -> QWidget:
        """The settings (scrolled), the render folder, Preview and Commit, the naming note and the jobs."""
        self.settings = SettingsPanel(self)
        for codec in CODEC_PRESETS:
            suffix = self.wrappers.chosen(codec)
            if suffix:
                self.settings.set_wrapper(codec, suffix)
        self.settings.wrapperChosen.connect(self.wrappers.remember)
        self.settings.facePointCleared.connect(self._on_face_cleared)
        self.settings.outputChosen.connect(self._on_output_chosen)
        self.settings.changed.connect(self._update_naming_note)
        self.settings.changed.connect(self.anticipation.schedule)
        settings_box = QGroupBox("Settings", self)
        box_layout = QVBoxLayout(settings_box)
        box_layout.addWidget(self.settings)
        # A short window scrolls the form instead of squeezing or clipping its rows.
        self.settings_scroll = QScrollArea(self)
        self.settings_scroll.setObjectName("settingsScroll")
        self.settings_scroll.setWidget(settings_box)
        self.settings_scroll.setWidgetResizable(True)
        self.settings_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.settings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.settings_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preview_button = tool_button(self, "Preview", PREVIEW_TIP, self.start_preview)
        self.commit_button = tool_button(self, "Commit", "Render the final version into the render folder",
                                         self.start_commit)
        self.preview_button.setObjectName("previewButton")
        self.commit_button.setObjectName("commitButton")
        self.commit_button.setStyleSheet("QPushButton#commitButton:enabled { font-weight: bold; }")
        actions = QHBoxLayout()
        actions.addWidget(self.preview_button)
        actions.addWidget(self.commit_button)
        self.naming_label = QLabel(self)
        self.naming_label.setObjectName("namingNote")
        self.naming_label.setWordWrap(True)
        self.naming_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.naming_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.jobs = JobListWidget(self)
        jobs_box = QGroupBox("Jobs", self)
        QVBoxLayout(jobs_box).addWidget(self.jobs)

        column = QWidget(self)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Render folder", self))
        folder_row.addWidget(self.settings.output_row, 1)
        layout.addWidget(self.settings_scroll, 3)
        layout.addLayout(folder_row)  # outside the scrolled form: where commits go is always in view
        layout.addLayout(actions)
        layout.addWidget(self.naming_label)
        layout.addWidget(jobs_box, 1)
        # Wide enough for the form's widest row and a vertical scroll bar: it scrolls up and down, never sideways.
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        box_layout.activate()
        column.setMinimumWidth(box_layout.totalMinimumSize().width() + scroll_bar + 4)
        return column

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
        self.settings.set_clip_rate(video.fps)
        self.viewer.set_source_size((video.width, video.height))
        self.viewer.set_geometry(DisplayGeometry.of(video))  # a phone clip upright, anamorphic desqueezed
        self.viewer.set_face_point(None)
        self.viewer.set_face_boxes([])
        self.settings.set_face_point(None)
        self._show_render_folder()
        self.transport.set_clip(ClipTiming(video.frame_count, video.fps, video.start_timecode))
        if start is not None and stop is not None:
            self.transport.set_range(start, stop)
            self.transport.seek(start)
        geometry = DisplayGeometry.of(video)
        self.clip_label.setText(clip_summary(path.name, video, self.timecode.rate.text(),
                                             None if geometry.is_identity else geometry.shown_size))
        self.clip_label.setToolTip(f"{path}\n{self.clip_label.full_text}")
        self._keep_matte(path, video)
        if video.cut_short_note is not None:  # a copy still running: the editor must know before marking
            self.status_line.show_note(f"{path.name}: {video.cut_short_note}", "warning")
        self._clip_channel_list, heard = _channels_heard(path, "clip") if info.audio else ([], [])
        self.guide_channels_box.set_channels(self._clip_channel_list, heard)
        if self._restore_pick(self.guide_channels_box, "guide", path):
            self.model.guide_channels = self.guide_channels_box.pick()
            if video.cut_short_note is None:
                self.status_line.show_note(f"{path.name}: the guide and the actor's learning hear "
                                           f"{self._heard(self.guide_channels_box)}, as picked for this clip before")
        elif video.cut_short_note is None and len(self._clip_channel_list) > 2:  # a camera's inputs, a poly take
            hears = ("them all, mixed" if len(heard) == len(self._clip_channel_list)
                     else " + ".join(c.words for c in heard))
            self.status_line.show_note(f"{path.name} has {len(self._clip_channel_list)} channels: the guide and the "
                                       f"actor's learning hear {hears}; pick the actor's microphone beside Clip…",
                                       "warning")
        self._draw_production()
        self._render_now()
        self._update_buttons()
        self.viewer.setFocus()
        self.clipLoaded.emit(str(path))
        return True

    def _draw_production(self) -> None:
        """Decode the clip's own sound for the upper lane, in the background: the channels the guide hears (the
        pick beside Clip…, else the stream the job reads as the clip's own sound)."""
        self.waveform.set_production(None)
        path, pick, channels = self.clip, self.model.guide_channels, self._clip_channel_list
        if path is None or self.info is None or not self.info.audio:
            return
        run_in_background(lambda: _lane_samples(path, pick, channels),
                          lambda samples: self._on_production_audio(path, pick, samples),
                          self._on_production_failed, owner=self)

    def _on_guide_channels(self, pick: str | None) -> None:
        """The editor picked other channels of the clip's own sound: the guide, the actor's learning and the
        upper lane follow them."""
        if self.clip is None or pick == self.model.guide_channels:
            return
        self.model.guide_channels = pick
        self.channel_picks.remember("guide", self.clip, pick)
        self.status_line.show_note(f"{self.clip.name}: the guide and the actor's learning hear "
                                   f"{self._heard(self.guide_channels_box)}")
        self._draw_production()
        self._update_buttons()

    def _restore_pick(self, box: ChannelsBox, kind: PickKind, path: Path) -> bool:
        """Put back the pick last made for this file (`channel_picks`), without saying it through `picked`: the
        caller opens the file and draws it once. False when none was made, or the file no longer has it."""
        remembered = self.channel_picks.remembered(kind, path)
        if remembered is None:
            return False
        box.blockSignals(True)
        try:
            return box.choose(remembered)
        finally:
            box.blockSignals(False)

    @staticmethod
    def _heard(box: ChannelsBox) -> str:
        """What a box's choice hears, in a note's words: `Ch 3 BOOM`, `all its channels, mixed`."""
        return "all its channels, mixed" if box.hears_all() else box.caption()

    def _keep_matte(self, path: Path, video: VideoStreamInfo) -> None:
        """A keyed clip (alpha plane) switches commits from ProRes 422 HQ, which would render it opaque, to
        ProRes 4444, which keeps the matte, and says so; the next clip without alpha switches back, unless
        the editor has chosen a codec since. A codec the editor picked is left alone (the job's report
        warns when it drops the matte)."""
        if "codec" not in self.settings.widgets:
            return
        codec = self.settings.setting_value("codec")
        if video.has_alpha and codec == "prores":
            self.settings.apply({"codec": "prores4444"})
            self._matte_switched = True
            self.status_line.show_note(f"{path.name} has an alpha channel: commits use ProRes 4444, which keeps it")
        elif not video.has_alpha and self._matte_switched:
            self._matte_switched = False
            if codec == "prores4444":
                self.settings.apply({"codec": "prores"})
                self.status_line.show_note(f"{path.name} has no alpha channel: commits use ProRes 422 HQ again")
        self._update_naming_note()

    def load_line(self, path: Path) -> bool:
        """Use `path` as the replacement line (any audio file, or a video's sound).

        A file that is not a line (no sound, unreadable, truncated) is refused like a bad clip: the
        error is shown and the line in use, with Preview and Commit as they were, stays. False then.
        """
        path = Path(path).expanduser()
        try:
            info = check_line(path)
        except MyTalkError as error:
            self._refuse_line(str(error))
            return False
        self._line_fallback = (self.line, self.waveform.line if self.line is not None else None,
                               self.model.line_channels)
        self._use_line(path)
        restored = self._restore_pick(self.line_channels_box, "line", path)
        if restored:
            self.model.line_channels = self.line_channels_box.pick()
        if info.sound_cut_short_note is not None:  # a copy still running: its end is not there yet
            self.status_line.show_note(f"{path.name}: {info.sound_cut_short_note}", "warning")
        elif restored:
            self.status_line.show_note(f"{path.name}: the mouth and the render follow "
                                       f"{self._heard(self.line_channels_box)}, as picked for this line before")
        elif len(self._line_channel_list) > 2:  # more than a stereo pair: a poly take, or a camera's inputs
            box = self.line_channels_box
            heard = "them all, mixed" if box.hears_all() else box.caption()
            self.status_line.show_note(f"{path.name} has {len(self._line_channel_list)} channels: the mouth follows "
                                       f"{heard}; pick the actor's microphone beside Line…", "warning")
        self._draw_line()
        return True

    def _draw_line(self) -> None:
        """Decode the line's picked channels for its waveform lane, in the background."""
        path, pick = self.line, self.model.line_channels
        if path is None:
            return
        self.waveform.message = f"decoding {path.name}…"
        self.waveform.set_line(None)
        channels = self._line_channel_list
        run_in_background(lambda: _lane_samples(path, pick, channels),
                          lambda samples: self._on_line_audio(path, pick, samples),
                          lambda error: self._on_line_failed(path, pick, error), owner=self)

    def _on_line_channels(self, pick: str | None) -> None:
        """The editor picked other channels of the line: the mouth, the render and the lane follow them."""
        if self.line is None or pick == self.model.line_channels:
            return
        self.model.line_channels = pick
        self.channel_picks.remember("line", self.line, pick)
        self.visemes.clear()
        self.status_line.show_note(f"{self.line.name}: the mouth and the render follow {self._heard(self.line_channels_box)}")
        self._draw_line()
        self._update_buttons()

    def _use_line(self, path: Path | None, pick: str | None = None) -> None:
        self.model.set_line(path)
        self._line_channel_list, heard = _channels_heard(path, "line") if path is not None else ([], [])
        self.line_channels_box.set_channels(self._line_channel_list, heard)
        if pick is not None and self.line_channels_box.choose(pick):
            self.model.line_channels = pick
        self.visemes.clear()
        self.open_line_button.setToolTip(f"Replacement line: {path}" if path else "Open the replacement line (wav, mp3, …)")
        self.open_line_button.setText(line_button_text(path) if path else "Line…")
        self._update_buttons()

    def _refuse_line(self, reason: str) -> None:
        kept = f" The line stays {self.line.name}." if self.line is not None else ""
        self.show_error(f"Cannot use this replacement line: {reason.rstrip('.')}.{kept}")

    def set_range(self, start: int, stop: int) -> None:
        """Mark [start, stop) (stop exclusive) and park the playhead on the in point."""
        self.transport.set_range(start, stop)
        self.transport.seek(start)

    def _on_production_audio(self, path: Path, pick: str | None, samples: Any) -> None:
        if path == self.clip and pick == self.model.guide_channels:  # not a clip or a pick replaced while it decoded
            self.waveform.set_production(samples)

    def _on_line_audio(self, path: Path, pick: str | None, samples: Any) -> None:
        if path == self.line and pick == self.model.line_channels:  # not a line or a pick replaced while it decoded
            self.waveform.set_line(samples)

    def _on_line_failed(self, path: Path, pick: str | None, error: BaseException) -> None:
        """The line passed the probe but its sound cannot be decoded: put the previous line back (all the
        channels of this line, when only the channels picked cannot be)."""
        if path != self.line or pick != self.model.line_channels:
            return
        if pick is not None:
            self.line_channels_box.choose(None)  # its `picked` draws the whole line again
            self.show_error(f"Cannot use channels {pick} of {path.name}: {str(error).rstrip('.')}. "
                            f"The line's channels are all used again.")
            return
        previous, samples, previous_pick = self._line_fallback
        self._use_line(previous, previous_pick)
        self.waveform.message = "No replacement line: open one with “Line…”"
        self.waveform.set_line(samples)
        self._refuse_line(f"{path.name}: its sound cannot be decoded ({error})")

    def _on_production_failed(self, error: BaseException) -> None:
        """The clip's own sound cannot be drawn: the lane stays flat, and the banner says why."""
        self.show_error(f"cannot draw the clip's sound: {error}")

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
        if b is None and plan.streamed is not None:
            picture = cv2.imread(str(plan.streamed), cv2.IMREAD_COLOR)
            if picture is not None:  # gone: the proxy has just replaced the streamed frames
                b = cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)
        if b is None and plan.poster is not None:
            b = plan.poster.image
        self.viewer.caption = plan.caption
        self.viewer.set_frames(a, b)

    def set_view_mode(self, mode: str) -> None:
        """"A" (original), "B" (the preview) or "wipe"."""
        self.viewer.set_mode(mode)
        self.transport_bar.show_view_mode(mode)

    def toggle_ab(self) -> None:
        self.set_view_mode("A" if self.viewer.mode != "A" else "B")

    # -- playback --------------------------------------------------------------------------------

    def _on_speed_changed(self) -> None:
        self.transport_bar.show_playing(bool(self.transport.speed))
        self.player.on_speed_changed()

    def stop_playback(self) -> None:
        self.transport.stop()

    # -- keyboard --------------------------------------------------------------------------------

    # Keys reach these two from `self.keys` (a KeyRouter on the application), whichever widget of
    # the panel has the focus, before that widget can eat them; not from keyPressEvent.

    def route_keys_from(self, widget: QWidget) -> None:
        """Let the editing keys work inside `widget` too (the host window around the panel, its docks)."""
        self.keys.add_root(widget)

    def handle_key_release(self, event: QKeyEvent) -> bool:
        """K released: J and L shuttle again instead of stepping."""
        if event.key() == Qt.Key.Key_K and not event.isAutoRepeat():
            self.transport.release_k()
            event.accept()
            return True
        return False

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
            "set_in": lambda: self._mark(t.set_in()),
            "set_out": lambda: self._mark(t.set_out()),
        }
        action = own.get(command.name) or getattr(t, command.name)
        action()

    def _mark(self, note: str | None) -> None:
        """After I or O: say so when the marks had to be swapped (nothing is ever cleared silently)."""
        self.status_line.show_note(note or "", "warning")

    def _on_position_typed(self) -> None:
        """Enter in the timecode field jumped: the keyboard goes back to the panel, for I, O and the arrows."""
        self.status_line.clear_note()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

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
        self.anticipation.schedule()

    def _update_offset_label(self) -> None:
        self.slip_bar.show_slip(self.model.slip.label(self.transport.fps))

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
        if self._reopen_changed(kind):
            return None
        try:
            request = self.build_request(kind=kind)
        except MyTalkError as error:
            self.show_error(str(error))
            return None
        folder = self.settings.output_folder()
        if kind == "commit" and folder is not None:
            self.render_folders.remember(self.project, folder)  # typed without leaving the field
        wire = sync_request_to_json(request)
        if kind == "preview":
            self.anticipation.before_preview(wire)
        job_id = self.runtime.send(kind, request=wire)
        self.model.job_sent(job_id, request)
        start, stop = int(request.in_point or 0), int(request.out_point or 0)
        self.jobs.add(JobEntry(job_id, kind, range_label(kind, start, stop, self.transport.timecode),
                               first_frame=max(0, start - request.handles)))
        return job_id

    def _reopen_changed(self, kind: str) -> bool:
        """True, with nothing sent, when the clip or the line changed on disk since it was opened
        (`panel_model.opened`): it is opened again as it is now, the marks kept where they still fit, and the
        status line says so. The editor sees the new file before any job renders it, and a commit is never
        made from a file other than the one its preview showed."""
        changed = self.model.changed_inputs()
        if not changed:
            return False
        clip, line, marks = self.clip, self.line, self.transport.range()
        marks_lost = False
        unreadable: list[str] = []
        if clip is not None and clip in changed:
            if not self.load_clip(clip):
                unreadable.append(clip.name)  # the banner says why; the clip on screen stays
            elif marks is not None and marks[1] <= self.transport.frame_count:
                self.set_range(*marks)
            elif marks is not None:
                marks_lost = True  # cleared by the new clip, never clamped: the editor marks again
        if line is not None and line in changed and not self.load_line(line):
            unreadable.append(line.name)
        names = " and ".join(path.name for path in changed)
        if unreadable:
            note = f"{names} changed on disk since it was opened, and {' and '.join(unreadable)} cannot be read now"
        else:
            note = (f"{names} changed on disk since it was opened: it is open again as it is now; "
                    + ("the marks no longer fit it and were cleared" if marks_lost else
                       f"check it, then press {'Preview' if kind == 'preview' else 'Commit'} again"))
            video = self.info.video if self.info is not None else None
            if video is not None and video.cut_short_note is not None:
                note += f" ({video.cut_short_note})"
        self.status_line.show_note(note, "warning")
        return True

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
        self.anticipation.forget_learned()
        self.settings.set_engines(list(hello.get("engines", [])), hello.get("default_engine"))
        self._update_runtime_label()
        self._update_buttons()

    def _on_event(self, event: dict[str, Any]) -> None:
        if self.anticipation.handle(event):
            return
        job_id = str(event.get("id"))
        entry = self.jobs.entries.get(job_id)
        if event.get("event") == "preview-frames":
            if entry is not None and not entry.finished:
                self._show_streamed(StreamedFrames.from_event(event))
            return
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
        if entry.state == "done" and entry.note_lines and entry.kind in ("preview", "commit"):
            # Where the result is judged, not only in its row: why a stretch kept the old mouth, what was heard.
            self.status_line.show_note(headline(entry.kind, entry.note_lines), "warning")
        if reaction.visemes is not None:
            self._show_visemes(entry, *reaction.visemes)
        if reaction.poster_dropped:
            self._render_now()  # that preview failed or was cancelled: its first frame is not a result
        self.jobs.update_entry(job_id)

    def _show_streamed(self, frames: StreamedFrames) -> None:
        """More frames of a rendering preview: B shows them on the frames they cover, until the proxy."""
        if self.model.preview.take_frames(frames) and self.model.preview.poster is None:
            self._show_b_from(frames.start)
        elif frames.covers(self.transport.position):
            self._schedule_render()

    # -- preparation (`anticipation`) -------------------------------------------------------------

    def _show_prepare_note(self, note: str) -> None:
        tip = PREVIEW_TIP if self.model.ready() else NOT_READY_TIP
        self.preview_button.setToolTip(f"{tip}\n{note}" if note else tip)

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
        self._crash_message = message
        self._update_runtime_label()

    def _on_runtime_restarted(self) -> None:
        # Replace the crash report only while it is still what the banner says: a later error stays.
        crash, self._crash_message = self._crash_message, None
        if crash is not None and not self.banner.isHidden() and self.banner.text == crash:  # not dismissed
            self.banner.show_message(restarted_message(crash), "info")
        self._update_runtime_label()

    def restart_runtime(self) -> None:
        self.banner.hide()
        self.runtime.start()

    def _update_runtime_label(self) -> None:
        colour, text = runtime_status(self.runtime.state, self.runtime.hello)
        self.runtime_label.setText(f"<span style='color:{colour}'>●</span> {text}")

    def _update_audio_note(self) -> None:
        """Say on screen when nothing will be heard (Qt only tells stderr), and why."""
        reason = self.audio.reason
        self.audio_note.setText(f"<span style='color:#c69026'>●</span> {'no sound: playback is silent' if reason else ''}")
        self.audio_note.setToolTip(reason)
        self.audio_note.setVisible(bool(reason))

    def _update_buttons(self) -> None:
        ready = self.model.ready()
        self.preview_button.setEnabled(ready)
        self.commit_button.setEnabled(ready)
        self.preview_button.setToolTip(PREVIEW_TIP if ready else NOT_READY_TIP)
        self.anticipation.schedule()
        self._update_naming_note()

    # -- render folder ---------------------------------------------------------------------------

    @property
    def project(self) -> Path | None:
        """What commits are filed under: the timeline a host set (`set_project`), else the clip."""
        return self.output_folders.project(self.clip)

    @property
    def render_folders(self) -> RenderFolders:
        """The remembered render folder of each project."""
        return self.output_folders.folders

    def set_project(self, path: Path | None) -> None:
        """File commits under `path` (a timeline), whichever clip is open; None: under each clip."""
        self.output_folders.timeline = Path(path).expanduser() if path is not None else None
        self._show_render_folder()

    @property
    def render_folder(self) -> Path | None:
        """The folder the next commit writes to, as the Render folder field shows it."""
        text = self.settings.output.text().strip()
        return Path(text).expanduser() if text else None

    def _show_render_folder(self) -> None:
        folder, note = self.output_folders.shown(self.clip)
        self.settings.set_output_folder(folder, note)
        self._update_naming_note()

    def _on_output_chosen(self, folder: Path) -> None:
        note = self.output_folders.choose(self.clip, folder)
        if note:
            self.status_line.show_note(note)
        self._show_render_folder()

    def _update_naming_note(self) -> None:
        suffix = self.settings.wrapper_suffix() or ".mov"
        self.naming_label.setText(naming_note(self.clip, self.transport.range(), suffix))
        self.naming_label.setToolTip(naming_tip(self.render_folder))

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
        self.anticipation.close()
        self.keys.uninstall()
        self.player.stop()
        self.audio.close()
        self._render_timer.stop()
        self.runtime.stop()
        for decoder in (self.decoder, self.preview_decoder):
            if decoder is not None:
                decoder.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def _channels_heard(path: Path, what: str) -> tuple[list[SoundChannel], list[SoundChannel]]:
    """(every channel of the file, those a job without a pick hears: its first stream with sound), both empty for
    a file whose channels cannot be listed (the job then says what is wrong with it)."""
    try:
        channels = sound_channels(path)
        if len({c.stream_index for c in channels}) < 2:
            return channels, channels  # one stream: nothing to judge, and nothing decoded here
        stream = clip_sound_stream(path, what=what).index  # several: which carries sound (may decode some)
    except MyTalkError:
        return [], []
    return channels, [c for c in channels if c.stream_index == stream]


def _lane_samples(path: Path, pick: str | None, channels: list[SoundChannel]) -> Any:
    """A file's sound for its waveform lane, mono: the channels `pick` names (`--audio-channels` or
    `--guide-channels` text) among `channels`, the file's own (`sound_channels`, listed when it was opened), or
    what a job without a pick reads (its first stream with sound, all its channels)."""
    chosen = pick_channels(pick, path, channels or None) if pick is not None else None
    return decode_sound(path, DISPLAY_RATE, channels=1, folder=_scratch(),
                        stream_index=None if chosen is None else chosen.stream_index,
                        rows=None if chosen is None else chosen.rows).samples[0]


def _scratch() -> Path:
    """MyTalk's scratch folder, where a waveform's sound is spooled while it is decoded (the system's
    temporary folder may be memory)."""
    return UserDirs.ensure(user_dirs().scratch)


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
