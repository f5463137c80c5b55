"""`--engine classic`: the embedded default. Mouth motion from speech or the guide, mouth pixels from the actor.

A composition of two stages (`mytalk.core.engines.stages`):

- `ClassicMotion` (`motion_stage.py`): the actor's profile (`--actor NAME`, or learned from the
  `--reference` ranges), then the guide's re-timed real mouth, the line's phones planned in the actor's
  own shapes, or the loudness-driven speech regression; openness, smoothing and the mask per frame;
- `RetrievalAppearance` (`appearance_stage.py`): the frame's lower face warped onto the plan, with the
  actor's real opening retrieved from the reference mouths where the plan changes it.

Tracking (range and handles, cached) is done once by the job before the stages run. Frames without a
usable face and handles pass through untouched. Memory does not grow with the range: per frame only the
plan's few hundred numbers are kept, and the reference crops are bounded by the profile.
"""

from __future__ import annotations

from typing import ClassVar

from mytalk.core.engines.classic.appearance_stage import RetrievalAppearance
from mytalk.core.engines.classic.motion_stage import ClassicMotion
from mytalk.core.engines.stages import AppearanceStage, MotionStage, StagedEngine


class ClassicEngine(StagedEngine):
    """Speech-, phone- or guide-driven mouth motion painted with the actor's own reference mouths."""

    name: ClassVar[str] = "classic"
    version: ClassVar[str] = "1.0"

    @classmethod
    def create_stages(cls) -> tuple[MotionStage, AppearanceStage]:
        return ClassicMotion(), RetrievalAppearance()
