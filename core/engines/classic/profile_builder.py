"""Learning an actor: a profile (`profile.ActorProfile`) from reference ranges of footage.

Each range is tracked, and each of its frames gets a row: the mouth's shape, the footage's own
sound over that frame (`_range_rows`) and the phones heard in it (`_with_phones`, once the helper
has timed them). The speech and phonetic drivers are fitted on those rows, and the mouths to keep
crops of are chosen and cut (`profile_crops`) while the helper is still timing.
Only frames inside the given ranges are ever read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.audio.phone_helper import PhoneHelper
from mytalk.core.audio.phone_timing import PhoneTimer, PhoneTrack
from mytalk.core.audio.phone_workers import PhoneWorkers
from mytalk.core.engines.actors import AppearanceIndex
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.geometry import fit_poses, frontalise, lower_face_index
from mytalk.core.engines.classic.phonetic_driver import PHONE_SET, PhoneticModel, phone_coverage
from mytalk.core.engines.classic.profile import ActorProfile, ProfileSource, ReferenceFrames
from mytalk.core.engines.classic.profile_crops import (
    MAX_APPEARANCE,
    MouthPieces,
    extract_crops,
    select_appearance,
)
from mytalk.core.engines.classic.speech_driver import SpeechModel, band_features
from mytalk.core.errors import MediaFormatError, UsageError
from mytalk.core.face.canonical import apply_transform, mouth_aperture, similarity_to_canonical_batch
from mytalk.core.face.range_pool import track_ranges
from mytalk.core.face.tracker import FaceObservation, TrackerSettings
from mytalk.core.malloc import trim_malloc
from mytalk.core.media.audio import AudioTrack
from mytalk.core.media.channel_pick import ChannelPick
from mytalk.core.media.clip_sound import ClipSound
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress
from mytalk.core.userdirs import UserDirs, user_dirs

ANALYSIS_RATE = 16_000
"""Sample rate (Hz) the footage's own sound is analysed at: band energies, voice activity, phones."""

MIN_FACE_FRAMES = 5
"""Fewer frames with a face than this in the references, and there is no actor to learn."""

MIN_CONFIDENCE = 0.5
MAX_YAW_DEG = 35.0
"""Appearance donors must be confidently tracked and not turned far away: a profile mouth is warped
onto other head poses, and a side view of a mouth does not warp into a frontal one."""


class ActorNotInFootage(UsageError):
    """The reference footage shows the actor's face in fewer than `MIN_FACE_FRAMES` frames (`with_face`)."""

    def __init__(self, with_face: int) -> None:
        frames = "1 frame" if with_face == 1 else f"{with_face} frames"
        super().__init__(f"the reference footage shows a face in only {frames}; "
                         "give a longer --reference range where the actor faces the camera")
        self.with_face = with_face

    def __reduce__(self) -> tuple[type[ActorNotInFootage], tuple[int]]:
        return type(self), (self.with_face,)  # a batch worker's error crosses processes intact


SoundKey = tuple[Path, ChannelPick | None]
"""Which sound of a reference file: its path as named and the editor's pick of its channels."""


def _sound_key(ref: ReferenceRange) -> SoundKey:
    return Path(ref.path), ref.channels


def _own_sound(ref: ReferenceRange, info: MediaInfo, cache: dict[SoundKey, ClipSound | None]) -> ClipSound | None:
    """The reference file's own sound (mono, `ANALYSIS_RATE`; the channels `ref.channels` picks, else all of its
    sound stream) on the picture's clock; None for a clip without sound. Decoded once per file and pick however
    many ranges of it are references."""
    key = _sound_key(ref)
    if key not in cache:
        # Spooled in MyTalk's scratch folder: the system's temporary folder may be memory (tmpfs).
        scratch = UserDirs.ensure(user_dirs().scratch)
        cache[key] = ClipSound.decode(key[0], ANALYSIS_RATE, scratch, ref.channels) if info.audio else None
    return cache[key]


@dataclass
class FootageRead:
    """What `build_profile` reads of the reference files before it tracks them: each file's `probe` and its own
    sound, by path as the references name it. `read_footage` makes one ahead, so that a caller can read the
    files while it hashes them (`profile_cache`)."""

    infos: dict[Path, MediaInfo] = field(default_factory=dict)
    sounds: dict[SoundKey, ClipSound | None] = field(default_factory=dict)


def _probe_references(references: Sequence[ReferenceRange], read: FootageRead) -> None:
    """Probe each reference file once (a long clip's sample is five ranges of it) into `read`; raises
    `MediaFormatError` for one without video."""
    for ref in references:
        path = Path(ref.path)
        if path not in read.infos:
            read.infos[path] = probe(path)
        if read.infos[path].video is None:
            raise MediaFormatError(f"{ref.path}: has no video; a reference must show the actor")


def read_footage(references: Sequence[ReferenceRange], read: FootageRead | None = None) -> FootageRead:
    """Probe each reference file and decode its own sound, once per file, as `build_profile` would first,
    into `read` (what the caller has already, e.g. the job's probe of its clip; a new one when None).

    Raises `MediaFormatError` for a reference file without video, and what `probe` and the sound's decoding
    raise."""
    read = read if read is not None else FootageRead()
    _probe_references(references, read)
    for ref in references:
        _own_sound(ref, read.infos[Path(ref.path)], read.sounds)
    return read


def _learnable_sound(ref: ReferenceRange, n: int, sound: ClipSound, fps: Fraction,
                     exclude_audio: Sequence[ReferenceRange]) -> tuple[AudioTrack, np.ndarray, AudioTrack | None]:
    """(the sound over the range's `n` frames, which frames' sound may be learned from (n,), the sound phones
    are timed on: excluded frames silenced, None when no frame's sound may be learned from).

    The sound of excluded frames (the edit range under --guide none) is silenced before recognition, so
    not even the phone labels hear it."""
    frame = np.arange(ref.start, ref.start + n, dtype=np.int64)
    placed = sound.frames(ref.start, n, fps)
    audio_ok = np.ones(n, bool)
    for ex in exclude_audio:
        if Path(ex.path).resolve() == Path(ref.path).resolve():
            audio_ok &= ~((frame >= ex.start) & (frame < ex.stop))
    if not audio_ok.any():
        return placed, audio_ok, None
    allowed = placed.samples.copy()
    per_frame = placed.rate / float(fps)
    for f in np.flatnonzero(~audio_ok):
        allowed[:, int(round(f * per_frame)) : int(round((f + 1) * per_frame))] = 0.0
    return placed, audio_ok, AudioTrack(allowed, placed.rate)


def _range_rows(
    block: int,
    ref: ReferenceRange,
    observations: list[FaceObservation],
    sound: ClipSound | None,
    fps: Fraction,
    exclude_audio: Sequence[ReferenceRange],
) -> tuple[ReferenceFrames, AudioTrack | None]:
    """Per-frame rows of one tracked reference range, every phone still silence (`_with_phones` fills
    them in), and the sound its phones are to be timed on (None: none may be learned from).

    The rows' pictures and sound features need nothing from the phones, so the mouths to keep can be
    chosen and cut while pocketsphinx is still timing them in the helper process."""
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
    learnable = None
    if sound is None:
        audio_ok[:] = False
        bands = np.full((n, 8), np.nan)
        env = np.full(n, np.nan)
        speech = np.zeros(n)
    else:
        placed, audio_ok, learnable = _learnable_sound(ref, n, sound, fps, exclude_audio)
        bands = band_features(placed, fps, n)
        env = envelope(placed, fps, n)
        speech = speech_probability(placed, fps, n).astype(np.float64)
    rows = ReferenceFrames(block=np.full(n, block, np.int64), frame=frame, found=found, audio_ok=audio_ok,
                           shapes=shapes.astype(np.float32), canon=canon.astype(np.float32),
                           aperture=aperture.astype(np.float32), bands=bands.astype(np.float32),
                           envelope=env.astype(np.float32), speech=speech.astype(np.float32),
                           phones=phones.astype(np.float32), labelled=labelled)
    return rows, learnable


def _with_phones(
    block: int,
    rows: ReferenceFrames,
    learnable: AudioTrack | None,
    has_sound: bool,
    fps: Fraction,
    timer: PhoneTimer,
    labels: list[dict[str, Any]],
    timed: PhoneTrack | None = None,
) -> ReferenceFrames:
    """`rows` (`_range_rows`) with the phones of `learnable`; how they were timed is appended to `labels`.

    timed: those phones, already timed (by the `PhoneHelper` while the range was tracked); None: timed here."""
    if not has_sound:
        labels.append({"block": block, "path": "none", "reason": "the footage has no sound"})
        return rows
    if learnable is None:
        labels.append({"block": block, "path": "none", "reason": "the footage's sound may not be learned from"})
        return rows
    track = timed if timed is not None else timer.footage_track(learnable)
    labels.append({"block": block, "path": track.path, "reason": track.reason,
                   "confidence": track.confidence, "words": " ".join(track.words)[:400],
                   "noise_suppressed": bool(track.details.get("noise_suppressed", False))})
    return replace(rows, phones=phone_coverage(track.phones, fps, len(rows)).astype(np.float32),
                   labelled=rows.audio_ok & (track.path != "none"))


def _appearance(
    references: Sequence[ReferenceRange],
    infos: dict[Path, MediaInfo],
    observations: list[list[FaceObservation]],
    frames: ReferenceFrames,
    max_appearance: int,
    pieces: MouthPieces,
    progress: ProgressFn,
    is_cancelled: CancelFn,
) -> AppearanceIndex:
    """The mouths a profile keeps (`select_appearance`) and their crops, from the tracked rows alone (and
    the `pieces` of the frames kept while they were tracked)."""
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
        cut = extract_crops(ref, infos[Path(ref.path)], wanted, is_cancelled, pieces=pieces.of_block(block))
        for r in rows:
            box, local, png = cut[int(frames.frame[r])]
            boxes.append(box)
            landmarks.append(local)
            crops.append(png)
    return AppearanceIndex(keep, np.asarray(boxes, np.int64).reshape(-1, 4),
                           np.asarray(landmarks, np.float32).reshape(-1, 478, 2), crops)


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
    timer: PhoneTimer | None = None,
    phone_workers: PhoneWorkers | None = None,
    footage: FootageRead | None = None,
) -> ActorProfile:
    """Learn an actor from reference ranges. Only frames inside `references` are ever read.

    exclude_audio: ranges whose *sound* must not be learned from (the edit range under `--guide
    none`); their pictures may still serve. timer: the job's phone timer, whose decoders the line's
    phone timing then reuses (loading them costs half a second). phone_workers: a runtime's warm processes,
    one of which times the footage's own phones (`phone_helper`). footage: what `read_footage` already read
    of these references (the rest is read here). Raises UsageError when the references hold too few frames
    with a face.
    """
    from mytalk.core.hashing import cache_key

    if not references:
        raise UsageError("no reference footage: give --reference RANGE or --actor NAME")
    settings = tracker_settings or TrackerSettings()
    read = footage if footage is not None else FootageRead()
    _probe_references(references, read)
    sounds, infos = read.sounds, read.infos
    parts: list[ReferenceFrames] = []
    sources: list[ProfileSource] = []
    fps_values: list[float] = []
    timer = timer or PhoneTimer()
    labels: list[dict[str, Any]] = []
    with PhoneHelper(phone_workers) as helper:
        # Every reference's sound goes to the helper first: pocketsphinx times it while the frames are
        # tracked here (`phone_helper`), in the order sent.
        sent: list[bool] = []
        for ref in references:
            info = infos[Path(ref.path)]
            assert info.video is not None
            sound = _own_sound(ref, info, sounds)
            learnable = None if sound is None else _learnable_sound(ref, ref.stop - ref.start, sound, info.video.fps,
                                                                    exclude_audio)[2]
            sent.append(learnable is not None and helper.send(learnable))
        # The references are tracked at once, a thread each up to the cores (`range_pool`), with one count
        # over all their frames under one stage name: the stage's ETA (the runtime's `ProgressThrottle`)
        # then covers all of them (a long clip's default reference is four windows,
        # `mytalk.core.engines.default_reference`).

        def tracked(done: int, total: int, stage: str) -> None:
            progress(done, total, f"learning the actor: {stage}")

        # The frames around each mouth are kept as the tracker sees them, so the crops chosen after it are
        # not decoded again (`MouthPieces`).
        pieces = MouthPieces()
        observations = track_ranges(references, settings, progress=tracked, is_cancelled=is_cancelled,
                                    use_cache=use_cache, on_tracked=pieces.keep, infos=infos)
        check_cancelled(is_cancelled, "learning the actor")
        # Checked before waiting for any phones: footage without the actor fails at once (and a caller that
        # falls back to other footage, `job_profile`, loses no time on the phones).
        with_face = sum(int(o.found) for obs in observations for o in obs)
        if with_face < MIN_FACE_FRAMES:
            raise ActorNotInFootage(with_face)
        learnables: list[AudioTrack | None] = []
        for block, ref in enumerate(references):
            path = Path(ref.path)
            info = infos[path]
            assert info.video is not None
            fps = info.video.fps
            obs = observations[block]
            rows, learnable = _range_rows(block, ref, obs, _own_sound(ref, info, sounds), fps, exclude_audio)
            parts.append(rows)
            learnables.append(learnable)
            sources.append(ProfileSource(str(path.resolve()), cache_key(path), ref.start, ref.start + len(obs),
                                         f"{fps.numerator}/{fps.denominator}",
                                         None if ref.channels is None else ref.channels.to_dict()))
            fps_values.append(float(fps))
        # The mouths are chosen and cut while the helper is still timing the phones: neither needs the other.
        appearance = _appearance(references, infos, observations, ReferenceFrames.concatenate(parts),
                                 max_appearance, pieces, progress, is_cancelled)
        del pieces  # up to PIECES_BYTES, no longer needed while the phones are waited for
        trim_malloc()  # and their pages go back to the system: a runtime lives on after its learning
        for block, ref in enumerate(references):
            progress(block, len(references), "learning the actor: phones")
            timed = helper.track(is_cancelled) if sent[block] else None
            if len(observations[block]) != ref.stop - ref.start:
                timed = None  # the footage ended early: its rows cover other frames than the sound sent
            fps = infos[Path(ref.path)].video.fps  # type: ignore[union-attr]
            has_sound = sounds[_sound_key(ref)] is not None
            parts[block] = _with_phones(block, parts[block], learnables[block], has_sound, fps, timer, labels, timed)
    frames = ReferenceFrames.concatenate(parts)
    fps_mean = float(np.mean(fps_values))
    speech = SpeechModel.fit(frames.shapes.astype(np.float64), frames.bands.astype(np.float64), frames.block,
                             frames.audio_ok, frames.speech.astype(np.float64), frames.aperture.astype(np.float64),
                             frames.envelope.astype(np.float64), fps_mean)
    phonetic = PhoneticModel.fit(speech, frames.shapes.astype(np.float64), frames.phones.astype(np.float64),
                                 frames.labelled, frames.block, frames.speech > 0.5, fps_mean)
    phonetic.info["reference_labels"] = labels
    notes = []
    if not speech.info["lag"].get("reliable"):
        notes.append(f"audio-visual lag not measurable on {speech.info['lag']['seconds']} s of reference; "
                     f"using the prior of {speech.lag} frames")
    return ActorProfile(name=name, sources=sources, frames=frames, appearance=appearance, speech=speech,
                        phonetic=phonetic, fps=fps_mean, created=datetime.now(UTC).isoformat(timespec="seconds"), notes=notes)
