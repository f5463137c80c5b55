"""Which visemes a finished job draws, if any: the report's track, or a note that it had none.

A preview's report rides in its done event; a commit's is its JSON sidecar. A result rendered for
another clip, line, range or slip is never drawn (the lane model refuses its key), and says
nothing either: only a job for what is on screen now may replace the lane with "no visemes".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from mytalk.ui.viseme_track import TrackKey, VisemeTrack, track_from_report

log = logging.getLogger("mytalk.ui.panel")


@dataclass(frozen=True)
class VisemeOutcome:
    """Draw `track`, or clear the lane with `empty_text`; neither when the result is stale."""

    track: VisemeTrack | None = None
    empty_text: str | None = None


def job_report(kind: str, result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sync report of a finished job: in the result, or for a commit in its sidecar file."""
    report = result.get("report")
    if report is None and kind == "commit" and result.get("sidecar"):
        try:
            report = json.loads(Path(result["sidecar"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.info("no visemes from %s: %s", result["sidecar"], error)
    return report if isinstance(report, dict) else None


def viseme_outcome(kind: str, key: TrackKey, result: Mapping[str, Any], fps: Fraction,
                   current: TrackKey | None) -> VisemeOutcome:
    """What the lane shows after job `kind`, sent with `key`, finished with `result`, while the
    panel's inputs are `current`."""
    report = job_report(kind, result)
    track = track_from_report(report, key, fps) if report is not None else None
    if track is not None:
        return VisemeOutcome(track=track)
    if key != current:
        return VisemeOutcome()
    engine = (report or {}).get("engine")
    name = f" (engine {engine.get('name')})" if isinstance(engine, dict) else ""
    return VisemeOutcome(empty_text=f"The last {kind} reported no visemes{name}")
