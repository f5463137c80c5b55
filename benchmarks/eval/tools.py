"""The tools the suite measures: the product, driven only through its public `mytalk sync` command.

A tool takes a `ToolJob` (the arguments an editor would type) and leaves an output file and a
JSON report, exactly like `mytalk sync ... -o OUT --report R.json`. The suite's own reference
tools (`references.py`) implement the same interface, so one measurement code reads them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


def mytalk_executable() -> Path:
    """The installed `mytalk` console script next to this interpreter (the venv's bin folder)."""
    return Path(sys.executable).with_name("mytalk")


@dataclass(frozen=True)
class ToolJob:
    """One `mytalk sync` invocation.

    start, stop: the range (frames, stop exclusive), passed as `--in`/`--out` as given, even when
    wrong (the robust protocol feeds bad ones on purpose). references: `--reference` ranges.
    truth: for the suite's oracle only, maps output frame offsets (0 = the in point) to the source
    frame (fractional, NaN where undefined) whose mouth is the ground truth. The product never
    sees it. transcript: the words of the line, passed as `--transcript TEXT` (None: not passed).
    language: `--language`, passed only when set (None: the product's default, English).
    """

    video: Path
    audio: Path
    output: Path
    report: Path
    start: int | None
    stop: int | None
    guide: str = "auto"
    references: tuple[str, ...] = ()
    codec: str = "ffv1"
    truth: Callable[[np.ndarray], np.ndarray] | None = None
    transcript: str | None = None
    language: str | None = None


@dataclass
class ToolRun:
    """What one run left behind. seconds: wall-clock time of the whole command (s)."""

    exit_code: int
    stderr: str
    seconds: float
    output: Path
    report: dict[str, Any] | None = None
    command: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.output.is_file()

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def first_error_line(self) -> str | None:
        lines = self.error_lines
        return lines[0] if lines else None


class Tool(Protocol):
    """Anything that renders a `ToolJob` the way `mytalk sync` does."""

    name: str
    is_reference: bool

    def supports(self, protocol: str) -> bool:
        """Whether this tool can take part in `protocol` at all."""
        ...

    def run(self, job: ToolJob) -> ToolRun:
        """Render the job; never raises for a failed render (the exit code says it)."""
        ...


class MyTalkTool:
    """`mytalk sync --engine NAME`, as a subprocess of the installed console script.

    `MYTALK_HOME` and the rest of the environment are inherited, so a test's isolated user folder
    applies to the tool too. motion_driver: `--motion-driver` for every job (auto, guide, phonetic,
    speech), passed only when set (None: the product's default). learn_seconds: each frame-span
    `--reference A-B` of a job (the whole clip for a job without one) is replaced by the product's own
    sample of it for that much footage
    (`mytalk.core.engines.default_reference.spread_windows`), to measure what learning from a sample of the
    footage costs against learning from all of it (None: the references as the protocol gives them).
    """

    is_reference = False

    def __init__(self, engine: str, timeout_s: float = 1800.0, executable: Path | None = None,
                 motion_driver: str | None = None, learn_seconds: float | None = None) -> None:
        self.engine = engine
        self.learn_seconds = learn_seconds
        self.name = engine
        self.timeout_s = timeout_s
        self.executable = executable or mytalk_executable()
        self.motion_driver = motion_driver

    def supports(self, protocol: str) -> bool:
        return True

    def command(self, job: ToolJob) -> list[str]:
        """The exact command line for a job."""
        cmd = [str(self.executable), "sync", str(job.video), "--audio", str(job.audio), "-o", str(job.output)]
        if job.start is not None:
            cmd += ["--in", str(job.start)]
        if job.stop is not None:
            cmd += ["--out", str(job.stop)]
        cmd += ["--guide", job.guide, "--engine", self.engine, "--codec", job.codec, "--report", str(job.report), "--quiet"]
        for reference in self._references(job):
            cmd += ["--reference", reference]
        if job.transcript is not None:
            cmd += ["--transcript", job.transcript]
        if job.language is not None:
            cmd += ["--language", job.language]
        if self.motion_driver is not None:
            cmd += ["--motion-driver", self.motion_driver]
        return cmd

    def _references(self, job: ToolJob) -> list[str]:
        """The job's `--reference` values, each frame span sampled when `learn_seconds` is set."""
        if self.learn_seconds is None:
            return list(job.references)
        from mytalk.core.engines.default_reference import spread_windows
        from mytalk.core.media.probe import probe

        info = probe(job.video)
        assert info.video is not None
        out: list[str] = []
        for reference in job.references or (f"0-{info.video.frame_count}",):  # none: the whole clip's sample
            a, sep, b = reference.partition("-")
            if not (sep and a.isdigit() and b.isdigit()):
                out.append(reference)
                continue
            spans = spread_windows(int(a), int(b), info.video.fps, budget_s=self.learn_seconds)
            out += [f"{x}-{y}" for x, y in spans]
        return out

    def run(self, job: ToolJob) -> ToolRun:
        cmd = self.command(job)
        began = time.perf_counter()
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL, env=dict(os.environ)
            )
            code, stderr = done.returncode, done.stderr
        except subprocess.TimeoutExpired as expired:
            code = 124
            partial = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else expired.stderr
            stderr = f"suite: timed out after {self.timeout_s:.0f} s\n{partial or ''}"
        seconds = time.perf_counter() - began
        report = None
        if code == 0 and job.report.is_file():
            report = json.loads(job.report.read_text())
        return ToolRun(code, stderr, seconds, job.output, report, cmd)
