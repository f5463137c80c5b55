"""A whole cut as a list of jobs: one per shot with a face on screen, and the shots skipped, with why.

The lines come from one of two places:

- **a dialogue stem** (`--stem DUB.wav`): one file for the whole cut, in record time. Where it starts
  (`place_stem`): at `--stem-start TC` when given; else where its Broadcast WAV time stamp says (a
  stem printed with the reel's pre-roll, its 2-pop at 00:59:58:00, starts 2 s before a cut at
  01:00:00:00; `core.media.bwf`); else on the cut's first frame. Each shot takes its slice of it: the
  shot's line is the stem placed so that the shot's record time falls on the shot's first frame
  (`SyncRequest.audio_in`), and its handles take the stem's sound on either side. Every video clip of
  the cut is a shot.
- **an ADR cue sheet** (`--cues CUES.csv`, `plugin.batch.cues`): each cue is a shot, the part of the
  clip under the cue's record range. Its take sits where its Broadcast WAV time stamp says when that
  puts it over the cue (a take recorded against picture, with a breath before the line); otherwise its
  first sample is on the cue's record in (`cue_candidates`).

A shot is rendered only when its line reaches it and a face is on screen. A stem that ends before
the cut does (or a cue placed past its line file's end) leaves later shots no sound to sync to: they
are listed as skipped with that reason, rather than failing one by one (`mytalk sync` refuses such a
placement). The face detector looks at the shot's first, middle and last frames
(`core.face.presence`), a fraction of a second per shot, and a shot where it finds none
(a cutaway, a wide shot of a landscape, a title) is listed as skipped with that reason. A shot whose
clip has no media file, or a speed change, is skipped with the host's own message. Nothing here
renders or writes: the plan is made, shown and checked before the first job starts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from mytalk.core.errors import MyTalkError, UsageError
from mytalk.core.jobs.versioning import safe_stem
from mytalk.core.media.bwf import bwf_start_seconds
from mytalk.core.media.channel_pick import pick_channels
from mytalk.core.timecode import (
    frames_to_smpte,
    is_drop_frame_label,
    is_smpte_label,
    parse_position,
    seconds_to_frame,
)
from mytalk.plugin.batch.cues import Cue, CutClip, read_cue_sheet
from mytalk.plugin.hosts import Shot

PRESENCE_SAMPLES = 3
"""Frames of a shot the face detector looks at: its first, middle and last."""

LINE_LENGTH_SLACK_S = Fraction(1, 2)
"""How far past a line file's probed length a shot must start to be skipped for it (s): a compressed
file's length is an estimate, and a shot just past it is left to the job, which checks the sound itself."""


class BatchTimeline(Protocol):
    """What a batch needs from a timeline host (`OtioTimeline` and the other file hosts)."""

    path: Path
    fps: Fraction

    def clips(self) -> Sequence[Any]: ...

    def shot(self, record_start: int, record_stop: int | None = None) -> Shot: ...

    def parse_record(self, text: str) -> int: ...

    def record_timecode(self, frame: int) -> str: ...


@dataclass(frozen=True)
class ShotJob:
    """One shot to render: plain values only, so it pickles to a worker process or a Ray task."""

    number: int
    """The shot's place in the batch (1-based, record order): the name of its files and its row in the report."""
    cue: str
    """The cue id (a cue sheet) or the clip's name (a stem)."""
    clip_name: str
    video: str
    source_start: int
    source_stop: int
    record_start: int
    record_stop: int
    record_in_tc: str
    line: str
    audio_in: str
    """Where the line is placed: its time on the shot's first frame, as `--audio-in` takes it (`3.840000s`)."""
    transcript: str | None = None
    actor: str | None = None
    notes: str | None = None
    audio_channels: str | None = None
    """The line's channels the shot uses (`--audio-channels`: a cue's channels, or `--stem-channels`)."""
    guide_channels: str | None = None
    """The clip's own channels that are the actor's (`--guide-channels`, the batch's, checked against the clip;
    else the ones the cut plays with the shot, `Shot.guide_channels`)."""

    @property
    def name(self) -> str:
        """File name stem of the shot's render and sidecars: number, clip and source range."""
        return f"{self.number:03d}_{safe_stem(Path(self.video).stem)}_{self.source_start}-{self.source_stop}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SkippedShot:
    """A shot of the cut that is not rendered, and why, for the report."""

    cue: str
    clip_name: str
    record_start: int
    record_stop: int
    record_in_tc: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BatchPlan:
    """The jobs of a batch in record order, and the shots left out."""

    jobs: tuple[ShotJob, ...]
    skipped: tuple[SkippedShot, ...]
    source: str
    """`stem` or `cues`, and the file: what the lines came from, for the report (with where a stem starts)."""


@dataclass(frozen=True)
class _Candidate:
    cue: str
    clip_name: str
    record_start: int
    record_stop: int
    line: Path
    line_time: Fraction
    transcript: str | None = None
    actor: str | None = None
    notes: str | None = None
    channels: str | None = None


def cut_clips(timeline: BatchTimeline) -> list[CutClip]:
    """The cut's clips by number, for cue sheets that name events and for the cut's length."""
    return [CutClip(int(clip.number), int(clip.record_start), int(clip.record_stop)) for clip in timeline.clips()]


@dataclass(frozen=True)
class StemPlacement:
    """Where a stem sits against the cut."""

    at_cut_start: Fraction
    """Seconds into the stem on the cut's first frame (negative: the stem starts after it)."""
    how: str
    """Where it starts and why, in words, for the plan's printout and the report."""


def place_stem(timeline: BatchTimeline, stem: Path, stem_start: str | None,
               lengths: dict[str, float]) -> StemPlacement:
    """Where `stem` starts: `stem_start` (the record timecode of its first sample), else its Broadcast WAV
    time stamp, else the cut's first frame. Raises `UsageError` for a `stem_start` that is no timecode,
    and for a placement that leaves the whole cut without the stem's sound (a stamp from a session at
    another hour, say), naming both spans."""
    fps = Fraction(timeline.fps)
    cut_label = timeline.record_timecode(0)
    drop = is_drop_frame_label(cut_label)
    cut_start = _cut_start_seconds(timeline)
    if stem_start is not None:
        if not is_smpte_label(stem_start):
            raise UsageError(f"--stem-start {stem_start!r}: give the record timecode of the stem's first sample, "
                             f"as the cut's ({cut_label})")
        begins = Fraction(parse_position(stem_start, fps, what="--stem-start")) / fps
        why = "--stem-start"
    else:
        stamp = bwf_start_seconds(stem)
        if stamp is None:
            return StemPlacement(Fraction(0), f"its first sample on the cut's first frame, {cut_label} "
                                              "(it has no Broadcast WAV time stamp; --stem-start TC places it)")
        begins, why = stamp, "its Broadcast WAV time stamp"
    label = frames_to_smpte(seconds_to_frame(begins, fps), fps, drop=drop)
    offset = cut_start - begins
    length = Fraction(_line_length(stem, lengths))
    cut_end = Fraction(max((int(clip.record_stop) for clip in timeline.clips()), default=0)) / fps
    if length > 0 and (offset >= length or offset + cut_end <= 0):
        end_label = frames_to_smpte(seconds_to_frame(begins + length, fps), fps, drop=drop)
        raise UsageError(f"--stem {stem.name}: placed by {why}, it plays {label}-{end_label}, wholly outside the cut "
                         f"({cut_label}-{timeline.record_timecode(int(cut_end * fps))}); give --stem-start TC, the "
                         "record timecode of its first sample")
    side = "before" if offset > 0 else "after"
    gap = "on the cut's first frame" if offset == 0 else f"{float(abs(offset)):.3f} s {side} the cut's first frame"
    return StemPlacement(offset, f"its first sample at {label} by {why}, {gap} ({cut_label})")


def stem_candidates(timeline: BatchTimeline, stem: Path, at_cut_start: Fraction = Fraction(0),
                    channels: str | None = None) -> list[_Candidate]:
    """Every video clip of the cut, its line the stem's slice under it (`at_cut_start`: `StemPlacement`), from
    the stem's `channels` (`--stem-channels`; None: all of them)."""
    fps = Fraction(timeline.fps)
    return [_Candidate(str(clip.name), str(clip.name), int(clip.record_start), int(clip.record_stop), stem,
                       Fraction(int(clip.record_start)) / fps + at_cut_start, channels=channels)
            for clip in timeline.clips()]


def cue_candidates(cues: Sequence[Cue], timeline: BatchTimeline,
                   lengths: dict[str, float]) -> tuple[list[_Candidate], str]:
    """A shot per cue, and how their takes were placed, in words.

    A take is a Broadcast WAV stamped where it was recorded on the session's timeline, usually with a
    breath or a handle before the line: when the stamp puts the take over its cue's record range, the
    take is placed by it, to the sample. Otherwise (no stamp, or a take recorded in a session at other
    timecode) the take's first sample is on the cue's record in, as the sheet format says.
    """
    candidates: list[_Candidate] = []
    stamped = 0
    fps = Fraction(timeline.fps)
    cut_start = _cut_start_seconds(timeline)
    stamps: dict[Path, Fraction | None] = {}
    for cue in cues:
        line_time = Fraction(0)
        if cue.line not in stamps:
            stamps[cue.line] = bwf_start_seconds(cue.line)
        stamp = stamps[cue.line]
        if stamp is not None:
            cue_in = cut_start + Fraction(cue.record_start) / fps
            cue_out = cut_start + Fraction(cue.record_stop) / fps
            if stamp < cue_out and stamp + Fraction(_line_length(cue.line, lengths)) > cue_in:
                line_time, stamped = cue_in - stamp, stamped + 1
        candidates.append(_Candidate(cue.cue_id, "", cue.record_start, cue.record_stop, cue.line, line_time,
                                     cue.transcript, cue.actor, cue.notes, cue.channels))
    how = (f"{stamped} of {len(cues)} take(s) placed by their Broadcast WAV time stamps, the others on their "
           "cue's record in") if stamped else "each take's first sample on its cue's record in"
    return candidates, how


def _cut_start_seconds(timeline: BatchTimeline) -> Fraction:
    """The cut's first frame in seconds from midnight of its timecode, as a BWF time stamp counts them."""
    fps = Fraction(timeline.fps)
    return Fraction(parse_position(timeline.record_timecode(0), fps, what="the cut's start timecode")) / fps


def _line_length(line: Path, lengths: dict[str, float]) -> float:
    """A line file's length in seconds, probed once per plan (`lengths` keeps them); 0 when it cannot be
    read or says none: that is the job's own clear error, or it checks the sound it gets."""
    from mytalk.core.media.probe import probe

    key = str(line)
    if key not in lengths:
        try:
            lengths[key] = probe(line).duration_s
        except MyTalkError:
            lengths[key] = 0.0
    return lengths[key]


def plan_batch(timeline: BatchTimeline, *, stem: Path | None = None, cue_sheet: Path | None = None,
               face_check: Any = None, stem_start: str | None = None, stem_channels: str | None = None,
               guide_channels: str | None = None) -> BatchPlan:
    """The batch's jobs and skipped shots; raises a `MyTalkError` for a bad stem or cue sheet.

    `stem_start`: the record timecode of the stem's first sample (`place_stem`); `stem_channels`: the stem's
    channels every shot uses (`--audio-channels` of each job), checked against the stem here. `guide_channels`:
    the clips' own channels every shot's guide and learning hear (`--guide-channels` of each job: the cameras of
    a shoot are wired alike), checked here against every clip a job renders, before anything renders. Without
    it, each shot hears the channels its cut plays with it, where the cut says (`Shot.guide_channels`: the
    stream a Kdenlive or Shotcut clip plays), else its clip's default sound.

    `face_check(video, frames) -> bool` says whether a face is on screen in those frames of the clip
    (default: `core.face.presence.face_on_screen`)."""
    if (stem is None) == (cue_sheet is None):
        raise MyTalkError("give the lines as either --stem DUB.wav or --cues CUES.csv")
    if face_check is None:
        from mytalk.core.face.presence import face_on_screen

        face_check = face_on_screen
    lengths: dict[str, float] = {}  # each line file's length, probed once for the whole plan
    if stem is not None:
        stem = Path(stem).expanduser()
        _check_stem(stem, lengths)
        placement = place_stem(timeline, stem, stem_start, lengths)
        if stem_channels is not None:
            picked = pick_channels(stem_channels, stem, what="--stem-channels")
            placement = replace(placement, how=f"{placement.how}, channels {picked.words}")
        candidates = stem_candidates(timeline, stem, placement.at_cut_start, stem_channels)
        source = f"stem {stem}, {placement.how}"
    else:
        if stem_start is not None:
            raise UsageError("--stem-start places a --stem; a cue sheet's lines start on their cues' record in")
        if stem_channels is not None:
            raise UsageError("--stem-channels picks a --stem's channels; a cue sheet names each take's in its "
                             "channels column")
        assert cue_sheet is not None
        cues = read_cue_sheet(Path(cue_sheet).expanduser(), timeline, cut_clips(timeline))
        candidates, how = cue_candidates(cues, timeline, lengths)
        source = f"cues {cue_sheet}, {how}"
    jobs: list[ShotJob] = []
    skipped: list[SkippedShot] = []
    for candidate in sorted(candidates, key=lambda c: (c.record_start, c.record_stop)):
        tc = timeline.record_timecode(candidate.record_start)
        try:
            shot = timeline.shot(candidate.record_start, candidate.record_stop)
        except MyTalkError as error:
            skipped.append(SkippedShot(candidate.cue, candidate.clip_name, candidate.record_start,
                                       candidate.record_stop, tc, str(error)))
            continue
        # A cue wider than its clip is clipped to it by `shot`: the line keeps its place against the record time.
        line_time = candidate.line_time + Fraction(shot.record_start - candidate.record_start) / Fraction(timeline.fps)
        unreached = _line_misses(Path(candidate.line), line_time, Fraction(shot.frames) / Fraction(timeline.fps),
                                 lengths)
        if unreached:
            skipped.append(SkippedShot(candidate.cue, shot.name, candidate.record_start, candidate.record_stop, tc,
                                       unreached))
            continue
        frames = _presence_frames(shot.source_start, shot.source_stop)
        if not face_check(shot.video, frames):
            skipped.append(SkippedShot(candidate.cue, shot.name, candidate.record_start, candidate.record_stop, tc,
                                       f"no face on screen (looked at source frames {', '.join(map(str, frames))})"))
            continue
        # Absolute paths: a worker (a Ray task on another node) has another working folder.
        jobs.append(ShotJob(len(jobs) + 1, candidate.cue, shot.name, os.path.abspath(shot.video), shot.source_start,
                            shot.source_stop, shot.record_start, shot.record_start + shot.frames,
                            timeline.record_timecode(shot.record_start), os.path.abspath(candidate.line),
                            f"{float(line_time):.6f}s",
                            candidate.transcript, candidate.actor, candidate.notes, candidate.channels,
                            guide_channels if guide_channels is not None else shot.guide_channels))
    if guide_channels is not None:
        for video in dict.fromkeys(job.video for job in jobs):
            pick_channels(guide_channels, Path(video), what="--guide-channels")
        source = f"{source}; the clips' own sound heard from channels {guide_channels}"  # the report's "lines"
    return BatchPlan(tuple(jobs), tuple(skipped), source)


def _line_misses(line: Path, begins: Fraction, span: Fraction, lengths: dict[str, float]) -> str:
    """Why the shot's line gives it no sound ("" when it does): its span [begins, begins + span) of the
    file lies wholly before the file's start or past its end. `lengths`: `_line_length`'s cache."""
    length = _line_length(line, lengths)
    if length <= 0.0:
        return ""  # unknown: the job checks the sound it gets
    if begins + span <= 0:
        where = f"ends {float(-begins - span):.2f} s before {line.name} begins"
    elif begins >= Fraction(length) + LINE_LENGTH_SLACK_S:
        where = f"starts {float(begins):.2f} s into {line.name}, which lasts {length:.2f} s"
    else:
        return ""
    return f"the line does not reach this shot: its slice {where}"


def _presence_frames(start: int, stop: int) -> list[int]:
    last = stop - 1
    return sorted({start, (start + last) // 2, last})[:PRESENCE_SAMPLES]


def _check_stem(stem: Path, lengths: dict[str, float]) -> None:
    """A stem that is missing or unreadable is its own clear error, and one without sound is refused; its
    length goes into `lengths` for the placement and the reach checks."""
    from mytalk.core.media.probe import probe

    info = probe(stem)
    if info.audio is None:
        raise MyTalkError(f"--stem {stem.name}: has no sound; give the dialogue stem's audio file")
    lengths[str(stem)] = info.duration_s
