"""The classic actor profile of a job, loaded or learned once and shared by the job's stages.

The classic motion stage reads the profile's speech and phone models, the retrieval appearance stage
its reference mouths; a mixed engine uses only one of them. Either way the profile is loaded (or
learned from the `--reference` ranges, through the profile cache) once per job.
"""

from __future__ import annotations

from pathlib import Path

from mytalk.core.audio.phone_timing import PhoneTimer
from mytalk.core.engines.base import ActorFootage, EngineJob, EngineSettings, ReferenceRange
from mytalk.core.engines.classic.profile import ActorProfile
from mytalk.core.engines.classic.profile_builder import ActorNotInFootage
from mytalk.core.engines.classic.profile_cache import cached_build_profile
from mytalk.core.engines.classic.profile_store import load_profile, require_profile
from mytalk.core.engines.default_reference import whole_clip_instead
from mytalk.core.engines.stages import JobResources
from mytalk.core.engines.tracking import TrackedRange, job_tracker_settings
from mytalk.core.face.tracker import TrackerSettings
from mytalk.core.media.probe import MediaInfo
from mytalk.core.progress import CancelFn, ProgressFn

RESOURCE = "classic-profile"
PHONE_TIMER = "phone-timer"
"""The job's `PhoneTimer`: the actor's own phones and the line's are timed with the same decoders."""


def job_phone_timer(resources: JobResources) -> PhoneTimer:
    """The one phone timer of a job (its pocketsphinx decoders take half a second to load)."""
    timer: PhoneTimer = resources.get(PHONE_TIMER, PhoneTimer)
    return timer


def _learn(video: MediaInfo, references: tuple[ReferenceRange, ...], exclude: tuple[ReferenceRange, ...],
           settings: TrackerSettings, resources: JobResources, progress: ProgressFn,
           is_cancelled: CancelFn) -> tuple[ActorProfile, bool]:
    """(profile, whether it came from the cache) learned from `references`; from the whole clip instead
    when they are the clip's default sample and it shows no actor (`default_reference.whole_clip_instead`),
    with a note in the profile saying so (the report's `profile.notes`)."""
    timer = job_phone_timer(resources)
    probed = {Path(video.path): video}  # the job's own probe: each probe of a transport stream demuxes it whole
    try:
        return cached_build_profile(references, exclude_audio=exclude, tracker_settings=settings,
                                    progress=progress, is_cancelled=is_cancelled, timer=timer,
                                    phone_workers=resources.phone_workers, defer=resources.defer, probed=probed)
    except ActorNotInFootage as error:
        assert video.video is not None
        whole = whole_clip_instead(references, Path(video.path), video.video.frame_count, video.video.fps)
        if whole is None:
            raise
        profile, cached = cached_build_profile(whole, exclude_audio=exclude, tracker_settings=settings,
                                               progress=progress, is_cancelled=is_cancelled, timer=timer,
                                               phone_workers=resources.phone_workers, defer=resources.defer,
                                               probed=probed)
        profile.notes = [*profile.notes, f"the clip's default sample ({len(references)} windows) shows a face in "
                                         f"only {error.with_face} frames: learned from the whole clip instead"]
        return profile, cached


def check_profile_stored(settings: EngineSettings) -> None:
    """`--actor NAME` names a stored profile (UsageError otherwise, as `job_profile` would raise later);
    without one the actor is learned from the footage, which needs nothing installed."""
    if settings.actor:
        require_profile(settings.actor)


def job_profile(job: EngineJob, tracked: TrackedRange, resources: JobResources, progress: ProgressFn,
                is_cancelled: CancelFn) -> tuple[ActorProfile, bool]:
    """(profile, whether it came from the profile cache): `--actor NAME`'s stored profile, or one learned
    from the job's references. Under `--guide none` the sound of the edit range is never learned from,
    even when a reference covers it."""

    def load() -> tuple[ActorProfile, bool]:
        if job.settings.actor:
            return load_profile(job.settings.actor), False
        exclude = (ReferenceRange(Path(job.video.path), job.start, job.stop),) if job.guide is None else ()
        return _learn(job.video, job.references, exclude, tracked.settings, resources, progress, is_cancelled)

    profile, cached = resources.get(RESOURCE, load)
    return profile, cached


def learn_footage_profile(footage: ActorFootage, resources: JobResources, progress: ProgressFn,
                          is_cancelled: CancelFn) -> bool:
    """Learn into the profile cache the profile a job on this footage will ask `job_profile` for; True when
    one was learned or found there, False when nothing can be learned ahead.

    The cache key is the one `job_profile` uses for a guided job with the same references and tracker
    settings (those `tracking.track_range` makes from the face point), so the job's lookup is a hit.
    A stored `--actor` profile needs no learning; an unguided job's profile leaves out the range's own
    sound, and the range is not known yet (`ActorFootage.guided`)."""
    if footage.settings.actor or not footage.guided:
        return False

    def load() -> tuple[ActorProfile, bool]:
        return _learn(footage.video, footage.references, (), job_tracker_settings(footage.settings), resources,
                      progress, is_cancelled)

    resources.get(RESOURCE, load)
    return True
