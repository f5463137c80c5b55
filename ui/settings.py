"""Render settings: engine and motion driver, transcript and language, openness, smoothing, mask,
handles, codec, folder.

The choices mirror the manifest's settings schema and the CLI flags; the engine list is never
hard-coded: it comes from the runtime's hello event (`available_engines()` in the child), so
the panel offers exactly the engines that are installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from mytalk.core.jobs.request import DEFAULT_LANGUAGE, GUIDE_MODES
from mytalk.core.media.writer import CODEC_PRESETS

MOTION_DRIVERS = ("auto", "guide", "phonetic", "speech")
MASK_MODES = ("auto", "mouth", "lower-face")
FINAL_CODECS = ("prores", "prores4444", "dnxhr", "ffv1", "h264")
COMMON_LANGUAGES = (("en", "English"), ("es", "Spanish"), ("fr", "French"), ("de", "German"), ("it", "Italian"),
                    ("pt", "Portuguese"), ("pt-br", "Portuguese (Brazil)"), ("nl", "Dutch"), ("pl", "Polish"),
                    ("ru", "Russian"), ("ja", "Japanese"), ("cmn", "Mandarin"))
"""The picker's shortlist; any other espeak-ng code can be typed (the runtime checks it)."""
TRANSCRIPT_PLACEHOLDER = "Words of the new line (optional: sharpens the mouth shapes)"
_ENGINE_NOTES = {"copy": "copy (conform check)", "classic": "classic", "mytalk": "mytalk (neural)"}


def choose_engine(engines: list[str], default: str | None) -> str | None:
    """The engine to preselect: the runtime's default when installed, else `classic`, else the first."""
    for candidate in (default, "classic"):
        if candidate and candidate in engines:
            return candidate
    return engines[0] if engines else None


class SettingsPanel(QWidget):
    """A form of the request settings; `values()` gives SyncRequest keyword arguments."""

    changed = Signal()
    facePointCleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.engine = QComboBox(self)
        self.engine.setObjectName("engine")
        self.engine.setPlaceholderText("waiting for the runtime…")
        self.engine.setToolTip("Mouth generator; the list is what this installation provides")
        form.addRow("Engine", self.engine)

        self.motion_driver = self._combo(MOTION_DRIVERS, "What drives the mouth: the guide audio, the speech, or auto")
        form.addRow("Motion driver", self.motion_driver)

        self.guide = self._combo(GUIDE_MODES, "Use the clip's own audio over the range to align the line (auto) or never")
        form.addRow("Guide audio", self.guide)

        self.transcript = QPlainTextEdit(self)
        self.transcript.setObjectName("transcript")
        self.transcript.setPlaceholderText(TRANSCRIPT_PLACEHOLDER)
        self.transcript.setTabChangesFocus(True)
        self.transcript.setFixedHeight(3 * self.fontMetrics().lineSpacing() + 12)
        self.transcript.setToolTip("The words of the replacement line: the mouth shapes then follow its phones. "
                                   "Leave empty to let the engine recognise them")
        form.addRow("Transcript", self.transcript)

        self.language = QComboBox(self)
        self.language.setObjectName("language")
        self.language.setEditable(True)
        self.language.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for code, name in COMMON_LANGUAGES:
            self.language.addItem(f"{code} – {name}", code)
        self.language.setToolTip("Language of the line, as an espeak-ng code (en, es, de, fr, pt-br, …); "
                                 "type any other code")
        form.addRow("Language", self.language)

        self.openness = QDoubleSpinBox(self)
        self.openness.setRange(0.0, 2.0)
        self.openness.setSingleStep(0.05)
        self.openness.setValue(1.0)
        self.openness.setToolTip("Scale of the mouth opening; 1.0 keeps the driver's amplitude")
        form.addRow("Openness", self.openness)

        self.smoothing = QDoubleSpinBox(self)
        self.smoothing.setRange(0.0, 1.0)
        self.smoothing.setSingleStep(0.05)
        self.smoothing.setValue(0.5)
        self.smoothing.setToolTip("Temporal smoothing of mouth shapes; 0 is none")
        form.addRow("Smoothing", self.smoothing)

        self.mask_mode = self._combo(MASK_MODES, "Region regenerated and composited; the rest keeps source pixels")
        form.addRow("Mask", self.mask_mode)

        self.handles = QSpinBox(self)
        self.handles.setRange(0, 240)
        self.handles.setSuffix(" fr")
        self.handles.setToolTip("Extra frames of context before and after the range")
        form.addRow("Handles", self.handles)

        self.face = QLabel("auto (largest face)", self)
        self.face.setObjectName("faceLabel")
        clear_face = QToolButton(self)
        clear_face.setText("×")
        clear_face.setToolTip("Forget the picked face; the engine picks the largest face")
        clear_face.clicked.connect(self.clear_face)
        face_row = QHBoxLayout()
        face_row.addWidget(self.face, 1)
        face_row.addWidget(clear_face)
        form.addRow("Face", face_row)
        self._face_point: tuple[float, float] | None = None

        self.codec = QComboBox(self)
        for name in FINAL_CODECS:
            if name in CODEC_PRESETS:
                preset = CODEC_PRESETS[name]
                note = " (previews)" if name == "h264" else ""
                self.codec.addItem(f"{preset.description}{note}", name)
        self.codec.setToolTip("Commit codec; previews are always H.264")
        form.addRow("Codec", self.codec)

        self.output = QLineEdit(self)
        self.output.setObjectName("outputFolder")
        self.output.setPlaceholderText("output folder")
        browse = QPushButton("…", self)
        browse.setFixedWidth(28)
        browse.setToolTip("Choose the folder commits are written to")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.output, 1)
        row.addWidget(browse)
        form.addRow("Output", row)

        for widget in (self.engine, self.motion_driver, self.guide, self.mask_mode, self.codec):
            widget.currentIndexChanged.connect(self.changed)
        self.language.currentTextChanged.connect(self.changed)
        self.transcript.textChanged.connect(self.changed)
        for spin in (self.openness, self.smoothing):
            spin.valueChanged.connect(self.changed)
        self.handles.valueChanged.connect(self.changed)

    def _combo(self, choices: tuple[str, ...], tip: str) -> QComboBox:
        combo = QComboBox(self)
        for choice in choices:
            combo.addItem(choice, choice)
        combo.setToolTip(tip)
        return combo

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Commit folder", self.output.text() or str(Path.home()))
        if folder:
            self.output.setText(folder)

    # -- engines ---------------------------------------------------------------------------------

    def set_engines(self, engines: list[str], default: str | None = None) -> None:
        """Fill the engine list from the runtime; keeps the user's choice when it is still there."""
        current = self.engine.currentData()
        self.engine.blockSignals(True)
        self.engine.clear()
        for name in engines:
            self.engine.addItem(_ENGINE_NOTES.get(name, name), name)
        pick = current if current in engines else choose_engine(engines, default)
        if pick is not None:
            self.engine.setCurrentIndex(engines.index(pick))
        self.engine.blockSignals(False)
        self.changed.emit()

    def select_engine(self, name: str) -> None:
        index = self.engine.findData(name)
        if index < 0:
            raise ValueError(f"engine {name!r} is not installed; installed: {self.engines()}")
        self.engine.setCurrentIndex(index)

    def engines(self) -> list[str]:
        return [self.engine.itemData(i) for i in range(self.engine.count())]

    # -- transcript and language ---------------------------------------------------------------

    def language_code(self) -> str:
        """The picked or typed code: a shortlist entry's code, or the typed text up to the first space."""
        text = self.language.currentText().strip()
        index = self.language.findText(text)
        if index >= 0:
            return str(self.language.itemData(index))
        return text.split(" ", 1)[0].lower() if text else DEFAULT_LANGUAGE

    def set_language(self, code: str) -> None:
        index = self.language.findData(code)
        if index >= 0:
            self.language.setCurrentIndex(index)
        else:
            self.language.setEditText(code)

    def transcript_text(self) -> str | None:
        text = " ".join(self.transcript.toPlainText().split())
        return text or None

    # -- face ------------------------------------------------------------------------------------

    def set_face_point(self, point: tuple[float, float] | None) -> None:
        self._face_point = point
        self.face.setText("auto (largest face)" if point is None else f"picked at {point[0]:.0f}, {point[1]:.0f} px")
        self.changed.emit()

    def clear_face(self) -> None:
        self.set_face_point(None)
        self.facePointCleared.emit()

    @property
    def face_point(self) -> tuple[float, float] | None:
        return self._face_point

    # -- output ----------------------------------------------------------------------------------

    def set_default_output(self, clip: Path) -> None:
        """Suggest a commit folder for a clip, unless the user already chose one.

        Beside the clip when that folder is writable (editors keep fixes with the media);
        otherwise (camera cards, read-only shares) `~/Movies|Videos/MyTalk`.
        """
        if self.output.text().strip():
            return
        folder = clip.parent
        if not os.access(folder, os.W_OK):
            import platformdirs

            folder = Path(platformdirs.user_videos_dir()) / "MyTalk"
        self.output.setText(str(folder))

    def values(self) -> dict[str, Any]:
        """SyncRequest keyword arguments (without video, audio and the range)."""
        face = self._face_point
        return {
            "engine": self.engine.currentData(),
            "motion_driver": self.motion_driver.currentData(),
            "guide": self.guide.currentData(),
            "transcript": self.transcript_text(),
            "language": self.language_code(),
            "openness": round(self.openness.value(), 3),
            "smoothing": round(self.smoothing.value(), 3),
            "mask_mode": self.mask_mode.currentData(),
            "handles": self.handles.value(),
            "codec": self.codec.currentData(),
            "output": Path(self.output.text().strip()).expanduser() if self.output.text().strip() else None,
            "face": f"{face[0]:.0f},{face[1]:.0f}" if face else None,
        }
