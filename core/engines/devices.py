"""Which torch device an engine or a training run uses, and the precision it computes in there.

Kept apart from training so that an engine that only renders can choose its device without
importing any training code (an import-linter contract holds the engines to that).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from mytalk.core.errors import UsageError

DEVICE_NAMES = ("auto", "cpu", "cuda")
"""What `--device` accepts."""


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` → CUDA when available, else CPU; `cuda` without a GPU is a UsageError.

    Never a hard-coded "cuda": a user without a GPU gets the CPU (or, for an explicit `cuda`,
    a message saying what to pass instead) rather than a CUDA initialisation error.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here; use --device auto or cpu")
    if name not in DEVICE_NAMES:
        raise UsageError(f"--device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA (halves activation memory, tensor cores); nothing on the CPU.

    Only the forward passes run under it; weights and optimizer state stay float32, so a run
    resumed on another device continues from the same numbers.
    """
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()
