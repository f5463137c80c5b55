"""Random and sequential access to display frames, on top of the core's `FrameReader`.

The viewer asks for frame N over and over: sequentially while playing, anywhere while
scrubbing. Reusing `FrameReader` keeps one frame-index rule for the whole product (the frame the
editor marks is the frame the engine renders, VFR and B-frames included). Playing continues the
current decode generator, which costs one decode per frame; a jump re-seeks. Decoded pictures
are scaled down to display size and kept in a small LRU, so stepping back and forth over a few
frames costs nothing.

Pure Python and NumPy: the Qt viewer wraps the arrays in QImages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.media.reader import FrameReader, SourceFrame

DISPLAY_MAX_SIDE = 1280
"""Frames are scaled so that the longer side is at most this many pixels: enough for a panel."""

CACHE_FRAMES = 48
_SEEK_AHEAD = 12
"""Decoding forward up to this many frames is cheaper than a seek back to a keyframe."""


def display_size(width: int, height: int, max_side: int = DISPLAY_MAX_SIDE) -> tuple[int, int]:
    """Width and height (px, even) of the display copy of a `width` x `height` frame."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class FrameDecoder:
    """Display frames of one clip as (H, W, 3) uint8 RGB arrays, by clip-relative index."""

    def __init__(self, path: str | Path, info: MediaInfo | None = None, *, max_side: int = DISPLAY_MAX_SIDE) -> None:
        self.path = Path(path)
        self.info = info if info is not None else probe(self.path)
        assert self.info.video is not None, "FrameDecoder needs a clip with video"
        self.video = self.info.video
        self.size = display_size(self.video.width, self.video.height, max_side)
        self._reader = FrameReader(self.path, self.info)
        self._frames: Iterator[SourceFrame] | None = None
        self._next_index = -1
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    @property
    def frame_count(self) -> int:
        return self.video.frame_count

    @property
    def source_size(self) -> tuple[int, int]:
        return self.video.width, self.video.height

    def close(self) -> None:
        self._frames = None
        self._reader.close()

    def _to_display(self, source: SourceFrame) -> np.ndarray:
        width, height = self.size
        # swscale does the resize and the YUV->RGB conversion in one pass, and honours the
        # frame's colour matrix tags, so the viewer shows what the editor's monitor would.
        return source.frame.reformat(width=width, height=height, format="rgb24").to_ndarray()

    def frame(self, index: int) -> np.ndarray:
        """The display picture of frame `index` (clamped to the clip)."""
        index = max(0, min(self.frame_count - 1, int(index)))
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        if self._frames is None or not (self._next_index <= index <= self._next_index + _SEEK_AHEAD):
            self._frames = self._reader.frames(index, self.frame_count)
            self._next_index = index
        picture: np.ndarray | None = None
        for source in self._frames:
            self._next_index = source.index + 1
            if source.index == index:
                picture = self._to_display(source)
                break
        if picture is None:  # the generator ended early: start over from a seek next time
            self._frames = None
            raise IndexError(f"{self.path.name}: frame {index} could not be decoded")
        self._cache[index] = picture
        while len(self._cache) > CACHE_FRAMES:
            self._cache.popitem(last=False)
        return picture
