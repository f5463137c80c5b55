"""The first-frame benchmark's camera original: what it claims to be, in sync, and loopable to 60 s.

`bench_first_frame` reports its third clip as "1920 x 1080 ProRes 422 HQ at 25 fps with PCM sound"; if the
file were anything else (another codec, the source's rate, sound that drifts from the picture), its rows
would measure something other than what they are labelled. It also measures the machine it runs on (the
tracker's and the phone loop's speed), the only way its figures compare across days."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from benchmarks.bench_first_frame import CAMERA_CLIP, camera_clip, looped_clip
from tests.conftest import media_path

pytestmark = pytest.mark.media


def test_the_camera_clip_is_prores_hq_1080p_at_25_fps_with_its_sound(tmp_path: Path) -> None:
    source = media_path("video", CAMERA_CLIP)
    clip = camera_clip(source, tmp_path / "camera.mov", seconds=1.0)
    with av.open(str(clip)) as container:
        video, sound = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.codec_context.profile) == ("prores", "HQ")
        assert (video.width, video.height, video.format.name) == (1920, 1080, "yuv422p10le")
        assert video.average_rate == 25
        assert (sound.codec_context.name, sound.rate, sound.channels) == ("pcm_s16le", 48000, 2)
        frames = list(container.decode(video))
        container.seek(0)
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert len(frames) == 25
    assert samples == 48000
    # Each frame shows the source frame nearest its time (the source runs at 30 fps): frame 10 (0.4 s) is the
    # source's frame 12, not its frame 10.
    with av.open(str(source)) as container:
        shown = [frame for _, frame in zip(range(13), container.decode(video=0), strict=False)]

    def small(frame: av.VideoFrame) -> np.ndarray:
        return frame.reformat(width=160, height=90, format="gray").to_ndarray().astype(float)

    ours = small(frames[10])
    errors = [np.abs(ours - small(frame)).mean() for frame in shown]
    assert int(np.argmin(errors)) == 12


def test_the_camera_clip_loops_to_a_minute_by_its_packets(tmp_path: Path) -> None:
    clip = camera_clip(media_path("video", CAMERA_CLIP), tmp_path / "camera.mov", seconds=1.5)
    looped = looped_clip(clip, 6.0, tmp_path / "looped.mov")
    with av.open(str(looped)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "prores"
        assert sum(1 for _ in container.demux(video) if _.size) == 4 * 38


def test_the_first_frame_benchmark_measures_the_machine_it_runs_on() -> None:
    """Its figures are compared across days only through these: the tracker's and the phone loop's speed here."""
    from benchmarks.bench_first_frame import CLIP, MEDIA, machine_speed

    speed = machine_speed(MEDIA / "video" / CLIP)
    assert 0.5 < speed["tracking_ms_per_frame"] < 100, speed
    assert 0.005 < speed["phone_loop_cpu_s_per_4s"] < 10, speed
