"""Which of a clip's own channels says the replacement line's words: the channel to suggest for `--guide-channels`.

A camera file's inputs are often untitled ("1, 2, 3, 4"), so a warning that only lists them leaves the editor
to listen to each. When the line is ADR of the take's words, the guide's own measure answers instead: the line
is aligned to each channel over the range as the guide driver aligns it (`guide_driver.align_line`, the same
features, band and cost), and the channel whose alignment cost is lowest, and under the match threshold, is
the actor's microphone. Another actor's lavalier says other words, and a mix of both costs more than the
microphone alone (`benchmarks/bench_guide_channels.py`). A dub in another language matches no channel, and
nothing is suggested.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from mytalk.core.audio.alignment import GUIDE_COST_THRESHOLD
from mytalk.core.media.audio import AudioSource, decode_placed, picture_start_in_audio_s, place_line
from mytalk.core.media.channel_pick import SoundChannel

SUGGEST_UP_TO_S = 60.0
"""Ranges longer than this get no suggestion: each channel is decoded over the range and aligned to the line
(a 4 s range's four channels took well under a second), and a line runs seconds, not minutes."""


@dataclass(frozen=True)
class ChannelMatch:
    """How closely the line's words align to one channel of the clip over the range (0: the same sound)."""

    channel: SoundChannel
    cost: float

    @property
    def matched(self) -> bool:
        return self.cost < GUIDE_COST_THRESHOLD


def channel_matches(video: Path, channels: list[SoundChannel], line: AudioSource, start: int, num_frames: int,
                    fps: Fraction, rate: int) -> list[ChannelMatch]:
    """The line (placed on the range, as the job holds it) aligned to each channel of `video` over frames
    [start, start + num_frames), each on the picture's clock as the guide driver places the guide, at `rate`
    (the job's guide rate, `sync.ANALYSIS_AUDIO_RATE`)."""
    from mytalk.core.engines.classic.guide_driver import align_line

    line_mono = line.mono_at(rate)
    found: list[ChannelMatch] = []
    for channel in channels:
        guide = decode_placed(video, rate, num_frames=num_frames, fps=fps,
                              line_offset_s=Fraction(start) / fps, channels=1, stream_index=channel.stream_index,
                              rows=(channel.row,))
        picture_start = picture_start_in_audio_s(video, channel.stream_index)
        if picture_start != 0:
            guide = place_line(guide, num_frames=num_frames, fps=fps, line_offset_s=picture_start)
        found.append(ChannelMatch(channel, float(align_line(line_mono, guide, fps, num_frames).cost)))
    return found


def best_match(matches: list[ChannelMatch], heard: list[SoundChannel]) -> ChannelMatch | None:
    """The channel to suggest: the best-matching one, when it matches and is not already all that the job heard;
    None otherwise (nothing voiced to compare is never a match)."""
    ranked = sorted((m for m in matches if m.cost == m.cost), key=lambda m: m.cost)  # NaN != NaN
    if not ranked or not ranked[0].matched or [ranked[0].channel] == heard:
        return None
    return ranked[0]


def suggestion_words(best: ChannelMatch, matches: list[ChannelMatch], heard: list[SoundChannel]) -> str:
    """`best` in a warning's words, beside the cost of what the job heard when that was one channel."""
    heard_costs = [m.cost for m in matches if len(heard) == 1 and m.channel == heard[0] and m.cost == m.cost]
    compared = f"; {heard[0].words}, which it heard: {heard_costs[0]:.2f}" if heard_costs else ""
    return (f"the line's words match channel {best.channel.words} best (alignment cost {best.cost:.2f}, under "
            f"the {GUIDE_COST_THRESHOLD:g} a match needs{compared})")
