"""`mytalk models pack|install|list`: the command line over `mytalk.core.engines.mytalk.model_bundle`.

It lives in the plugin layer because it joins the core's archive checks to the plugin manifest: the
manifest's `models` entries are the pins an install is checked against, the names a bundled archive
is installed by (`mytalk models install base` when the bundle ships `base`), and the rules a
printed entry must pass before the author pastes it into `manifest.json`. The archive code (and torch
with it) is imported only when a `models` command runs, so that `mytalk --help` and the other
commands start without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mytalk.core.errors import UsageError

if TYPE_CHECKING:
    from mytalk.core.engines.mytalk.model_bundle import Pin
    from mytalk.plugin.manifest import Manifest


def add_models_commands(parser: argparse.ArgumentParser) -> None:
    """`pack`, `install` and `list` under `mytalk models`."""
    commands = parser.add_subparsers(dest="models_command", required=True, parser_class=type(parser))
    pack = commands.add_parser("pack", help="pack a trained model into one archive to publish")
    pack.add_argument("name", help="the model's name in the models folder (mytalk train --out NAME)")
    pack.add_argument("-o", "--output", type=Path, required=True,
                      help="the archive to write, such as NAME-1.0.0.mytalk-model")
    pack.add_argument("--version", required=True, help="the weights' version, such as 1.0.0")
    pack.add_argument("--license", required=True, help="the licence the weights are published under, such as an "
                                                       "SPDX id")
    pack.add_argument("--card", type=Path, help="a text or Markdown file describing the model (its data, its limits)")
    install = commands.add_parser("install", help="verify a model archive and install it, offline")
    install.add_argument("file", help="a model archive, or the name of a model the plugin bundle ships")
    install.add_argument("--name", help="install under this name (default: the archive's; the engine uses 'base')")
    install.add_argument("--force", action="store_true", help="replace an installed model of that name")
    listing = commands.add_parser("list", help="the installed models, where each came from, which pin each matches")
    listing.add_argument("--json", action="store_true", help="one JSON array on stdout")


def _shipped() -> Manifest:
    """The plugin manifest this MyTalk ships (its `models` entries are the published models)."""
    from mytalk.plugin.manifest import load_manifest

    return load_manifest()


def manifest_pins(manifest: Manifest) -> dict[str, Pin]:
    """The manifest's `models` entries by name, as the pins `install_model` checks archives against."""
    from mytalk.core.engines.mytalk.model_bundle import Pin

    return {m.name: Pin(m.sha256, m.size, m.version) for m in manifest.models}


def _checked_entry(entry: dict[str, Any]) -> None:
    """Refuse, before anything is written, an entry that `manifest.json` would not accept."""
    from pydantic import ValidationError

    from mytalk.plugin.manifest import ModelEntry

    try:
        ModelEntry.model_validate(entry)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"models pack: the manifest entry's {where} would be refused ({first['msg']}); "
                         "publish under a lower-case name of letters, digits, '-' or '_' (train or copy it to one)"
                         if where == "name" else
                         f"models pack: the manifest entry's {where} would be refused ({first['msg']})") from None


def bundled_archive(file: str, manifest: Manifest) -> Path:
    """FILE as given, or the archive in `manifest`'s bundle of the model FILE names (`mytalk models install base`)."""
    path = Path(file)
    if path.exists():
        return path
    shipped = {m.name: m for m in manifest.models}.get(file)
    if shipped is not None and manifest.source is not None:
        return manifest.source.parent / shipped.file
    names = ", ".join(sorted(m.name for m in manifest.models)) or "none"
    raise UsageError(f"models install: {file}: no such file, nor a model the plugin ships (it ships: {names}); "
                     "give the path of a model archive ('mytalk models pack')")


def run_models(args: argparse.Namespace) -> int:
    """Run one `mytalk models` command; errors are `MyTalkError`s, which the CLI prints as one line (exit 2)."""
    from mytalk.core.engines.mytalk.model_bundle import install_model, list_models, pack_model

    manifest = _shipped()
    if args.models_command == "pack":
        if args.card is not None and not args.card.is_file():
            raise UsageError(f"--card {args.card}: no such file")
        output: Path = args.output
        _checked_entry({"name": args.name.lower(), "version": args.version, "file": f"models/{output.name}",
                        "sha256": "0" * 64, "size": 0, "license": args.license})
        entry = pack_model(args.name, output, version=args.version, license=args.license,
                           description=args.card.read_text(encoding="utf-8") if args.card else "")
        print(json.dumps(entry, indent=2))
        print(f"packed {args.name} into {output}; to ship it with the plugin, put the file at {entry['file']} "
              "beside manifest.json in the bundle and the entry above in its \"models\" list", file=sys.stderr)
    elif args.models_command == "install":
        source = bundled_archive(args.file, manifest)
        folder = install_model(source, name=args.name, force=args.force, pins=manifest_pins(manifest))
        print(f"installed {source} as model {folder.name!r} in {folder}", file=sys.stderr)
    else:
        found = list_models(manifest_pins(manifest))
        if args.json:
            print(json.dumps([{"name": m.name, "folder": str(m.folder), "version": m.version, "license": m.license,
                               "steps": m.steps, "source": m.source, "manifest_pin": m.pin or None}
                              for m in found], indent=2))
            return 0
        for m in found:
            steps = ", ".join(f"{stage} {n if n >= 0 else 'unreadable'} steps" for stage, n in m.steps.items())
            about = f" {m.version}, {m.license}," if m.version else ""
            pin = f"; matches the plugin manifest's {m.pin}" if m.pin else ""
            print(f"{m.name}:{about} {steps}; {m.source}{pin}")
        if not found:
            print("no models installed; train one ('mytalk train') or install one ('mytalk models install FILE')",
                  file=sys.stderr)
    return 0
