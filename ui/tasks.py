"""Run a plain function off the GUI thread and get its result back as a Qt signal.

Napari/Orange style: long work (decoding a clip's audio for the waveform) is a plain function;
the UI owns the thread. The result is delivered on the GUI thread through a queued signal, to
a receiver that may be gone by then: Qt drops the delivery instead of calling a deleted object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    succeeded = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.function = function
        self.relay = relay

    def run(self) -> None:
        try:
            try:
                result = self.function()
            except Exception as error:  # noqa: BLE001 - handed to the GUI thread to report
                self.relay.failed.emit(error)
                return
            self.relay.succeeded.emit(result)
        except RuntimeError:
            pass  # the owner (and with it the relay) was deleted meanwhile: nobody wants the result


def run_in_background(function: Callable[[], Any], on_success: Callable[[Any], None],
                      on_failure: Callable[[BaseException], None], *, owner: QObject) -> None:
    """Call `function()` on the global thread pool; `on_success(result)` or `on_failure(error)`
    then runs on the thread of `owner` (the GUI thread) while `owner` is alive."""
    relay = _Relay(owner)
    relay.succeeded.connect(on_success)
    relay.failed.connect(on_failure)
    relay.succeeded.connect(relay.deleteLater)
    relay.failed.connect(relay.deleteLater)
    QThreadPool.globalInstance().start(_Task(function, relay))
