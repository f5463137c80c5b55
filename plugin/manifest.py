"""The plugin manifest: static data, parsed into typed pydantic models, importing nothing it names.

Modelled on OpenTimelineIO's plugin manifest and napari's npe2 (whose manifest is pydantic
models too). Hosts (the standalone panel, the OTIO round-trip, Resolve's script menu, `mytalk
validate`) must be able to list and check the plugin without importing Qt, torch or a host SDK.
So `manifest.json` names its callables as `"module:callable"` strings, and a module is imported
only when `resolve_entry_point` is asked for it. Validation collects every problem before it
raises: a user who fixes one line should not have to run the check again to find the next. Each
problem is one line that names the file, the JSON path and the fix (see
`mytalk.core.settings.problems`).

The settings section is modelled in `mytalk.core.settings`, where the core reads it too.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import keyword
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from mytalk.core.errors import ManifestError
from mytalk.core.settings import (
    MANIFEST_FILENAME,
    Setting,
    SettingsTable,
    default_manifest_path,
    read_manifest_json,
    with_defaults,
)
from mytalk.core.settings.fields import check_with, flag, matching, one_of, text, unique_items
from mytalk.core.settings.problems import Problem, article, describe, did_you_mean, problem_lines
from mytalk.core.settings.source import duplicate_key_lines

__all__ = [
    "CAPABILITIES",
    "MANIFEST_FILENAME",
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
    "check_host_entries",
    "default_manifest_path",
    "load_manifest",
    "parse_manifest",
    "resolve_entry_point",
    "validate_command",
    "validate_settings",
]

SUPPORTED_MANIFEST_VERSIONS: tuple[int, ...] = (1,)
INTEGRATIONS: tuple[str, ...] = ("standalone", "file-roundtrip", "script", "extension")
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
OUTPUT_USES: tuple[str, ...] = ("preview", "final")
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


# --------------------------------------------------------------------------------------------
# Checks that no pydantic constraint expresses, each returning why not (or None)
# --------------------------------------------------------------------------------------------


def _entry_point_syntax_problem(spec: Any) -> str | None:
    """Why `spec` is not 'dotted.module:dotted.attr' (one colon, Python identifiers); None if it is."""
    fix = "write 'package.module:callable', e.g. 'mytalk.plugin.cli:main'"
    if not isinstance(spec, str):
        return f"must be a 'module:callable' string (got {describe(spec)}); {fix}"
    if spec.count(":") != 1:
        return f"must contain exactly one ':' between module and callable (got {spec!r}); {fix}"
    module, attr = spec.split(":")
    for part_name, part in (("module", module), ("callable", attr)):
        pieces = part.split(".")
        if not part or any(not piece.isidentifier() or keyword.iskeyword(piece) for piece in pieces):
            return f"{part_name} part {part!r} is not a dotted Python name (got {spec!r}); {fix}"
    return None


def _host_entry_problem(value: Any) -> str | None:
    """Why `value` is not a host entry: the name of one of `entry_points` ('panel'), or the host's
    own 'module:callable' (a timeline opener, an installer), checked like any entry point."""
    if isinstance(value, str) and ":" in value:
        return _entry_point_syntax_problem(value)
    if not isinstance(value, str) or not value.strip():
        return (f"must name an entry point such as 'panel' or be a 'module:callable' string "
                f"(got {describe(value)})")
    return None


def _relative_path_problem(value: str) -> str | None:
    """Model files must stay inside the bundle: relative, POSIX, no '..', no drive letters."""
    example = "a relative path inside the plugin bundle such as 'models/base-1.0.0.mytalk-model'"
    posix = PurePosixPath(value)
    if ".." in posix.parts:
        return f"must not contain '..'; write {example} (got {value!r})"
    if "\\" in value or posix.is_absolute() or re.match(r"^[A-Za-z]:", value) or value.endswith("/"):
        return f"must be {example} (got {value!r})"
    return None


def _python_specifier_problem(value: str) -> str | None:
    if all(_PYTHON_CLAUSE.match(clause) for clause in value.split(",")):
        return None
    return f"must be a version specifier such as '>=3.11,<3.12' (got {value!r})"


def _drop_frame_problem(rate: str) -> str | None:
    match = _FRAME_RATE.match(rate)
    if match and match.group(2) and match.group(1) not in DROP_FRAME_RATES:
        return f"drop-frame exists only for {list(DROP_FRAME_RATES)} (got {rate!r}); remove 'DF'"
    return None


def _size_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be the file size in bytes, an integer >= 0 (got {describe(value)})"
    return None


# --------------------------------------------------------------------------------------------
# Field types: a name for each kind of value, carrying its check and its wording
# --------------------------------------------------------------------------------------------

EntryPointSpec = Annotated[str, check_with(_entry_point_syntax_problem, plain=True)]
HostEntry = Annotated[str, check_with(_host_entry_problem, plain=True)]
Extension = Annotated[str, matching(_EXTENSION, "a lower-case file extension such as '.mov'")]
Slug = Annotated[str, matching(_SLUG, "a lower-case slug such as 'davinci-resolve'")]
Text = Annotated[str, text()]


def _strings(item: Any, what: str | None = "value") -> Any:
    """An array of `item`s without repeats (non-empty unless `what` is None)."""
    return Annotated[tuple[item, ...], unique_items(what)]


class _Model(BaseModel):
    """Manifest sections: unknown keys are errors (typos must not pass silently), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _required_commands(commands: dict[str, str]) -> Mapping[str, str]:
    for name in REQUIRED_COMMANDS:
        if name not in commands:
            raise Problem("missing required command; add it as 'module:callable'", at=(name,))
    for name in commands:
        if not _IDENTIFIER.match(name):
            raise Problem("command names must be lower-case identifiers such as 'preview'", at=(name,))
    return MappingProxyType(commands)


class EntryPoints(_Model):
    """The callables the plugin exposes, as `module:callable` strings (never imported here)."""

    panel: EntryPointSpec
    commands: Annotated[dict[str, EntryPointSpec], AfterValidator(_required_commands)] = Field(
        description="an object mapping command names ('preview', 'commit', 'cancel') to 'module:callable'"
    )
    cli: EntryPointSpec
    runtime: EntryPointSpec

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
                f"no entry point named {name!r}; known: {list(table)}{did_you_mean(name, list(table))}"
            )
        return table[name]


class Host(_Model):
    """One host application the plugin integrates with, and how.

    `entry` is what starts the integration: the name of one of `entry_points` (the standalone
    host's 'panel'), or the host's own `module:callable`. For a host with `formats` that callable
    takes the timeline file's path and returns a timeline host (see
    `mytalk.plugin.loader.open_timeline`); like every entry point it is imported only on use.
    """

    app: Slug = Field(description="a lower-case slug such as 'davinci-resolve'")
    min_version: Annotated[str, matching(_HOST_VERSION, "a dotted version such as '19.1'")] = Field(
        description="the oldest host version supported, such as '19.1'"
    )
    integration: Annotated[Literal["standalone", "file-roundtrip", "script", "extension"], one_of(INTEGRATIONS)]
    entry: HostEntry | None = None
    formats: _strings(  # type: ignore[valid-type]
        Annotated[str, matching(_EXTENSION, "a lower-case file extension such as '.otio'")], None
    ) = ()

    @property
    def entry_spec(self) -> str | None:
        """`entry` when it is the host's own 'module:callable' (None for an entry point name)."""
        return self.entry if self.entry is not None and ":" in self.entry else None


class DevicePreference(_Model):
    preference: _strings(Annotated[str, one_of(DEVICES)], "device") = Field(  # type: ignore[valid-type]
        description=f"an ordered list drawn from {list(DEVICES)}"
    )


class Runtime(_Model):
    """Where and how the processing runtime runs."""

    python: Annotated[str, text("a version specifier such as '>=3.11,<3.12'"), check_with(_python_specifier_problem)] = (
        Field(description="a version specifier such as '>=3.11,<3.12'")
    )
    device: DevicePreference = Field(description="an object such as {'preference': ['cuda', 'cpu']}")
    ipc: Annotated[Literal["pipe"], one_of(IPC_KINDS)]

    @property
    def device_preference(self) -> tuple[str, ...]:
        return tuple(self.device.preference)


class ModelEntry(_Model):
    """A published model (`mytalk models pack`'s archive) shipped in the bundle, pinned by hash and size.

    The pin is what makes the entry more than a note: `mytalk models install` refuses an archive whose
    card has this name unless it is exactly this file, `mytalk models list` says which installed model
    came from it, and `mytalk validate` checks the bundle's file against it. `mytalk models pack` prints
    the entry to paste here.
    """

    name: Annotated[str, matching(_SLUG, "a lower-case slug such as 'mouth-generator'")] = Field(
        description="a lower-case slug such as 'mouth-generator'"
    )
    version: Text = Field(description="the weights' own version, such as '1.0.0'")
    file: Annotated[str, text(), check_with(_relative_path_problem)] = Field(
        description="a path relative to the bundle, such as 'models/base-1.0.0.mytalk-model'"
    )
    sha256: Annotated[str, matching(_SHA256, "the file's SHA-256 as 64 lower-case hex digits")] = Field(
        description="the 64 lower-case hex digits of the file's SHA-256"
    )
    size: Annotated[int, check_with(_size_problem, plain=True)] = Field(description="the file size in bytes")
    license: Text = Field(description="the weights' licence, such as 'CC-BY-4.0'")


def _unique_names(models: tuple[ModelEntry, ...]) -> tuple[ModelEntry, ...]:
    names = [model.name for model in models]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise Problem(f"model {name!r} is listed twice; give each model a unique name", at=(index, "name"))
    return models


def _unique_apps(hosts: tuple[Host, ...]) -> tuple[Host, ...]:
    if not hosts:
        raise Problem("must list at least one host; add {'app': 'standalone', ...}")
    apps = [host.app for host in hosts]
    for index, app in enumerate(apps):
        if app in apps[:index]:
            raise Problem(f"host {app!r} is listed twice; merge the entries", at=(index, "app"))
    return hosts


class Inputs(_Model):
    """What the plugin accepts; frame rates are strings so that '29.97DF' stays distinct from '29.97'."""

    containers: _strings(Extension) = Field(description="a list of extensions such as ['.mov']")  # type: ignore[valid-type]
    video_codecs: _strings(  # type: ignore[valid-type]
        Annotated[str, matching(_SLUG, "an FFmpeg codec name such as 'prores'")]
    ) = Field(description="a list of FFmpeg codec names such as ['prores']")
    audio: _strings(  # type: ignore[valid-type]
        Annotated[str, matching(_EXTENSION, "a lower-case file extension such as '.wav'")]
    ) = Field(description="a list of extensions such as ['.wav']")
    frame_rates: _strings(  # type: ignore[valid-type]
        Annotated[
            str,
            matching(_FRAME_RATE, "a frame rate such as '23.976', '29.97DF' or 'any'"),
            check_with(_drop_frame_problem),
        ]
    ) = Field(description="a list of frame rates such as ['23.976', '29.97DF', 'any']")


class OutputPreset(_Model):
    """A named render preset; `use` says whether it is a deliverable ('final') or a proxy ('preview')."""

    container: Extension = Field(description="a file extension such as '.mov'")
    profile: Text | None = None
    lossless: Annotated[bool, flag()] = False
    use: Annotated[Literal["preview", "final"], one_of(OUTPUT_USES)] = "final"
    _name: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        return self._name


def _named_presets(presets: dict[str, OutputPreset]) -> Mapping[str, OutputPreset]:
    if not presets:
        raise Problem("must be a non-empty object mapping preset names to presets (got object)")
    for name, preset in presets.items():
        if not _SLUG.match(name):
            raise Problem("preset names must be lower-case slugs such as 'prores4444'", at=(name,))
        preset._name = name
    return MappingProxyType(presets)


class Filesystem(_Model):
    write: _strings(Annotated[str, one_of(WRITE_SCOPES)], None) = Field(  # type: ignore[valid-type]
        description=f"a list drawn from {list(WRITE_SCOPES)}"
    )


class Permissions(_Model):
    """What the plugin may touch; `network` is always 'none'."""

    filesystem: Filesystem = Field(description=f"{{'write': [...]}} with scopes from {list(WRITE_SCOPES)}")
    network: Annotated[Literal["none"], one_of(NETWORK_ACCESS)]

    @property
    def filesystem_write(self) -> tuple[str, ...]:
        return tuple(self.filesystem.write)


class Manifest(_Model):
    """A validated `manifest.json`. Construct it with `load_manifest` or `parse_manifest`."""

    manifest_version: Annotated[int, one_of(SUPPORTED_MANIFEST_VERSIONS)]
    id: Annotated[str, matching(_REVERSE_DNS, "a lower-case reverse-DNS id such as 'com.example.lipsync'")] = (
        Field(description="a reverse-DNS id such as 'com.example.lipsync'")
    )
    name: Annotated[str, matching(_NAME, "a lower-case name such as 'mytalk'")] = Field(
        description="a lower-case name such as 'mytalk'"
    )
    display_name: Annotated[str, text("the name shown in menus, such as 'MyTalk'")] = Field(
        description="the name shown in menus, such as 'MyTalk'"
    )
    version: Annotated[str, matching(_SEMVER, "a SemVer version MAJOR.MINOR.PATCH such as '0.1.0'")] = Field(
        description="a SemVer version such as '0.1.0', equal to the package version"
    )
    description: Annotated[str, text("one sentence saying what the plugin does")] = Field(
        description="one sentence saying what the plugin does"
    )
    license: Annotated[str, text("an SPDX id or 'Proprietary'")] = Field(description="an SPDX id or 'Proprietary'")
    entry_points: EntryPoints = Field(description="an object with 'panel', 'commands', 'cli' and 'runtime'")
    hosts: Annotated[tuple[Host, ...], AfterValidator(_unique_apps)] = Field(
        description="a list of {'app', 'min_version', 'integration'} objects"
    )
    runtime: Runtime = Field(
        description="{'python': '>=3.11,<3.12', 'device': {'preference': [...]}, 'ipc': 'pipe'}"
    )
    models: Annotated[tuple[ModelEntry, ...], AfterValidator(_unique_names)] = Field(
        description="a list of model entries, [] when no weights are shipped"
    )
    capabilities: _strings(Annotated[str, one_of(CAPABILITIES)], "capability") = Field(  # type: ignore[valid-type]
        description=f"a list drawn from {list(CAPABILITIES)}"
    )
    inputs: Inputs = Field(description="{'containers', 'video_codecs', 'audio', 'frame_rates'}")
    outputs: Annotated[dict[str, OutputPreset], AfterValidator(_named_presets)] = Field(
        description="an object mapping preset names to {'container': '.mov', ...}"
    )
    settings: SettingsTable = Field(
        description="an object mapping setting names to {'type', 'default', 'description'}"
    )
    permissions: Permissions = Field(description="{'filesystem': {'write': [...]}, 'network': 'none'}")
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file this manifest was read from (None when parsed from data)."""
        return self._source

    @property
    def label(self) -> str:
        """How error lines name this manifest: its file name."""
        return self._source.name if self._source is not None else MANIFEST_FILENAME

    def setting_defaults(self) -> dict[str, Any]:
        """Every setting's default, in manifest order."""
        return with_defaults(self.settings, {})


# --------------------------------------------------------------------------------------------
# Checks across sections, run once every section parsed
# --------------------------------------------------------------------------------------------


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cross_section_problems(manifest: Manifest, expected_version: str | None) -> list[tuple[str, str]]:
    """(json path, message) for what no single section can know."""
    problems: list[tuple[str, str]] = []
    expected = expected_version if expected_version is not None else _installed_version(manifest.name)
    if expected is not None and manifest.version != expected:
        problems.append((
            "version",
            f"must equal the package version {expected!r} (got {manifest.version!r}); "
            "change the manifest or pyproject.toml so they match",
        ))
    names = sorted(manifest.entry_points.names())
    for index, host in enumerate(manifest.hosts):
        if host.entry is not None and host.entry_spec is None and host.entry not in names:
            problems.append((
                f"hosts[{index}].entry",
                f"must name an entry point, one of {names!r}, or be a 'module:callable' string "
                f"(got {host.entry!r}){did_you_mean(host.entry, names)}",
            ))
        if host.formats and host.entry is None:
            # The loader opens a timeline file through its host's entry: formats without one are dead.
            problems.append((
                f"hosts[{index}].entry",
                f"{host.app!r} lists formats {list(host.formats)} but no entry; add the 'module:callable' "
                "that opens them",
            ))
    codec = manifest.settings.get("codec")
    # The codec setting picks an output preset; a value with no preset would fail at render time.
    for value in (codec.enum or ()) if codec is not None else ():
        if value not in manifest.outputs:
            problems.append(("settings.codec.enum", f"{value!r} is not an output preset; add it to 'outputs' or remove it"))
            break
    return problems


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _entry_points_alone(data: Any) -> EntryPoints | None:
    """The entry points of a manifest that failed elsewhere: `mytalk validate` still reports
    which of them do not import, so the author learns every problem in one run."""
    try:
        return EntryPoints.model_validate(data["entry_points"])
    except (TypeError, KeyError, ValidationError):
        return None


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
    entry point and, for a manifest read from a bundle (`source`), checks each listed model's
    archive against its pin: what `mytalk validate` does; discovery never does. Raises one
    `ManifestError` listing every problem, one per line.
    """
    label = source.name if source is not None else MANIFEST_FILENAME
    lines = duplicate_key_lines(data, label)
    manifest: Manifest | None = None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        lines += problem_lines(error, Manifest, label)
    if manifest is not None:
        lines += [f"{label}: {path}: {message}" for path, message in _cross_section_problems(manifest, expected_version)]
    entry_points = manifest.entry_points if manifest is not None else _entry_points_alone(data)
    if resolve and entry_points is not None:
        for name, spec in entry_points.items():
            _, problem = _try_resolve(spec)
            if problem:
                lines.append(f"{label}: entry_points.{name}: {problem}")
    if resolve and manifest is not None:
        lines += [f"{label}: {line}" for line in _host_entry_problems(manifest)]
        if source is not None:
            lines += [f"{label}: {line}" for line in _model_file_problems(manifest.models, source.parent)]
    if lines:
        raise ManifestError("\n".join(lines))
    assert manifest is not None
    manifest._source = source
    return manifest


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
    data = read_manifest_json(file)
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
                f"check the name after the colon{did_you_mean(attr, candidates)}"
            )
        target = getattr(target, attr)
    if not callable(target):
        kind = type(target).__name__
        return None, f"{spec!r} is {article(kind)} {kind}, not a callable; point it at a function or class"
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
            problems.append(f"{manifest.label}: entry_points.{name}: {problem}")
    return problems


def _host_entry_problems(manifest: Manifest) -> list[str]:
    """`hosts[i].entry: why` for each host whose own 'module:callable' does not resolve."""
    problems: list[str] = []
    for index, host in enumerate(manifest.hosts):
        if host.entry_spec is not None:
            _, problem = _try_resolve(host.entry_spec)
            if problem:
                problems.append(f"hosts[{index}].entry: {problem}")
    return problems


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _model_file_problems(models: tuple[ModelEntry, ...], bundle: Path) -> list[str]:
    """`models[i].file: why` for each listed model whose archive is not in the bundle exactly as pinned.

    Only `mytalk validate` (resolve=True) runs this: hashing a model takes seconds, and discovery must
    stay cheap. A bundle that ships a model must ship the very file its entry pins, or every
    `mytalk models install NAME` from it would be refused.
    """
    problems: list[str] = []
    for index, model in enumerate(models):
        path = bundle / model.file
        if not path.is_file():
            problems.append(f"models[{index}].file: {model.file!r} is not in the bundle ({path}); put the archive "
                            "'mytalk models pack' wrote there, or remove the entry")
        elif path.stat().st_size != model.size:
            problems.append(f"models[{index}].size: the bundle's {model.file} is {path.stat().st_size} bytes, the "
                            f"entry says {model.size}; paste the entry 'mytalk models pack' printed for this file")
        elif _file_sha256(path) != model.sha256:
            problems.append(f"models[{index}].sha256: the bundle's {model.file} has another SHA-256 than the entry; "
                            "paste the entry 'mytalk models pack' printed for this file")
    return problems


def check_host_entries(manifest: Manifest) -> list[str]:
    """Resolve each host's own 'module:callable' entry; one error line per failure (empty when all resolve)."""
    return [f"{manifest.label}: {line}" for line in _host_entry_problems(manifest)]


def validate_settings(manifest: Manifest, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check user settings against the manifest's schema and return them merged over the defaults.

    The same check the CLI, the runtime and the panel run (`mytalk.core.settings.check_values`):
    every bad setting is reported at once, with its allowed values, in one `UsageError`.
    """
    return with_defaults(manifest.settings, values)


def validate_command(path: str | None) -> int:
    """What `mytalk validate [MANIFEST]` runs: full validation including entry point imports.

    Prints `manifest.json: OK (<id>, <version>, N entry points resolved)` (with `and M host
    entries` when hosts name their own callables) and returns 0, or prints the error lines to
    stderr and returns 2 (the exit code of every `MyTalkError`).
    """
    try:
        manifest = load_manifest(Path(path) if path else None, resolve=True)
    except ManifestError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    count = len(manifest.entry_points.items())
    hosts = sum(host.entry_spec is not None for host in manifest.hosts)
    resolved = f"{count} entry points" + (f" and {hosts} host entries" if hosts else "")
    print(f"{manifest.label}: OK ({manifest.id}, {manifest.version}, {resolved} resolved)")
    return 0
