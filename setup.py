"""Package discovery for the `mytalk` namespace (all metadata lives in pyproject.toml).

The source folders sit at the repository root (core/, ui/, plugin/, resources/) and install as
mytalk.core, mytalk.ui, … through `package-dir`. setuptools' automatic discovery cannot rename
folders, so the package list is derived here from every folder that has an `__init__.py`: a new
subpackage can never be silently left out of the wheel.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
FOLDERS = {"mytalk.core": "core", "mytalk.ui": "ui", "mytalk.plugin": "plugin", "mytalk.resources": "resources"}


def _packages() -> list[str]:
    found = []
    for package, folder in FOLDERS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.append(".".join((package, *relative)))
    return found


class BuildPyWithManifest(build_py):
    """Ship the root manifest.json as mytalk/resources/manifest.json inside the wheel.

    The manifest must sit at the bundle root for hosts, and be loadable from an installed wheel;
    editable installs read the root file directly.
    """

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self.copy_file(str(ROOT / "manifest.json"), str(Path(self.build_lib) / "mytalk" / "resources" / "manifest.json"))


setup(packages=_packages(), cmdclass={"build_py": BuildPyWithManifest})
