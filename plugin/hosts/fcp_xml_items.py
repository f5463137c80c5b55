"""Reading FCP 7 XML (`xmeml`, as Premiere, Final Cut Pro 7 and Resolve export it) where OpenTimelineIO's
adapter does not: the parts of a cut that `fcp_audio` and `fcp_version` need from the XML itself.

An element is defined once and later named by its id alone: a `<file id="file-1">` holds its `pathurl` the
first time only. A clip item's `<start>` and `<end>` are sequence frames from the sequence's start (-1 beside
a transition, whose own item holds the frames), and its `<in>`/`<out>` frames of its media from its start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname
from xml.etree import ElementTree


@dataclass(frozen=True)
class ClipItem:
    """A clip item of a sequence's track that plays a local file: its record frames [start, end) and file."""

    element: ElementTree.Element
    start: int
    end: int
    media: str
    track: ElementTree.Element


def main_sequence(root: ElementTree.Element) -> ElementTree.Element | None:
    """The cut: the first sequence that is not a clip inside another sequence (a nest)."""
    nested = {id(inner) for item in root.iter("clipitem") for inner in item.iter("sequence")}
    return next((s for s in root.iter("sequence") if id(s) not in nested), None)


def file_paths(root: ElementTree.Element, cut: Path) -> dict[str, Path]:
    """Each `<file id>`'s local path, from its first definition (later uses repeat only the id)."""
    paths: dict[str, Path] = {}
    for element in root.iter("file"):
        url = element.findtext("pathurl")
        key = element.get("id", "")
        if key and url and key not in paths:
            parsed = urlparse(url)
            if parsed.scheme == "file":
                path = Path(url2pathname(unquote(parsed.path)))
            elif parsed.scheme and len(parsed.scheme) > 1:
                continue  # not a local file
            else:
                path = Path(unquote(url))
            paths[key] = path if path.is_absolute() else cut.parent / path
    return paths


def enabled(element: ElementTree.Element) -> bool:
    """An item or track is on unless its `<enabled>` says FALSE."""
    return (element.findtext("enabled") or "TRUE").strip().upper() != "FALSE"


def int_or_none(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def clip_items(sequence: ElementTree.Element, kind: str, files: dict[str, Path]) -> Iterator[ClipItem]:
    """The enabled clip items of the sequence's enabled `kind` ("video" or "audio") tracks that play a local
    file over frames of their own (not a transition's neighbour, whose `start` or `end` is -1)."""
    for track in sequence.findall(f"./media/{kind}/track"):
        if not enabled(track):
            continue
        for item in track.findall("clipitem"):
            first, last = int_or_none(item.findtext("start")), int_or_none(item.findtext("end"))
            reference = item.find("file")
            path = files.get(reference.get("id", "")) if reference is not None else None
            if enabled(item) and first is not None and last is not None and first >= 0 and last > first \
                    and path is not None:
                yield ClipItem(item, first, last, os.path.abspath(path), track)
