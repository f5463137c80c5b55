"""Publishing and installing a base model offline (`mytalk models pack|install|list`): a tiny model
trained here is packed, installed under the default name and used by `mytalk sync --engine mytalk`;
every altered, foreign or unpinned archive is refused in one line with exit code 2, leaving the
installed models exactly as they were; `mytalk validate` checks a bundle's archive against its pin."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import CliResult, run_mytalk
from conftest import REPO_ROOT, media_path
from mytalk.core.engines.mytalk.model_bundle import Pin, install_model
from mytalk.core.errors import CheckpointError
from mytalk.plugin.manifest import load_manifest
from mytalk.plugin.models_cli import bundled_archive, manifest_pins

pytestmark = pytest.mark.media

BOB = "hdtf_wda_bobmenendez_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"


def _ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path]:
    """A tiny model trained by the CLI on 2 s of a real clip, packed: (archive, its manifest entry, trainer's home)."""
    clip = media_path("video", BOB)
    root = tmp_path_factory.mktemp("model_bundle")
    home = root / "trainer"
    env = {"MYTALK_HOME": str(home), "OMP_NUM_THREADS": "1"}
    data = root / "data"
    _ok(run_mytalk("dataset", "build", f"{clip}:0-50", "-o", data, "--crop-size", "64", "--quiet", env=env))
    for stage in ("motion", "appearance"):
        _ok(run_mytalk("train", stage, data, "--config", "tiny", "--steps", "30", "--out", "studio", "--quiet", env=env))
    card = root / "card.md"
    card.write_text("Tiny test model: two seconds of one speaker. Not for use.\n")
    archive = root / "studio-0.1.0.mytalk-model"
    done = _ok(run_mytalk("models", "pack", "studio", "-o", archive, "--version", "0.1.0", "--license", "CC-BY-4.0",
                          "--card", card, env=env))
    return archive, json.loads(done.stdout), home


def _models(home: Path) -> dict[str, str]:
    """Every file and folder under the models folder (hidden staging folders included), with its content's hash."""
    root = home / "data" / "models"
    if not root.is_dir():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*"))}


def test_a_packed_model_installs_and_the_engine_uses_it(packed: tuple[Path, dict[str, Any], Path],
                                                        tmp_path: Path) -> None:
    archive, entry, trainer = packed
    assert entry == {"name": "studio", "version": "0.1.0", "file": "models/studio-0.1.0.mytalk-model",
                     "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(), "size": archive.stat().st_size,
                     "license": "CC-BY-4.0"}
    trained = trainer / "data" / "models" / "studio"
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == ["appearance.safetensors", "model.json", "motion.safetensors"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in opened.infolist())
        card = json.loads(opened.read("model.json"))
        for file in ("motion.safetensors", "appearance.safetensors"):  # byte for byte what training wrote
            assert opened.read(file) == (trained / file).read_bytes()
    motion = card["files"]["motion.safetensors"]
    assert (motion["step"], motion["preset"], motion["sha256"]) == (
        30, "tiny", hashlib.sha256((trained / "motion.safetensors").read_bytes()).hexdigest())
    assert motion["config"]["model"] and len(motion["data_hash"]) > 8 and card["mytalk_version"]
    assert card["description"].startswith("Tiny test model") and card["license"] == "CC-BY-4.0"
    assert str(trainer) not in json.dumps(card)  # the trainer's own folders are not published
    trained_here = _ok(run_mytalk("models", "list", env={"MYTALK_HOME": str(trainer)})).stdout
    assert trained_here.startswith("studio: motion 30 steps, appearance 30 steps; trained here"), trained_here

    home = tmp_path / "user"
    env = {"MYTALK_HOME": str(home), "OMP_NUM_THREADS": "1"}
    _ok(run_mytalk("models", "install", archive, "--name", "base", env=env))
    assert sorted(_models(home)) == ["base", "base/appearance.safetensors", "base/installed.json",
                                     "base/motion.safetensors"]
    listed = json.loads(_ok(run_mytalk("models", "list", "--json", env=env)).stdout)
    assert [(m["name"], m["version"], m["license"], m["steps"], m["manifest_pin"]) for m in listed] == [
        ("base", "0.1.0", "CC-BY-4.0", {"motion": 30, "appearance": 30}, None)]
    assert listed[0]["source"] == f"installed from {archive.resolve()}"

    out = tmp_path / "out.mkv"
    report = tmp_path / "out.json"
    _ok(run_mytalk("sync", media_path("video", BOB), "--audio", media_path("audio", LINE), "-o", out, "--in", "100",
                   "--out", "112", "--engine", "mytalk", "--codec", "ffv1", "--reference", "0-50", "--report", report,
                   "--quiet", env=env))
    used = json.loads(report.read_text())
    assert used["engine"]["name"] == "mytalk" and len(used["frames"]) == 12
    assert Path(used["engine_report"]["models"]["folder"]) == home / "data" / "models" / "base"
    assert used["engine_report"]["models"]["motion"]["step"] == 30


def _rewrite(archive: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of `archive` with members replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for name in source.namelist():
            if name not in change:
                out.writestr(name, source.read(name))
        for name, data in change.items():
            if data is not None:
                out.writestr(name, data)
    return target


def _forged(card: dict[str, Any], file: str, data: bytes, **more: Any) -> bytes:
    """The card with `file`'s size and sha256 made to match `data`: the forger's best effort."""
    files = {**card["files"], file: {**card["files"][file], "size": len(data),
                                     "sha256": hashlib.sha256(data).hexdigest(), **more}}
    return json.dumps({**card, "files": files}).encode()


def test_altered_foreign_and_unpinned_archives_are_refused(packed: tuple[Path, dict[str, Any], Path],
                                                           tmp_path: Path) -> None:
    archive, entry, _ = packed
    with zipfile.ZipFile(archive) as opened:
        motion = bytearray(opened.read("motion.safetensors"))
        appearance = opened.read("appearance.safetensors")
        card = json.loads(opened.read("model.json"))
    motion[-5] ^= 0xFF
    pickled = pickle.dumps({"weights": [1, 2, 3]}, protocol=4)
    other_stage = card["files"]["appearance.safetensors"]["config_hash"]
    not_zip = tmp_path / "notes.mytalk-model"
    not_zip.write_text("not a model")
    cases = [
        (_rewrite(archive, tmp_path / "flipped.zip", {"motion.safetensors": bytes(motion)}),
         "motion.safetensors's sha256 differs from its card"),
        (_rewrite(archive, tmp_path / "escape.zip", {"../../evil.py": b"print(1)"}), "unexpected member '../../evil.py'"),
        (_rewrite(archive, tmp_path / "pickle.zip", {"motion.safetensors": pickled,
                                                     "model.json": _forged(card, "motion.safetensors", pickled)}),
         "is a pickle"),
        (_rewrite(archive, tmp_path / "stage.zip", {
            "motion.safetensors": appearance,
            "model.json": _forged(card, "motion.safetensors", appearance, config_hash=other_stage)}),
         "is a 'appearance' checkpoint, a 'motion' one is needed"),
        (_rewrite(archive, tmp_path / "half.zip", {"appearance.safetensors": None}), "needs both"),
        (not_zip, "not a zip file"),
    ]
    home = tmp_path / "user"
    env = {"MYTALK_HOME": str(home)}
    _ok(run_mytalk("models", "install", archive, env=env))
    before = _models(home)
    for bad, expected in cases:
        result = run_mytalk("models", "install", bad, "--name", "other", env=env)
        assert result.code == 2 and len(result.stderr_lines) == 1, (bad, result.stderr)
        assert expected in result.stderr_lines[0], (bad, result.stderr)
        assert _models(home) == before, bad
    for bad, _ in cases[:4]:  # nor does --force over the installed model let a bad archive through
        assert run_mytalk("models", "install", bad, "--force", env=env).code == 2
        assert _models(home) == before, bad

    again = run_mytalk("models", "install", archive, env=env)
    assert again.code == 2 and "installed already" in again.stderr and "--force" in again.stderr
    assert _models(home) == before
    _ok(run_mytalk("models", "install", archive, "--force", env=env))
    after = _models(home)
    assert {k: v for k, v in after.items() if not k.endswith("installed.json")} == \
           {k: v for k, v in before.items() if not k.endswith("installed.json")}

    bad_name = run_mytalk("models", "pack", "Studio.v2", "-o", tmp_path / "x.mytalk-model", "--version", "1",
                          "--license", "MIT", env=env)
    assert bad_name.code == 2 and "name would be refused" in bad_name.stderr and not (tmp_path / "x.mytalk-model").exists()

    pinned = tmp_path / "pinned"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(pinned))
        with pytest.raises(CheckpointError, match="pins model 'studio'"):
            install_model(archive, name="base", pins={"studio": Pin("0" * 64, entry["size"], "0.1.0")})
        assert _models(pinned) == {}
        assert install_model(archive, pins={"studio": Pin(entry["sha256"], entry["size"], "0.1.0")}).name == "studio"
    listed = json.loads(_ok(run_mytalk("models", "list", "--json", env={"MYTALK_HOME": str(pinned)})).stdout)
    assert [m["name"] for m in listed] == ["studio"] and not [p for p in _models(pinned) if p.startswith(".")]


def test_validate_checks_a_bundled_model_against_its_pin(packed: tuple[Path, dict[str, Any], Path],
                                                         tmp_path: Path) -> None:
    archive, entry, _ = packed
    bundle = tmp_path / "bundle"
    (bundle / "models").mkdir(parents=True)
    manifest = json.loads((REPO_ROOT / "manifest.json").read_text())
    manifest["models"] = [entry]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    missing = run_mytalk("validate", bundle)
    assert missing.code == 2 and "models[0].file: 'models/studio-0.1.0.mytalk-model' is not in the bundle" in missing.stderr

    shutil.copyfile(archive, bundle / entry["file"])
    assert "OK" in _ok(run_mytalk("validate", bundle)).stdout
    shipped = load_manifest(bundle)
    assert bundled_archive("studio", shipped) == bundle / entry["file"]  # `mytalk models install studio`
    assert install_model(bundled_archive("studio", shipped), pins=manifest_pins(shipped)).name == "studio"
    with open(bundle / entry["file"], "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    swapped = run_mytalk("validate", bundle)
    assert swapped.code == 2 and "models[0].sha256: the bundle's models/studio-0.1.0.mytalk-model" in swapped.stderr
