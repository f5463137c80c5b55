"""The learning-rate schedule both training stages follow."""

from __future__ import annotations

import math


def learning_rate(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10 % of `base` at `total` steps.

    A function of the step alone (no scheduler state), so a resumed run sets the same rates.
    """
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
