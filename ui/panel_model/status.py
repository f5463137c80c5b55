"""The runtime's state as the panel words it: the status dot, and the banner after a crash."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_STATE_TEXT = {"starting": "runtime starting…", "crashed": "runtime stopped", "stopped": "runtime off"}
_STATE_COLOUR = {"ready": "#57ab5a", "starting": "#c69026"}
_STOPPED_COLOUR = "#e5534b"


def runtime_status(state: str, hello: Mapping[str, Any] | None) -> tuple[str, str]:
    """(colour, text) of the status label for `RuntimeClient.state` and its hello event."""
    text = _STATE_TEXT.get(state)
    if state == "ready":
        text = f"runtime ready · MyTalk {(hello or {}).get('mytalk', '?')}"
    return _STATE_COLOUR.get(state, _STOPPED_COLOUR), str(text)


def offers_restart(crash_message: str) -> bool:
    """The client gave up restarting on its own (it says "press Restart"): offer the button."""
    return "press Restart" in crash_message


def restarted_message(crash_message: str) -> str:
    """The banner once a replacement runtime is up. It speaks of the dead runtime in the past and of
    the new one as running, so it never reads "crashed" and "running" about the same thing; the
    status dot says "ready" alongside. Jobs are not resubmitted by themselves: a render the editor
    did not ask for again is a surprise, and its settings may have changed meanwhile."""
    return f"The runtime was restarted and is ready ({previous_runtime_fate(crash_message)}). Queue the job again."


def previous_runtime_fate(crash_message: str) -> str:
    """What happened to the runtime that died, from `RuntimeClient`'s crash message, in the past tense:
    "the previous one was killed by a signal", "... exited with status 1", "... could not start"."""
    reason = crash_message.split("\n")[0].split(";")[0].strip()
    for prefix in ("the MyTalk runtime ", "the runtime "):
        reason = reason.removeprefix(prefix)
    crashed = re.fullmatch(r"crashed \((.+)\)", reason)
    if crashed:
        return f"the previous one was {crashed.group(1)}"
    if reason.startswith("could not start"):
        return "the previous one could not start"
    if reason.startswith("exited"):
        return f"the previous one {reason}"
    return "the previous one stopped"
