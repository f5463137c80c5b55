"""A job probes its clip once, and a runtime's session once per file while the file is unchanged.

A transport stream (AVCHD's `.mts`/`.m2ts`, broadcast `.ts`) has no index, so `probe` demuxes every
packet of it to count its frames exactly: 0.18 s for a 190 MB, 60 s clip at 24 Mb/s from the page cache,
about 2 s for a camera's 2 GB clip. A cold classic job probed its clip two or three times (the request, the
actor's footage and, where the range lies in the learned footage, the reading of its cached tracking); it now
hands its one probe on. The runtime's preview and commit resolved their request twice (the command, then the
job), and the panel previews one clip again and again: its session keeps each clip's probe with the file's
identity (`clip_probes.ClipProbes`), and probes again only a file that changed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import av
import pytest

from conftest import media_path
from media_factory import as_m2ts
from mytalk.core.hashing import RACY_WINDOW_NS
from mytalk.core.jobs import commands
from mytalk.core.jobs.clip_probes import ClipProbes
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.sync import run_sync

pytestmark = pytest.mark.media


def _count_probes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Probes of files with a picture, by file name, whichever module called `probe` (the real one runs)."""
    import importlib

    probe_module = importlib.import_module("mytalk.core.media.probe")
    probed: Counter[str] = Counter()
    describe_video = probe_module._video_info

    def counted(*args: Any, **kwargs: Any) -> Any:
        probed[Path(args[2]).name] += 1
        return describe_video(*args, **kwargs)

    monkeypatch.setattr(probe_module, "_video_info", counted)
    return probed


def _settle() -> None:
    """Wait until files written just now may be remembered: a change within the window may not show."""
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)


def test_a_cold_job_on_a_transport_stream_probes_its_clip_once(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    clip = as_m2ts(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / "katiehill.m2ts")
    line = media_path("audio", "jfk_inaugural_en_16k.wav")
    probed = _count_probes(monkeypatch)
    result = run_sync(SyncRequest(video=clip, audio=line, output=tmp_path / "fixed.mkv", in_point="40",
                                  out_point="70", engine="classic"))
    assert not result.report["engine_report"]["profile"]["from_cache"]  # learned: the path that probed again
    assert len(result.report["frames"]) == 30
    assert probed == {"katiehill.m2ts": 1}


def test_a_runtime_session_probes_a_clip_once_for_learn_prepare_preview_and_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = as_m2ts(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / "katiehill.m2ts")
    request = SyncRequest(video=clip, audio=media_path("audio", "jfk_inaugural_en_16k.wav"),
                          output=tmp_path / "renders" / "fixed.mov", in_point="40", out_point="70", engine="classic")
    _settle()
    probed = _count_probes(monkeypatch)
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    assert commands.learn_actor(session, request).learned
    commands.prepare(session, request)
    shown = commands.preview(session, request)
    committed = commands.commit(session, request)
    assert committed.frames == shown.frames == 30 and committed.output.is_file()
    assert probed == {"katiehill.m2ts": 1}
    # A session that keeps no probe (as before) probes for each command, and twice for a preview or a commit.
    probed.clear()
    forgetful = commands.JobSession(preview_dir=tmp_path / "previews", probes=ClipProbes(kept=0))
    commands.preview(forgetful, request)
    assert probed == {"katiehill.m2ts": 2}


def test_a_kept_probe_is_used_only_while_the_file_is_the_one_probed(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    shutil.copyfile(media_path("video", "hdtf_wda_katiehill_512.mp4"), long)
    with av.open(str(long)) as source, av.open(str(short), "w") as copy:
        stream = copy.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None and packet.pts is not None and packet.pts * packet.time_base < 2:
                packet.stream = stream
                copy.mux(packet)
    clip = tmp_path / "clip.mp4"
    shutil.copyfile(long, clip)
    _settle()
    probed = _count_probes(monkeypatch)
    probes = ClipProbes()
    first = probes.probe(clip)
    assert probes.probe(clip) is first
    assert probes.probe(Path(os.path.relpath(clip))) is first  # however the path is written
    assert probed == {"clip.mp4": 1}

    os.replace(short, clip)  # another take saved under the same name (a rename changes the file's times)
    replaced = probes.probe(clip)
    assert replaced.video is not None and first.video is not None
    assert replaced.video.frame_count < first.video.frame_count
    probes.probe(clip)  # changed within the window: never remembered, so probed again
    assert probed == {"clip.mp4": 3}
    _settle()
    probes.probe(clip)
    probes.probe(clip)
    assert probed == {"clip.mp4": 4}

    one = ClipProbes(kept=1)  # the one used longest ago is forgotten first
    one.probe(clip)
    one.probe(long)
    one.probe(clip)
    assert probed == {"clip.mp4": 6, "long.mp4": 1}
