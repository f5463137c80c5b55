"""ADR cue sheets: one row per cue, read into record ranges of a cut and the line that replaces each.

A cue sheet comes out of whatever the dialogue editor tracks ADR in (a spreadsheet, Pro Tools
markers exported by a script, a studio's own database), so its columns go by many names. The sheet
is a CSV file (comma, semicolon or tab; UTF-8, with or without a BOM, or UTF-16 with one) with a header
row, and the header names are matched without regard to case, spaces, dots, `_`, `-` or `#`:

| what | required | accepted names |
|---|---|---|
| cue id | no (row number) | cue, cue id, cue number, cue no, id, number, # |
| record in | yes, or event | record in, rec in, in, tc in, timecode in, start |
| record out | yes, or event | record out, rec out, out, tc out, timecode out, end, stop |
| event | instead of in/out | event, event number, shot, clip, clip number |
| line file | yes | line, line file, file, filename, audio, audio file, take, adr file |
| transcript | no | transcript, dialogue, dialog, text, line text, words |
| actor | no | actor, character, talent, speaker |
| notes | no | notes, note, comment, comments |
| channels | no | channels, channel, tracks, track, mic, mics, microphone |

Record positions are the cut's timecode (`01:00:10:00`, `;` for drop frame), frames from the
cut's start (`240`) or seconds (`10s`), exactly as the panel's record field takes them. The out is
exclusive, as an EDL's record out is: the first frame after the cue. An event is the clip's number in
the cut, in record order, as `mytalk batch CUT --list` prints it; the cue then covers that whole clip.
Line files are relative to the sheet's folder unless absolute. A cue's channels pick the microphone of a
poly take as `--audio-channels` does (`3`, `1-2`, `boom`); empty, the take's channels are all used. A take's first sample goes on its cue's
record in, unless its Broadcast WAV time stamp puts it over the cue (`plan.cue_candidates`).

Every problem is found before anything renders, and reported as one line naming the sheet, the row
and the column (`MyTalkError`, exit code 2): a missing column, an empty or unreadable position, an out
before its in, a range outside the cut, an event the cut does not have, a line file that is not there,
channels the take does not have.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mytalk.core.errors import MediaNotFoundError, MyTalkError, RangeError, UsageError
from mytalk.core.media.channel_pick import pick_channels

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "cue": ("cue", "cueid", "cuenumber", "cueno", "id", "number", ""),
    "record_in": ("recordin", "recin", "in", "tcin", "timecodein", "start", "recordstart"),
    "record_out": ("recordout", "recout", "out", "tcout", "timecodeout", "end", "stop", "recordend"),
    "event": ("event", "eventnumber", "eventno", "shot", "shotnumber", "clip", "clipnumber"),
    "line": ("line", "linefile", "file", "filename", "audio", "audiofile", "take", "adrfile", "path"),
    "transcript": ("transcript", "dialogue", "dialog", "text", "linetext", "words"),
    "actor": ("actor", "character", "talent", "speaker"),
    "notes": ("notes", "note", "comment", "comments"),
    "channels": ("channels", "channel", "tracks", "track", "mic", "mics", "microphone"),
}
"""Canonical column → the header names that mean it, normalised by `_normalise` (so `Rec. In`, `REC_IN`
and `rec-in` are all `recin`; a bare `#` is the empty name, the cue number)."""


class CutExtent(Protocol):
    """What a cue sheet is checked against: the cut's clips, its record positions and its length."""

    path: Path

    def parse_record(self, text: str) -> int: ...

    def record_timecode(self, frame: int) -> str: ...


@dataclass(frozen=True)
class CutClip:
    """A clip of the cut by its number, for cues given by event."""

    number: int
    record_start: int
    record_stop: int


@dataclass(frozen=True)
class Cue:
    """One cue: record frames [record_start, record_stop) of the cut, and the line that replaces them."""

    row: int
    """The sheet's line number of the cue (the header is line 1), for messages and the report."""
    cue_id: str
    record_start: int
    record_stop: int
    line: Path
    transcript: str | None = None
    actor: str | None = None
    notes: str | None = None
    channels: str | None = None
    """The take's channels the cue uses, as `--audio-channels` takes them; None: all of them."""


def _normalise(name: str) -> str:
    return re.sub(r"[\s._\-#]+", "", name.strip().lower())


def _columns(header: Sequence[str], sheet: Path) -> dict[str, int]:
    """Canonical column → index in the header; a header name matching two columns is the first's."""
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        key = _normalise(raw)
        for column, names in COLUMN_NAMES.items():
            if key in names and column not in found:
                found[column] = index
                break
    has_range = "record_in" in found and "record_out" in found
    if not has_range and "event" not in found:
        missing = [name for name in ("record in", "record out") if name.replace(" ", "_") not in found]
        raise UsageError(f"{sheet.name}: no {' or '.join(missing)} column and no event column; a cue needs "
                         f"'record in' and 'record out' (or 'event'); the header has: {', '.join(header)}")
    if "line" not in found:
        raise UsageError(f"{sheet.name}: no line file column ('line', 'file', 'audio', 'take'...); "
                         f"the header has: {', '.join(header)}")
    return found


def _read_text(sheet: Path) -> str:
    """The sheet's text: UTF-8 (with or without a BOM), or UTF-16 with its BOM, as a spreadsheet's
    "Unicode text" export writes it."""
    try:
        data = sheet.read_bytes()
    except FileNotFoundError as error:
        raise MediaNotFoundError(f"cue sheet not found: {sheet}") from error
    except OSError as error:
        raise UsageError(f"{sheet.name}: cannot be read ({error.strerror or error}); check the file") from error
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise UsageError(f"{sheet.name}: cannot be read as {encoding.upper().replace('-SIG', '')} text ({error}); "
                         "save it as CSV (UTF-8)") from error


def _read_rows(sheet: Path) -> list[tuple[int, list[str]]]:
    """The sheet's non-empty rows, each with the sheet line it starts on (the header is line 1).

    Read as one stream, not line by line: a quoted cell may hold line breaks (a spreadsheet's dialogue
    cell wrapped by hand), which stay in the cell, and the rows after it keep their true line numbers.
    """
    text = _read_text(sheet)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff((text.splitlines() or [""])[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[tuple[int, list[str]]] = []
    next_line = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((next_line, row))
            next_line = reader.line_num + 1
    except csv.Error as error:
        raise UsageError(f"{sheet.name} line {next_line}: not a CSV row ({error}); check its quotes") from error
    return rows


def read_cue_sheet(sheet: Path, cut: CutExtent, clips: Sequence[CutClip]) -> list[Cue]:
    """The cues of `sheet`, checked against `cut` (its clips give its length and the event numbers).

    Raises a `MyTalkError` with one line for the first problem; nothing is rendered before this returns.
    """
    sheet = Path(sheet).expanduser()
    rows = _read_rows(sheet)
    if not rows:
        raise UsageError(f"{sheet.name}: the cue sheet is empty; it needs a header row and one row per cue")
    header, body = rows[0][1], rows[1:]
    columns = _columns(header, sheet)
    if not body:
        raise UsageError(f"{sheet.name}: the cue sheet has a header but no cues")
    cut_end = max((clip.record_stop for clip in clips), default=0)
    by_number = {clip.number: clip for clip in clips}
    cues: list[Cue] = []
    for number, (line_number, row) in enumerate(body, start=1):

        def cell(column: str, row: list[str] = row) -> str:
            index = columns.get(column)
            return row[index].strip() if index is not None and index < len(row) else ""

        where = f"{sheet.name} line {line_number}"
        start, stop = _record_range(cut, where, cell("record_in"), cell("record_out"), cell("event"), by_number)
        if not 0 <= start < stop <= cut_end:
            raise RangeError(f"{where}: record {cut.record_timecode(start)}-{cut.record_timecode(stop)} lies outside "
                             f"the cut ({cut.record_timecode(0)}-{cut.record_timecode(cut_end)}); check the cue's "
                             "in and out against this cut")
        line_text = cell("line")
        if not line_text:
            raise UsageError(f"{where}: the line file column is empty; name the cue's recorded line")
        line = Path(line_text).expanduser()
        line = line if line.is_absolute() else sheet.parent / line
        if not line.is_file():
            raise MediaNotFoundError(f"{where}: line file not found: {line}")
        channels = cell("channels") or None
        if channels is not None:
            pick_channels(channels, line, what=f"{where}: channels")  # a take without them fails here, not mid-batch
        cues.append(Cue(line_number, cell("cue") or str(number), start, stop, line,
                        cell("transcript") or None, cell("actor") or None, cell("notes") or None, channels))
    return cues


def _record_range(cut: CutExtent, where: str, record_in: str, record_out: str, event: str,
                  by_number: dict[int, CutClip]) -> tuple[int, int]:
    if record_in or record_out:
        if not (record_in and record_out):
            raise UsageError(f"{where}: give both record in and record out (got {record_in or '-'} / {record_out or '-'})")
        try:
            start, stop = cut.parse_record(record_in), cut.parse_record(record_out)
        except MyTalkError as error:
            raise UsageError(f"{where}: {error}") from error
        if stop <= start:
            raise RangeError(f"{where}: record out {record_out} is not after record in {record_in}")
        return start, stop
    if not event:
        raise UsageError(f"{where}: no record in/out and no event; say where the cue is in the cut")
    try:
        number = int(event)
    except ValueError as error:
        raise UsageError(f"{where}: event {event!r} is not a number; events are the cut's clips in record order "
                         "(mytalk batch CUT --list)") from error
    clip = by_number.get(number)
    if clip is None:
        raise RangeError(f"{where}: event {number} is not in the cut, which has clips 1-{max(by_number, default=0)} "
                         "(mytalk batch CUT --list)")
    return clip.record_start, clip.record_stop
