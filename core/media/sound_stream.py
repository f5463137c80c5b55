"""Which of a file's audio streams is its own sound: a clip's (the guide, and what the actor is learned from),
and a replacement line's.

A camera original often carries one mono stream per input (two to eight), and an input with nothing
plugged in records digital silence. Reading the first audio stream, as every reader did, left such a
clip with no sound at all: the guide never matched the same words re-recorded, and the actor's phones
were learned from silence. The clip's sound is therefore its first audio stream that carries sound:
the first one, unless it stays under `SILENT_PEAK` from start to end and a later one does not.

The rule never looks past the first stream when that stream carries sound (most clips: decided on its
first loud frame), and never prefers a louder stream to a quieter one that is heard: a deliverable's
first stream is its dialogue, and the louder music and effects after it must not drive a mouth.

A line follows the same rule, and so does every read of a file that names no stream (`audio.decode_audio`),
so the line's phones, its render and the panel's waveform all hear the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from mytalk.core.errors import MediaFormatError
from mytalk.core.media.cut_short import stream_cut_short
from mytalk.core.media.probe import open_input

SILENT_PEAK = 10 ** (-60 / 20)
"""−60 dBFS: an unplugged input's digital silence (and dither) stays under it; a microphone's room tone
and any speech go over it."""

RULE_VERSION = "first-heard-1"
"""Names this rule in caches keyed by what was learned from a clip's sound (`profile_cache`)."""


@dataclass(frozen=True)
class SoundStream:
    """The container stream index of a clip's own sound (None: the clip has no audio stream) and, when
    it is not the first audio stream, why (for the report)."""

    index: int | None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"stream": self.index, **({"note": self.note} if self.note else {})}


def clip_sound_stream(path: str | Path, what: str = "clip") -> SoundStream:
    """The stream to read as `path`'s own sound, by the rule above: a clip's, and also a replacement
    line's (a line recorded on a camera or a multi-input recorder has the same unplugged inputs), and
    every read of a file that names no stream (`audio.decode_audio`). `what` names the file in the note.

    One pass over the file's audio packets at most, decoding only the streams still in question; a
    clip with one audio stream is not decoded at all. Raises `MediaFormatError` when a stream that must
    be judged cannot be decoded.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:  # not remembered: `open_input` says what is wrong with it
        indexes, heard = _decide.__wrapped__(str(path), -1, -1)
    else:
        indexes, heard = _decide(str(path), stat.st_size, stat.st_mtime_ns)
    if not indexes:
        return SoundStream(None)
    first = indexes[0]
    if heard is None or heard == first:
        return SoundStream(first)
    silent = [index for index in indexes if index < heard]
    named = ", ".join(str(i) for i in silent)
    return SoundStream(heard, f"audio stream{'s' if len(silent) > 1 else ''} {named} of the {what} "
                              f"{'are' if len(silent) > 1 else 'is'} silent (under -60 dBFS throughout); "
                              f"the {what}'s own sound is read from stream {heard}")


@lru_cache(maxsize=32)
def _decide(path: str, size: int, mtime_ns: int) -> tuple[tuple[int, ...], int | None]:
    """(the file's audio stream indexes, the first heard one: None when none is, or when there is only one).

    Remembered per file version (its size and modification time are part of the key): every read of a file
    that names no stream asks (`audio.decode_audio`), and a line is read a block at a time, so a file whose
    first stream is silent would otherwise be decoded through that stream for every block."""
    del size, mtime_ns  # the key only
    with open_input(Path(path)) as container:
        streams = list(container.streams.audio)
        indexes = tuple(int(stream.index) for stream in streams)  # read while the container is open
        if len(streams) <= 1:
            return indexes, None
        return indexes, _first_heard(container, streams, Path(path))


def _first_heard(container: Any, streams: list[Any], path: Path) -> int | None:
    """The index of the first stream in `streams` with a sample over `SILENT_PEAK`, or None."""
    first = int(streams[0].index)
    heard: set[int] = set()
    best: int | None = None  # the lowest index heard so far: later streams need no decoding
    try:
        for packet in container.demux(streams):
            index = int(packet.stream.index)
            if best is not None and index >= best:
                continue
            for frame in packet.decode():
                if _peak(frame) > SILENT_PEAK:
                    heard.add(index)
                    best = index
                    break
            if first in heard:
                return first  # the common case: the first stream speaks, nothing else is read
    except av.error.FFmpegError as exc:
        if not any(stream_cut_short(container, stream, path) for stream in streams):
            raise MediaFormatError(f"{path}: the audio could not be decoded ({exc}); re-export it as WAV") from exc
        # a copy cut short: its sound ends where its bytes do, and what was heard before that decides
    return best


def _peak(frame: av.AudioFrame) -> float:
    """The frame's peak, full scale = 1.0, whatever its sample format."""
    samples = frame.to_ndarray()
    name = frame.format.name.rstrip("p")
    if name == "u8":
        return float(np.abs(samples.astype(np.int16) - 128).max(initial=0)) / 128.0
    scale = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}.get(name, 1.0)  # float formats: 1.0
    return float(np.abs(samples.astype(np.float64)).max(initial=0)) / scale
