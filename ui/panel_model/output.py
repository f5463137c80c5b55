"""Where commits go: one render folder per project, chosen once and remembered between sessions.

The *project* is the timeline file when the panel was opened with one (`mytalk panel --timeline CUT.otio`):
every shot of that cut renders into the same folder, whichever clip it comes from. Without a timeline
the project is the clip itself. Until the editor picks a folder for a project, commits go to
`MyTalk Renders` in the user's videos folder (`mytalk.core.userdirs.default_renders_dir`), never beside
the source: camera cards and shared media volumes are often read-only, and renders kept among the
originals get mistaken for them.

The choices live in a `PreferenceStore` (the panel's is a QSettings INI file under the user's config
folder, `mytalk.core.userdirs.preferences_file`), keyed by a hash of the project's absolute path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mytalk.core.userdirs import default_renders_dir

GROUP = "render_folders"


class PreferenceStore(Protocol):
    """Remembered text values by key (`QSettings` in the panel, a dict in `MemoryStore`)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


@dataclass
class MemoryStore:
    """A store that forgets on exit: for a front end without preferences, and for tests of the model."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str) -> None:
        self.values[key] = value


def path_digest(path: Path) -> str:
    """A file's or folder's name in a store key: a hash of its absolute path. The path itself cannot be a key:
    QSettings reads `/` as nested groups and `\\` differently per platform."""
    return hashlib.sha256(str(Path(path).expanduser().absolute()).encode("utf-8")).hexdigest()[:20]


def project_key(project: Path) -> str:
    """The store key of a project (`path_digest`)."""
    return f"{GROUP}/{path_digest(project)}"


@dataclass
class RenderFolders:
    """The render folder of each project: remembered when the editor picks one, the default until then."""

    store: PreferenceStore
    default: Callable[[], Path] = default_renders_dir
    """Called, not stored: `MYTALK_HOME` may change between panels (tests give each its own)."""

    def chosen(self, project: Path | None) -> Path | None:
        """The folder remembered for `project`, or None when none was chosen yet."""
        if project is None:
            return None
        value = self.store.get(project_key(project))
        return Path(value) if value else None

    def folder_for(self, project: Path | None) -> Path:
        """Where `project`'s commits go: the remembered folder, else the default."""
        return self.chosen(project) or self.default()

    def remember(self, project: Path | None, folder: Path) -> bool:
        """Keep `folder` for `project`; True when that changed what was remembered. The default is not
        written down as a choice: it follows `MYTALK_HOME` and the platform, a stored copy would not."""
        if project is None:
            return False
        folder = Path(folder).expanduser()
        chosen = self.chosen(project)
        if chosen == folder or (chosen is None and folder == self.default()):
            return False
        self.store.put(project_key(project), str(folder))
        return True


WRAPPERS = "wrappers"


@dataclass
class WrapperChoices:
    """The container commits of each codec are written to, as the editor last picked it (the settings'
    Wrapper list): an Avid editor picks MXF for DNxHR once. Kept per user, not per project: it follows
    the editing system the renders go to, not the cut."""

    store: PreferenceStore

    def chosen(self, codec: str) -> str | None:
        """The suffix picked for `codec` (".mxf"), or None when the editor never picked one."""
        return self.store.get(f"{WRAPPERS}/{codec}")

    def remember(self, codec: str, suffix: str) -> None:
        self.store.put(f"{WRAPPERS}/{codec}", suffix)


@dataclass
class ProjectFolders:
    """Which project the panel's commits belong to, and what the render folder field shows for it.

    `timeline` is the cut a host opened (None: each clip is its own project). A folder picked
    before any clip is open is `pending`: the first project opened takes it as its choice.
    """

    folders: RenderFolders
    timeline: Path | None = None
    pending: Path | None = None

    def project(self, clip: Path | None) -> Path | None:
        return self.timeline or clip

    def shown(self, clip: Path | None) -> tuple[Path, str]:
        """The folder to show while `clip` is open, and a note (the field's tooltip) saying where it
        comes from."""
        project = self.project(clip)
        if project is None:
            if self.pending is not None:
                return self.pending, "Remembered for the clip you open next."
            return self.folders.default(), "The default; a folder picked now is remembered for the clip you open."
        if self.pending is not None:
            self.folders.remember(project, self.pending)
            self.pending = None
        chosen = self.folders.chosen(project)
        if chosen is not None:
            return chosen, f"Remembered for {project.name}."
        return self.folders.default(), f"The default. Pick another with … and it is remembered for {project.name}."

    def choose(self, clip: Path | None, folder: Path) -> str | None:
        """The editor picked `folder` while `clip` is open: remember it. A note for the status line when
        that changed the project's folder, else None."""
        project = self.project(clip)
        if project is None:
            self.pending = Path(folder).expanduser()
            return None
        if self.folders.remember(project, folder):
            return f"Commits of {project.name} go to {folder} from now on"
        return None


def commit_name_pattern(clip: Path, marked: tuple[int, int], suffix: str) -> str:
    """The name a commit of `marked` gets, version left open: `shot_25-75_v###.mov`, as
    `mytalk.core.jobs.commands.commit` names it (clip-relative frames, the second one exclusive)."""
    start, stop = marked
    return f"{clip.stem}_{start}-{stop}_v###{suffix}"


def naming_note(clip: Path | None, marked: tuple[int, int] | None, suffix: str) -> str:
    """One line under the Commit button that says what the file will be called and why its numbers
    differ from the Out readout (which shows the last frame, inclusive, as editors mark it)."""
    if clip is None or marked is None:
        return f"Commits are named <clip>_<in>-<out+1>_v###{suffix} (frames; the next free version)"
    start, stop = marked
    return (f"Commit writes {commit_name_pattern(clip, marked, suffix)}: frames {start}–{stop - 1}, "
            f"named {start}-{stop} (the second number is the frame after Out)")


def naming_tip(folder: Path | None) -> str:
    """The naming note's tooltip: how versions count and why the second frame number is one more than Out."""
    return ("Versions count up (v001, v002, …) and never overwrite. Frame numbers are the clip's own, from 0; "
            "the second is exclusive, as everywhere in MyTalk, so it is one more than the Out readout."
            + (f"\nFolder: {folder}" if folder else ""))
