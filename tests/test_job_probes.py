"""A job probes its clip once.

A transport stream (AVCHD's `.mts`/`.m2ts`, broadcast `.ts`) has no index, so `probe` demuxes every
packet of it to count its frames exactly: 0.18 s for a 190 MB, 60 s clip at 24 Mb/s from the page cache,
about 2 s for a camera's 2 GB clip. A cold classic job probed its clip two or three times (the request, the
actor's footage and, where the range lies in the learned footage, the reading of its cached tracking); it now
hands its one probe on.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import av
import pytest

from conftest import media_path
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.sync import run_sync

pytestmark = pytest.mark.media


def _as_m2ts(source: Path, target: Path) -> Path:
    """`source`'s picture as a camera's `.m2ts` would hold it: H.264 with B-frames in 192-byte packets."""
    with av.open(str(source)) as original, av.open(str(target), "w", format="mpegts",
                                                   options={"mpegts_m2ts_mode": "1"}) as copy:
        video = copy.add_stream("libx264", rate=25, options={"bf": "3"})
        video.width, video.height, video.pix_fmt = 512, 512, "yuv420p"
        for index, frame in enumerate(original.decode(video=0)):
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
            picture.pts = index
            copy.mux(video.encode(picture))
        copy.mux(video.encode(None))
    return target


def test_a_cold_job_on_a_transport_stream_probes_its_clip_once(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    probe_module = importlib.import_module("mytalk.core.media.probe")
    clip = _as_m2ts(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / "katiehill.m2ts")
    line = media_path("audio", "jfk_inaugural_en_16k.wav")
    probed: Counter[str] = Counter()
    describe_video = probe_module._video_info

    def counted(*args: Any, **kwargs: Any) -> Any:
        # Every probe of a file with a picture describes it here, whichever module called `probe`.
        probed[Path(args[2]).name] += 1
        return describe_video(*args, **kwargs)

    monkeypatch.setattr(probe_module, "_video_info", counted)
    result = run_sync(SyncRequest(video=clip, audio=line, output=tmp_path / "fixed.mkv", in_point="40",
                                  out_point="70", engine="classic"))
    assert not result.report["engine_report"]["profile"]["from_cache"]  # learned: the path that probed again
    assert len(result.report["frames"]) == 30
    assert probed == {"katiehill.m2ts": 1}
