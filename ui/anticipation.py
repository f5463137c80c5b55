"""What the panel asks its runtime to do before the editor presses Preview: the Qt side of
`mytalk.ui.panel_model.prepare`.

Most of a first preview's wait is work that needs less than the whole request: learning the actor needs only
the clip, timing the line's phones only the line, and the range's own tracking only the marks. So the panel
sends a `learn` of the clip's actor the moment a clip is open, a `learn` of the line's phones the moment it is
picked, and a `prepare` of exactly the request a Preview would send once the clip, the line and the marks have
stayed put for `PREPARE_DELAY_MS`. When the inputs change, an outdated one is cancelled. The bookkeeping (what
was sent for which inputs, what is stale, what the button's note says) is plain Python in `panel_model.prepare`;
this holds the timer and sends the messages, so `MyTalkPanel` only says when its inputs change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from mytalk.core.errors import MyTalkError
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.runtime.protocol import sync_request_to_json
from mytalk.ui.panel_model.prepare import PREPARE_DELAY_MS, ActorLearning, Preparation
from mytalk.ui.runtime_client import RuntimeClient

log = logging.getLogger("mytalk.ui.anticipation")

RequestFn = Callable[[], SyncRequest | None]
"""Makes a request from the panel's inputs as they are now: None, or MyTalkError, when they do not make one."""


class RuntimeAnticipation(QObject):
    """Sends the panel's `learn` and `prepare` messages, and answers for their events.

    `preview_request`: the request a Preview would send now; `learn_request`: the clip's actor's; `line_request`:
    the picked line's phones' (its `audio_in` is left out of what makes it new: a slip reuses the phones, which are
    timed per utterance of the line's file). `ready`: whether the inputs make a request at all. `on_note` is given
    the preview button's note whenever it may have changed."""

    def __init__(self, runtime: RuntimeClient, *, preview_request: RequestFn, learn_request: RequestFn,
                 line_request: RequestFn, ready: Callable[[], bool], on_note: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self._preview_request = preview_request
        self._learn_request = learn_request
        self._line_request = line_request
        self._ready = ready
        self._on_note = on_note
        self.preparation = Preparation()
        self.learning = ActorLearning()
        self.line_learning = ActorLearning()  # the same bookkeeping for the picked line's phones, timed ahead
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREPARE_DELAY_MS)
        self._timer.timeout.connect(self.send_prepare)

    def schedule(self) -> None:
        """The inputs changed: prepare them once they have stayed put for a moment."""
        if not self._closed:
            self._timer.start()

    def close(self) -> None:
        """Nothing more is sent (the panel is shutting down)."""
        self._closed = True
        self._timer.stop()

    def forget_learned(self) -> None:
        """A new runtime (a restart after a crash too) knows nothing: learn the clip's actor and the line again."""
        self.learning.forget()
        self.line_learning.forget()

    def wire_request(self) -> dict[str, Any] | None:
        """The request a Preview would send now, as on the wire; None when the inputs make none."""
        if not self._ready():
            return None
        return _wire(self._preview_request)

    def before_preview(self, wire: dict[str, Any]) -> None:
        """A Preview of `wire` is about to be sent: a prepare of other inputs still running is cancelled, and
        one of the same stays (the preview queues behind it and finds its results)."""
        self._cancel_stale_prepare(wire)
        self.preparation.covered(wire)

    def handle(self, event: dict[str, Any]) -> bool:
        """Take an event of one of these messages' jobs; False for any other job's."""
        job_id = str(event.get("id"))
        name = event.get("event")
        if self.preparation.owns(job_id):
            if name in ("done", "error"):
                self.preparation.finished(job_id, ok=name == "done")
                if name == "error" and event.get("code") != "JobCancelledError":
                    # The preview of the same range will fail the same way and say so; here it is only logged.
                    log.info("preparing the marked range failed: %s", event.get("message"))
                self.update_note()
            return True
        for learning in (self.learning, self.line_learning):
            if learning.owns(job_id):
                if name in ("done", "error"):
                    learning.finished(job_id, ok=name == "done")
                return True
        return False

    def send_learn(self) -> None:
        """Ask the runtime to learn the open clip's actor now, before the line and the marks are set: it is
        most of a first preview's wait, and needs only the clip. Then the line's phones (`send_line_learn`)."""
        wire = _wire(self._learn_request)
        stale = self.learning.stale(wire)
        if stale is not None:
            self.runtime.send("cancel", job=stale)
        if wire is not None and self.learning.due(wire):
            self.learning.sent(self.runtime.send("learn", request=wire), wire)
        self.send_line_learn()

    def send_line_learn(self) -> None:
        """Ask the runtime to time the picked line's phones now, from its slip on, before the range is
        marked: after the actor, the largest part of a first preview's wait. Queued behind the actor's
        `learn`, never cancelling it; a slip does not resend it."""
        wire = _wire(self._line_request)
        key = None if wire is None else {k: v for k, v in wire.items() if k != "audio_in"}
        stale = self.line_learning.stale(key)
        if stale is not None:
            self.runtime.send("cancel", job=stale)
        if wire is not None and key is not None and self.line_learning.due(key):
            self.line_learning.sent(self.runtime.send("learn", request=wire), key)

    def send_prepare(self) -> None:
        """Ask the runtime to track, learn and time the marked range now, so that Preview starts at once.
        The clip's actor is asked for first, alone, as soon as a clip is open (`send_learn`)."""
        if self._closed or not self.runtime.is_running():
            return
        self.send_learn()
        wire = self.wire_request()
        self._cancel_stale_prepare(wire)
        if wire is not None and self.preparation.due(wire):
            self.preparation.sent(self.runtime.send("prepare", request=wire), wire)
        self.update_note()

    def update_note(self) -> None:
        """Give `on_note` what the preview button says of the preparation (empty when the inputs make no request)."""
        self._on_note(self.preparation.status(self.wire_request()) if self._ready() else "")

    def _cancel_stale_prepare(self, wire: dict[str, Any] | None) -> None:
        stale = self.preparation.stale(wire)
        if stale is not None and self.runtime.is_running():
            self.runtime.send("cancel", job=stale)


def _wire(make: RequestFn) -> dict[str, Any] | None:
    """`make()` as on the wire; None when it makes no request (a setting the form has not accepted yet: the
    preview will say what is wrong)."""
    try:
        request = make()
    except MyTalkError:
        return None
    return None if request is None else sync_request_to_json(request)
