"""`mytalk dataset build`: a corpus, or videos, into a dataset folder; in parallel, resumable, with a
report of what was rejected and why.

    DIR/manifest.json          the index: settings, one entry per clip (speaker, split, where its
                               member is), the data hash
    DIR/shards/shard-*.tar     the clips, `KEY.npz` members (`dataset_shards`)
    DIR/rejected.json          the clips left out, each with its reason

Inputs: corpus folders read by their layout (`dataset_layouts`: LRS2, LRS3, HDTF, VoxCeleb2, or a
plain folder; `layout="auto"` detects it), and single videos or `VIDEO:IN-OUT` ranges (each its
own speaker, named by its file).

Why it is shaped so:
- **parallel**: tracking a clip is the cost (mediapipe on the CPU), so `workers` processes
  (spawned: mediapipe and torch are not fork-safe) each extract whole clips; the parent alone
  writes shards and the index, so there is one writer and no locking. A cancel reaches the
  workers through a flag file of this job (a callable cannot cross into a spawned process), so
  they stop within a frame or two of tracking;
- **clean processes**: every clip is extracted in a spawned worker, one worker included, so a
  dataset's bytes never depend on what the calling process did before. A one-worker build made in
  the test suite's own process, after many other tests, once stored a mel spectrogram that differed
  by up to 6.7e-6 (log10) from the one every fresh process computes from the same samples (its
  tracking and crops were identical); the cause in that process was not found. Spawning costs a
  few seconds a build, little against tracking a corpus;
- **resumable**: a clip is known by its file's path, size, modification time and span, cheap to
  check for 100 000 files; clips already in the index or in `rejected.json` are skipped (a file
  that changed is a new clip). The index is saved every few seconds and at the end, also after a
  cancel or an error; a member not yet in the index when the build stopped is cut off and
  extracted again (`dataset_shards.TarShardWriter`);
- **rejections are cheap**: a clip too short for training, without sound, or with an unreadable
  transcript is rejected before it is tracked; only the face count needs tracking;
- **split by speaker**: validation speakers are never trained on (`assign_splits`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mytalk.core.atomic import write_atomically
from mytalk.core.engines.mytalk.dataset_layouts import ClipSource, clip_source, corpus_clips
from mytalk.core.engines.mytalk.dataset_shards import (
    DEFAULT_SHARD_BYTES,
    TarShardWriter,
    member_key,
    npz_bytes,
    shard_ends,
)
from mytalk.core.errors import JobCancelledError, MediaNotFoundError, UsageError
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

FORMAT = "mytalk-dataset"
VERSION = 2
MIN_FACE_SHARE = 0.5
"""A clip is kept when a usable face is tracked in at least this share of its frames: below it the
clip is mostly cutaways or profile shots, and its few face frames are not worth a shard entry."""
MIN_CLIP_FRAMES = 12
"""Clips shorter than this (half a second at 25 fps) are rejected as too short to train on: they hold
no motion window of any preset (the smallest, tiny's, is 24 frames) and too few distinct mouths for
the appearance stage. `--min-frames 48` keeps only clips the base preset's motion stage can use."""
INDEX_EVERY_S = 10.0
CANCELLED = "dataset build cancelled; every clip finished so far is saved: run the same command again to continue"


@dataclass
class BuildResult:
    """What `build_dataset` did: the index, which clips were built, skipped or rejected, and the layouts read."""

    manifest: dict[str, Any]
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    layouts: dict[str, str] = field(default_factory=dict)


def rejection_summary(rejected: Sequence[dict[str, str]]) -> str:
    """`2 no face, 1 too short`: how many clips were rejected for each kind of reason."""
    counts: dict[str, int] = {}
    for record in rejected:
        counts[record.get("kind", "other")] = counts.get(record.get("kind", "other"), 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def source_id(clip: ClipSource) -> str:
    """A clip's identity for resuming: path, size, modification time and span (a changed file is new)."""
    stat = clip.path.stat()
    return f"{clip.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{clip.span}"


def gather_sources(inputs: Sequence[str | Path], layout: str = "auto") -> tuple[list[ClipSource], dict[str, str]]:
    """The clips of `inputs` (corpus folders, videos, `VIDEO:IN-OUT`), and the layout read for each folder."""
    from mytalk.core.engines.mytalk.dataset import parse_spec

    clips: list[ClipSource] = []
    layouts: dict[str, str] = {}
    for item in inputs:
        path, span = parse_spec(item)
        if path.is_dir() and not span:
            used, found = corpus_clips(path, layout)
            layouts[str(path)] = used
            clips += found
        elif path.is_file():
            clips.append(clip_source(path, path.stem, span=span))
        else:
            raise MediaNotFoundError(f"{path}: no such video or folder; give corpus folders, video files or "
                                     "VIDEO:IN-OUT ranges")
    if not clips:
        raise UsageError("dataset build: no videos found; give video files or folders that contain some")
    return list({(c.path, c.span): c for c in clips}.values()), layouts


def assign_splits(entries: list[dict[str, Any]], val_share: float) -> None:
    """Set each entry's `split` ("train" / "val"), whole speakers at a time.

    The corpus's own split wins where it has one (`corpus_split`). The other speakers go to
    validation when the hash of their name falls under `val_share`, so a speaker's side never
    depends on which clips were built first; with two or more speakers and none chosen, the one
    with the lowest hash is, so there is always someone the model has not seen; a lone speaker,
    or the last one left, always trains.
    """
    def score(speaker: str) -> float:
        return int(hashlib.sha256(speaker.encode()).hexdigest()[:12], 16) / 16**12

    def speaker(entry: dict[str, Any]) -> str:  # a version-1 entry knows no speaker: its own clip
        return str(entry.get("speaker", entry["key"]))

    speakers = {speaker(e) for e in entries if not e.get("corpus_split")}
    corpus_val = any(e.get("corpus_split") == "val" for e in entries)
    corpus_train = any(e.get("corpus_split") == "train" for e in entries)
    chosen = {s for s in speakers if score(s) < val_share} if len(speakers) >= 2 or corpus_train else set()
    if val_share > 0 and not chosen and not corpus_val and len(speakers) >= 2:
        chosen = {min(speakers, key=score)}
    if chosen and chosen == speakers and not corpus_train:
        chosen.discard(max(chosen, key=score))  # someone must be left to train on
    for entry in entries:
        entry["split"] = entry.get("corpus_split") or ("val" if speaker(entry) in chosen else "train")


@dataclass(frozen=True)
class ExtractSettings:
    """What every clip of a build is extracted with (picklable, for the workers)."""

    crop_box: tuple[float, float, float, float]
    crop_size: int
    tracker_settings: Any = None
    phones: bool = False
    language: str = "en"
    min_frames: int = MIN_CLIP_FRAMES
    require_audio: bool = True
    channels: str | None = None
    """`--channels`: the speaker's microphone among each video's channels (`channel_pick.pick_channels` text);
    None: the video's own sound as a job hears it (`sound_stream`)."""


def _extract(clip: ClipSource, settings: ExtractSettings, cancel_flag: Path) -> dict[str, Any]:
    """One clip, in a worker: {"arrays", "entry"}, {"kind", "reason"} (why it is left out) or {"cancelled"}.

    Never raises: a bad clip is reported and the build goes on. A worker cannot see the parent's cancel
    callback, so the parent asks for a stop by creating `cancel_flag`.
    """
    def is_cancelled() -> bool:
        return cancel_flag.exists()

    try:
        return _extract_or_raise(clip, settings, is_cancelled)
    except JobCancelledError:
        return {"cancelled": True}
    except Exception as error:  # noqa: BLE001 (a bad clip is reported, the build goes on)
        text = str(error).strip()
        return {"kind": "unreadable file",
                "reason": f"{type(error).__name__}: {text.splitlines()[0] if text else 'unreadable'}"}


def _extract_or_raise(clip: ClipSource, settings: ExtractSettings, is_cancelled: CancelFn) -> dict[str, Any]:
    from mytalk.core.engines.mytalk.dataset import extract_clip, phones_entry
    from mytalk.core.engines.mytalk.landmarks import CropGeometry
    from mytalk.core.hashing import file_sha256
    from mytalk.core.jobs.request import parse_range
    from mytalk.core.media.probe import probe

    info = probe(clip.path)
    if info.video is None:
        return {"kind": "no video", "reason": "no video stream"}
    start, stop = (parse_range(clip.span, info, label=f"video {clip.path.name}") if clip.span
                   else (0, info.video.frame_count))
    if stop - start < settings.min_frames:
        return {"kind": "too short",
                "reason": f"too short to train on: {stop - start} frames, under --min-frames {settings.min_frames}"}
    if settings.require_audio and info.audio is None:
        return {"kind": "no audio",
                "reason": "no audio stream (the motion stage learns from the sound; --keep-silent keeps such clips)"}
    pick = None
    if settings.channels is not None and info.audio:
        from mytalk.core.media.channel_pick import pick_channels

        try:
            pick = pick_channels(settings.channels, clip.path, what="--channels")
        except UsageError as error:
            return {"kind": "no such channels", "reason": str(error)}
    data = extract_clip(clip.path, start, stop, CropGeometry(settings.crop_box, settings.crop_size),
                        tracker_settings=settings.tracker_settings, phones=settings.phones,
                        language=settings.language, transcript=clip.transcript, is_cancelled=is_cancelled,
                        channels=pick)
    with_face = int(data.found.sum())
    if with_face < 2 or with_face < MIN_FACE_SHARE * data.num_frames:
        return {"kind": "no face",
                "reason": f"no face in enough frames: a usable face in only {with_face} of {data.num_frames}"}
    if settings.require_audio and data.mel.shape[0] == 0:
        return {"kind": "no audio", "reason": "the sound could not be decoded"}
    digest = file_sha256(clip.path)
    entry: dict[str, Any] = {
        "key": f"{digest}:{start}-{stop}", "path": str(clip.path.resolve()), "sha256": digest,
        "start": start, "stop": stop, "speaker": clip.speaker, "frames": data.num_frames,
        "frames_with_face": with_face, "fps": f"{data.fps.numerator}/{data.fps.denominator}",
        "has_audio": bool(data.mel.shape[0] > 0)}
    if pick is not None:
        entry["channels"] = pick.to_dict()
    if clip.split:
        entry["corpus_split"] = clip.split
    if clip.transcript:
        entry["transcript"] = clip.transcript
    if data.phones is not None:
        entry["phones"] = phones_entry(data.phones)
    return {"arrays": data.arrays(), "entry": entry}


def _load_index(out: Path, crop_size: int, crop_box: tuple[float, float, float, float],
                channels: str | None = None) -> dict[str, Any]:
    """The dataset's manifest, or a new one. A dataset is extended only with clips cut the same way and heard
    from the same channels (`--channels`, recorded as `channels`): a clip's sound from another microphone
    would train the motion stage on another voice than its neighbours'."""
    path = out / "manifest.json"
    if not path.is_file():
        fresh: dict[str, Any] = {"format": FORMAT, "version": VERSION, "crop_size": crop_size,
                                 "crop_box": list(crop_box), "videos": []}
        if channels is not None:
            fresh["channels"] = channels
        return fresh
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise UsageError(f"{out}: is not a MyTalk dataset folder (its manifest.json is something else)")
    if manifest["crop_size"] != crop_size or tuple(manifest["crop_box"]) != tuple(crop_box):
        raise UsageError(f"{out}: was built with --crop-size {manifest['crop_size']}; use the same size or another "
                         "output folder")
    if manifest.get("channels") != channels:
        built = f"--channels {manifest['channels']}" if manifest.get("channels") else "without --channels"
        again = f"--channels {manifest['channels']}" if manifest.get("channels") else "no --channels"
        raise UsageError(f"{out}: was built {built}; give {again} to extend it, or another output folder")
    return manifest


def _adopt_version_1(entries: list[dict[str, Any]], clips: list[ClipSource]) -> list[ClipSource]:
    """Give the entries of a version-1 index (which knew clips by content hash and frames, not by
    source) the source id of the clip they hold, so a rebuild skips them; returns the clips adopted.
    Only the files such an entry names are hashed again."""
    from mytalk.core.hashing import file_sha256
    from mytalk.core.jobs.request import parse_range
    from mytalk.core.media.probe import probe

    old: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if "source" not in entry:
            old.setdefault(entry["path"], []).append(entry)
    adopted = []
    for clip in clips:
        candidates = old.get(str(clip.path.resolve()))
        if not candidates:
            continue
        info = probe(clip.path)
        if info.video is None:
            continue
        start, stop = (parse_range(clip.span, info, label=f"video {clip.path.name}") if clip.span
                       else (0, info.video.frame_count))
        key = f"{file_sha256(clip.path)}:{start}-{stop}"
        for entry in candidates:
            if entry["key"] == key:
                entry["source"] = source_id(clip)
                entry.setdefault("speaker", clip.speaker)
                adopted.append(clip)
    return adopted


def build_dataset(
    videos: Sequence[str | Path],
    out: Path,
    *,
    crop_size: int = 128,
    crop_box: tuple[float, float, float, float] | None = None,
    tracker_settings: Any = None,
    phones: bool = False,
    language: str = "en",
    layout: str = "auto",
    workers: int = 1,
    val_share: float = 0.05,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    min_frames: int = MIN_CLIP_FRAMES,
    require_audio: bool = True,
    channels: str | None = None,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> BuildResult:
    """Build (or extend, or resume) a dataset folder; see the module docstring.

    phones: also time each clip's phones (for a phone-fed motion model), in `language`; clips
    built earlier without them get them too (`dataset.ensure_phones`). require_audio: reject clips
    without sound (False keeps them: they train the appearance stage only). channels: each video's sound is
    only these of its channels (`--channels`: `3`, `boom`), the speaker's microphone of a camera's inputs or a
    poly take; a video without them is rejected. A cancel raises JobCancelledError after saving every clip
    finished so far.
    """
    from mytalk.core.engines.mytalk.dataset import DEFAULT_CROP_BOX, Dataset, data_hash, ensure_phones

    box = tuple(crop_box or DEFAULT_CROP_BOX)
    if not 32 <= crop_size <= 1024:
        raise UsageError(f"--crop-size {crop_size}: use 32 to 1024 px (128 or 256 for real training)")
    if not 0 <= val_share < 1:
        raise UsageError(f"--val-share {val_share}: use 0 (no validation speakers) up to below 1")
    if workers < 1:
        raise UsageError(f"--workers {workers}: give 1 or more")
    if min_frames < 2:
        raise UsageError(f"--min-frames {min_frames}: give 2 or more")
    if channels is not None and not channels.strip():
        raise UsageError("--channels: give the channels to pick, by number or track name (3, 1-2, boom)")
    sources, layouts = gather_sources(videos, layout)
    out = Path(out)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    manifest = _load_index(out, crop_size, box, channels)  # type: ignore[arg-type]
    rejected_path = out / "rejected.json"
    rejected: dict[str, dict[str, str]] = (
        {r["source"]: r for r in json.loads(rejected_path.read_text())} if rejected_path.is_file() else {})
    by_key: dict[str, dict[str, Any]] = {e["key"]: e for e in manifest["videos"]}
    adopted = {(c.path, c.span) for c in _adopt_version_1(manifest["videos"], sources)}
    known = {e.get("source") for e in manifest["videos"]}
    result = BuildResult(manifest, layouts=layouts)
    todo: list[ClipSource] = []
    for clip in sources:
        sid = source_id(clip)
        if sid in known or sid in rejected or (clip.path, clip.span) in adopted:
            result.skipped.append(str(clip.path))
        elif clip.problem:
            rejected[sid] = {"source": sid, "path": str(clip.path), "span": clip.span,
                             "kind": "transcript unreadable", "reason": clip.problem}
            result.rejected.append(rejected[sid])
        else:
            todo.append(clip)
    found = "; ".join(f"{folder}: {used} layout" for folder, used in layouts.items())
    progress(0, len(todo), f"dataset: {len(sources)} clip(s){' (' + found + ')' if found else ''}, "
                           f"{len(todo)} to extract")
    writer = TarShardWriter(out / "shards", shard_ends(manifest["videos"]), shard_bytes)
    index_every = INDEX_EVERY_S
    taken: list[str] = []
    last_index = time.monotonic()

    def write_index() -> None:
        # Sorted by source, so a dataset's clip order (and so its batches) never depends on which
        # worker finished first.
        manifest["videos"] = sorted(by_key.values(), key=lambda e: (e["path"], e["start"], e["stop"]))
        assign_splits(manifest["videos"], val_share)
        manifest["version"] = VERSION
        manifest["data_hash"] = data_hash(manifest)
        write_atomically(out / "manifest.json", json.dumps(manifest, indent=1))
        write_atomically(rejected_path, json.dumps(sorted(rejected.values(), key=lambda r: r["source"]), indent=1))

    def take(clip: ClipSource, outcome: dict[str, Any]) -> None:
        nonlocal last_index, index_every
        sid = source_id(clip)
        entry = outcome.get("entry")
        if entry is not None and entry["key"] in by_key:
            outcome = {"kind": "duplicate", "reason": f"the same footage as {by_key[entry['key']]['path']} (frames "
                                 f"{entry['start']}-{entry['stop']}), already in the dataset"}
        if "reason" in outcome:
            rejected[sid] = {"source": sid, "path": str(clip.path), "span": clip.span, "kind": outcome["kind"],
                             "reason": outcome["reason"]}
            result.rejected.append(rejected[sid])
        else:
            assert entry is not None
            payload = npz_bytes(outcome["arrays"])
            shard, offset, size = writer.append(member_key(entry), payload)
            entry.update(source=sid, shard=shard, offset=offset, size=size,
                         member_sha256=hashlib.sha256(payload).hexdigest())
            by_key[entry["key"]] = entry
            result.built.append(str(clip.path))
        taken.append(sid)
        progress(len(taken), len(todo), f"dataset: {len(taken)} of {len(todo)} clip(s) extracted, "
                                        f"{len(result.rejected)} rejected")
        if time.monotonic() - last_index > index_every:
            began = time.monotonic()
            write_index()
            # A 100 000-clip index takes a while to write: never spend more than a tenth of the time on it.
            index_every = max(INDEX_EVERY_S, 10 * (time.monotonic() - began))
            last_index = time.monotonic()

    settings = ExtractSettings(box, crop_size, tracker_settings, phones, language, min_frames,  # type: ignore[arg-type]
                               require_audio, channels)
    try:
        if todo:
            # Even one clip on one worker is extracted in a spawned process, never in this one (see the
            # module docstring: *clean processes*).
            _run_pool(todo, settings, min(workers, len(todo)), out, take, is_cancelled)
    finally:
        writer.close()
        write_index()
    if phones:
        ensure_phones(Dataset(out), language=language, progress=progress, is_cancelled=is_cancelled)
        result.manifest = json.loads((out / "manifest.json").read_text())
    return result


def _run_pool(todo: list[ClipSource], settings: ExtractSettings, workers: int, out: Path,
              take: Callable[[ClipSource, dict[str, Any]], None], is_cancelled: CancelFn) -> None:
    """Extract `todo` on `workers` spawned processes, at most two clips in flight per worker, taking
    each outcome in the parent as it comes. On a cancel the workers see this job's flag file and
    stop their clip; clips they had finished are still taken."""
    flag = out / f".cancel-{os.getpid()}-{time.monotonic_ns()}"
    pending: dict[Future[dict[str, Any]], ClipSource] = {}
    queue = list(reversed(todo))
    env = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # each worker is one clip; threads inside would oversubscribe
    cancelled = False
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            try:
                while queue or pending:
                    if not cancelled and is_cancelled():
                        cancelled = True
                        flag.touch()
                        queue.clear()
                    while queue and len(pending) < 2 * workers:
                        clip = queue.pop()
                        pending[pool.submit(_extract, clip, settings, flag)] = clip
                    finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        clip = pending.pop(future)
                        outcome = {"cancelled": True} if future.cancelled() else future.result()
                        if "cancelled" not in outcome:
                            take(clip, outcome)
            except BaseException:
                flag.touch()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        flag.unlink(missing_ok=True)
        if env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env
    if cancelled:
        raise JobCancelledError(CANCELLED)
