"""Render screenshots of the panel's main states into docs/screenshots/.

    .venv/bin/python benchmarks/panel_screenshots.py [--out docs/screenshots] [--engine NAME] [--only sizes|states]

States: empty, clip loaded with marks, preview in A/B (wipe), commit in progress, error (the
runtime killed mid-commit, as a crash in an engine would). Uses the real runtime and a shared
clip from ../shared/media; user data goes to a temporary MYTALK_HOME, renders to a temporary
folder that is deleted afterwards. Runs offscreen unless QT_QPA_PLATFORM says otherwise.

Sizes: the standalone window (menus, docks) at the small screens the panel must work on,
1280x720 and 1024x700, with a clip loaded and a range marked: `panel_1280x720.png`,
`panel_1024x700.png`. Look at them after a layout change: nothing may be cut.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("MYTALK_SHARED_MEDIA", REPO.parent / "shared" / "media"))
CLIP = MEDIA / "video" / "retalking_face2_swalwell.mp4"
LINE = MEDIA / "audio" / "jfk_inaugural_en_16k.wav"
SIZE = (1280, 800)
SIZES_CLIP = MEDIA / "video" / "hdtf_wda_katiehill_512.mp4"
WINDOW_SIZES = ((1280, 720), (1024, 700))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--engine", help="engine to select (default: classic when installed, else the first)")
    parser.add_argument("--only", choices=("sizes", "states"), help="only the window sizes, or only the states")
    args = parser.parse_args(argv)
    if not CLIP.is_file() or not LINE.is_file() or not SIZES_CLIP.is_file():
        print(f"shared media not found under {MEDIA}; set MYTALK_SHARED_MEDIA", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.TemporaryDirectory(prefix="mytalk-shots-")
    os.environ["MYTALK_HOME"] = home.name
    renders = Path(home.name) / "renders"

    from PySide6.QtCore import QEventLoop, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from mytalk.ui.panel import create_panel
    from mytalk.ui.settings import choose_engine

    app = QApplication.instance() or QApplication(sys.argv[:1])

    def wait(condition: Callable[[], bool], timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return condition()

    def settle(seconds: float = 0.3) -> None:
        wait(lambda: False, seconds)

    args.out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def shoot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
        settle()
        path = args.out / f"{name}.png"
        widget.grab().save(str(path))
        shots.append(path)
        print(f"wrote {path}")

    if args.only != "states" and not shoot_sizes(wait, shoot):
        return 1
    if args.only == "sizes":
        home.cleanup()
        print(f"{len(shots)} screenshots in {args.out}")
        return 0

    # 1. Empty: nothing loaded, runtime up.
    panel = create_panel()
    panel.resize(*SIZE)
    panel.show()
    if not wait(panel.runtime.is_ready, 60):
        print(f"the runtime did not start: {panel.runtime.stderr_tail}", file=sys.stderr)
        return 1
    shoot(panel, "01_empty")
    panel.shutdown()
    panel.deleteLater()

    # 2. Clip loaded with marks, a face picked and the line slipped a frame.
    panel = create_panel(video=CLIP, audio=LINE)
    panel.resize(*SIZE)
    panel.show()
    wait(panel.runtime.is_ready, 60)
    engines = panel.settings.engines()
    panel.settings.select_engine(args.engine or choose_engine(engines, None) or engines[0])
    panel.settings.output.setText(str(renders))
    wait(lambda: panel.waveform.line.size > 0 and panel.waveform.production.size > 0, 30)
    panel.set_range(25, 75)
    panel.transport.seek(40)
    video = panel.info.video if panel.info else None
    if video is not None:
        # A real click on the face: the panel asks the runtime to track it and draws its box.
        settle()
        target = panel.viewer.from_source(video.width * 0.5, video.height * 0.47).toPoint()
        QTest.mouseClick(panel.viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
        wait(lambda: bool(panel.viewer.face_boxes), 60)
    panel.nudge_frames(1)
    shoot(panel, "02_clip_marked")

    # 3. Preview in A/B: the proxy is ready, the wipe splits original and MyTalk.
    job = panel.start_preview()
    if not job or not wait(lambda: panel.preview is not None and panel.jobs.entries[job].finished, 120):
        print("the preview did not finish", file=sys.stderr)
        return 1
    panel.set_view_mode("wipe")
    panel.viewer.set_wipe(0.55)
    panel.transport.seek(48)
    shoot(panel, "03_preview_ab")

    # 4. Commit in progress: the whole clip in ProRes, caught mid-render, then cancelled.
    panel.set_range(0, 125)
    commit = panel.start_commit()
    assert commit
    wait(lambda: panel.jobs.entries[commit].state == "running" and panel.jobs.entries[commit].done >= 20, 120)
    shoot(panel, "04_commit_progress")
    panel.cancel(commit)
    wait(lambda: panel.jobs.entries[commit].finished, 30)

    # 5. Error: the runtime dies mid-commit (as a crash in an engine would).
    commit = panel.start_commit()
    assert commit
    wait(lambda: panel.jobs.entries[commit].done >= 30, 120)
    pid = panel.runtime.pid()
    if pid:
        os.kill(pid, signal.SIGKILL)
    wait(lambda: panel.jobs.entries[commit].finished and panel.banner.isVisible(), 30)
    shoot(panel, "05_error")
    wait(panel.runtime.is_ready, 60)
    panel.shutdown()
    home.cleanup()
    print(f"{len(shots)} screenshots in {args.out}")
    return 0


def shoot_sizes(wait: Callable[..., bool], shoot: Callable[..., None]) -> bool:
    """The standalone window at each of `WINDOW_SIZES`, a clip loaded and frames 25-74 marked."""
    from mytalk.plugin.standalone import StandaloneWindow

    window = StandaloneWindow(SIZES_CLIP, LINE)
    panel = window.panel
    window.show()
    try:
        if not wait(panel.runtime.is_ready, 60):
            print(f"the runtime did not start: {panel.runtime.stderr_tail}", file=sys.stderr)
            return False
        wait(lambda: panel.waveform.line.size > 0 and panel.waveform.production.size > 0, 30)
        panel.set_range(25, 75)
        panel.transport.seek(40)
        for width, height in WINDOW_SIZES:
            window.resize(width, height)
            wait(lambda: False, 0.3)
            if (window.width(), window.height()) != (width, height):
                print(f"the window cannot shrink to {width}x{height}: it stays {window.width()}x{window.height()}",
                      file=sys.stderr)
                return False
            shoot(window, f"panel_{width}x{height}")
        return True
    finally:
        window.close()


if __name__ == "__main__":
    sys.exit(main())
