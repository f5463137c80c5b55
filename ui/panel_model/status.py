"""The runtime's state as the panel words it: the status dot, and the banner after a crash."""

from __future__ import annotations

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
    """The banner once a replacement runtime is up: the crash's first line, and what to do now.
    Jobs are not resubmitted by themselves: a render the editor did not ask for again is a
    surprise, and its settings may have changed meanwhile."""
    return crash_message.split("\n")[0].replace("; restarting it", "") + ". A new runtime is running: queue the job again."
