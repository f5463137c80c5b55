"""The job list: one row per preview or commit, with progress, ETA, cancel, and the outcome.

`JobEntry` is the pure-Python state of one job, updated from runtime events; `JobListWidget`
draws the entries. Errors say what went wrong and on which frame, with its timecode, because an
editor fixes a problem by going to that frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mytalk.ui.panel_model.job_notes import JobNotes

STATES = ("queued", "running", "done", "failed", "cancelled")


def breakable(text: str) -> str:
    """Let long file names wrap: a zero-width space after each `_`, `-` and `/`."""
    return text.replace("_", "_\u200b").replace("/", "/\u200b").replace("-", "-\u200b")


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(round(seconds)))
    return f"ETA {seconds // 60}:{seconds % 60:02d}"


@dataclass
class JobEntry:
    """State of one job as the panel knows it."""

    id: str
    kind: str
    label: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    stage: str = ""
    eta_s: float | None = None
    message: str = ""
    frame: int | None = None
    output: Path | None = None
    result: dict[str, Any] | None = None
    first_frame: int = 0
    """Source frame that render progress counts from (the in point minus the handles)."""
    notes: JobNotes = field(default_factory=JobNotes)
    """A finished render's warnings and the frames it left without a face (`job_notes`)."""
    note_lines: tuple[str, ...] = ()
    """`notes` as sentences, with the timecodes of the clip it was rendered from: the row's tooltip."""

    @property
    def current_frame(self) -> int | None:
        """The source frame being rendered, from the last progress event (None before rendering)."""
        if self.stage != "render" or self.done <= 0:
            return None
        return self.first_frame + self.done

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def apply(self, event: dict[str, Any], timecode: Callable[[int], str] | None = None) -> None:
        """Update from one runtime event with this job's id."""
        name = event.get("event")
        if name == "progress":
            self.state = "running"
            self.done, self.total = int(event.get("done", 0)), int(event.get("total", 0))
            self.stage = str(event.get("stage", ""))
            self.eta_s = event.get("eta_s")
        elif name == "preview-ready" and not event.get("partial"):
            self.output = Path(event["path"])
        elif name == "done":
            self.state = "done"
            self.result = event.get("result") or {}
            self.done = self.total = max(self.total, 1)
            self.eta_s = None
            path = self.result.get("output") or self.result.get("path")
            if path:
                self.output = Path(path)
            self.notes = JobNotes.from_result(self.result)
            self.note_lines = tuple(self.notes.lines(timecode))
            self.message = f"wrote {self.output.name}" if self.output else "done"
            if self.notes:
                self.message += f"; {self.notes.summary()} (hover for details)"
        elif name == "error":
            self.state = "cancelled" if event.get("code") == "JobCancelledError" else "failed"
            self.frame = event.get("frame")
            self.eta_s = None
            text = str(event.get("message", "failed"))
            if self.frame is not None and self.state == "failed":
                where = f"frame {self.frame}" + (f" ({timecode(self.frame)})" if timecode else "")
                if f"frame {self.frame}" not in text:
                    text = f"{where}: {text}"
                elif timecode:
                    text = text.replace(f"frame {self.frame}", where, 1)
            self.message = text

    def status_text(self) -> str:
        if self.state == "queued":
            return "queued"
        if self.state == "running":
            percent = f"{100 * self.done // self.total}%" if self.total else ""
            return " ".join(part for part in (self.stage, f"{self.done}/{self.total}" if self.total else "", percent,
                                               format_eta(self.eta_s)) if part)
        return self.message or self.state


class _JobRow(QFrame):
    cancelRequested = Signal(str)

    def __init__(self, entry: JobEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(entry.label, self)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setObjectName("jobTitle")
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.status = QLabel(self)
        self.status.setObjectName("jobStatus")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel = QToolButton(self)
        self.cancel.setText("Cancel")
        self.cancel.clicked.connect(lambda: self.cancelRequested.emit(self.entry.id))
        self.cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        progress = QHBoxLayout()
        progress.addWidget(self.bar, 1)
        progress.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addLayout(progress)
        layout.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        entry = self.entry
        self.bar.setRange(0, max(1, entry.total))
        self.bar.setValue(min(entry.done, max(1, entry.total)))
        self.status.setText(breakable(entry.status_text()))
        self.cancel.setVisible(not entry.finished)
        colour = {"failed": "#e5534b", "cancelled": "#c69026", "done": "#57ab5a"}.get(entry.state, "")
        if entry.state == "done" and entry.notes:
            colour = "#c69026"  # written, with something to read first: the status line's warning colour
        self.status.setStyleSheet(f"color: {colour};" if colour else "")
        if entry.output is not None:
            self.status.setToolTip("\n\n".join([str(entry.output), *entry.note_lines]))


class JobListWidget(QWidget):
    """Rows of jobs, newest on top; `cancelRequested(job_id)` when a Cancel button is pressed."""

    cancelRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: dict[str, JobEntry] = {}
        self._rows: dict[str, _JobRow] = {}
        self._inner = QWidget()
        self._list = QVBoxLayout(self._inner)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.setSpacing(4)
        self._empty = QLabel("No jobs yet. Mark a range, then Preview (P) or Commit.", self._inner)
        self._empty.setWordWrap(True)
        self._empty.setObjectName("jobsEmpty")
        self._list.addWidget(self._empty)
        self._list.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # A click in the list must not take the keyboard: the arrows, J/K/L, I and O stay the panel's.
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(self._inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    def add(self, entry: JobEntry) -> None:
        self.entries[entry.id] = entry
        row = _JobRow(entry, self._inner)
        row.cancelRequested.connect(self.cancelRequested)
        self._rows[entry.id] = row
        self._list.insertWidget(0, row)
        self._empty.hide()

    def update_entry(self, job_id: str) -> None:
        row = self._rows.get(job_id)
        if row is not None:
            row.refresh()

    def row(self, job_id: str) -> _JobRow | None:
        return self._rows.get(job_id)

    def active(self) -> list[JobEntry]:
        return [entry for entry in self.entries.values() if not entry.finished]
