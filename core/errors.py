"""One root error for everything the user can fix, each subclass also the matching builtin.

The CLI maps any `MyTalkError` to exit code 2 and prints its message as a single line, so every
message must name the file, frame or setting at fault and say what to do about it. Anything that
is not a `MyTalkError` is a bug of ours: exit code 1 with the path of a log file.
"""

from __future__ import annotations

import errno
import os


class MyTalkError(Exception):
    """Root of every error caused by input, settings or environment that the user can fix."""

    exit_code: int = 2


class UsageError(MyTalkError, ValueError):
    """A command-line argument or setting is malformed or inconsistent."""


class MediaNotFoundError(MyTalkError, FileNotFoundError):
    """An input file does not exist."""


class MediaFormatError(MyTalkError, ValueError):
    """An input file exists but cannot be decoded as the media it should be."""


class RangeError(MyTalkError, IndexError):
    """A frame range is empty, reversed, or lies outside the clip."""


class AudioError(MyTalkError, ValueError):
    """The replacement audio is empty or cannot be placed on the range."""


class OutputError(MyTalkError, PermissionError):
    """The output cannot be written: unwritable folder, or it would overwrite an input."""


class ManifestError(MyTalkError, ValueError):
    """The plugin manifest is malformed; the message lists every bad field."""


class ModelNotFoundError(MyTalkError, FileNotFoundError):
    """An engine needs trained weights that are not installed; the message says how to train them."""


class CheckpointError(MyTalkError, ValueError):
    """A weights file is a pickle, corrupt, or was saved with another configuration."""


class JobCancelledError(MyTalkError, InterruptedError):
    """The user cancelled a job; nothing was written."""

    exit_code = 130


class InputChangedError(MediaFormatError):
    """An input file was rewritten while a job read it, so no report could say what was rendered."""


# Operating-system errors that come from the user's machine, not from a bug of ours: each gets
# exit code 2 and a line saying what to do, wherever in a job it surfaces.
_ENVIRONMENT_ERRNOS: dict[int, str] = {
    errno.ENOSPC: "no space left on the disk; free some space or choose another folder",
    errno.EDQUOT: "the disk quota is used up; free some space or choose another folder",
    errno.EFBIG: "the file is too large for this file system; choose another folder",
    errno.EROFS: "the disk is read-only; choose another folder",
    errno.ENAMETOOLONG: "a file name is too long for this file system; choose a shorter name",
    errno.EACCES: "permission denied; check the file's permissions or choose another folder",
    errno.EPERM: "the operation is not permitted; check the file's permissions or choose another folder",
    errno.EIO: "input/output error (a failing disk or a lost network share); check the disk and try again",
    errno.ESTALE: "the network share went away; reconnect it and try again",
    errno.EMFILE: "too many open files; close other programs and try again",
    errno.ENFILE: "too many open files on the system; close other programs and try again",
}


def describe_os_error(error: OSError) -> str:
    """One line naming the file and what happened, with the fix when the cause is the machine's."""
    where = error.filename if isinstance(error.filename, str | bytes | os.PathLike) else None
    what = _ENVIRONMENT_ERRNOS.get(error.errno or 0) or (error.strerror or str(error) or type(error).__name__)
    return f"{os.fsdecode(where)}: {what}" if where is not None else what


def environment_error(error: BaseException) -> MyTalkError | None:
    """The user-fixable error an `OSError` stands for (disk full, read-only, name too long, ...).

    None for anything else: an unexpected error is a bug and keeps exit code 1 and its log file.
    """
    if isinstance(error, MyTalkError) or not isinstance(error, OSError) or error.errno not in _ENVIRONMENT_ERRNOS:
        return None
    return OutputError(describe_os_error(error))
