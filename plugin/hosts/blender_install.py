"""`mytalk blender install [--target DIR] [--print]`: put MyTalk's extension into Blender.

The extension (`mytalk/plugin/hosts/blender/`, a Blender 4.2+ extension with its
`blender_manifest.toml`) runs in Blender's own Python, which has no MyTalk. So the copy that goes
into Blender carries one extra file, `mytalk_install.json`, naming the MyTalk program of *this*
installation: the add-on's default for running MyTalk as a child process.

- Install: the extension folder goes into a Blender extensions repository folder as `mytalk/`
  (swapped in whole, `mytalk.core.atomic.replace_folder`), by default the `user_default` repository
  of the newest Blender (4.2+) in the user's Blender config folder; Blender lists it after a
  restart (or Preferences ▸ Get Extensions ▸ Refresh).
- `--print`: a zip for Preferences ▸ Get Extensions ▸ Install from Disk… is written to MyTalk's
  data folder, and where it is and how to install it is printed.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path

from mytalk.core import __version__
from mytalk.core.atomic import replace_folder, write_atomically
from mytalk.core.errors import UsageError
from mytalk.core.userdirs import UserDirs, user_dirs

MANIFEST_NAME = "blender_manifest.toml"
INSTALL_RECORD = "mytalk_install.json"
REPOSITORY = "user_default"
MIN_BLENDER = (4, 2)
"""Extensions (blender_manifest.toml) exist since Blender 4.2; older versions' folders are skipped."""
_VERSION_FOLDER = re.compile(r"^(\d+)\.(\d+)$")
_SKIPPED = ("__pycache__", "*.pyc", INSTALL_RECORD)


def extension_path() -> Path:
    """The extension folder shipped in this package (what the manifest's Blender host entry names)."""
    return Path(__file__).resolve().with_name("blender")


def extension_manifest() -> dict[str, object]:
    """The shipped `blender_manifest.toml`, parsed."""
    with (extension_path() / MANIFEST_NAME).open("rb") as handle:
        return tomllib.load(handle)


def mytalk_executable() -> Path:
    """This installation's `mytalk` script, else its Python (the add-on then runs `python -m mytalk.plugin.cli`)."""
    folder = Path(sys.executable).parent
    for name in ("mytalk.exe", "mytalk") if sys.platform.startswith("win") else ("mytalk",):
        if (folder / name).is_file():
            return folder / name
    return Path(sys.executable)


def install_record(executable: Path | None = None) -> dict[str, str]:
    return {"mytalk": str(executable or mytalk_executable()), "python": sys.executable, "version": __version__}


def fill_extension(folder: Path, executable: Path | None = None) -> Path:
    """Copy the extension into `folder` (new, or empty) with the install record in it."""
    shutil.copytree(extension_path(), folder, ignore=shutil.ignore_patterns(*_SKIPPED), dirs_exist_ok=True)
    (folder / INSTALL_RECORD).write_text(json.dumps(install_record(executable), indent=2) + "\n", encoding="utf-8")
    return folder


def blender_config_root(env: Mapping[str, str] | None = None) -> Path:
    """Blender's per-user config folder, holding one folder per version (`4.2`, `5.0`, ...)."""
    environ = os.environ if env is None else env
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Blender"
    if sys.platform.startswith("win"):
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "Blender Foundation" / "Blender"
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "blender"


def default_repository(env: Mapping[str, str] | None = None) -> Path:
    """The `user_default` extensions folder of the newest Blender 4.2+ that has run for this user.

    `BLENDER_USER_RESOURCES` (Blender's own override of the user folder) wins when it is set.
    """
    environ = os.environ if env is None else env
    if environ.get("BLENDER_USER_RESOURCES"):
        return Path(environ["BLENDER_USER_RESOURCES"]) / "extensions" / REPOSITORY
    root = blender_config_root(environ)
    versions = []
    if root.is_dir():
        for child in root.iterdir():
            match = _VERSION_FOLDER.match(child.name)
            if match and child.is_dir() and (int(match[1]), int(match[2])) >= MIN_BLENDER:
                versions.append(((int(match[1]), int(match[2])), child))
    if not versions:
        raise UsageError(f"blender install: no Blender 4.2 or newer has run for this user (nothing in {root}); start "
                         "Blender once, or give --target FOLDER, or use --print to install from disk")
    return max(versions)[1] / "extensions" / REPOSITORY


def install(target: Path | None = None, *, env: Mapping[str, str] | None = None,
            executable: Path | None = None) -> Path:
    """Install the extension into the repository folder `target` (default: `default_repository`);
    returns the extension's folder there. A previous copy is replaced whole."""
    if target is None:
        repository = default_repository(env)
        repository.mkdir(parents=True, exist_ok=True)
    else:
        repository = Path(target).expanduser()
        if not repository.is_dir():
            raise UsageError(f"blender install: --target {repository} is not a folder; give an existing Blender "
                             "extensions repository folder (Preferences ▸ Get Extensions ▸ Repositories)")
        if not os.access(repository, os.W_OK):
            raise UsageError(f"blender install: --target {repository} is not writable; choose another folder")
    extension_id = str(extension_manifest()["id"])

    def fill(folder: Path) -> None:
        fill_extension(folder, executable)

    return replace_folder(repository / extension_id, fill)


def build_zip(folder: Path | None = None, *, executable: Path | None = None) -> Path:
    """The extension as a zip (the manifest at its root, as Install from Disk expects), written to
    `folder` (default: MyTalk's data folder `blender/`); returns its path."""
    manifest = extension_manifest()
    destination = UserDirs.ensure(Path(folder) if folder is not None else user_dirs().data / "blender")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(extension_path().rglob("*")):
            relative = path.relative_to(extension_path())
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc" \
                    and path.name != INSTALL_RECORD:
                archive.write(path, relative.as_posix())
        archive.writestr(INSTALL_RECORD, json.dumps(install_record(executable), indent=2) + "\n")
    return write_atomically(destination / f"{manifest['id']}-{manifest['version']}.zip", buffer.getvalue())


def install_command(target: Path | None, print_only: bool) -> int:
    """The CLI: install (say where) or build the zip (say how to install it)."""
    if print_only:
        archive = build_zip()
        print(f"{archive}")
        print("Install it in Blender 4.2+: Edit ▸ Preferences ▸ Get Extensions ▸ ▾ ▸ Install from Disk… and pick "
              "that file; then Sequencer ▸ Sidebar (N) ▸ MyTalk.", file=sys.stderr)
        print(f"It runs MyTalk from {mytalk_executable()} (change it in Preferences ▸ Add-ons ▸ MyTalk).",
              file=sys.stderr)
        return 0
    installed = install(target)
    print(f"{installed}")
    print(f"Installed MyTalk's Blender extension into {installed.parent}; restart Blender (or Preferences ▸ Get "
          "Extensions ▸ Refresh), enable 'MyTalk Lip-Sync', then Sequencer ▸ Sidebar (N) ▸ MyTalk.", file=sys.stderr)
    return 0


__all__ = ["build_zip", "default_repository", "extension_path", "fill_extension", "install", "install_command",
           "mytalk_executable"]
