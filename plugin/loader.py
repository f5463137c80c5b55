"""Plugin discovery in the style of napari's npe2: every manifest comes back with its error.

A host lists plugins at start-up. One broken bundle (bad JSON, an unknown key, a duplicate id)
must not hide the others or crash the host, so `discover` never raises for a bad manifest: it
returns a `PluginRecord` whose `error` says what is wrong, and the host shows that and skips it.
Discovery reads JSON only; a module is imported when `load_entry` is asked for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mytalk.core.errors import ManifestError
from mytalk.plugin.manifest import MANIFEST_FILENAME, Manifest, load_manifest, resolve_entry_point

__all__ = ["PluginRecord", "discover", "load_entry"]


@dataclass
class PluginRecord:
    """One discovered manifest: `manifest` when it validated, else None and `error` says why."""

    manifest: Manifest | None
    path: Path
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the manifest validated and the plugin can be offered to the user."""
        return self.manifest is not None and self.error is None


def _manifest_files(path: Path) -> list[Path]:
    """The manifest files a search path stands for.

    A file is taken as is; a bundle folder means its `manifest.json`; a folder of bundles means
    the `manifest.json` of each sub-folder, sorted so that the order (and which of two
    duplicate ids wins) does not depend on the file system.
    """
    if path.is_dir():
        own = path / MANIFEST_FILENAME
        if own.is_file():
            return [own]
        children = sorted(child / MANIFEST_FILENAME for child in path.iterdir() if child.is_dir())
        found = [child for child in children if child.is_file()]
        # A search path with nothing in it is reported: a typo in a plugin path should not pass silently.
        return found or [own]
    return [path]


def discover(paths: Iterable[Path]) -> list[PluginRecord]:
    """Find and validate the manifests under `paths`, returning one record per manifest.

    Each path may be a `manifest.json`, a plugin bundle folder holding one, or a folder of
    bundles. Nothing is imported. A manifest whose `id` was already found is reported as a
    duplicate, since a host could not tell which of the two a user meant. A manifest's version
    is checked against the installed distribution of the same `name`, when there is one.
    """
    records: list[PluginRecord] = []
    seen_ids: dict[str, Path] = {}
    for search_path in paths:
        for file in _manifest_files(Path(search_path)):
            records.append(_load_record(file, seen_ids))
    return records


def _load_record(file: Path, seen_ids: dict[str, Path]) -> PluginRecord:
    if not file.is_file():
        return PluginRecord(None, file, f"{file.name}: no manifest at {file}; check the plugin path")
    try:
        manifest = load_manifest(file)
    except ManifestError as exc:
        return PluginRecord(None, file, str(exc))
    if manifest.id in seen_ids:
        return PluginRecord(
            None,
            file,
            f"{file.name}: id: {manifest.id!r} is already provided by {seen_ids[manifest.id]}; "
            "remove one of the two bundles",
        )
    seen_ids[manifest.id] = file
    return PluginRecord(manifest, file, None)


def load_entry(record: PluginRecord, name: str) -> Callable[..., Any]:
    """Import and return entry point `name` ('panel', 'cli', 'runtime', 'commands.preview', …).

    Raises `ManifestError` when the record is broken (with its discovery error), when it has no
    such entry point, or when the callable cannot be imported.
    """
    if record.manifest is None:
        raise ManifestError(record.error or f"{record.path.name}: plugin failed to load")
    spec = record.manifest.entry_points.spec(name)
    return resolve_entry_point(spec, name=name)
