"""The user settings schema: one typed `Setting` per entry of `manifest.json`'s `settings`.

The manifest's settings section is the one definition of every user setting (type, allowed
values, default, help). The CLI builds its options from it, the panel its widgets, and the
runtime, the request and the engines check values through `check_values`, so a value is refused
with the same words wherever it is typed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from mytalk.core.errors import UsageError
from mytalk.core.settings.fields import is_number, one_of, text
from mytalk.core.settings.problems import Problem, article, describe, did_you_mean

__all__ = [
    "SETTING_TYPES",
    "Setting",
    "SettingsTable",
    "check_values",
    "defaults",
    "value_problem",
    "with_defaults",
]

SETTING_TYPES: tuple[str, ...] = ("string", "number", "integer", "boolean")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*\Z")

SettingType = Literal["string", "number", "integer", "boolean"]


def _range_words(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum} and {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def value_problem(
    type_name: str, enum: Sequence[Any] | None, minimum: float | None, maximum: float | None, value: Any
) -> str | None:
    """Why `value` does not fit a setting's schema, phrased as a fix; None when it fits."""
    type_ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": is_number(value),
    }.get(type_name, False)
    if not type_ok:
        return f"must be {article(type_name)} {type_name} (got {describe(value)})"
    if enum is not None and value not in enum:
        return f"must be one of {list(enum)!r} (got {value!r}){did_you_mean(value, [str(e) for e in enum])}"
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        return f"must be{_range_words(minimum, maximum)} (got {value!r})"
    return None


class Setting(BaseModel):
    """One user setting: a JSON-schema-like type, its allowed values, its default and its help."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Annotated[SettingType, one_of(SETTING_TYPES)] = Field(description=f"one of {list(SETTING_TYPES)}")
    default: Any = Field(description="a value allowed by the setting's own type, enum and range")
    description: Annotated[str, text("one sentence for the tooltip")] = Field(
        description="one sentence for the tooltip"
    )
    enum: tuple[Any, ...] | None = None
    # Bounds stay the JSON numbers written (0 for an integer, 0.0 for a number): messages quote them.
    minimum: Any = None
    maximum: Any = None
    _name: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        """The setting's key in the manifest (`openness`)."""
        return self._name

    @model_validator(mode="after")
    def _consistent(self) -> Setting:
        """The schema must make sense, and the default must pass it: it is what users get untouched."""
        kind = self.type
        if self.enum is not None:
            if kind == "boolean":
                raise Problem("boolean settings take no 'enum'; remove it", at=("enum",))
            if not self.enum:
                raise Problem("must be a non-empty array of allowed values (got array)", at=("enum",))
            for index, item in enumerate(self.enum):
                problem = value_problem(kind, None, None, None, item)
                if problem:
                    raise Problem(problem, at=("enum", index))
            if len({json.dumps(item) for item in self.enum}) != len(self.enum):
                raise Problem("lists a value twice; remove the duplicate", at=("enum",))
        for bound in ("minimum", "maximum"):
            raw = getattr(self, bound)
            if raw is None:
                continue
            if kind not in ("number", "integer"):
                raise Problem(f"only number and integer settings take a {bound}; remove it", at=(bound,))
            if value_problem(kind, None, None, None, raw):
                raise Problem(f"must be {article(kind)} {kind} (got {describe(raw)})", at=(bound,))
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise Problem(
                f"must not exceed maximum {self.maximum} (got {self.minimum}); swap them", at=("minimum",)
            )
        problem = self.problem(self.default)
        if problem:
            raise Problem(problem, at=("default",))
        return self

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed for this setting, phrased as a fix; None when it is fine."""
        return value_problem(self.type, self.enum, self.minimum, self.maximum, value)

    def allowed(self) -> str:
        """The allowed values in words, for error messages, help texts and tooltips."""
        if self.enum is not None:
            return f"one of {list(self.enum)!r}"
        return f"{article(self.type)} {self.type}{_range_words(self.minimum, self.maximum)}"

    def coerce(self, value: Any) -> Any:
        """A valid value in the setting's one Python type: numbers are floats even when typed as 1."""
        return float(value) if self.type == "number" else value

    @property
    def default_value(self) -> Any:
        """The default in the setting's Python type."""
        return self.coerce(self.default)


def _named(table: dict[str, Setting]) -> Mapping[str, Setting]:
    """Names must be identifiers (they become CLI flags and keyword arguments); the table is read-only."""
    for name, setting in table.items():
        if not _IDENTIFIER.match(name):
            raise Problem("setting names must be lower-case identifiers such as 'mask_mode'", at=(name,))
        setting._name = name
    return MappingProxyType(table)


SettingsTable = Annotated[dict[str, Setting], AfterValidator(_named)]
"""`manifest.json`'s `settings`: setting name -> `Setting`, in file order, read-only once validated."""


def defaults(settings: Mapping[str, Setting]) -> dict[str, Any]:
    """Every setting's default, in manifest order."""
    return {name: setting.default_value for name, setting in settings.items()}


def check_values(settings: Mapping[str, Setting], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check user values against the schema and return them in their settings' Python types.

    Every bad value is reported at once, one `setting 'name': …` line each, in one `UsageError`:
    a user who fixes one should not have to run again to discover the next.
    """
    problems: list[str] = []
    checked: dict[str, Any] = {}
    for name, value in values.items():
        setting = settings.get(name)
        if setting is None:
            problems.append(
                f"setting {name!r}: unknown setting; known settings: {', '.join(settings)}"
                f"{did_you_mean(name, list(settings))}"
            )
            continue
        problem = setting.problem(value)
        if problem:
            problems.append(f"setting {name!r}: {problem}")
            continue
        checked[name] = setting.coerce(value)
    if problems:
        raise UsageError("\n".join(problems))
    return checked


def with_defaults(settings: Mapping[str, Setting], values: Mapping[str, Any]) -> dict[str, Any]:
    """`check_values`, merged over every default: the complete settings of one render."""
    return {**defaults(settings), **check_values(settings, values)}


def check_attributes(settings: Mapping[str, Setting], holder: object, names: Iterable[str]) -> None:
    """Check the attributes `names` of `holder` (an engine's settings object) through the schema.

    Engines call this on the settings they honour, so that code which builds engine settings
    directly (benchmarks, tests) meets the same ranges as the CLI, the runtime and the panel.
    """
    check_values(settings, {name: getattr(holder, name) for name in names if hasattr(holder, name)})
