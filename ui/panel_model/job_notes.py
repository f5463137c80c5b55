"""What a finished preview or commit tells the editor beside its file: its warnings and the frames it left alone.

The command line prints a job's warnings after "wrote ..." (a clip or line cut short, a line silent over the
range, a camera's channels heard mixed, a matte the codec drops) and counts the frames that passed through
unchanged for want of the actor's face. The panel used to show only "wrote ...", so an editor judging a
preview never learned why a stretch of it kept the old mouth, or that the guide heard the other actor's
microphone. The runtime's summary of a render carries both (`commands.job_notes`); this module words them
for the panel, where the remedies are its own controls, not the command line's options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_RUNS_NAMED = 4
"""Runs of faceless frames named one by one; more are counted."""

_PANEL_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"pick it with --guide-channels \S+"), "pick it in the Guide list beside Clip…"),
    (re.compile(r"pick the actor's microphone with --guide-channels \(numbers or track names, such as [^)]*\)"),
     "pick the actor's microphone in the Guide list beside Clip…"),
    (re.compile(r"pick the channels to use with --audio-channels \(numbers or track names, such as [^)]*\)"),
     "pick the channels to use in the list beside Line…"),
    (re.compile(r"use --codec prores4444 \(\.mov\) or ffv1 \(\.mkv\) to keep it"),
     "pick ProRes 4444 or FFV1 as the codec to keep it"),
    (re.compile(r"check --audio-in if that is not intended"), "check the line's slip if that is not intended"),
)
"""A job's remedies as the command line words them, and as the panel does: its lists and settings."""


def in_panel_words(warning: str) -> str:
    """`warning` with the command line's remedies named as the panel's controls (`_PANEL_WORDS`)."""
    for pattern, words in _PANEL_WORDS:
        warning = pattern.sub(words, warning)
    return warning


def _runs(value: Any) -> tuple[tuple[int, int], ...]:
    runs: list[tuple[int, int]] = []
    for run in value if isinstance(value, list) else []:
        if isinstance(run, list) and len(run) == 2 and all(isinstance(v, int) for v in run) and run[0] < run[1]:
            runs.append((run[0], run[1]))
    return tuple(runs)


@dataclass(frozen=True)
class JobNotes:
    """A finished render's warnings, in the panel's words, and the runs of frames [start, stop) it passed
    through unchanged without the actor's face."""

    warnings: tuple[str, ...] = ()
    faceless: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> JobNotes:
        """The notes of a `done` event's result (none for a job that renders nothing, or an older runtime's)."""
        warnings = result.get("warnings")
        texts = tuple(in_panel_words(str(w)) for w in warnings) if isinstance(warnings, list) else ()
        return cls(texts, _runs(result.get("faceless")))

    def __bool__(self) -> bool:
        return bool(self.warnings or self.faceless)

    @property
    def faceless_frames(self) -> int:
        return sum(stop - start for start, stop in self.faceless)

    def faceless_sentence(self, timecode: Callable[[int], str] | None = None) -> str | None:
        """"12 frames without the actor's face passed through unchanged: 40-51 (00:00:01:15), 80 ...", or None."""
        if not self.faceless:
            return None
        named: list[str] = []
        for start, stop in self.faceless[:MAX_RUNS_NAMED]:
            span = str(start) if stop - start == 1 else f"{start}-{stop - 1}"
            named.append(f"{span} ({timecode(start)})" if timecode is not None else span)
        more = len(self.faceless) - MAX_RUNS_NAMED
        rest = f" and {more} more stretch{'es' if more > 1 else ''}" if more > 0 else ""
        count = self.faceless_frames
        return (f"{count} frame{'s' if count != 1 else ''} without the actor's face passed through unchanged: "
                f"frame{'s' if count != 1 else ''} {', '.join(named)}{rest}")

    def lines(self, timecode: Callable[[int], str] | None = None) -> list[str]:
        """Everything to tell, one sentence each: the faceless frames first (what the preview shows), then the
        warnings in the job's order."""
        sentence = self.faceless_sentence(timecode)
        return ([sentence] if sentence else []) + list(self.warnings)

    def summary(self) -> str:
        """A few words for a job's row: "12 frames without a face; 2 warnings"."""
        parts: list[str] = []
        if self.faceless:
            count = self.faceless_frames
            parts.append(f"{count} frame{'s' if count != 1 else ''} without a face")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}")
        return "; ".join(parts)


def headline(kind: str, lines: Sequence[str]) -> str:
    """The status line's note for a finished `kind` ("preview", "commit") whose notes read `lines`
    (`JobNotes.lines`, as its row keeps them): the first thing to tell, and how many more the row holds."""
    more = len(lines) - 1
    rest = f" ({more} more: hover the job's row)" if more > 0 else ""
    return f"{kind.capitalize()}: {lines[0]}{rest}"


__all__ = ["JobNotes", "headline", "in_panel_words"]
