"""Problem messages in MyTalk's words, and the translation of pydantic's errors into them.

pydantic checks the structure of `manifest.json`; its own messages ("Input should be a valid
string") name neither the JSON path nor the fix. Every problem is therefore reported as one line,
`<file>: <json.path>: <what is wrong and how to fix it>`, built here from pydantic's error list.
Validators raise `Problem` to word their own message (and to point below the value they check);
the built-in error types that the manifest can hit are worded in `_builtin_message`.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

__all__ = [
    "Problem",
    "article",
    "describe",
    "did_you_mean",
    "join_path",
    "problem_lines",
]

Loc = tuple[str | int, ...]

# Checked in this order because bool is an int and a decoded object is a dict subclass.
_JSON_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (tuple, "array"),
    (dict, "object"),
)


class Problem(ValueError):
    """A validator's finding: `message` is the fix in words, `at` the path below the checked value.

    A model-level check (a setting's default outside its own range) is run by pydantic on the
    whole setting, but the user must be told which key to change: `at=("default",)`.
    """

    def __init__(self, message: str, at: Loc = ()) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


def describe(value: Any) -> str:
    """A JSON type name plus the value, e.g. "string '1.0'", for the 'got …' part of messages."""
    if value is None:
        return "null"
    name = next(
        (json_name for kind, json_name in _JSON_TYPE_NAMES if isinstance(value, kind)), type(value).__name__
    )
    return name if isinstance(value, dict | list | tuple) else f"{name} {value!r}"


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def did_you_mean(key: str, choices: Sequence[Any] | Mapping[str, Any]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''. Words under 4 letters get no guess:
    'gpu' is closer to 'cpu' than to 'cuda', and a wrong guess is worse than the list of choices."""
    if not isinstance(key, str) or len(key) < 4:
        return ""
    lowered = {str(c).lower(): str(c) for c in choices}
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[match[0]]!r}?" if match else ""


def join_path(loc: Loc) -> str:
    """`('hosts', 2, 'app')` -> `hosts[2].app`, the path a user finds in the JSON file."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _unwrap(annotation: Any) -> Any:
    """The type under `Annotated[...]` and `X | None`."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_at(root: Any, loc: Loc) -> type[BaseModel] | None:
    """The model class found by following `loc` from `root` through fields, dicts and arrays."""
    current = _unwrap(root)
    for part in loc:
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = _unwrap(field.annotation)
        elif origin in (dict, Mapping, typing.get_origin(Mapping[str, Any])):
            current = _unwrap(typing.get_args(current)[1])
        elif origin in (tuple, list):
            current = _unwrap(typing.get_args(current)[0])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_at(root: Any, loc: Loc) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    parent = _model_at(root, loc[:-1])
    if parent is None or not loc:
        return parent, None
    return parent, parent.model_fields.get(str(loc[-1]))


def _missing_hint(field: FieldInfo | None) -> str:
    """What to write for a missing key: its choices or its description."""
    if field is None:
        return ""
    for meta in field.metadata:
        choices = getattr(getattr(meta, "func", None), "choices", None)
        if choices is not None:
            return f"one of {list(choices)!r}"
    return field.description or ""


def _builtin_message(error: Mapping[str, Any], root: Any) -> str:
    """Our words for the pydantic error types a JSON manifest can produce."""
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    if kind == "missing":
        hint = _missing_hint(_field_at(root, loc)[1])
        return f"missing required key; add it ({hint})" if hint else "missing required key; add it"
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        allowed = list(parent.model_fields) if parent is not None else []
        key = str(loc[-1])
        hint = did_you_mean(key, allowed)
        if hint:
            return f"unknown key {key!r}{hint}"
        return f"unknown key {key!r}; remove it (allowed keys: {', '.join(allowed)})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be an object (got {describe(value)})"
    if kind in ("tuple_type", "list_type"):
        return f"must be an array (got {describe(value)})"
    if kind == "string_type":
        return f"must be a string (got {describe(value)})"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"must be an integer (got {describe(value)})"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a number (got {describe(value)})"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false (got {describe(value)})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(error.get("ctx", {}).items()), ("", ""))
        sign = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}.get(bound[0], bound[0])
        type_name = "integer" if isinstance(value, int) else "number"
        return f"must be {article(type_name)} {type_name} {sign} {bound[1]} (got {describe(value)})"
    # Anything else is a bug in a validator here, not in the user's file; say so plainly.
    return re.sub(r"^Value error, ", "", str(error.get("msg", "is not valid")))


def problem_lines(error: ValidationError, root: Any, label: str, prefix: Loc = ()) -> list[str]:
    """One `<label>: <json.path>: <message>` line per error, in pydantic's (the file's) order.

    `root` is the model or type that was validated (for allowed keys and missing-key hints);
    `prefix` is where that value sits in the file (the settings table sits at `settings`).
    """
    lines: list[str] = []
    for item in error.errors():
        cause = item.get("ctx", {}).get("error") if item["type"] == "value_error" else None
        loc = tuple(item["loc"])
        if isinstance(cause, Problem):
            message, loc = cause.message, loc + cause.at
        elif isinstance(cause, ValueError):
            message = str(cause)
        else:
            message = _builtin_message(item, root)
        line = f"{label}: {join_path(prefix + loc) or '(top level)'}: {message}"
        if line not in lines:
            lines.append(line)
    return lines
