"""Names of MyTalk's temporary files: short, hidden, and saying which process owns them.

A job writes each file under a temporary name beside its target and renames it into place when
complete, because a rename within one folder is atomic. The temporary name used to be derived
from the target's (`.{stem}.partial-XXXX{suffix}`), which pushed a legal 250-byte output name
past the file system's 255-byte limit. It is now a fixed ~40 bytes whatever the target is called:

    .mytalk-<pid>-<16 hex>.<kind><suffix>      e.g. .mytalk-4242-9f3c0a1b2c3d4e5f.partial.mov

`<pid>` lets a later run (or `mytalk clean`) tell a file of a live job from one that a killed
process left behind; `<kind>` is `partial` (being written) or `backup` (the previous version of a
target, kept only during the instant a job puts its files in place). The target's suffix is kept
so that tools and people looking at the folder know what the file is.

Writers get these names through `mytalk.core.atomic` (one file, or a scratch folder) or
`mytalk.core.jobs.staging` (several files committed together) rather than renaming files
themselves; `tests/test_atomic.py` fails on any other module that renames files.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

PREFIX = ".mytalk-"
KINDS = ("partial", "backup")
_NAME = re.compile(r"\.mytalk-(?P<pid>\d{1,10})-(?P<token>[0-9a-f]{16})\.(?P<kind>partial|backup)(?P<suffix>\.[A-Za-z0-9]{1,8})?")


@dataclass(frozen=True)
class TempName:
    """What a temporary file's name says about it."""

    pid: int
    kind: str
    suffix: str


def temp_path(target: Path, kind: str = "partial") -> Path:
    """A fresh temporary path beside `target` (same folder, hence same file system)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    suffix = target.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", target.suffix) else ""
    return target.with_name(f"{PREFIX}{os.getpid()}-{secrets.token_hex(8)}.{kind}{suffix}")


def parse_temp_name(name: str) -> TempName | None:
    """The owner and kind of a MyTalk temporary file name; None for any other name."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return TempName(int(match.group("pid")), match.group("kind"), match.group("suffix") or "")
