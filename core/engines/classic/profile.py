"""Actor profiles: what the classic engine learns about an actor from reference footage.

A profile holds, per reference frame:
- the mouth: frontal lower-face shape (pose removed, `geometry`) and its 2-D canonical shape (the
  evaluation's frame, used to compare mouths for retrieval);
- the sound: band energies, the 1-4 kHz envelope and the voice probability of the footage's own
  audio over that frame (for the speech driver and its lag);
- the phones: the share of the frame covered by each phone, from the footage's own audio timed the
  same way as a line (`phone_timing`: recognition, as references come without a transcript), so
  the phonetic driver learns this actor's mouth per phone;
and, for a bounded subset of frames (near-identical mouths deduplicated, at most `MAX_APPEARANCE`),
the appearance: an unresampled RGB crop of the mouth with its landmarks in crop pixels. Crops
are kept PNG-compressed in memory and decoded on use, so a profile built from a minute of 4K
footage stays small, and the renderer never resamples a mouth twice (sharpness).

It is built from `FOOTAGE[:range]` lists (`build_profile`), either on the fly from `--reference`
(a temporary profile, never written) or once with `mytalk actor build` and stored under
`user_dirs().actors / NAME`: `profile.npz` (plain arrays, loaded with allow_pickle=False),
`profile.json` (metadata: sources with sha256, ranges, version, fitted figures) and `crops/*.png`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.composite.planes import read_box_rgb
from mytalk.core.engines.actors import (
    PROFILE_FORMAT,
    AppearanceIndex,
    actors_folder,
    profile_folder,
    read_appearance,
)
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.geometry import LIPS_POS, fit_poses, frontalise, lower_face_index
from mytalk.core.engines.classic.phonetic_driver import PHONE_SET, PhoneticModel, phone_coverage
from mytalk.core.engines.classic.speech_driver import SpeechModel, band_features
from mytalk.core.errors import MediaFormatError, UsageError
from mytalk.core.face.canonical import apply_transform, mouth_aperture, similarity_to_canonical_batch
from mytalk.core.face.regions import LIPS
from mytalk.core.face.tracker import FaceObservation, TrackerSettings, track_video
from mytalk.core.media.audio import AudioTrack, decode_audio, picture_start_in_audio_s, place_line
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress

PROFILE_VERSION = "4"
"""Bumped when what a profile stores or means changes; older profiles must be rebuilt."""

ANALYSIS_RATE = 16_000
MAX_APPEARANCE = 400
"""Crops kept for retrieval. 400 distinct mouths cover a long take; memory stays bounded (PNG bytes)."""

CROP_MARGIN = 0.35
"""Crop margin around the lip points, in inter-ocular distances. The renderer takes only the mouth's
opening from a reference and matches its colour on the skin ring around the lips (the compositor's
mouth mask: 15 % of the mouth width plus a 0.1 IOD feather), so the crop needs the lips and that ring,
not the whole lower face: a third of the pixels to store, encode and decode."""

MIN_CONFIDENCE = 0.5
MAX_YAW_DEG = 35.0
"""Appearance donors must be confidently tracked and not turned far away: a profile mouth is warped
onto other head poses, and a side view of a mouth does not warp into a frontal one."""

@dataclass(frozen=True)
class ProfileSource:
    """One reference range: file, content hash, frames [start, stop) and the clip's fps."""

    path: str
    sha256: str
    start: int
    stop: int
    fps: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "start": self.start, "stop": self.stop, "fps": self.fps}


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
            "appearance_kib": round(self.appearance.nbytes / 1024, 1),
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
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            arrays: dict[str, Any] = {f"ref_{n}": getattr(self.frames, n) for n in ReferenceFrames.FIELDS}
            arrays.update(app_rows=self.appearance.rows, app_boxes=self.appearance.boxes,
                          app_landmarks=self.appearance.landmarks)
            arrays.update(self.speech.state())
            arrays.update(self.phonetic.state())
            np.savez_compressed(temp / "profile.npz", **arrays)
            crops = temp / "crops"
            crops.mkdir()
            for k, data in enumerate(self.appearance.crops):
                (crops / f"{k:05d}.png").write_bytes(data)
            meta = {"format": PROFILE_FORMAT, "version": self.version, "name": self.name,
                    "created": self.created, "fps": self.fps, "sources": [s.to_dict() for s in self.sources],
                    "speech_info": self.speech.info, "phonetic_info": self.phonetic.info, "notes": self.notes, "crops": len(self.appearance.crops)}
            (temp / "profile.json").write_text(json.dumps(meta, indent=2))
            old = None
            if folder.exists():
                old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
                os.replace(folder, old)
            os.replace(temp, folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: Path) -> ActorProfile:
        """Read a saved profile; MediaFormatError names the folder and the fix when it is unusable."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "profile.json").read_text())
        except (OSError, ValueError) as error:
            raise MediaFormatError(f"actor profile {folder} cannot be read ({error}); rebuild it with 'mytalk actor build'") from None
        if meta.get("format") != PROFILE_FORMAT or meta.get("version") != PROFILE_VERSION:
            raise MediaFormatError(
                f"actor profile {folder} has version {meta.get('version')!r}, this MyTalk reads {PROFILE_VERSION!r}; "
                "rebuild it with 'mytalk actor build'"
            )
        try:
            with np.load(folder / "profile.npz", allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            phonetic = PhoneticModel.from_state(arrays, meta.get("phonetic_info"))
        except (OSError, ValueError, KeyError) as error:
            raise MediaFormatError(f"actor profile {folder} is damaged ({error}); rebuild it with 'mytalk actor build'") from None
        frames = ReferenceFrames(**{n: arrays[f"ref_{n}"] for n in ReferenceFrames.FIELDS})
        appearance = read_appearance(folder, arrays, int(meta["crops"]))
        speech = SpeechModel.from_state(arrays, meta.get("speech_info"))
        sources = [ProfileSource(**s) for s in meta["sources"]]
        return cls(name=meta.get("name"), sources=sources, frames=frames, appearance=appearance, speech=speech,
                   phonetic=phonetic, fps=float(meta["fps"]), created=meta.get("created", ""), version=meta["version"],
                   notes=list(meta.get("notes", [])))


# --- building --------------------------------------------------------------------------------


def _own_audio(path: Path, info: MediaInfo, cache: dict[Path, tuple[AudioTrack, Fraction] | None]) -> tuple[AudioTrack, Fraction] | None:
    """The clip's own sound (mono, 16 kHz) and where its first picture sits on the sound's clock."""
    if path not in cache:
        cache[path] = (decode_audio(path, ANALYSIS_RATE, channels=1), picture_start_in_audio_s(path)) if info.audio else None
    return cache[path]


def _range_rows(
    block: int,
    ref: ReferenceRange,
    observations: list[FaceObservation],
    audio: tuple[AudioTrack, Fraction] | None,
    fps: Fraction,
    exclude_audio: Sequence[ReferenceRange],
    timer: PhoneTimer,
    labels: list[dict[str, Any]],
) -> ReferenceFrames:
    """Per-frame rows of one tracked reference range; how its phones were timed is appended to `labels`."""
    from mytalk.core.audio.activity import envelope, speech_probability

    n = len(observations)
    lm = np.stack([o.landmarks for o in observations]).astype(np.float64)
    found = np.array([o.found for o in observations], bool)
    lf = lower_face_index()
    poses = fit_poses(lm, found)
    shapes = frontalise(lm[:, lf], poses)
    transform, _ = similarity_to_canonical_batch(lm)
    canon = apply_transform(lm[:, lf], transform)
    shapes[~found] = np.nan
    canon[~found] = np.nan
    aperture = np.asarray(mouth_aperture(lm), np.float64)
    aperture[~found] = np.nan
    frame = np.arange(ref.start, ref.start + n, dtype=np.int64)
    audio_ok = np.ones(n, bool)
    phones = np.zeros((n, len(PHONE_SET)), np.float32)
    phones[:, PHONE_SET.index("SIL")] = 1.0
    labelled = np.zeros(n, bool)
    if audio is None:
        audio_ok[:] = False
        bands = np.full((n, 8), np.nan)
        env = np.full(n, np.nan)
        speech = np.zeros(n)
        labels.append({"block": block, "path": "none", "reason": "the footage has no sound"})
    else:
        track, picture_start = audio
        placed = place_line(track, num_frames=n, fps=fps, line_offset_s=Fraction(ref.start) / fps + picture_start)
        bands = band_features(placed, fps, n)
        env = envelope(placed, fps, n)
        speech = speech_probability(placed, fps, n).astype(np.float64)
        for ex in exclude_audio:
            if Path(ex.path).resolve() == Path(ref.path).resolve():
                audio_ok &= ~((frame >= ex.start) & (frame < ex.stop))
        if audio_ok.any():
            # The sound of excluded frames (the edit range under --guide none) is silenced before
            # recognition, so not even the phone labels hear it.
            allowed = placed.samples.copy()
            per_frame = placed.rate / float(fps)
            for f in np.flatnonzero(~audio_ok):
                allowed[:, int(round(f * per_frame)) : int(round((f + 1) * per_frame))] = 0.0
            track = timer.track(AudioTrack(allowed, placed.rate))
            phones = phone_coverage(track.phones, fps, n)
            labelled = audio_ok & (track.path != "none")
            labels.append({"block": block, "path": track.path, "reason": track.reason,
                           "confidence": track.confidence, "words": " ".join(track.words)[:400]})
        else:
            labels.append({"block": block, "path": "none", "reason": "the footage's sound may not be learned from"})
    return ReferenceFrames(block=np.full(n, block, np.int64), frame=frame, found=found, audio_ok=audio_ok,
                           shapes=shapes.astype(np.float32), canon=canon.astype(np.float32),
                           aperture=aperture.astype(np.float32), bands=bands.astype(np.float32),
                           envelope=env.astype(np.float32), speech=speech.astype(np.float32),
                           phones=phones.astype(np.float32), labelled=labelled)


def select_appearance(frames: ReferenceFrames, eligible: np.ndarray, limit: int = MAX_APPEARANCE) -> np.ndarray:
    """Rows to keep crops of: all eligible ones, or near-duplicates dropped until at most `limit`.

    Two mouths are near-identical when their centred 2-D lip shapes differ by less than `eps` IOD on
    average; `eps` grows until the greedy pass (in frame order, so runs of consecutive frames
    survive where the mouth moves) keeps no more than `limit`.
    """
    rows = np.flatnonzero(eligible)
    if rows.size <= limit:
        return rows
    lips = frames.canon[rows][:, LIPS_POS, :].astype(np.float64)
    desc = (lips - lips.mean(axis=1, keepdims=True)).reshape(rows.size, -1)
    eps = 0.004
    while True:
        kept: list[int] = []
        bank = np.empty((0, desc.shape[1]))
        for i in range(rows.size):
            if bank.shape[0] == 0 or np.sqrt(((bank - desc[i]) ** 2).reshape(bank.shape[0], -1, 2).sum(-1)).mean(-1).min() > eps:
                kept.append(i)
                bank = np.vstack([bank, desc[i]])
                if len(kept) > limit:
                    break
        if len(kept) <= limit:
            return rows[np.asarray(kept, np.int64)]
        eps *= 1.5


def _crop_box(points: np.ndarray, iod: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    margin = CROP_MARGIN * iod
    x0 = int(np.floor(points[:, 0].min() - margin))
    y0 = int(np.floor(points[:, 1].min() - margin))
    x1 = int(np.ceil(points[:, 0].max() + margin))
    y1 = int(np.ceil(points[:, 1].max() + margin))
    w, h = size
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def _encode_png(rgb: np.ndarray) -> bytes:
    bgr = cv2.cvtColor(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise MediaFormatError("a reference frame could not be stored in the profile")
    return png.tobytes()


def _extract_crops(
    ref: ReferenceRange,
    info: MediaInfo,
    wanted: dict[int, np.ndarray],
    is_cancelled: CancelFn,
) -> dict[int, tuple[tuple[int, int, int, int], np.ndarray, bytes]]:
    """Decode the range once and cut the wanted frames' lower-face crops: frame → (box, landmarks, PNG).

    PNG encoding (about as slow as decoding a 1080p frame) runs on two worker threads while the
    range is decoded: OpenCV releases the GIL, so a 2-core machine encodes and decodes at once.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from mytalk.core.media.reader import FrameReader

    assert info.video is not None
    size = (info.video.width, info.video.height)
    if not wanted:
        return {}
    first, last = min(wanted), max(wanted) + 1
    jobs: dict[int, tuple[tuple[int, int, int, int], np.ndarray, Future[bytes]]] = {}
    with FrameReader(ref.path, info) as reader, ThreadPoolExecutor(max_workers=2) as pool:
        for source in reader.frames(first, last):
            if source.index not in wanted:
                continue
            check_cancelled(is_cancelled, f"reading reference frame {source.index}")
            lm = wanted[source.index]
            iod = float(np.linalg.norm(lm[263, :2] - lm[33, :2]))
            box = _crop_box(lm[list(LIPS), :2], iod, size)
            rgb = read_box_rgb(source.frame, box)
            local = (lm[:, :2] - np.array([box[0], box[1]], np.float64)).astype(np.float32)
            jobs[source.index] = (box, local, pool.submit(_encode_png, rgb))
        return {index: (box, local, future.result()) for index, (box, local, future) in jobs.items()}


def build_profile(
    references: Sequence[ReferenceRange],
    *,
    name: str | None = None,
    exclude_audio: Sequence[ReferenceRange] = (),
    tracker_settings: TrackerSettings | None = None,
    max_appearance: int = MAX_APPEARANCE,
    use_cache: bool = True,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> ActorProfile:
    """Learn an actor from reference ranges. Only frames inside `references` are ever read.

    exclude_audio: ranges whose *sound* must not be learned from (the edit range under `--guide
    none`); their pictures may still serve. Raises UsageError when the references hold too few
    frames with a face.
    """
    from mytalk.core.hashing import file_sha256

    if not references:
        raise UsageError("no reference footage: give --reference RANGE or --actor NAME")
    settings = tracker_settings or TrackerSettings()
    audio_cache: dict[Path, tuple[AudioTrack, Fraction] | None] = {}
    infos: dict[Path, MediaInfo] = {}
    parts: list[ReferenceFrames] = []
    observations: list[list[FaceObservation]] = []
    sources: list[ProfileSource] = []
    fps_values: list[float] = []
    timer = PhoneTimer()
    labels: list[dict[str, Any]] = []
    for block, ref in enumerate(references):
        path = Path(ref.path)
        info = infos.setdefault(path, probe(path))
        if info.video is None:
            raise MediaFormatError(f"{path}: has no video; a reference must show the actor")
        fps = info.video.fps

        def tracked(done: int, total: int, stage: str, _b: int = block) -> None:
            progress(done, total, f"learning the actor ({_b + 1}/{len(references)}): {stage}")

        obs = track_video(path, ref.start, ref.stop, settings, progress=tracked, is_cancelled=is_cancelled,
                          use_cache=use_cache)
        check_cancelled(is_cancelled, "learning the actor")
        progress(block, len(references), f"learning the actor ({block + 1}/{len(references)}): phones")
        parts.append(_range_rows(block, ref, obs, _own_audio(path, info, audio_cache), fps, exclude_audio, timer, labels))
        observations.append(obs)
        sources.append(ProfileSource(str(path.resolve()), file_sha256(path), ref.start, ref.start + len(obs),
                                     f"{fps.numerator}/{fps.denominator}"))
        fps_values.append(float(fps))
    frames = ReferenceFrames.concatenate(parts)
    if int(frames.found.sum()) < 5:
        raise UsageError(
            f"the reference footage shows a face in only {int(frames.found.sum())} frames; "
            "give a longer --reference range where the actor faces the camera"
        )
    fps_mean = float(np.mean(fps_values))
    speech = SpeechModel.fit(frames.shapes.astype(np.float64), frames.bands.astype(np.float64), frames.block,
                             frames.audio_ok, frames.speech.astype(np.float64), frames.aperture.astype(np.float64),
                             frames.envelope.astype(np.float64), fps_mean)
    phonetic = PhoneticModel.fit(speech, frames.shapes.astype(np.float64), frames.phones.astype(np.float64),
                                 frames.labelled, frames.block, frames.speech > 0.5, fps_mean)
    phonetic.info["reference_labels"] = labels

    confidence = np.concatenate([[o.confidence for o in obs] for obs in observations])
    yaw = np.concatenate([[abs(o.pose[0]) for o in obs] for obs in observations])
    eligible = frames.found & (confidence >= MIN_CONFIDENCE) & (yaw <= MAX_YAW_DEG)
    if eligible.sum() < 3:
        eligible = frames.found.copy()
    keep = select_appearance(frames, eligible, max_appearance)
    boxes, landmarks, crops = [], [], []
    offsets = np.cumsum([0] + [len(o) for o in observations])
    for block, ref in enumerate(references):
        rows = keep[(keep >= offsets[block]) & (keep < offsets[block + 1])]
        wanted = {int(frames.frame[r]): observations[block][int(r - offsets[block])].landmarks.astype(np.float64)
                  for r in rows}
        progress(block, len(references), "learning the actor: mouth crops")
        cut = _extract_crops(ref, infos[Path(ref.path)], wanted, is_cancelled)
        for r in rows:
            box, local, png = cut[int(frames.frame[r])]
            boxes.append(box)
            landmarks.append(local)
            crops.append(png)
    appearance = AppearanceIndex(keep, np.asarray(boxes, np.int64).reshape(-1, 4),
                                 np.asarray(landmarks, np.float32).reshape(-1, 478, 2), crops)
    notes = []
    if not speech.info["lag"].get("reliable"):
        notes.append(f"audio-visual lag not measurable on {speech.info['lag']['seconds']} s of reference; "
                     f"using the prior of {speech.lag} frames")
    return ActorProfile(name=name, sources=sources, frames=frames, appearance=appearance, speech=speech,
                        phonetic=phonetic, fps=fps_mean, created=datetime.now(UTC).isoformat(timespec="seconds"), notes=notes)


def cached_build_profile(
    references: Sequence[ReferenceRange],
    *,
    exclude_audio: Sequence[ReferenceRange] = (),
    tracker_settings: TrackerSettings | None = None,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> tuple[ActorProfile, bool]:
    """A temporary profile (`build_profile`), kept in the user cache folder between jobs.

    Previewing and then committing a line, or syncing several lines of one shot, learn the same
    actor from the same references: the profile is keyed by the references' content hashes and
    ranges, the audio exclusions, the tracker settings and `PROFILE_VERSION`, and rebuilt only when
    one of them changes. Returns (profile, whether it came from the cache). An unreadable entry is a
    miss and is rebuilt.
    """
    import hashlib

    from mytalk.core.hashing import file_sha256
    from mytalk.core.userdirs import user_dirs

    settings = tracker_settings or TrackerSettings()
    key_data = {
        "version": PROFILE_VERSION,
        "references": [(file_sha256(Path(r.path)), r.start, r.stop) for r in references],
        "exclude_audio": [(file_sha256(Path(r.path)), r.start, r.stop) for r in exclude_audio],
        "tracker": settings.key(),
        "max_appearance": MAX_APPEARANCE,
    }
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:32]
    folder = user_dirs().cache / "classic-profiles" / key
    if (folder / "profile.json").is_file():
        try:
            return ActorProfile.load(folder), True
        except MediaFormatError:
            pass  # damaged or stale: rebuilt below and overwritten
    profile = build_profile(references, exclude_audio=exclude_audio, tracker_settings=settings,
                            progress=progress, is_cancelled=is_cancelled)
    try:
        profile.save(folder)
    except OSError:
        pass  # a read-only cache only costs a rebuild next time
    return profile, False


# --- the profile folder ----------------------------------------------------------------------


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


def load_profile(name: str) -> ActorProfile:
    """Load a stored profile by name; UsageError lists the stored names when it does not exist."""
    folder = profile_folder(name)
    if not (folder / "profile.json").is_file():
        names = [p["name"] for p in list_profiles()]
        known = ", ".join(names) if names else "none yet"
        raise UsageError(f"no actor profile named {name!r} (stored: {known}); build one with 'mytalk actor build {name} FOOTAGE'")
    return ActorProfile.load(folder)


def remove_profile(name: str) -> Path:
    """Delete a stored profile; UsageError when there is none by that name."""
    folder = profile_folder(name)
    if not folder.is_dir():
        raise UsageError(f"no actor profile named {name!r} to remove; 'mytalk actor list' shows the stored ones")
    shutil.rmtree(folder)
    return folder
