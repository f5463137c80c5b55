"""Keep MediaPipe's native start-up chatter out of the editor's terminal and the runtime's log.

MediaPipe's C++ graphs and TFLite write lines such as "Created TensorFlow Lite XNNPACK delegate"
and "W0000 ... inference_feedback_manager.cc ... Feedback manager requires ..." straight to file
descriptor 2, from their own threads, at moments we do not control. They say nothing about the
user's media and bury our one-line messages, and Python cannot filter them: they never pass
through `sys.stderr`.

So for the length of a command (or of the runtime process), fd 2 becomes a pipe read by a filter
thread: known chatter goes to the `mytalk.native` logger at debug level, and every other line is
passed on to the real stderr unchanged, so a native error is never swallowed. Python's own `sys.stderr` is pointed at a
duplicate of the real stderr, so our messages are immediate and cannot be lost at exit. Lines
stay whole; the order of a native line against a Python line written at the same moment is not
guaranteed.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("mytalk.native")

_CHATTER = re.compile(
    rb"^(?:[IW]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"  # absl prefix: W0000 00:00:1795.3 1234 file.cc:12]
    rb"|INFO: Created TensorFlow Lite"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    # PocketSphinx prints a forced alignment that lost every path, and an alignment grammar that gave up,
    # as "ERROR" lines. Both are outcomes the phone timing handles (`audio.phonemes`: a retry without
    # fillers, else the transcript is reported unusable and recognition times the phones) and the job
    # report states; they are not failures of the job.
    rb'|ERROR: "state_align_search\.c", line \d+: Alignment failed in frame \d+'
    rb'|ERROR: "fsg_search\.c", line \d+: Final result does not match the grammar in frame \d+)'
)


def is_chatter(line: bytes) -> bool:
    """True for MediaPipe/TFLite info and warning lines (errors, `E....`, always pass)."""
    return bool(_CHATTER.match(line))


def _pump(read_fd: int, real_fd: int) -> None:
    """Forward the pipe's lines until every write end is closed.

    It keeps draining even when the real stderr is gone (a closed pipe): a full pipe would block
    the native writers, and with them the job.
    """
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        for line in io.BufferedReader(pipe):  # type: ignore[arg-type]
            if is_chatter(line):
                log.debug("%s", line.decode("utf-8", errors="replace").rstrip())
                continue
            try:
                os.write(real_fd, line)
            except OSError:
                pass


@contextmanager
def filtered_native_stderr() -> Iterator[None]:
    """Filter native writes to fd 2 inside the block (see the module docstring)."""
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (a GUI process without a console)
        yield
        return
    python_stderr = sys.stderr
    read_fd, write_fd = os.pipe()
    pump = threading.Thread(target=_pump, args=(read_fd, real), name="native-stderr", daemon=True)
    pump.start()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    # Line-buffered: each line (or explicit flush, e.g. a progress bar's "\r" update) leaves in one
    # write, as each native line does from the pump, so the two never interleave inside a line.
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(real), "wb", buffering=0), line_buffering=True,
                                  encoding=getattr(python_stderr, "encoding", None) or "utf-8", errors="replace")
    try:
        yield
    finally:
        replacement = sys.stderr
        sys.stderr = python_stderr
        replacement.close()
        os.dup2(real, 2)  # closes the pipe's last write end: the pump drains and stops
        pump.join(timeout=2.0)
        os.close(real)
