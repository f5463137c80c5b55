"""Run the installed `mytalk` console script exactly as outside tools and benchmarks do."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MYTALK = Path(sys.executable).with_name("mytalk")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_mytalk(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 600) -> CliResult:
    """Run `mytalk ARGS...` in a subprocess; MYTALK_HOME is inherited from the test's isolation."""
    completed = subprocess.run(
        [str(MYTALK), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
