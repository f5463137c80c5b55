"""Engines that mix the stages of the two built-in ones.

Motion and appearance are separate stages with one plan format (frame pixels), so any motion stage
works with any appearance stage:

- `classic-neural`: the classic engine's motion (the line's phones, the guide's re-timed take, or
  the loudness regression, in the actor's own shapes) painted by the paper's generator. It needs
  trained models, like `mytalk`;
- `neural-classic`: the paper's diffusion motion painted with the actor's own reference mouths by
  retrieval. It needs trained motion models, and learns the actor's mouths from the `--reference`
  ranges (or `--actor`), like `classic`.

They are here, outside both engine packages, because neither engine may import the other.
"""

from __future__ import annotations

from typing import ClassVar

from mytalk.core.engines.classic.appearance_stage import RetrievalAppearance
from mytalk.core.engines.classic.motion_stage import ClassicMotion
from mytalk.core.engines.mytalk.appearance_stage import GeneratorAppearance
from mytalk.core.engines.mytalk.motion_stage import DiffusionMotion
from mytalk.core.engines.stages import AppearanceStage, MotionStage, StagedEngine


class ClassicMotionNeuralAppearance(StagedEngine):
    """Classic motion (phones, guide or loudness) painted by the trained generator."""

    name: ClassVar[str] = "classic-neural"
    version: ClassVar[str] = "1.0"

    @classmethod
    def create_stages(cls) -> tuple[MotionStage, AppearanceStage]:
        return ClassicMotion(), GeneratorAppearance()


class NeuralMotionClassicAppearance(StagedEngine):
    """Diffusion motion painted with the actor's own reference mouths."""

    name: ClassVar[str] = "neural-classic"
    version: ClassVar[str] = "1.0"

    @classmethod
    def create_stages(cls) -> tuple[MotionStage, AppearanceStage]:
        return DiffusionMotion(), RetrievalAppearance()
