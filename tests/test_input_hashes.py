"""A job's report digests, hashed beside the render (`jobs.input_hashes`).

The digests must be exactly `file_sha256`'s under the identity each input had when the job began: the same
strings, an input rewritten meanwhile still failing the report, a cancelled or failed job remembering nothing
half-read. And a job over inputs already hashed starts no thread at all.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from conftest import media_path, settled_copy
from mytalk.core.errors import InputChangedError
from mytalk.core.hashing import FileIdentity, file_sha256, remembered_sha256
from mytalk.core.jobs.input_hashes import InputHashes

pytestmark = pytest.mark.media


def _settled_copy(tmp_path: Path, name: str) -> Path:
    return settled_copy(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / name)


def _rewrite_a_byte(path: Path) -> None:
    """One byte changed in place: the same size, another identity."""
    with open(path, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\1")


def _hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mytalk-input-hashes"]


def test_never_hashed_inputs_are_hashed_on_a_thread_and_give_file_sha256s_digests(tmp_path: Path) -> None:
    clip, line = _settled_copy(tmp_path, "clip.mp4"), _settled_copy(tmp_path, "line.mp4")
    file_sha256(line)  # remembered: only the clip is left to hash
    hashes = InputHashes([clip, line], {p: FileIdentity.of(p) for p in (clip, line)}, lambda: False)
    hashes.start()
    assert remembered_sha256(clip) is None or not _hashing_threads()  # started (or already done)
    digests = hashes.result()
    assert digests == {str(clip): file_sha256(clip), str(line): file_sha256(line)}
    assert not _hashing_threads()


def test_inputs_all_remembered_start_no_thread(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path, "clip.mp4")
    file_sha256(clip)
    hashes = InputHashes([clip], {clip: FileIdentity.of(clip)}, lambda: False)
    hashes.start()
    assert hashes._thread is None
    assert hashes.result() == {str(clip): file_sha256(clip)}


def test_an_input_rewritten_since_the_job_began_fails_the_report(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path, "clip.mp4")
    seen = FileIdentity.of(clip)
    _rewrite_a_byte(clip)
    hashes = InputHashes([clip], {clip: seen}, lambda: False)
    hashes.start()
    with pytest.raises(InputChangedError):
        hashes.result()


def test_a_stopped_job_leaves_no_digest_remembered(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path, "clip.mp4")
    hashes = InputHashes([clip], {clip: FileIdentity.of(clip)}, lambda: True)  # cancelled from the start
    hashes.start()
    hashes.stop()
    assert not _hashing_threads()
    assert remembered_sha256(clip) is None


def test_an_input_rewritten_after_the_thread_hashed_it_fails_the_report(tmp_path: Path) -> None:
    """The thread read the bytes the job read; the report still vouches only for a file that is them now."""
    clip = _settled_copy(tmp_path, "clip.mp4")
    hashes = InputHashes([clip], {clip: FileIdentity.of(clip)}, lambda: False)
    hashes.start()
    assert hashes._thread is not None
    hashes._thread.join()
    _rewrite_a_byte(clip)
    with pytest.raises(InputChangedError):
        hashes.result()


def test_a_preview_reads_no_input_whole_and_gives_only_the_digests_remembered(tmp_path: Path) -> None:
    clip, line = _settled_copy(tmp_path, "clip.mp4"), _settled_copy(tmp_path, "line.mp4")
    file_sha256(line)
    hashes = InputHashes([clip, line], {p: FileIdentity.of(p) for p in (clip, line)}, lambda: False,
                         hash_unknown=False)
    hashes.start()
    assert hashes._thread is None
    assert hashes.result() == {str(clip): None, str(line): file_sha256(line)}
    assert remembered_sha256(clip) is None  # never read for it


def test_a_preview_over_an_input_rewritten_meanwhile_fails_too(tmp_path: Path) -> None:
    clip = _settled_copy(tmp_path, "clip.mp4")
    seen = FileIdentity.of(clip)
    _rewrite_a_byte(clip)
    with pytest.raises(InputChangedError):
        InputHashes([clip], {clip: seen}, lambda: False, hash_unknown=False).result()
