"""Decoding ahead on a thread (`core.media.prefetch`): order, errors, and a clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from mytalk.core.media.prefetch import prefetched


def test_items_arrive_in_order_from_another_thread() -> None:
    seen: list[str] = []

    def produce() -> Iterator[int]:
        for i in range(50):
            seen.append(threading.current_thread().name)
            yield i

    assert list(prefetched(produce(), depth=3, name="decode-test")) == list(range(50))
    assert set(seen) == {"decode-test"}


def test_a_producer_error_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad packet")

    got = []
    with pytest.raises(ValueError, match="bad packet"):
        for item in prefetched(produce()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_producer_and_joins_its_thread() -> None:
    produced = []

    def produce() -> Iterator[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    stream = prefetched(produce(), depth=2, name="decode-early")
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "decode-early"]
    count = len(produced)
    time.sleep(0.1)
    assert len(produced) == count <= 3 + 2 + 2, "the producer stopped a few items ahead, and stays stopped"
