"""The clips of a training corpus as it comes: LRS2, LRS3, HDTF, VoxCeleb2, or a studio's own folder.

Each layout says, for every clip: its file, its speaker, its transcript when the corpus has one,
and the split the corpus itself assigns (None when it assigns none; `dataset_build.assign_splits`
then splits by speaker). What is known of each layout:

- **LRS2** (`mvlrs_v1/{main,pretrain}/ID/NNNNN.mp4`, `NNNNN.txt` beside each): ID is a BBC
  programme; the corpus names no speakers, so the programme stands for the speaker (its own
  train/val/test lists split by programme too). `val.txt` / `test.txt` at the root or in
  `mvlrs_v1/` (`ID/NNNNN` per line, sometimes with a trailing tag) put their clips in the
  validation split, every other clip in training.
- **LRS3** (`{pretrain,trainval,test}/ID/NNNNN.mp4` + `.txt`): ID is a TED talk, one speaker;
  `test` speakers are disjoint from the others, so `test` is the validation split.
- The LRS `.txt` starts `Text:  THE WORDS` (then `Conf:`, `Ref:` or a word-timing table): the
  `Text:` line is the transcript.
- **VoxCeleb2** (`[dev|test]/mp4/idNNNNN/YOUTUBEID/NNNNN.mp4`, or `idNNNNN/...` alone): the
  speaker is `idNNNNN`; `test` speakers are disjoint from `dev`, so `test` is the validation split.
- **HDTF** (a folder of videos): the corpus ships per group (`WDA`, `WRA`, `RD`) an annotation
  file `GROUP_annotion_time.txt` (the corpus's spelling) whose lines are
  `NAME.mp4 MM:SS-MM:SS [MM:SS-MM:SS ...]`: the usable spans of the raw YouTube video NAME.
  A video named `NAME` or `GROUP_NAME` that a line names is cut into one clip per span; any other
  video (already cut, as the common `WDA_BarackObama_000.mp4` distributions are) is taken whole.
  The speaker is the name without the clip index and, for people (`WDA`, `WRA`), without the
  trailing video number (`AmyKlobuchar0` and `AmyKlobuchar1` are one senator); each `RD` radio
  video is its own speaker (`Radio11`).
- **folder**: any tree of videos; the speaker is the clip's first folder under the root (so an
  actor's takes sorted into sub-folders by day stay one speaker), and a flat folder is one speaker
  (its name): with nothing saying who speaks, taking every file for a different speaker could
  put the same face on both sides of the split. `VIDEO.txt` beside a video is its transcript
  (plain UTF-8 text, or the LRS form).

A clip whose transcript file cannot be read is kept with its `problem` set, so the build reports
it as rejected instead of training on it without words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mytalk.core.errors import MediaNotFoundError, UsageError
from mytalk.core.settings.grammar import VIDEO_SUFFIXES

LAYOUTS = ("auto", "lrs2", "lrs3", "hdtf", "voxceleb2", "folder")
_VOX_ID = re.compile(r"^id\d{5}$")
_TIME = re.compile(r"^(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)$")
_LRS2_PARTS = {"main", "pretrain"}
_LRS3_PARTS = {"pretrain", "trainval", "test"}
_VOX_PARTS = {"dev", "test"}
_HDTF_PEOPLE = ("WDA", "WRA")
_HDTF_GROUPS = (*_HDTF_PEOPLE, "RD")


@dataclass(frozen=True)
class ClipSource:
    """One clip to extract: a video (or `span`, seconds `IN-OUT`, of it) and what the corpus says of it.

    problem: why the clip cannot be used although its video may be fine (an unreadable transcript).
    """

    path: Path
    speaker: str
    transcript: str | None = None
    split: str | None = None
    span: str = ""
    problem: str | None = None


def read_transcript(path: Path) -> str | None:
    """The words of a transcript file: the `Text:` line of an LRS-style file, else the whole text;
    None for an empty file. UsageError when it cannot be read as UTF-8 text."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"transcript {path} unreadable ({error.strerror or error}); fix its permissions") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"transcript {path} is not UTF-8 text; save it as UTF-8") from None
    if "\0" in text:
        raise UsageError(f"transcript {path} is binary, not text; put the words only in it")
    for line in text.splitlines():
        if line.startswith("Text:"):
            return line[len("Text:"):].strip() or None
    return text.strip() or None


def _videos(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
            yield path


def clip_source(video: Path, speaker: str, split: str | None = None, span: str = "") -> ClipSource:
    """A clip with the transcript beside its video, or the reason that transcript is unusable."""
    sidecar = video.with_suffix(".txt")
    if span or not sidecar.is_file():
        return ClipSource(video, speaker, None, split, span)
    try:
        return ClipSource(video, speaker, read_transcript(sidecar), split, span)
    except UsageError as error:
        return ClipSource(video, speaker, None, split, span, problem=str(error))


def _dirs(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def detect_layout(root: Path) -> str:
    """The layout of a corpus folder, from its top-level structure (see the module docstring).

    Only the structure each corpus is published with counts, so a studio folder that merely has
    a sub-folder called `test` is still read as a plain folder.
    """
    dirs = _dirs(root)
    if any(root.glob("*_annotion_time.txt")) or any(root.glob("*/*_annotion_time.txt")):
        return "hdtf"
    if dirs and dirs <= _VOX_PARTS and any((root / n / "mp4").is_dir() for n in dirs):
        return "voxceleb2"
    if dirs and all(_VOX_ID.match(n) for n in dirs):
        return "voxceleb2"
    if "mvlrs_v1" in dirs or (dirs and dirs <= _LRS2_PARTS and "main" in dirs):
        return "lrs2"
    if dirs and dirs <= _LRS3_PARTS:
        return "lrs3"
    return "folder"


def _mismatch(root: Path, layout: str, video: Path, expected: str) -> UsageError:
    return UsageError(f"{root}: is not in the {layout} layout ({video.relative_to(root)} is not {expected}); "
                      "use --layout auto or --layout folder")


def _lrs_listed(folder: Path, name: str) -> set[str]:
    """`ID/NNNNN` entries of an LRS split list (`val.txt`), without any trailing tag."""
    path = folder / name
    if not path.is_file():
        return set()
    return {line.split()[0] for line in path.read_text(errors="replace").splitlines() if line.strip()}


def _lrs2(root: Path) -> list[ClipSource]:
    base = root / "mvlrs_v1" if (root / "mvlrs_v1").is_dir() else root
    held_out = set().union(*(_lrs_listed(f, n) for f in {root, base} for n in ("val.txt", "test.txt")))
    clips = []
    for video in _videos(base):
        parts = video.relative_to(base).parts
        if not (len(parts) == 3 and parts[0] in _LRS2_PARTS):
            raise _mismatch(root, "lrs2", video, "main/ID/NNNNN.mp4 or pretrain/ID/NNNNN.mp4")
        programme = parts[1]
        split = "val" if f"{programme}/{video.stem}" in held_out else ("train" if held_out else None)
        clips.append(clip_source(video, programme, split))
    return clips


def _lrs3(root: Path) -> list[ClipSource]:
    clips = []
    for video in _videos(root):
        parts = video.relative_to(root).parts
        if not (len(parts) == 3 and parts[0] in _LRS3_PARTS):
            raise _mismatch(root, "lrs3", video, "{pretrain,trainval,test}/ID/NNNNN.mp4")
        clips.append(clip_source(video, parts[1], "val" if parts[0] == "test" else "train"))
    return clips


def _voxceleb2(root: Path) -> list[ClipSource]:
    clips = []
    for video in _videos(root):
        parts = video.relative_to(root).parts
        speaker = next((p for p in parts[:-1] if _VOX_ID.match(p)), None)
        if speaker is None:
            raise _mismatch(root, "voxceleb2", video, "under an idNNNNN speaker folder")
        split = "val" if parts[0] == "test" else ("train" if parts[0] == "dev" else None)
        clips.append(clip_source(video, speaker, split))
    return clips


def _seconds(stamp: str) -> float | None:
    match = _TIME.match(stamp)
    if not match:
        return None
    return int(match[1] or 0) * 3600 + int(match[2]) * 60 + float(match[3])


def _hdtf_spans(root: Path) -> dict[str, tuple[str, list[tuple[float, float]]]]:
    """(`GROUP_NAME`, spans in seconds) by video stem, under both stems a download may have: `NAME`
    and `GROUP_NAME`."""
    spans: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    for note in sorted(root.rglob("*_annotion_time.txt")):
        group = note.name[: -len("_annotion_time.txt")]
        for number, line in enumerate(note.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            found = []
            for field in fields[1:]:
                a, _, b = field.partition("-")
                start, stop = _seconds(a), _seconds(b)
                if start is None or stop is None:
                    raise UsageError(f"{note}:{number}: {field!r} is not a span MM:SS-MM:SS; fix the line or "
                                     "remove the annotation file to take every video whole")
                if stop <= start:
                    raise UsageError(f"{note}:{number}: span {field} ends before it starts; fix the line")
                found.append((start, stop))
            name = Path(fields[0]).stem
            for stem in (name, f"{group}_{name}"):
                spans.setdefault(stem, (f"{group}_{name}", []))[1].extend(found)
    return spans


def hdtf_speaker(stem: str) -> str:
    """The speaker of an HDTF video or clip named by its file stem (see the module docstring)."""
    name = re.sub(r"_\d+$", "", stem)  # a cut clip's index: WDA_BarackObama_000
    group, _, rest = name.partition("_")
    if group not in _HDTF_GROUPS or not rest:
        group, rest = "", name
    if group in _HDTF_PEOPLE or (not group and not rest.startswith("Radio")):
        rest = re.sub(r"(?<=\D)\d+$", "", rest)
    return f"{group}_{rest}" if group else rest


def _hdtf(root: Path) -> list[ClipSource]:
    spans = _hdtf_spans(root)
    clips = []
    for video in _videos(root):
        named, chosen = spans.get(video.stem, (video.stem, []))
        speaker = hdtf_speaker(named)
        if chosen:
            clips += [ClipSource(video, speaker, None, None, f"{a:g}s-{b:g}s") for a, b in chosen]
        else:
            clips.append(clip_source(video, speaker))
    return clips


def _folder(root: Path) -> list[ClipSource]:
    clips = []
    for video in _videos(root):
        parts = video.relative_to(root).parts
        clips.append(clip_source(video, parts[0] if len(parts) > 1 else root.resolve().name))
    return clips


READERS = {"lrs2": _lrs2, "lrs3": _lrs3, "hdtf": _hdtf, "voxceleb2": _voxceleb2, "folder": _folder}


def corpus_clips(root: Path, layout: str = "auto") -> tuple[str, list[ClipSource]]:
    """(the layout used, the clips) of the corpus folder `root`."""
    root = Path(root)
    if layout not in LAYOUTS:
        raise UsageError(f"--layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise MediaNotFoundError(f"{root}: no such folder; give a corpus folder, videos or VIDEO:IN-OUT ranges")
    used = detect_layout(root) if layout == "auto" else layout
    clips = READERS[used](root)
    if not clips:
        raise UsageError(f"{root}: holds no videos ({', '.join(VIDEO_SUFFIXES)}) for the {used} layout; "
                         "give the folder the corpus was unpacked into")
    return used, clips
