"""JSON leaf types for pydantic models, each failing with a message that says how to fix it.

pydantic's own scalar checks are lax in ways a hand-edited JSON file must not be: `Literal[1]`
accepts `true` and `1.0`, and a float field accepts the string "1.0". These validators compare
JSON types exactly and word their errors as `must be … (got …)`; `problems.problem_lines` prints
them with the JSON path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import AfterValidator, PlainValidator

from mytalk.core.settings.problems import Problem, describe, did_you_mean

__all__ = ["check_with", "flag", "is_number", "matching", "one_of", "text", "unique_items"]


def is_number(value: Any) -> bool:
    """A finite JSON number; booleans are not numbers even though Python's bool is an int."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _OneOf:
    """Exactly one of `choices`, compared with type: JSON's `true` is not the integer 1."""

    def __init__(self, choices: Sequence[Any]) -> None:
        self.choices = tuple(choices)

    def __call__(self, value: Any) -> Any:
        if not any(type(value) is type(choice) and value == choice for choice in self.choices):
            raise ValueError(
                f"must be one of {list(self.choices)!r} (got {value!r}){did_you_mean(value, self.choices)}"
            )
        return value


def one_of(choices: Sequence[Any]) -> PlainValidator:
    """Validator for a closed list of values (the choices also serve as the missing-key hint)."""
    return PlainValidator(_OneOf(choices))


def _as_text(value: Any, expect: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string (got {describe(value)})")
    if not value.strip():
        raise ValueError(f"must not be empty{'; write ' + expect if expect else ''}")
    return value


def text(expect: str = "") -> PlainValidator:
    """A non-blank string; `expect` says what to write instead of an empty one."""
    return PlainValidator(lambda value: _as_text(value, expect))


def matching(pattern: re.Pattern[str], expect: str) -> PlainValidator:
    """A string matching `pattern`; `expect` words the form, e.g. "a SemVer version such as '0.1.0'"."""

    def check(value: Any) -> str:
        value = _as_text(value, expect)
        if not pattern.match(value):
            raise ValueError(f"must be {expect} (got {value!r})")
        return str(value)

    return PlainValidator(check)


def flag() -> PlainValidator:
    """JSON `true` or `false`, never the string "yes" or the number 1."""

    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false (got {describe(value)})")
        return value

    return PlainValidator(check)


def unique_items(what: str | None = "value") -> AfterValidator:
    """An array without repeats; `what=None` allows it to be empty, else it names what to list."""

    def check(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if what is not None and not items:
            raise Problem(f"must not be empty; list at least one {what}")
        seen: list[Any] = []
        for index, item in enumerate(items):
            if item in seen:
                raise Problem(f"{item!r} is listed twice; remove the duplicate", at=(index,))
            seen.append(item)
        return items

    return AfterValidator(check)


def check_with(problem: Callable[[Any], str | None], *, plain: bool = False) -> AfterValidator | PlainValidator:
    """Wrap a `value -> why not, or None` function as a validator.

    `plain=True` gives it the raw JSON value (no pydantic conversion first: `true` is no size).
    """

    def check(value: Any) -> Any:
        why = problem(value)
        if why:
            raise ValueError(why)
        return value

    return PlainValidator(check) if plain else AfterValidator(check)
