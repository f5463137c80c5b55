"""Training data: what one clip holds, extracting it from a video, and reading a built dataset.

Building a dataset folder (corpus layouts, workers, tar shards, rejections, splits) is
`dataset_build`. Per clip (a video or a range of one), one `.npz` of plain arrays (loaded with
allow_pickle=False): a member of a tar shard `shards/shard-NNNNNN.tar` (format version 2,
`dataset_shards`), or its own file `shards/<sha256[:16]>-<in>-<out>.npz` in datasets built before
(version 1, still read). The arrays:

- points (T, P, 2) float32: the `landmarks.POINTS` in canonical units (NaN without a face);
- transforms (T, 2, 3) float64: tracker pixels → canonical units, per frame;
- found (T,) bool, confidence (T,) float32: the tracker's verdict;
- crops (T, S, S, 3) uint8: the aligned lower-face crop (`CropGeometry`; zeros without a face),
  read with `read_rgb` so the colour matrix is the one the compositor will paste with;
- mel (M, 80) float32: log10 mel of the clip's own sound at 80 Hz, row k centred k/80 s after
  the start of frame 0 (the picture's start on the sound's clock is honoured, see
  `picture_start_in_audio_s`); empty for a clip without sound;
- fps (2,) int64: numerator, denominator (never rounded);
- phones () str, only in datasets built for a phone-fed motion model: JSON of the clip's phone
  track (`phones.track_json`), timed from the same placed sound as the mel (seconds from the start
  of frame 0), by forced alignment of a transcript when the video has one (`VIDEO.txt` beside it,
  used only when the whole video is taken: a transcript of the whole cannot be cut to a range)
  and by recognition otherwise.

`build_dataset(..., phones=True)` times the phones while building; `ensure_phones` adds them to a
dataset built without (decoding each source video's sound again; the source must still be there,
unchanged): `train_motion` calls it for a model with `phone_features = "visemes"`, so a dataset
built by `mytalk dataset build` serves both kinds of model.

`manifest.json` lists the clips with their source, content hash, range, speaker and split. The
dataset hash (`data_hash`) is the hash of the sorted clip hashes and the crop geometry, and is
recorded in every checkpoint trained on it. `Dataset(folder, split="train")` reads one split only
(datasets of version 1 have no split: all of it is "train").
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mytalk.core.atomic import AtomicFile, write_atomically
from mytalk.core.engines.mytalk.dataset_build import FORMAT, BuildResult
from mytalk.core.engines.mytalk.dataset_build import build_dataset as build_dataset
from mytalk.core.engines.mytalk.dataset_shards import (
    TarShardWriter,
    compact,
    member_key,
    npz_bytes,
    read_member,
    remove_unindexed,
    shard_ends,
    stale_shards,
)
from mytalk.core.engines.mytalk.landmarks import (
    MIN_CONFIDENCE,
    CropGeometry,
    canonical_points,
    crop_frame,
    lip_descriptors,
)
from mytalk.core.errors import MediaFormatError, UsageError
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress

if TYPE_CHECKING:
    from mytalk.core.engines.mytalk.phones import LinePhones
    from mytalk.core.media.audio import AudioTrack
    from mytalk.core.media.channel_pick import ChannelPick

DEFAULT_CROP_BOX = (-0.85, 0.15, 0.85, 1.85)


@dataclass
class ClipData:
    """Everything extracted from one range of one video (see the module docstring for the arrays)."""

    points: np.ndarray
    transforms: np.ndarray
    found: np.ndarray
    confidence: np.ndarray
    crops: np.ndarray
    mel: np.ndarray
    fps: Fraction
    start: int = 0
    phones: LinePhones | None = None

    @property
    def num_frames(self) -> int:
        return int(self.found.size)

    def arrays(self) -> dict[str, np.ndarray]:
        out = self._arrays()
        if self.phones is not None:
            from mytalk.core.engines.mytalk.phones import track_json

            out["phones"] = np.array(track_json(self.phones))
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"points": self.points.astype(np.float32), "transforms": self.transforms, "found": self.found,
                "confidence": self.confidence.astype(np.float32), "crops": self.crops, "mel": self.mel.astype(np.float32),
                "fps": np.array([self.fps.numerator, self.fps.denominator], np.int64),
                "start": np.array([self.start], np.int64)}

    @classmethod
    def from_arrays(cls, data: Any) -> ClipData:
        fps = data["fps"]
        phones = None
        if "phones" in data:
            from mytalk.core.engines.mytalk.phones import phones_from_json

            phones = phones_from_json(str(data["phones"]))
        return cls(points=data["points"], transforms=data["transforms"], found=data["found"].astype(bool),
                   confidence=data["confidence"], crops=data["crops"], mel=data["mel"],
                   fps=Fraction(int(fps[0]), int(fps[1])), start=int(data["start"][0]), phones=phones)


def clip_audio(path: Path, start: int, num_frames: int, fps: Fraction, sample_rate: int = 16_000,
               pick: ChannelPick | None = None) -> AudioTrack | None:
    """A clip's own sound (mono, `sample_rate` Hz; only the channels `pick` names, when given) placed on frames
    [start, start + num_frames): sample 0 is the start of frame `start` on the picture's clock; None without
    usable sound."""
    from mytalk.core.media.clip_sound import ClipSound

    try:
        sound = ClipSound.decode(path, sample_rate, pick=pick)  # the stream that carries the clip's sound
    except (MediaFormatError, UsageError, ValueError):
        return None
    return sound.frames(start, num_frames, fps)


def placed_mel(placed: AudioTrack | None) -> np.ndarray:
    """Log-mel (M, 80) of a placed track (`clip_audio`); empty for None."""
    import torch

    from mytalk.core.engines.mytalk.audio_encoder import LogMel

    if placed is None:
        return np.zeros((0, 80), np.float32)
    with torch.no_grad():
        return LogMel(placed.rate)(torch.from_numpy(placed.samples[0]))[0].numpy()


def clip_mel(path: Path, start: int, num_frames: int, fps: Fraction, sample_rate: int = 16_000) -> np.ndarray:
    """Log-mel (M, 80) of a clip's own sound over frames [start, start + num_frames); empty without sound."""
    return placed_mel(clip_audio(path, start, num_frames, fps, sample_rate))


def video_transcript(path: Path, start: int, stop: int, frame_count: int) -> str | None:
    """The text of `VIDEO.txt` beside the video when it exists and the range is the whole video, else None."""
    from mytalk.core.engines.mytalk.dataset_layouts import read_transcript

    sidecar = Path(path).with_suffix(".txt")
    if start != 0 or stop < frame_count or not sidecar.is_file():
        return None
    return read_transcript(sidecar)


def clip_phones(placed: AudioTrack | None, transcript: str | None, language: str, timer: Any = None,
                progress: ProgressFn = no_progress, is_cancelled: CancelFn = never_cancelled) -> LinePhones:
    """The phone track of a placed clip sound (`clip_audio`); no phones for None. timer: a PhoneTimer to reuse."""
    from mytalk.core.engines.mytalk.phones import LinePhones, time_phones

    if placed is None:
        return LinePhones((), {"path": "none", "reason": "the clip has no sound"})
    return time_phones(placed, transcript=transcript, language=language, timer=timer, progress=progress,
                       is_cancelled=is_cancelled)


def extract_clip(
    path: Path,
    start: int,
    stop: int,
    geometry: CropGeometry,
    *,
    tracker_settings: Any = None,
    with_audio: bool = True,
    keep: np.ndarray | None = None,
    phones: bool = False,
    language: str = "en",
    transcript: str | None = None,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    channels: ChannelPick | None = None,
) -> ClipData:
    """Track frames [start, stop) of `path`, cut their aligned crops and (optionally) the mel of its sound
    (of the `channels` picked, when given: `dataset build --channels`).

    keep: optional bool (T,) of frames whose crop is wanted (others stay zero); default all found.
    phones: also time the phones of its sound (`clip_phones`; `VIDEO.txt` is the transcript when
    the whole video is taken, unless the corpus gave its `transcript`), in `language` (espeak-ng code).
    """
    from mytalk.core.face.video_tracking import track_video
    from mytalk.core.media.probe import probe
    from mytalk.core.media.reader import FrameReader

    path = Path(path)
    info = probe(path)
    if info.video is None:
        raise MediaFormatError(f"{path}: has no video; training footage must show the actor")
    fps = Fraction(info.video.fps)
    observations = track_video(path, start, stop, tracker_settings, progress=progress, is_cancelled=is_cancelled)
    n = len(observations)
    lm = np.stack([o.landmarks for o in observations]).astype(np.float64)
    confidence = np.array([o.confidence for o in observations], np.float32)
    found = np.array([o.found for o in observations], bool) & (confidence >= MIN_CONFIDENCE)
    points, transforms = canonical_points(lm)
    found &= np.isfinite(points).all(axis=(1, 2))
    points[~found] = np.nan
    wanted = found if keep is None else (found & keep)
    crops = np.zeros((n, geometry.size, geometry.size, 3), np.uint8)
    if wanted.any():
        first, last = start + int(np.flatnonzero(wanted)[0]), start + int(np.flatnonzero(wanted)[-1]) + 1
        with FrameReader(path, info) as reader:
            for source in reader.frames(first, last):
                i = source.index - start
                if wanted[i]:
                    crops[i] = crop_frame(source.frame, transforms[i], geometry)
                if i % 16 == 0:
                    check_cancelled(is_cancelled, f"cropping frame {source.index}")
                    progress(i + 1, n, "cropping")
    placed = clip_audio(path, start, n, fps, pick=channels) if with_audio and info.audio else None
    mel = placed_mel(placed)
    timed = None
    if phones:
        transcript = transcript or video_transcript(path, start, stop, info.video.frame_count)
        timed = clip_phones(placed, transcript, language, progress=progress, is_cancelled=is_cancelled)
    return ClipData(points.astype(np.float32), transforms, found, confidence, crops, mel, fps, start, timed)


# --- building --------------------------------------------------------------------------------------


def parse_spec(spec: str | Path) -> tuple[Path, str]:
    """`clip.mov` or `clip.mov:IN-OUT` → (path, range text or ""), by the one `FILE[:IN-OUT]` grammar."""
    from mytalk.core.settings import split_media_spec

    path, span = split_media_spec(spec)
    return path, span or ""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(data, indent=2))


def data_hash(manifest: dict[str, Any]) -> str:
    """16 hex digits identifying a dataset's content: shard hashes and crop geometry."""
    items = sorted(v.get("member_sha256") or v["shard_sha256"] for v in manifest["videos"])
    payload = json.dumps({"crop": manifest["crop_size"], "box": manifest["crop_box"], "shards": items})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def phones_entry(phones: LinePhones) -> dict[str, Any]:
    return {"path": phones.summary.get("path", ""), "count": len(phones.phones),
            "confidence": phones.summary.get("confidence"), "language": phones.summary.get("language")}


def _save_shard(shard_path: Path, arrays: dict[str, np.ndarray]) -> None:
    # The temporary name keeps the `.npz` suffix, so numpy writes exactly that file (it appends
    # `.npz` to any other name, and the rename would then miss it).
    with AtomicFile(shard_path) as temp:
        np.savez_compressed(temp, **arrays)  # type: ignore[arg-type]


def ensure_phones(dataset: Dataset, *, language: str = "en", progress: ProgressFn = no_progress,
                  is_cancelled: CancelFn = never_cancelled) -> int:
    """Time the phones of every clip with sound that has none yet, from its source video; returns how many.

    Works on the whole dataset, whatever split `dataset` shows. Each clip is stored again with its
    phones and the manifest saved, one clip at a time, so an interrupted run keeps what it did. A
    source that is gone or changed since the build is a UsageError: its phones would not match the
    stored sound.

    Why rewritten clips go to new tar shards rather than into their own: a tar member cannot grow
    in place, and rewriting a 256 MB shard for each clip would cost far more than timing its
    phones. So each rewritten member is appended to a fresh shard and its entry repointed, then
    the still-live members of the shards this left stale are copied over too (`dataset_shards.
    compact`) and those shards deleted once the manifest no longer names them: the dataset ends
    with every clip stored once, so a sequential tar reader never streams an old copy. A
    version-1 clip's own `.npz` file is simply rewritten.
    """
    from mytalk.core.audio.phone_timing import PhoneTimer
    from mytalk.core.hashing import file_sha256
    from mytalk.core.media.channel_pick import pick_channels
    from mytalk.core.media.probe import probe

    whole = Dataset(dataset.folder)
    todo = [i for i, v in enumerate(whole.entries) if v.get("has_audio") and "phones" not in v]
    if not todo:
        return 0
    timer = PhoneTimer()
    shards = whole.folder / "shards"
    entries = whole.manifest["videos"]
    writer = TarShardWriter(shards, shard_ends(entries), fresh=True)
    picked = whole.manifest.get("channels")  # the build's `--channels`: the same sound as the stored mel
    try:
        for number, i in enumerate(todo):
            check_cancelled(is_cancelled, "timing phones")
            entry = whole.entries[i]
            source = Path(entry["path"])
            if not source.is_file() or file_sha256(source) != entry["sha256"]:
                raise UsageError(f"{whole.folder}: timing phones needs the source video {source}, which is missing "
                                 "or changed since the build; rebuild the dataset with the videos where they are now")
            clip = whole.clip(i)
            stop = int(entry["stop"])
            pick = pick_channels(picked, source, what="--channels") if picked else None
            placed = clip_audio(source, clip.start, clip.num_frames, clip.fps, pick=pick)
            frame_count = probe(source).video.frame_count  # type: ignore[union-attr]
            transcript = entry.get("transcript") or video_transcript(source, clip.start, stop, frame_count)
            timed = clip_phones(placed, transcript, language, timer, is_cancelled=is_cancelled)
            arrays = replace(clip, phones=timed).arrays()
            if "offset" in entry:
                payload = npz_bytes(arrays)
                shard, offset, size = writer.append(member_key(entry), payload)
                entry.update(shard=shard, offset=offset, size=size, member_sha256=hashlib.sha256(payload).hexdigest())
            else:
                shard_path = shards / entry["shard"]
                _save_shard(shard_path, arrays)
                entry["shard_sha256"] = file_sha256(shard_path)
            entry["phones"] = phones_entry(timed)
            whole.manifest["data_hash"] = data_hash(whole.manifest)
            _write_json(whole.folder / "manifest.json", whole.manifest)
            whole.forget(i)
            progress(number + 1, len(todo), "timing phones")
    finally:
        writer.close()
    # Found again rather than remembered, so the old copies left by an interrupted run go too.
    stale = stale_shards(shards, entries)
    if stale:
        compact(shards, entries, stale)
        _write_json(whole.folder / "manifest.json", whole.manifest)
        remove_unindexed(shards, entries)
    return len(todo)


# --- reading -----------------------------------------------------------------------------------------


SPLITS = ("train", "val")


class Dataset:
    """A built dataset folder, or one split of it; clips are loaded on demand and kept in a small LRU cache.

    `entries` are the manifest entries of the clips this view shows (all, or one split's), in
    the manifest's order; `clip(i)` and `entry(i)` index them.
    """

    def __init__(self, folder: Path, max_loaded: int = 64, split: str | None = None) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise UsageError(f"{self.folder}: no manifest.json; build the dataset first with "
                             f"'mytalk dataset build VIDEOS... -o {self.folder}'")
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != FORMAT:
            raise UsageError(f"{self.folder}: is not a MyTalk dataset folder")
        if not self.manifest["videos"]:
            raise UsageError(f"{self.folder}: the dataset holds no video yet; run 'mytalk dataset build'")
        if split is not None and split not in SPLITS:
            raise UsageError(f"dataset split {split!r}: use train or val")
        self.split = split
        self.entries: list[dict[str, Any]] = [
            v for v in self.manifest["videos"] if split is None or v.get("split", "train") == split]
        self.geometry = CropGeometry(tuple(self.manifest["crop_box"]), int(self.manifest["crop_size"]))  # type: ignore[arg-type]
        self._cache: OrderedDict[int, ClipData] = OrderedDict()
        self._max = max_loaded

    def reloaded(self) -> Dataset:
        """The same view read again from disk (after `ensure_phones` rewrote clips)."""
        return Dataset(self.folder, self._max, self.split)

    def entry(self, i: int) -> dict[str, Any]:
        return self.entries[i]

    def split_sizes(self) -> dict[str, int]:
        """Clips per split of the whole dataset, whatever this view shows: {"train": n, "val": m}.

        Ask it before training on a split: `Dataset(folder, split="val")` of a dataset without
        validation speakers (one speaker, `--val-share 0`, or version 1) is an empty view.
        """
        return {name: sum(v.get("split", "train") == name for v in self.manifest["videos"]) for name in SPLITS}

    def has_split(self, name: str) -> bool:
        """Whether split `name` ("train" or "val") holds any clip."""
        if name not in SPLITS:
            raise UsageError(f"dataset split {name!r}: use train or val")
        return self.split_sizes()[name] > 0

    def speakers(self) -> set[str]:
        """The speakers of this view (a version-1 dataset's clips each count as their own)."""
        return {str(v.get("speaker", v["key"])) for v in self.entries}

    @property
    def data_hash(self) -> str:
        return str(self.manifest.get("data_hash") or data_hash(self.manifest))

    def __len__(self) -> int:
        return len(self.entries)

    def forget(self, i: int) -> None:
        """Drop clip `i` from the cache (its shard was rewritten)."""
        self._cache.pop(i, None)

    def clip(self, i: int) -> ClipData:
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        entry = self.entries[i]
        path = self.folder / "shards" / entry["shard"]
        try:
            if "offset" in entry:
                clip = ClipData.from_arrays(read_member(path, int(entry["offset"]), int(entry["size"])))
            else:
                with np.load(path, allow_pickle=False) as data:
                    clip = ClipData.from_arrays({k: data[k] for k in data.files})
        except (OSError, ValueError, KeyError) as error:
            raise MediaFormatError(f"{path}: damaged shard ({error}); delete it and run 'mytalk dataset build' again") from None
        self._cache[i] = clip
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return clip


def resize_crops(crops: np.ndarray, size: int) -> np.ndarray:
    """(N, S, S, 3) uint8 → (N, size, size, 3), area-averaged when shrinking."""
    if crops.shape[1] == size:
        return crops
    flag = cv2.INTER_AREA if crops.shape[1] > size else cv2.INTER_CUBIC
    return np.stack([cv2.resize(c, (size, size), interpolation=flag) for c in crops]) if len(crops) else \
        np.zeros((0, size, size, 3), np.uint8)


def nearest_references(descriptors: np.ndarray, candidates: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """Indices (T, k) into `candidates` of the k mouths nearest each target descriptor.

    descriptors (N, 81) of the bank (`landmarks.lip_descriptors`); candidates: bool (T, N) of which
    bank rows each target may use; targets (T, 81). Fewer than k candidates repeat the nearest.
    """
    pa = descriptors[:, :-1].reshape(len(descriptors), -1, 2)
    ta = targets[:, :-1].reshape(len(targets), -1, 2)
    dist = np.linalg.norm(ta[:, None] - pa[None], axis=-1).mean(-1) + np.abs(targets[:, None, -1] - descriptors[None, :, -1])
    dist = np.where(candidates, dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    valid = np.take_along_axis(np.isfinite(dist), order, axis=1)
    first = order[:, :1]
    return np.where(valid, order, first)


__all__ = ["BuildResult", "ClipData", "Dataset", "build_dataset", "crop_frame", "ensure_phones", "extract_clip",
           "lip_descriptors", "nearest_references", "resize_crops"]
