"""The footage an engine learns the actor from when the user names none: a bounded sample of the clip.

Learning the actor tracks every reference frame and times the footage's own phones, about 0.3 s of
two-core time per second of footage. Learning from the whole clip made the first preview and the first
commit of a long clip wait for all of it: about 19 s for a minute, minutes for an interview. So a clip
up to `WHOLE_CLIP_SECONDS` long is learned from whole (every shared clip, and most takes), and a longer
one from `SAMPLE_SECONDS` of it in windows of `WINDOW_SECONDS`, spread evenly over it, so the actor is
seen in every part of the clip (its poses, its light) and the cost stops growing with the clip. The
gap between the two thresholds keeps a clip just over the first from being learned from nearly all of
itself in pieces.

The sample depends only on the clip, never on the marks: the panel learns it the moment a clip is open,
every preview and commit of that clip finds it in the cache, and a slip or a new range never changes
what the actor was learned from. A range outside the sample is tracked on its own, as a range outside
any `--reference` always was. A sample that shows no face gives way to the whole clip
(`whole_clip_instead`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from mytalk.core.engines.base import ReferenceRange

WHOLE_CLIP_SECONDS = 30.0
"""Clips up to this long are learned from whole."""

SAMPLE_SECONDS = 20.0
"""Footage a longer clip is learned from: `SAMPLE_SECONDS / WINDOW_SECONDS` windows, spread over it."""

WINDOW_SECONDS = 5.0
"""Length of one window of the sample: long enough for the footage's phones to be recognised in
context (a line's utterances are timed in pieces of at most 4 s for the same reason).

Four windows of 5 s rather than five of 4 s (before session 36): the same 20 s of footage, in a count that
the tracking threads share evenly (`mytalk.core.face.range_pool`: one per usable core, at most four). Five
windows left one window tracked alone at the end, with the other threads' cores idle: on two cores a third
round of tracking where two suffice, on four or more a second round where one suffices. Measured on this
project's two-core machine, the 60 s clip's cold first preview (warmed up, interleaved, three pairs): 3.85,
3.85, 3.99 s with five windows against 3.69, 3.72, 3.82 s with four (`docs/panel.md`, session 36)."""


def spread_windows(start: int, stop: int, fps: Fraction, *, budget_s: float = SAMPLE_SECONDS,
                   window_s: float = WINDOW_SECONDS, whole_s: float | None = None) -> list[tuple[int, int]]:
    """Frame spans [a, b) sampling [start, stop): the whole span when it is at most `whole_s` long (default
    `budget_s`), else `budget_s // window_s` windows of `window_s`, their centres evenly spaced, in order and disjoint
    (windows that would touch or overlap are joined into one span of their total length).

    Spans are whole frames, so the same clip always gives the same sample (the cache key of what was
    learned)."""
    if stop <= start:
        raise ValueError(f"empty span [{start}, {stop})")
    budget = max(1, round(budget_s * float(fps)))
    whole = max(budget, round((budget_s if whole_s is None else whole_s) * float(fps)))
    if stop - start <= whole:
        return [(start, stop)]
    width = max(1, min(budget, round(window_s * float(fps))))  # a budget under one window is one window of it
    count = max(1, int(budget_s // window_s))  # in seconds: at 29.97 fps 599 frames // 120 would give 4
    length = stop - start
    spans: list[tuple[int, int]] = []
    for i in range(count):
        centre = start + (2 * i + 1) * length / (2 * count)
        a = min(max(start, round(centre - width / 2)), stop - width)
        b = min(stop, max(a, spans[-1][1] if spans else a) + width)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], b)  # touching windows are one span: no phone is cut at their seam
        else:
            spans.append((a, b))
    return spans


def default_references(video: Path, frame_count: int, fps: Fraction) -> tuple[ReferenceRange, ...]:
    """What an engine learns the actor from without `--reference`: the whole clip, or a sample of a long one."""
    spans = spread_windows(0, frame_count, fps, budget_s=SAMPLE_SECONDS, whole_s=WHOLE_CLIP_SECONDS)
    return tuple(ReferenceRange(video, a, b) for a, b in spans)


def whole_clip_instead(references: Sequence[ReferenceRange], video: Path, frame_count: int,
                       fps: Fraction) -> tuple[ReferenceRange, ...] | None:
    """The whole clip, when `references` are its default sample (not the whole clip itself), else None.

    A sample is a few short windows, and a long clip whose actor is on screen only now and then (an
    interview with long cutaways) can show no face in any of them. Whole-clip learning found the actor
    wherever he was, so an engine that finds no actor in the sample learns from the whole clip instead,
    as it did before the sample: slower, never a failure the whole clip would not have had. The choice
    depends only on the clip's content, so a preview and its commit make the same one."""
    default = default_references(video, frame_count, fps)

    def spans(ranges: Sequence[ReferenceRange]) -> list[tuple[Path, int, int]]:
        return [(Path(r.path).resolve(), r.start, r.stop) for r in ranges]  # a relative name is the same clip

    if len(default) < 2 or spans(references) != spans(default):
        return None  # the whole clip already, or footage the user named
    return (ReferenceRange(video, 0, frame_count, references[0].channels),)  # heard through the same pick
