"""Audio analysis for the motion drivers: speech features, voice activity, guide alignment, phones.

Everything works on numpy arrays on the source's own frame grid: a function that returns one row
per video frame takes ``fps`` (a `Fraction`, never rounded) and ``num_frames``, and frame ``n``
covers [n/fps, (n+1)/fps) seconds of a track whose sample 0 is the start of frame 0.

Importing this package loads no model: pocketsphinx is imported on the first forced alignment.
"""

from mytalk.core.audio.activity import (
    ActivityParams,
    envelope,
    find_pauses,
    speech_probability,
    voiced_frames,
)
from mytalk.core.audio.alignment import (
    GUIDE_COST_THRESHOLD,
    Alignment,
    GuideDecision,
    PauseEdit,
    RetimedLine,
    align_to_guide,
    decide_guide,
    retime_at_pauses,
)
from mytalk.core.audio.features import (
    SpeakerNormaliser,
    alignment_features,
    frame_features,
    log_mel,
    mel_per_frame,
)
from mytalk.core.audio.phonemes import (
    PHONE_OPENNESS,
    PHONE_VISEME,
    VISEMES,
    ForcedAligner,
    Phone,
    TranscriptWarning,
    force_align,
    openness_prior,
    viseme_coverage,
    visemes_per_frame,
)

__all__ = [
    "GUIDE_COST_THRESHOLD",
    "PHONE_OPENNESS",
    "PHONE_VISEME",
    "VISEMES",
    "ActivityParams",
    "Alignment",
    "ForcedAligner",
    "GuideDecision",
    "PauseEdit",
    "Phone",
    "RetimedLine",
    "SpeakerNormaliser",
    "TranscriptWarning",
    "align_to_guide",
    "alignment_features",
    "decide_guide",
    "envelope",
    "find_pauses",
    "force_align",
    "frame_features",
    "log_mel",
    "mel_per_frame",
    "openness_prior",
    "retime_at_pauses",
    "speech_probability",
    "viseme_coverage",
    "visemes_per_frame",
    "voiced_frames",
]
