"""Shared fixtures: where the real clips are, and isolated user-data folders (one per test, one for the session)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO_ROOT.parent / "shared" / "media"))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def shared_videos() -> list[Path]:
    """Every real clip in ../shared/media/video, sorted; empty when the folder is absent."""
    folder = SHARED_MEDIA / "video"
    return sorted(p for p in folder.glob("*") if p.suffix in {".mp4", ".mov", ".mkv"}) if folder.is_dir() else []


def shared_audio() -> list[Path]:
    folder = SHARED_MEDIA / "audio"
    return sorted(p for p in folder.glob("*") if p.suffix in {".wav", ".mp3", ".flac"}) if folder.is_dir() else []


def shown_panel(qtbot: Any, clip: str, size: tuple[int, int] = (1100, 720)) -> Any:
    """A `MyTalkPanel` without a runtime, shown at `size` with the shared clip `clip` open (the test skips
    without it); the caller shuts it down. Imported here, not at the top, so tests without Qt never load it."""
    from mytalk.ui.panel import MyTalkPanel

    widget = MyTalkPanel(start_runtime=False, video=media_path("video", clip))
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    return widget


@contextmanager
def copy_engine_panel(qtbot: Any, clip: str) -> Iterator[Any]:
    """`shown_panel` with `clip`, offering the `copy` engine as a runtime's hello would list it; shut down after."""
    widget = shown_panel(qtbot, clip)
    widget.settings.set_engines(["copy"])
    try:
        yield widget
    finally:
        widget.shutdown()


@contextmanager
def classic_runtime_panel(qtbot: Any, video: Path, audio: Path, renders: Path) -> Iterator[Any]:
    """The panel with its real runtime, shown at 1200 x 760 with `video` and `audio` open, rendering into
    `renders`, once the runtime is ready and the classic engine chosen (the test skips without that engine);
    shut down after."""
    from mytalk.core.engines import available_engines
    from mytalk.ui.panel import create_panel

    if "classic" not in available_engines():
        pytest.skip("the classic engine is not installed")
    panel = create_panel(video=video, audio=audio)
    qtbot.addWidget(panel)
    try:
        panel.resize(1200, 760)
        panel.show()
        panel.settings.output.setText(str(renders))
        qtbot.waitUntil(panel.runtime.is_ready, timeout=60_000)
        panel.settings.select_engine("classic")
        yield panel
    finally:
        panel.shutdown()


@pytest.fixture
def shared_media() -> Path:
    """The real-footage folder; tests that need it skip with a clear reason when it is absent."""
    if not (SHARED_MEDIA / "video").is_dir():
        pytest.skip(f"real clips not found at {SHARED_MEDIA} (set MYTALK_SHARED_MEDIA to run media tests)")
    return SHARED_MEDIA


def media_path(kind: str, name: str) -> Path:
    """Path of one shared clip, skipping the calling test when it is not there."""
    path = SHARED_MEDIA / kind / name
    if not path.is_file():
        pytest.skip(f"shared clip missing: {path}")
    return path


def settled_copy(source: Path, target: Path) -> Path:
    """`source` copied to `target`, dated in the past, returned once its ctime is old enough for its identity to
    be trusted (`hashing.FileIdentity.settled`): a digest of it may be remembered, a large one keyed by it."""
    import shutil
    import time

    from mytalk.core.hashing import RACY_WINDOW_NS

    shutil.copyfile(source, target)
    past = time.time_ns() - 2 * RACY_WINDOW_NS
    os.utime(target, ns=(past, past))
    wait_until_settled(target)
    return target


def wait_until_settled(path: Path) -> None:
    """Wait until `path` was last changed (its ctime) longer ago than the racy window."""
    import time

    from mytalk.core.hashing import RACY_WINDOW_NS

    deadline = time.monotonic() + 10
    while time.time_ns() - os.stat(path).st_ctime_ns <= RACY_WINDOW_NS:  # ctime is now: wait it out
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.fixture(scope="session", autouse=True)
def isolated_session_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """User folders for what runs outside any one test: module- and session-scoped fixtures are set up
    before a test's own `isolated_user_dirs`, and without this they would read and write the real user
    cache. On one CI run a tracking entry found there answered a fixture's tracking instead of the
    tracker, and a comparison of two dataset builds failed (an altered entry in the real cache reproduces
    it)."""
    home = tmp_path_factory.mktemp("mytalk_session_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep profiles, caches and logs of every test out of the real user folders."""
    home = tmp_path_factory.mktemp("mytalk_home")
    monkeypatch.setenv("MYTALK_HOME", str(home))
    return home


BOX_SLACK_PX = 4
"""How far a reported box may reach past the evaluation's region: the product bounds its masks by its own
region (`composite.masks.edit_region`, a different polygon of the same landmarks), and boxes sit on the
2-px chroma grid."""


def assert_boxes_inside_the_lower_face(clip: Path, start: int, stop: int,
                                       boxes: list[tuple[int, int, int, int] | None], size: tuple[int, int]) -> None:
    """The engine's reported boxes are bounded too: each lies within the bounding box of the evaluation's own
    lower-face region (`benchmarks.eval.lower_face`, from the source's tracked landmarks), give or take
    `BOX_SLACK_PX`. Checking "nothing changed outside the box" means little without this."""
    from benchmarks.eval.lower_face import region_mask
    from mytalk.core.face.video_tracking import track_video

    observations = track_video(clip, start, stop)
    checked = 0
    for obs, box in zip(observations, boxes, strict=True):
        if box is None or not obs.found:
            continue
        ys, xs = np.nonzero(region_mask(obs.landmarks, size))
        bound = (xs.min() - BOX_SLACK_PX, ys.min() - BOX_SLACK_PX, xs.max() + 1 + BOX_SLACK_PX, ys.max() + 1 + BOX_SLACK_PX)
        x0, y0, x1, y1 = box
        assert x0 >= bound[0] and y0 >= bound[1] and x1 <= bound[2] and y1 <= bound[3], (obs.index, box, bound)
        checked += 1
    assert checked > 0
