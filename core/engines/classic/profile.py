"""Actor profiles: what the classic engine learns about an actor from reference footage.

A profile holds, per reference frame:
- the mouth: frontal lower-face shape (pose removed, `geometry`) and its 2-D canonical shape (the
  evaluation's frame, used to compare mouths for retrieval);
- the sound: band energies, the 1-4 kHz envelope and the voice probability of the footage's own
  audio over that frame (for the speech driver and its lag);
- the phones: the share of the frame covered by each phone, from the footage's own audio by phone-loop
  recognition (`PhoneTimer.footage_track`: footage comes without a transcript, in any language), so the
  phonetic driver learns this actor's mouth per phone;
and, for a bounded subset of frames (near-identical mouths deduplicated, `profile_crops`), the
appearance: an unresampled RGB crop of the mouth with its landmarks in crop pixels. Crops are
kept PNG-compressed in memory and decoded on use, so a profile built from a minute of 4K footage
stays small, and the renderer never resamples a mouth twice (sharpness).

This module is the data model and what of it is stored. The other jobs live beside it:
`profile_builder` learns a profile from `FOOTAGE[:range]` lists, either on the fly from
`--reference` (a temporary profile, kept between jobs by `profile_cache`) or once with `mytalk actor
build`; `profile_files` writes and reads the folder (`profile.npz`, plain arrays loaded with
allow_pickle=False; `profile.json`, metadata: sources with sha256, ranges, version, fitted figures;
`crops/*.png`); `profile_store` names the stored profiles under `user_dirs().actors / NAME`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.engines.actors import AppearanceIndex, read_appearance
from mytalk.core.engines.classic.phonetic_driver import PhoneticModel
from mytalk.core.engines.classic.profile_files import (
    PROFILE_VERSION,
    damaged,
    read_profile_arrays,
    read_profile_meta,
    write_profile_folder,
)
from mytalk.core.engines.classic.speech_driver import SpeechModel


@dataclass(frozen=True)
class ProfileSource:
    """One reference range: file, the key of its content (`hashing.cache_key`: its SHA-256, or for a large
    file its identity), frames [start, stop), the clip's fps, and the channels of its sound learned from (the
    editor's pick, `ChannelPick.to_dict`; None: its first stream with sound)."""

    path: str
    key: str
    start: int
    stop: int
    fps: str
    channels: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        found = {"path": self.path, "key": self.key, "start": self.start, "stop": self.stop, "fps": self.fps}
        return found if self.channels is None else {**found, "channels": self.channels}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProfileSource:
        """Read `to_dict`'s output; a profile saved before the key had a name of its own holds "sha256"."""
        channels = data.get("channels")
        return cls(str(data["path"]), str(data["key"] if "key" in data else data["sha256"]), int(data["start"]),
                   int(data["stop"]), str(data["fps"]), dict(channels) if isinstance(channels, dict) else None)


@dataclass
class ReferenceFrames:
    """Per reference frame (M rows, sources in order, frames in order within each).

    block (M,) index into the profile's sources; frame (M,) frame index in that source; found (M,);
    audio_ok (M,) whether the frame's sound may be learned from; shapes (M, P, 3) frontal lower
    face (NaN without a face); canon (M, P, 2) 2-D canonical lower face; aperture (M,) inner-lip gap
    ÷ IOD; bands (M, 8); envelope (M,) natural-log 1-4 kHz RMS; speech (M,) voice probability;
    phones (M, F) phone coverage (`phonetic_driver.PHONE_SET` columns); labelled (M,) rows whose
    phones were timed from audio the engine may learn from.
    """

    block: np.ndarray
    frame: np.ndarray
    found: np.ndarray
    audio_ok: np.ndarray
    shapes: np.ndarray
    canon: np.ndarray
    aperture: np.ndarray
    bands: np.ndarray
    envelope: np.ndarray
    speech: np.ndarray
    phones: np.ndarray
    labelled: np.ndarray

    FIELDS = ("block", "frame", "found", "audio_ok", "shapes", "canon", "aperture", "bands", "envelope", "speech",
              "phones", "labelled")

    def __len__(self) -> int:
        return int(self.block.size)

    @classmethod
    def concatenate(cls, parts: Sequence[ReferenceFrames]) -> ReferenceFrames:
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.FIELDS})


@dataclass
class ActorProfile:
    """Everything the classic engine knows about one actor. `name` None: a temporary profile."""

    name: str | None
    sources: list[ProfileSource]
    frames: ReferenceFrames
    appearance: AppearanceIndex
    speech: SpeechModel
    phonetic: PhoneticModel
    fps: float
    created: str = ""
    version: str = PROFILE_VERSION
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Report and `actor list` figures (no arrays)."""
        return {
            "name": self.name,
            "temporary": self.name is None,
            "version": self.version,
            "created": self.created,
            "sources": [s.to_dict() for s in self.sources],
            "reference_frames": int(len(self.frames)),
            "frames_with_face": int(self.frames.found.sum()),
            "frames_learned_from_audio": int((self.frames.found & self.frames.audio_ok).sum()),
            "appearance_frames": int(len(self.appearance)),
            # None in the report of the job that learned the profile: its crops are encoded when it is saved.
            "appearance_kib": None if self.appearance.nbytes is None else round(self.appearance.nbytes / 1024, 1),
            "speech": self.speech.info,
            "phonetic": self.phonetic.info,
            "notes": self.notes,
        }

    def appearance_frames(self) -> list[list[int]]:
        """(source index, frame index) of every appearance crop: proof of where pixels come from."""
        rows = self.appearance.rows
        return [[int(self.frames.block[r]), int(self.frames.frame[r])] for r in rows]

    # --- storage -------------------------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        """Write the profile into `folder` (replaced atomically: a temporary sibling, then rename)."""
        arrays: dict[str, Any] = {f"ref_{n}": getattr(self.frames, n) for n in ReferenceFrames.FIELDS}
        arrays.update(app_rows=self.appearance.rows, app_boxes=self.appearance.boxes,
                      app_landmarks=self.appearance.landmarks)
        arrays.update(self.speech.state())
        arrays.update(self.phonetic.state())
        meta = {"version": self.version, "name": self.name, "created": self.created, "fps": self.fps,
                "sources": [s.to_dict() for s in self.sources], "speech_info": self.speech.info,
                "phonetic_info": self.phonetic.info, "notes": self.notes}
        return write_profile_folder(Path(folder), arrays, self.appearance.encoded(), meta)

    @classmethod
    def load(cls, folder: Path) -> ActorProfile:
        """Read a saved profile; MediaFormatError names the folder and the fix when it is unusable."""
        folder = Path(folder)
        meta = read_profile_meta(folder)
        arrays = read_profile_arrays(folder)
        try:
            phonetic = PhoneticModel.from_state(arrays, meta.get("phonetic_info"))
        except (OSError, ValueError, KeyError) as error:
            raise damaged(folder, error) from None
        frames = ReferenceFrames(**{n: arrays[f"ref_{n}"] for n in ReferenceFrames.FIELDS})
        appearance = read_appearance(folder, arrays, int(meta["crops"]))
        speech = SpeechModel.from_state(arrays, meta.get("speech_info"))
        sources = [ProfileSource.from_dict(s) for s in meta["sources"]]
        return cls(name=meta.get("name"), sources=sources, frames=frames, appearance=appearance, speech=speech,
                   phonetic=phonetic, fps=float(meta["fps"]), created=meta.get("created", ""), version=meta["version"],
                   notes=list(meta.get("notes", [])))
