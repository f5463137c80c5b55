"""`mytalk batch`: a whole cut from a dub stem or an ADR cue sheet, on the local pool and on Ray.

Real clips, the real engine, the real Ray (a local cluster the test starts with `num_cpus=2`); the
cut is three shots of three shared clips, 1.6 s each, as an `.otio` and as a CMX 3600 `.edl`. The user folder is shared by the module's tests
so each clip's actor is learned once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import opentimelineio as otio
import pytest
from opentimelineio import opentime

from conftest import media_path
from mytalk.core.errors import UsageError
from mytalk.plugin.batch.cues import read_cue_sheet
from mytalk.plugin.batch.driver import BatchEvents, run_batch
from mytalk.plugin.batch.local_pool import LocalRunner
from mytalk.plugin.batch.plan import cut_clips, plan_batch
from mytalk.plugin.batch.shots import BatchSettings
from mytalk.plugin.cli import main as mytalk_main
from mytalk.plugin.hosts.otio_timeline import FIX_TRACK_NAME, OtioTimeline

RATE = 25
STEM = "jfk_inaugural_en_16k.wav"
SHOTS = (("katie", "hdtf_wda_katiehill_512.mp4", 20, 200), ("swalwell", "retalking_face2_swalwell.mp4", 30, 125),
         ("bob", "hdtf_wda_bobmenendez_512.mp4", 40, 200))
FRAMES = 40
MYTALK = Path(sys.executable).with_name("mytalk")
SETTINGS = BatchSettings(engine="classic", codec="ffv1")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batch_home")


@pytest.fixture(autouse=True)
def _one_user_folder(shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYTALK_HOME", str(shared_home))


def build_cut() -> otio.schema.Timeline:
    """V1: three shots of 40 frames, record 0-120, starting at 01:00:00:00."""
    timeline = otio.schema.Timeline(name="REEL", global_start_time=opentime.from_timecode("01:00:00:00", RATE))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for name, clip, first, _ in SHOTS:
        reference = otio.schema.ExternalReference(target_url=str(media_path("video", clip)))
        track.append(otio.schema.Clip(name=name, media_reference=reference, source_range=opentime.TimeRange(
            opentime.RationalTime(first, RATE), opentime.RationalTime(FRAMES, RATE))))
    return timeline


def write_cut(folder: Path, suffix: str = ".otio") -> Path:
    """The cut as `.otio`, or as a CMX 3600 EDL whose records start at 01:00:00:00 as a real reel's do
    (OTIO's CMX writer starts them at 0: they are moved by an hour here)."""
    cut = folder / f"REEL{suffix}"
    if suffix != ".edl":
        otio.adapters.write_to_file(build_cut(), str(cut))
        return cut
    text = otio.adapters.write_to_string(build_cut(), "cmx_3600")
    records = re.compile(r"(\d{2}:\d{2}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}:\d{2} )00:(\d{2}:\d{2}:\d{2}) 00:(\d{2}:\d{2}:\d{2})$",
                         re.MULTILINE)
    cut.write_text(records.sub(r"\g<1>01:\2 01:\3", text), encoding="utf-8")
    return cut


def write_cues(folder: Path, rows: list[str], header: str = "Cue,Rec In,Rec Out,Line File,Dialogue,Character") -> Path:
    sheet = folder / "cues.csv"
    sheet.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return sheet


def fix_clips(version: Path) -> list[tuple[int, int, str]]:
    """(record start, frames, render name) of every fix in a timeline version."""
    timeline = otio.adapters.read_from_file(str(version))
    track = next(t for t in timeline.video_tracks() if t.name == FIX_TRACK_NAME)
    return [(int(c.range_in_parent().start_time.value), int(c.range_in_parent().duration.value),
             Path(c.media_reference.target_url).name) for c in track if isinstance(c, otio.schema.Clip)]


def test_cue_sheets_take_the_common_column_names_delimiters_and_events(tmp_path: Path) -> None:
    line = media_path("audio", STEM)
    host = OtioTimeline(write_cut(tmp_path))
    sheet = tmp_path / "adr.csv"
    sheet.write_text("\ufeffCUE #;TC In;TC Out;Take;Text;Actor;Notes\n"
                     f"A1;01:00:00:10;01:00:01:05;{line};Ask not;Katie;softer\n"
                     f"A2;;;{line.name};;;\n", encoding="utf-8")
    with pytest.raises(Exception, match="line 3: no record in/out and no event"):
        read_cue_sheet(sheet, host, cut_clips(host))
    (tmp_path / line.name).symlink_to(line)
    sheet.write_text("Event,File\n2," + line.name + "\n", encoding="utf-8")
    (cue,) = read_cue_sheet(sheet, host, cut_clips(host))
    assert (cue.record_start, cue.record_stop, cue.line) == (40, 80, tmp_path / line.name)
    sheet.write_text("\ufeffCUE #;TC In;TC Out;Take;Text;Actor;Notes\n"
                     f"A1;01:00:00:10;01:00:01:05;{line};Ask not;Katie;softer\n", encoding="utf-8")
    (cue,) = read_cue_sheet(sheet, host, cut_clips(host))
    assert (cue.cue_id, cue.record_start, cue.record_stop, cue.transcript, cue.actor, cue.notes) == (
        "A1", 10, 30, "Ask not", "Katie", "softer")


def test_a_cue_sheet_from_a_spreadsheet_keeps_wrapped_dialogue_and_true_line_numbers(tmp_path: Path) -> None:
    """A dialogue cell wrapped by hand holds a line break, and a sheet may have blank rows: the words stay
    apart (they are the transcript the line is aligned to), and a message names the sheet's real line. A
    spreadsheet's "Unicode text" export (UTF-16, tabs) reads too."""
    line = media_path("audio", STEM)
    host = OtioTimeline(write_cut(tmp_path))
    text = ("Cue,Rec In,Rec Out,Line File,Dialogue\r\n"
            f'A1,01:00:00:10,01:00:01:05,{line},"Ask not\r\nwhat your country"\r\n'
            "\r\n"
            f"A2,01:00:01:10,01:00:01:20,{line},can do\r\n")
    sheet = tmp_path / "adr.csv"
    sheet.write_text(text, encoding="utf-8", newline="")
    first, second = read_cue_sheet(sheet, host, cut_clips(host))
    assert first.transcript == "Ask not\r\nwhat your country" and first.row == 2
    assert (second.cue_id, second.row, second.transcript) == ("A2", 5, "can do")
    sheet.write_text(text.replace("01:00:01:20", "01:00:01:00"), encoding="utf-8", newline="")
    with pytest.raises(Exception, match=r"adr.csv line 5: record out 01:00:01:00 is not after record in"):
        read_cue_sheet(sheet, host, cut_clips(host))
    sheet.write_text(text.replace(",", "\t"), encoding="utf-16", newline="")
    assert [cue.row for cue in read_cue_sheet(sheet, host, cut_clips(host))] == [2, 5]
    # Excel for Mac's "CSV (Macintosh)" ends its lines with a bare carriage return.
    sheet.write_text(text.replace("\r\n", "\r"), encoding="utf-8", newline="")
    assert [(cue.row, cue.transcript) for cue in read_cue_sheet(sheet, host, cut_clips(host))] == [
        (2, "Ask not\rwhat your country"), (5, "can do")]


@pytest.mark.parametrize(("rows", "header", "message"), [
    (["1,01:00:00:00,01:00:01:00"], "Cue,Rec In,Rec Out", "no line file column"),
    (["1,{line}"], "Cue,Line", "no record in or record out column and no event column"),
    (["1,01:00:04:00,01:00:06:00,{line}"], None, "lies outside the cut"),
    (["1,01:00:01:00,01:00:00:10,{line}"], None, "is not after record in"),
    (["1,01:00:00:00,01:00:01:00,missing_take.wav"], None, "line file not found"),
    (["7,{line}"], "Event,Line", "event 7 is not in the cut, which has clips 1-3"),
])
def test_a_bad_cue_sheet_is_one_line_and_exit_2_before_anything_renders(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], header: str | None, message: str) -> None:
    cut = write_cut(tmp_path)
    line = media_path("audio", STEM)
    sheet = write_cues(tmp_path, [row.format(line=line) for row in rows], header or "Cue,Rec In,Rec Out,Line File")
    out = tmp_path / "batch"
    assert mytalk_main(["batch", str(cut), "--cues", str(sheet), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists(), "nothing is written before the whole sheet is checked"


@pytest.mark.parametrize("options, message", [
    (["--actors", "{map}"], "--actors: 'nosuchclip' is no clip of the cut; give a clip's name in the cut (katie, swalwell, bob)"),
    (["--actors", "{typo}"], "--actors: no actor profile named 'nosuchprofile'"),
    (["--actors", "{twice}"], "hdtf_wda_katiehill_512.mp4 is given two actors"),
    (["--openness", "5"], "setting 'openness': must be between 0.0 and 2.0"),
    (["--language", "zz-qq"], "--language 'zz-qq': espeak-ng has no language"),
    (["--handles", "-1"], "--handles -1"),
    (["--engine", "mytalk"], "no trained MyTalk model"),
    (["--engine", "classic-neural"], "no trained MyTalk model"),
])
def test_bad_batch_options_are_one_line_and_exit_2_before_anything_is_made(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str) -> None:
    """Checked before the batch folder is made or an actor learned: a typo in the actor map used to be
    ignored (the clip's actor was learned instead); a bad setting or an engine without its trained
    models failed every shot (exit 3)."""
    cut = write_cut(tmp_path)
    maps = {"map": "nosuchclip,anyone\n", "typo": "clip,profile\nkatie,nosuchprofile\n",
            "twice": "katie,one\nhdtf_wda_katiehill_512.mp4,two\n"}
    for name, text in maps.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    out = tmp_path / "batch"
    args = [option.format(**{name: tmp_path / f"{name}.csv" for name in maps}) for option in options]
    code = mytalk_main(["batch", str(cut), "--stem", str(media_path("audio", STEM)), "-o", str(out), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], (code, err)
    assert not out.exists(), "nothing is made before the options are checked"


def test_an_unreachable_ray_cluster_is_one_line_and_exit_2_before_anything_is_made(
        tmp_path: Path, shared_home: Path) -> None:
    """Ray Client needs grpcio (`mytalk[cluster]` installs `ray[client]`); without it, and when nothing
    answers at the address (Ray gives up after its 30 s timeout), the batch said 'internal error' after
    it had made the folder and learned the actors. Run as the command it is: a failed Ray Client
    connection leaves Ray's state in the process behind it (the command exits; a test session would not)."""
    pytest.importorskip("ray", reason="Ray is the optional extra mytalk[cluster]; pip install ray")
    out = tmp_path / "batch"
    result = subprocess.run([str(MYTALK), "batch", str(write_cut(tmp_path)), "--stem", str(media_path("audio", STEM)),
                             "-o", str(out), "--cluster", "ray://127.0.0.1:1"],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "MYTALK_HOME": str(shared_home)})
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1, (result.returncode, err)
    assert err[0].startswith("mytalk: error: --cluster ray://127.0.0.1:1: cannot reach the Ray cluster"), err
    assert not out.exists()


def test_an_actor_map_paints_the_clip_it_names_with_the_stored_profile(tmp_path: Path) -> None:
    """`--actors` names a clip as the cut shows it; that clip's shot is painted from the stored profile,
    and only the other clips' actors are learned."""
    clip = media_path("video", SHOTS[0][1])
    assert mytalk_main(["actor", "build", "katie_stored", f"{clip}:0-75", "--quiet"]) == 0
    stages: list[str] = []
    settings = BatchSettings(engine="classic", codec="ffv1", actors={"katie": "katie_stored"})
    result = run_batch(write_cut(tmp_path), tmp_path / "batch", LocalRunner(1), settings,
                       stem=media_path("audio", STEM), events=BatchEvents(on_stage=stages.append))
    assert [o.status for o in result.outcomes] == ["done"] * 3
    assert "learning the actor of 2 source clip(s)" in stages
    profiles = {}
    for outcome in result.outcomes:
        report = json.loads(Path(outcome.report).read_text())
        profiles[Path(report["inputs"]["video"]["path"]).name] = (report["settings"]["actor"],
                                                                 report["engine_report"]["profile"]["name"])
    assert profiles == {SHOTS[0][1]: ("katie_stored", "katie_stored"), SHOTS[1][1]: (None, None),
                        SHOTS[2][1]: (None, None)}


@pytest.mark.parametrize("suffix", [".otio", ".edl"])
def test_a_stem_batch_renders_every_shot_with_a_face_versions_the_cut_and_reports(tmp_path: Path, suffix: str) -> None:
    cut = write_cut(tmp_path, suffix)
    before = cut.read_bytes()
    outcomes: list[Any] = []
    result = run_batch(cut, tmp_path / "batch", LocalRunner(2), SETTINGS, stem=media_path("audio", STEM),
                       events=BatchEvents(on_outcome=lambda progress, outcome: outcomes.append(outcome)))
    assert cut.read_bytes() == before, "the cut is never written"
    assert [o.status for o in result.outcomes] == ["done"] * 3 and len(outcomes) == 3
    # Each shot's line is the stem's slice under it: shot 2 starts 40 frames (1.6 s) into the cut.
    assert [job.audio_in for job in result.plan.jobs] == ["0.000000s", "1.600000s", "3.200000s"]
    for outcome in result.outcomes:
        report = json.loads(Path(outcome.report).read_text())
        assert report["output"]["frames"] == FRAMES and report["tracking"]["faceless_frames"] == []
        assert outcome.qc["confidence"] is not None and Path(outcome.qc["thumbnails"]).is_file()
    assert sorted(path.name for path in result.timeline_versions) == sorted({"REEL_mytalk_v001.otio",
                                                                             f"REEL_mytalk_v001{suffix}"})
    version = next(path for path in result.timeline_versions if path.suffix == ".otio")
    assert [(start, frames) for start, frames, _ in fix_clips(version)] == [(0, 40), (40, 40), (80, 40)]
    data = json.loads(result.reports[0].read_text())
    assert data["counts"] == {"shots": 3, "rendered": 3, "already_done": 0, "failed": 0,
                              "flagged": sum(row["flagged"] for row in data["shots"]), "not_planned": 0}
    flagged = [row["flagged"] for row in data["shots"]]
    assert flagged == sorted(flagged, reverse=True), "flagged shots come first"
    page = result.reports[1].read_text()
    assert page.count("<tr class=") == 3 and "qc/001_" in page


@pytest.mark.parametrize("suffix", [".edl", ".otio"])
def test_a_cue_sheet_renders_one_shot_per_cue_and_versions_the_cut(tmp_path: Path, suffix: str) -> None:
    cut = write_cut(tmp_path, suffix)
    line = media_path("audio", STEM)
    sheet = write_cues(tmp_path, [f"C1,01:00:00:05,01:00:01:05,{line},And so my fellow,Katie,softer",
                                  f"C2,01:00:03:05,01:00:04:05,{line},,Bob,"],
                       header="Cue,Rec In,Rec Out,Line File,Dialogue,Character,Notes")
    result = run_batch(cut, tmp_path / "batch", LocalRunner(1), SETTINGS, cues=sheet)
    assert [(job.cue, job.source_start, job.source_stop, job.audio_in) for job in result.plan.jobs] == [
        ("C1", 25, 50, "0.000000s"), ("C2", 40, 65, "0.000000s")]
    assert [o.status for o in result.outcomes] == ["done", "done"]
    names = sorted(path.name for path in result.timeline_versions)
    assert names == sorted({"REEL_mytalk_v001.otio", f"REEL_mytalk_v001{suffix}"})
    # The QC page shows what the ADR editor wrote on each cue.
    page = result.reports[1].read_text()
    assert "character Katie" in page and "words <i>And so my fellow</i>" in page and "note: softer" in page
    assert "character Bob" in page and page.count("note:") == 1


@pytest.fixture(scope="module")
def ray_cluster(shared_home: Path) -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="Ray is the optional extra mytalk[cluster]; pip install ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"MYTALK_HOME": str(shared_home)}})
    yield ray
    ray.shutdown()


def _shot_task_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ray::_shot_task" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_ray_gives_the_local_pools_bytes_and_survives_a_killed_worker(tmp_path: Path, ray_cluster: Any) -> None:
    from mytalk.plugin.batch.ray_pool import RayRunner

    cut = write_cut(tmp_path)
    stem = media_path("audio", STEM)
    local = run_batch(cut, tmp_path / "local", LocalRunner(2), SETTINGS, stem=stem)
    killed: list[int] = []

    def kill_one(progress: Any, event: tuple[int, int, int, str]) -> None:
        if not killed and event[3] == "render" and event[1] > 5:
            pids = _shot_task_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

    on_ray = run_batch(cut, tmp_path / "ray", RayRunner("ray"), SETTINGS, stem=stem,
                       events=BatchEvents(on_progress=kill_one))
    assert killed, "a Ray worker was killed in the middle of a shot"
    assert [o.status for o in on_ray.outcomes] == ["done"] * 3, [o.to_dict() for o in on_ray.outcomes]
    assert all(o.worker and o.worker.startswith("ray node") for o in on_ray.outcomes)
    for mine, theirs in zip(local.outcomes, on_ray.outcomes, strict=True):
        assert Path(mine.output).read_bytes() == Path(theirs.output).read_bytes(), mine.output
    assert fix_clips(local.timeline_versions[0]) == fix_clips(on_ray.timeline_versions[0])


def test_an_interrupted_batch_keeps_its_finished_shots_and_goes_on_from_there(tmp_path: Path) -> None:
    cut = write_cut(tmp_path)
    out = tmp_path / "batch"
    command = [str(MYTALK), "batch", str(cut), "--stem", str(media_path("audio", STEM)), "-o", str(out),
               "--codec", "ffv1", "--engine", "classic", "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = out / "shots" / "001_hdtf_wda_katiehill_512_20-60.json"
    deadline = time.monotonic() + 300
    while not first.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.is_file(), process.stderr.read().decode() if process.poll() is not None else "shot 1 never finished"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    left = sorted(p.name for p in (out / "shots").iterdir())
    assert all(not name.startswith(".") and "partial" not in name for name in left), left
    assert len(left) % 2 == 0 and "001_hdtf_wda_katiehill_512_20-60.mkv" in left, left
    again = subprocess.run(command, capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr.decode()
    statuses = {row["number"]: row["status"] for row in json.loads((out / "report.json").read_text())["shots"]}
    assert statuses[1] == "skipped" and statuses[3] == "done", statuses


def test_the_plan_skips_the_shots_a_short_stem_does_not_reach(tmp_path: Path) -> None:
    """A stem printed short (2 s of JFK under a 4.8 s cut): the third shot, from 3.2 s, gets none of it.
    It is listed as skipped with why, not rendered shut or failed (`mytalk sync` refuses it)."""
    import wave

    short = tmp_path / "short_stem.wav"
    with wave.open(str(media_path("audio", STEM)), "rb") as source, wave.open(str(short), "wb") as target:
        target.setparams(source.getparams())
        target.writeframes(source.readframes(2 * source.getframerate()))
    plan = plan_batch(OtioTimeline(write_cut(tmp_path)), stem=short)
    # The second shot (1.6-3.2 s) takes the stem's last 0.4 s: reached.
    assert [job.clip_name for job in plan.jobs] == ["katie", "swalwell"]
    (skipped,) = plan.skipped
    assert skipped.clip_name == "bob" and skipped.record_in_tc == "01:00:03:05", skipped
    assert skipped.reason == ("the line does not reach this shot: its slice starts 3.20 s into short_stem.wav, "
                              "which lasts 2.00 s"), skipped.reason
    # The whole stem reaches every shot.
    assert [job.clip_name for job in plan_batch(OtioTimeline(write_cut(tmp_path)), stem=media_path("audio", STEM)).jobs] \
        == ["katie", "swalwell", "bob"]


def _bwf(path: Path, samples: np.ndarray, rate: int, stamp_samples: int | None) -> Path:
    """A Broadcast WAV (16-bit mono) whose bext TimeReference is `stamp_samples`, as a DAW bounces a stem."""
    import av

    options = {"write_bext": "1"} if stamp_samples is not None else {}
    with av.open(str(path), "w", format="wav", options=options) as container:
        if stamp_samples is not None:
            container.metadata["time_reference"] = str(stamp_samples)
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_a_stem_starts_where_its_broadcast_wav_time_stamp_says(tmp_path: Path) -> None:
    """A stem printed from the reel's pre-roll (2 s before the cut's 01:00:00:00, where the 2-pop sits) is
    stamped 00:59:58:00: every shot's line is then 2 s further into the file than for a stem that starts on
    the cut's first frame. `--stem-start` says the same for an unstamped file, and a stamp that puts the
    stem outside the cut, or a start that is no timecode, is refused before anything is made."""
    import wave

    with wave.open(str(media_path("audio", STEM)), "rb") as source:
        rate = source.getframerate()
        speech = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    preroll = np.concatenate([np.zeros(2 * rate, np.int16), speech])
    cut = OtioTimeline(write_cut(tmp_path))
    plain = plan_batch(cut, stem=media_path("audio", STEM))
    assert [job.audio_in for job in plain.jobs] == ["0.000000s", "1.600000s", "3.200000s"]
    assert "no Broadcast WAV time stamp" in plain.source
    stamped = _bwf(tmp_path / "stamped.wav", preroll, rate, (59 * 60 + 58) * rate)
    plan = plan_batch(cut, stem=stamped)
    assert [job.audio_in for job in plan.jobs] == ["2.000000s", "3.600000s", "5.200000s"]
    assert "its first sample at 00:59:58:00 by its Broadcast WAV time stamp, 2.000 s before the cut's first frame" \
        in plan.source, plan.source
    unstamped = _bwf(tmp_path / "unstamped.wav", preroll, rate, None)
    by_hand = plan_batch(cut, stem=unstamped, stem_start="00:59:58:00")
    assert [job.audio_in for job in by_hand.jobs] == ["2.000000s", "3.600000s", "5.200000s"]
    # The option wins over the stamp: a stem known to start on the picture's first frame.
    assert plan_batch(cut, stem=stamped, stem_start="01:00:00:00").jobs[0].audio_in == "0.000000s"
    elsewhere = _bwf(tmp_path / "ten.wav", preroll, rate, 10 * 3600 * rate)
    with pytest.raises(UsageError, match=r"placed by its Broadcast WAV time stamp, it plays 10:00:00:00-10:00:13:00, "
                                         r"wholly outside the cut \(01:00:00:00-01:00:04:20\); give --stem-start TC"):
        plan_batch(cut, stem=elsewhere)
    with pytest.raises(UsageError, match="--stem-start '2s': give the record timecode"):
        plan_batch(cut, stem=unstamped, stem_start="2s")
    out = tmp_path / "batch"
    assert mytalk_main(["batch", str(write_cut(tmp_path)), "--stem", str(elsewhere), "-o", str(out)]) == 2
    assert not out.exists()


def test_an_adr_take_sits_where_its_time_stamp_says_when_that_is_over_its_cue(tmp_path: Path) -> None:
    """A take recorded against picture starts with a breath before the line, and its stamp says where it
    was recorded: placed by the stamp, the line lands where it was performed, not a second late. A take
    stamped in another session's timecode, or not stamped, starts on its cue's record in."""
    import wave

    with wave.open(str(media_path("audio", STEM)), "rb") as source:
        rate = source.getframerate()
        speech = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    take = np.concatenate([np.zeros(rate, np.int16), speech[: 3 * rate]])  # a breath, then the line
    # The cue's record in 01:00:00:10 is 3600.4 s from midnight; the take was rolled 1 s before it.
    on_picture = _bwf(tmp_path / "t1.wav", take, rate, round(Fraction(36004, 10) * rate) - rate)
    elsewhere = _bwf(tmp_path / "t2.wav", take, rate, 10 * 3600 * rate)
    plain = _bwf(tmp_path / "t3.wav", take, rate, None)
    cut = write_cut(tmp_path)
    sheet = write_cues(tmp_path, [f"A1,01:00:00:10,01:00:01:05,{on_picture}", f"A2,01:00:01:20,01:00:02:15,{elsewhere}",
                                  f"A3,01:00:03:10,01:00:04:05,{plain}"], "Cue,Rec In,Rec Out,Line File")
    plan = plan_batch(OtioTimeline(cut), cue_sheet=sheet)
    assert [(job.cue, job.audio_in) for job in plan.jobs] == [("A1", "1.000000s"), ("A2", "0.000000s"),
                                                              ("A3", "0.000000s")]
    assert "1 of 3 take(s) placed by their Broadcast WAV time stamps" in plan.source, plan.source


def test_the_plan_skips_a_shot_without_a_face(tmp_path: Path) -> None:
    from media_factory import write_clip

    bars = write_clip(tmp_path / "bars.mp4", codec="libx264", num_frames=60, fps=Fraction(RATE))
    timeline = build_cut()
    track = timeline.tracks[0]
    track.insert(1, otio.schema.Clip(name="bars", media_reference=otio.schema.ExternalReference(target_url=str(bars)),
                                     source_range=opentime.TimeRange(opentime.RationalTime(0, RATE),
                                                                     opentime.RationalTime(30, RATE))))
    cut = tmp_path / "REEL.otio"
    otio.adapters.write_to_file(timeline, str(cut))
    plan = plan_batch(OtioTimeline(cut), stem=media_path("audio", STEM))
    assert [job.clip_name for job in plan.jobs] == ["katie", "swalwell", "bob"]
    (skipped,) = plan.skipped
    assert skipped.clip_name == "bars" and skipped.reason.startswith("no face on screen")
    # The stem keeps its place: the shot after the bars starts 70 frames (2.8 s) into the cut.
    assert plan.jobs[1].audio_in == "2.800000s"


def test_a_cue_or_a_stem_picks_the_microphone_of_a_poly_take(tmp_path: Path) -> None:
    """ADR is recorded poly (boom and lavalier, named in the recorder's iXML): a cue sheet's channels column
    and `--stem-channels` pick the microphone as sync's `--audio-channels` does, each shot's render carries
    it, and a channel the take does not have is refused, one line, before anything renders."""
    from benchmarks.poly_wav import ixml_chunk, write_poly_wav
    from mytalk.core.media.audio import decode_audio
    from mytalk.plugin.batch.shots import shot_request

    speech = decode_audio(media_path("audio", STEM), 16000).samples[0, : 16000 * 6]
    take = write_poly_wav(tmp_path / "take.wav", np.stack([speech * 0.5, speech, speech * 0.25]), 16000,
                          before={b"iXML": ixml_chunk(("MIX", "BOOM", "LAV KATIE"))})
    cut = write_cut(tmp_path)
    sheet = write_cues(tmp_path, [f"C1,01:00:00:05,01:00:01:05,{take},boom", f"C2,01:00:03:05,01:00:04:05,{take},"],
                       header="Cue,Rec In,Rec Out,Line File,Mic")
    plan = plan_batch(OtioTimeline(cut), cue_sheet=sheet)
    assert [(job.cue, job.audio_channels) for job in plan.jobs] == [("C1", "boom"), ("C2", None)]
    assert shot_request(plan.jobs[0], tmp_path / "b", SETTINGS).audio_channels == "boom"
    stem_plan = plan_batch(OtioTimeline(cut), stem=take, stem_channels="3")
    assert {job.audio_channels for job in stem_plan.jobs} == {"3"}
    assert "channels 3 LAV KATIE" in stem_plan.source, stem_plan.source

    bad = write_cues(tmp_path, [f"C1,01:00:00:05,01:00:01:05,{take},lav bob"], header="Cue,Rec In,Rec Out,Line File,Mic")
    with pytest.raises(UsageError, match=r"cues.csv line 2: channels lav bob: no channel is named 'lav bob': take.wav "
                                         r"has 3 channels \(1 MIX, 2 BOOM, 3 LAV KATIE\)"):
        plan_batch(OtioTimeline(cut), cue_sheet=bad)
    with pytest.raises(UsageError, match="--stem-channels 4: there is no channel 4"):
        plan_batch(OtioTimeline(cut), stem=take, stem_channels="4")
    with pytest.raises(UsageError, match="--stem-channels picks a --stem's channels"):
        plan_batch(OtioTimeline(cut), cue_sheet=sheet, stem_channels="3")
    out = tmp_path / "refused"
    assert mytalk_main(["batch", str(cut), "--stem", str(take), "--stem-channels", "boom,boom", "-o", str(out)]) == 2
    assert not out.exists()

    # One cue rendered: its report says which channel the shot's line came from, and its sound is that channel.
    one = write_cues(tmp_path, [f"C1,01:00:00:05,01:00:01:05,{take},LAV KATIE"], header="Cue,Rec In,Rec Out,Line File,Mic")
    result = run_batch(cut, tmp_path / "batch", LocalRunner(1), BatchSettings(engine="copy", codec="ffv1"), cues=one)
    (outcome,) = result.outcomes
    assert outcome.status == "done", outcome.error
    assert outcome.report is not None
    report = json.loads(Path(outcome.report).read_text())
    assert report["inputs"]["audio"]["channels"]["names"] == ["LAV KATIE"] and report["output"]["audio_channels"] == 1


def test_a_batch_picks_the_clips_microphone_for_every_shot(tmp_path: Path) -> None:
    """`--guide-channels` for a whole batch: every shot's job hears the picked channel of its clip's own sound
    (the cameras of a shoot are wired alike), and a channel some clip lacks is refused, one line naming that
    clip's channels, before anything renders."""
    from mytalk.plugin.batch.shots import shot_request

    cut = write_cut(tmp_path)
    plan = plan_batch(OtioTimeline(cut), stem=media_path("audio", STEM), guide_channels="1")
    assert plan.jobs and {job.guide_channels for job in plan.jobs} == {"1"}
    assert plan.source.endswith("; the clips' own sound heard from channels 1"), plan.source
    assert shot_request(plan.jobs[0], tmp_path / "b", SETTINGS).guide_channels == "1"
    assert {job.guide_channels for job in plan_batch(OtioTimeline(cut), stem=media_path("audio", STEM)).jobs} == {None}
    with pytest.raises(UsageError, match=r"--guide-channels 9: there is no channel 9: \S+ has \d channels? \("):
        plan_batch(OtioTimeline(cut), stem=media_path("audio", STEM), guide_channels="9")
    out = tmp_path / "refused"
    assert mytalk_main(["batch", str(cut), "--stem", str(media_path("audio", STEM)), "--guide-channels", "9",
                        "-o", str(out)]) == 2
    assert not out.exists()
