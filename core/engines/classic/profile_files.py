"""A classic actor profile on disk: `profile.json`, `profile.npz` and `crops/*.png` in one folder.

Only files here, no meaning: `profile.ActorProfile` says which arrays and fields it stores, this
module writes and reads them. A folder is always replaced whole (`mytalk.core.atomic`), so a
reader never meets a profile half of which is new. Arrays are read with allow_pickle=False: a
profile folder may come from someone else, and loading it must not run code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.atomic import replace_folder
from mytalk.core.engines.actors import PROFILE_FORMAT
from mytalk.core.errors import MediaFormatError

PROFILE_VERSION = "4"
"""Bumped when what a profile stores or means changes; older profiles must be rebuilt."""


def damaged(folder: Path, error: BaseException) -> MediaFormatError:
    """The error for a profile folder whose files cannot be used, saying how to fix it."""
    return MediaFormatError(f"actor profile {folder} is damaged ({error}); rebuild it with 'mytalk actor build'")


def write_profile_folder(folder: Path, arrays: dict[str, Any], crops: Sequence[bytes], meta: dict[str, Any]) -> Path:
    """Replace `folder` with a profile of these arrays, PNG crops and metadata; returns `folder`."""

    def fill(temp: Path) -> None:
        np.savez_compressed(temp / "profile.npz", **arrays)
        crop_folder = temp / "crops"
        crop_folder.mkdir()
        for k, data in enumerate(crops):
            (crop_folder / f"{k:05d}.png").write_bytes(data)
        record = {"format": PROFILE_FORMAT, **meta, "crops": len(crops)}
        (temp / "profile.json").write_text(json.dumps(record, indent=2))

    return replace_folder(folder, fill)


def read_profile_meta(folder: Path) -> dict[str, Any]:
    """`profile.json` of a profile this MyTalk reads; MediaFormatError (with the fix) otherwise."""
    try:
        meta: dict[str, Any] = json.loads((folder / "profile.json").read_text())
    except (OSError, ValueError) as error:
        raise MediaFormatError(f"actor profile {folder} cannot be read ({error}); rebuild it with 'mytalk actor build'") from None
    if meta.get("format") != PROFILE_FORMAT or meta.get("version") != PROFILE_VERSION:
        raise MediaFormatError(
            f"actor profile {folder} has version {meta.get('version')!r}, this MyTalk reads {PROFILE_VERSION!r}; "
            "rebuild it with 'mytalk actor build'"
        )
    return meta


def read_profile_arrays(folder: Path) -> dict[str, np.ndarray]:
    """Every array of `profile.npz`; MediaFormatError when the file is missing or damaged."""
    try:
        with np.load(folder / "profile.npz", allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError) as error:
        raise damaged(folder, error) from None
