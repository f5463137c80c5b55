"""The six protocols of `../shared/docs/evaluation.md`, one module each, and the opt-in closures
protocol of issue #11 (phones of a line with known words: p/b/m closures, f/v, "oo" vs "ee").

Each module has `NAME` and `run(ctx, tool) -> dict` (see `base.py` for the result's shape);
robust also has `run_bad_inputs`, run once per report rather than once per clip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.eval.protocols import adr, closures, dub, preserve, robust, shift, speed
from benchmarks.eval.protocols.base import ClipContext
from benchmarks.eval.tools import Tool

ProtocolFn = Callable[[ClipContext, Tool], dict[str, Any]]

REGISTRY: dict[str, ProtocolFn] = {
    shift.NAME: shift.run,
    adr.NAME: adr.run,
    dub.NAME: dub.run,
    preserve.NAME: preserve.run,
    speed.NAME: speed.run,
    robust.NAME: robust.run,
    closures.NAME: closures.run,
}
