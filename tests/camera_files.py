"""A camera file fed from a production recorder, for the hosts' tests: the shared clip's picture with four
mono streams, as such cameras carry their inputs (FFmpeg streams 1-4 after the picture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import media_path

CLIP = "hdtf_wda_katiehill_512.mp4"  # 25 fps, 512x512, 200 frames
OTHER_LINE = "jfk_inaugural_en_16k.wav"
MICROPHONES = ("MIX L", "MIX R", "BOOM", "LAV B")
"""The streams' titles: the actor's own sound A on BOOM, an unrelated line B on LAV B, their mix on MIX L and
MIX R."""


def four_microphone_take(folder: Path) -> Path:
    """`folder`/camera_take.mov: the shared clip's picture, stream-copied, with the streams of `MICROPHONES`."""
    from benchmarks.camera_take import write_camera_take
    from mytalk.core.media.audio import decode_audio

    clip = media_path("video", CLIP)
    own = decode_audio(clip, 48000).samples[0]
    other = np.resize(decode_audio(media_path("audio", OTHER_LINE), 48000).samples[0], own.size)
    channels = np.stack([(own + other) / 2, (own + other) / 2, own, other])
    return write_camera_take(clip, channels, 48000, MICROPHONES, folder / "camera_take.mov")
