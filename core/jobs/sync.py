"""The sync job: one streaming pass from source frames through an engine into the writer.

This is the single implementation behind `mytalk sync`, the runtime's preview and commit, and
the benchmarks. Frames flow one at a time (reader → engine → writer), so memory does not grow
with the range.

Stages, in order (each timed, and named for the fault-injection tests): probe, audio, prepare,
render, mux, hash, report, commit. Every file the job delivers (the render, its report) is written
in full under a temporary name (`mytalk.core.jobs.staging`) and put in place by the one `commit`
step at the very end, after everything that can fail has succeeded. A failure, a cancel or a stop
signal at any earlier point leaves OUT and the report path exactly as they were.

Inputs are never written. Their identities (`mytalk.core.hashing.FileIdentity`) are taken before
they are read, and the report's hashes are only given for that same identity: an input rewritten
while the job read it fails the job instead of being vouched for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from mytalk.core import __version__
from mytalk.core.audio.line_phones import LineOrigin
from mytalk.core.audio.phone_workers import PhoneWorkers
from mytalk.core.engines import create_engine, default_engine
from mytalk.core.engines.base import EngineJob, FrameRecord, ready_now, rejected_detections
from mytalk.core.errors import MyTalkError, OutputError, UsageError, describe_os_error
from mytalk.core.hashing import FileIdentity
from mytalk.core.jobs.clip_probes import ClipProbes
from mytalk.core.jobs.guide_suggestion import SUGGEST_UP_TO_S, best_match, channel_matches, suggestion_words
from mytalk.core.jobs.input_hashes import InputHashes
from mytalk.core.jobs.request import ResolvedRequest, SyncRequest, line_channel_pick, resolve_request
from mytalk.core.jobs.staging import StagedOutputs
from mytalk.core.media.audio import AudioSource, peak_level
from mytalk.core.media.audio_spool import SpooledAudio, decode_placed_spooled
from mytalk.core.media.channel_pick import (
    MIXED_ABOVE,
    ChannelPick,
    SoundChannel,
    channel_list_words,
    sound_channels,
)
from mytalk.core.media.frame_stash import FrameStash
from mytalk.core.media.prefetch import prefetched
from mytalk.core.media.probe import MediaInfo, probe
from mytalk.core.media.reader import FrameReader
from mytalk.core.media.sound_stream import SoundStream, clip_sound_stream
from mytalk.core.media.writer import (
    VideoWriter,
    alpha_dropped,
    check_codec_container,
    check_output_path,
    default_codec_for,
    fields_dropped,
)
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress
from mytalk.core.userdirs import UserDirs, user_dirs

OUTPUT_AUDIO_RATE = 48_000
"""Muxed audio rate: the post-production standard, whatever the replacement file's rate."""

PREVIEW_PROXY_HEIGHT = 540
"""`--quality preview` writes a proxy of at most this many lines: enough to judge sync."""

ANALYSIS_AUDIO_RATE = 16_000
"""Rate of the guide track handed to engines for analysis (speech features need no more)."""

FrameHook = Callable[[int, Any], None]
"""Called with (offset in the range, rendered frame) for every output frame, just after it is
written; the preview uses it to show its first frame while the rest renders."""


@dataclass
class StageTimer:
    """Wall-clock seconds per stage, for the report and the benchmarks."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began


@dataclass
class SyncResult:
    """What a finished job wrote, and the report it produced."""

    output: Path
    frames_written: int
    audio_samples: int
    report: dict[str, Any]
    job_warnings: tuple[str, ...] = ()
    """The warnings about the whole job (a line silent over the range), also first in the report's list;
    the command line prints these, and leaves the per-frame ones to the report."""


def _line_audio(resolved: ResolvedRequest, sound: SoundStream, pick: ChannelPick | None) -> SpooledAudio:
    """The replacement line (`sound`'s stream of its file, or the channels the editor picked), trimmed or padded
    to exactly the range's length at the output rate.

    Kept in a scratch file, not in memory: a ten-minute line is 110 MB a channel at 48 kHz, and the
    job only ever reads it in order (`mytalk.core.media.audio_spool`)."""
    request = resolved.request
    return decode_placed_spooled(request.audio, OUTPUT_AUDIO_RATE, num_frames=resolved.stop - resolved.start,
                                 fps=resolved.fps, line_offset_s=resolved.line_offset_s, channels=None,
                                 folder=UserDirs.ensure(user_dirs().scratch), stream_index=sound.index,
                                 rows=None if pick is None else pick.rows)


def _check_line_reaches_range(resolved: ResolvedRequest, line_peak: float, line_info: MediaInfo) -> None:
    """Refuse a placement that leaves the whole range outside the line's file (`UsageError`, exit 2).

    Silence *in* the line is a valid edit (the mouth closes, with a warning in the report), but a range
    that gets none of the file is a mistyped `--audio-in` or a line slipped off its range: rendering a
    closed mouth for it would hide the mistake until the conform. The file's length is the probe's (an
    estimate for some MP3s), so a placement is refused only when the placed sound is silent as well.
    """
    request = resolved.request
    begins = resolved.line_offset_s
    span = Fraction(resolved.stop - resolved.start) / resolved.fps
    length = line_info.duration_s
    if length <= 0.0 or (begins < Fraction(length) and begins + span > 0) or line_peak > 0.0:
        return
    where = "after the line ends" if begins >= Fraction(length) else "before the line begins"
    # Worded for the panel's slip as well as for `--audio-in`: both set `line_offset_s`.
    raise UsageError(
        f"the replacement line does not reach the range: with audio-in {float(begins):.3f}s the range's "
        f"{float(span):.2f} s fall wholly {where} ({Path(request.audio).name} lasts {length:.2f} s); "
        f"place the line so that it overlaps the range"
    )


def _job_warnings(resolved: ResolvedRequest, line_peak: float, line_info: MediaInfo, codec: str,
                  line_sound: SoundStream, aspect_kept: bool, fields_tagged: bool,
                  line_pick: ChannelPick | None = None, line: AudioSource | None = None) -> list[str]:
    """Suspicious but legal jobs: a clip or a line cut short is worked on as far as it goes, a silent range is a valid
    edit (the mouth closes), a surround stem is mixed to stereo for the render (its mouth follows every
    channel's speech), a codec without alpha renders a keyed clip opaque, a .mkv that had no room for its
    display size (`mkv_aspect`) loses a clip's non-square pixel aspect, and DNxHR in MXF (or H.264 of fields
    with an odd number of lines) an interlaced clip's fields: coded as frames, and untagged (a DNx `.mov` is
    tagged, `fields_tagged`)."""
    warnings: list[str] = []
    video = resolved.info.video
    clip_cut = video.cut_short_note if video is not None else None
    if clip_cut is not None:
        warnings.append(clip_cut)
    line_cut = line_info.sound_cut_short_note
    if line_cut is not None and not (clip_cut is not None and line_info.path == resolved.info.path):
        warnings.append(f"the replacement line {line_info.path.name}: {line_cut}")  # unless the clip said it
    if video is not None and alpha_dropped(codec, video) and not resolved.request.proxy:
        warnings.append(f"the clip has an alpha channel (matte) and {codec} cannot carry it: the render is "
                        f"opaque; use --codec prores4444 (.mov) or ffv1 (.mkv) to keep it")
    if video is not None and not aspect_kept:
        aspect = video.sample_aspect
        warnings.append(f"the clip's pixels are not square ({aspect.numerator}:{aspect.denominator}) and this .mkv "
                        f"had no room to say so: players will show it squeezed; render to .mov (ProRes) "
                        f"to keep the aspect")
    if video is not None and fields_dropped(codec, video) and not fields_tagged and not resolved.request.proxy:
        why = ("FFmpeg's DNxHR codes whole frames only (DNxHD codes the fields of 1080i50 and 1080i59.94 only) "
               "and MXF does not say the field order of frames"
               if codec == "dnxhr"
               else f"{codec} cannot code fields of {video.height // 2} lines")
        warnings.append(f"the clip is interlaced and {why}: players may take the render for progressive pictures; "
                        f"render to .mov (ProRes codes the fields, DNxHR says their order) to keep them")
    channels = max((stream.channels for stream in line_info.audio if stream.index == line_sound.index), default=0)
    if channels > 2 and line_pick is None:
        warnings.append(_many_channels_warning(line_info.path, line_sound, channels))
    warnings.extend(_many_guide_channels_warning(resolved, line))
    if line_peak <= 0.0:
        warnings.append(f"the replacement line is silent over the whole range (audio-in {resolved.line_offset_s}s); "
                        f"the mouth will stay closed - check --audio-in if that is not intended")
    return warnings


def _many_channels_warning(path: Path, line_sound: SoundStream, channels: int) -> str:
    """A poly line used whole: its channels by number and name, so that the editor can pick the microphone."""
    try:
        listed = [c for c in sound_channels(path) if c.stream_index == line_sound.index]
    except MyTalkError:
        listed = []
    names = f" ({channel_list_words(listed)})" if listed else ""
    such = _pick_example(listed, "3 or 1-2")
    return (f"the replacement line has {channels} channels{names}; the mouth follows them all, mixed, and the render "
            f"carries their stereo downmix: pick the channels to use with --audio-channels (numbers or track names, "
            f"such as {such})")


def _pick_example(listed: list[SoundChannel], otherwise: str) -> str:
    """A pick to suggest in a warning: a named microphone (`3 or 'BOOM'`), not the recorder's mix, which is
    what a job without a pick heard; `otherwise` for channels without names."""
    example = next((c for c in listed if c.name and "mix" not in c.name.casefold()), None)
    return f"{example.number} or {example.name!r}" if example is not None else otherwise


def _many_guide_channels_warning(resolved: ResolvedRequest, line: AudioSource | None = None) -> list[str]:
    """A clip whose own sound holds more than a stereo pair (a camera's four inputs, a poly take synced in),
    heard without a pick: its channels by number and name, so that the editor can pick the actor's microphone.
    The guide's alignment and the actor's learning then hear the other actor's words too: under a two-hander's
    mix, the guide of the same words aligned at a higher cost and was lost on one range of six
    (`benchmarks/bench_guide_channels.py`). With the `line` and a guide that hears the clip, the channel whose
    sound the line's words match best is named (`guide_suggestion`), so that untitled inputs need no listening."""
    if resolved.guide_pick is not None or not resolved.info.audio:
        return []  # picked, or nothing to pick from
    guided = resolved.request.guide != "none"
    learned = not resolved.settings.actor and any(Path(r.path).resolve() == resolved.request.video.resolve()
                                                  for r in resolved.references)
    if not (guided or learned):
        return []  # nothing hears the clip's sound
    who = " and ".join(part for part, used in (("the guide", guided), ("the actor's learning", learned)) if used)
    try:
        listed = sound_channels(resolved.request.video)
    except MyTalkError:
        return []
    if len(listed) <= MIXED_ABOVE:
        return []
    sound = clip_sound_stream(resolved.request.video)
    heard = [c for c in listed if c.stream_index == sound.index]
    hears = "them all, mixed" if len(heard) == len(listed) else channel_list_words(heard)
    verb = "hear" if guided and learned else "hears"
    lead = f"the clip's own sound has {len(listed)} channels ({channel_list_words(listed)}); {who} {verb} {hears}"
    best = _guide_suggestion(resolved, line, listed, heard) if guided else None
    if best is not None:
        return [f"{lead}; {best[1]}: pick it with --guide-channels {best[0].number}"]
    such = _pick_example(listed, "1 or 3")
    return [f"{lead}: pick the actor's microphone with --guide-channels (numbers or track names, such as {such})"]


def _guide_suggestion(resolved: ResolvedRequest, line: AudioSource | None, listed: list[SoundChannel],
                      heard: list[SoundChannel]) -> tuple[SoundChannel, str] | None:
    """The channel the line's words match best and the words that say so, for a range of at most
    `SUGGEST_UP_TO_S`; None when none matches (a dub in another language), or it cannot be measured."""
    frames = resolved.stop - resolved.start
    if line is None or frames / float(resolved.fps) > SUGGEST_UP_TO_S:
        return None
    try:
        matches = channel_matches(resolved.request.video, listed, line, resolved.start, frames, resolved.fps,
                                  ANALYSIS_AUDIO_RATE)
    except MyTalkError:
        return None  # a channel that cannot be decoded: the warning still lists them all
    best = best_match(matches, heard)
    return None if best is None else (best.channel, suggestion_words(best, matches, heard))


def _frame_warning(index: int, warning: str) -> str:
    """A frame's warning in the report's list, led by its frame number once: the tracker's own notes
    already start with it ("frame 30: the face detector did not confirm..."), an engine's do not."""
    lead = f"frame {index}: "
    return warning if warning.startswith(lead) else lead + warning


def _guide_audio(resolved: ResolvedRequest, sound: SoundStream) -> SpooledAudio | None:
    """The clip's own audio over the range (from `sound`'s stream, only the channels `--guide-channels` picked
    when it did), mono at the analysis rate, or None with `--guide none` or when it has none. In a scratch file
    like the line: only the guide driver's alignment reads it, whole, while it plans (`AudioSource.mono_at`), and
    a ten-minute range's guide is 38 MB that the render does not need."""
    if resolved.request.guide == "none" or sound.index is None:
        return None
    offset = Fraction(resolved.start) / resolved.fps
    pick = resolved.guide_pick
    return decode_placed_spooled(resolved.request.video, ANALYSIS_AUDIO_RATE, num_frames=resolved.stop - resolved.start,
                                 fps=resolved.fps, line_offset_s=offset, channels=1,
                                 folder=UserDirs.ensure(user_dirs().scratch), stream_index=sound.index,
                                 rows=None if pick is None else pick.rows)


def _write_report(temp: Path, target: Path, data: dict[str, Any]) -> None:
    """The report's bytes into its staged temporary file (put in place by the commit step)."""
    try:
        # Streamed to the file as it is encoded: `json.dumps` of a ten-minute range's report held 35 MB of
        # pieces before joining them, the largest thing left at the end of a long job. The same bytes.
        with temp.open("w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
    except OSError as error:
        raise OutputError(f"cannot write the report {target}: {describe_os_error(OSError(error.errno, error.strerror))}") from None


def _identities(paths: list[Path]) -> dict[Path, FileIdentity]:
    """Identity of each input that exists now; missing ones are reported by the probe that follows."""
    found: dict[Path, FileIdentity] = {}
    for path in paths:
        try:
            found[path] = FileIdentity.of(path)
        except OSError:
            pass
    return found


def run_sync(
    request: SyncRequest,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    on_frame: FrameHook | None = None,
    *,
    journal: Path | None = None,
    plan_only: bool = False,
    phone_workers: PhoneWorkers | None = None,
    vouch_inputs: bool = True,
    clip_probes: ClipProbes | None = None,
) -> SyncResult:
    """Render frames [in, out) of the clip with the replacement line; return what was written.

    `on_frame(offset, frame)` sees each output frame (an `av.VideoFrame` at source size) after it
    is written; an exception from it fails the job like any other, leaving nothing behind.
    `journal` is the job-journal folder (default: the user's; see `mytalk.core.jobs.journal`).

    `plan_only` stops before the render: the range is tracked and the engine prepared (actor profile,
    the line's phones), all through their caches, and nothing is written but those caches. The panel
    runs it while the editor is still deciding, so that the Preview that follows starts painting at
    once (`commands.prepare`); the result has no frames and its report holds only the timings.

    `phone_workers`: warm phone-timing processes a long-lived caller lends the engine
    (`mytalk.core.audio.phone_workers`); without them the job spawns its own. Either way the same phones.

    `vouch_inputs=False` (a preview): the report's digests are those already remembered, None for the rest,
    so that no input is read whole for a report nobody keeps (`jobs.input_hashes`).

    `clip_probes`: a long-lived caller's probes of its clips (`ClipProbes`): the clip is probed only when the
    file is not the one probed there, and the probe is kept there for the next job.
    """
    timer = StageTimer()
    began = time.perf_counter()
    identities = _identities([request.video, request.audio])
    with timer.stage("probe"):
        if clip_probes is None:
            resolved = resolve_request(request)
        else:
            resolved = clip_probes.resolve(request, identities.get(request.video))
    video = resolved.info.video
    assert video is not None
    inputs = list(dict.fromkeys([request.video, request.audio] + [ref.path for ref in resolved.references]))
    identities |= {path: identity for path, identity in _identities(inputs).items() if path not in identities}
    # The path first: `-o renders/` is a folder, which says more than "unsupported extension".
    check_output_path(request.output, inputs)
    if request.report is not None:
        check_output_path(request.report, inputs + [request.output])
    codec = request.codec or default_codec_for(request.output, video)
    check_codec_container(codec, request.output, video)
    engine = create_engine(request.engine or default_engine(), phone_workers)

    with timer.stage("audio"):
        # The line's own sound, by the clip's rule: a line recorded with an unplugged first input is heard.
        line_sound = clip_sound_stream(request.audio, what="line")
        line_pick = line_channel_pick(request)  # after the line is known to be a file with sound
        if line_pick is not None:
            line_sound = SoundStream(line_pick.stream_index)
        line = _line_audio(resolved, line_sound, line_pick)
        line_info, line_peak = probe(request.audio), peak_level(line)  # each read once, for both line checks
        _check_line_reaches_range(resolved, line_peak, line_info)
        # Which stream is the clip's own sound: not an unplugged camera input's silent first stream.
        if resolved.guide_pick is not None:
            sound = SoundStream(resolved.guide_pick.stream_index)  # the stream of the actor's microphone
        else:
            sound = clip_sound_stream(request.video) if resolved.info.audio else SoundStream(None)
        guide = _guide_audio(resolved, sound)
    job = EngineJob(
        video=resolved.info,
        start=resolved.start,
        stop=resolved.stop,
        handles=request.handles,
        line=line,
        guide=guide,
        guide_mode=request.guide,
        references=resolved.references,
        settings=resolved.settings,
        line_origin=LineOrigin.picked(Path(request.audio), resolved.line_offset_s, line_pick),
        sound_stream=sound.index,
    )
    check_cancelled(is_cancelled, "preparation")
    feed = None
    with timer.stage("prepare"), ExitStack() as stack:
        # Settings and models are checked before any tracking, so a missing model fails at once;
        # the range is tracked once here for whichever engine paints it (`engines.tracking`).
        engine.check(job)
        tracked = None
        wait = ready_now
        from mytalk.core.engines.tracking import range_rows

        first, last = range_rows(job)
        # A short range decoded to track it is kept and painted from memory (`FrameStash`).
        stash = FrameStash(first, last)
        # The line's phones are timed in a process of their own while the actor is learned and the range
        # tracked, when the engine may read them (`line_aside`); the plan waits for it and finds them
        # cached. It ends with this stage: the plan, made here, is the last that reads them.
        line_timing_aside = getattr(engine, "line_timing_aside", None)
        aside = line_timing_aside(job) if line_timing_aside is not None else None
        if aside is not None:
            stack.callback(aside.close)
        if engine.needs_tracking:
            from mytalk.core.engines.track_feed import stream_range, streams
            from mytalk.core.engines.tracking import cached_range, track_range, tracking_cached
            from mytalk.core.face.tracker import STAGE as TRACKING_STAGE
            from mytalk.core.face.tracker import load_face_stack

            # A range inside a reference the engine learns the actor from is read from that reference's
            # tracking, once the actor is learned (`StagedEngine.reference_tracking`); otherwise it is
            # tracked on its own (or found in the cache).
            reference_tracking = getattr(engine, "reference_tracking", None)
            # The range's tracking starts the job's progress even when it comes after the actor's learning:
            # its count (the range and its handles) is what the runtime's whole-job ETA adds the render for.
            # The face models are loaded first when the job will track (an import cannot be cancelled): from
            # the first progress event on, a cancel stops the job within a frame.
            if not tracking_cached(job):
                load_face_stack()
            progress(0, last - first, TRACKING_STAGE)
            tracked = reference_tracking(job, progress, is_cancelled) if reference_tracking is not None else None
            if tracked is None:
                tracked = cached_range(job)
            if tracked is not None:
                progress(tracked.found_rows.size, tracked.found_rows.size, "face tracking")
            elif streams(job):
                # A long range: tracked on a thread of its own while the engine plans and paints behind it.
                feed = stream_range(job, is_cancelled)
                tracked = feed.tracked
                stream = feed

                def wait(rows: int) -> None:
                    stream.wait(rows, is_cancelled, progress)
            else:
                tracked = track_range(job, progress, is_cancelled, on_frame=stash.keep)
        try:
            engine.prepare(job, tracked, progress, is_cancelled, wait=wait)
        except BaseException:
            if feed is not None:
                feed.close(finished=False)
            raise
        # The mono mixes served the analyses of the line (voice activity, phones, features), all made while
        # planning, as did the guide's for its alignment; rendering reads the line by windows. A ten-minute
        # line's 16 kHz mix is 38 MB, and so is a guide's.
        line.forget_mixes()
        if guide is not None:
            guide.forget_mixes()
    if plan_only:
        if feed is not None:
            feed.close(finished=True)  # the whole range and its handles tracked, its cache entry written
        _settle(engine)
        return SyncResult(request.output, 0, line.num_samples, {"timings_s": timer.seconds})

    # The report's digests: an input never hashed is hashed beside the render, from its first frame on.
    input_hashes = InputHashes(inputs, identities, is_cancelled, hash_unknown=vouch_inputs)
    try:
        total = last - first
        records: list[FrameRecord] = []
        with StagedOutputs(journal) as staged:
            writer = VideoWriter(
                request.output, codec=codec, source=video, audio=line, inputs=inputs,
                proxy_height=PREVIEW_PROXY_HEIGHT if request.quality == "preview" or request.proxy else None,
                temp_path=staged.stage(request.output), first_frame=resolved.start,
            )
            try:
                with timer.stage("render"), FrameReader(request.video, resolved.info) as reader:
                    # Decoded on a thread of its own, a few frames ahead: decode, paint (the engine's
                    # workers) and encode (here) overlap on the two cores.
                    # Or, when tracking has just decoded a short range, taken from what it kept.
                    from_stash = stash.complete
                    frames = (stash.frames(resolved.start, resolved.stop) if from_stash
                              else prefetched(reader.frames(resolved.start, resolved.stop, request.handles), name="decode"))
                    try:
                        for done, rendered in enumerate(engine.render(frames, progress, is_cancelled), start=1):
                            check_cancelled(is_cancelled, f"rendering frame {rendered.index}")
                            if rendered.in_range:
                                writer.write(rendered.frame)
                                if not records:  # how long an editor waits for the first frame
                                    timer.seconds["to_first_frame"] = time.perf_counter() - began
                                    input_hashes.start()
                                records.append(rendered.record)
                                if on_frame is not None:
                                    on_frame(len(records) - 1, rendered.frame)
                            progress(done, total, "render")
                    finally:
                        frames.close()  # the decoding thread stops before the reader closes
                    if feed is not None:
                        feed.close(finished=True)  # the range's last handles tracked, its cache entry written
                    _settle(engine)
                    expected = resolved.stop - resolved.start
                    if len(records) != expected:
                        raise RuntimeError(f"engine {engine.name} produced {len(records)} of {expected} frames")
                check_cancelled(is_cancelled, "muxing")
                with timer.stage("mux"):
                    writer.close()
            except BaseException:
                writer.abort()
                raise

            with timer.stage("hash"):
                # Only for the identities seen before the job read the files: see the module docstring.
                hashes = input_hashes.result()
            job_warnings = _job_warnings(resolved, line_peak, line_info, codec, line_sound, writer.aspect_kept,
                                          writer.fields_tagged, line_pick, line)
            report = build_report(resolved, engine_name=engine.name, engine_version=engine.version, codec=codec,
                                  records=records, line=line, job_warnings=job_warnings,
                                  engine_report=engine.report(), hashes=hashes, sound=sound, line_sound=line_sound,
                                  line_pick=line_pick,
                                  timings=timer.seconds, range_reads=2 if feed is not None else stash.range_reads(from_stash))
            if request.report is not None:
                with timer.stage("report"):
                    _write_report(staged.stage(request.report), request.report, report)
            check_cancelled(is_cancelled, "saving")
            with timer.stage("commit"):
                staged.commit()
        return SyncResult(request.output, len(records), line.num_samples, report, tuple(job_warnings))
    except BaseException:
        input_hashes.stop()  # within 4 MB: a failed job reports nothing
        if feed is not None:
            feed.close(finished=False)  # the tracker stops at its next frame and caches nothing
        raise


def _settle(engine: Any) -> None:
    """Wait for the work the engine deferred past the first frame (a profile it learned, being saved into
    the cache), so the next job finds it; an engine that defers nothing has no `settle`."""
    settle = getattr(engine, "settle", None)
    if settle is not None:
        settle()


def build_report(
    resolved: ResolvedRequest,
    *,
    engine_name: str,
    engine_version: str,
    codec: str,
    records: list[FrameRecord],
    line: AudioSource,
    job_warnings: list[str],
    engine_report: dict[str, Any],
    hashes: dict[str, str | None],
    timings: dict[str, float],
    range_reads: int | None = None,
    sound: SoundStream | None = None,
    line_sound: SoundStream | None = None,
    line_pick: ChannelPick | None = None,
) -> dict[str, Any]:
    """The JSON report: enough to reproduce the render and to audit every frame. `sound`, `line_sound`: which
    stream of the clip and of the line was read as its own sound (absent: not known to the caller)."""
    request = resolved.request
    tracked = [r for r in records if r.face_found is not None]
    faceless = [r.index for r in tracked if not r.face_found]
    warnings = job_warnings + [_frame_warning(r.index, w) for r in records for w in r.warnings]
    return {
        "mytalk_version": __version__,
        "engine": {"name": engine_name, "version": engine_version},
        "inputs": {
            "video": {"path": str(request.video), "sha256": hashes.get(str(request.video)), "probe": resolved.info.to_dict(),
                      **({} if sound is None else {"sound": sound.to_dict()}),
                      **({} if resolved.guide_pick is None else {"channels": resolved.guide_pick.to_dict()})},
            "audio": {"path": str(request.audio), "sha256": hashes.get(str(request.audio)),
                      **({} if line_sound is None else {"sound": line_sound.to_dict()}),
                      **({} if line_pick is None else {"channels": line_pick.to_dict()})},
            "references": [dict(ref.to_dict(), sha256=hashes.get(str(ref.path))) for ref in resolved.references],
        },
        "settings": {**request.to_dict(), "engine": engine_name, "codec": codec, **resolved.settings.to_dict()},
        "range": resolved.range_dict(),
        "output": {
            "path": str(request.output),
            "codec": codec,
            "frames": len(records),
            "audio_rate": line.rate,
            "audio_channels": line.channels,
            "audio_samples": line.num_samples,
        },
        "tracking": {
            "frames_tracked": len(tracked),
            "frames_with_face": len(tracked) - len(faceless),
            "share_with_face": (len(tracked) - len(faceless)) / len(tracked) if tracked else None,
            "faceless_frames": faceless,
            "rejected_detections": rejected_detections(records),
        },
        "warnings": warnings,
        "engine_report": engine_report,
        "timings_s": {name: round(value, 4) for name, value in timings.items()},
        **({} if range_reads is None else {"range_reads": range_reads}),
        "frames": [record.to_dict() for record in records],
    }
