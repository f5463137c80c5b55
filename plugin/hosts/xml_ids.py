"""Element ids that a project file does not use yet, for what a version adds to it.

Both the MLT and the FCP 7 XML versions add elements (clips, tracks, filters, files) that other elements name
by id, so a new id must never be one the editor's file already holds or one given earlier in the same
version. Each format numbers its ids its own way: MLT `chain0`, FCP 7 `clipitem-1`.
"""

from __future__ import annotations

from collections.abc import Iterable


class FreshIds:
    """Hands out `stem` + `separator` + the lowest free number from `first`, never one in `taken` or one
    handed out before."""

    def __init__(self, taken: Iterable[str], *, separator: str = "", first: int = 0) -> None:
        self.taken = set(taken)
        self._separator = separator
        self._first = first

    def new(self, stem: str) -> str:
        number = self._first
        while f"{stem}{self._separator}{number}" in self.taken:
            number += 1
        name = f"{stem}{self._separator}{number}"
        self.taken.add(name)
        return name
