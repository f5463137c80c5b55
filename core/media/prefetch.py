"""Decoding ahead on a thread of its own, so that decode, paint and encode overlap.

A job's render loop decodes a frame, hands it to the painter's worker thread and encodes the
painted frames, all driven from one thread. FFmpeg's decoders and encoders release the GIL, so a
second thread that only decodes keeps both cores busy: the frame the loop asks for next is already
there. The queue is short (`DEPTH` frames), so memory stays that of a few frames whatever the
range's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

DEPTH = 4
"""Frames decoded ahead: enough to ride over a slow frame (a keyframe, a seek), a few MB at 1080p."""

_END = object()


class _Failure:
    """An exception raised by the producer, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[T], depth: int = DEPTH, name: str = "prefetch") -> Generator[T, None, None]:
    """The items of `items`, produced on a thread `depth` ahead of the consumer, in order.

    An exception of the producer is raised in the consumer at the point it happened. When the
    consumer stops early (an error, a cancelled job, `close()`), the producer stops at its next item
    and the thread is joined before this generator returns: nothing keeps decoding behind a job.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(error))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
