"""Where the shipped `manifest.json` is, how it is read, and its settings section as typed models.

The core needs the settings schema (the runtime and the request check values through it) but
must not import the plugin layer, so it reads the settings section itself, with the same
`Setting` model that `mytalk.plugin.manifest` uses for the whole file. Reading is done on first
use and cached: importing this module touches no file.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mytalk.core.errors import ManifestError
from mytalk.core.settings.problems import join_path, problem_lines
from mytalk.core.settings.schema import Setting, SettingsTable

__all__ = ["MANIFEST_FILENAME", "default_manifest_path", "read_manifest_json", "shipped_settings"]

MANIFEST_FILENAME = "manifest.json"


def default_manifest_path() -> Path:
    """Where the shipped `manifest.json` is.

    Installed (wheel): packaged as a resource of `mytalk.resources`. From a source tree or an
    editable install: the canonical file at the repository root, next to `pyproject.toml`.
    """
    searched: list[str] = []
    try:
        resource = importlib.resources.files("mytalk.resources") / MANIFEST_FILENAME
        if isinstance(resource, Path) and resource.is_file():
            return resource
        searched.append(str(resource))
    except ModuleNotFoundError:
        searched.append("package mytalk.resources (not installed)")
    # core/settings/source.py -> the folder that holds core/, which is the repository root.
    source = Path(__file__).resolve().parents[2] / MANIFEST_FILENAME
    if source.is_file():
        return source
    searched.append(str(source))
    raise ManifestError(
        f"{MANIFEST_FILENAME}: not found (looked in {', '.join(searched)}); reinstall mytalk, "
        "or pass the manifest path explicitly"
    )


class _JSONObject(dict[str, Any]):
    """A decoded JSON object that remembers keys given twice (JSON silently keeps the last)."""

    duplicates: tuple[str, ...] = ()


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _JSONObject:
    obj = _JSONObject()
    seen: list[str] = []
    for key, value in pairs:
        if key in obj:
            seen.append(key)
        obj[key] = value
    obj.duplicates = tuple(seen)
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; write a finite number")


def duplicate_key_lines(data: Any, label: str, path: tuple[str | int, ...] = ()) -> list[str]:
    """One line per key written twice in an object of `data` (decoded by `read_manifest_json`)."""
    lines: list[str] = []
    if isinstance(data, dict):
        for key in getattr(data, "duplicates", ()):
            lines.append(
                f"{label}: {join_path((*path, key))}: key {key!r} appears more than once; "
                "JSON keeps only the last, remove the others"
            )
        for key, value in data.items():
            lines += duplicate_key_lines(value, label, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            lines += duplicate_key_lines(value, label, (*path, index))
    return lines


def read_manifest_json(file: Path) -> Any:
    """Decode a manifest file; `ManifestError` names the line and column of a syntax error.

    Objects come back as dicts that remember duplicated keys (see `duplicate_key_lines`); NaN
    and Infinity, which Python's json accepts, are refused.
    """
    label = file.name
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{label}: cannot read {file} ({exc}); check the path") from exc
    try:
        return json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{label}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg}); fix the syntax"
        ) from exc
    except ValueError as exc:
        raise ManifestError(f"{label}: invalid JSON ({exc})") from exc


_TABLE: TypeAdapter[Mapping[str, Setting]] = TypeAdapter(SettingsTable)


def parse_settings(data: Any, label: str = MANIFEST_FILENAME) -> Mapping[str, Setting]:
    """Validate a decoded `settings` section; `ManifestError` lists every problem with its path."""
    try:
        return _TABLE.validate_python(data)
    except ValidationError as error:
        raise ManifestError("\n".join(problem_lines(error, SettingsTable, label, ("settings",)))) from None


def load_settings(path: Path | str) -> Mapping[str, Setting]:
    """The settings schema of the manifest at `path` (a file, or a bundle folder holding one)."""
    file = Path(path)
    if file.is_dir():
        file = file / MANIFEST_FILENAME
    data = read_manifest_json(file)
    lines = duplicate_key_lines(data.get("settings") if isinstance(data, dict) else None, file.name, ("settings",))
    if lines:
        raise ManifestError("\n".join(lines))
    if not isinstance(data, dict) or "settings" not in data:
        raise ManifestError(f"{file.name}: settings: missing required key; add it")
    return parse_settings(data["settings"], file.name)


@functools.cache
def shipped_settings() -> Mapping[str, Setting]:
    """The settings schema of the manifest shipped with mytalk, read once per process."""
    return load_settings(default_manifest_path())
