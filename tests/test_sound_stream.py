"""A clip's own sound is its first audio stream that carries sound (`mytalk.core.media.sound_stream`).

Camera originals carry a mono stream per input, and an unplugged input records silence. These clips
are made here: real pictures and real speech, with silent streams put before the speech."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.media.audio import decode_audio, picture_start_in_audio_s
from mytalk.core.media.clip_sound import ClipSound
from mytalk.core.media.sound_stream import SILENT_PEAK, clip_sound_stream

RATE = 48_000


def _write_streams(path: Path, streams: list[tuple[str, np.ndarray]], *, video_from: Path | None = None,
                   frames: int = 25) -> Path:
    """A QuickTime file: pictures (copied from `video_from`, else a grey MJPEG picture) and one mono audio
    stream per (codec, samples at 48 kHz) of `streams`, in that order."""
    out = av.open(str(path), "w")
    source = av.open(str(video_from)) if video_from is not None else None
    if source is not None:
        vin = source.streams.video[0]
        vout = out.add_stream_from_template(vin)
    else:
        vout = out.add_stream("mjpeg", rate=25)
        vout.width, vout.height, vout.pix_fmt = 64, 64, "yuvj420p"
    outs = [out.add_stream(codec, rate=RATE, layout="mono") for codec, _ in streams]
    if source is not None:
        for packet in source.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                out.mux(packet)
    else:
        for n in range(frames):
            picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
            picture = picture.reformat(format="yuvj420p")
            picture.pts, picture.time_base = n, Fraction(1, 25)
            out.mux(vout.encode(picture))
        out.mux(vout.encode())
    for stream, (_codec, samples) in zip(outs, streams, strict=True):
        fmt = stream.codec_context.format.name
        block = 1024
        for at in range(0, len(samples), block):
            chunk = samples[at:at + block].astype(np.float32)
            data = _in_format(chunk, fmt)
            frame = av.AudioFrame.from_ndarray(data[None], format=fmt, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, at, Fraction(1, RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    out.close()
    if source is not None:
        source.close()
    return path


def _in_format(chunk: np.ndarray, fmt: str) -> np.ndarray:
    """Float samples (full scale 1.0) as the sample format `fmt` stores them."""
    kind = fmt.rstrip("p")
    if kind == "u8":
        return np.round(chunk * 127 + 128).astype(np.uint8)
    if kind == "s16":
        return np.round(chunk * 32767).astype(np.int16)
    if kind == "s32":
        return np.round(chunk.astype(np.float64) * (2**31 - 1)).astype(np.int32)
    return chunk.astype(np.float32)


def _tone(seconds: float = 1.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_one_stream_is_the_clip_sound(tmp_path: Path) -> None:
    clip = _write_streams(tmp_path / "one.mov", [("pcm_s16le", np.zeros(RATE, np.float32))])
    chosen = clip_sound_stream(clip)
    assert chosen.index == 1 and chosen.note is None  # silent, but the only one: nothing to choose


def test_no_audio_stream(tmp_path: Path) -> None:
    assert clip_sound_stream(_write_streams(tmp_path / "mute.mov", [])).index is None


def test_silent_first_streams_are_passed_over(tmp_path: Path) -> None:
    hiss = np.random.default_rng(1).normal(0, SILENT_PEAK / 8, RATE).astype(np.float32)  # dither, -78 dBFS
    clip = _write_streams(tmp_path / "camera.mov", [("pcm_s16le", np.zeros(RATE, np.float32)),
                                                     ("pcm_s16le", hiss), ("pcm_s24le", _tone()),
                                                     ("pcm_s16le", _tone(level=0.9))])
    chosen = clip_sound_stream(clip)
    assert chosen.index == 3, chosen
    assert chosen.note is not None and "streams 1, 2" in chosen.note and "stream 3" in chosen.note
    # The clip's sound is read from it: the tone, not silence.
    sound = ClipSound.decode(clip, 16_000)
    assert np.abs(sound.frames(0, 25, Fraction(25)).samples).max() > 0.25
    assert picture_start_in_audio_s(clip, 3) == picture_start_in_audio_s(clip)


@pytest.mark.parametrize("codec", ["pcm_s16le", "pcm_f32le", "pcm_u8", "aac"])
def test_a_first_stream_that_is_heard_is_kept_whatever_its_format(tmp_path: Path, codec: str) -> None:
    # Quiet speech first, louder music and effects after: the first one is the dialogue.
    quiet = _tone(level=0.02)  # -34 dBFS
    clip = _write_streams(tmp_path / f"deliverable_{codec}.mov", [(codec, quiet), ("pcm_s16le", _tone(level=0.9))])
    assert clip_sound_stream(clip).index == 1


@pytest.mark.media
@pytest.mark.slow
def test_a_clip_whose_first_input_was_unplugged_is_guided_by_its_speech(tmp_path: Path) -> None:
    clip_path = media_path("video", "hdtf_wda_katiehill_512.mp4")
    speech = decode_audio(clip_path, RATE, channels=1).samples[0]
    camera = _write_streams(tmp_path / "camera.mov", [("pcm_s16le", np.zeros_like(speech)), ("pcm_s16le", speech)],
                            video_from=clip_path)
    # The ADR line says the clip's own words: the guide must match, as it does for the original clip.
    line = tmp_path / "line.wav"
    with av.open(str(line), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.round(speech * 32767).astype(np.int16)[None], format="s16",
                                           layout="mono")
        frame.sample_rate = RATE
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    report_path = tmp_path / "fix.json"
    result = run_mytalk("sync", camera, "--audio", line, "--in", 0, "--out", 50, "-o", tmp_path / "fix.mkv",
                        "--codec", "ffv1", "--report", report_path, "--quiet")
    assert result.code == 0, result.stderr
    report = json.loads(report_path.read_text())
    motion = report["engine_report"]["motion"]
    assert report["engine_report"]["driver"] == "guide", motion.get("guide_decision")
    assert motion["guide_decision"].startswith("matched")
    # The actor's phones were learned from the speech (30 phones on the original clip), not from the
    # unplugged input's silence (none: every phone's mouth taken from the prior).
    assert report["engine_report"]["profile"]["phonetic"]["phones_seen"] >= 20
    assert report["inputs"]["video"]["sound"]["stream"] == 2
    assert "stream 1 of the clip is silent" in report["inputs"]["video"]["sound"]["note"]


def test_a_file_read_without_naming_a_stream_is_read_from_its_first_heard_one(tmp_path: Path) -> None:
    from mytalk.core.media.audio import decode_audio_span, sound_seconds

    tone = _tone(seconds=2.0, level=0.5)
    recording = _write_streams(tmp_path / "recorder.mov", [("pcm_s16le", np.zeros(RATE // 2, np.float32)),
                                                           ("pcm_s16le", tone)], frames=50)
    whole = decode_audio(recording, RATE).samples[0]
    assert whole.size == tone.size and np.abs(whole - tone).max() < 1e-4  # the tone, not the silent 0.5 s
    assert np.array_equal(decode_audio_span(recording, RATE, RATE // 2, RATE).samples[0], whole[RATE // 2:RATE * 3 // 2])
    assert sound_seconds(recording) == pytest.approx(2.0, abs=0.01)
    # Named, a stream is read as it is, silence and all.
    assert not np.abs(decode_audio(recording, RATE, stream_index=1).samples[0]).any()


@pytest.mark.media
@pytest.mark.slow
def test_a_line_whose_first_input_was_unplugged_is_heard(tmp_path: Path) -> None:
    """A replacement line recorded on a camera or a multi-input recorder, its first input unplugged: the line
    is its speech, in the render's sound and in the mouth, and the report says which stream it was."""
    speech = decode_audio(media_path("audio", "jfk_inaugural_en_16k.wav"), RATE, channels=1).samples[0][:3 * RATE]
    line = _write_streams(tmp_path / "adr_take.mov", [("pcm_s16le", np.zeros_like(speech)), ("pcm_s16le", speech)],
                          frames=75)
    report_path = tmp_path / "fix.json"
    out = tmp_path / "fix.mkv"
    result = run_mytalk("sync", media_path("video", "hdtf_wda_katiehill_512.mp4"), "--audio", line, "--in", 0,
                        "--out", 50, "-o", out, "--codec", "ffv1", "--report", report_path, "--quiet")
    assert result.code == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["inputs"]["audio"]["sound"]["stream"] == 2
    assert "stream 1 of the line is silent" in report["inputs"]["audio"]["sound"]["note"]
    assert not any("silent" in warning for warning in report["warnings"]), report["warnings"]
    heard = decode_audio(out, RATE, channels=1).samples[0]
    assert np.abs(heard).max() > 0.1  # the speech, not the unplugged input's silence
    phones = [frame["phone"] for frame in report["frames"] if frame.get("phone")]
    assert sum(phone != "SIL" for phone in phones) >= 20, phones
