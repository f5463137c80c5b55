"""A rendering preview's frames, handed to the viewer one by one before the proxy is complete.

The proxy is an H.264 file that can only be opened once it is closed, so without this the editor
sees the first frame (the poster) and then nothing until the whole range has rendered: half a
minute on a long range. `FrameStream` writes each rendered frame at proxy size as a JPEG in a
per-job folder (`NNNNNN.jpg`, numbered from the in point; the folder, beside the proxy, has a
temporary name of its process, `core.tempnames`) and tells its listener how many are ready, at
most `interval_s` apart, so the editor can scrub and step what has rendered while the rest renders. The folder goes once the proxy is in place, or when the
preview fails; a runtime killed mid-preview leaves it to the cache clean-up (`jobs.cleanup`), which
removes the temporary folders of dead processes.

JPEG at quality 95, not PNG: a 540-line frame encodes in a few milliseconds, next to the tens that
its painting takes, and the proxy that replaces it is lossy anyway.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mytalk.core.errors import OutputError, describe_os_error
from mytalk.core.media.writer import proxy_size

FRAMES_SUFFIX = ".frames"
STREAM_INTERVAL_S = 0.2
"""At most this often the listener hears of new frames (the first and the last frame always)."""
JPEG_QUALITY = 95

FramesFn = Callable[[Path, int, int, int], None]
"""Told (the frames folder, how many frames from the in point are in it, range start, range stop)."""
StreamListener = Callable[[Path, int], None]
"""`FrameStream`'s listener: (the frames folder, how many frames are in it)."""


def streamed_frame_name(offset: int) -> str:
    """The file of the range's frame `offset` (0 = the in point) in a stream's folder."""
    return f"{offset:06d}.jpg"


class FrameStream:
    """Writes a preview's rendered frames to `folder` and reports their count to `listener`."""

    def __init__(self, folder: Path, total: int, listener: StreamListener, max_height: int, *,
                 interval_s: float = STREAM_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self.total = total
        self.ready = 0
        self._listener = listener
        self._max_height = max_height
        self._interval = interval_s
        self._clock = clock
        self._told_at = float("-inf")

    def add(self, offset: int, frame: Any) -> None:
        """Frame `offset` of the range (an `av.VideoFrame` at source size), in order from 0."""
        import cv2

        if offset != self.ready:
            raise ValueError(f"frame {offset} streamed out of order; expected {self.ready}")
        width, height = proxy_size(frame.width, frame.height, self._max_height)
        bgr = frame.reformat(width=width, height=height, format="bgr24", interpolation="BILINEAR").to_ndarray()
        try:
            if offset == 0:  # once, not on every frame of the per-frame path
                self.folder.mkdir(parents=True, exist_ok=True)
            ok = cv2.imwrite(str(self.folder / streamed_frame_name(offset)), bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        except OSError as error:
            raise OutputError(f"cannot write {self.folder}: {describe_os_error(error)}") from None
        if not ok:
            raise OutputError(f"{self.folder}: frame {offset} of the preview could not be written")
        self.ready = offset + 1
        now = self._clock()
        if self.ready == 1 or self.ready == self.total or now - self._told_at >= self._interval:
            self._told_at = now
            self._listener(self.folder, self.ready)

    def discard(self) -> None:
        """Remove the folder: the proxy has replaced it, or the preview failed."""
        shutil.rmtree(self.folder, ignore_errors=True)
