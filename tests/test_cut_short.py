"""A clip cut short, as a copy still running or interrupted leaves it: a QuickTime/MP4 file whose sample table
(written first, "fast start") lists frames the file does not hold, and MXF, Matroska and AVI files whose headers
say they are longer than they are. MyTalk works on the frames there are, and says
so everywhere the editor looks: `probe`, the job's report and the command line's warning, a range past the end
(exit 2), and the panel's clip line and status line. A whole file says nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cli_helpers import run_mytalk
from conftest import media_path
from media_factory import as_m2ts
from mytalk.core.errors import MediaFormatError
from mytalk.core.media.audio import decode_audio
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import FrameReader

FRAMES = 50


def _noise_clip(path: Path, *, codec: str = "mpeg4", fmt: str | None = None, options: dict[str, str] | None = None,
                seed: int = 0, tone: bool = False) -> Path:
    """A 25 fps clip of `FRAMES` noise pictures (every frame costs its bytes, so a cut falls mid-clip), with a
    tone under it when `tone`."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        video = container.add_stream(codec, rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        sound = container.add_stream("aac", rate=48000) if tone else None
        rng = np.random.default_rng(seed)
        for index in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            wave = (0.1 * np.sin(np.arange(48000 * FRAMES // 25) * 2 * np.pi * 440 / 48000)).astype(np.float32)
            for start in range(0, wave.size, 1024):
                chunk = av.AudioFrame.from_ndarray(wave[None, start:start + 1024], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def _fast_start_clip(path: Path) -> Path:
    """The sample table at the start and a tone under the pictures, as cameras' transcodes are."""
    return _noise_clip(path, options={"movflags": "faststart"}, tone=True)


def _cut(path: Path, share: float) -> Path:
    data = path.read_bytes()
    cut = path.with_name(f"{path.stem}_cut{path.suffix}")
    cut.write_bytes(data[: int(len(data) * share)])
    return cut


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("cut_short")
    whole = _fast_start_clip(folder / "take.mp4")
    yield whole, _cut(whole, 0.5)


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_probe_names_the_frames_the_index_lists_beyond_the_file(tmp_path: Path, suffix: str) -> None:
    whole = _fast_start_clip(tmp_path / f"take{suffix}")
    assert probe(whole).video.listed_frames is None  # type: ignore[union-attr]
    assert probe(whole).video.cut_short_note is None  # type: ignore[union-attr]
    cut = probe(_cut(whole, 0.5)).video
    assert cut is not None
    assert 5 < cut.frame_count < FRAMES and cut.listed_frames == FRAMES
    assert f"lists {FRAMES} frames and it holds {cut.frame_count}" in (cut.cut_short_note or "")
    with FrameReader(_cut(whole, 0.5)) as reader:  # every frame counted is there to read
        assert sum(1 for _ in reader.frames(0, cut.frame_count)) == cut.frame_count


def test_an_mxf_cut_short_is_named_by_its_headers_track_duration(tmp_path: Path) -> None:
    """MXF has no sample table: its header partition states each track's duration, which a finished file
    fills in. A cut copy keeps that header."""
    whole = _noise_clip(tmp_path / "take.mxf", codec="mpeg2video", fmt="mxf", seed=2)
    assert probe(whole).video.listed_frames is None  # type: ignore[union-attr]
    cut_path = _cut(whole, 0.5)
    cut = probe(cut_path).video
    assert cut is not None and 5 < cut.frame_count < FRAMES and cut.listed_frames == FRAMES
    # A file still being recorded has not written its footer, and its header says so with a footer offset of 0
    # (SMPTE ST 377-1: after the key, its length and 24 bytes of versions, KAG size and partition offsets).
    data = bytearray(cut_path.read_bytes())
    assert data[:4] == bytes.fromhex("060e2b34") and data[16] == 0x83  # a 4-byte BER length
    data[20 + 24 : 20 + 32] = bytes(8)
    recording = tmp_path / "recording.mxf"
    recording.write_bytes(bytes(data))
    assert probe(recording).video.listed_frames is None  # type: ignore[union-attr]


def test_a_matroska_file_cut_short_is_named_by_its_segment(tmp_path: Path) -> None:
    """Matroska states the Segment's size and duration at its start; a cut copy keeps them. A recording still
    running states an unknown size (all ones), and is not called cut."""
    whole = _noise_clip(tmp_path / "take.mkv", seed=3)
    assert probe(whole).video.listed_frames is None  # type: ignore[union-attr]
    cut_path = _cut(whole, 0.5)
    cut = probe(cut_path).video
    assert cut is not None and 5 < cut.frame_count < FRAMES and cut.listed_frames == FRAMES
    data = bytearray(cut_path.read_bytes())
    at = data.index(bytes.fromhex("18538067")) + 4  # the Segment's size: 8 bytes, 0x01 then seven of value
    assert data[at] == 0x01
    data[at + 1 : at + 8] = b"\xff" * 7
    recording = tmp_path / "recording.mkv"
    recording.write_bytes(bytes(data))
    assert probe(recording).video.listed_frames is None  # type: ignore[union-attr]


def test_an_avi_file_cut_short_is_named_by_its_riff_chunk(tmp_path: Path) -> None:
    """AVI (DV, Motion JPEG, capture cards) states its RIFF chunk's size and its video stream's length in its
    header, written when the file is finished. A recording still running leaves the size unset (FFmpeg
    writes all ones), and is not called cut; a file past 1 GB (OpenDML) lists its total in `dmlh`."""
    whole = _noise_clip(tmp_path / "take.avi", seed=4)
    assert probe(whole).video.listed_frames is None  # type: ignore[union-attr]
    cut_path = _cut(whole, 0.5)
    cut = probe(cut_path).video
    assert cut is not None and 5 < cut.frame_count < FRAMES and cut.listed_frames == FRAMES
    assert f"lists {FRAMES} frames" in (cut.cut_short_note or "")
    with FrameReader(cut_path) as reader:
        assert sum(1 for _ in reader.frames(0, cut.frame_count)) == cut.frame_count
    data = bytearray(cut_path.read_bytes())
    assert data[:4] == b"RIFF"
    recording = tmp_path / "recording.avi"
    recording.write_bytes(bytes(data[:4]) + b"\xff" * 4 + bytes(data[8:]))
    assert probe(recording).video.listed_frames is None  # type: ignore[union-attr]
    # OpenDML's extended header: FFmpeg reserves its place as a JUNK chunk that starts "odmldmlh".
    at = data.index(b"JUNK\x04\x01\x00\x00odmldmlh")
    data[at : at + 4] = b"LIST"  # then its size, "odml", "dmlh" and that chunk's size: the total follows
    data[at + 20 : at + 24] = (FRAMES + 30).to_bytes(4, "little")
    opendml = tmp_path / "opendml.avi"
    opendml.write_bytes(bytes(data))
    assert probe(opendml).video.listed_frames == FRAMES + 30  # type: ignore[union-attr]


def test_a_sync_of_a_cut_clip_renders_what_is_there_and_warns(clips: tuple[Path, Path], tmp_path: Path) -> None:
    _, cut = clips
    held = probe(cut).video.frame_count  # type: ignore[union-attr]
    out, report = tmp_path / "fixed.mov", tmp_path / "fixed.json"
    result = run_mytalk("sync", cut, "--audio", cut, "-o", out, "--report", report, "--engine", "copy")
    assert result.code == 0, result.stderr
    assert [line for line in result.stderr_lines if "cut short" in line] == [
        f"mytalk: warning: {probe(cut).video.cut_short_note}"]  # type: ignore[union-attr]
    assert any("cut short" in warning for warning in json.loads(report.read_text())["warnings"])
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == held


def test_a_range_past_a_cut_clips_end_exits_2_and_says_why(clips: tuple[Path, Path], tmp_path: Path) -> None:
    _, cut = clips
    out = tmp_path / "fixed.mov"
    result = run_mytalk("sync", cut, "--audio", cut, "-o", out, "--in", "0", "--out", str(FRAMES), "--engine", "copy",
                        "--quiet")
    assert result.code == 2 and len(result.stderr_lines) == 1, result.stderr
    assert "past the end" in result.stderr and "cut short" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_whole_clip_says_nothing_of_it(clips: tuple[Path, Path], tmp_path: Path) -> None:
    whole, _ = clips
    out = tmp_path / "fixed.mov"
    result = run_mytalk("sync", whole, "--audio", whole, "-o", out, "--in", "0", "--out", str(FRAMES),
                        "--engine", "copy")
    assert result.code == 0 and "cut short" not in result.stderr, result.stderr


def test_the_panel_says_a_clip_is_cut_short_when_it_opens(qtbot: Any, clips: tuple[Path, Path]) -> None:
    from mytalk.ui.panel import MyTalkPanel

    whole, cut = clips
    panel = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(panel)
    try:
        assert panel.load_clip(cut)
        held = probe(cut).video.frame_count  # type: ignore[union-attr]
        assert panel.transport.frame_count == held
        assert f"{held} frames of {FRAMES} listed (cut short)" in panel.clip_label.full_text
        assert panel.status_line.kind == "warning" and "cut short" in panel.status_line.full_text
        assert panel.load_clip(whole)
        assert "cut short" not in panel.clip_label.full_text
    finally:
        panel.shutdown()


def test_a_cut_clips_sound_ends_where_its_bytes_do(clips: tuple[Path, Path]) -> None:
    whole, cut = clips
    rate = 16000
    assert decode_audio(whole, rate).samples.shape[-1] >= rate * FRAMES // 25 - 2048
    heard = decode_audio(cut, rate).samples.shape[-1]  # no error: the missing packets end the sound
    assert 0.2 * rate < heard < 0.8 * rate * FRAMES / 25


def _fast_start_remux(source: Path, remuxed: Path) -> Path:
    """`source`'s packets, untouched, in an MP4 with its sample table first."""
    with av.open(str(source)) as original, av.open(str(remuxed), "w", options={"movflags": "faststart"}) as copy:
        streams = {s.index: copy.add_stream_from_template(s) for s in original.streams if s.type in ("video", "audio")}
        for packet in original.demux():
            if packet.dts is not None and packet.stream.index in streams:
                packet.stream = streams[packet.stream.index]
                copy.mux(packet)
    return remuxed


def _mjpeg_avi(source: Path, target: Path) -> Path:
    """`source` as a camera's AVI: Motion JPEG pictures and 16-bit PCM sound, interleaved."""
    with av.open(str(source)) as original, av.open(str(target), "w") as copy:
        video = copy.add_stream("mjpeg", rate=original.streams.video[0].average_rate)
        video.width, video.height = original.streams.video[0].width, original.streams.video[0].height
        video.pix_fmt, video.color_range = "yuvj420p", 2
        sound = copy.add_stream("pcm_s16le", rate=48000)
        sound.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in original.decode(original.streams.video[0], original.streams.audio[0]):
            if isinstance(frame, av.VideoFrame):
                copy.mux(video.encode(frame.reformat(format="yuvj420p")))
            else:
                for chunk in resampler.resample(frame):
                    copy.mux(sound.encode(chunk))
        copy.mux(video.encode(None))
        copy.mux(sound.encode(None))
    return target


@pytest.mark.media
@pytest.mark.parametrize("wrapper", ["mp4", "avi"])
def test_a_real_clip_cut_short_is_synced_by_the_classic_engine(tmp_path: Path, wrapper: str) -> None:
    """A shared H.264 clip with B-frames, remuxed with its table first, or made a Motion JPEG AVI with PCM
    sound, and cut in the middle: the actor is learned from the frames and sound it holds, and the job says
    the file is cut short."""
    source = media_path("video", "hdtf_wda_katiehill_512.mp4")
    if wrapper == "mp4":
        whole = _fast_start_remux(source, tmp_path / "katiehill_fast_start.mp4")
    else:
        whole = _mjpeg_avi(source, tmp_path / "katiehill.avi")
    assert probe(whole).video.listed_frames is None  # type: ignore[union-attr]
    cut = _cut(whole, 0.6)
    info = probe(cut).video
    assert info is not None and info.listed_frames == 200 and 60 < info.frame_count < 200
    (sound,) = probe(cut).audio  # its sound is cut too: the header's 8 s, and what is left of them
    assert sound.listed_s == pytest.approx(8.0, abs=0.1) and 2.0 < sound.duration_s < 0.75 * sound.listed_s
    out, report = tmp_path / "fixed.mov", tmp_path / "fixed.json"
    result = run_mytalk("sync", cut, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", "0", "--out", "50", "--report", report)
    assert result.code == 0, result.stderr
    assert "cut short" in result.stderr
    assert any("cut short" in warning for warning in json.loads(report.read_text())["warnings"])
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 50


def test_a_clip_cut_before_its_index_exits_2_saying_it_is_cut_short(tmp_path: Path) -> None:
    """Without fast start the index (`moov`) is written last: a cut copy has none and cannot be opened. It is
    named as cut short, not as an unreadable file to re-export."""
    cut = _cut(_noise_clip(tmp_path / "late_index.mov", seed=1), 0.5)
    with pytest.raises(MediaFormatError, match="cut short"):
        probe(cut)
    out = tmp_path / "fixed.mov"
    result = run_mytalk("sync", cut, "--audio", cut, "-o", out, "--engine", "copy", "--quiet")
    assert result.code == 2 and len(result.stderr_lines) == 1 and "cut short" in result.stderr, result.stderr
    assert not out.exists()
    garbage = tmp_path / "notes.mov"
    garbage.write_bytes(b"\x00\x00\x00\x20ftypqt  " + bytes(range(256)) * 8)  # a box header, then no boxes
    with pytest.raises(MediaFormatError, match="not a readable video"):
        probe(garbage)


def _tone_wav(path: Path, seconds: float = 4.0, options: dict[str, str] | None = None) -> Path:
    """A 48 kHz 24-bit mono WAV of a tone, as a recordist's line is written."""
    with av.open(str(path), "w", format="wav", options=options or {}) as container:
        stream = container.add_stream("pcm_s24le", rate=48000)
        stream.layout = "mono"
        count = int(48000 * seconds)
        wave = (0.1 * np.sin(np.arange(count) * 2 * np.pi * 440 / 48000) * 2**31).astype(np.int32)
        chunk = av.AudioFrame.from_ndarray(wave[None], format="s32", layout="mono")
        chunk.sample_rate, chunk.pts = 48000, 0
        container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("form", ["RIFF", "RF64"])
def test_a_wav_line_cut_short_is_named_by_its_data_chunk(tmp_path: Path, form: str) -> None:
    """A WAV states its data chunk's size before the samples (RF64, for takes past 4 GB, in its `ds64`
    chunk); a cut copy keeps it. A recording still running leaves the size unset, and is not called cut."""
    whole = _tone_wav(tmp_path / "line.wav", options={"rf64": "always"} if form == "RF64" else None)
    assert whole.read_bytes()[:4] == form.encode()
    (sound,) = probe(whole).audio
    assert sound.listed_s is None and sound.cut_short_note is None and probe(whole).sound_cut_short_note is None
    cut = probe(_cut(whole, 0.5))
    (sound,) = cut.audio
    assert sound.listed_s == pytest.approx(4.0, abs=1e-6)
    assert 1.9 < sound.duration_s < 2.1 and cut.duration_s == pytest.approx(sound.duration_s)
    assert cut.sound_cut_short_note == sound.cut_short_note
    assert f"lists 4.00 s of sound and it holds {sound.duration_s:.2f} s" in (sound.cut_short_note or "")
    if form == "RIFF":
        data = bytearray(_cut(whole, 0.5).read_bytes())
        at = data.index(b"data")
        data[at + 4 : at + 8] = b"\xff" * 4  # FFmpeg's size while it records
        recording = tmp_path / "recording.wav"
        recording.write_bytes(bytes(data))
        assert probe(recording).sound_cut_short_note is None


def test_a_matroska_line_cut_short_is_named_by_its_segment(tmp_path: Path) -> None:
    """Matroska states its Segment's size and duration, and no sample table: the packets a cut file still
    holds say how much sound is left."""
    whole = tmp_path / "line.mka"
    with av.open(str(whole), "w", format="matroska") as container:
        stream = container.add_stream("pcm_s24le", rate=48000)
        stream.layout = "mono"
        rng = np.random.default_rng(5)
        for block in range(40):  # 4 s
            chunk = av.AudioFrame.from_ndarray((rng.standard_normal((1, 4800)) * 1e6).astype(np.int32),
                                               format="s32", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, block * 4800
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    assert probe(whole).sound_cut_short_note is None
    cut = _cut(whole, 0.5)
    (sound,) = probe(cut).audio
    heard = decode_audio(cut, 48000).samples.shape[-1] / 48000
    assert sound.listed_s == pytest.approx(4.0, abs=1e-3)
    assert abs(sound.duration_s - heard) < 0.11 and probe(cut).duration_s == pytest.approx(sound.duration_s)


def _mxf_take(path: Path) -> Path:
    """An MXF OP1a take of `FRAMES` noise pictures with PCM sound under them, as a camera or an Avid writes it."""
    with av.open(str(path), "w", format="mxf") as container:
        video = container.add_stream("mpeg2video", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        sound = container.add_stream("pcm_s16le", rate=48000, layout="mono")
        rng = np.random.default_rng(9)
        for index in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
            samples = (rng.standard_normal((1, 1920)) * 3000).astype(np.int16)
            chunk = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, index * 1920
            container.mux(sound.encode(chunk))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    return path


def test_an_mxf_line_cut_short_is_named_by_its_headers_track_duration(tmp_path: Path) -> None:
    """An MXF take used as the line: its header partition lists the sound's full length, and a cut copy keeps
    it; the packets still there say what it holds. A take still being recorded (no footer offset) is not cut."""
    whole = _mxf_take(tmp_path / "take.mxf")
    assert probe(whole).sound_cut_short_note is None
    cut = _cut(whole, 0.5)
    (sound,) = probe(cut).audio
    heard = decode_audio(cut, 48000).samples.shape[-1] / 48000
    assert sound.listed_s == pytest.approx(FRAMES / 25, abs=1e-3)
    assert 0.5 < sound.duration_s < FRAMES / 25 * 0.6 and abs(sound.duration_s - heard) < 0.05, (sound, heard)
    assert probe(cut).sound_cut_short_note is not None
    data = bytearray(cut.read_bytes())
    data[20 + 24 : 20 + 32] = bytes(8)  # the header partition's footer offset, as while recording
    recording = tmp_path / "recording.mxf"
    recording.write_bytes(bytes(data))
    assert probe(recording).audio[0].listed_s is None


def test_an_mp4_lines_sound_cut_short_lasts_what_it_holds(clips: tuple[Path, Path]) -> None:
    """A QuickTime/MP4 take used as the line: its sample table lists the missing sound too. What it holds
    is what decodes."""
    whole, cut = clips
    assert probe(whole).audio[0].listed_s is None
    (sound,) = probe(cut).audio
    heard = decode_audio(cut, 48000).samples.shape[-1] / 48000
    assert sound.listed_s == pytest.approx(FRAMES / 25, abs=0.05)
    assert abs(sound.duration_s - heard) < 2048 / 48000, (sound.duration_s, heard)


def test_a_sync_with_a_line_cut_short_warns_and_the_panel_says_so(qtbot: Any, clips: tuple[Path, Path],
                                                                   tmp_path: Path) -> None:
    whole, _ = clips
    line = _cut(_tone_wav(tmp_path / "take_line.wav"), 0.5)
    out, report = tmp_path / "fixed.mov", tmp_path / "fixed.json"
    result = run_mytalk("sync", whole, "--audio", line, "-o", out, "--report", report, "--engine", "copy")
    assert result.code == 0, result.stderr
    note = probe(line).sound_cut_short_note
    assert note is not None
    expected = f"the replacement line {line.name}: {note}"
    assert [entry for entry in result.stderr_lines if "cut short" in entry] == [f"mytalk: warning: {expected}"]
    assert expected in json.loads(report.read_text())["warnings"]

    from mytalk.ui.panel import MyTalkPanel

    panel = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(panel)
    try:
        assert panel.load_line(line)
        assert panel.status_line.kind == "warning" and "lists 4.00 s of sound" in panel.status_line.full_text
    finally:
        panel.shutdown()


def _transport_stream(path: Path, m2ts: bool) -> Path:
    """`FRAMES` noise pictures in H.264 with B-frames (decode order differs from display order, as a camera's
    AVCHD or a broadcast recording has it) in MPEG-TS, or in AVCHD's `.m2ts` form (192-byte packets)."""
    with av.open(str(path), "w", format="mpegts", options={"mpegts_m2ts_mode": "1"} if m2ts else {}) as container:
        video = container.add_stream("libx264", rate=25, options={"bf": "3"})
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        rng = np.random.default_rng(3)
        for index in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path


def _decoded(path: Path, count: int) -> list[np.ndarray]:
    with FrameReader(path) as reader:
        return [frame.frame.to_ndarray(format="yuv420p") for frame in reader.frames(0, count)]


@pytest.mark.parametrize(("suffix", "packet"), [(".ts", 188), (".m2ts", 192)])
def test_a_transport_stream_cut_inside_a_packet_holds_only_its_whole_frames(tmp_path: Path, suffix: str,
                                                                           packet: int) -> None:
    """A transport stream states no length, so a copy cut short is a file that ends inside a packet. Its last
    frame is cut too, and FFmpeg decodes it damaged without an error; with B-frames some frames shown before
    it are missing. Before, such a file was counted to its last timestamp, one frame was damaged and another
    repeated in every render, and nothing was said."""
    whole = _transport_stream(tmp_path / f"take{suffix}", m2ts=packet == 192)
    data = whole.read_bytes()
    assert len(data) % packet == 0 and data[packet - 188] == 0x47
    whole_info = probe(whole).video
    assert whole_info is not None and whole_info.frame_count == FRAMES and whole_info.has_b_frames
    assert not whole_info.ends_mid_packet and whole_info.cut_short_note is None
    cut = tmp_path / f"take_cut{suffix}"
    cut.write_bytes(data[: (len(data) // 2 // packet) * packet + 100])
    info = probe(cut).video
    assert info is not None and info.ends_mid_packet and not info.is_vfr
    assert 5 < info.frame_count < FRAMES - 5
    assert info.listed_frames is None
    assert f"sees only the {info.frame_count} frames before the cut" in (info.cut_short_note or "")
    # Every frame counted reads exactly as the whole file's: none damaged, none repeated.
    originals = _decoded(whole, info.frame_count)
    assert all(np.array_equal(a, b) for a, b in zip(originals, _decoded(cut, info.frame_count), strict=True))


def test_a_transport_stream_cut_between_packets_or_padded_is_taken_as_whole(tmp_path: Path) -> None:
    """What cannot be told from a whole file is not called cut: a cut between two packets, and a recorder's
    padding of zeros to a sector after the last packet."""
    whole = _transport_stream(tmp_path / "take.ts", m2ts=False)
    data = whole.read_bytes()
    between = tmp_path / "between.ts"
    between.write_bytes(data[: (len(data) // 2 // 188) * 188])
    padded = tmp_path / "padded.ts"
    padded.write_bytes(data + bytes(2048 - len(data) % 2048))
    for path in (between, padded):
        info = probe(path).video
        assert info is not None and not info.ends_mid_packet and info.cut_short_note is None


@pytest.mark.media
def test_a_real_clip_in_a_transport_stream_cut_short_is_synced_and_the_panel_says_so(qtbot: Any,
                                                                                     tmp_path: Path) -> None:
    """A shared clip as a camera's AVCHD file (H.264 with B-frames in `.m2ts`) cut in the middle: the classic
    engine renders a range to the last whole frame, every frame outside the mouth as the whole file has it, and
    the command line, the report and the panel say the file is cut short."""
    whole = as_m2ts(media_path("video", "hdtf_wda_katiehill_512.mp4"), tmp_path / "katiehill.m2ts")
    data = whole.read_bytes()
    cut = tmp_path / "katiehill_cut.m2ts"
    cut.write_bytes(data[: int(len(data) * 0.6) // 192 * 192 + 77])
    info = probe(cut).video
    assert info is not None and info.ends_mid_packet and 60 < info.frame_count < 200
    out, report = tmp_path / "fixed.mkv", tmp_path / "fixed.json"
    start = info.frame_count - 30
    result = run_mytalk("sync", cut, "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"), "-o", out,
                        "--in", str(start), "--report", report, "--reference", f"0-{info.frame_count}")
    assert result.code == 0, result.stderr
    assert [line for line in result.stderr_lines if "cut short" in line] == [
        f"mytalk: warning: {info.cut_short_note}"]
    frames = json.loads(report.read_text())["frames"]
    assert len(frames) == 30 and all(record["face_found"] for record in frames)
    originals = _decoded(whole, info.frame_count)[start:]
    with av.open(str(out)) as container:
        rendered = [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]
    assert len(rendered) == 30
    for record, original, painted in zip(frames, originals, rendered, strict=True):
        x0, y0, x1, y1 = record["mask_box"]
        outside = np.ones(original.shape, bool)
        outside[y0:y1, x0:x1] = False  # the luma plane's box (the chroma rows below are left out of this check)
        outside[512:] = False
        assert np.array_equal(original[outside], painted[outside])

    from mytalk.ui.panel import MyTalkPanel

    panel = MyTalkPanel(start_runtime=False)
    qtbot.addWidget(panel)
    try:
        assert panel.load_clip(cut)
        assert panel.transport.frame_count == info.frame_count
        assert f"{info.frame_count} frames (cut short)" in panel.clip_label.full_text
        assert panel.status_line.kind == "warning" and "cut short" in panel.status_line.full_text
    finally:
        panel.shutdown()


def test_a_transport_stream_line_cut_short_is_named_and_its_sound_ends_where_its_bytes_do(
        clips: tuple[Path, Path], tmp_path: Path) -> None:
    """A line taken off a broadcast recorder or a camera's AVCHD file, as MPEG-TS with AAC, cut inside a packet:
    its sound is read to where its bytes end, and the job says the line is cut short."""
    whole_clip, _ = clips
    line = tmp_path / "take_line.ts"
    with av.open(str(line), "w", format="mpegts") as container:
        sound = container.add_stream("aac", rate=48000)
        wave = (0.1 * np.sin(np.arange(48000 * 4) * 2 * np.pi * 440 / 48000)).astype(np.float32)
        for start in range(0, wave.size, 1024):
            chunk = av.AudioFrame.from_ndarray(wave[None, start:start + 1024], format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, start
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    assert probe(line).sound_cut_short_note is None
    data = line.read_bytes()
    cut = tmp_path / "take_line_cut.ts"
    cut.write_bytes(data[: len(data) // 2 // 188 * 188 + 50])
    (stream,) = probe(cut).audio
    assert stream.ends_mid_packet and 1.0 < stream.duration_s < 3.0
    heard = decode_audio(cut, 16000).samples.shape[-1] / 16000
    assert heard == pytest.approx(stream.duration_s, abs=0.1)
    out, report = tmp_path / "fixed.mov", tmp_path / "fixed.json"
    result = run_mytalk("sync", whole_clip, "--audio", cut, "-o", out, "--report", report, "--engine", "copy")
    assert result.code == 0, result.stderr
    expected = f"the replacement line {cut.name}: {stream.cut_short_note}"
    assert f"hears only its {stream.duration_s:.2f} s of sound" in expected
    assert [entry for entry in result.stderr_lines if "cut short" in entry] == [f"mytalk: warning: {expected}"]
    assert expected in json.loads(report.read_text())["warnings"]
