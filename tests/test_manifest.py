"""The shipped manifest.json: it validates, matches the package, and its settings schema holds."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import pathlib
import subprocess
import sys
import tomllib

import pydantic
import pytest

from conftest import REPO_ROOT
from mytalk.core.errors import ManifestError, UsageError
from mytalk.plugin.manifest import (
    Manifest,
    check_entry_points,
    check_host_entries,
    default_manifest_path,
    load_manifest,
    resolve_entry_point,
    validate_command,
    validate_settings,
)

HEAVY_MODULES = ("PySide6", "torch", "av", "mediapipe")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


def _shipped_entry_points() -> list[tuple[str, str]]:
    return load_manifest().entry_points.items()


def _shipped_host_entries() -> list[tuple[str, str]]:
    return [(host.app, host.entry_spec) for host in load_manifest().hosts
            if host.entry_spec is not None]


def test_shipped_manifest_loads_and_validates(manifest: Manifest) -> None:
    assert manifest.id == "com.mytalk.lipsync"
    assert manifest.name == "mytalk" and manifest.display_name == "MyTalk"
    assert manifest.manifest_version == 1
    assert manifest.source == default_manifest_path()
    assert manifest.models == ()  # the classic engine needs no weights; neural weights are never shipped


def test_default_path_is_the_repository_root_file_in_a_source_tree() -> None:
    assert default_manifest_path() == REPO_ROOT / "manifest.json"


def test_manifest_version_equals_the_package_version(manifest: Manifest) -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest.version == importlib.metadata.version("mytalk") == pyproject["project"]["version"]


def test_shipped_manifest_promises_what_the_product_needs(manifest: Manifest) -> None:
    assert manifest.runtime.ipc == "pipe"
    assert manifest.permissions.network == "none"
    assert {host.integration for host in manifest.hosts} == {"standalone", "file-roundtrip", "script", "extension"}
    assert {"29.97DF", "59.94DF", "23.976"} <= set(manifest.inputs.frame_rates)
    assert manifest.outputs["h264"].use == "preview"
    assert all(preset.use == "final" for name, preset in manifest.outputs.items() if name != "h264")
    assert set(manifest.settings["codec"].enum or ()) == set(manifest.outputs)


def test_each_output_preset_names_a_container_the_writer_gives_it(manifest: Manifest) -> None:
    """A host reads `outputs` to know what a render will be: each container is one the writer's codec goes in."""
    from mytalk.core.media.writer import CODEC_PRESETS

    assert set(manifest.outputs) == set(CODEC_PRESETS)
    for name, preset in manifest.outputs.items():
        assert preset.container in CODEC_PRESETS[name].extensions, name


def test_shipped_hosts_and_their_entries(manifest: Manifest) -> None:
    hosts = {host.app: (host.integration, host.min_version, host.formats, host.entry) for host in manifest.hosts}
    timeline = "mytalk.plugin.hosts.mlt_timeline:open_timeline"
    assert hosts == {
        "standalone": ("standalone", "0.1.0", (), "panel"),
        "opentimelineio": ("file-roundtrip", "0.17", (".otio", ".edl", ".xml"),
                           "mytalk.plugin.hosts.otio_timeline:open_timeline"),
        "davinci-resolve": ("script", "19.1", (), "mytalk.plugin.hosts.resolve:main"),
        "kdenlive": ("file-roundtrip", "20.08", (".kdenlive",), timeline),
        "shotcut": ("file-roundtrip", "24.02", (".mlt",), timeline),
        "blender": ("extension", "4.2", (), "mytalk.plugin.hosts.blender_install:extension_path"),
    }


def test_loading_imports_no_entry_point_and_nothing_heavy() -> None:
    """Hosts list the plugin at start-up: neither importing the module nor loading may pull in Qt or torch."""
    code = (
        "import sys, mytalk.plugin.manifest, mytalk.plugin.loader; "
        f"assert not any(m in sys.modules for m in {list(HEAVY_MODULES)!r}), 'heavy import'; "
        "m = mytalk.plugin.manifest.load_manifest(); "
        "mytalk.plugin.loader.discover([m.source]); "
        f"heavy = [m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]; "
        "named = [s.split(':')[0] for _, s in m.entry_points.items()] "
        "+ [h.entry_spec.split(':')[0] for h in m.hosts if h.entry_spec]; "
        "imported = [n for n in named if n in sys.modules]; "
        "assert not heavy and not imported, (heavy, imported)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_importing_the_manifest_module_is_light() -> None:
    code = (
        "import mytalk.plugin.manifest, sys; "
        f"assert not any(m in sys.modules for m in {list(HEAVY_MODULES)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("name", "spec"), _shipped_entry_points(), ids=[n for n, _ in _shipped_entry_points()]
)
def test_every_entry_point_resolves(name: str, spec: str) -> None:
    assert callable(resolve_entry_point(spec, name=name))


@pytest.mark.parametrize(("app", "spec"), _shipped_host_entries(), ids=[a for a, _ in _shipped_host_entries()])
def test_every_host_entry_resolves(app: str, spec: str) -> None:
    assert callable(resolve_entry_point(spec, name=f"hosts.{app}"))


def test_validate_command_accepts_the_shipped_manifest(
    manifest: Manifest, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_entry_points(manifest) == []
    data = json.loads(default_manifest_path().read_text(encoding="utf-8"))
    shipped = tmp_path / "manifest.json"
    shipped.write_text(json.dumps(data), encoding="utf-8")
    assert check_host_entries(load_manifest(shipped)) == []
    assert validate_command(str(shipped)) == 0
    hosts = sum(":" in host.get("entry", "") for host in data["hosts"])
    out = capsys.readouterr().out
    assert out == (f"manifest.json: OK (com.mytalk.lipsync, {manifest.version}, 6 entry points and {hosts} host "
                   "entries resolved)\n")


def test_resolve_entry_point_names_the_entry_point_it_cannot_import() -> None:
    with pytest.raises(ManifestError, match=r"entry point 'panel'.*'mytalk\.plugin\.nowhere' not found"):
        resolve_entry_point("mytalk.plugin.nowhere:create_panel", name="panel")
    assert resolve_entry_point("mytalk.plugin.manifest:load_manifest") is load_manifest


def test_manifest_data_is_read_only(manifest: Manifest) -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        manifest.version = "9.9.9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.settings["engine"] = manifest.settings["codec"]  # type: ignore[index]


# --- settings schema ---------------------------------------------------------------------------


def test_every_setting_default_validates_against_its_own_schema(manifest: Manifest) -> None:
    for name, setting in manifest.settings.items():
        assert setting.problem(setting.default) is None, name


def test_settings_table_is_what_the_panel_and_cli_expect(manifest: Manifest) -> None:
    settings = manifest.settings
    assert (
        settings["engine"].enum == ("classic", "mytalk", "copy", "classic-neural", "neural-classic") and settings["engine"].default == "classic"
    )
    assert settings["motion_driver"].enum == ("auto", "guide", "phonetic", "speech")
    assert (settings["openness"].minimum, settings["openness"].maximum, settings["openness"].default) == (
        0,
        2,
        1,
    )
    assert (settings["smoothing"].minimum, settings["smoothing"].maximum, settings["smoothing"].default) == (
        0,
        1,
        0.5,
    )
    assert settings["mask_mode"].enum == ("mouth", "lower-face", "auto")
    assert settings["codec"].default == "prores"
    assert settings["handles"].type == "integer" and settings["handles"].minimum == 0
    assert settings["quality"].enum == ("preview", "final") and settings["quality"].default == "final"
    assert settings["device"].enum == ("auto", "cpu", "cuda") and settings["device"].default == "auto"
    assert settings["language"].type == "string" and settings["language"].default == "en"
    assert all(setting.description for setting in settings.values())
    assert settings["openness"].allowed() == "a number between 0.0 and 2.0"
    assert settings["handles"].allowed() == "an integer >= 0"
    assert settings["quality"].allowed() == "one of ['preview', 'final']"


def test_validate_settings_returns_the_defaults_when_nothing_is_set(manifest: Manifest) -> None:
    defaults = manifest.setting_defaults()
    assert validate_settings(manifest, {}) == defaults
    assert validate_settings(manifest, defaults) == defaults


def test_validate_settings_merges_over_the_defaults(manifest: Manifest) -> None:
    merged = validate_settings(manifest, {"engine": "copy", "openness": 2, "handles": 12})
    assert merged["engine"] == "copy" and merged["handles"] == 12 and merged["quality"] == "final"
    assert merged["openness"] == 2.0 and isinstance(merged["openness"], float)


BAD_SETTINGS = [
    pytest.param(
        "engine", "neural", "must be one of ['classic', 'mytalk', 'copy', 'classic-neural', 'neural-classic'] (got 'neural')", id="enum"
    ),
    pytest.param("openness", 2.5, "must be between 0.0 and 2.0 (got 2.5)", id="above-range"),
    pytest.param("smoothing", -0.1, "must be between 0.0 and 1.0 (got -0.1)", id="below-range"),
    pytest.param("openness", "1.0", "must be a number (got string '1.0')", id="string-for-number"),
    pytest.param("openness", float("nan"), "must be a number", id="nan"),
    pytest.param("handles", 1.5, "must be an integer (got number 1.5)", id="float-for-integer"),
    pytest.param("handles", True, "must be an integer (got boolean True)", id="bool-for-integer"),
    pytest.param("handles", -1, "must be >= 0 (got -1)", id="negative-handles"),
    pytest.param(
        "codec", "mp4", "must be one of ['ffv1', 'prores', 'prores4444', 'dnxhr', 'h264']", id="codec"
    ),
    pytest.param("device", "gpu", "must be one of ['auto', 'cpu', 'cuda'] (got 'gpu')", id="device"),
    pytest.param("mask_mode", "Mouth", "did you mean 'mouth'?", id="case-typo"),
    pytest.param(
        "opennes",
        1.0,
        "unknown setting; known settings: engine, motion_driver, openness, smoothing, mask_mode, codec, handles, quality, device, language; did you mean 'openness'?",
        id="unknown-setting",
    ),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD_SETTINGS)
def test_validate_settings_rejects_a_bad_value(
    manifest: Manifest, name: str, value: object, expected: str
) -> None:
    with pytest.raises(UsageError) as caught:
        validate_settings(manifest, {name: value})
    assert str(caught.value).startswith(f"setting {name!r}: ")
    assert expected in str(caught.value)


def test_validate_settings_lists_every_bad_setting_at_once(manifest: Manifest) -> None:
    with pytest.raises(UsageError) as caught:
        validate_settings(
            manifest, {"engine": "neural", "openness": 3, "quality": "final", "handles": -2, "x": 1}
        )
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "setting 'engine'",
        "setting 'openness'",
        "setting 'handles'",
        "setting 'x'",
    ]
    assert "known settings: engine, motion_driver" in lines[-1]


def test_settings_json_round_trips(manifest: Manifest) -> None:
    """Defaults are plain JSON values, so the render sidecar can record them verbatim."""
    assert json.loads(json.dumps(manifest.setting_defaults())) == manifest.setting_defaults()
