"""The panel in a real X11 window, not offscreen: one smoke test of the whole loop under Xvfb.

The offscreen tests (`test_ui_panel.py`) never load the xcb platform plugin, so they cannot see what a bare
Debian lacks for a real window (`libxcb-cursor0`, `libxcb-icccm4`, `libxcb-keysyms1`, ...: Qt aborts with
"Could not load the Qt platform plugin xcb"; the README's apt-get line has them all). Here the test starts its
own Xvfb on a free display and runs `mytalk panel`'s window in a child process with `QT_QPA_PLATFORM=xcb`: load
a shared clip and line, mark frames 0-24 with I/O, click Preview, wait for the proxy, and grab the window's
pixels back from the X server.

To watch it on a desktop: `QT_QPA_PLATFORM=xcb python tests/test_ui_real_window.py VIDEO LINE OUT_DIR` (without
the variable, conftest's import makes it offscreen); the test runs exactly that."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT, media_path

CLIP = "hdtf_wda_katiehill_512.mp4"  # 25 fps
LINE = "jfk_inaugural_en_16k.wav"
MARK_IN, MARK_OUT = 0, 24  # I and O at these frames: the range [0, 25), one second
READY_S = 120.0
PREVIEW_S = 240.0  # a cold classic preview on 2 shared cores: tracking and the actor profile come first
XVFB_START_S = 30.0
RESULT_PREFIX = "REAL_WINDOW_RESULT "


# -- the child: the standalone window on whatever display QT_QPA_PLATFORM and DISPLAY name -----------------


def drive_window(video: Path, line: Path, out_dir: Path) -> dict[str, Any]:
    """Open the standalone window, mark, preview and grab it; returns what happened (for the test to check)."""
    from PySide6.QtCore import QElapsedTimer, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from mytalk.plugin.standalone import StandaloneWindow

    app = QApplication(sys.argv[:1])
    window = StandaloneWindow(video, line)
    panel = window.panel
    ready: list[dict[str, Any]] = []
    panel.previewReady.connect(ready.append)
    result: dict[str, Any] = {"platform": app.platformName(), "runtime_home": panel.runtime.env.get("MYTALK_HOME")}

    def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        clock = QElapsedTimer()
        clock.start()
        while not condition():
            if clock.elapsed() > timeout_s * 1000:
                raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s "
                                   f"(runtime: {panel.runtime_label.text()!r}, banner: {panel.banner.text!r})")
            QTest.qWait(50)

    try:
        window.show()
        result["exposed"] = QTest.qWaitForWindowExposed(window, 10_000)
        wait_until(panel.runtime.is_ready, READY_S, "the runtime's hello")
        wait_until(lambda: panel.transport.frame_count > 0 and panel.viewer.has_picture(), READY_S,
                   "the clip's first picture")
        panel.transport.seek(MARK_IN)
        QTest.keyClick(panel, Qt.Key.Key_I)
        panel.transport.seek(MARK_OUT)
        QTest.keyClick(panel, Qt.Key.Key_O)
        result["range"] = panel.marked_range()
        wait_until(panel.preview_button.isEnabled, READY_S, "an enabled Preview button")
        started = time.monotonic()
        QTest.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
        wait_until(lambda: any(not event.get("partial") for event in ready), PREVIEW_S, "the preview-ready event")
        job_id = next(iter(panel.jobs.entries))
        wait_until(lambda: panel.jobs.entries[job_id].finished, PREVIEW_S, "the preview job's end")
        result["preview_s"] = round(time.monotonic() - started, 1)
        entry = panel.jobs.entries[job_id]
        final = next(event for event in ready if not event.get("partial"))
        result.update(job_state=entry.state, job_message=entry.message, engine=panel.settings.values()["engine"],
                      preview={k: final.get(k) for k in ("path", "start", "stop")})
        wait_until(lambda: panel.viewer.shows_b, 10.0, "B (the proxy) in the viewer")
        QTest.qWait(500)  # let the X server receive the last paint before reading its pixels back
        app.processEvents()
        # The window's pixels as the X server holds them (not QWidget.grab, which re-renders offscreen).
        shot = window.screen().grabWindow(window.winId())
        path = out_dir / "real_window.png"
        result.update(screenshot=str(path), saved=shot.save(str(path)),
                      window_size=[window.width(), window.height()], shot_size=[shot.width(), shot.height()])
    finally:
        window.close()  # shuts the runtime down
        app.processEvents()
    return result


# -- the test ------------------------------------------------------------------------------------------------

@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A fresh Xvfb on a display number it picks itself (`-displayfd`), stopped after the test."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it)")
    read_end, write_end = os.pipe()
    process = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24",
                                "-nolisten", "tcp", "-noreset"],
                               pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        number = b""
        deadline = time.monotonic() + XVFB_START_S
        while not number.endswith(b"\n") and time.monotonic() < deadline and process.poll() is None:
            if select.select([read_end], [], [], 0.5)[0]:
                chunk = os.read(read_end, 16)
                if not chunk:
                    break
                number += chunk
        if not number.strip().isdigit():
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"Xvfb did not start: {err.decode(errors='replace').strip()[-400:]}")
        yield f":{number.decode().strip()}"
    finally:
        os.close(read_end)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def xcb_environment(display: str) -> dict[str, str]:
    env = dict(os.environ)  # carries the test's fresh MYTALK_HOME (conftest) to the window and its runtime
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=display)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def skip_unless_xcb_loads(env: dict[str, str]) -> None:
    """Try the xcb platform plugin in a throwaway process; skip, naming the missing library, when it fails."""
    probe = subprocess.run(
        [sys.executable, "-c", "from PySide6.QtWidgets import QApplication; print(QApplication([]).platformName())"],
        env={**env, "QT_DEBUG_PLUGINS": "1"}, capture_output=True, text=True, timeout=60)
    if probe.returncode == 0 and probe.stdout.strip() == "xcb":
        return
    missing = sorted(set(re.findall(r"(lib[\w.+-]+\.so[.\d]*): cannot open shared object file", probe.stderr)))
    lines = [line.strip() for line in probe.stderr.splitlines() if line.strip()]
    why = f"missing {', '.join(missing)}" if missing else (lines[-1] if lines else f"exit status {probe.returncode}")
    pytest.skip(f"the Qt xcb platform plugin cannot load here ({why}); on Debian: "
                "apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 (see README)")


@pytest.mark.media
@pytest.mark.slow
def test_the_panel_previews_in_a_real_xcb_window(xvfb_display: str, tmp_path: Path,
                                                 isolated_user_dirs: Path) -> None:
    video, line = media_path("video", CLIP), media_path("audio", LINE)
    env = xcb_environment(xvfb_display)
    assert env["MYTALK_HOME"] == str(isolated_user_dirs)
    skip_unless_xcb_loads(env)
    child = subprocess.run([sys.executable, __file__, str(video), str(line), str(tmp_path)], env=env,
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=READY_S * 2 + PREVIEW_S * 2)
    reported = [row for row in child.stdout.splitlines() if row.startswith(RESULT_PREFIX)]
    assert child.returncode == 0 and reported, f"the window failed ({child.returncode}):\n{child.stderr[-3000:]}"
    result = json.loads(reported[-1][len(RESULT_PREFIX):])

    assert result["platform"] == "xcb" and result["exposed"], result
    assert result["runtime_home"] == str(isolated_user_dirs)
    assert result["range"] == [MARK_IN, MARK_OUT + 1]
    assert result["job_state"] == "done", result["job_message"]
    preview = result["preview"]
    assert (preview["start"], preview["stop"]) == (MARK_IN, MARK_OUT + 1)
    assert Path(preview["path"]).is_relative_to(isolated_user_dirs), "the preview went outside MYTALK_HOME"
    assert Path(preview["path"]).is_file()

    assert result["saved"] and result["shot_size"] == result["window_size"], result
    shot = cv2.imread(result["screenshot"], cv2.IMREAD_COLOR)
    assert shot is not None and shot.shape[:2] == (result["window_size"][1], result["window_size"][0])
    # Not blank: a black or one-colour grab is what a window that never painted reads back as.
    assert float(shot.std()) > 20.0, f"the window's pixels are nearly uniform (std {shot.std():.1f})"
    colours = np.unique(shot.reshape(-1, 3), axis=0)
    assert len(colours) > 1000, f"only {len(colours)} colours: the clip's picture is not in the window"


if __name__ == "__main__":
    outcome = drive_window(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    print(RESULT_PREFIX + json.dumps(outcome), flush=True)
