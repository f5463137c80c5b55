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
