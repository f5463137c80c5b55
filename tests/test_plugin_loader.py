"""Discovery returns every plugin with its error, and `mytalk validate` reports like a CLI should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mytalk.core.errors import ManifestError
from mytalk.plugin.loader import PluginRecord, discover, load_entry
from mytalk.plugin.manifest import default_manifest_path, validate_command, validate_settings


def resolvable_manifest() -> dict[str, Any]:
    """The shipped manifest, with entry points that resolve today to cheap, existing callables."""
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
    return data


def write_bundle(folder: Path, data: dict[str, Any] | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    """A plugins folder holding one good bundle and one broken one (ipc over TCP)."""
    write_bundle(tmp_path / "plugins" / "a-good", resolvable_manifest())
    broken = resolvable_manifest()
    broken["id"] = "com.example.broken"
    broken["runtime"]["ipc"] = "tcp"
    write_bundle(tmp_path / "plugins" / "b-broken", broken)
    return tmp_path / "plugins"


def test_discover_returns_the_good_and_the_broken_plugin(plugins: Path) -> None:
    good, broken = discover([plugins])
    assert good.ok and good.error is None and good.manifest is not None
    assert good.manifest.id == "com.mytalk.lipsync" and good.path == plugins / "a-good" / "manifest.json"
    assert not broken.ok and broken.manifest is None and broken.path == plugins / "b-broken" / "manifest.json"
    assert broken.error == "manifest.json: runtime.ipc: must be one of ['pipe'] (got 'tcp')"


def test_discover_accepts_files_bundles_and_folders_of_bundles(plugins: Path) -> None:
    records = discover([plugins / "a-good" / "manifest.json", plugins / "b-broken"])
    assert [record.ok for record in records] == [True, False]


def test_discover_reports_a_path_without_a_manifest(tmp_path: Path) -> None:
    (record,) = discover([tmp_path / "empty"])
    assert record.manifest is None and record.error is not None and "no manifest" in record.error


def test_discover_reports_invalid_json_and_goes_on(tmp_path: Path) -> None:
    write_bundle(tmp_path / "a-bad-json", "{ not json")
    write_bundle(tmp_path / "b-good", resolvable_manifest())
    bad, good = discover([tmp_path])
    assert bad.error is not None and "invalid JSON" in bad.error
    assert good.ok


def test_discover_rejects_a_second_plugin_with_the_same_id(tmp_path: Path) -> None:
    write_bundle(tmp_path / "first", resolvable_manifest())
    write_bundle(tmp_path / "second", resolvable_manifest())
    first, second = discover([tmp_path])
    assert first.ok and not second.ok
    assert second.error is not None and "'com.mytalk.lipsync' is already provided by" in second.error


def test_discover_imports_nothing(tmp_path: Path) -> None:
    """A bundle whose modules are not importable still lists; it fails only when an entry is loaded."""
    data = resolvable_manifest()
    data["entry_points"]["panel"] = "mytalk_not_installed.panel:create_panel"
    (record,) = discover([write_bundle(tmp_path / "lazy", data)])
    assert record.ok
    with pytest.raises(ManifestError, match=r"entry point 'panel'.*'mytalk_not_installed' not found"):
        load_entry(record, "panel")


def test_load_entry_resolves_by_name(plugins: Path) -> None:
    good, _ = discover([plugins])
    assert load_entry(good, "commands.preview") is validate_settings
    assert load_entry(good, "cli") is validate_command


def test_load_entry_names_an_unknown_entry_point(plugins: Path) -> None:
    good, _ = discover([plugins])
    with pytest.raises(ManifestError, match=r"no entry point named 'pannel'.*did you mean 'panel'\?"):
        load_entry(good, "pannel")


def test_load_entry_on_a_broken_record_raises_its_discovery_error(plugins: Path) -> None:
    _, broken = discover([plugins])
    with pytest.raises(ManifestError, match=r"runtime\.ipc"):
        load_entry(broken, "panel")


def test_plugin_record_is_plain_data(tmp_path: Path) -> None:
    record = PluginRecord(manifest=None, path=tmp_path / "manifest.json", error="manifest.json: id: bad")
    assert not record.ok


# --- mytalk validate ---------------------------------------------------------------------------


def test_validate_command_prints_ok_and_returns_0(plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_command(str(plugins / "a-good" / "manifest.json")) == 0
    captured = capsys.readouterr()
    assert captured.out == "manifest.json: OK (com.mytalk.lipsync, 0.1.0, 6 entry points resolved)\n"
    assert captured.err == ""


def test_validate_command_accepts_a_bundle_folder(plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_command(str(plugins / "a-good")) == 0
    assert capsys.readouterr().out.startswith("manifest.json: OK (")


def test_validate_command_prints_every_error_line_to_stderr_and_returns_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = resolvable_manifest()
    data["permissions"]["network"] = "loopback"
    data["entry_points"]["cli"] = "mytalk.plugin.manifest:no_such_callable"
    path = write_bundle(tmp_path / "bad", data)
    assert validate_command(str(path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["permissions.network", "entry_points.cli"]
    assert all(line.startswith("manifest.json: ") for line in lines)


def test_validate_command_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_command(str(tmp_path / "nowhere.json")) == 2
    err = capsys.readouterr().err
    assert err.startswith("nowhere.json: cannot read ") and err.count("\n") == 1
