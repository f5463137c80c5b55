"""The CLI's last line of defence: a bug exits 1 with one line and a log file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mytalk.plugin import cli


def test_internal_error_exits_1_with_a_log_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_user_dirs: Path
) -> None:
    # Fault injection, not a fake result: a command that raises a non-MyTalk exception stands in
    # for a bug anywhere in the runtime, which is what this handler exists for.
    def broken_command(args: object) -> int:
        raise RuntimeError("simulated bug")

    monkeypatch.setitem(cli._COMMANDS, "probe", broken_command)
    code = cli.main(["probe", "anything.mp4"])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: simulated bug; details in " in lines[0]
    log = Path(lines[0].rsplit("details in ", 1)[1])
    assert log.is_file() and log.is_relative_to(isolated_user_dirs)
    assert "Traceback" in log.read_text() and "simulated bug" in log.read_text()


def test_user_error_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["probe", str(tmp_path / "missing.mov")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "missing.mov" in err


def test_progress_bar_draws_fps_and_eta(tmp_path: Path) -> None:
    stream_path = tmp_path / "bar.txt"
    with stream_path.open("w") as stream:
        bar = cli.ProgressBar(stream, enabled=True)
        for done in range(1, 11):
            bar(done, 10, "render")
    text = stream_path.read_text()
    assert "render" in text and "10/10" in text and "/s ETA" in text and text.endswith("\n")
