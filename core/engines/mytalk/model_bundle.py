"""A trained model as one file to publish, and installing one offline: `mytalk models pack|install|list`.

The archive (`NAME-VERSION.mytalk-model`) is a plain zip whose members are stored, not compressed,
holding exactly:

    model.json              the card: name, version, licence, MyTalk's version, the date, and for
                            each weights file its sha256 and size, stage, training steps, preset,
                            network configuration and its hash, dataset hash, world size; then the
                            free text of `--card` (what it was trained on, what it is not for)
    motion.safetensors      stage 1, byte for byte as `mytalk train` wrote it
    appearance.safetensors  stage 2, likewise

Why a zip: its central directory lists the members up front, so an install reads the card and
checks every member's name and size before it copies a byte, and `unzip -l` / `unzip -p FILE
model.json` inspect one with no MyTalk at hand. Python reads it without extracting by member name
(tar extraction brings links, devices and permissions to guard against). Why stored: float weights
barely compress, and a stored member is its file's bytes, hashed and copied in one pass.

Installing trusts nothing in the file until it is checked: no member but those three, each
weights file the size and sha256 its card says, each a safetensors checkpoint of its stage whose
configuration matches the card and builds the networks (`models.load_models`, which only ever
reads safetensors), and, when the plugin manifest pins a model of the card's name, the archive's
own sha256 and size equal to the pin. The model is unpacked beside the models folder and renamed
into place, so a refused or interrupted install leaves the installed models as they were; `force`
replaces a model of the same name, whose old folder is removed only once the new one is in place
(`atomic.replace_folder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from mytalk.core.atomic import AtomicFile, replace_folder
from mytalk.core.engines.mytalk.checkpoint import code_version, read_checkpoint
from mytalk.core.engines.mytalk.models import check_name, load_models, model_folder, models_root
from mytalk.core.errors import CheckpointError, MediaNotFoundError, UsageError

FORMAT = "mytalk-model"
CARD = "model.json"
WEIGHTS = {"motion.safetensors": "motion", "appearance.safetensors": "appearance"}
INSTALLED = "installed.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Pin:
    """What the plugin manifest says a published model's archive is (its `models` entry)."""

    sha256: str
    size: int
    version: str = ""


def _sha256_of(handle: BinaryIO) -> str:
    """SHA-256 of an open file from its start: hashing the handle that is then read means the digest checked
    is of the very bytes installed, even if the path is replaced meanwhile."""
    digest = hashlib.sha256()
    handle.seek(0)
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def pack_model(name: str, target: Path, *, version: str, license: str, description: str = "") -> dict[str, Any]:
    """Pack the trained model NAME into the archive `target`; returns the manifest `models` entry for it.

    Only the two weights files go in: a run's optimizer state, snapshots and logs stay in `runs/`, as they
    are of no use to inference and a run log may name the trainer's files. The weights are copied from
    the same open handles they were hashed through, so the card's digests are of the packed bytes even
    if a training run replaces a file meanwhile.
    """
    folder = model_folder(name)
    missing = [f for f in WEIGHTS if not (folder / f).is_file()]
    if missing:
        raise UsageError(f"model {name!r}: {', '.join(missing)} missing in {folder}; train both stages first "
                         "('mytalk train motion|appearance DATA --out NAME')")
    if not version.strip() or not license.strip():
        raise UsageError("models pack: give --version and --license (the licence the weights are published under)")
    target = Path(target)
    if target.resolve().is_relative_to(folder.resolve()):
        raise UsageError(f"models pack: write the archive outside the model's own folder {folder}")
    files: dict[str, Any] = {}
    with ExitStack() as stack:
        handles = {file: stack.enter_context(open(folder / file, "rb")) for file in WEIGHTS}
        for file, stage in WEIGHTS.items():
            _, info = read_checkpoint(folder / file, stage)
            # The dataset's folder in the weights' metadata is the trainer's own path: the card leaves it out.
            files[file] = {"stage": stage, "sha256": _sha256_of(handles[file]),
                           "size": os.fstat(handles[file].fileno()).st_size, "step": info.step,
                           "preset": info.extra.get("preset"), "data_hash": info.data_hash,
                           "config_hash": info.config_hash, "config": info.config,
                           "world_size": info.extra.get("world_size", 1), "grad_accum": info.extra.get("grad_accum", 1),
                           "code_version": info.code_version, "trained": info.created}
        card = {"format": FORMAT, "format_version": 1, "name": name, "version": version.strip(),
                "license": license.strip(), "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "mytalk_version": code_version(), "files": files, "description": description}
        target.parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(target) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(CARD, json.dumps(card, indent=2))
            for file, handle in handles.items():
                with archive.open(zipfile.ZipInfo(file, date_time=_zip_time()), "w", force_zip64=True) as member:
                    shutil.copyfileobj(handle, member, _CHUNK)
    with open(target, "rb") as packed:
        archive_sha = _sha256_of(packed)
    return {"name": name.lower(), "version": card["version"], "file": f"models/{target.name}",
            "sha256": archive_sha, "size": target.stat().st_size, "license": card["license"]}


def _zip_time() -> tuple[int, int, int, int, int, int]:
    """Now, as a zip member's timestamp (local time, as zip tools show it)."""
    return datetime.now().timetuple()[:6]  # type: ignore[return-value]


def read_card(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    """The card of an opened archive, after checking that it holds only the expected members.

    Members are never extracted by their own names (each weights file is copied to a name of ours), so
    a path such as '../x' cannot write outside the model folder anyway; it is refused because no
    archive that `pack` wrote holds one. A name given twice is refused too: zip tools disagree on
    which of the two they show.
    """
    names = archive.namelist()
    stray = [n for n in names if n not in {CARD, *WEIGHTS}]
    if stray:
        raise UsageError(f"{source}: unexpected member {stray[0]!r}; a MyTalk model holds only {CARD}, "
                         f"{' and '.join(WEIGHTS)}")
    if len(names) != len(set(names)):
        raise UsageError(f"{source}: a member is stored twice; this is not an archive 'mytalk models pack' wrote")
    if CARD not in names:
        raise UsageError(f"{source}: no {CARD}; this is not a MyTalk model archive")
    try:
        card = json.loads(archive.read(CARD))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{source}: its {CARD} is not JSON") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT or not isinstance(card.get("files"), dict):
        raise UsageError(f"{source}: its {CARD} is not a MyTalk model card")
    if set(card["files"]) != set(WEIGHTS) or set(names) != {CARD, *WEIGHTS}:
        raise UsageError(f"{source}: a model needs both {' and '.join(WEIGHTS)}, listed in its card")
    for file, expected in card["files"].items():
        size = archive.getinfo(file).file_size
        if not isinstance(expected, dict) or size != expected.get("size"):
            raise CheckpointError(f"{source}: {file} is {size} bytes, its card says "
                                  f"{expected.get('size') if isinstance(expected, dict) else '?'}; the file is "
                                  "damaged or was altered")
    return card


def _extract(archive: zipfile.ZipFile, file: str, target: Path, expected: Mapping[str, Any], source: Path) -> None:
    """Copy one weights member to `target`, hashing what is copied; CheckpointError when it is not the card's."""
    digest = hashlib.sha256()
    with archive.open(file) as member, open(target, "wb") as out:
        while chunk := member.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected.get("sha256"):
        raise CheckpointError(f"{source}: {file}'s sha256 differs from its card; the file is damaged or was altered")


def install_model(source: Path, *, name: str | None = None, force: bool = False,
                  pins: Mapping[str, Pin] | None = None) -> Path:
    """Verify the archive `source` and install it as model NAME (default: the card's); returns its folder.

    `pins` are the plugin manifest's `models` entries by name: an archive whose card has a pinned name
    must be exactly the pinned file. Installing under another `name` does not lift the pin, which is on
    what the archive says it is.
    """
    source = Path(source)
    if not source.is_file():
        raise MediaNotFoundError(f"{source}: no such file; give the path of a model archive ('mytalk models pack')")
    with open(source, "rb") as handle:
        archive_sha = _sha256_of(handle)
        size = os.fstat(handle.fileno()).st_size
        try:
            archive = zipfile.ZipFile(handle)
        except zipfile.BadZipFile:
            raise UsageError(f"{source}: not a MyTalk model archive (not a zip file)") from None
        with archive:
            card = read_card(archive, source)
            published = str(card.get("name", ""))
            target_name = check_name(name or published)
            pin = (pins or {}).get(published.lower())
            if pin is not None and (pin.sha256 != archive_sha or pin.size != size):
                raise CheckpointError(
                    f"{source}: the plugin manifest pins model {published!r} to sha256 {pin.sha256[:12]}… "
                    f"({pin.size} bytes), this file is {archive_sha[:12]}… ({size} bytes); it is not the published "
                    "model, download it again")
            destination = model_folder(target_name)
            if destination.exists() and not force:
                raise UsageError(f"model {target_name!r} is installed already ({destination}); pass --force to "
                                 "replace it, or --name NAME to install beside it")

            def fill(staging: Path) -> None:
                for file in WEIGHTS:
                    _extract(archive, file, staging / file, card["files"][file], source)
                _verify_weights(staging, card, source)
                record = {"source": str(source.resolve()), "archive_sha256": archive_sha,
                          "installed": datetime.now(UTC).isoformat(timespec="seconds"), "card": card}
                (staging / INSTALLED).write_text(json.dumps(record, indent=2))

            replace_folder(destination, fill)
    return destination


def _verify_weights(folder: Path, card: Mapping[str, Any], source: Path) -> None:
    """Each file a checkpoint of its stage, as its card says, and the pair loadable by the engine.

    The checkpoint reader's messages name the staging file, a path the user never sees: they are
    reworded to name the member of the archive instead.
    """
    def refuse(file: str, error: Exception) -> CheckpointError:
        why = str(error).replace(f"{folder / file}: ", "").replace(str(folder / file), file)
        return CheckpointError(f"{source}: {file} is not a usable MyTalk checkpoint ({why})")

    for file, stage in WEIGHTS.items():
        try:
            _, info = read_checkpoint(folder / file, stage)
        except CheckpointError as error:
            raise refuse(file, error) from None
        if info.config_hash != card["files"][file].get("config_hash"):
            raise CheckpointError(f"{source}: {file}'s configuration differs from its card; the archive was altered")
    try:
        load_models(folder, "cpu")
    except (CheckpointError, UsageError, RuntimeError, ValueError) as error:
        why = str(error).replace(f"{folder}{os.sep}", "")
        raise CheckpointError(f"{source}: the engine cannot load these weights ({why})") from None


@dataclass(frozen=True)
class InstalledModel:
    """One model in the models folder, as `mytalk models list` shows it."""

    name: str
    folder: Path
    steps: dict[str, int]
    """Training steps of each stage's weights; -1 for a file that cannot be read."""
    version: str
    license: str
    source: str
    """'trained here', or 'installed from FILE'."""
    pin: str
    """The manifest entry ('NAME VERSION') whose archive this model was installed from; '' when none."""


def _steps(path: Path) -> int:
    """A checkpoint's training steps, from its header alone: listing must not load every model's tensors.

    safe_open parses the JSON header only, and a file that is not safetensors (a pickle included) fails
    to parse rather than run; -1 stands for such a file.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return int((handle.metadata() or {}).get("step", "0"))
    except (SafetensorError, OSError, ValueError):
        return -1


def _install_record(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / INSTALLED).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("card"), dict) else None


def _still_installed(folder: Path, card: Mapping[str, Any], steps: Mapping[str, int]) -> bool:
    """Whether the weights are still those the card describes, by size and steps (hashing every model to list
    them would take seconds each)."""
    files = card.get("files")
    if not isinstance(files, dict):
        return False
    return all(isinstance(files.get(file), dict) and (folder / file).is_file()
               and files[file].get("size") == (folder / file).stat().st_size
               and files[file].get("step") == steps.get(stage) for file, stage in WEIGHTS.items())


def list_models(pins: Mapping[str, Pin] | None = None) -> list[InstalledModel]:
    """The models in the user models folder (not the actors' fine-tunes), with where each came from."""
    root = models_root()
    found: list[InstalledModel] = []
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "actors"):
        steps = {stage: _steps(folder / file) for file, stage in WEIGHTS.items() if (folder / file).is_file()}
        if not steps:
            continue
        record = _install_record(folder)
        if record is not None and not _still_installed(folder, record["card"], steps):
            record = None  # `mytalk train --out NAME` has since written its own weights over the installed ones
        card = record["card"] if record else {}
        published = str(card.get("name", ""))
        pin = (pins or {}).get(published.lower()) if record else None
        matched = pin is not None and record is not None and pin.sha256 == record.get("archive_sha256")
        found.append(InstalledModel(
            folder.name, folder, steps, str(card.get("version", "")), str(card.get("license", "")),
            f"installed from {record.get('source')}" if record else "trained here",
            f"{published.lower()} {pin.version}".strip() if matched and pin is not None else ""))
    return found
