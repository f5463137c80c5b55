"""The two evaluation settings: `fast` for CI (two clips, short ranges) and `full` for a complete run.

Every number that decides what is measured lives here, so a report names its setting and can be
reproduced. Ranges are in seconds of the clip and converted to frames at each clip's own rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROTOCOLS: tuple[str, ...] = ("shift", "adr", "dub", "preserve", "speed", "robust")
"""The default run: the six protocols of evaluation.md's table."""

OPTIONAL_PROTOCOLS: tuple[str, ...] = ("closures",)
"""Run only when asked for (`--protocols ...,closures`): closures renders every clip twice (with
and without the transcript), which would add about as much as dub to a default run."""

ALL_PROTOCOLS: tuple[str, ...] = PROTOCOLS + OPTIONAL_PROTOCOLS

FAST_CLIPS: tuple[str, ...] = ("retalking_face2_swalwell.mp4", "retalking_face1_man_suit.mp4")
"""Two short clips, one at the odd 22.13 fps rate: together they check frame timing and sync."""

CUTAWAY_CLIP = "wav2lip_pr600_man_720p_cutaway.mov"
"""The clip with a faceless full-screen graphic from 10.6 s to 14.6 s."""

DUB_AUDIO: tuple[str, ...] = (
    "jfk_inaugural_en_16k.wav",
    "hdtf_radio31_en_16k.wav",
    "gfpgan_kimk_speech_en_48k.mp3",
    "retalking_audio1_en_44k.wav",
    "iplap_lecture_en_44k.wav",
)
"""Real speech for the dub protocol, in rotation. The 10 dB-SNR noisy file is left out: it measures
robustness to noise, not sync, and would lower every dub figure for a reason that is not the tool."""

ROBUST_AUDIO = "jfk_inaugural_en_16k.wav"


@dataclass(frozen=True)
class EvalSettings:
    """What one setting measures.

    name: "fast" or "full". default_clips: clip file names used when --clips is not given
    (None = every clip in the media folder). window_s: only the first window_s seconds of each
    clip are used (None = the whole clip). edit_share: the edit range is the last 60 % of the
    window (shift, adr, preserve, speed). shift_s: D, the shift protocol's audio advance (s).
    speed_s: length of the speed protocol's range from the edit range's start (None = all of it).
    robust_s: length of each clip's good robust run, centred in the window (None = whole window).
    faceless_s: the cutaway clip's range for the "stretch without a face" case (s, s).
    codec: output codec of every tool run (lossless, so the tool is measured, not the codec).
    speed_runs: the speed protocol times tool and transcode this many times, alternating, and
    keeps the fastest of each: on a shared machine the minimum is the least disturbed figure.
    tool_timeout_s: one tool run longer than this counts as failed.
    """

    name: str
    default_clips: tuple[str, ...] | None
    window_s: float | None
    robust_s: float | None
    speed_s: float | None
    faceless_s: tuple[float, float]
    edit_share: float = 0.6
    shift_s: float = 0.4
    codec: str = "ffv1"
    speed_runs: int = 3
    tool_timeout_s: float = 1800.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FAST = EvalSettings(
    name="fast",
    default_clips=FAST_CLIPS,
    window_s=5.0,
    robust_s=1.0,
    speed_s=2.0,
    faceless_s=(10.2, 11.2),
    speed_runs=2,
    tool_timeout_s=300.0,
)

FULL = EvalSettings(
    name="full",
    default_clips=None,
    window_s=None,
    robust_s=None,
    speed_s=None,
    faceless_s=(9.6, 15.6),
)

SETTINGS = {"fast": FAST, "full": FULL}


def default_media_dir() -> Path:
    """`../shared/media` beside the repository root (this file is benchmarks/eval/settings.py)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "media"


def select_clips(spec: str | None, settings: EvalSettings, media_dir: Path) -> list[Path]:
    """Clips named by `--clips`: "all", "fast", or comma-separated file names (or stems).

    Raises ValueError naming the missing clip and the folder searched.
    """
    folder = media_dir / "video"
    available = sorted(p for p in folder.glob("*") if p.suffix.lower() in {".mp4", ".mov", ".mkv"}) if folder.is_dir() else []
    if not available:
        raise ValueError(f"no clips in {folder}; pass --media DIR with a video/ folder")
    if spec is None:
        names: tuple[str, ...] | None = settings.default_clips
    elif spec == "all":
        names = None
    elif spec == "fast":
        names = FAST_CLIPS
    else:
        names = tuple(part.strip() for part in spec.split(",") if part.strip())
    if names is None:
        return available
    chosen = []
    for name in names:
        match = [p for p in available if p.name == name or p.stem == name]
        if not match:
            raise ValueError(f"clip {name!r} not found in {folder}; choose from {', '.join(p.name for p in available)}")
        chosen.append(match[0])
    return chosen
