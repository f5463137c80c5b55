"""The plugin manifest: static data that is validated on load and imports nothing it names.

Modelled on OpenTimelineIO's plugin manifest and napari's npe2. Hosts (the standalone panel,
the OTIO round-trip, Resolve's script menu, `mytalk validate`) must be able to list and check
the plugin without importing Qt, torch or a host SDK. So `manifest.json` names its callables as
`"module:callable"` strings, and a module is imported only when `resolve_entry_point` is asked
for it. Validation collects every problem before it raises: a user who fixes one line should
not have to run the check again to discover the next one. Each problem is one line that names
the file, the JSON path and the fix.

This module imports only the standard library and `mytalk.core.errors`.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import importlib.resources
import json
import keyword
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from mytalk.core.errors import ManifestError, UsageError

__all__ = [
    "CAPABILITIES",
    "EntryPoints",
    "Host",
    "Inputs",
    "Manifest",
    "ModelEntry",
    "OutputPreset",
    "Permissions",
    "Runtime",
    "Setting",
    "check_entry_points",
    "default_manifest_path",
    "load_manifest",
    "parse_manifest",
    "resolve_entry_point",
    "validate_command",
    "validate_settings",
]

MANIFEST_FILENAME = "manifest.json"
SUPPORTED_MANIFEST_VERSIONS: tuple[int, ...] = (1,)
INTEGRATIONS: tuple[str, ...] = ("standalone", "file-roundtrip", "script")
DEVICES: tuple[str, ...] = ("cuda", "cpu")
# The runtime is reached by a thin host shim over a local pipe; anything that listens on a
# network interface would turn a video-editing plugin into a network service.
IPC_KINDS: tuple[str, ...] = ("pipe",)
NETWORK_ACCESS: tuple[str, ...] = ("none",)
WRITE_SCOPES: tuple[str, ...] = ("output-folder", "user-cache", "user-data")
# A closed list, so that a typo ('lipsnyc') is caught with a suggestion instead of silently
# advertising a capability no host asks for. Add new capabilities here.
CAPABILITIES: tuple[str, ...] = (
    "lipsync",
    "mouth-only-compositing",
    "preview",
    "commit",
    "timeline-roundtrip",
)
SETTING_TYPES: tuple[str, ...] = ("string", "number", "integer", "boolean")
OUTPUT_USES: tuple[str, ...] = ("preview", "final")
ENTRY_POINT_KEYS: tuple[str, ...] = ("panel", "commands", "cli", "runtime")
REQUIRED_COMMANDS: tuple[str, ...] = ("preview", "commit", "cancel")
# Drop-frame timecode exists only for the NTSC rates; '25DF' is a typo, not a format.
DROP_FRAME_RATES: tuple[str, ...] = ("29.97", "59.94")

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_REVERSE_DNS = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z](?:[a-z0-9-]*[a-z0-9])?)+\Z")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*\Z")
_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*\Z")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*\Z")
_HOST_VERSION = re.compile(r"^\d+(?:\.\d+){0,3}\Z")
_EXTENSION = re.compile(r"^\.[a-z0-9]+\Z")
_FRAME_RATE = re.compile(r"^(?:(\d+(?:\.\d+)?)(DF)?|any)\Z")
_PYTHON_CLAUSE = re.compile(r"^\s*(?:~=|===|==|!=|<=|>=|<|>)\s*\d+(?:\.\d+)*(?:\.\*)?\s*\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")

_TOP_LEVEL_KEYS: tuple[str, ...] = (
    "manifest_version",
    "id",
    "name",
    "display_name",
    "version",
    "description",
    "license",
    "entry_points",
    "hosts",
    "runtime",
    "models",
    "capabilities",
    "inputs",
    "outputs",
    "settings",
    "permissions",
)

# What to write when a required key is missing, keyed by its path with list indices as '[]'
# (for keys whose meaning depends on where they are) or else by the key's name.
_MISSING_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "models[].name": "a lower-case slug such as 'mouth-generator'",
        "models[].version": "the weights' own version, such as '1.0.0'",
        "models[].license": "the weights' licence, such as 'CC-BY-4.0'",
        "manifest_version": f"one of {list(SUPPORTED_MANIFEST_VERSIONS)}",
        "id": "a reverse-DNS id such as 'com.example.lipsync'",
        "name": "a lower-case name such as 'mytalk'",
        "version": "a SemVer version such as '0.1.0', equal to the package version",
        "entry_points": "an object with 'panel', 'commands', 'cli' and 'runtime'",
        "integration": f"one of {list(INTEGRATIONS)}",
        "ipc": f"one of {list(IPC_KINDS)}",
        "network": f"one of {list(NETWORK_ACCESS)}",
        "device": "an object such as {'preference': ['cuda', 'cpu']}",
        "sha256": "the 64 lower-case hex digits of the file's SHA-256",
        "size": "the file size in bytes",
        "type": f"one of {list(SETTING_TYPES)}",
        "default": "a value allowed by the setting's own type, enum and range",
        "container": "a file extension such as '.mov'",
        "models": "a list of model entries, [] when no weights are shipped",
        "display_name": "the name shown in menus, such as 'MyTalk'",
        "description": "one sentence saying what the plugin does",
        "license": "an SPDX id or 'Proprietary'",
        "hosts": "a list of {'app', 'min_version', 'integration'} objects",
        "runtime": "{'python': '>=3.11,<3.12', 'device': {'preference': [...]}, 'ipc': 'pipe'}",
        "capabilities": f"a list drawn from {list(CAPABILITIES)}",
        "inputs": "{'containers', 'video_codecs', 'audio', 'frame_rates'}",
        "outputs": "an object mapping preset names to {'container': '.mov', ...}",
        "settings": "an object mapping setting names to {'type', 'default', 'description'}",
        "permissions": "{'filesystem': {'write': [...]}, 'network': 'none'}",
        "filesystem": f"{{'write': [...]}} with scopes from {list(WRITE_SCOPES)}",
        "write": f"a list drawn from {list(WRITE_SCOPES)}",
        "python": "a version specifier such as '>=3.11,<3.12'",
        "preference": f"an ordered list drawn from {list(DEVICES)}",
        "app": "a lower-case slug such as 'davinci-resolve'",
        "min_version": "the oldest host version supported, such as '19.1'",
        "file": "a path relative to the bundle, such as 'models/mouth.safetensors'",
    }
)

# Checked in this order because bool is an int and a decoded object is a dict subclass.
_JSON_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryPoints:
    """The callables the plugin exposes, as `module:callable` strings (never imported here)."""

    panel: str
    commands: Mapping[str, str]
    cli: str
    runtime: str

    def items(self) -> list[tuple[str, str]]:
        """(name, spec) pairs, with commands named `commands.<name>`, in manifest order."""
        return [
            ("panel", self.panel),
            *((f"commands.{name}", spec) for name, spec in self.commands.items()),
            ("cli", self.cli),
            ("runtime", self.runtime),
        ]

    def names(self) -> list[str]:
        """Every entry point name that `spec` accepts."""
        return [name for name, _ in self.items()]

    def spec(self, name: str) -> str:
        """The `module:callable` string of entry point `name` ('panel', 'commands.preview', …)."""
        table = dict(self.items())
        if name not in table:
            raise ManifestError(
                f"no entry point named {name!r}; known: {list(table)}{_did_you_mean(name, table)}"
            )
        return table[name]


@dataclass(frozen=True)
class Host:
    """One host application the plugin integrates with, and how."""

    app: str
    min_version: str
    integration: str
    entry: str | None = None
    formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class Runtime:
    """Where and how the processing runtime runs."""

    python: str
    device_preference: tuple[str, ...]
    ipc: str


@dataclass(frozen=True)
class ModelEntry:
    """A weights file shipped in the bundle, pinned by hash so a swapped file is refused."""

    name: str
    version: str
    file: str
    sha256: str
    size: int
    license: str


@dataclass(frozen=True)
class Inputs:
    """What the plugin accepts; frame rates are strings so that '29.97DF' stays distinct from '29.97'."""

    containers: tuple[str, ...]
    video_codecs: tuple[str, ...]
    audio: tuple[str, ...]
    frame_rates: tuple[str, ...]


@dataclass(frozen=True)
class OutputPreset:
    """A named render preset; `use` says whether it is a deliverable ('final') or a proxy ('preview')."""

    name: str
    container: str
    profile: str | None = None
    lossless: bool = False
    use: str = "final"


@dataclass(frozen=True)
class Setting:
    """One user setting with a JSON-schema-like type, allowed values and default."""

    name: str
    type: str
    default: Any
    description: str
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed for this setting, phrased as a fix; None when it is fine."""
        return _value_problem(self.type, self.enum, self.minimum, self.maximum, value)

    def allowed(self) -> str:
        """The allowed values in words, for error messages and tooltips."""
        if self.enum is not None:
            return f"one of {list(self.enum)!r}"
        return f"{_article(self.type)} {self.type}{_range_words(self.minimum, self.maximum)}"


@dataclass(frozen=True)
class Permissions:
    """What the plugin may touch; `network` is always 'none'."""

    filesystem_write: tuple[str, ...]
    network: str


@dataclass(frozen=True)
class Manifest:
    """A validated `manifest.json`. Construct it with `load_manifest` or `parse_manifest`."""

    manifest_version: int
    id: str
    name: str
    display_name: str
    version: str
    description: str
    license: str
    entry_points: EntryPoints
    hosts: tuple[Host, ...]
    runtime: Runtime
    models: tuple[ModelEntry, ...]
    capabilities: tuple[str, ...]
    inputs: Inputs
    outputs: Mapping[str, OutputPreset]
    settings: Mapping[str, Setting]
    permissions: Permissions
    source: Path | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """How error lines name this manifest: its file name."""
        return self.source.name if self.source is not None else MANIFEST_FILENAME

    def setting_defaults(self) -> dict[str, Any]:
        """Every setting's default, in manifest order."""
        return {name: setting.default for name, setting in self.settings.items()}


# --------------------------------------------------------------------------------------------
# Problem collection helpers
# --------------------------------------------------------------------------------------------


class _Problems:
    """Collects every problem with its JSON path, so that one error can list them all."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.label}: {path or '(top level)'}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise ManifestError("\n".join(self.lines))


class _JSONObject(dict[str, Any]):
    """A decoded JSON object that remembers keys given twice (JSON silently keeps the last)."""

    duplicates: tuple[str, ...] = ()


class _Missing:
    """Marks an absent key, distinct from an explicit `null`."""


_MISSING = _Missing()


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


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    """A JSON type name plus the value, e.g. "string '1.0'", for the 'got …' part of messages."""
    if value is None:
        return "null"
    name = next(
        (json_name for kind, json_name in _JSON_TYPE_NAMES if isinstance(value, kind)), type(value).__name__
    )
    return name if isinstance(value, dict | list) else f"{name} {value!r}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _did_you_mean(key: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    """'; did you mean 'x'?' for the closest choice, or ''. Words under 4 letters get no guess:
    'gpu' is closer to 'cpu' than to 'cuda', and a wrong guess is worse than the list of choices."""
    if len(key) < 4:
        return ""
    lowered = {str(c).lower(): str(c) for c in choices}
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[match[0]]!r}?" if match else ""


def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    hint = _did_you_mean(key, allowed)
    if hint:
        return f"unknown key {key!r}{hint}"
    return f"unknown key {key!r}; remove it (allowed keys: {', '.join(allowed)})"


def _object(
    p: _Problems, value: Any, path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Check that `value` is an object with exactly the allowed keys; report missing and unknown ones."""
    if not isinstance(value, dict):
        p.add(path, f"must be an object (got {_describe(value)})")
        return None
    allowed = [*required, *optional]
    for key in getattr(value, "duplicates", ()):
        p.add(
            _join(path, key),
            f"key {key!r} appears more than once; JSON keeps only the last, remove the others",
        )
    for key in value:
        if key not in allowed:
            p.add(_join(path, key), _unknown_key_message(key, allowed))
    for key in required:
        if key not in value:
            generic = re.sub(r"\[\d+\]", "[]", _join(path, key))
            hint = _MISSING_HINTS.get(generic, _MISSING_HINTS.get(key))
            p.add(
                _join(path, key),
                f"missing required key; add it ({hint})" if hint else "missing required key; add it",
            )
    return value


def _string(
    p: _Problems,
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    pattern: re.Pattern[str] | None = None,
    expect: str = "",
) -> str | None:
    """The string at `key`, or None after reporting why not (missing keys are reported by `_object`)."""
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return None
    where = _join(path, key)
    if not isinstance(value, str):
        p.add(where, f"must be a string (got {_describe(value)})")
        return None
    if not value.strip():
        p.add(where, f"must not be empty{'; write ' + expect if expect else ''}")
        return None
    if pattern is not None and not pattern.match(value):
        p.add(where, f"must be {expect} (got {value!r})")
        return None
    return value


def _enum(p: _Problems, obj: Mapping[str, Any], key: str, path: str, choices: Sequence[Any]) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return None
    # Compare types too: JSON's true is Python's 1 and 1.0 == 1, but neither is manifest_version 1.
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        p.add(_join(path, key), f"must be one of {list(choices)!r} (got {value!r})")
        return None
    return value


def _string_list(
    p: _Problems,
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    pattern: re.Pattern[str] | None = None,
    expect: str = "",
    choices: Sequence[str] | None = None,
    nonempty: bool = True,
) -> tuple[str, ...] | None:
    """A list of unique strings, each matching `pattern` or one of `choices`."""
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return None
    where = _join(path, key)
    if not isinstance(value, list):
        p.add(where, f"must be an array of strings (got {_describe(value)})")
        return None
    if nonempty and not value:
        p.add(where, f"must not be empty; list at least one {expect or 'value'}")
        return None
    ok = True
    seen: set[str] = set()
    for index, item in enumerate(value):
        item_path = _join(where, index)
        if not isinstance(item, str):
            p.add(item_path, f"must be a string (got {_describe(item)})")
            ok = False
        elif choices is not None and item not in choices:
            p.add(item_path, f"must be one of {list(choices)!r} (got {item!r}){_did_you_mean(item, choices)}")
            ok = False
        elif pattern is not None and not pattern.match(item):
            p.add(item_path, f"must be {expect} (got {item!r})")
            ok = False
        elif item in seen:
            p.add(item_path, f"{item!r} is listed twice; remove the duplicate")
            ok = False
        else:
            seen.add(item)
    return tuple(value) if ok else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _range_words(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" between {minimum} and {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _value_problem(
    type_name: str, enum: Sequence[Any] | None, minimum: float | None, maximum: float | None, value: Any
) -> str | None:
    """Why `value` does not fit the setting schema; shared by manifest defaults and user settings."""
    type_ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": _is_number(value),
    }.get(type_name, False)
    if not type_ok:
        return f"must be {_article(type_name)} {type_name} (got {_describe(value)})"
    if enum is not None and value not in enum:
        hint = _did_you_mean(value, [str(e) for e in enum]) if isinstance(value, str) else ""
        return f"must be one of {list(enum)!r} (got {value!r}){hint}"
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        return f"must be{_range_words(minimum, maximum)} (got {value!r})"
    return None


def _entry_point_syntax_problem(spec: Any) -> str | None:
    """Why `spec` is not 'dotted.module:dotted.attr' (one colon, Python identifiers); None if it is."""
    fix = "write 'package.module:callable', e.g. 'mytalk.plugin.cli:main'"
    if not isinstance(spec, str):
        return f"must be a 'module:callable' string (got {_describe(spec)}); {fix}"
    if spec.count(":") != 1:
        return f"must contain exactly one ':' between module and callable (got {spec!r}); {fix}"
    module, attr = spec.split(":")
    for part_name, part in (("module", module), ("callable", attr)):
        pieces = part.split(".")
        if not part or any(not piece.isidentifier() or keyword.iskeyword(piece) for piece in pieces):
            return f"{part_name} part {part!r} is not a dotted Python name (got {spec!r}); {fix}"
    return None


# --------------------------------------------------------------------------------------------
# Section parsers: each reports its problems and returns None when its section is unusable.
# --------------------------------------------------------------------------------------------


def _parse_commands(
    p: _Problems, value: Any, path: str, one: Callable[[str, Any], str | None]
) -> dict[str, str] | None:
    """Parse `entry_points.commands`: preview, commit and cancel are required, more are allowed."""
    if not isinstance(value, dict):
        p.add(path, f"must be an object mapping command names to 'module:callable' (got {_describe(value)})")
        return None
    ok = True
    for key in getattr(value, "duplicates", ()):
        p.add(_join(path, key), f"key {key!r} appears more than once; remove the others")
    for name in REQUIRED_COMMANDS:
        if name not in value:
            p.add(_join(path, name), "missing required command; add it as 'module:callable'")
            ok = False
    commands: dict[str, str] = {}
    for name, spec in value.items():
        if not _IDENTIFIER.match(name):
            p.add(_join(path, name), "command names must be lower-case identifiers such as 'preview'")
            ok = False
            continue
        checked = one(f"commands.{name}", spec)
        if checked is None:
            ok = False
        else:
            commands[name] = checked
    return commands if ok else None


def _parse_entry_points(p: _Problems, value: Any, specs: dict[str, str]) -> EntryPoints | None:
    """Parse `entry_points`; every syntactically valid spec is also put in `specs` for resolution."""
    path = "entry_points"
    obj = _object(p, value, path, ENTRY_POINT_KEYS)
    if obj is None:
        return None

    def one(name: str, spec: Any) -> str | None:
        problem = _entry_point_syntax_problem(spec)
        if problem:
            p.add(_join(path, name), problem)
            return None
        specs[name] = spec
        return str(spec)

    parsed: dict[str, Any] = {}
    for key in ENTRY_POINT_KEYS:  # in manifest order, so that error lines follow the file
        if key not in obj:
            continue
        if key == "commands":
            parsed[key] = _parse_commands(p, obj[key], _join(path, key), one)
        else:
            parsed[key] = one(key, obj[key])
    if any(parsed.get(key) is None for key in ENTRY_POINT_KEYS):
        return None
    return EntryPoints(
        panel=parsed["panel"],
        commands=MappingProxyType(parsed["commands"]),
        cli=parsed["cli"],
        runtime=parsed["runtime"],
    )


def _parse_hosts(p: _Problems, value: Any, entry_point_names: set[str] | None) -> tuple[Host, ...] | None:
    if not isinstance(value, list):
        p.add("hosts", f"must be an array of host objects (got {_describe(value)})")
        return None
    if not value:
        p.add("hosts", "must list at least one host; add {'app': 'standalone', ...}")
        return None
    hosts: list[Host] = []
    apps: set[str] = set()
    ok = True
    for index, raw in enumerate(value):
        path = _join("hosts", index)
        obj = _object(p, raw, path, ("app", "min_version", "integration"), ("entry", "formats"))
        if obj is None:
            ok = False
            continue
        app = _string(
            p, obj, "app", path, pattern=_SLUG, expect="a lower-case slug such as 'davinci-resolve'"
        )
        min_version = _string(
            p, obj, "min_version", path, pattern=_HOST_VERSION, expect="a dotted version such as '19.1'"
        )
        integration = _enum(p, obj, "integration", path, INTEGRATIONS)
        entry: str | None = None
        if "entry" in obj:
            entry = _string(p, obj, "entry", path)
            if entry is not None and entry_point_names is not None and entry not in entry_point_names:
                p.add(
                    _join(path, "entry"),
                    f"must name an entry point, one of {sorted(entry_point_names)!r} (got {entry!r})"
                    f"{_did_you_mean(entry, sorted(entry_point_names))}",
                )
                entry = None
            if entry is None:
                ok = False
        formats: tuple[str, ...] | None = ()
        if "formats" in obj:
            formats = _string_list(
                p,
                obj,
                "formats",
                path,
                pattern=_EXTENSION,
                expect="a lower-case file extension such as '.otio'",
            )
        if app is not None and app in apps:
            p.add(_join(path, "app"), f"host {app!r} is listed twice; merge the entries")
            ok = False
        if app is None or min_version is None or integration is None or formats is None:
            ok = False
            continue
        apps.add(app)
        hosts.append(
            Host(app=app, min_version=min_version, integration=integration, entry=entry, formats=formats)
        )
    return tuple(hosts) if ok else None


def _parse_runtime(p: _Problems, value: Any) -> Runtime | None:
    path = "runtime"
    obj = _object(p, value, path, ("python", "device", "ipc"))
    if obj is None:
        return None
    python = _string(p, obj, "python", path, expect="a version specifier such as '>=3.11,<3.12'")
    if python is not None and not all(_PYTHON_CLAUSE.match(clause) for clause in python.split(",")):
        p.add(_join(path, "python"), f"must be a version specifier such as '>=3.11,<3.12' (got {python!r})")
        python = None
    preference: tuple[str, ...] | None = None
    if "device" in obj:
        device_path = _join(path, "device")
        device = _object(p, obj["device"], device_path, ("preference",))
        if device is not None:
            preference = _string_list(p, device, "preference", device_path, choices=DEVICES, expect="device")
    ipc = _enum(p, obj, "ipc", path, IPC_KINDS)
    if python is None or preference is None or ipc is None:
        return None
    return Runtime(python=python, device_preference=preference, ipc=ipc)


def _relative_path_problem(value: str) -> str | None:
    """Model files must stay inside the bundle: relative, POSIX, no '..', no drive letters."""
    example = "a relative path inside the plugin bundle such as 'models/mouth.safetensors'"
    posix = PurePosixPath(value)
    if ".." in posix.parts:
        return f"must not contain '..'; write {example} (got {value!r})"
    if "\\" in value or posix.is_absolute() or re.match(r"^[A-Za-z]:", value) or value.endswith("/"):
        return f"must be {example} (got {value!r})"
    return None


def _parse_models(p: _Problems, value: Any) -> tuple[ModelEntry, ...] | None:
    if not isinstance(value, list):
        p.add(
            "models", f"must be an array of model entries, [] when none are shipped (got {_describe(value)})"
        )
        return None
    models: list[ModelEntry] = []
    names: set[str] = set()
    ok = True
    for index, raw in enumerate(value):
        path = _join("models", index)
        obj = _object(p, raw, path, ("name", "version", "file", "sha256", "size", "license"))
        if obj is None:
            ok = False
            continue
        name = _string(
            p, obj, "name", path, pattern=_SLUG, expect="a lower-case slug such as 'mouth-generator'"
        )
        version = _string(p, obj, "version", path)
        file = _string(p, obj, "file", path)
        if file is not None:
            problem = _relative_path_problem(file)
            if problem:
                p.add(_join(path, "file"), problem)
                file = None
        sha256 = _string(
            p,
            obj,
            "sha256",
            path,
            pattern=_SHA256,
            expect="the file's SHA-256 as 64 lower-case hex digits",
        )
        size: int | None = None
        if "size" in obj:
            raw_size = obj["size"]
            if isinstance(raw_size, bool) or not isinstance(raw_size, int) or raw_size < 0:
                p.add(
                    _join(path, "size"),
                    f"must be the file size in bytes, an integer >= 0 (got {_describe(raw_size)})",
                )
            else:
                size = raw_size
        license_ = _string(p, obj, "license", path, expect="the weights' licence, e.g. an SPDX id")
        if name is not None and name in names:
            p.add(_join(path, "name"), f"model {name!r} is listed twice; give each model a unique name")
            name = None
        if None in (name, version, file, sha256, size, license_):
            ok = False
            continue
        assert name and version and file and sha256 and license_ and size is not None
        names.add(name)
        models.append(
            ModelEntry(name=name, version=version, file=file, sha256=sha256, size=size, license=license_)
        )
    return tuple(models) if ok else None


def _parse_inputs(p: _Problems, value: Any) -> Inputs | None:
    path = "inputs"
    obj = _object(p, value, path, ("containers", "video_codecs", "audio", "frame_rates"))
    if obj is None:
        return None
    ext = "a lower-case file extension such as '.mov'"
    containers = _string_list(p, obj, "containers", path, pattern=_EXTENSION, expect=ext)
    codecs = _string_list(
        p, obj, "video_codecs", path, pattern=_SLUG, expect="an FFmpeg codec name such as 'prores'"
    )
    audio = _string_list(
        p, obj, "audio", path, pattern=_EXTENSION, expect="a lower-case file extension such as '.wav'"
    )
    rates = _string_list(
        p,
        obj,
        "frame_rates",
        path,
        pattern=_FRAME_RATE,
        expect="a frame rate such as '23.976', '29.97DF' or 'any'",
    )
    if rates is not None:
        for index, rate in enumerate(rates):
            match = _FRAME_RATE.match(rate)
            if match and match.group(2) and match.group(1) not in DROP_FRAME_RATES:
                p.add(
                    _join(_join(path, "frame_rates"), index),
                    f"drop-frame exists only for {list(DROP_FRAME_RATES)} (got {rate!r}); remove 'DF'",
                )
                rates = None
                break
    if containers is None or codecs is None or audio is None or rates is None:
        return None
    return Inputs(containers=containers, video_codecs=codecs, audio=audio, frame_rates=rates)


def _parse_outputs(p: _Problems, value: Any) -> Mapping[str, OutputPreset] | None:
    path = "outputs"
    if not isinstance(value, dict) or not value:
        p.add(path, f"must be a non-empty object mapping preset names to presets (got {_describe(value)})")
        return None
    presets: dict[str, OutputPreset] = {}
    ok = True
    for name, raw in value.items():
        preset_path = _join(path, name)
        if not _SLUG.match(name):
            p.add(preset_path, "preset names must be lower-case slugs such as 'prores4444'")
            ok = False
            continue
        obj = _object(p, raw, preset_path, ("container",), ("profile", "lossless", "use"))
        if obj is None:
            ok = False
            continue
        container = _string(
            p, obj, "container", preset_path, pattern=_EXTENSION, expect="a file extension such as '.mov'"
        )
        profile = _string(p, obj, "profile", preset_path) if "profile" in obj else None
        lossless = obj.get("lossless", False)
        if not isinstance(lossless, bool):
            p.add(_join(preset_path, "lossless"), f"must be true or false (got {_describe(lossless)})")
            ok = False
        use = _enum(p, obj, "use", preset_path, OUTPUT_USES) if "use" in obj else "final"
        if container is None or use is None or ("profile" in obj and profile is None):
            ok = False
            continue
        presets[name] = OutputPreset(
            name=name, container=container, profile=profile, lossless=lossless, use=use
        )
    return MappingProxyType(presets) if ok else None


def _parse_setting(p: _Problems, name: str, raw: Any) -> Setting | None:
    path = _join("settings", name)
    if not _IDENTIFIER.match(name):
        p.add(path, "setting names must be lower-case identifiers such as 'mask_mode'")
        return None
    obj = _object(p, raw, path, ("type", "default", "description"), ("enum", "minimum", "maximum"))
    if obj is None:
        return None
    type_name = _enum(p, obj, "type", path, SETTING_TYPES)
    description = _string(p, obj, "description", path, expect="one sentence for the tooltip")
    if type_name is None:
        return None  # without a valid type nothing else can be checked meaningfully
    schema_ok = True
    enum: tuple[Any, ...] | None = None
    if "enum" in obj:
        raw_enum = obj["enum"]
        if type_name == "boolean":
            p.add(_join(path, "enum"), "boolean settings take no 'enum'; remove it")
            schema_ok = False
        elif not isinstance(raw_enum, list) or not raw_enum:
            p.add(
                _join(path, "enum"),
                f"must be a non-empty array of allowed values (got {_describe(raw_enum)})",
            )
            schema_ok = False
        else:
            for index, item in enumerate(raw_enum):
                problem = _value_problem(type_name, None, None, None, item)
                if problem:
                    p.add(_join(_join(path, "enum"), index), problem)
                    schema_ok = False
            if len({json.dumps(item) for item in raw_enum}) != len(raw_enum):
                p.add(_join(path, "enum"), "lists a value twice; remove the duplicate")
                schema_ok = False
            enum = tuple(raw_enum)
    bounds: dict[str, float | None] = {"minimum": None, "maximum": None}
    for bound in bounds:
        if bound not in obj:
            continue
        raw_bound = obj[bound]
        if type_name not in ("number", "integer"):
            p.add(_join(path, bound), f"only number and integer settings take a {bound}; remove it")
            schema_ok = False
        elif _value_problem(type_name, None, None, None, raw_bound):
            p.add(
                _join(path, bound), f"must be {_article(type_name)} {type_name} (got {_describe(raw_bound)})"
            )
            schema_ok = False
        else:
            bounds[bound] = raw_bound
    minimum, maximum = bounds["minimum"], bounds["maximum"]
    if minimum is not None and maximum is not None and minimum > maximum:
        p.add(_join(path, "minimum"), f"must not exceed maximum {maximum} (got {minimum}); swap them")
        schema_ok = False
    default = obj.get("default", _MISSING)
    if not schema_ok or default is _MISSING:
        return None
    problem = _value_problem(type_name, enum, minimum, maximum, default)
    if problem:
        # The default is what a user gets without touching anything; it must pass its own schema.
        p.add(_join(path, "default"), problem)
        return None
    if description is None:
        return None
    if type_name == "number":
        default = float(default)
    return Setting(name, type_name, default, description, enum, minimum, maximum)


def _parse_settings(p: _Problems, value: Any) -> Mapping[str, Setting] | None:
    if not isinstance(value, dict):
        p.add("settings", f"must be an object mapping setting names to schemas (got {_describe(value)})")
        return None
    for key in getattr(value, "duplicates", ()):
        p.add(_join("settings", key), f"setting {key!r} is defined more than once; remove the others")
    settings: dict[str, Setting] = {}
    ok = True
    for name, raw in value.items():
        setting = _parse_setting(p, name, raw)
        if setting is None:
            ok = False
        else:
            settings[name] = setting
    return MappingProxyType(settings) if ok else None


def _parse_permissions(p: _Problems, value: Any) -> Permissions | None:
    path = "permissions"
    obj = _object(p, value, path, ("filesystem", "network"))
    if obj is None:
        return None
    write: tuple[str, ...] | None = None
    if "filesystem" in obj:
        fs_path = _join(path, "filesystem")
        fs = _object(p, obj["filesystem"], fs_path, ("write",))
        if fs is not None:
            write = _string_list(p, fs, "write", fs_path, choices=WRITE_SCOPES, nonempty=False)
    network = _enum(p, obj, "network", path, NETWORK_ACCESS)
    if write is None or network is None:
        return None
    return Permissions(filesystem_write=write, network=network)


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _parse(p: _Problems, data: Any, expected_version: str | None, specs: dict[str, str]) -> Manifest | None:
    obj = _object(p, data, "", _TOP_LEVEL_KEYS)
    if obj is None:
        return None
    manifest_version = _enum(p, obj, "manifest_version", "", SUPPORTED_MANIFEST_VERSIONS)
    id_ = _string(
        p,
        obj,
        "id",
        "",
        pattern=_REVERSE_DNS,
        expect="a lower-case reverse-DNS id such as 'com.example.lipsync'",
    )
    name = _string(p, obj, "name", "", pattern=_NAME, expect="a lower-case name such as 'mytalk'")
    display_name = _string(p, obj, "display_name", "", expect="the name shown in menus, such as 'MyTalk'")
    version = _string(
        p, obj, "version", "", pattern=_SEMVER, expect="a SemVer version MAJOR.MINOR.PATCH such as '0.1.0'"
    )
    if version is not None and name is not None:
        expected = expected_version if expected_version is not None else _installed_version(name)
        if expected is not None and version != expected:
            p.add(
                "version",
                f"must equal the package version {expected!r} (got {version!r}); "
                "change the manifest or pyproject.toml so they match",
            )
            version = None
    description = _string(p, obj, "description", "", expect="one sentence saying what the plugin does")
    license_ = _string(p, obj, "license", "", expect="an SPDX id or 'Proprietary'")
    entry_points = _parse_entry_points(p, obj["entry_points"], specs) if "entry_points" in obj else None
    ep_names = set(entry_points.names()) if entry_points is not None else None
    hosts = _parse_hosts(p, obj["hosts"], ep_names) if "hosts" in obj else None
    runtime = _parse_runtime(p, obj["runtime"]) if "runtime" in obj else None
    models = _parse_models(p, obj["models"]) if "models" in obj else None
    capabilities = _string_list(p, obj, "capabilities", "", choices=CAPABILITIES, expect="capability")
    inputs = _parse_inputs(p, obj["inputs"]) if "inputs" in obj else None
    outputs = _parse_outputs(p, obj["outputs"]) if "outputs" in obj else None
    settings = _parse_settings(p, obj["settings"]) if "settings" in obj else None
    permissions = _parse_permissions(p, obj["permissions"]) if "permissions" in obj else None
    if settings is not None and outputs is not None and "codec" in settings:
        # The codec setting picks an output preset; a value with no preset would fail at render time.
        codec = settings["codec"]
        for value in codec.enum or ():
            if value not in outputs:
                p.add(
                    "settings.codec.enum",
                    f"{value!r} is not an output preset; add it to 'outputs' or remove it",
                )
                settings = None
                break
    if p.lines:
        return None
    # No problem was reported, so every section parsed; the asserts narrow the types for mypy.
    assert manifest_version is not None and id_ and name and display_name and version and description
    assert license_ and entry_points and hosts and runtime and models is not None and capabilities is not None
    assert inputs and outputs is not None and settings is not None and permissions
    return Manifest(
        manifest_version=manifest_version,
        id=id_,
        name=name,
        display_name=display_name,
        version=version,
        description=description,
        license=license_,
        entry_points=entry_points,
        hosts=hosts,
        runtime=runtime,
        models=models,
        capabilities=capabilities,
        inputs=inputs,
        outputs=outputs,
        settings=settings,
        permissions=permissions,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


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
    source = Path(__file__).resolve().parents[1] / MANIFEST_FILENAME
    if source.is_file():
        return source
    searched.append(str(source))
    raise ManifestError(
        f"{MANIFEST_FILENAME}: not found (looked in {', '.join(searched)}); reinstall mytalk, "
        "or pass the manifest path explicitly"
    )


def parse_manifest(
    data: Any,
    *,
    source: Path | None = None,
    expected_version: str | None = None,
    resolve: bool = False,
) -> Manifest:
    """Validate decoded manifest JSON and return the typed `Manifest`.

    `expected_version` is the version `version` must equal; None looks up the installed
    distribution named by the manifest's `name` (and skips the check when none is installed,
    as for a bundle being developed outside any environment). `resolve=True` also imports every
    entry point, which is what `mytalk validate` does; discovery never does. Raises one
    `ManifestError` listing every problem, one per line.
    """
    p = _Problems(source.name if source is not None else MANIFEST_FILENAME)
    specs: dict[str, str] = {}
    manifest = _parse(p, data, expected_version, specs)
    if resolve:
        for name, spec in specs.items():
            _, problem = _try_resolve(spec)
            if problem:
                p.add(_join("entry_points", name), problem)
    p.raise_if_any()
    assert manifest is not None
    return dataclasses.replace(manifest, source=source)


def load_manifest(
    path: Path | str | None = None, *, expected_version: str | None = None, resolve: bool = False
) -> Manifest:
    """Read and validate a manifest file (a bundle folder means its `manifest.json`).

    `path=None` loads the manifest shipped with mytalk (see `default_manifest_path`). Loading
    imports none of the entry points unless `resolve=True`. See `parse_manifest` for
    `expected_version`.
    """
    file = default_manifest_path() if path is None else Path(path)
    if file.is_dir():
        file = file / MANIFEST_FILENAME
    label = file.name
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{label}: cannot read {file} ({exc}); check the path") from exc
    try:
        data = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{label}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg}); fix the syntax"
        ) from exc
    except ValueError as exc:
        raise ManifestError(f"{label}: invalid JSON ({exc})") from exc
    return parse_manifest(data, source=file, expected_version=expected_version, resolve=resolve)


def _try_resolve(spec: str) -> tuple[Callable[..., Any] | None, str | None]:
    """Import `spec` and return (callable, None), or (None, why not with a fix)."""
    problem = _entry_point_syntax_problem(spec)
    if problem:
        return None, problem
    module_name, attr_path = spec.split(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            return None, (
                f"cannot import {spec!r}: module {missing!r} not found; "
                "check the module path or install the package that provides it"
            )
        return (
            None,
            f"cannot import {spec!r}: importing {module_name!r} failed ({exc}); install its dependency",
        )
    except (Exception, SystemExit) as exc:  # a broken plugin module must be reported, not crash the host
        return (
            None,
            f"cannot import {spec!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}; fix that module",
        )
    for depth, attr in enumerate(attr_path.split(".")):
        if not hasattr(target, attr):
            owner = module_name if depth == 0 else f"{module_name}:{'.'.join(attr_path.split('.')[:depth])}"
            # Suggest only names defined there, not what the module happens to import.
            candidates = [
                name
                for name in dir(target)
                if not name.startswith("_")
                and getattr(getattr(target, name), "__module__", None) == module_name
            ]
            return None, (
                f"cannot resolve {spec!r}: {owner!r} has no attribute {attr!r}; "
                f"check the name after the colon{_did_you_mean(attr, candidates)}"
            )
        target = getattr(target, attr)
    if not callable(target):
        return (
            None,
            f"{spec!r} is {_article(type(target).__name__)} {type(target).__name__}, not a callable; point it at a function or class",
        )
    return target, None


def resolve_entry_point(spec: str, *, name: str | None = None) -> Callable[..., Any]:
    """Import `module:callable` now and return the callable.

    Imports happen only here, on first use, so listing or validating a plugin costs nothing and
    a broken module breaks only the command that needs it. `name` ('panel', 'commands.preview')
    is used in the error message. Raises `ManifestError` naming the entry point.
    """
    target, problem = _try_resolve(spec)
    if target is None:
        where = f"entry point {name!r}" if name else "entry point"
        raise ManifestError(f"{where}: {problem}")
    return target


def check_entry_points(manifest: Manifest) -> list[str]:
    """Resolve every entry point of `manifest`; return one error line per failure (empty when all resolve)."""
    problems: list[str] = []
    for name, spec in manifest.entry_points.items():
        _, problem = _try_resolve(spec)
        if problem:
            problems.append(f"{manifest.label}: {_join('entry_points', name)}: {problem}")
    return problems


def validate_settings(manifest: Manifest, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check user settings against the manifest's schema and return them merged over the defaults.

    Every bad setting is reported at once, with its allowed values, in one `UsageError` (one
    line per setting). Integers given for number settings become floats, so a setting has one
    Python type whatever the user typed.
    """
    problems: list[str] = []
    merged = manifest.setting_defaults()
    for name, value in values.items():
        setting = manifest.settings.get(name)
        if setting is None:
            problems.append(
                f"setting {name!r}: unknown setting; known settings: {', '.join(manifest.settings)}"
                f"{_did_you_mean(name, list(manifest.settings))}"
            )
            continue
        problem = setting.problem(value)
        if problem:
            problems.append(f"setting {name!r}: {problem}")
            continue
        merged[name] = float(value) if setting.type == "number" else value
    if problems:
        raise UsageError("\n".join(problems))
    return merged


def validate_command(path: str | None) -> int:
    """What `mytalk validate [MANIFEST]` runs: full validation including entry point imports.

    Prints `manifest.json: OK (<id>, <version>, N entry points resolved)` and returns 0, or
    prints the error lines to stderr and returns 2 (the exit code of every `MyTalkError`).
    """
    try:
        manifest = load_manifest(Path(path) if path else None, resolve=True)
    except ManifestError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    count = len(manifest.entry_points.items())
    print(f"{manifest.label}: OK ({manifest.id}, {manifest.version}, {count} entry points resolved)")
    return 0
