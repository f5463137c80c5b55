"""A warm one-frame classic job loads none of the heavy packages: its fixed cost is imports.

Measured on 2 cores (best of 7, no bytecode cache): 1.17 s before scipy left the warm path, 0.80 s
after. The cold job may load scipy.spatial (qhull, for the mouth mesh's triangulation, then
remembered) and MediaPipe (to track); the warm one needs neither, nor torch, nor the phone recogniser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from import_probe import modules_loaded_by

pytestmark = pytest.mark.media


def test_a_warm_one_frame_job_loads_no_scipy_torch_or_mediapipe(tmp_path: Path) -> None:
    clip, line = media_path("video", "hdtf_wda_katiehill_512.mp4"), media_path("audio", "jfk_inaugural_en_16k.wav")
    cold = run_mytalk("sync", clip, "--audio", line, "-o", tmp_path / "cold.mkv", "--in", "10", "--out", "11",
                      "--engine", "classic", "--quiet")
    assert cold.code == 0, cold.stderr
    loaded = modules_loaded_by(
        "from pathlib import Path\n"
        "from mytalk.core.jobs.request import SyncRequest\n"
        "from mytalk.core.jobs.sync import run_sync\n"
        f"report = run_sync(SyncRequest(video=Path({str(clip)!r}), audio=Path({str(line)!r}),\n"
        f"    output=Path({str(tmp_path / 'warm.mkv')!r}), in_point='10', out_point='11', engine='classic')).report\n"
        "assert report['engine_report']['profile']['from_cache'], 'the second job should be warm'\n",
        ("scipy", "torch", "mediapipe", "pocketsphinx"),
    )
    assert loaded == [], loaded
