"""Table-driven bad manifests, one per row: each names the exact JSON path and nothing else.

Each row starts from the shipped manifest with its entry points pointed at callables that exist
today (so resolution problems come only from the row), breaks it in one way, and checks that
the error lists exactly the expected `manifest.json: <path>: ` lines.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mytalk.core.errors import ManifestError, MyTalkError
from mytalk.plugin.manifest import default_manifest_path, load_manifest, parse_manifest

PACKAGE_VERSION = "0.1.0"
GOOD_MODEL = {
    "name": "mouth-generator",
    "version": "1.0.0",
    "file": "models/mouth.safetensors",
    "sha256": "0" * 64,
    "size": 1024,
    "license": "CC-BY-4.0",
}


def resolvable_manifest() -> dict[str, Any]:
    """The shipped manifest, with entry points and host entries that resolve today to cheap, existing
    callables (a host's real entry may be a module still being written, or slow to import)."""
    data: dict[str, Any] = json.loads(default_manifest_path().read_text(encoding="utf-8"))
    data["entry_points"] = {
        "panel": "mytalk.plugin.manifest:load_manifest",
        "commands": {
            "preview": "mytalk.plugin.manifest:validate_settings",
            "commit": "mytalk.plugin.manifest:validate_settings",
            "cancel": "mytalk.plugin.manifest:check_entry_points",
        },
        "cli": "mytalk.plugin.manifest:validate_command",
        "runtime": "mytalk.plugin.loader:discover",
    }
    for host in data["hosts"]:
        if ":" in host.get("entry", ""):
            host["entry"] = "mytalk.plugin.loader:host_for"
    return data


def _set(dotted: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets `a.b[0].c`-style paths (indices written as plain parts: 'hosts.2.app')."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _delete(dotted: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[last]

    return mutate


def _model(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return _set("models", [{**GOOD_MODEL, **changes}])


def _all(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(data)

    return mutate


# (mutation, [(json path, fragment of its message)]) — one bad manifest per row.
BAD_MANIFESTS = [
    pytest.param(
        _set("entrypoint", "mytalk.plugin.cli:main"),
        [("entrypoint", "unknown key 'entrypoint'; did you mean 'entry_points'?")],
        id="unknown-top-level-key",
    ),
    pytest.param(
        _set("runtime.pyhton", ">=3.11"),
        [("runtime.pyhton", "unknown key 'pyhton'; did you mean 'python'?")],
        id="unknown-nested-key",
    ),
    pytest.param(
        _set("permissions.filesystem.read", ["anywhere"]),
        [("permissions.filesystem.read", "unknown key 'read'; remove it (allowed keys: write)")],
        id="unknown-key-without-close-match",
    ),
    pytest.param(_delete("id"), [("id", "missing required key; add it (a reverse-DNS id")], id="missing-id"),
    pytest.param(_set("id", "MyTalk Lipsync"), [("id", "must be a lower-case reverse-DNS id")], id="bad-id"),
    pytest.param(_set("id", "mytalk"), [("id", "reverse-DNS")], id="id-without-dots"),
    pytest.param(_set("version", "0.1"), [("version", "must be a SemVer version")], id="version-not-semver"),
    pytest.param(
        _set("version", "0.2.0"),
        [("version", "must equal the package version '0.1.0' (got '0.2.0')")],
        id="version-mismatch",
    ),
    pytest.param(
        _set("manifest_version", 2), [("manifest_version", "must be one of [1] (got 2)")], id="manifest-v2"
    ),
    pytest.param(
        _set("entry_points.panel", "mytalk.ui.panel.create_panel"),
        [("entry_points.panel", "exactly one ':'")],
        id="entry-point-without-colon",
    ),
    pytest.param(
        _set("entry_points.commands.preview", "mytalk.core.jobs:commands:preview"),
        [("entry_points.commands.preview", "exactly one ':'")],
        id="entry-point-two-colons",
    ),
    pytest.param(
        _set("entry_points.cli", "mytalk.plugin.cli:main()"),
        [("entry_points.cli", "callable part 'main()' is not a dotted Python name")],
        id="entry-point-not-identifier",
    ),
    pytest.param(
        _delete("entry_points.commands.cancel"),
        [("entry_points.commands.cancel", "missing required command")],
        id="entry-point-command-missing",
    ),
    pytest.param(
        _set("entry_points.commands.preview", "mytalk.plugin.no_such_module:preview"),
        [("entry_points.commands.preview", "module 'mytalk.plugin.no_such_module' not found")],
        id="entry-point-module-missing",
    ),
    pytest.param(
        _set("entry_points.cli", "mytalk.plugin.manifest:no_such_callable"),
        [("entry_points.cli", "'mytalk.plugin.manifest' has no attribute 'no_such_callable'")],
        id="entry-point-attribute-missing",
    ),
    pytest.param(
        _set("entry_points.runtime", "mytalk.plugin.manifest:MANIFEST_FILENAME"),
        [("entry_points.runtime", "is a str, not a callable")],
        id="entry-point-not-callable",
    ),
    pytest.param(
        _set("permissions.network", "loopback"),
        [("permissions.network", "must be one of ['none'] (got 'loopback')")],
        id="network-not-none",
    ),
    pytest.param(
        _set("runtime.ipc", "tcp"), [("runtime.ipc", "must be one of ['pipe'] (got 'tcp')")], id="ipc-tcp"
    ),
    pytest.param(
        _set("runtime.device.preference", ["gpu"]),
        [("runtime.device.preference[0]", "must be one of ['cuda', 'cpu'] (got 'gpu')")],
        id="device-unknown",
    ),
    pytest.param(
        _set("runtime.python", "3.11"), [("runtime.python", "version specifier")], id="python-not-a-specifier"
    ),
    pytest.param(
        _model(sha256="ab" * 31), [("models[0].sha256", "64 lower-case hex digits")], id="sha256-short"
    ),
    pytest.param(
        _model(sha256="AB" * 32), [("models[0].sha256", "64 lower-case hex digits")], id="sha256-upper"
    ),
    pytest.param(
        _model(file="../weights/mouth.safetensors"),
        [("models[0].file", "must not contain '..'")],
        id="model-dotdot",
    ),
    pytest.param(
        _model(file="/opt/weights/mouth.safetensors"),
        [("models[0].file", "relative path")],
        id="model-absolute",
    ),
    pytest.param(
        _model(size=-1), [("models[0].size", "integer >= 0 (got integer -1)")], id="model-size-negative"
    ),
    pytest.param(_model(size="1 KB"), [("models[0].size", "(got string '1 KB')")], id="model-size-string"),
    pytest.param(
        _set("settings.engine.default", "neural"),
        [("settings.engine.default", "must be one of ['classic', 'mytalk', 'copy', 'classic-neural', 'neural-classic'] (got 'neural')")],
        id="setting-default-outside-enum",
    ),
    pytest.param(
        _set("settings.openness.default", 2.5),
        [("settings.openness.default", "must be between 0.0 and 2.0 (got 2.5)")],
        id="setting-default-out-of-range",
    ),
    pytest.param(
        _set("settings.smoothing.default", "0.5"),
        [("settings.smoothing.default", "must be a number (got string '0.5')")],
        id="setting-wrong-type",
    ),
    pytest.param(
        _set("settings.handles.default", 0.5),
        [("settings.handles.default", "must be an integer (got number 0.5)")],
        id="setting-float-for-integer",
    ),
    pytest.param(
        _set("settings.openness.minimum", 3.0),
        [("settings.openness.minimum", "must not exceed maximum 2.0")],
        id="setting-range-reversed",
    ),
    pytest.param(
        _set("settings.quality.type", "str"),
        [("settings.quality.type", "must be one of ['string', 'number', 'integer', 'boolean'] (got 'str')")],
        id="setting-unknown-type",
    ),
    pytest.param(
        _set("settings.codec.enum", ["ffv1", "prores", "prores4444", "dnxhr", "h264", "av1"]),
        [("settings.codec.enum", "'av1' is not an output preset")],
        id="codec-without-preset",
    ),
    pytest.param(
        _delete("hosts.2.integration"),
        [
            (
                "hosts[2].integration",
                "missing required key; add it (one of ['standalone', 'file-roundtrip', 'script', 'extension'])",
            )
        ],
        id="host-missing-integration",
    ),
    pytest.param(
        _set("hosts.0.entry", "pannel"),
        [("hosts[0].entry", "did you mean 'panel'?")],
        id="host-entry-unknown",
    ),
    pytest.param(
        _set("hosts.1.entry", "mytalk.plugin.hosts.otio_timeline:"),
        [("hosts[1].entry", "callable part '' is not a dotted Python name")],
        id="host-entry-spec-syntax",
    ),
    pytest.param(
        _set("hosts.1.entry", "mytalk.plugin.hosts.nowhere:open_timeline"),
        [("hosts[1].entry", "module 'mytalk.plugin.hosts.nowhere' not found")],
        id="host-entry-not-importable",
    ),
    pytest.param(
        _set("hosts.1.entry", "mytalk.plugin.loader:no_such_opener"),
        [("hosts[1].entry", "has no attribute 'no_such_opener'")],
        id="host-entry-no-callable",
    ),
    pytest.param(
        _delete("hosts.1.entry"),
        [("hosts[1].entry", "lists formats ['.otio', '.edl', '.xml'] but no entry")],
        id="host-formats-without-entry",
    ),
    pytest.param(
        _set("hosts.5.integration", "addon"),
        [("hosts[5].integration", "one of ['standalone', 'file-roundtrip', 'script', 'extension']")],
        id="host-integration-unknown",
    ),
    pytest.param(
        _set("hosts.1.formats", [".otio", "edl"]),
        [("hosts[1].formats[1]", "file extension such as '.otio'")],
        id="host-format-without-dot",
    ),
    pytest.param(
        _set("inputs.frame_rates", ["24", "25DF"]),
        [("inputs.frame_rates[1]", "drop-frame exists only for ['29.97', '59.94']")],
        id="drop-frame-at-25",
    ),
    pytest.param(
        _set("capabilities", ["lipsnyc"]),
        [("capabilities[0]", "did you mean 'lipsync'?")],
        id="capability-typo",
    ),
    pytest.param(
        _set("permissions.filesystem.write", ["output-folder", "home"]),
        [("permissions.filesystem.write[1]", "must be one of ['output-folder', 'user-cache', 'user-data']")],
        id="write-scope-unknown",
    ),
    pytest.param(
        _set("outputs.prores.lossless", "yes"),
        [("outputs.prores.lossless", "must be true or false (got string 'yes')")],
        id="preset-bool-as-string",
    ),
    pytest.param(
        _all(_set("runtime.ipc", "tcp"), _set("permissions.network", "any")),
        [
            ("runtime.ipc", "must be one of ['pipe'] (got 'tcp')"),
            ("permissions.network", "must be one of ['none'] (got 'any')"),
        ],
        id="two-problems-two-lines",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_MANIFESTS)
def test_bad_manifest_names_each_bad_field(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str]]
) -> None:
    data = resolvable_manifest()
    mutate(data)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, expected_version=PACKAGE_VERSION, resolve=True)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(expected), lines  # exactly the row's problems: no knock-on noise
    for line, (json_path, fragment) in zip(lines, expected, strict=True):
        assert line.startswith(f"manifest.json: {json_path}: "), line
        assert fragment in line, line


def test_the_resolvable_base_manifest_is_valid() -> None:
    """Guards the table: every row must fail because of its own change only."""
    manifest = parse_manifest(resolvable_manifest(), expected_version=PACKAGE_VERSION, resolve=True)
    assert manifest.id == "com.mytalk.lipsync"


def test_ipc_message_matches_the_documented_format() -> None:
    data = resolvable_manifest()
    data["runtime"]["ipc"] = "tcp"
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, expected_version=PACKAGE_VERSION)
    assert str(caught.value) == "manifest.json: runtime.ipc: must be one of ['pipe'] (got 'tcp')"


def test_a_manifest_error_is_a_user_error_with_exit_code_2() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"id": "com.example.x"})
    assert isinstance(caught.value, MyTalkError)
    assert isinstance(caught.value, ValueError)  # so callers that catch ValueError still see it
    assert ManifestError.exit_code == 2


def test_every_missing_section_is_listed() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"id": "com.example.x"})
    paths = [line.split(": ")[1] for line in str(caught.value).splitlines()]
    assert "id" not in paths
    assert {"version", "entry_points", "hosts", "runtime", "models", "settings", "permissions"} <= set(paths)


def test_missing_entry_point_module_is_found_only_when_resolving() -> None:
    """Discovery must not import: a module that does not exist yet passes the static check."""
    data = resolvable_manifest()
    data["entry_points"]["panel"] = "mytalk.ui.not_written_yet:create_panel"
    assert parse_manifest(data, expected_version=PACKAGE_VERSION).entry_points.panel.startswith("mytalk.ui.")
    with pytest.raises(ManifestError, match="entry_points.panel: .*not found"):
        parse_manifest(data, expected_version=PACKAGE_VERSION, resolve=True)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(
        ManifestError, match=r"^manifest.json: \(top level\): must be an object \(got array\)$"
    ):
        parse_manifest([1, 2])


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{\n  "id": "com.example.x",\n  "name" "x"\n}\n', encoding="utf-8")
    with pytest.raises(ManifestError, match=r"^manifest.json: line 3 column 10: invalid JSON"):
        load_manifest(path)


def test_duplicate_json_keys_are_reported(tmp_path: Path) -> None:
    """JSON silently keeps the last of two equal keys; the author almost certainly meant one."""
    text = json.dumps(resolvable_manifest(), indent=2)
    text = text.replace('"ipc": "pipe"', '"ipc": "pipe", "ipc": "pipe"')
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=r"^manifest.json: runtime.ipc: key 'ipc' appears more than once"):
        load_manifest(path, expected_version=PACKAGE_VERSION)


def test_nan_is_not_json(tmp_path: Path) -> None:
    text = json.dumps(resolvable_manifest()).replace('"default": 0.5', '"default": NaN')
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match="NaN is not valid JSON"):
        load_manifest(path, expected_version=PACKAGE_VERSION)


def test_a_valid_model_entry_is_accepted() -> None:
    data = resolvable_manifest()
    data["models"] = [copy.deepcopy(GOOD_MODEL)]
    (model,) = parse_manifest(data, expected_version=PACKAGE_VERSION).models
    assert (model.file, model.size) == ("models/mouth.safetensors", 1024)
