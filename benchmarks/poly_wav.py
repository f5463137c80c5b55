"""A production recorder's polyphonic WAV, written for measurements and tests: interleaved 16-bit channels
with the track names in an iXML chunk (or a bext description), placed before or after the audio data as
recorders and metadata tools place them."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["bext_chunk", "ixml_chunk", "write_poly_wav"]


def ixml_chunk(names: tuple[str, ...]) -> bytes:
    """An iXML body whose TRACK_LIST names the channels in order."""
    tracks = "".join(f"<TRACK><CHANNEL_INDEX>{i}</CHANNEL_INDEX><INTERLEAVE_INDEX>{i}</INTERLEAVE_INDEX>"
                     f"<NAME>{name}</NAME></TRACK>" for i, name in enumerate(names, 1))
    body = (f'<?xml version="1.0" encoding="UTF-8"?><BWFXML><IXML_VERSION>1.61</IXML_VERSION><TRACK_LIST>'
            f"<TRACK_COUNT>{len(names)}</TRACK_COUNT>{tracks}</TRACK_LIST></BWFXML>").encode()
    return body + b" " * (len(body) & 1)


def bext_chunk(description: str) -> bytes:
    """A bext body (version 0) with `description` (`sTRK1=BOOM` lines, as Sound Devices writes them)."""
    return description.encode("latin-1").ljust(256, b"\x00") + b"\x00" * 346


def write_poly_wav(path: Path, samples: np.ndarray, rate: int = 48000, *, before: dict[bytes, bytes] | None = None,
                   after: dict[bytes, bytes] | None = None) -> Path:
    """A 16-bit WAV of (channels, n) float samples (truncated to 16 bits), with the chunks `before` its data
    and `after` it."""
    channels = samples.shape[0]
    pcm = (np.clip(samples.T, -1, 1) * 32767).astype("<i2").tobytes()

    def chunks(found: dict[bytes, bytes] | None) -> bytes:
        return b"".join(kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
                        for kind, body in (found or {}).items())

    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + chunks(before) + b"data" + struct.pack("<I", len(pcm))
            + pcm + chunks(after))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
