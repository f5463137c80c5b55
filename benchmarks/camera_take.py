"""A camera file fed from a production recorder, written for measurements and tests: a clip's picture, stream-
copied, with each channel of a take as a mono 16-bit stream titled with its track name, as cameras and NLE exports
carry several microphones (one stream per input)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["write_camera_take"]

BLOCK_S = 0.1
"""Seconds of sound per encoded frame: streams interleave in the file as a camera's do."""


def write_camera_take(picture_of: Path, channels: np.ndarray, rate: int, names: tuple[str, ...], out: Path) -> Path:
    """`picture_of`'s video stream, copied, with `channels` ((k, n) floats in [-1, 1]) as k mono streams titled
    `names`; the sound starts with the picture. Returns `out`."""
    if len(names) != channels.shape[0]:
        raise ValueError(f"{channels.shape[0]} channels but {len(names)} names")
    pcm = np.round(np.clip(channels, -1.0, 1.0) * 32767).astype(np.int16)
    step = max(1, int(rate * BLOCK_S))
    with av.open(str(picture_of)) as source, av.open(str(out), "w") as target:
        picture = source.streams.video[0]
        copied = target.add_stream_from_template(picture)
        sounds = []
        for name in names:
            stream = target.add_stream("pcm_s16le", rate=rate, layout="mono")
            stream.metadata["title"] = name
            sounds.append(stream)
        for packet in source.demux(picture):
            if packet.dts is not None:  # the demuxer's empty flush packet
                packet.stream = copied
                target.mux(packet)
        for start in range(0, pcm.shape[1], step):
            for row, stream in enumerate(sounds):
                frame = av.AudioFrame.from_ndarray(pcm[row : row + 1, start : start + step].copy(), format="s16",
                                                   layout="mono")
                frame.rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
                for packet in stream.encode(frame):
                    target.mux(packet)
        for stream in sounds:
            for packet in stream.encode(None):
                target.mux(packet)
    return out
