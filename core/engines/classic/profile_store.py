"""The stored actor profiles (`user_dirs().actors / NAME`): list them, load one by name, remove one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mytalk.core.engines.actors import actors_folder, profile_folder
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_files import PROFILE_VERSION
from mytalk.core.errors import UsageError


def list_profiles() -> list[dict[str, Any]]:
    """Summaries of the stored profiles (from their JSON only), sorted by name."""
    root = actors_folder()
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        meta_path = folder / "profile.json"
        if folder.name.startswith(".") or not meta_path.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            out.append({"name": folder.name, "error": "unreadable profile.json"})
            continue
        out.append({"name": folder.name, "version": meta.get("version"), "created": meta.get("created"),
                    "sources": meta.get("sources", []), "appearance_frames": meta.get("crops"),
                    "lag_frames": (meta.get("speech_info") or {}).get("lag_frames"),
                    "usable": meta.get("version") == PROFILE_VERSION})
    return out


def require_profile(name: str) -> Path:
    """The folder of the stored profile `name`; UsageError lists the stored names when there is none."""
    folder = profile_folder(name)
    if not (folder / "profile.json").is_file():
        names = [p["name"] for p in list_profiles()]
        known = ", ".join(names) if names else "none yet"
        raise UsageError(f"no actor profile named {name!r} (stored: {known}); build one with 'mytalk actor build {name} FOOTAGE'")
    return folder


def load_profile(name: str) -> ActorProfile:
    """Load a stored profile by name; UsageError lists the stored names when it does not exist."""
    return ActorProfile.load(require_profile(name))


def remove_profile(name: str) -> Path:
    """Delete a stored profile; UsageError when there is none by that name."""
    folder = profile_folder(name)
    if not folder.is_dir():
        raise UsageError(f"no actor profile named {name!r} to remove; 'mytalk actor list' shows the stored ones")
    shutil.rmtree(folder)
    return folder
