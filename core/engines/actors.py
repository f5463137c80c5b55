"""Actor profiles on disk: what any engine may read of them, and where they live.

A stored actor is a folder `user_dirs().actors / NAME` (the classic engine writes it with `mytalk actor
build`, see `mytalk.core.engines.classic.profile`): `profile.json` (format, version, metadata),
`profile.npz` (plain arrays, read with allow_pickle=False) and `crops/*.png`. The appearance part, the
actor's own mouth crops with their landmarks, is useful beyond the engine that wrote it: the neural
engine paints with a classic profile's crops. So the crops, their index and the folder naming live here,
and an engine reads another engine's profile through this module, never by importing that engine.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mytalk.core.errors import MediaFormatError, UsageError

PROFILE_FORMAT = "mytalk-actor-profile"
"""The `format` field of every stored profile's profile.json."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_actor_name(name: str) -> str:
    """A profile name must be a plain folder name: letters, digits, '_', '.', '-' (64 at most)."""
    if not _NAME.fullmatch(name or ""):
        raise UsageError(f"actor name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def actors_folder() -> Path:
    from mytalk.core.userdirs import user_dirs

    return user_dirs().actors


def profile_folder(name: str) -> Path:
    return actors_folder() / check_actor_name(name)


def stored_actors() -> list[str]:
    """The names of every stored actor, whichever engine stored it: a classic profile
    (`actors/NAME/profile.json`) or a fine-tune of the neural engine (`UserDirs.neural_actors`), sorted.
    Read from the folders alone, so a caller that only checks a name (a batch's `--actors`) imports no
    engine."""
    from mytalk.core.userdirs import user_dirs

    names: set[str] = set()
    for root, marker in ((actors_folder(), "profile.json"), (user_dirs().neural_actors, "motion.safetensors")):
        try:
            names.update(entry.name for entry in root.iterdir()
                         if not entry.name.startswith(".") and (entry / marker).is_file())
        except OSError:
            continue
    return sorted(names)


def encode_crop(rgb: np.ndarray) -> bytes:
    """An RGB uint8 crop as the PNG bytes a stored profile keeps (lossless: `AppearanceIndex.image` reads
    back exactly the same values from either)."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise MediaFormatError("a reference frame could not be stored in the profile")
    return png.tobytes()


class AppearanceIndex:
    """The mouths retrieval may paint with: K crops of reference frames, decoded on use.

    rows (K,) rows of the profile's reference frames; boxes (K, 4) crop boxes (x0, y0, x1, y1) in source pixels;
    landmarks (K, 478, 2) float32 in crop pixels (pixel centres at +0.5, like the tracker's).

    crops: PNG bytes (a stored profile), or RGB uint8 arrays (a profile just learned: PNG-encoding its
    crops took a third of a cold preview's learning, so it waits for `encoded`, when the profile is saved
    after the first frame). Either reads back as the same values.
    """

    def __init__(self, rows: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray, crops: list[bytes | np.ndarray],
                 cache_size: int = 24) -> None:
        self.rows = np.asarray(rows, np.int64)
        self.boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
        self.landmarks = np.asarray(landmarks, np.float32)
        self.crops = crops
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.rows.size)

    def image(self, k: int) -> np.ndarray:
        """Crop k as float32 RGB (h, w, 3) in [0, 1]; a small LRU keeps the last few decoded."""
        with self._cache_lock:
            if k in self._cache:
                self._cache.move_to_end(k)
                return self._cache[k]
        crop = self.crops[k]
        if isinstance(crop, np.ndarray):
            rgb = crop.astype(np.float32) * np.float32(1.0 / 255.0)
        else:
            bgr = cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_UNCHANGED)
            if bgr is None:
                raise MediaFormatError(f"appearance crop {k} of the actor profile cannot be decoded; rebuild the profile")
            scale = np.float32(1.0 / (65535.0 if bgr.dtype == np.uint16 else 255.0))
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) * scale
        with self._cache_lock:
            self._cache[k] = rgb
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rgb

    def encoded(self) -> list[bytes]:
        """Every crop as PNG bytes, for storing; a raw crop is encoded and its PNG kept in its place (a third
        of the memory). Safe while another thread reads `image`."""
        out: list[bytes] = []
        for k, crop in enumerate(self.crops):
            if isinstance(crop, np.ndarray):
                crop = encode_crop(crop)
                self.crops[k] = crop
            out.append(crop)
        return out

    @property
    def nbytes(self) -> int | None:
        """Bytes of the crops as stored (PNG); None while some are raw (a profile just learned, not saved yet)."""
        if any(isinstance(crop, np.ndarray) for crop in self.crops):
            return None
        return sum(len(c) for c in self.crops)  # type: ignore[arg-type]


def read_appearance(folder: Path, arrays: dict[str, np.ndarray], count: int) -> AppearanceIndex:
    """The appearance index of a stored profile: its `app_*` arrays and `count` crops from `folder`/crops.

    Raises OSError or KeyError when something is missing (callers turn it into MediaFormatError).
    """
    crops: list[bytes | np.ndarray] = [(folder / "crops" / f"{k:05d}.png").read_bytes() for k in range(count)]
    return AppearanceIndex(arrays["app_rows"], arrays["app_boxes"], arrays["app_landmarks"], crops)


def load_appearance(name: str) -> AppearanceIndex:
    """The mouth crops of the stored actor `name`, whichever version of the profile wrote them.

    UsageError when there is no such actor; MediaFormatError when its folder is damaged.
    """
    folder = profile_folder(name)
    if not (folder / "profile.json").is_file():
        raise UsageError(f"no actor profile named {name!r}; build one with 'mytalk actor build {name} FOOTAGE' "
                         "('mytalk actor list' shows the stored ones)")
    try:
        meta = json.loads((folder / "profile.json").read_text())
        if meta.get("format") != PROFILE_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        with np.load(folder / "profile.npz", allow_pickle=False) as data:
            arrays: dict[str, Any] = {k: data[k] for k in ("app_rows", "app_boxes", "app_landmarks")}
        return read_appearance(folder, arrays, int(meta["crops"]))
    except (OSError, ValueError, KeyError) as error:
        raise MediaFormatError(f"actor profile {folder} is damaged ({error}); rebuild it with 'mytalk actor build'") from None
