"""When the panel asks the runtime to prepare the marked range, and when it cancels that.

Everything a preview does before its first frame (tracking the range, learning the actor from the
clip, timing the line's phones) takes seconds on a new clip, and all of it is cached by content
(`mytalk.core.jobs.commands.prepare`). So as soon as the clip, the line and the marks are set and
have stayed put for a moment, the panel sends `prepare` for exactly the request a Preview would
send; when any of them changes, the outdated one is cancelled and a new one follows. By the time
the editor presses P the work is usually done and the first frame comes at once. A Preview of the
same request does not cancel a prepare still running: it queues behind it and finds its results.

Learning the actor from the clip (the whole clip, or a 20 s sample of one over 30 s) is most of
that work, and needs only the clip: so the panel asks for it (`learn`, tracked by `ActorLearning`)
as soon as a clip is open, before a line is chosen or a range marked, and the prepare of the range
later finds the profile in the cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREPARE_DELAY_MS = 600
"""How long the inputs must stay put before a prepare is sent: marking In then Out, or a burst of
slip nudges, sends one request, not one per key."""


def request_key(request: Mapping[str, Any]) -> str:
    """The identity of a request as sent on the wire (its JSON fields, in a stable order)."""
    return json.dumps(dict(request), sort_keys=True, default=str)


@dataclass
class Preparation:
    """The last prepare sent: its job id, the request it prepares, and whether it is still running."""

    job_id: str | None = None
    key: str | None = None
    running: bool = False
    done: bool = False
    pending: set[str] = field(default_factory=set)
    """Every prepare sent and not yet answered, the cancelled ones included: their answers are the panel's
    own business, never an error to show the editor."""

    def owns(self, job_id: str) -> bool:
        """The event with id `job_id` answers one of the panel's prepares."""
        return job_id in self.pending

    def due(self, request: Mapping[str, Any]) -> bool:
        """A prepare for `request` should be sent: none was, for these exact inputs."""
        return request_key(request) != self.key

    def stale(self, request: Mapping[str, Any] | None) -> str | None:
        """The job id of a running prepare that no longer matches the inputs (cancel it), or None.

        `request` None: the inputs are incomplete now (a mark cleared, the line removed)."""
        if not self.running or self.job_id is None:
            return None
        if request is not None and request_key(request) == self.key:
            return None
        return self.job_id

    def covered(self, request: Mapping[str, Any]) -> None:
        """A preview or commit of `request` was sent: it fills the same caches, so no prepare is due for it."""
        if request_key(request) != self.key:
            self.job_id, self.key, self.running, self.done = None, request_key(request), False, False

    def sent(self, job_id: str, request: Mapping[str, Any]) -> None:
        self.job_id, self.key, self.running, self.done = job_id, request_key(request), True, False
        self.pending.add(job_id)

    def finished(self, job_id: str, ok: bool) -> bool:
        """The runtime answered job `job_id`; True when it was the latest preparation."""
        self.pending.discard(job_id)
        if job_id != self.job_id:
            return False
        self.running, self.done = False, ok
        if not ok:
            self.key = None  # failed or cancelled: the same inputs may be prepared again
        return True

    def status(self, request: Mapping[str, Any] | None) -> str:
        """A short note for the panel: what the runtime is doing with the marked range."""
        if request is None or self.key != request_key(request):
            return ""
        if self.running:
            return "Preparing the marked range…"
        return "Ready to preview" if self.done else ""


@dataclass
class ActorLearning:
    """The last `learn` sent (the actor of the open clip, learned ahead), and every one not yet answered."""

    job_id: str | None = None
    key: str | None = None
    running: bool = False
    pending: set[str] = field(default_factory=set)
    """Answers to these are the panel's own business: a cancelled or failed learn is never shown as an
    error (the preview of a range of that clip would fail the same way, and says so)."""

    def owns(self, job_id: str) -> bool:
        return job_id in self.pending

    def due(self, request: Mapping[str, Any]) -> bool:
        """A learn of `request` should be sent: none was for this clip and these settings, or it failed."""
        return request_key(request) != self.key

    def stale(self, request: Mapping[str, Any] | None) -> str | None:
        """The job id of a running learn for another clip or other settings (cancel it), or None."""
        if not self.running or self.job_id is None:
            return None
        if request is not None and request_key(request) == self.key:
            return None
        return self.job_id

    def sent(self, job_id: str, request: Mapping[str, Any]) -> None:
        self.job_id, self.key, self.running = job_id, request_key(request), True
        self.pending.add(job_id)

    def finished(self, job_id: str, ok: bool) -> None:
        self.pending.discard(job_id)
        if job_id == self.job_id:
            self.running = False
            if not ok:
                self.key = None  # failed or cancelled: the same clip may be learned again

    def forget(self) -> None:
        """A new runtime: its caches may be empty (another user folder) and nothing is running any more."""
        self.job_id, self.key, self.running = None, None, False
