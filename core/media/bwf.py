"""Where a Broadcast WAV sits on its session's timeline: the `bext` chunk's time stamp.

A dialogue stem or an ADR take bounced from a DAW is a Broadcast WAV whose `bext` chunk holds
TimeReference: the number of samples from midnight of the session's timeline to the file's first
sample. A stem printed with the reel's pre-roll (its 2-pop at 00:59:58:00, say) therefore starts
before the picture's first frame, and only the stamp says by how much. FFmpeg's WAV reader (RIFF, RF64
and BW64) gives the stamp as the `time_reference` tag.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

__all__ = ["bwf_start_seconds"]


def bwf_start_seconds(path: Path) -> Fraction | None:
    """Seconds from midnight of the session's timeline to the file's first sample, exactly; None when the
    file carries no stamp, or a stamp of 0, which is what DAWs and recorders write when none was set."""
    try:
        with av.open(str(path)) as container:
            stamp = container.metadata.get("time_reference")
            rate = container.streams.audio[0].sample_rate if container.streams.audio else 0
    except (av.error.FFmpegError, OSError):
        return None  # an unreadable file is reported, clearly, by whatever reads its sound
    try:
        samples = int(str(stamp).strip())
    except (TypeError, ValueError):
        return None
    if samples <= 0 or not rate:
        return None
    return Fraction(samples, int(rate))
