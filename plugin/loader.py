"""Plugin discovery in the style of napari's npe2: every manifest comes back with its error.

A host lists plugins at start-up. One broken bundle (bad JSON, an unknown key, a duplicate id)
must not hide the others or crash the host, so `discover` never raises for a bad manifest: it
returns a `PluginRecord` whose `error` says what is wrong, and the host shows that and skips it.
Discovery reads JSON only; a module is imported when `load_entry` is asked for it.

Timeline files are opened the same way: `open_timeline` picks the host whose manifest `formats`
include the file's suffix and calls that host's entry, so a new editor format is a manifest
line and a module, and the standalone window never names a reader class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mytalk.core.errors import ManifestError, UsageError
from mytalk.plugin.hosts.timeline import TimelineHost
from mytalk.plugin.manifest import MANIFEST_FILENAME, Host, Manifest, load_manifest, resolve_entry_point

__all__ = ["PluginRecord", "discover", "host_for", "load_entry", "open_timeline"]


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


def host_for(manifests: Iterable[Manifest], path: Path) -> tuple[Manifest, Host]:
    """The first host, over `manifests` in order, whose `formats` include `path`'s suffix (any case).

    Raises `UsageError`, one line naming the file and every format the manifests offer.
    """
    suffix = Path(path).suffix.lower()
    offered: list[str] = []
    count = 0
    for manifest in manifests:
        count += 1
        for host in manifest.hosts:
            if suffix and suffix in host.formats:
                return manifest, host
            offered += [fmt for fmt in host.formats if fmt not in offered]
    what = f"'{suffix}' files" if suffix else "files without a suffix"
    offers = "the manifest offers" if count == 1 else "the manifests offer"
    choice = ", ".join(offered) if offered else "no timeline formats"
    raise UsageError(f"{Path(path).name}: no host opens {what}; {offers} {choice}")


def open_timeline(manifests: Iterable[Manifest], path: Path) -> TimelineHost:
    """Open a timeline file with the entry of the host whose `formats` include its suffix.

    The entry (`module:callable`, imported now) takes the path and returns the timeline host.
    Raises `UsageError` for a suffix no host opens, `ManifestError` when the entry cannot be
    imported or returns something that is not a timeline host, and whatever the host raises for
    a file it cannot read (a `MyTalkError` naming the file).
    """
    manifest, host = host_for(manifests, path)
    if host.entry is None:  # the manifest check refuses formats without an entry; a hand-built model may not
        raise ManifestError(f"{manifest.label}: hosts '{host.app}' lists formats but no entry to open them")
    spec = host.entry_spec or manifest.entry_points.spec(host.entry)
    opener = resolve_entry_point(spec, name=f"hosts.{host.app}")
    timeline = opener(Path(path))
    if not isinstance(timeline, TimelineHost):
        raise ManifestError(
            f"{manifest.label}: hosts '{host.app}': {spec!r} returned {type(timeline).__name__}, not a timeline "
            "host (path, clips, shot, parse_record, record_timecode, place_result); point the entry at the "
            "function that opens the file"
        )
    return timeline
