"""The viseme lane: runs of visemes in clip time (pure), and the panel drawing them from a render's
report, dropping them when the slip or range changes; then once through the real runtime."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from conftest import classic_runtime_panel, media_path
from mytalk.ui.viseme_track import (
    TrackKey,
    VisemeLaneModel,
    blocks,
    text_row,
    track_from_report,
    viseme_runs,
)

CLIP = "retalking_face2_swalwell.mp4"  # 25 fps, 125 frames
LINE = "jfk_inaugural_en_16k.wav"
FPS = Fraction(25)


def make_report(start: int, visemes: list[str | None]) -> dict[str, Any]:
    """A report shaped as the classic engine writes it: per-frame visemes, phones from the in point."""
    frames = [{"index": start + i, "face_found": True, "viseme": v, "phone": None if v is None else v.upper()[:2]}
              for i, v in enumerate(visemes)]
    phones = [["M", 0.0, 0.08, "my"], ["AY", 0.08, 0.2, "my"], ["F", 0.2, 0.28, "friends"]]
    return {"frames": frames, "engine": {"name": "classic"},
            "engine_report": {"phones": {"path": "transcript", "reason": "aligned", "confidence": 0.9,
                                         "language": "en", "words": ["my", "friends"], "lag_frames": 1,
                                         "phones": phones}}}


# -- the pure helper -------------------------------------------------------------------------------


def test_equal_visemes_on_consecutive_frames_make_one_run_and_gaps_split_runs() -> None:
    frames = [{"index": 12, "viseme": "open"}, {"index": 10, "viseme": "closed", "phone": "M"},
              {"index": 11, "viseme": "closed", "phone": "M"}, {"index": 13, "viseme": "open"},
              {"index": 14, "viseme": None}, {"index": 15, "viseme": "open"}, {"index": 17, "viseme": "open"}]
    runs = viseme_runs(frames)
    assert [(r.start, r.stop, r.viseme) for r in runs] == [(10, 12, "closed"), (12, 14, "open"), (15, 16, "open"),
                                                           (17, 18, "open")]
    assert runs[0].phones == ("M",) and runs[0].label == "closed"


def test_runs_and_phones_map_onto_clip_time() -> None:
    key = TrackKey("a.mov", "b.wav", 25, 30, Fraction(0))
    track = track_from_report(make_report(25, ["closed", "closed", "open", "open", "lip_teeth"]), key, FPS)
    assert track is not None and track.path == "transcript" and track.confidence == 0.9
    # The view shows clip seconds 1.0 to 1.2 (frames 25-29) over 500 px: 100 px per frame.
    drawn = [(round(b.x0), round(b.x1), b.run.viseme) for b in blocks(track, 1.0, 1.2, 500)]
    assert drawn == [(0, 200, "closed"), (200, 400, "open"), (400, 500, "lip_teeth")]
    # Phone times count from the in point (frame 25 = 1.0 s of the clip).
    assert [(p.text, p.start_s) for p in track.phones][:2] == [("M", 1.0), ("AY", 1.08)]
    assert [(w.text, round(w.start_s, 3), round(w.end_s, 3)) for w in track.words] == [("my", 1.0, 1.2),
                                                                                        ("friends", 1.2, 1.28)]
    # Zoomed in, the text row shows phones; zoomed out, words.
    assert [text for *_, text in text_row(track, 1.0, 1.3, 600)] == ["M", "AY", "F"]
    assert [text for *_, text in text_row(track, 0.0, 5.0, 600)] == ["my", "friends"]


def test_a_report_without_visemes_gives_no_track() -> None:
    key = TrackKey("a.mov", "b.wav", 0, 3, Fraction(0))
    assert track_from_report({"frames": [{"index": 0, "face_found": True}]}, key, FPS) is None
    assert track_from_report({}, key, FPS) is None


def test_the_lane_forgets_its_track_when_the_slip_or_range_changes() -> None:
    key = TrackKey("a.mov", "b.wav", 25, 30, Fraction(0))
    track = track_from_report(make_report(25, ["open"] * 5), key, FPS)
    model = VisemeLaneModel()
    assert model.set_track(track, key) and model.visible(key) is track
    slipped = TrackKey("a.mov", "b.wav", 25, 30, Fraction(-2, 25))
    assert model.visible(slipped) is None
    assert model.visible(key) is None, "once stale, a track stays gone even if the slip comes back"
    # A late result rendered for an older slip is never taken.
    assert not model.set_track(track, slipped) and model.track is None
    model.set_track(track, key)
    assert model.visible(TrackKey("a.mov", "b.wav", 20, 30, Fraction(0))) is None


# -- the panel (offscreen) -------------------------------------------------------------------------


@pytest.fixture
def offline_panel(qtbot) -> Any:  # type: ignore[no-untyped-def]
    from mytalk.ui.panel import MyTalkPanel

    widget = MyTalkPanel(start_runtime=False, video=media_path("video", CLIP))
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    widget.load_line(media_path("audio", LINE))
    widget.set_range(25, 50)
    yield widget
    widget.shutdown()


def _finish_job(panel: Any, kind: str, result: dict[str, Any]) -> str:
    """Register a job as `_submit` does and deliver its done event as the runtime client would."""
    from mytalk.ui.jobs import JobEntry
    from mytalk.ui.viseme_track import TrackKey as Key

    job_id = f"test-{len(panel.jobs.entries)}"
    panel.model.job_keys[job_id] = Key(str(panel.clip), str(panel.line), 25, 50, panel.audio_in)
    panel.jobs.add(JobEntry(job_id, kind, f"{kind} test", first_frame=25))
    panel.runtime.eventReceived.emit({"v": 1, "event": "done", "id": job_id, "result": result})
    return job_id


def test_a_finished_preview_fills_the_lane_and_a_slip_clears_it(offline_panel: Any) -> None:
    panel = offline_panel
    assert panel.visemes.track() is None and "Preview to see" in panel.visemes.empty_text
    report = make_report(25, ["rest"] * 5 + ["closed"] * 3 + ["open"] * 10 + ["rounded"] * 7)
    _finish_job(panel, "preview", {"path": "/nowhere.mp4", "start": 25, "stop": 50, "report": report})
    assert [v for *_, v in panel.visemes.visible_blocks()] == ["rest", "closed", "open", "rounded"]
    x0, x1, _ = panel.visemes.visible_blocks()[1]
    # Frames 30-32 on the waveform's axis: the lane and the waveform agree on where they are.
    assert abs(x0 - panel.waveform.x_of(30 / 25)) < 1 and abs(x1 - panel.waveform.x_of(33 / 25)) < 1
    panel.visemes.grab()  # paints without error
    panel.nudge_frames(1)
    assert panel.visemes.track() is None and panel.visemes.visible_blocks() == []


def test_a_result_for_an_older_slip_or_range_is_not_drawn(offline_panel: Any) -> None:
    panel = offline_panel
    from mytalk.ui.jobs import JobEntry
    from mytalk.ui.viseme_track import TrackKey as Key

    panel.model.job_keys["old"] = Key(str(panel.clip), str(panel.line), 25, 50, Fraction(1, 25))
    panel.jobs.add(JobEntry("old", "preview", "preview old", first_frame=25))
    panel.runtime.eventReceived.emit({"v": 1, "event": "done", "id": "old",
                                      "result": {"report": make_report(25, ["open"] * 25)}})
    assert panel.visemes.track() is None
    _finish_job(panel, "preview", {"report": make_report(25, ["open"] * 25)})
    assert panel.visemes.track() is not None
    panel.set_range(30, 60)
    assert panel.visemes.track() is None


def test_a_finished_commit_fills_the_lane_from_its_sidecar(offline_panel: Any, tmp_path: Path) -> None:
    import json

    sidecar = tmp_path / "clip_25-50_v001.json"
    sidecar.write_text(json.dumps(make_report(25, ["closed"] * 25)))
    _finish_job(offline_panel, "commit", {"output": str(tmp_path / "clip_25-50_v001.mov"),
                                          "sidecar": str(sidecar), "version": 1})
    assert [v for *_, v in offline_panel.visemes.visible_blocks()] == ["closed"]


# -- end to end ------------------------------------------------------------------------------------


def test_a_real_preview_fills_the_lane(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The classic engine reports visemes.
    with classic_runtime_panel(qtbot, media_path("video", CLIP), media_path("audio", LINE),
                               tmp_path / "renders") as panel:
        panel.settings.transcript.setPlainText("And so my fellow Americans")
        panel.set_range(25, 75)
        job_id = panel.start_preview()
        assert job_id is not None
        qtbot.waitUntil(lambda: panel.jobs.entries[job_id].finished, timeout=180_000)
        assert panel.jobs.entries[job_id].state == "done", panel.jobs.entries[job_id].message
        track = panel.visemes.track()
        assert track is not None, ("the preview's report carries no per-frame visemes yet "
                                   "(report['frames'][i]['viseme'] from the classic engine)")
        assert panel.visemes.visible_blocks() and track.runs[0].start >= 25 and track.runs[-1].stop <= 75
