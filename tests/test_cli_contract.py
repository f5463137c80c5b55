"""The `mytalk sync` contract: exact frames, exact audio length, exit codes, nothing left behind."""

from __future__ import annotations

import json
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path, shared_videos
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import FrameReader

AUDIO = "jfk_inaugural_en_16k.wav"


def _decoded_planes(path: Path, start: int, stop: int) -> list[np.ndarray]:
    with FrameReader(path) as reader:
        return [sf.frame.to_ndarray() for sf in reader.frames(start, stop)]


def _output_planes(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.media
@pytest.mark.parametrize("clip", shared_videos(), ids=lambda p: p.name)
def test_copy_engine_is_bit_identical_on_every_shared_clip(clip: Path, tmp_path: Path) -> None:
    info = probe(clip)
    assert info.video is not None
    # A window in the middle keeps CI fast while still seeking into each clip.
    start = info.video.frame_count // 3
    stop = min(info.video.frame_count, start + 40)
    out = tmp_path / f"{clip.stem}.mkv"
    report = tmp_path / "report.json"
    result = run_mytalk(
        "sync", clip, "--audio", media_path("audio", AUDIO), "-o", out, "--in", start, "--out", stop,
        "--engine", "copy", "--codec", "ffv1", "--report", report, "--quiet",
    )
    assert result.code == 0, result.stderr
    written = _output_planes(out)
    source = _decoded_planes(clip, start, stop)
    assert len(written) == stop - start
    for index, (a, b) in enumerate(zip(source, written, strict=True)):
        assert a.shape == b.shape and np.array_equal(a, b), f"frame {start + index} differs"
    out_info = probe(out)
    assert out_info.video is not None
    assert (out_info.video.width, out_info.video.height) == (info.video.width, info.video.height)
    assert out_info.video.fps == info.video.fps
    assert out_info.video.pix_fmt == info.video.pix_fmt
    # Audio is exactly the range's length at 48 kHz.
    expected_samples = round(Fraction(stop - start) * 48000 / info.video.fps)
    with av.open(str(out)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert samples == expected_samples
    data = json.loads(report.read_text())
    assert data["range"] == data["range"] | {"in": start, "out": stop, "frames": stop - start}
    assert data["engine"]["name"] == "copy"
    assert len(data["inputs"]["video"]["sha256"]) == 64
    assert [f["index"] for f in data["frames"]] == list(range(start, stop))


@pytest.mark.media
def test_whole_clip_by_default_and_timecode_range(tmp_path: Path) -> None:
    clip = media_path("video", "retalking_face2_swalwell.mp4")  # 25 fps
    info = probe(clip)
    assert info.video is not None
    out = tmp_path / "whole.mkv"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", AUDIO), "-o", out, "--engine", "copy", "--quiet")
    assert result.code == 0, result.stderr
    assert len(_output_planes(out)) == info.video.frame_count
    out2 = tmp_path / "tc.mkv"
    result = run_mytalk(
        "sync", clip, "--audio", media_path("audio", AUDIO), "-o", out2, "--engine", "copy",
        "--in", "00:00:01:05", "--out", "2.5s", "--quiet",
    )
    assert result.code == 0, result.stderr
    assert len(_output_planes(out2)) == 63 - 30


def _text_as_mp4(folder: Path) -> Path:
    path = folder / "notes.mp4"
    path.write_text("this is not a video\n")
    return path


def _empty_wav(folder: Path) -> Path:
    """A valid WAV header with zero samples: what a failed recorder or export leaves behind."""
    path = folder / "empty.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
    assert path.stat().st_size > 0
    return path


BAD_INPUTS = [
    # id, args builder (clip, audio, tmp) -> args, expected words in the error line
    ("missing-video", lambda c, a, t: [t / "nope.mp4", "--audio", a, "-o", t / "o.mkv"], "not found"),
    ("text-as-mp4", lambda c, a, t: [_text_as_mp4(t), "--audio", a, "-o", t / "o.mkv"], "notes.mp4"),
    ("missing-audio", lambda c, a, t: [c, "--audio", t / "nope.wav", "-o", t / "o.mkv"], "not found"),
    ("empty-audio", lambda c, a, t: [c, "--audio", _empty_wav(t), "-o", t / "o.mkv"], "no audio"),
    ("in-past-end", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "100000"], "past the end"),
    ("in-equals-out", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "10", "--out", "10"], "after the in point"),
    ("in-after-out", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "20", "--out", "10"], "after the in point"),
    ("out-is-video", lambda c, a, t: [c, "--audio", a, "-o", c], "input"),
    ("out-is-a-folder", lambda c, a, t: [c, "--audio", a, "-o", t], "is a folder"),
    ("unwritable-folder", lambda c, a, t: [c, "--audio", a, "-o", t / "no" / "such" / "o.mkv"], "folder"),
    ("bad-codec-for-container", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mp4", "--codec", "prores"], "prores"),
    ("bad-timecode", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "1:2"], "not a position"),
    ("unknown-engine", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--engine", "magic"], "unknown engine"),
    ("unknown-flag", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--frobnicate"], "frobnicate"),
    ("bad-reference", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--reference", "50-10"], "reference"),
    ("bad-face", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--face", "left"], "--face"),
    ("face-outside-frame", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--face", "100000,10"], "outside the frame"),
    ("bad-language", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--language", "klingon"], "--language"),
    # The range (0.8 s here) must take some of the line: wholly after its end or before its start is a mistake.
    ("line-after-its-end", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "0", "--out", "20",
                                            "--audio-in", "600s"], "after the line ends"),
    ("line-before-its-start", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "0", "--out", "20",
                                               "--audio-in=-0.8s"], "before the line begins"),
    ("line-before-its-start-spaced", lambda c, a, t: [c, "--audio", a, "-o", t / "o.mkv", "--in", "0", "--out", "20",
                                                      "--audio-in", "-0.8s"], "before the line begins"),
]


@pytest.mark.media
@pytest.mark.parametrize(("builder", "words"), [row[1:] for row in BAD_INPUTS], ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_and_no_output(builder, words: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = media_path("video", "retalking_face5_woman_glasses_eu.mp4")
    audio = media_path("audio", AUDIO)
    work = tmp_path / "work"
    work.mkdir()
    args = builder(clip, audio, work)
    before = _leftovers(work)
    engine = [] if "--engine" in args else ["--engine", "copy"]
    result = run_mytalk("sync", *args, *engine, "--quiet")
    assert result.code == 2, (result.code, result.stderr)
    assert len(result.stderr_lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert words.lower() in result.stderr.lower(), result.stderr
    assert _leftovers(work) == before, "a failed job left files behind"


@pytest.mark.media
def test_default_engine_is_not_copy(tmp_path: Path) -> None:
    """Without --engine the embedded default (classic) runs and paints mouths; `copy` runs only when asked for."""
    out, report = tmp_path / "default.mkv", tmp_path / "default.json"
    result = run_mytalk("sync", media_path("video", "hdtf_wda_bobmenendez_512.mp4"), "--audio", media_path("audio", AUDIO),
                        "-o", out, "--report", report, "--in", "100", "--out", "112", "--codec", "ffv1", "--quiet")
    assert result.code == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["engine"]["name"] == "classic"
    assert any(frame["changed_pixels"] > 0 for frame in data["frames"]), "the default engine left every frame as shot"


def test_help_and_usage_errors() -> None:
    assert run_mytalk("--help").code == 0
    assert run_mytalk("sync", "--help").code == 0
    result = run_mytalk("sync")
    assert result.code == 2 and len(result.stderr_lines) == 1


@pytest.mark.media
def test_preview_quality_writes_a_small_proxy_with_exact_frames(tmp_path: Path) -> None:
    clip = media_path("video", "latentsync_demo2_man_vertical_hevc.mp4")  # 1080x1920
    out = tmp_path / "proxy.mp4"
    result = run_mytalk("sync", clip, "--audio", media_path("audio", AUDIO), "-o", out, "--engine", "copy",
                        "--quality", "preview", "--in", "10", "--out", "40", "--quiet")
    assert result.code == 0, result.stderr
    info = probe(out)
    assert info.video is not None
    assert info.video.height == 540 and info.video.width == 304  # aspect kept, even sides
    assert info.video.frame_count == 30


def write_wav(path: Path, samples: np.ndarray, rate: int = 48000) -> Path:
    """16-bit WAV of (samples, channels) int16."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(samples.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.ascontiguousarray(samples, np.int16).tobytes())
    return path


@pytest.mark.media
def test_a_surround_line_is_mixed_to_stereo_with_a_warning(tmp_path: Path) -> None:
    """A 5.1 stem as the line: the render's sound is its stereo downmix, and the editor is told so."""
    tone = (8000 * np.sin(np.arange(48000) * 2 * np.pi * 220 / 48000)).astype(np.int16)
    line = write_wav(tmp_path / "stem_51.wav", np.repeat(tone[:, None], 6, axis=1))
    out, report = tmp_path / "o.mov", tmp_path / "r.json"
    result = run_mytalk("sync", media_path("video", "retalking_face5_woman_glasses_eu.mp4"), "--audio", line,
                        "-o", out, "--in", "0", "--out", "20", "--engine", "copy", "--report", report)
    assert result.code == 0, result.stderr
    assert any(text.startswith("mytalk: warning: the replacement line has 6 channels (1, 2, 3, 4, 5, 6); the mouth "
                               "follows them all, mixed, and the render carries their stereo downmix: pick the "
                               "channels to use with --audio-channels") for text in result.stderr_lines), result.stderr
    assert json.loads(report.read_text())["output"]["audio_channels"] == 2
    assert probe(out).audio[0].channels == 2


@pytest.mark.media
def test_a_silent_line_is_a_valid_edit_with_a_warning(tmp_path: Path) -> None:
    """Replacing dialogue with silence is legitimate (the mouth should close): exit 0, warn."""
    silence = write_wav(tmp_path / "silence.wav", np.zeros((48000, 1), np.int16))
    out, report = tmp_path / "o.mkv", tmp_path / "r.json"
    result = run_mytalk("sync", media_path("video", "retalking_face5_woman_glasses_eu.mp4"), "--audio", silence,
                        "-o", out, "--in", "0", "--out", "20", "--engine", "copy", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    warnings = json.loads(report.read_text())["warnings"]
    assert any("silent over the whole range" in w for w in warnings)
    # Without --quiet the editor sees it too, not only the report.
    shown = run_mytalk("sync", media_path("video", "retalking_face5_woman_glasses_eu.mp4"), "--audio", silence,
                       "-o", tmp_path / "o2.mkv", "--in", "0", "--out", "20", "--engine", "copy")
    assert shown.code == 0, shown.stderr
    assert any(line.startswith("mytalk: warning: the replacement line is silent") for line in shown.stderr_lines), shown.stderr
    # A line that only just reaches the range (its last 0.2 s on the range's first frames) is an edit, not a mistake.
    line = media_path("audio", AUDIO)
    with wave.open(str(line), "rb") as handle:
        length = handle.getnframes() / handle.getframerate()
    edge = run_mytalk("sync", media_path("video", "retalking_face5_woman_glasses_eu.mp4"), "--audio", line,
                      "-o", tmp_path / "o3.mkv", "--in", "0", "--out", "20", "--engine", "copy",
                      "--audio-in", f"{length - 0.2:.3f}s", "--quiet")
    assert edge.code == 0, edge.stderr


@pytest.mark.media
@pytest.mark.parametrize("form", [("--audio-in", "-0.4s"), ("--audio-in", "-10"), ("--audio-in=-0.4s",)])
def test_a_negative_audio_in_places_the_line_after_the_in_point(form: tuple[str, ...], tmp_path: Path) -> None:
    """The README's negative placement, written as editors type it (`--audio-in -0.4s`), not only with "=":
    argparse took "-0.4s" for an option and answered "expected one argument"."""
    from mytalk.core.media.audio import decode_audio

    tone = (8000 * np.sin(np.arange(48000) * 2 * np.pi * 220 / 48000)).astype(np.int16)
    line = write_wav(tmp_path / "tone.wav", tone[:, None])
    out = tmp_path / "o.mov"
    result = run_mytalk("sync", media_path("video", "retalking_face5_woman_glasses_eu.mp4"), "--audio", line,
                        "-o", out, "--in", "0", "--out", "25", "--engine", "copy", *form, "--quiet")
    assert result.code == 0, result.stderr
    sound = np.abs(decode_audio(out, 48000).samples[0])
    assert sound.size == 48000  # 25 frames at 25 fps
    assert sound[: int(0.4 * 48000) - 48].max() < 1e-4, "the line sounds before the 0.4 s it was placed after the in point"
    assert sound[int(0.4 * 48000) + 48 :].min() >= 0 and sound[int(0.4 * 48000) + 48 :].max() > 0.2


def test_a_missing_audio_in_value_is_still_reported() -> None:
    """Only a value that starts with "-" and a digit is attached: before another option it is still missing."""
    result = run_mytalk("sync", "clip.mov", "--audio", "line.wav", "-o", "o.mov", "--audio-in", "--quiet")
    assert result.code == 2 and len(result.stderr_lines) == 1
    assert "--audio-in: expected one argument" in result.stderr
