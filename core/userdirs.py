"""Where MyTalk keeps user data: actor profiles, trained models, caches and logs.

Everything goes through platformdirs so that nothing is written next to the working directory.
`MYTALK_HOME` overrides the root, which tests and portable installs use to stay self-contained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "mytalk"


@dataclass(frozen=True)
class UserDirs:
    """The folders MyTalk writes to, created on first use by `ensure`."""

    data: Path
    cache: Path
    logs: Path

    @property
    def actors(self) -> Path:
        return self.data / "actors"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def neural_actors(self) -> Path:
        """Fine-tunes of the neural engine, one folder per actor (`mytalk.core.engines.mytalk.models.actor_folder`);
        named here so that code which only lists or sweeps them imports no torch."""
        return self.models / "actors"

    @property
    def tracking_cache(self) -> Path:
        return self.cache / "tracking"

    @property
    def scratch(self) -> Path:
        """A job's nameless scratch files (`frame_arrays.ScratchFrames`): on the cache's disk, not in a
        /tmp that may be memory."""
        return self.cache / "scratch"

    @staticmethod
    def ensure(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path


def user_dirs(env: dict[str, str] | None = None) -> UserDirs:
    """Resolve the user folders, honouring `MYTALK_HOME` when it is set."""
    environ = os.environ if env is None else env
    home = environ.get("MYTALK_HOME")
    if home:
        root = Path(home)
        return UserDirs(data=root / "data", cache=root / "cache", logs=root / "logs")
    return UserDirs(
        data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


RENDERS_FOLDER_NAME = "MyTalk Renders"


def videos_dir(env: dict[str, str] | None = None) -> Path:
    """The user's videos folder (`~/Videos`, `~/Movies` on macOS); `MYTALK_HOME/videos` when that is set,
    so that tests and portable installs never write to the real home."""
    environ = os.environ if env is None else env
    home = environ.get("MYTALK_HOME")
    if home:
        return Path(home) / "videos"
    return Path(platformdirs.user_videos_dir())


def default_renders_dir(env: dict[str, str] | None = None) -> Path:
    """Where commits go until the editor picks a folder for the project: `MyTalk Renders` in the videos
    folder. Never the source clip's folder: camera cards and shared media volumes are often read-only,
    and editors keep renders apart from the originals."""
    return videos_dir(env) / RENDERS_FOLDER_NAME


def preferences_file(env: dict[str, str] | None = None) -> Path:
    """The panel's remembered choices (an INI file read by QSettings): under `MYTALK_HOME/config` when that
    is set, else the platform's config folder. Created by its first write."""
    environ = os.environ if env is None else env
    home = environ.get("MYTALK_HOME")
    root = Path(home) / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    return root / "panel.ini"
