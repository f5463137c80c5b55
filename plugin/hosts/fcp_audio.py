"""Which channels of a clip's own sound an FCP 7 XML cut plays with it (Premiere, Final Cut Pro 7, Resolve).

A camera file often carries several microphones (a mix, the boom, each actor's lavalier), and the editor
keeps the ones to hear as the clip's audio items in the cut. FCP 7 XML names each audio item's source
channel in `<sourcetrack><trackindex>` (from 1, one per mono channel of the file, in stream order: the
numbers `--guide-channels` counts by). OpenTimelineIO's FCP adapter drops that element, so it is read here
from the XML itself, for the clip a shot picked: the enabled audio items on enabled tracks that play the
same file over the shot's record frames.

A track of FCP 7's (and Resolve's) carries one channel. Premiere marks its tracks: a `Mono` track, and a
stereo track "exploded" into two (`premiereTrackType="Stereo"`, `totalExplodedTrackCount="2"`, one item per
channel on each) carry one channel per item too; on any other kind (a stereo track not exploded, an adaptive
or 5.1 track) an item may carry several, so where one of those plays the clip the channels are not known
and nothing is said.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

from mytalk.plugin.hosts.fcp_xml_items import clip_items, file_paths, int_or_none, main_sequence


class FcpAudioItems:
    """A cut's audio items, read once (a feature's cut is megabytes of XML, and a batch asks for every shot):
    `heard_channels` for each shot."""

    def __init__(self, text: str, cut: Path) -> None:
        self._items: list[tuple[int, int, str, int | None]] = []  # (start, end, file, its channel if known)
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            return
        sequence = main_sequence(root)
        if sequence is None:
            return
        for item in clip_items(sequence, "audio", file_paths(root, cut)):
            kind = item.track.get("premiereTrackType")
            one_channel = kind in (None, "Mono") or (kind == "Stereo" and item.track.get("totalExplodedTrackCount") == "2")
            index = int_or_none(item.element.findtext("./sourcetrack/trackindex"))
            audio = item.element.findtext("./sourcetrack/mediatype", "audio") == "audio"
            known = one_channel and audio and index is not None and index >= 1
            self._items.append((item.start, item.end, item.media, index if known else None))

    def heard_channels(self, media: Path, start: int, stop: int) -> list[int] | None:
        """The source channels (from 1) of `media` that the cut's audio items play over its record frames
        [start, stop), sorted; None when no audio item of that file lies there, or one of them does not say
        which single channel it plays."""
        wanted = os.path.abspath(media)
        channels = [index for first, last, path, index in self._items
                    if path == wanted and min(stop, last) > max(start, first)]
        if not channels or None in channels:
            return None
        return sorted({index for index in channels if index is not None})
