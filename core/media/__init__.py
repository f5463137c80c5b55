"""Frame-accurate media I/O: probe a clip, read a frame range, write a matching file, place audio.

Frame indices everywhere follow the rule documented in `mytalk.core.media.probe` (clip-relative,
on the constant-rate grid of the stream's ``fps``; VFR clips are mapped by timestamp).
"""

from mytalk.core.media.audio import AudioTrack, decode_audio, place_line
from mytalk.core.media.probe import (
    AudioStreamInfo,
    MediaInfo,
    VideoStreamInfo,
    frame_index_for_pts,
    probe,
)
from mytalk.core.media.reader import FrameReader, ReadStats, SourceFrame, read_range
from mytalk.core.media.writer import (
    CODEC_PRESETS,
    CodecPreset,
    VideoWriter,
    check_codec_container,
    check_output_path,
    default_codec_for,
)

__all__ = [
    "CODEC_PRESETS",
    "AudioStreamInfo",
    "AudioTrack",
    "CodecPreset",
    "FrameReader",
    "MediaInfo",
    "ReadStats",
    "SourceFrame",
    "VideoStreamInfo",
    "VideoWriter",
    "check_codec_container",
    "check_output_path",
    "decode_audio",
    "default_codec_for",
    "frame_index_for_pts",
    "place_line",
    "probe",
    "read_range",
]
