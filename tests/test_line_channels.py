"""A poly WAV or a multi-stream camera file as the line: its channels listed by the recorder's names, the
editor's pick (`--audio-channels`) decoded exactly, timed for the mouth, carried by the render and reported."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from benchmarks.poly_wav import bext_chunk, ixml_chunk, write_poly_wav
from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.audio.line_phones import LineOrigin, placed_phone_track
from mytalk.core.errors import UsageError
from mytalk.core.jobs.request import SyncRequest, line_channel_pick
from mytalk.core.media.audio import decode_audio, decode_audio_span
from mytalk.core.media.audio_spool import decode_placed_spooled, decode_sound
from mytalk.core.media.channel_pick import pick_channels, sound_channels
from mytalk.core.media.wav_tracks import wav_track_names
from mytalk.core.runtime.protocol import sync_request_from_json

CLIP = "hdtf_wda_katiehill_512.mp4"
OTHER_VOICE = "hdtf_radio31_en_16k.wav"
NAMES = ("MIX L", "MIX R", "BOOM", "LAV BOB")


def _tones(count: int, rate: int = 48000) -> np.ndarray:
    """Four channels told apart by their pitch."""
    t = np.arange(count) / rate
    return np.stack([0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0, 440.0, 550.0)])


def test_track_names_come_from_ixml_before_or_after_the_data(tmp_path: Path) -> None:
    tones = _tones(4800)
    before = write_poly_wav(tmp_path / "before.wav", tones, before={b"iXML": ixml_chunk(NAMES)})
    after = write_poly_wav(tmp_path / "after.wav", tones, after={b"iXML": ixml_chunk(NAMES)})
    expected = dict(enumerate(NAMES, 1))
    assert wav_track_names(before) == expected
    assert wav_track_names(after) == expected
    # The data chunk is skipped by its size, not read: a named take of any length costs the same.
    assert wav_track_names(write_poly_wav(tmp_path / "plain.wav", tones)) == {}


def test_track_names_come_from_bext_when_ixml_has_none(tmp_path: Path) -> None:
    description = "sSPEED=023.976-ND\r\nsTAKE=4\r\nsTRK1=MIX\r\nsTRK2=BOOM\r\nsTRK3=LAV 1\r\n"
    path = write_poly_wav(tmp_path / "bext.wav", _tones(4800)[:3], before={b"bext": bext_chunk(description)})
    assert wav_track_names(path) == {1: "MIX", 2: "BOOM", 3: "LAV 1"}
    # iXML wins where both name the tracks; a damaged iXML falls back to bext, and names nothing else.
    both = write_poly_wav(tmp_path / "both.wav", _tones(4800)[:3],
                          before={b"bext": bext_chunk(description), b"iXML": ixml_chunk(("A", "B", "C"))})
    assert wav_track_names(both) == {1: "A", 2: "B", 3: "C"}
    damaged = write_poly_wav(tmp_path / "damaged.wav", _tones(4800)[:3],
                             before={b"bext": bext_chunk(description), b"iXML": b"<BWFXML><TRACK_LIST><TRA"})
    assert wav_track_names(damaged) == {1: "MIX", 2: "BOOM", 3: "LAV 1"}
    assert wav_track_names(tmp_path / "missing.wav") == {}


def test_a_pick_names_channels_by_number_range_or_name(tmp_path: Path) -> None:
    path = write_poly_wav(tmp_path / "poly.wav", _tones(4800), before={b"iXML": ixml_chunk(NAMES)})
    assert [c.words for c in sound_channels(path)] == ["1 MIX L", "2 MIX R", "3 BOOM", "4 LAV BOB"]
    assert pick_channels("3", path).rows == (2,)
    assert pick_channels("boom", path).rows == (2,)
    assert pick_channels(" lav bob , Boom ", path).rows == (3, 2)
    assert pick_channels("1-2", path).words == "1 MIX L + 2 MIX R"
    assert pick_channels("2,1", path).rows == (1, 0)
    refusals = {
        "5": "there is no channel 5: poly.wav has 4 channels (1 MIX L, 2 MIX R, 3 BOOM, 4 LAV BOB); pick from those",
        "lav anna": "no channel is named 'lav anna'",
        "3,boom": "channel 3 is picked twice",
        "4-2": "the range 4-2 runs backwards; write 2-4",
        "1,": "an empty item",
    }
    for text, words in refusals.items():
        with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
            pick_channels(text, path)


def _two_stream_mov(path: Path, rate: int = 48000) -> tuple[Path, np.ndarray]:
    """A camera's way: a stereo stream then a mono one titled 'LAV', each with its own tones."""
    tones = _tones(rate, rate)
    with av.open(str(path), "w") as container:
        streams = [container.add_stream("pcm_s16le", rate=rate, layout=layout) for layout in ("stereo", "mono")]
        streams[1].metadata["title"] = "LAV"
        for stream, part in zip(streams, (tones[:2], tones[2:3]), strict=True):
            frame = av.AudioFrame.from_ndarray((part * 32767).astype(np.int16).T.reshape(1, -1).copy(), format="s16",
                                               layout=stream.layout.name)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for stream in streams:
            for packet in stream.encode(None):
                container.mux(packet)
    return path, tones[:3]


def test_channels_are_counted_across_streams_and_a_pick_keeps_to_one(tmp_path: Path) -> None:
    path, tones = _two_stream_mov(tmp_path / "camera.mov")
    assert [c.words for c in sound_channels(path)] == ["1", "2", "3 LAV"]
    pick = pick_channels("lav", path)
    assert (pick.stream_index, pick.rows) == (1, (0,))
    picked = decode_audio(path, 48000, channels=None, stream_index=pick.stream_index, rows=pick.rows)
    assert np.abs(picked.samples[0] - tones[2]).max() < 1e-4
    with pytest.raises(UsageError, match=r"different streams of camera.mov \(stream 0 holds 1, 2; stream 1 holds 3\)"):
        pick_channels("2-3", path)


def test_picked_channels_decode_exactly_in_every_reader(tmp_path: Path) -> None:
    tones = _tones(48000 * 3)
    path = write_poly_wav(tmp_path / "poly.wav", tones, before={b"iXML": ixml_chunk(NAMES)})
    as_written = (tones * 32767).astype(np.int16) / 32768  # the 16-bit samples, as decoded
    one = decode_audio(path, 48000, channels=None, rows=(2,))
    assert one.channels == 1 and np.abs(one.samples[0] - as_written[2]).max() < 1e-6
    pair = decode_audio(path, 48000, channels=None, rows=(3, 0))
    assert pair.channels == 2 and np.abs(pair.samples - as_written[[3, 0]]).max() < 1e-6
    # More than two: one channel, their mean (no layout says where a third microphone goes).
    three = decode_audio(path, 48000, channels=None, rows=(0, 2, 3))
    assert three.channels == 1 and np.abs(three.samples[0] - as_written[[0, 2, 3]].mean(axis=0)).max() < 1e-6
    # The span, the spooled placement and the spooled whole give the same samples as the whole decode.
    whole = decode_audio(path, 16000, channels=1, rows=(2,))
    span = decode_audio_span(path, 16000, 8000, 16000, channels=1, rows=(2,))
    assert np.array_equal(span.samples, whole.samples[:, 8000:24000])
    placed = decode_placed_spooled(path, 16000, num_frames=25, fps=Fraction(25), line_offset_s=Fraction(1, 2),
                                   channels=1, folder=tmp_path, rows=(2,))
    try:
        assert np.array_equal(placed.read(0, placed.num_samples), whole.samples[:, 8000:24000])
    finally:
        placed.close()
    assert np.array_equal(decode_sound(path, 16000, channels=1, folder=tmp_path, rows=(2,)).samples, whole.samples)


def test_the_request_carries_the_pick_over_the_wire(tmp_path: Path) -> None:
    path = write_poly_wav(tmp_path / "poly.wav", _tones(4800), before={b"iXML": ixml_chunk(NAMES)})
    request = sync_request_from_json({"video": str(path), "audio": str(path), "output": str(tmp_path),
                                      "audio_channels": "boom"})
    assert request.audio_channels == "boom" and request.to_dict()["audio_channels"] == "boom"
    pick = line_channel_pick(request)
    assert pick is not None and pick.words == "3 BOOM"
    assert line_channel_pick(SyncRequest(video=path, audio=path, output=tmp_path)) is None


def _poly_of_two_voices(tmp_path: Path, seconds: float) -> tuple[Path, np.ndarray]:
    """The clip's own voice on the boom, another speaker on a lavalier, both on the mix: a two-hander's take."""
    rate = 48000
    own = decode_audio(media_path("video", CLIP), rate).samples[0, : int(seconds * rate)]
    other = np.resize(decode_audio(media_path("audio", OTHER_VOICE), rate).samples[0], own.size)
    other *= np.sqrt(np.mean(own**2) / np.mean(other**2))
    mix = 0.5 * (own + other)
    channels = np.stack([mix, mix, own + 0.1 * other, other + 0.1 * own]) * 0.8
    return write_poly_wav(tmp_path / "take_poly.wav", channels, rate, after={b"iXML": ixml_chunk(NAMES)}), channels


@pytest.mark.media
def test_the_picked_channel_is_what_the_phones_are_timed_from(tmp_path: Path) -> None:
    """The line's phones (`placed_phone_track`, as the job and its phone workers time them) of a picked
    channel are those of that channel alone as a mono file: the other speaker is not heard."""
    poly, channels = _poly_of_two_voices(tmp_path, 4.0)
    mono = write_poly_wav(tmp_path / "boom_alone.wav", channels[2:3])
    cache = tmp_path / "cache"
    from mytalk.core.audio.line_phones import UtteranceCache

    def phones(origin: LineOrigin) -> list[tuple[str, float, float]]:
        track = placed_phone_track(origin, 100, Fraction(25), cache=UtteranceCache(cache))
        return [(p.label, p.start_s, p.end_s) for p in track.phones]

    picked = phones(LineOrigin(poly, Fraction(0), 0, (2,)))
    assert picked == phones(LineOrigin(mono, Fraction(0)))
    assert picked != phones(LineOrigin(poly, Fraction(0)))  # all four mixed: both voices


@pytest.mark.media
def test_a_sync_with_a_picked_channel_renders_it_and_reports_it(tmp_path: Path) -> None:
    poly, channels = _poly_of_two_voices(tmp_path, 2.0)
    out, report = tmp_path / "fix.mov", tmp_path / "fix.json"
    result = run_mytalk("sync", media_path("video", CLIP), "--audio", poly, "--audio-channels", "boom", "-o", out,
                        "--in", "0", "--out", "50", "--report", report, "--quiet")
    assert result.code == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["inputs"]["audio"]["channels"] == {"numbers": [3], "names": ["BOOM"], "stream": 0}
    assert not [w for w in data["warnings"] if "channels" in w]
    assert data["output"]["audio_channels"] == 1
    rendered = decode_audio(out, 48000, channels=None)
    assert rendered.channels == 1
    boom = (np.clip(channels[2], -1, 1) * 32767).astype(np.int16) / 32768
    assert np.abs(rendered.samples[0, : boom.size] - boom[: rendered.num_samples]).max() < 1e-3

    # Used whole, the job says which channels it mixed, by their names, and how to pick one.
    whole = run_mytalk("sync", media_path("video", CLIP), "--audio", poly, "-o", tmp_path / "whole.mov",
                       "--in", "0", "--out", "10", "--engine", "copy")
    assert whole.code == 0, whole.stderr
    assert any("the replacement line has 4 channels (1 MIX L, 2 MIX R, 3 BOOM, 4 LAV BOB); the mouth follows them "
               "all" in line and "such as 3 or 'BOOM'" in line for line in whole.stderr_lines), whole.stderr

    # A pick the file does not hold: one line, exit 2, nothing written.
    bad = run_mytalk("sync", media_path("video", CLIP), "--audio", poly, "--audio-channels", "lav anna",
                     "-o", tmp_path / "bad.mov", "--in", "0", "--out", "10")
    assert bad.code == 2 and len(bad.stderr_lines) == 1, bad.stderr
    assert "no channel is named 'lav anna': take_poly.wav has 4 channels (1 MIX L, 2 MIX R, 3 BOOM, 4 LAV BOB)" \
        in bad.stderr_lines[0]
    assert not (tmp_path / "bad.mov").exists()


@pytest.mark.media
def test_the_panels_preview_and_commit_carry_the_picked_channel(tmp_path: Path) -> None:
    """The runtime's commands, as the panel's Preview and Commit send them: the proxy plays the boom alone, and
    the commit's sidecar names the pick."""
    from dataclasses import replace

    from mytalk.core.jobs import commands

    poly, channels = _poly_of_two_voices(tmp_path, 2.0)
    request = SyncRequest(video=media_path("video", CLIP), audio=poly, output=tmp_path / "renders", in_point="0",
                          out_point="25", engine="copy", audio_channels="BOOM")
    session = commands.JobSession(preview_dir=tmp_path / "previews")
    preview = commands.preview(session, request)
    heard = decode_audio(preview.path, 48000, channels=None)
    boom = (np.clip(channels[2], -1, 1) * 32767).astype(np.int16) / 32768
    assert heard.channels == 1
    assert np.corrcoef(heard.samples[0, :40000], boom[:40000])[0, 1] > 0.99  # the proxy's AAC, not bit-exact
    commit = commands.commit(session, replace(request, codec="prores"))
    assert json.loads(commit.sidecar.read_text())["inputs"]["audio"]["channels"]["names"] == ["BOOM"]


def test_probe_lists_the_channels_a_pick_chooses_from(tmp_path: Path) -> None:
    path = write_poly_wav(tmp_path / "poly.wav", _tones(4800), before={b"iXML": ixml_chunk(NAMES)})
    result = run_mytalk("probe", path)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["channels"] == [{"number": n, "stream": 0, "name": name}
                                                     for n, name in enumerate(NAMES, 1)]


def test_an_rf64_takes_names_after_its_data_are_found_by_its_ds64_size(tmp_path: Path) -> None:
    """A long take is RF64: its data chunk says all ones and the real size is in `ds64`; the names written
    after the data are still found, and a recording still running (no size anywhere) names nothing."""
    import struct

    riff = write_poly_wav(tmp_path / "riff.wav", _tones(4800), after={b"iXML": ixml_chunk(NAMES)}).read_bytes()
    data_at = riff.index(b"data")
    data_size = int.from_bytes(riff[data_at + 4 : data_at + 8], "little")
    ds64 = b"ds64" + struct.pack("<I", 28) + struct.pack("<QQQI", 0xFFFFFFFF, data_size, 0, 0)
    body = riff[12:data_at] + b"data" + b"\xff" * 4 + riff[data_at + 8 :]
    rf64 = tmp_path / "take.wav"
    rf64.write_bytes(b"RF64" + b"\xff" * 4 + b"WAVE" + ds64 + body)
    assert wav_track_names(rf64) == dict(enumerate(NAMES, 1))
    assert [c.words for c in sound_channels(rf64)][2] == "3 BOOM"
    running = tmp_path / "running.wav"
    running.write_bytes(b"RIFF" + b"\xff" * 4 + riff[8:data_at] + b"data" + b"\xff" * 4 + riff[data_at + 8 :])
    assert wav_track_names(running) == {}
