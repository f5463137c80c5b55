"""Engines behind one interface, created by name so that heavy imports happen only on use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mytalk.core.engines.base import Engine
from mytalk.core.errors import UsageError

if TYPE_CHECKING:
    from mytalk.core.audio.phone_workers import PhoneWorkers

# name -> "module:class"; imported lazily so that `copy` never pays for torch or mediapipe.
ENGINES: dict[str, str] = {
    "copy": "mytalk.core.engines.copy:CopyEngine",
    "classic": "mytalk.core.engines.classic.engine:ClassicEngine",
    "mytalk": "mytalk.core.engines.mytalk.engine:MyTalkEngine",
    "classic-neural": "mytalk.core.engines.mixed:ClassicMotionNeuralAppearance",
    "neural-classic": "mytalk.core.engines.mixed:NeuralMotionClassicAppearance",
}

PLANNED_ENGINES: tuple[str, ...] = ()
"""Engines of the design that this version does not ship yet: named in errors, never faked."""



def default_engine() -> str:
    """The engine a request without one gets: the manifest's default (`classic`, the embedded one;
    `copy` is a diagnostic and never the default). Read from the settings schema, not copied here."""
    from mytalk.core.settings import shipped_settings

    return str(shipped_settings()["engine"].default_value)


def available_engines() -> list[str]:
    return sorted(ENGINES)


def engine_spec(name: str) -> str:
    """The `module:class` of engine `name`, without importing it; UsageError lists the valid names."""
    spec = ENGINES.get(name)
    if spec is None and name in PLANNED_ENGINES:
        raise UsageError(
            f"engine {name!r} is not available in this version yet; available: {', '.join(available_engines())} "
            f"(use --engine copy for a conform check)"
        )
    if spec is None:
        raise UsageError(f"unknown engine {name!r}; choose one of: {', '.join(available_engines())}")
    return spec


def create_engine(name: str, phone_workers: PhoneWorkers | None = None) -> Engine:
    """Instantiate an engine by its CLI name; UsageError lists the valid names. `phone_workers`: warm
    phone-timing processes a long-lived caller (the runtime) lends the engine's jobs, when it times phones
    (`StagedEngine.lend_phone_workers`)."""
    module_name, _, class_name = engine_spec(name).partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class()
    lend = getattr(engine, "lend_phone_workers", None)
    if lend is not None and phone_workers is not None:
        lend(phone_workers)
    return engine
