"""Which of the panel's inputs changed on disk since it opened them.

An editor previews, then commits, and trusts the commit to be what the preview showed. Between the two a
clip can be replaced under the same name: an assistant re-exports it, a copy that was still running when
it was opened finishes (`VideoStreamInfo.listed_frames`), a line is re-recorded. The runtime reads the file
as it is when the job starts, so the viewer's A, the preview on screen and the commit would each show a
different file. The panel remembers each input's `FileIdentity` when it opens it and asks here before it
sends a job: an input that changed is opened again, and nothing is sent until the editor has seen it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mytalk.core.hashing import FileIdentity


class OpenedFiles:
    """The identity of each file as the panel opened it (None: it could not be read then)."""

    def __init__(self) -> None:
        self._seen: dict[Path, FileIdentity | None] = {}

    def opened(self, path: Path) -> None:
        """`path` was opened just now: later changes are measured from here."""
        self._seen[Path(path)] = _identity(Path(path))

    def changed(self, paths: Iterable[Path | None]) -> list[Path]:
        """Those of `paths` (None ignored) whose bytes may differ from what was opened: rewritten, replaced,
        grown, moved away. A path never opened counts as unchanged: there is nothing to compare with."""
        out: list[Path] = []
        for path in paths:
            if path is None or Path(path) not in self._seen or Path(path) in out:  # a clip that is its own line
                continue
            if _identity(Path(path)) != self._seen[Path(path)]:
                out.append(Path(path))
        return out


def _identity(path: Path) -> FileIdentity | None:
    try:
        return FileIdentity.of(path)
    except OSError:
        return None
