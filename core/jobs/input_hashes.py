"""The SHA-256 of a job's inputs for its report, hashed beside the render instead of after it.

A report vouches for the bytes a job read by their SHA-256 (`hashing.file_sha256`, remembered per file
identity). The caches no longer need that digest (`hashing.cache_key` keys a large file by its identity), so
the first job on a never-seen camera original meets the whole-file hash only at its report: 8-10 s of one
core for ten minutes of ProRes, after the last frame, which a preview's proxy then waited for. A file whose
digest is not remembered is hashed on a thread from the job's first frame on, while the rest of the range
renders, and the report takes the digest from it.

The digests are exactly `file_sha256`'s, under the identity each input had before the job read it (`expect`):
an input rewritten meanwhile, even after the thread hashed it, still fails the job at its report.

A preview is never a deliverable (`commands.preview`), so it vouches for nothing it would have to read a
file whole for: its report gives the digests already remembered and None for the rest (`hash_unknown=False`),
and an input rewritten while it ran fails it all the same.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from mytalk.core.hashing import FileIdentity, changed_error, file_sha256, remembered_sha256
from mytalk.core.progress import CancelFn


class InputHashes:
    """The report's digests of `inputs`; `start` hashes the unremembered ones on a thread of their own (with
    `hash_unknown`; without it they are left None)."""

    def __init__(self, inputs: Sequence[Path], identities: Mapping[Path, FileIdentity], is_cancelled: CancelFn,
                 *, hash_unknown: bool = True) -> None:
        self._inputs = list(dict.fromkeys(inputs))
        self._hash_unknown = hash_unknown
        self._identities = dict(identities)
        self._is_cancelled = is_cancelled
        self._stop = threading.Event()
        self._digests: dict[Path, str] = {}
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start hashing the inputs whose digests are not remembered (once; nothing when all are)."""
        if self._thread is not None or not self._hash_unknown:
            return
        unknown = [path for path in self._inputs if remembered_sha256(path) is None]
        if not unknown:
            return

        def hash_all() -> None:
            try:
                for path in unknown:
                    self._digests[path] = file_sha256(path, expect=self._identities.get(path),
                                                      is_cancelled=lambda: self._stop.is_set() or self._is_cancelled())
            except BaseException as error:  # noqa: BLE001 - raised again by `result`, on the job's thread
                self._error = error

        self._thread = threading.Thread(target=hash_all, name="mytalk-input-hashes", daemon=True)
        self._thread.start()

    def result(self) -> dict[str, str | None]:
        """Every input's digest, by path as named: what the thread hashed, the rest here (None for one not
        remembered, without `hash_unknown`). Raises what hashing raised (`InputChangedError` for an input
        rewritten since the job began, `JobCancelledError`)."""
        self.start()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        for path in self._inputs:
            if not _unchanged(path, self._identities.get(path)):
                raise changed_error(path)  # read by the job, rewritten since: vouched for by nobody
        return {str(path): self._digest(path) for path in self._inputs}

    def _digest(self, path: Path) -> str | None:
        if path in self._digests:
            return self._digests[path]
        if not self._hash_unknown and remembered_sha256(path) is None:
            return None
        return file_sha256(path, expect=self._identities.get(path))

    def stop(self) -> None:
        """Stop the thread, if any, and wait for it (a failed or cancelled job reports nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _unchanged(path: Path, identity: FileIdentity | None) -> bool:
    """Whether `path` still has the identity the job saw (True when it saw none: `file_sha256` decides)."""
    try:
        return identity is None or FileIdentity.of(path) == identity
    except OSError:
        return False
