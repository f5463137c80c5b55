"""One root error for everything the user can fix, each subclass also the matching builtin.

The CLI maps any `MyTalkError` to exit code 2 and prints its message as a single line, so every
message must name the file, frame or setting at fault and say what to do about it. Anything that
is not a `MyTalkError` is a bug of ours: exit code 1 with the path of a log file.
"""

from __future__ import annotations


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
