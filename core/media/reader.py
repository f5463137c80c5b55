"""Frame-accurate, streaming access to a range of a clip's frames.

Frames are numbered by the rule in `mytalk.core.media.probe` (clip-relative indices on the
constant-rate grid of ``fps``), so index ``n`` here is frame ``n`` of the editor's in/out marks
counted from the clip's first frame. Frames come back decoded but in the source pixel format:
colour conversion is the caller's decision, and lossless round trips stay bit-exact.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np

from mytalk.core.errors import MediaFormatError, RangeError
from mytalk.core.media.cut_short import stream_cut_short
from mytalk.core.media.decoded_fields import mark_lower_field_first
from mytalk.core.media.probe import MediaInfo, VideoStreamInfo, frame_index_for_pts, open_input, probe

_FULL_RANGE = 2
"""`AVCOL_RANGE_JPEG`: full-range (0-255) luma, which OpenCV's limited-range conversion would misread."""

# Seeks to try before decoding the clip from its first packet (a seek that lands after the wanted
# frame is retried from further back: `_seek_back`).
_MAX_SEEKS = 8

_SEEK_BACK_S = 0.5
"""The second retry's step back, in seconds, doubled on each later one (`_seek_back`)."""

_UNINDEXED_FORMATS = frozenset({"mpegts", "mpeg"})
"""Containers with no index of their keyframes: MPEG transport streams (broadcast `.ts`, AVCHD's `.mts` and
`.m2ts`, HDV's `.m2t`) and program streams (`.mpg`, `.vob`). FFmpeg seeks in them by timestamps alone, so a
seek lands on whatever packet carries the time asked for, rarely a keyframe: the packets before the next
keyframe are skipped (`FrameReader._decode_from`)."""


def _seek_back(retry: int, time_base: Fraction) -> int:
    """How far before the earliest landing so far the `retry`-th retry seeks, in `time_base` ticks.

    The first retry seeks one tick before it: in QuickTime and Matroska, whose seeks land on keyframes, that
    is the previous keyframe (a keyframe shown later than asked, with B-frames; an open GOP's leading
    pictures). Where a seek lands on the packet of the time asked for (`_UNINDEXED_FORMATS`), the keyframe
    before the wanted frame may be a whole GOP back (0.5 s in broadcast and HDV, up to a few seconds in long-GOP
    camera codecs), and stepping back a packet at a time gave up after a few tries, then decoded the clip from
    its start: every range past the first GOPs of a transport stream was decoded from frame 0. So later
    retries step back 0.5 s, 1 s, 2 s, ... (`_SEEK_BACK_S`)."""
    if retry <= 1:
        return 1
    return max(1, math.ceil(_SEEK_BACK_S * 2 ** (retry - 2) / time_base))


@dataclass
class SourceFrame:
    """One output frame: its clip-relative ``index`` (frames) and the decoded picture.

    ``frame`` is never converted (same pix_fmt, colour tags and bit depth as the source). With a
    variable-frame-rate clip a held source frame is yielded for several indices, as the very same
    `av.VideoFrame` object. ``in_range`` is False for handle frames outside [start, stop).
    """

    index: int
    frame: av.VideoFrame
    in_range: bool

    def to_rgb(self) -> np.ndarray:
        """The picture as an (H, W, 3) uint8 RGB array, for the face tracker (never painted back).

        8-bit limited-range 4:2:0, what most clips are, is converted by OpenCV from the planes (BT.601, as
        swscale's default): 0.8 ms a 512 px frame against swscale's 3.5-5.9 ms on two cores, a quarter of
        what tracking a frame costs. The two differ by about one level (at most 5), nothing a face mesh
        sees. Anything else goes through swscale with its defaults."""
        if self.opencv_i420:
            import cv2

            return cv2.cvtColor(self.frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
        return self.frame.to_ndarray(format="rgb24")

    @property
    def opencv_i420(self) -> bool:
        """Whether `to_rgb` converts the frame with OpenCV from its I420 planes (8-bit limited-range 4:2:0 of
        even size); an interlaced one's upper field is converted that way too (`face.field_picture`)."""
        frame = self.frame
        return (frame.format.name == "yuv420p" and frame.color_range != _FULL_RANGE
                and frame.width % 2 == 0 and frame.height % 2 == 0)


@dataclass
class ReadStats:
    """What the last `FrameReader.frames` call cost: decode starts (1 = the first seek was right)
    and frames decoded, handy to check that seeking works on a given file."""

    attempts: int = 0
    decoded: int = 0


class FrameReader:
    """Streams decoded frames of one clip by frame index; use it as a context manager.

    Memory does not grow with the length of the range: at most one held frame plus the decoder's
    own reorder/thread buffers are alive at a time.
    """

    def __init__(self, path: str | Path, info: MediaInfo | None = None) -> None:
        self.path = Path(path)
        self.info = info if info is not None else probe(self.path)
        if self.info.video is None:
            raise MediaFormatError(f"{self.path}: has no video stream; pick a video clip")
        self.video: VideoStreamInfo = self.info.video
        self._container: av.container.InputContainer | None = None
        self._pristine = False
        self.last_stats = ReadStats()
        self._open()

    def _open(self) -> av.container.InputContainer:
        if self._container is not None:
            self._container.close()
        container = open_input(self.path)
        stream = container.streams[self.video.index]
        if stream.type != "video":
            container.close()
            raise MediaFormatError(
                f"{self.path}: stream {self.video.index} is not video any more; the file changed since it "
                "was probed, probe it again"
            )
        # Frame threading decodes several frames in parallel; output order and pts are unaffected.
        stream.thread_type = "AUTO"
        self._container = container
        self._pristine = True  # nothing demuxed yet: reading from frame 0 needs no reopen
        return container

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file; the reader cannot be used afterwards."""
        if self._container is not None:
            self._container.close()
            self._container = None

    @property
    def frame_count(self) -> int:
        """Number of frames (on the ``fps`` grid) in the clip."""
        return self.video.frame_count

    def _check_range(self, start: int, stop: int, handles: int) -> None:
        count = self.video.frame_count
        where = f"{self.path.name} has {count} frames (0-{count - 1})"
        if handles < 0:
            raise RangeError(f"{where}; handles must be 0 or more frames, got {handles}")
        if start < 0:
            raise RangeError(f"{where}; the range starts at frame {start}, pick an in-point of 0 or later")
        if start >= stop:
            raise RangeError(
                f"{where}; the range {start}-{stop} is empty or reversed, set the out-point after the in-point"
            )
        if start >= count:
            raise RangeError(f"{where}; the range starts at frame {start}, past the end of the clip")

    def _last_pts_of_index(self, index: int) -> int:
        """Largest pts (stream time base) whose frame index is still <= ``index``.

        A backward seek to it lands on the latest keyframe that can be frame ``index`` or before
        it, so no more than one GOP is decoded to reach the frame.
        """
        v = self.video
        edge = Fraction(2 * index + 1, 2) / (v.fps * v.time_base)  # first pts of index + 1
        return v.start_pts + math.ceil(edge) - 1

    def frames(self, start: int, stop: int, handles: int = 0) -> Iterator[SourceFrame]:
        """Yield frames ``max(0, start - handles)`` ... ``min(frame_count, stop + handles) - 1``.

        ``start``/``stop`` are clip-relative frame indices, ``stop`` exclusive; ``handles`` extra
        frames are added at both ends and clipped to the clip. Every index comes exactly once and in
        order. Raises `RangeError` for an empty, reversed or out-of-clip range (checked right
        away, before the first frame is decoded). Iterate one range at a time per reader: a new
        call re-seeks the shared decoder.
        """
        self._check_range(start, stop, handles)
        first = max(0, start - handles)
        last = min(self.video.frame_count, stop + handles)  # exclusive
        return self._generate(first, last, start, stop)

    def _generate(self, first: int, last: int, start: int, stop: int) -> Iterator[SourceFrame]:
        self.last_stats = stats = ReadStats()
        seek_pts: int | None = self._last_pts_of_index(first) if first > 0 else None
        earliest: int | None = None  # the earliest place a seek landed so far (pts/dts of its first packet)
        while True:
            stats.attempts += 1
            landing: list[int] = []
            frames = self._decode_from(seek_pts, stats, landing)
            first_frame = next(frames, None)
            if first_frame is not None and (first_frame[0] <= first or seek_pts is None):
                if first_frame[0] > first:
                    frames.close()
                    raise MediaFormatError(
                        f"{self.path}: frames {first}-{first_frame[0] - 1} cannot be decoded (the stream "
                        f"starts mid-GOP); start the range at frame {first_frame[0]} or re-export the clip"
                    )
                yield from self._fill(first_frame, frames, first, last, start, stop)
                return
            frames.close()
            if seek_pts is None:
                raise MediaFormatError(
                    f"{self.path}: no frame could be decoded at or after frame {first}; the file may be "
                    "damaged, re-export it"
                )
            # The seek landed after the wanted frame: mov seeks by decode time, so with B-frames a
            # keyframe can be shown later than requested, and open GOPs (HEVC CRA) drop the
            # pictures shown just before their keyframe; a transport stream's seek lands on any
            # packet, and its next keyframe may be a GOP later. Seek from further back each time
            # (`_seek_back`); give up seeking after a few tries.
            if stats.attempts >= _MAX_SEEKS:
                seek_pts = None  # decode from the first packet
            else:
                landed = landing[0] if landing else seek_pts  # nothing to decode after it: no keyframe
                earliest = landed if earliest is None else min(earliest, landed)
                seek_pts = earliest - _seek_back(stats.attempts, self.video.time_base)
                if seek_pts <= self.video.start_pts:
                    seek_pts = None  # as far back as the clip goes: its first packet

    def _fill(
        self,
        first_frame: tuple[int, av.VideoFrame],
        frames: Generator[tuple[int, av.VideoFrame], None, None],
        first: int,
        last: int,
        start: int,
        stop: int,
    ) -> Iterator[SourceFrame]:
        """Map decoded source frames onto the index grid (the VFR rule) and yield [first, last)."""
        want = first
        held: av.VideoFrame | None = None

        def chain() -> Iterator[tuple[int, av.VideoFrame]]:
            yield first_frame
            yield from frames

        try:
            for index, frame in chain():
                if index > want and held is not None:
                    # `held` is the latest source frame with index <= want: it shows on every grid
                    # index up to the next source frame (duplicates fill VFR gaps).
                    while want < min(index, last):
                        yield SourceFrame(want, held, start <= want < stop)
                        want += 1
                    if want >= last:
                        return
                held = frame  # a later frame with the same index replaces an earlier one
            while held is not None and want < last:
                yield SourceFrame(want, held, start <= want < stop)
                want += 1
        finally:
            frames.close()
        if want < last:
            raise MediaFormatError(
                f"{self.path}: the video ends at frame {want - 1} but was probed with {self.video.frame_count} "
                "frames; the file changed or is damaged, probe it again or re-export it"
            )

    def _decode_from(
        self, seek_pts: int | None, stats: ReadStats, landing: list[int]
    ) -> Generator[tuple[int, av.VideoFrame], None, None]:
        """Decoded (index, frame) pairs in presentation order after seeking to ``seek_pts``.

        Frames shown before the keyframe the seek landed on (open-GOP leading pictures) reference
        frames we never decoded, so they are dropped rather than returned damaged. ``landing``
        receives the earliest timestamp (pts or dts) of the first packet read after the seek.
        """
        v = self.video
        if seek_pts is None:
            fresh = self._pristine and self._container is not None
            container = self._container if fresh and self._container is not None else self._open()
        else:
            container = self._container if self._container is not None else self._open()
            try:
                container.seek(max(seek_pts, v.start_pts), stream=container.streams[v.index], backward=True)
            except av.error.FFmpegError:
                container = self._open()
        stream = container.streams[v.index]
        self._pristine = False
        lower_first = v.lower_field_first
        landing_pts: int | None = None
        # Landed on any packet (`_UNINDEXED_FORMATS`): what comes before the next keyframe cannot be decoded.
        to_keyframe = seek_pts is not None and not _UNINDEXED_FORMATS.isdisjoint(container.format.name.split(","))
        try:
            for packet in container.demux(stream):
                if to_keyframe:
                    if packet.size == 0 or packet.is_discard or not packet.is_keyframe:
                        continue
                    to_keyframe = False
                if landing_pts is None and packet.size > 0 and not packet.is_discard:
                    landing_pts = packet.pts if packet.pts is not None else packet.dts
                    stamps = [t for t in (packet.pts, packet.dts) if t is not None]
                    if stamps:
                        landing.append(min(stamps))
                for frame in stream.decode(packet):
                    stats.decoded += 1
                    pts = frame.pts if frame.pts is not None else frame.dts
                    if pts is None:
                        continue
                    if seek_pts is not None and landing_pts is not None and pts < landing_pts:
                        continue
                    index = frame_index_for_pts(pts, v.start_pts, v.time_base, v.fps)
                    if index < 0:
                        continue  # pre-roll before the clip's first frame
                    if lower_first:
                        mark_lower_field_first(frame)  # tracked and painted at that field's instant
                    yield index, frame
        except av.error.FFmpegError as exc:
            if stream_cut_short(container, stream, self.path):
                return  # a copy cut short ends where its bytes do; `probe` counted only the frames it holds
            raise MediaFormatError(
                f"{self.path}: the video could not be decoded ({exc}); re-export the clip"
            ) from exc


def read_range(path: str | Path, start: int, stop: int, handles: int = 0) -> Iterator[SourceFrame]:
    """Probe ``path`` and return the iterator of `FrameReader.frames(start, stop, handles)`.

    The range is checked before this returns (`RangeError` right away, not on the first
    ``next()``); the file is closed when the iterator is exhausted, closed or garbage-collected.
    """
    reader = FrameReader(path)
    try:
        frames = reader.frames(start, stop, handles)
    except BaseException:
        reader.close()
        raise

    def stream() -> Iterator[SourceFrame]:
        with reader:
            yield from frames

    return stream()
