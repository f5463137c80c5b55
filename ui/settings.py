"""Render settings: one widget per setting of the manifest's schema, plus the line's transcript,
the guide audio, the face and the render folder (`output_row`, which the panel places outside the
scrolled form).

The widgets are built from `manifest.json`'s settings (`mytalk.core.settings`): a setting with an
`enum` gets a list, a number a spin box with the schema's range, an integer a whole-number box; the
default is preselected and the description is the tooltip. A setting added to the manifest so
appears here without a change to this file. Three settings get a richer widget over the same
schema: the engine list comes from the runtime's hello event (`available_engines()` in the
child), so the panel offers exactly the engines that are installed; the language is a shortlist
with free typing; codecs show a short name (`codec_label`) with the preset's description as tooltip.
A codec that more than one container holds (DNxHR in MOV or Avid's MXF, H.264 in MP4, MOV or MKV) gets a
Wrapper list below it; the editor's choice per codec is remembered by the panel (`wrapperChosen`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from mytalk.core.media.writer import CODEC_PRESETS, MXF_RATES
from mytalk.core.settings import GUIDE_MODES, Setting, check_values, shipped_settings
from mytalk.ui.buttons import tool_button

PANEL_DECIDES: Mapping[str, str] = {"quality": "the Preview button renders proxies, Commit the deliverable"}
"""Settings with no widget because a panel action sets them, and which action."""
COMMON_LANGUAGES = (("en", "English"), ("es", "Spanish"), ("fr", "French"), ("de", "German"), ("it", "Italian"),
                    ("pt", "Portuguese"), ("pt-br", "Portuguese (Brazil)"), ("nl", "Dutch"), ("pl", "Polish"),
                    ("ru", "Russian"), ("ja", "Japanese"), ("cmn", "Mandarin"))
"""The picker's shortlist; any other espeak-ng code can be typed (the runtime checks it)."""
TRANSCRIPT_PLACEHOLDER = "Words of the new line (optional: sharpens the mouth shapes)"
_ENGINE_NOTES = {"copy": "copy (conform check)", "classic": "classic", "mytalk": "mytalk (neural)"}
_SUFFIXES = {"handles": " fr"}
WRAPPER_LABELS = {".mov": "MOV (QuickTime)", ".mxf": "MXF OP1a (Avid)", ".mp4": "MP4", ".mkv": "MKV (Matroska)"}
"""How the Wrapper list names each container a codec may be written to (`CodecPreset.extensions`)."""
_UNBOUNDED = 1_000_000
"""A spin box needs bounds; a schema without one gets this (far beyond any useful value)."""


def choose_engine(engines: list[str], default: str | None) -> str | None:
    """The engine to preselect: the runtime's default when installed, else `classic`, else the first."""
    for candidate in (default, "classic"):
        if candidate and candidate in engines:
            return candidate
    return engines[0] if engines else None


def codec_label(name: str) -> str:
    """A codec as the list shows it: its preset's description up to the first comma, without asides in
    brackets ("Avid DNxHR HQ or HQX"), so that the list fits a narrow panel; the whole description is
    the item's tooltip."""
    preset = CODEC_PRESETS.get(name)
    if preset is None or not preset.description:
        return name
    return re.sub(r"\s*\([^)]*\)", "", preset.description.split(",")[0]).strip() or name


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


class SettingsPanel(QWidget):
    """A form of the request settings; `values()` gives SyncRequest keyword arguments.

    `schema` is the settings table to build from (default: the shipped manifest's).
    """

    changed = Signal()
    facePointCleared = Signal()
    outputChosen = Signal(object)
    """Path: the editor picked (…) or typed (then left the field) a render folder."""
    wrapperChosen = Signal(str, str)
    """(codec, suffix): the editor picked the container commits of that codec are written to."""
    # Built from the schema in __init__; named here because the methods below use them.
    engine: QComboBox
    language: QComboBox

    def __init__(self, parent: QWidget | None = None, schema: Mapping[str, Setting] | None = None) -> None:
        super().__init__(parent)
        self.schema = shipped_settings() if schema is None else schema
        self.widgets: dict[str, QWidget] = {}
        """The widget of each setting shown, by setting name."""
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.guide = QComboBox(self)
        for choice in GUIDE_MODES:
            self.guide.addItem(choice, choice)
        self.guide.setToolTip("Use the clip's own audio over the range to align the line (auto) or never")
        self.guide.currentIndexChanged.connect(self.changed)

        self.transcript = QPlainTextEdit(self)
        self.transcript.setObjectName("transcript")
        self.transcript.setPlaceholderText(TRANSCRIPT_PLACEHOLDER)
        self.transcript.setTabChangesFocus(True)
        self.transcript.setFixedHeight(3 * self.fontMetrics().lineSpacing() + 12)
        self.transcript.setToolTip("The words of the replacement line: the mouth shapes then follow its phones. "
                                   "Leave empty to let the engine recognise them")
        self.transcript.textChanged.connect(self.changed)

        self.face = QLabel("auto (largest face)", self)
        self.face.setObjectName("faceLabel")
        clear_face = QToolButton(self)
        clear_face.setText("×")
        clear_face.setToolTip("Forget the picked face; the engine picks the largest face")
        clear_face.clicked.connect(self.clear_face)
        face_row = QHBoxLayout()
        face_row.addWidget(self.face, 1)
        face_row.addWidget(clear_face)
        self._face_point: tuple[float, float] | None = None

        self.wrapper = QComboBox(self)
        self.wrapper.setObjectName("wrapper")
        self.wrapper.setToolTip("The container commits are written to: MXF for an Avid, MOV for most others")
        self._wrappers: dict[str, str] = {}
        """The container picked for each codec that has a choice, by codec name."""
        self._clip_rate: Fraction | None = None
        """The open clip's frame rate: MXF holds only some (`writer.MXF_RATES`)."""
        self.wrapper.activated.connect(self._on_wrapper_picked)

        # Rows that are not manifest settings sit next to the setting they belong with.
        after: dict[str, list[tuple[str, Any]]] = {
            "motion_driver": [("Guide audio", self.guide), ("Transcript", self.transcript)],
            "handles": [("Face", face_row)],
            "codec": [("Wrapper", self.wrapper)],
        }
        for name, setting in self.schema.items():
            if name in PANEL_DECIDES:
                continue
            widget = self._setting_widget(setting)
            widget.setObjectName(name)
            widget.setToolTip(setting.description)
            self.widgets[name] = widget
            if not hasattr(self, name):  # `panel.settings.openness`; never shadow a QWidget method
                setattr(self, name, widget)
            form.addRow(_label(name), widget)
            for label, row in after.pop(name, []):
                form.addRow(label, row)
        for rows in after.values():
            for label, row in rows:
                form.addRow(label, row)
        self._fill_wrappers()

        self.output = QLineEdit(self)
        self.output.setObjectName("outputFolder")
        self.output.setPlaceholderText("render folder for commits")
        self.output.editingFinished.connect(self._on_output_typed)
        self._output_shown = ""
        browse = tool_button(self, "…", "Choose the folder commits are written to (remembered for this project)",
                             self._browse)
        browse.setFixedWidth(28)
        self.output_row = QWidget(self)
        """The render folder and its … button: the panel shows it below the form, always in view."""
        row = QHBoxLayout(self.output_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.output, 1)
        row.addWidget(browse)

    # -- widgets from the schema -------------------------------------------------------------------

    def _setting_widget(self, setting: Setting) -> QWidget:
        """The widget for one setting, preset to its default and wired to `changed`."""
        special = {"engine": self._engine_widget, "language": self._language_widget, "codec": self._codec_widget}
        if setting.name in special:
            return special[setting.name](setting)
        if setting.enum is not None:
            combo = QComboBox(self)
            for choice in setting.enum:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(list(setting.enum).index(setting.default))
            combo.currentIndexChanged.connect(self.changed)
            return combo
        if setting.type == "number":
            spin = QDoubleSpinBox(self)
            low = -_UNBOUNDED if setting.minimum is None else setting.minimum
            high = _UNBOUNDED if setting.maximum is None else setting.maximum
            spin.setRange(low, high)
            spin.setDecimals(3)
            spin.setSingleStep(0.05)
            spin.setValue(setting.default_value)
            spin.valueChanged.connect(self.changed)
            return spin
        if setting.type == "integer":
            box = QSpinBox(self)
            box.setRange(-_UNBOUNDED if setting.minimum is None else int(setting.minimum),
                         _UNBOUNDED if setting.maximum is None else int(setting.maximum))
            box.setSuffix(_SUFFIXES.get(setting.name, ""))
            box.setValue(setting.default)
            box.valueChanged.connect(self.changed)
            return box
        if setting.type == "boolean":
            check = QCheckBox(self)
            check.setChecked(setting.default)
            check.toggled.connect(self.changed)
            return check
        line = QLineEdit(str(setting.default), self)
        line.textChanged.connect(self.changed)
        return line

    def _engine_widget(self, setting: Setting) -> QComboBox:
        combo = QComboBox(self)
        combo.setPlaceholderText("waiting for the runtime…")
        combo.currentIndexChanged.connect(self.changed)
        return combo

    def _language_widget(self, setting: Setting) -> QComboBox:
        combo = QComboBox(self)
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for code, name in COMMON_LANGUAGES:
            combo.addItem(f"{code} – {name}", code)
        index = combo.findData(setting.default)
        if index >= 0:
            combo.setCurrentIndex(index)
        combo.currentTextChanged.connect(self.changed)
        return combo

    def _codec_widget(self, setting: Setting) -> QComboBox:
        combo = QComboBox(self)
        for name in setting.enum or ():
            if name in CODEC_PRESETS:
                combo.addItem(codec_label(name), name)
                combo.setItemData(combo.count() - 1, CODEC_PRESETS[name].description, Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(0, combo.findData(setting.default)))
        combo.currentIndexChanged.connect(self._fill_wrappers)
        combo.currentIndexChanged.connect(self.changed)
        return combo

    # -- wrapper -----------------------------------------------------------------------------------

    def _codec(self) -> str | None:
        widget = self.widgets.get("codec")
        return str(widget.currentData()) if isinstance(widget, QComboBox) and widget.currentData() else None

    def _fill_wrappers(self) -> None:
        """List the containers the current codec may be written to, the one picked for it selected."""
        codec = self._codec()
        preset = CODEC_PRESETS.get(codec) if codec else None
        suffixes = preset.extensions if preset is not None else ()
        self.wrapper.blockSignals(True)
        self.wrapper.clear()
        model = self.wrapper.model()
        assert isinstance(model, QStandardItemModel)
        usable = []
        for row, suffix in enumerate(suffixes):
            self.wrapper.addItem(WRAPPER_LABELS.get(suffix, suffix.lstrip(".").upper()), suffix)
            refusal = self._refusal(suffix)
            item = model.item(row)
            item.setEnabled(refusal is None)
            if refusal is not None:
                item.setToolTip(refusal)
            else:
                usable.append(suffix)
        picked = self._wrappers.get(codec or "")
        shown = picked if picked in usable else (usable[0] if usable else None)
        self.wrapper.setCurrentIndex(self.wrapper.findData(shown) if shown else -1)
        self.wrapper.setEnabled(len(usable) > 1)
        self.wrapper.blockSignals(False)

    def _refusal(self, suffix: str) -> str | None:
        """Why the open clip cannot be written to `suffix`, or None when it can."""
        if suffix == ".mxf" and self._clip_rate is not None and self._clip_rate not in MXF_RATES:
            return (f"MXF holds 23.976, 24, 25, 29.97, 30, 48, 50, 59.94 or 60 fps; this clip runs at "
                    f"{float(self._clip_rate):.3g} fps")
        return None

    def set_clip_rate(self, rate: Fraction | None) -> None:
        """The open clip's frame rate (None: no clip): a container that cannot hold it is greyed in the
        Wrapper list, with the reason as its tooltip, and commits fall back to the codec's first container
        for this clip; the editor's pick is kept for the next clip that fits it."""
        self._clip_rate = None if rate is None else Fraction(rate)
        self._fill_wrappers()
        self.changed.emit()

    def _on_wrapper_picked(self, index: int) -> None:
        codec, suffix = self._codec(), self.wrapper.itemData(index)
        if codec and suffix:
            self._wrappers[codec] = str(suffix)
            self.wrapperChosen.emit(codec, str(suffix))
            self.changed.emit()

    def set_wrapper(self, codec: str, suffix: str) -> None:
        """Write commits of `codec` to `suffix` (a remembered choice); ignored when the codec cannot be."""
        preset = CODEC_PRESETS.get(codec)
        if preset is None or suffix not in preset.extensions:
            return
        self._wrappers[codec] = suffix
        if codec == self._codec():
            self._fill_wrappers()
            self.changed.emit()

    def wrapper_suffix(self) -> str | None:
        """The container commits are written to (".mxf"), or None when no codec is listed."""
        suffix = self.wrapper.currentData()
        return str(suffix) if suffix else None

    def setting_value(self, name: str) -> Any:
        """The value of setting `name` as its widget shows it, in the schema's type."""
        widget = self.widgets[name]
        if name == "language":
            return self.language_code()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QDoubleSpinBox):
            return round(widget.value(), 3)
        if isinstance(widget, QSpinBox):
            return widget.value()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        assert isinstance(widget, QLineEdit)
        return widget.text()

    def apply(self, values: Mapping[str, Any]) -> None:
        """Show `values` (a saved render's settings, say) in the widgets, after checking them through
        the schema: a value out of range is refused in the CLI's and the runtime's words, not
        silently clamped by a spin box."""
        checked = check_values(self.schema, values)
        for name, value in checked.items():
            widget = self.widgets.get(name)
            if widget is None:
                continue  # decided by a panel action (PANEL_DECIDES)
            if name == "engine":
                self.select_engine(value)
            elif name == "language":
                self.set_language(value)
            elif isinstance(widget, QComboBox):
                widget.setCurrentIndex(widget.findData(value))
            elif isinstance(widget, QDoubleSpinBox | QSpinBox):
                widget.setValue(value)
            elif isinstance(widget, QCheckBox):
                widget.setChecked(value)
            elif isinstance(widget, QLineEdit):
                widget.setText(value)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Render folder for commits", self.output.text() or str(Path.home()))
        if folder:
            self.output.setText(folder)
            self._on_output_typed()

    def _on_output_typed(self) -> None:
        text = self.output.text().strip()
        if text and text != self._output_shown:
            self._output_shown = text
            self.outputChosen.emit(Path(text).expanduser())

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
        return text.split(" ", 1)[0].lower() if text else str(self.schema["language"].default)

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

    def set_output_folder(self, folder: Path, note: str = "") -> None:
        """Show the project's render folder (remembered or default); `note` says which, in the tooltip."""
        self._output_shown = str(folder)
        self.output.setText(str(folder))
        self.output.setToolTip(f"Commits are written here. {note}".strip())

    def output_folder(self) -> Path | None:
        """The render folder as the field shows it, or None when it is empty."""
        text = self.output.text().strip()
        return Path(text).expanduser() if text else None

    def values(self) -> dict[str, Any]:
        """SyncRequest keyword arguments (without video, audio and the range), and `wrapper`, the container
        suffix commits are written to (`panel_model.request.build_request` makes it part of the output)."""
        face = self._face_point
        return {
            **{name: self.setting_value(name) for name in self.widgets},
            "guide": self.guide.currentData(),
            "transcript": self.transcript_text(),
            "output": self.output_folder(),
            "face": f"{face[0]:.0f},{face[1]:.0f}" if face else None,
            "wrapper": self.wrapper_suffix(),
        }
