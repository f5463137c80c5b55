"""A finished preview or commit tells the editor in the panel what the command line prints after "wrote ...": the
frames it passed through without the actor's face, and its warnings, with the remedies named as the panel's own
controls. Before, the panel showed only "wrote ...", whatever the job had to say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.poly_wav import write_poly_wav
from cli_helpers import run_mytalk
from conftest import classic_runtime_panel, media_path
from mytalk.core.media.audio import decode_audio, decode_placed
from mytalk.ui.jobs import JobEntry
from mytalk.ui.panel_model.job_notes import JobNotes, headline, in_panel_words

CUTAWAY = "wav2lip_pr600_man_720p_cutaway.mov"
LINE = "jfk_inaugural_en_16k.wav"


def _timecode(frame: int) -> str:
    return f"00:00:{frame // 25:02d}:{frame % 25:02d}"


def test_a_done_event_gives_the_jobs_row_its_faceless_frames_and_warnings() -> None:
    entry = JobEntry("j1", "preview", "preview 300-340", first_frame=300)
    entry.apply({"event": "done", "id": "j1", "result": {
        "path": "/renders/proxy.mp4", "warnings": ["the replacement line is silent over the whole range (audio-in "
                                                   "0s); the mouth will stay closed - check --audio-in if that is "
                                                   "not intended"],
        "faceless": [[318, 328], [331, 332]]}}, _timecode)
    assert entry.message == "wrote proxy.mp4; 11 frames without a face; 1 warning (hover for details)"
    assert entry.note_lines == (
        "11 frames without the actor's face passed through unchanged: frames 318-327 (00:00:12:18), "
        "331 (00:00:13:06)",
        "the replacement line is silent over the whole range (audio-in 0s); the mouth will stay closed - check "
        "the line's slip if that is not intended")
    assert headline("preview", entry.note_lines).startswith("Preview: 11 frames without the actor's face")
    assert headline("preview", entry.notes.lines()).endswith("(1 more: hover the job's row)")
    clean = JobEntry("j2", "commit", "commit")
    clean.apply({"event": "done", "id": "j2", "result": {"output": "/renders/a_v001.mov", "warnings": [],
                                                          "faceless": []}})
    assert clean.message == "wrote a_v001.mov" and not clean.notes and clean.note_lines == ()
    older = JobEntry("j3", "preview", "preview")  # an older runtime's summary has neither
    older.apply({"event": "done", "id": "j3", "result": {"path": "/p.mp4"}})
    assert older.message == "wrote p.mp4" and not older.notes


def test_many_stretches_without_a_face_are_counted_past_the_first_few() -> None:
    notes = JobNotes(faceless=tuple((k * 10, k * 10 + 2) for k in range(6)))
    sentence = notes.faceless_sentence()
    assert sentence == ("12 frames without the actor's face passed through unchanged: frames 0-1, 10-11, 20-21, "
                        "30-31 and 2 more stretches")


@pytest.mark.media
def test_every_remedy_a_job_names_is_worded_as_the_panels_controls(tmp_path: Path) -> None:
    """The warnings whose remedy is a command-line option, made by the jobs themselves (a camera's four channels
    heard mixed, with and without a channel the line's words match; a poly line used whole; a line silent over
    the range), read in the panel without an option: each names the list or setting that mends it."""
    from test_guide_channels import _two_hander

    from mytalk.core.jobs.request import SyncRequest, resolve_request
    from mytalk.core.jobs.sync import _many_guide_channels_warning

    camera, line = _two_hander(tmp_path)
    resolved = resolve_request(SyncRequest(video=camera, audio=line, output=tmp_path / "o.mov", in_point="0",
                                           out_point="100"))
    own = decode_placed(line, 48000, num_frames=100, fps=resolved.fps)
    other = decode_placed(media_path("audio", LINE), 48000, num_frames=100, fps=resolved.fps)
    (named,) = _many_guide_channels_warning(resolved, own)
    (unnamed,) = _many_guide_channels_warning(resolved, other)

    voice = decode_audio(media_path("audio", LINE), 48000).samples[0][: 48000 * 4]
    poly = write_poly_wav(tmp_path / "poly.wav", np.stack([voice, 0.5 * voice, 0.2 * voice, 0.1 * voice]))
    silent = write_poly_wav(tmp_path / "silent.wav", np.zeros((1, 48000 * 4)))
    clip = media_path("video", "hdtf_wda_katiehill_512.mp4")
    warned: list[str] = [named, unnamed]
    for each in (poly, silent):
        report = tmp_path / f"{each.stem}.json"
        result = run_mytalk("sync", clip, "--audio", each, "-o", tmp_path / f"{each.stem}.mkv", "--in", "0",
                            "--out", "25", "--engine", "copy", "--report", report)
        assert result.code == 0, result.stderr
        warned += [w for w in json.loads(report.read_text())["warnings"] if "--" in w]
    assert len(warned) == 4, warned
    worded = [in_panel_words(w) for w in warned]
    assert [w for w in worded if "--" in w] == []
    assert "the line's words match channel 3 BOOM best" in worded[0]
    assert worded[0].endswith("): pick it in the Guide list beside Clip…")
    assert worded[1].endswith("pick the actor's microphone in the Guide list beside Clip…")
    assert worded[2].endswith("pick the channels to use in the list beside Line…")
    assert "check the line's slip if that is not intended" in worded[3]


@pytest.mark.media
def test_a_preview_over_a_cutaway_says_which_frames_kept_the_old_mouth(qtbot: Any, tmp_path: Path) -> None:
    """A real preview through the runtime whose range runs into a full-screen graphic: the frames without the
    actor's face are named in the status line and in the job's row, with their timecodes."""
    with classic_runtime_panel(qtbot, media_path("video", CUTAWAY), media_path("audio", LINE),
                               tmp_path / "renders") as panel:
        panel.set_range(308, 328)  # the graphic starts at 10.6 s, frame 318 at 30 fps
        job_id = panel.start_preview()
        assert job_id is not None
        qtbot.waitUntil(lambda: panel.jobs.entries[job_id].finished, timeout=240_000)
        entry = panel.jobs.entries[job_id]
        assert entry.state == "done", entry.message
        assert entry.notes.faceless and entry.notes.faceless[-1][1] == 328
        first = entry.notes.faceless[0][0]
        assert 316 <= first <= 320 and "without a face" in entry.message
        status = panel.status_line.full_text
        assert panel.status_line.kind == "warning"
        assert status.startswith(f"Preview: {328 - first} frames without the actor's face passed through unchanged: "
                                 f"frames {first}-327 ({panel.transport.timecode(first)})"), status
