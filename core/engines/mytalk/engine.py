"""`--engine mytalk`: the paper's two stages behind the engine interface.

A composition of two stages (`mytalk.core.engines.stages`):

- `DiffusionMotion` (`motion_stage.py`), stage 1: the trained models (`--actor NAME`'s fine-tune,
  else `base`; found before any other work, so a missing model fails at once with one line that
  says how to train one), the actor's reference bank (the fine-tuned actor's bank, a classic actor
  profile's appearance index, the `--reference` ranges, or else the range's own pictures), and
  `SpeechToLandmarkPipeline`: the line becomes mouth and jaw landmarks for every frame;
- `GeneratorAppearance` (`appearance_stage.py`), stage 2: per frame the K reference lips nearest the
  planned mouth, and `MouthGenerationPipeline` paints the mouth region in batches (`appearance_stage.BATCH_SIZE`).

Tracking (range and handles, cached) is done once by the job. Frames without a usable face and handle
frames pass through as the very same object.

Settings honoured: device (auto|cpu|cuda), mask mode (auto = lower-face, since the jaw moves;
mouth), quality (preview: alpha blend), smoothing (temporal Gaussian on the generated points,
0 to 1 frame), openness (scales generated motion about the actor's mean mouth), actor; transcript
and language with a phone-fed model.
"""

from __future__ import annotations

from typing import ClassVar

from mytalk.core.engines.mytalk.appearance_stage import GeneratorAppearance
from mytalk.core.engines.mytalk.motion_stage import DiffusionMotion
from mytalk.core.engines.stages import AppearanceStage, MotionStage, StagedEngine


class MyTalkEngine(StagedEngine):
    """Speech → landmarks (diffusion) → mouth pixels (FusionNet generator), pasted by the compositor."""

    name: ClassVar[str] = "mytalk"
    version: ClassVar[str] = "1.0"

    @classmethod
    def create_stages(cls) -> tuple[MotionStage, AppearanceStage]:
        return DiffusionMotion(), GeneratorAppearance()
