"""The manifest's commands (preview, commit, cancel) called in-process, and their building blocks:
versioned names that never overwrite, the protocol's request parsing and its progress throttle."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from conftest import media_path
from mytalk.core.engines import available_engines
from mytalk.core.errors import JobCancelledError, OutputError
from mytalk.core.jobs import commands
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.versioning import next_version, reserve_version, safe_stem, version_name
from mytalk.core.runtime import protocol
from mytalk.core.runtime.protocol import ProgressThrottle, ProtocolError

CLIP = "retalking_face2_swalwell.mp4"
LINE = "jfk_inaugural_en_16k.wav"


def pick_engine() -> str:
    engines = available_engines()
    return "classic" if "classic" in engines else engines[0]


# -- versioning ------------------------------------------------------------------------------------


def test_versions_count_up_from_the_lowest_free_number_and_share_it_with_the_sidecar(tmp_path: Path) -> None:
    assert next_version(tmp_path, "clip_0-25", (".mov", ".json")) == 1
    (tmp_path / "clip_0-25_v001.mov").touch()
    assert next_version(tmp_path, "clip_0-25", (".mov", ".json")) == 2
    # A sidecar alone also takes its number: picture and report always share one version.
    (tmp_path / "clip_0-25_v002.json").touch()
    assert next_version(tmp_path, "clip_0-25", (".mov", ".json")) == 3
    assert version_name("clip_0-25", 12, ".mov") == "clip_0-25_v012.mov"


def test_reserving_a_version_is_atomic_and_leaves_no_lock_behind(tmp_path: Path) -> None:
    slots: list[int] = []
    gate = threading.Barrier(4)

    def reserve() -> None:
        gate.wait()
        with reserve_version(tmp_path, "shot", (".mov", ".json")) as slot:
            slot.path(".mov").write_bytes(b"x")
            slots.append(slot.version)

    threads = [threading.Thread(target=reserve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slots) == [1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"shot_v00{i}.mov" for i in range(1, 5)]


def test_each_suffix_counts_its_own_versions_and_a_running_reservation_holds_only_its_own(tmp_path: Path) -> None:
    """A timeline's `.edl` versions are numbered apart from its `.otio` ones (issue #16): neither the files
    nor the locks of one suffix take a number from another."""
    for name in ("CUT_mytalk_v001.otio", "CUT_mytalk_v002.otio"):
        (tmp_path / name).touch()
    assert next_version(tmp_path, "CUT_mytalk", (".edl",)) == 1
    assert next_version(tmp_path, "CUT_mytalk", (".otio",)) == 3
    with reserve_version(tmp_path, "CUT_mytalk", (".otio",)) as otio_slot, \
            reserve_version(tmp_path, "CUT_mytalk", (".edl",)) as edl_slot:
        assert (otio_slot.version, edl_slot.version) == (3, 1)
        assert next_version(tmp_path, "CUT_mytalk", (".edl",)) == 2, "v001.edl is held while it is written"
        # A render and its sidecar share a number: a held sidecar lock takes the number for both.
        assert next_version(tmp_path, "CUT_mytalk", (".edl", ".json")) == 2
        assert next_version(tmp_path, "CUT_mytalk", (".mov", ".json")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CUT_mytalk_v001.otio", "CUT_mytalk_v002.otio"]


def test_names_are_file_system_safe() -> None:
    assert safe_stem("A001 C003: take/2") == "A001_C003_take_2"
    assert safe_stem("  ") == "clip"


def test_an_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        with reserve_version(blocker / "sub", "shot", (".mov",)):
            pass


# -- protocol --------------------------------------------------------------------------------------


def test_requests_round_trip_as_strings_like_the_cli(tmp_path: Path) -> None:
    request = SyncRequest(video=tmp_path / "a.mov", audio=tmp_path / "b.wav", output=tmp_path, in_point="00:00:01;02",
                          out_point="120", audio_in="-0.040000s", handles=4, references=["0-24"], openness=1.2)
    line = protocol.encode({"type": "preview", "id": "1", "request": protocol.sync_request_to_json(request)})
    decoded = protocol.decode(line.encode())
    assert protocol.check_request(decoded) == ("preview", "1")
    assert protocol.sync_request_from_json(decoded["request"]) == request


def test_transcript_and_language_travel_the_protocol_into_the_engine_settings(tmp_path: Path) -> None:
    from mytalk.core.jobs.request import resolve_request

    request = SyncRequest(video=media_path("video", CLIP), audio=media_path("audio", LINE), output=tmp_path,
                          in_point="0", out_point="25", transcript="  Hola, ¿qué tal?  ", language="ES")
    line = protocol.encode({"type": "preview", "id": "7", "request": protocol.sync_request_to_json(request)})
    received = protocol.sync_request_from_json(protocol.decode(line.encode())["request"])
    assert (received.transcript, received.language) == ("  Hola, ¿qué tal?  ", "ES")
    settings = resolve_request(received).settings
    assert (settings.transcript, settings.language) == ("Hola, ¿qué tal?", "es")
    assert settings.to_dict()["language"] == "es"
    assert resolve_request(SyncRequest(video=request.video, audio=request.audio, output=tmp_path)).settings.language == "en"


@pytest.mark.parametrize("code", ["english", "e", "12", "en-", "fr fr"])
def test_a_malformed_language_code_is_a_usage_error(code: str) -> None:
    from mytalk.core.errors import UsageError
    from mytalk.core.jobs.request import check_language

    with pytest.raises(UsageError, match="--language"):
        check_language(code)


def test_language_codes_are_normalised_and_checked_against_espeak_ng() -> None:
    from mytalk.core.errors import UsageError
    from mytalk.core.jobs.request import check_language

    assert [check_language(c) for c in ("en", "ES", "pt_BR", " de ", "", None)] == ["en", "es", "pt-br", "de", "en", "en"]
    espeak = pytest.importorskip("espeakng_loader")
    assert espeak
    with pytest.raises(UsageError, match="espeak-ng has no language 'zz'"):
        check_language("zz")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "JSON object"),
        ('{"type": "hello", "id": "1"}', "version None"),
        ('{"v": 1, "type": "hello"}', "needs an \"id\""),
        ('{"v": 1, "type": "dance", "id": "1"}', "unknown request type"),
    ],
)
def test_malformed_lines_are_protocol_errors(line: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        protocol.check_request(protocol.decode(line))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"video": "a.mov", "audio": "b.wav", "output": "o", "colour": "red"}, "unknown field"),
        ({"video": "a.mov", "audio": "b.wav", "output": "o", "handles": "many"}, "whole number"),
        ({"video": "a.mov", "audio": "b.wav", "output": "o", "openness": "wide"}, "expected a number"),
        ({"video": "a.mov"}, "missing audio, output"),
    ],
)
def test_bad_request_fields_are_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        protocol.sync_request_from_json(data)


def test_progress_is_throttled_to_ten_a_second_but_keeps_stage_edges() -> None:
    now = [0.0]
    events: list[tuple[int, int, str]] = []
    throttle = ProgressThrottle(lambda d, t, s, eta: events.append((d, t, s)), clock=lambda: now[0])
    for frame in range(1, 301):  # 300 frames at 100 fps: three seconds
        now[0] = frame / 100
        throttle(frame, 300, "render")
    assert events[0] == (1, 300, "render") and events[-1] == (300, 300, "render")
    assert len(events) <= 3 * 10 + 2
    throttle(1, 10, "hash")
    assert events[-1] == (1, 10, "hash")


# -- commands, in-process ---------------------------------------------------------------------------


def request_for(output: Path, start: int = 0, stop: int = 10) -> SyncRequest:
    return SyncRequest(video=media_path("video", CLIP), audio=media_path("audio", LINE), output=output,
                       in_point=str(start), out_point=str(stop), engine=pick_engine())


def test_commit_command_versions_and_writes_the_report_sidecar(tmp_path: Path) -> None:
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    first = commands.commit(session, request_for(tmp_path / "out"))
    second = commands.commit(session, request_for(tmp_path / "out"))
    assert (first.version, second.version) == (1, 2)
    assert first.output.name == f"{Path(CLIP).stem}_0-10_v001.mov" and first.codec == "prores"
    report = json.loads(second.sidecar.read_text())
    assert report["output"]["path"] == str(second.output) and report["engine"]["name"] == pick_engine()


def test_commit_to_a_named_file_uses_its_folder_and_container(tmp_path: Path) -> None:
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    result = commands.commit(session, replace(request_for(tmp_path / "fix.mkv"), codec="ffv1"))
    assert result.output == tmp_path / f"{Path(CLIP).stem}_0-10_v001.mkv"


def test_preview_command_writes_a_proxy_in_the_session_cache(tmp_path: Path) -> None:
    session = commands.JobSession(preview_dir=tmp_path / "previews", max_previews=1)
    first = commands.preview(session, request_for(tmp_path))
    second = commands.preview(session, request_for(tmp_path, 5, 15))
    assert second.path.parent == tmp_path / "previews" and second.frames == 10
    assert not first.path.exists(), "older proxies beyond max_previews are pruned"
    assert second.to_dict()["in_timecode"] == "00:00:00:05"


def test_a_preview_shows_its_first_frame_at_once_and_a_cancelled_one_leaves_nothing(tmp_path: Path) -> None:
    import av
    import numpy as np

    session = commands.JobSession(preview_dir=tmp_path / "previews")
    told: list[tuple[Path, int, int, bool, bool]] = []

    def first_frame(path: Path, start: int, stop: int) -> None:
        told.append((path, start, stop, path.is_file(), proxy_exists()))

    def proxy_exists() -> bool:
        return any(p.suffix == ".mp4" and not p.name.startswith(".") for p in (tmp_path / "previews").iterdir())

    result = commands.preview(session, request_for(tmp_path, 5, 15), on_first_frame=first_frame)
    assert len(told) == 1
    poster, start, stop, existed, proxy_then = told[0]
    assert (start, stop) == (5, 15) and existed and not proxy_then, "told before the proxy was finished"
    # The poster is the proxy's first frame (up to H.264's loss).
    with av.open(str(result.path)) as container:
        proxy_first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    image = cv2.imread(str(poster))[..., ::-1]
    assert image.shape == proxy_first.shape
    assert float(np.abs(image.astype(np.int16) - proxy_first.astype(np.int16)).mean()) < 4.0

    def cancel_soon(done: int, total: int, stage: str) -> None:
        if stage == "render" and done == 3:
            commands.cancel(cancelling, "p-1")

    cancelling = commands.JobSession(preview_dir=tmp_path / "cancelled")
    with pytest.raises(JobCancelledError):
        commands.preview(cancelling, request_for(tmp_path, 0, 60), cancel_soon, job_id="p-1", on_first_frame=first_frame)
    assert len(told) == 2, "the first frame was shown before the cancel"
    assert list((tmp_path / "cancelled").iterdir()) == [], "neither the poster nor a partial proxy is left"


def test_cancel_command_stops_a_job_of_its_own_session_only(tmp_path: Path) -> None:
    session, other = commands.JobSession(preview_dir=tmp_path / "p"), commands.JobSession(preview_dir=tmp_path / "q")
    calls: list[bool] = []

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "render" and done == 3:
            calls.append(commands.cancel(other, "job-1"))
            calls.append(commands.cancel(session, "job-1"))

    with pytest.raises(JobCancelledError):
        commands.commit(session, request_for(tmp_path / "out", 0, 60), progress, job_id="job-1")
    assert calls == [False, True]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert commands.cancel(session, "job-1") is False, "a finished job cannot be cancelled"


def test_a_preview_vouches_only_for_digests_remembered_and_a_commit_for_every_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A preview is never a deliverable: it reads no input whole for its report (`jobs.input_hashes`). A commit
    of the same request hashes the never-hashed clip beside its render and its report holds the digest. The
    clip counts as large here, so that the caches do not hash it either (`hashing.cache_key`)."""
    import os
    import shutil
    import time

    from mytalk.core import hashing
    from mytalk.core.hashing import RACY_WINDOW_NS, file_sha256, remembered_sha256

    monkeypatch.setattr(hashing, "WHOLE_HASH_BYTES", 1000)
    clip = tmp_path / "clip.mp4"
    shutil.copyfile(media_path("video", CLIP), clip)
    past = time.time_ns() - 2 * RACY_WINDOW_NS
    os.utime(clip, ns=(past, past))
    while time.time_ns() - os.stat(clip).st_ctime_ns <= RACY_WINDOW_NS:  # settled: a digest may be remembered
        time.sleep(0.1)
    request = replace(request_for(tmp_path / "out"), video=clip)
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    line_digest = file_sha256(media_path("audio", LINE))  # remembered from now on
    preview = commands.preview(session, request)
    assert preview.report["inputs"]["video"]["sha256"] is None
    assert preview.report["inputs"]["audio"]["sha256"] == line_digest
    assert remembered_sha256(clip) is None
    committed = commands.commit(session, request)
    assert json.loads(committed.sidecar.read_text())["inputs"]["video"]["sha256"] == file_sha256(clip)
