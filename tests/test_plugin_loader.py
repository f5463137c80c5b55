"""Discovery returns every plugin with its error, `mytalk validate` reports like a CLI should, and a
timeline file opens through the manifest host that lists its suffix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from test_hosts_otio import build_cut

from mytalk.core.errors import ManifestError, MediaNotFoundError, UsageError
from mytalk.plugin.hosts.otio_timeline import OtioTimeline
from mytalk.plugin.hosts.timeline import TimelineHost
from mytalk.plugin.loader import PluginRecord, discover, host_for, load_entry, open_timeline
from mytalk.plugin.manifest import (
    Manifest,
    default_manifest_path,
    load_manifest,
    parse_manifest,
    validate_command,
    validate_settings,
)


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
    assert captured.out == "manifest.json: OK (com.mytalk.lipsync, 0.1.0, 6 entry points and 5 host entries resolved)\n"
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


# --- timeline files open through the manifest's hosts --------------------------------------------


def shipped_with(app: str, entry: str) -> Manifest:
    """The shipped manifest with host `app`'s entry replaced (parsed, not resolved: as the loader sees it)."""
    data: dict[str, Any] = json.loads(default_manifest_path().read_text(encoding="utf-8"))
    (host,) = [host for host in data["hosts"] if host["app"] == app]
    host["entry"] = entry
    return parse_manifest(data)


def test_an_otio_cut_opens_through_the_opentimelineio_entry(tmp_path: Path) -> None:
    cut = tmp_path / "CUT.otio"
    otio.adapters.write_to_file(build_cut(), str(cut))
    host = open_timeline([load_manifest()], cut)
    assert type(host) is OtioTimeline and isinstance(host, TimelineHost)
    assert host.path == cut and [clip.name for clip in host.clips()] == ["intro", "swalwell"]
    assert host.record_timecode(host.parse_record("01:00:02:10")) == "01:00:02:10"


@pytest.mark.parametrize(("name", "app"), [("cut.edl", "opentimelineio"), ("CUT.XML", "opentimelineio"),
                                           ("reel.kdenlive", "kdenlive"), ("reel.mlt", "shotcut")])
def test_the_host_is_picked_by_suffix_in_any_case(name: str, app: str) -> None:
    manifest = load_manifest()
    picked, host = host_for([manifest], Path(name))
    assert picked is manifest and host.app == app


def test_an_unknown_suffix_is_one_usage_error_listing_the_offered_formats(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        open_timeline([load_manifest()], tmp_path / "cut.aaf")
    assert str(caught.value) == "cut.aaf: no host opens '.aaf' files; the manifest offers .otio, .edl, .xml, .kdenlive, .mlt"
    assert caught.value.exit_code == 2
    with pytest.raises(UsageError, match=r"^cut: no host opens files without a suffix; the manifest offers \.otio"):
        open_timeline([load_manifest()], tmp_path / "cut")


def test_a_broken_entry_is_one_clear_manifest_error(tmp_path: Path) -> None:
    manifest = shipped_with("opentimelineio", "mytalk.plugin.hosts.nowhere:open_timeline")
    with pytest.raises(ManifestError) as caught:
        open_timeline([manifest], tmp_path / "CUT.otio")
    assert str(caught.value) == (
        "entry point 'hosts.opentimelineio': cannot import 'mytalk.plugin.hosts.nowhere:open_timeline': module "
        "'mytalk.plugin.hosts.nowhere' not found; check the module path or install the package that provides it")


def test_an_entry_that_returns_no_timeline_host_is_refused(tmp_path: Path) -> None:
    manifest = shipped_with("opentimelineio", "pathlib:Path")
    with pytest.raises(ManifestError, match=r"^manifest.json: hosts 'opentimelineio': 'pathlib:Path' returned "
                                            r"PosixPath, not a timeline host"):
        open_timeline([manifest], tmp_path / "CUT.otio")


def test_the_host_reports_a_file_it_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match="timeline not found"):
        open_timeline([load_manifest()], tmp_path / "missing.otio")
