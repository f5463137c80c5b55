"""Checks of the controls every motion stage reads, with the messages the command line shows.

The settings schema (`manifest.json`) states the ranges for the CLI, the panel and the runtime; a
motion stage checks them again at the start of a job, because the library is also called directly
(benchmarks, the runtime's own requests), and a wrong value must fail before anything is tracked.
"""

from __future__ import annotations

from mytalk.core.engines.base import EngineJob
from mytalk.core.settings import check_attributes, shipped_settings


def check_mask_and_strengths(job: EngineJob) -> None:
    """Mask mode, openness and smoothing, through the settings schema: the CLI's, the runtime's
    and the panel's ranges and words (`setting 'openness': must be between 0.0 and 2.0 (got 2.5)`)."""
    check_attributes(shipped_settings(), job.settings, ("mask_mode", "openness", "smoothing"))
