"""`mytalk sync --engine mytalk` end to end through the command line: without a model it says how to
train one; with a tiny model trained here it writes exact frame counts and changes nothing outside
the reported mask boxes; faceless frames pass through; `actor build --engine mytalk` fine-tunes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.eval.metrics import OutsideDiff
from cli_helpers import CliResult, run_mytalk
from conftest import assert_boxes_inside_the_lower_face, media_path
from mytalk.core.composite.planes import plane_arrays
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import FrameReader

pytestmark = pytest.mark.media

BOB = "hdtf_wda_bobmenendez_512.mp4"
LINE = "jfk_inaugural_en_16k.wav"
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def _ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A user folder with a tiny `base` model trained by the CLI on 2 s of a real clip."""
    root = tmp_path_factory.mktemp("neural_home")
    env = {"MYTALK_HOME": str(root / "home"), **ONE_THREAD}
    clip = media_path("video", BOB)
    data = root / "data"
    _ok(run_mytalk("dataset", "build", f"{clip}:0-50", "-o", data, "--crop-size", "64", "--quiet", env=env))
    _ok(run_mytalk("train", "motion", data, "--config", "tiny", "--steps", "40", "--quiet", env=env))
    _ok(run_mytalk("train", "appearance", data, "--config", "tiny", "--steps", "40", "--quiet", env=env))
    return env


def test_sync_without_a_model_exits_2_and_says_how_to_train(tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    result = run_mytalk("sync", media_path("video", BOB), "--audio", media_path("audio", LINE), "-o", out,
                        "--in", "0", "--out", "10", "--engine", "mytalk", env=ONE_THREAD)
    assert result.code == 2
    assert len(result.stderr_lines) == 1, result.stderr
    line = result.stderr_lines[0]
    assert "mytalk dataset build" in line and "mytalk train motion" in line
    assert not out.exists()


def _outside_diff(clip: Path, out: Path, start: int, stop: int, boxes: list[tuple[int, int, int, int] | None]) -> OutsideDiff:
    diff = OutsideDiff()
    with FrameReader(clip) as src_reader, FrameReader(out) as out_reader:
        pairs = zip(src_reader.frames(start, stop), out_reader.frames(0, stop - start), strict=True)
        for (src, dst), box in zip(pairs, boxes, strict=True):
            assert src.frame.format.name == dst.frame.format.name
            diff.add(plane_arrays(src.frame), plane_arrays(dst.frame), box)
    return diff


def _sync(clip: Path, out: Path, start: int, stop: int, env: dict[str, str], *extra: str,
          engine: str = "mytalk") -> dict:
    report = out.with_suffix(".json")
    _ok(run_mytalk("sync", clip, "--audio", media_path("audio", LINE), "-o", out, "--in", start, "--out", stop,
                   "--engine", engine, "--codec", "ffv1", "--report", report, "--quiet", *extra, env=env))
    return json.loads(report.read_text())


def test_sync_with_a_tiny_model_changes_only_the_mouth(tiny_home: dict[str, str], tmp_path: Path) -> None:
    clip = media_path("video", BOB)
    start, stop = 100, 130
    out = tmp_path / "out.mkv"
    report = _sync(clip, out, start, stop, tiny_home, "--handles", "3", "--reference", "0-50")
    info = probe(out)
    assert info.video is not None and info.video.frame_count == stop - start
    assert report["engine"]["name"] == "mytalk"
    frames = report["frames"]
    assert [f["index"] for f in frames] == list(range(start, stop))
    assert sum(f["changed_pixels"] > 0 for f in frames) == len(frames), "every frame with a face gets a new mouth"
    engine = report["engine_report"]
    assert engine["sampling"]["steps"] <= 20 and engine["references"]["frames"] > 0
    boxes = [tuple(f["mask_box"]) if f["mask_box"] else None for f in frames]
    diff = _outside_diff(clip, out, start, stop, boxes)
    assert diff.compared > 0
    assert diff.changed == 0, f"{diff.changed} samples changed outside the mask boxes (max {diff.max_abs})"
    assert_boxes_inside_the_lower_face(clip, start, stop, boxes, (info.video.width, info.video.height))


def test_faceless_frames_pass_through(tiny_home: dict[str, str], tmp_path: Path) -> None:
    clip = media_path("video", "wav2lip_pr600_man_720p_cutaway.mov")
    start, stop = 310, 326  # the full-screen graphic starts at frame 318
    out = tmp_path / "cut.mkv"
    report = _sync(clip, out, start, stop, tiny_home, "--reference", "0-40")
    frames = report["frames"]
    faceless = [f for f in frames if f["face_found"] is False]
    assert faceless and len(faceless) < len(frames)
    assert all(f["changed_pixels"] == 0 and f["mask_box"] is None for f in faceless)
    boxes = [tuple(f["mask_box"]) if f["mask_box"] else None for f in frames]
    assert _outside_diff(clip, out, start, stop, boxes).changed == 0


def test_actor_build_fine_tunes_the_neural_engine(tiny_home: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "quick.toml"
    config.write_text('preset = "tiny"\n[finetune]\nmotion_steps = 15\nappearance_steps = 15\nmax_references = 20\n')
    clip = media_path("video", BOB)
    result = _ok(run_mytalk("actor", "build", "bob", f"{clip}:0-40", "--engine", "mytalk", "--config", config,
                            "--quiet", env=tiny_home))
    assert "built neural actor 'bob' from base model" in result.stderr
    folder = Path(tiny_home["MYTALK_HOME"]) / "data" / "models" / "actors" / "bob"
    assert {p.name for p in folder.iterdir()} >= {"motion.safetensors", "appearance.safetensors", "references.npz",
                                                  "actor.json", "runs"}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "temporary build folders were left"
    report = _sync(clip, tmp_path / "actor.mkv", 60, 70, tiny_home, "--actor", "bob")
    assert report["engine_report"]["references"]["source"] == "actor 'bob' (fine-tuned)"
    assert report["engine_report"]["models"]["folder"] == str(folder)
    assert os.path.getsize(tmp_path / "actor.mkv") > 0


@pytest.mark.parametrize(("engine", "driver", "painter"), [
    ("classic-neural", "phonetic", "references"),  # the classic motion, painted by the generator
    ("neural-classic", "diffusion (stage 1: speech to landmarks)", "retrieval"),  # diffusion motion, retrieved mouths
])
def test_mixed_engines_paint_only_the_mouth(tiny_home: dict[str, str], tmp_path: Path, engine: str, driver: str,
                                            painter: str) -> None:
    """Motion and appearance are stages with one plan format, so each mix renders: the report names the
    motion stage's driver and the appearance stage's figures, every frame with a face gets a new mouth,
    and nothing changes outside the reported boxes."""
    clip = media_path("video", BOB)
    start, stop = 100, 124
    out = tmp_path / f"{engine}.mkv"
    report = _sync(clip, out, start, stop, tiny_home, "--reference", "0-50", "--guide", "none", engine=engine)
    assert report["engine"]["name"] == engine
    assert probe(out).video.frame_count == stop - start
    engine_report = report["engine_report"]
    assert engine_report["driver"] == driver and painter in engine_report
    frames = report["frames"]
    assert sum(f["changed_pixels"] > 0 for f in frames) >= len(frames) - 2, "the mouth is painted on the range"
    boxes = [tuple(f["mask_box"]) if f["mask_box"] else None for f in frames]
    diff = _outside_diff(clip, out, start, stop, boxes)
    assert diff.compared > 0 and diff.changed == 0, f"{diff.changed} samples changed outside the mask boxes"
    assert_boxes_inside_the_lower_face(clip, start, stop, boxes, (512, 512))
