"""The distribution installs as `mytalk.*` only, with every source package and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT

SOURCE_FOLDERS = {"core": "mytalk/core", "ui": "mytalk/ui", "plugin": "mytalk/plugin", "resources": "mytalk/resources"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("mytalk-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_holds_only_the_mytalk_namespace(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"mytalk", *(t for t in tops if t.endswith(".dist-info"))}
    assert not any(name.startswith(("core/", "ui/", "plugin/")) for name in wheel.namelist())


def test_every_source_package_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for folder, installed in SOURCE_FOLDERS.items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            relative = init.relative_to(REPO_ROOT / folder).as_posix()
            assert f"{installed}/{relative}" in names, f"{folder}/{relative} is missing: add it to pyproject packages"
        for module in (REPO_ROOT / folder).rglob("*.py"):
            relative = module.relative_to(REPO_ROOT / folder).as_posix()
            assert f"{installed}/{relative}" in names, f"{folder}/{relative} is not packaged"


def test_typed_markers_and_console_script(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for package in ("core", "ui", "plugin"):
        assert f"mytalk/{package}/py.typed" in names
    (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
    assert "mytalk = mytalk.plugin.cli:main" in wheel.read(entry_points).decode()


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("mytalk")
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "sync" in result.stdout


def test_importing_core_has_no_side_effects() -> None:
    """Importing the runtime loads no Qt, torch or mediapipe (style rule 1)."""
    code = (
        "import sys, mytalk.core, mytalk.core.jobs.sync, mytalk.plugin.cli; "
        "heavy = [m for m in ('PySide6', 'torch', 'mediapipe') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _constraints() -> dict[str, str]:
    """constraints.txt as {normalised name: version}."""
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version
    return pins


def test_the_environment_is_the_one_constraints_txt_names() -> None:
    """setup.sh installs with `-c constraints.txt`: what the tests run on must be exactly that, or a
    version moved (by hand or by a registry) without the file saying so."""
    from importlib.metadata import PackageNotFoundError, version

    pins = _constraints()
    assert {"av", "numpy", "opencv-python-headless", "pyside6-essentials", "pocketsphinx", "ray"} <= set(pins)
    assert "torch" not in pins and "mediapipe" not in pins  # pinned where they are installed
    moved = {}
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            moved[name] = f"{installed} installed, {pinned} pinned"
    assert not moved, f"run `bash setup.sh` or update constraints.txt: {moved}"


def test_the_constraints_fall_inside_pyprojects_ranges() -> None:
    """A pin outside a range pyproject.toml declares would make setup.sh fail to resolve."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(d for group in project["optional-dependencies"].values() for d in group)]
    pins = _constraints()
    checked = 0
    for text in declared:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is not None:
            assert requirement.specifier.contains(pinned, prereleases=True), f"{requirement} excludes the pin {pinned}"
            checked += 1
    assert checked >= 10
