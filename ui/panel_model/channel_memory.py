"""The channel picks an editor made, remembered per file: reopening a camera clip or a poly take hears the
microphone picked last time, as the render folder of a project is remembered (`output.RenderFolders`). A shoot's
wiring does not change between sessions, and picking BOOM again on every open is the kind of step that gets
forgotten once, silently mixing the other actor back in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mytalk.ui.panel_model.output import PreferenceStore, path_digest

GROUP = "channel-picks"

PickKind = Literal["guide", "line"]
"""`guide`: a clip's own channels (`--guide-channels`); `line`: a replacement line's (`--audio-channels`)."""


def pick_key(kind: PickKind, path: Path) -> str:
    """The store key of a file's pick (`output.path_digest`)."""
    return f"{GROUP}/{kind}/{path_digest(path)}"


@dataclass
class ChannelPicks:
    """The last pick of each file, by kind; no pick (all channels, or the job's default) is remembered too, as
    an empty value, so that going back to it sticks."""

    store: PreferenceStore

    def remembered(self, kind: PickKind, path: Path) -> str | None:
        """The pick last made for `path` (option text: `3`, `1-2`), or None for none, or none remembered."""
        return self.store.get(pick_key(kind, path)) or None

    def remember(self, kind: PickKind, path: Path, pick: str | None) -> None:
        """Keep `pick` (None: no pick) for `path`, unless that is what is remembered already."""
        if self.remembered(kind, path) != pick:
            self.store.put(pick_key(kind, path), pick or "")
