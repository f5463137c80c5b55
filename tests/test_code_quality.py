"""Static guards that CI enforces: layering (core has no Qt), lint, and types of the core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_core_never_imports_qt_or_hosts() -> None:
    """Every import-linter contract of pyproject.toml: core has no Qt and no host code, ui no host
    adapters, the engines do not import each other, neural rendering imports no training code."""
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", "core", "ui", "plugin", "resources", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_the_packages() -> None:
    files = sorted(str(p.relative_to(REPO_ROOT)) for folder in ("core", "ui", "plugin", "resources")
                   for p in (REPO_ROOT / folder).rglob("*.py"))
    result = _run(str(BIN / "mypy"), "--no-error-summary", *files)
    assert result.returncode == 0, result.stdout + result.stderr
