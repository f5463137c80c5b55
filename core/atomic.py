"""Write a file or a folder completely, or not at all: under a temporary name, then one rename.

A rename within one folder is atomic, so a reader (an editor importing the render, the engine
loading a checkpoint, a second job reading a cached profile) sees either the previous content or
the new one, never a half-written file: a crash, a full disk or a cancel leaves the target as it
was. Temporary files are named by `mytalk.core.tempnames`, so a later run can tell a live job's
file from one that a killed process left behind.

A job that delivers several files at once does not rename them one by one but stages them all
and commits them together (`mytalk.core.jobs.staging`); it shares `undo_on_failure` with the
single-file writers.

These two modules are the only ones in core, ui and plugin that rename files
(`tests/test_atomic.py` checks): a writer elsewhere that made up its own temporary name would
leave a file that `mytalk clean` cannot recognise when its process is killed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from mytalk.core.errors import OutputError
from mytalk.core.tempnames import temp_path


class AtomicFile:
    """One file written at `temp` (by default a fresh temporary name beside `target`), then
    renamed onto `target` by `commit`; `discard` deletes what was written.

    As a context manager it yields the temporary path and commits on a clean exit, discards on
    any exception. Writers that stream into the file over several calls (the video writer) keep
    the object and call `commit` or `discard` themselves.
    """

    def __init__(self, target: Path, temp: Path | None = None) -> None:
        self.target = Path(target)
        self.temp = Path(temp) if temp is not None else temp_path(self.target)

    def commit(self) -> Path:
        """Put the finished file in place (replacing any file at `target`); returns `target`."""
        os.replace(self.temp, self.target)
        return self.target

    def discard(self) -> None:
        """Delete the temporary file, if any; never raises (it runs while another error unwinds)."""
        try:
            self.temp.unlink(missing_ok=True)
        except OSError:
            pass

    def __enter__(self) -> Path:
        return self.temp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


def write_atomically(target: Path, data: bytes | str) -> Path:
    """Put `data` (bytes, or text written as UTF-8) at `target` in one go; returns `target`.

    The small files MyTalk keeps (a preview's poster, a job record, a remembered hash, a dataset
    manifest) are complete in memory before they are written, so they need no streaming writer;
    they go through the same temporary name as every other file so that a killed process's
    leftover is one `mytalk clean` recognises.
    """
    with AtomicFile(target) as temp:
        if isinstance(data, str):
            temp.write_text(data, encoding="utf-8")
        else:
            temp.write_bytes(data)
    return Path(target)


@contextmanager
def scratch_folder(beside: Path) -> Iterator[Path]:
    """A private working folder next to `beside` (same file system), deleted however the block ends.

    It is for intermediate files too big for the system's temporary folder (a fine-tune's crops
    of the footage). It carries a `partial` temporary name with this process's id, so the folder a
    killed process leaves is one that `mytalk clean` finds and deletes.
    """
    folder = temp_path(Path(beside))
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def replace_folder(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder's new content with `fill(temporary folder)` beside it, then swap it in.

    The previous folder is moved aside (`.NAME.old-PID`) and deleted only once the new one is in
    place, so an interrupted build or swap never leaves a half-built folder under the real name.
    Returns `folder`.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        fill(temp)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
        os.replace(temp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return folder


@contextmanager
def undo_on_failure(undo: Callable[[], None], explain: Callable[[OSError], str]) -> Iterator[None]:
    """Run a block that saves output; if it fails, `undo()` what it wrote first, then re-raise.

    An `OSError` (a full disk, a lost share, a read-only folder) is re-raised as an `OutputError`
    whose message is `explain(error)`: the user gets one line saying what to do, not a traceback.
    An `OutputError` (already worded for the user) and anything else pass through unchanged.
    """
    try:
        yield
    except BaseException as error:
        undo()
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(explain(error)) from error
        raise
