"""What a commit tells the editor beside its file, in Blender's words (standard library only).

The runtime's `done` result of a commit holds the job's warnings and the runs of frames passed through
unchanged for want of the actor's face (`mytalk.core.jobs.commands.job_notes`); the command line prints them
after "wrote ...", the Qt panel shows them in its status line. In Blender they go to the Info log as
warnings, with the command line's options named as this add-on's fields, which take the same values
(`3`, `boom`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_FIELDS = (
    ("use --codec prores4444 (.mov) or ffv1 (.mkv) to keep it",
     "pick ProRes 4444 or FFV1 as the Codec in MyTalk's preferences to keep it"),
    ("check --audio-in", "check the Line Offset"),
    ("with --guide-channels", "in Guide Channels"),
    ("with --audio-channels", "in Line Channels"),
)
"""The command line's remedies, and the add-on's fields and preferences that are the same thing here."""


def in_blender_words(warning: str) -> str:
    for option, field in _FIELDS:
        warning = warning.replace(option, field)
    return warning


def result_notes(result: Mapping[str, Any]) -> list[str]:
    """One sentence per thing to tell: the frames without a face first, then the job's warnings."""
    runs = [run for run in result.get("faceless") or [] if isinstance(run, list) and len(run) == 2]
    notes: list[str] = []
    if runs:
        count = sum(stop - start for start, stop in runs)
        spans = ", ".join(str(start) if stop - start == 1 else f"{start}-{stop - 1}" for start, stop in runs[:4])
        more = f" and {len(runs) - 4} more" if len(runs) > 4 else ""
        notes.append(f"{count} frame{'s' if count != 1 else ''} without the actor's face passed through unchanged "
                     f"(source frames {spans}{more})")
    notes.extend(in_blender_words(str(warning)) for warning in result.get("warnings") or [])
    return notes


__all__ = ["in_blender_words", "result_notes"]
