"""One settings schema: the CLI, the runtime and the panel are built from `manifest.json` and refuse
a bad value in the same words; adding a setting is one entry in the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import run_mytalk
from mytalk.core.engines import ENGINES, create_engine
from mytalk.core.engines.base import EngineSettings
from mytalk.core.errors import ManifestError, UsageError
from mytalk.core.jobs.commands import JobSession
from mytalk.core.runtime.server import RuntimeServer
from mytalk.core.settings import check_attributes, default_manifest_path, load_settings, shipped_settings
from mytalk.plugin import cli
from mytalk.plugin.manifest import load_manifest

# setting, value as typed on the command line, value as sent by the panel and the runtime, message
BAD_VALUES = [
    pytest.param("openness", "2.5", 2.5, "setting 'openness': must be between 0.0 and 2.0 (got 2.5)", id="openness"),
    pytest.param("smoothing", "-0.1", -0.1, "setting 'smoothing': must be between 0.0 and 1.0 (got -0.1)",
                 id="smoothing"),
    pytest.param("handles", "-1", -1, "setting 'handles': must be >= 0 (got -1)", id="handles"),
    pytest.param("codec", "mp4", "mp4",
                 "setting 'codec': must be one of ['ffv1', 'prores', 'prores4444', 'dnxhr', 'h264'] (got 'mp4')",
                 id="codec"),
    pytest.param("mask_mode", "Mouth", "Mouth",
                 "setting 'mask_mode': must be one of ['mouth', 'lower-face', 'auto'] (got 'Mouth'); "
                 "did you mean 'mouth'?", id="mask-typo"),
]


def _flag(name: str) -> str:
    return "--mask" if name == "mask_mode" else f"--{name.replace('_', '-')}"


def _cli_error(name: str, typed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = cli.main(["sync", str(tmp_path / "clip.mov"), "--audio", str(tmp_path / "line.wav"),
                     "-o", str(tmp_path / "out.mov"), f"{_flag(name)}={typed}"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("mytalk: error: ")
    return err.removeprefix("mytalk: error: ").rstrip("\n")


def _runtime_error(name: str, value: Any, tmp_path: Path) -> dict[str, Any]:
    lines: list[str] = []
    server = RuntimeServer(lines.append, JobSession(preview_dir=tmp_path / "previews"))
    request = {"video": str(tmp_path / "clip.mov"), "audio": str(tmp_path / "line.wav"),
               "output": str(tmp_path), name: value}
    server.handle_line(json.dumps({"v": 1, "type": "preview", "id": "p1", "request": request}))
    server.handle_line(json.dumps({"v": 1, "type": "shutdown", "id": "s1"}))
    events = [json.loads(line) for line in lines]
    (error,) = [event for event in events if event.get("id") == "p1"]
    assert error["event"] == "error", error
    return error


def _panel_error(name: str, value: Any, qtbot: Any) -> str:
    from mytalk.ui.settings import SettingsPanel

    panel = SettingsPanel()
    qtbot.addWidget(panel)
    before = panel.values()
    with pytest.raises(UsageError) as caught:
        panel.apply({name: value})
    assert panel.values() == before, "a refused value must leave the widgets as they were"
    return str(caught.value)


@pytest.mark.parametrize(("name", "typed", "value", "message"), BAD_VALUES)
def test_a_bad_value_is_refused_identically_by_cli_runtime_panel_and_engine(  # type: ignore[no-untyped-def]
        name: str, typed: str, value: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        qtbot, isolated_user_dirs: Path) -> None:
    error = _runtime_error(name, value, tmp_path)
    assert (error["message"], error["code"]) == (message, "UsageError")
    assert _cli_error(name, typed, tmp_path, capsys) == message
    assert _panel_error(name, value, qtbot) == message
    if hasattr(EngineSettings, name):  # what the engines check when called directly (benchmarks)
        with pytest.raises(UsageError) as caught:
            check_attributes(shipped_settings(), EngineSettings(**{name: value}), (name,))
        assert str(caught.value) == message


def test_the_console_script_refuses_openness_2_5_with_one_line(tmp_path: Path) -> None:
    result = run_mytalk("sync", tmp_path / "clip.mov", "--audio", tmp_path / "line.wav", "-o", tmp_path / "o.mov",
                        "--openness", "2.5")
    assert result.code == 2
    assert result.stderr_lines == ["mytalk: error: setting 'openness': must be between 0.0 and 2.0 (got 2.5)"]


def test_a_value_that_is_not_a_number_is_a_usage_error_naming_the_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = _cli_error("openness", "wide", tmp_path, capsys)
    assert "argument --openness: must be a number between 0.0 and 2.0 (got 'wide')" in message


def _sync_options() -> dict[str, Any]:
    parser = cli.build_parser()
    sync = parser._subparsers._group_actions[0].choices["sync"]  # type: ignore[union-attr]
    return {action.dest: action for action in sync._actions}


def test_every_setting_is_a_cli_option_with_the_schema_default_and_help() -> None:
    options = _sync_options()
    for name, setting in shipped_settings().items():
        assert name in options, name
        assert setting.description.replace("%", "%%") in options[name].help
        assert options[name].default is None  # the request fills in the manifest default itself
    args = cli.build_parser().parse_args(["sync", "a.mov", "--audio", "b.wav", "-o", "c.mov", "--openness", "1.5"])
    assert args.openness == 1.5 and args.smoothing is None


def test_every_setting_has_a_panel_widget_or_a_panel_action(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDoubleSpinBox

    from mytalk.ui.settings import PANEL_DECIDES, SettingsPanel

    panel = SettingsPanel()
    qtbot.addWidget(panel)
    schema = shipped_settings()
    assert set(panel.widgets) | set(PANEL_DECIDES) == set(schema)
    assert not set(panel.widgets) & set(PANEL_DECIDES)
    openness = panel.widgets["openness"]
    assert isinstance(openness, QDoubleSpinBox)
    assert (openness.minimum(), openness.maximum(), openness.value()) == (0.0, 2.0, 1.0)
    assert openness.toolTip() == schema["openness"].description
    values = panel.values()
    assert {name: values[name] for name in schema if name not in ("engine", *PANEL_DECIDES)} == {
        name: setting.default_value for name, setting in schema.items() if name not in ("engine", *PANEL_DECIDES)}
    panel.apply({"openness": 1.5, "mask_mode": "mouth", "handles": 12})
    assert (panel.values()["openness"], panel.values()["mask_mode"], panel.values()["handles"]) == (1.5, "mouth", 12)


LIP_GLOSS = {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.25,
             "description": "Shine painted on the lips; 0 keeps the source's."}


def _manifest_with_lip_gloss(tmp_path: Path) -> Path:
    data = json.loads(default_manifest_path().read_text(encoding="utf-8"))
    data["settings"]["lip_gloss"] = LIP_GLOSS
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_adding_a_setting_is_one_manifest_entry(tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The new entry validates, becomes a CLI option checked by the schema, and a panel widget."""
    from mytalk.ui.settings import SettingsPanel

    path = _manifest_with_lip_gloss(tmp_path)
    assert "lip_gloss" in load_manifest(path, expected_version="0.1.0").settings
    schema = load_settings(path)
    parser = cli.build_parser(schema)
    args = parser.parse_args(["sync", "a.mov", "--audio", "b.wav", "-o", "c.mov", "--lip-gloss", "0.5"])
    assert args.lip_gloss == 0.5
    sync_help = parser._subparsers._group_actions[0].choices["sync"].format_help()  # type: ignore[union-attr]
    assert "--lip-gloss X" in sync_help and "Shine painted on the lips" in " ".join(sync_help.split())
    panel = SettingsPanel(schema=schema)
    qtbot.addWidget(panel)
    assert panel.values()["lip_gloss"] == 0.25
    with pytest.raises(UsageError, match=r"^setting 'lip_gloss': must be between 0.0 and 1.0 \(got 1.5\)$"):
        panel.apply({"lip_gloss": 1.5})


def test_an_added_setting_reaches_the_engine_without_a_field_of_its_own(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With the new entry shipped, `mytalk sync --lip-gloss 0.5` renders, the engine reads the value through
    `EngineSettings.value`, the report records it, and the runtime refuses 1.5 in the schema's words: no
    request or engine field was added for it."""
    from media_factory import make_click_wav, make_ffv1
    from mytalk.core.jobs import request as request_module
    from mytalk.core.runtime import protocol

    schema = load_settings(_manifest_with_lip_gloss(tmp_path))
    for module in (request_module, protocol, cli):
        monkeypatch.setattr(module, "shipped_settings", lambda: schema)
    clip = make_ffv1(tmp_path / "clip.mkv")
    line = make_click_wav(tmp_path / "line.wav", rate=16_000, num_samples=16_000, clicks=[4000, 8000])
    out, report = tmp_path / "out.mkv", tmp_path / "out.json"
    assert cli.main(["sync", str(clip), "--audio", str(line), "-o", str(out), "--report", str(report),
                     "--engine", "copy", "--lip-gloss", "0.5", "--quiet"]) == 0
    assert json.loads(report.read_text())["settings"]["lip_gloss"] == 0.5
    request = request_module.SyncRequest.with_settings(video=clip, audio=line, output=out, lip_gloss=0.75)
    assert request_module.resolve_request(request).settings.value("lip_gloss") == 0.75
    default = request_module.SyncRequest.with_settings(video=clip, audio=line, output=out)
    assert request_module.resolve_request(default).settings.value("lip_gloss") == 0.25
    with pytest.raises(UsageError, match=r"^setting 'lip_gloss': must be between 0.0 and 1.0 \(got 1.5\)$"):
        protocol.sync_request_from_json({"video": str(clip), "audio": str(line), "output": str(out), "lip_gloss": 1.5})


def test_a_bad_setting_in_a_manifest_copy_names_its_path(tmp_path: Path) -> None:
    path = _manifest_with_lip_gloss(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace('"default": 0.25', '"default": 1.25'), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"^manifest.json: settings.lip_gloss.default: must be between 0.0 and 1.0"):
        load_settings(path)


def test_every_engine_declares_settings_the_request_knows() -> None:
    """An engine's `settings_honoured` names manifest settings or request inputs, never a typo."""
    known = set(shipped_settings()) | set(EngineSettings.__dataclass_fields__)
    for name in ENGINES:
        honoured = type(create_engine(name)).settings_honoured()
        assert set(honoured) <= known, (name, set(honoured) - known)


def test_the_manifest_engines_are_all_installed() -> None:
    assert set(shipped_settings()["engine"].enum or ()) <= set(ENGINES)
