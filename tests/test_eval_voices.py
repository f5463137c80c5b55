"""Synthetic non-English dub voices: espeak-ng lines, their cache, and their place in the dub rotation.

The shared speech files are all English; `benchmarks.eval.voices` speaks Spanish and German lines
with espeak-ng so the dub protocol hears a voice in another language. CI may not have espeak-ng:
the synthesis tests skip then, and nothing else here needs it (the rotation tests use silent WAVs).
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmarks.eval.mediaio import ClipInfo, probe_clip
from benchmarks.eval.protocols.base import ClipContext
from benchmarks.eval.protocols.dub import pick_audio
from benchmarks.eval.settings import DUB_AUDIO, FULL
from benchmarks.eval.voices import (
    GERMAN,
    SPANISH,
    VOICES,
    VoiceText,
    espeak_available,
    synthesise_voices,
    voice_label,
)
from conftest import shared_videos

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not on PATH (Debian: apt-get install espeak-ng)")


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Both lines, synthesised once for the module (about 0.5 s)."""
    return synthesise_voices(tmp_path_factory.mktemp("voices"))


def _read(path: Path) -> tuple[np.ndarray, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return samples, wav.getframerate(), wav.getnchannels(), wav.getsampwidth()


@needs_espeak
def test_synthesis_writes_a_35_s_mono_16_bit_line_per_language(voices: list[Path]) -> None:
    assert [voice_label(p) for p in voices] == ["synthetic es (espeak-ng)", "synthetic de (espeak-ng)"]
    for path in voices:
        samples, rate, channels, width = _read(path)
        assert (rate, channels, width) == (22050, 1, 2), path.name
        # Longer than the longest full-setting window (22.7 s), about 35 s as asked.
        assert 30.0 <= samples.size / rate <= 42.0, path.name
        # Speech, with real pauses between sentences: loud 20 ms blocks and digitally silent ones.
        blocks = np.abs(samples[: samples.size // 441 * 441].reshape(-1, 441).astype(np.int32)).max(axis=1)
        assert (blocks > 3000).mean() > 0.4, path.name
        assert (blocks == 0).mean() > 0.05, path.name
    # Two languages, two different sounds.
    assert not np.array_equal(_read(voices[0])[0][:22050], _read(voices[1])[0][:22050])


@needs_espeak
def test_the_language_is_the_requested_voice(tmp_path: Path) -> None:
    """The voice is what espeak-ng is asked for: the Spanish text read by the German voice is
    another file (the name carries the language) with another sound."""
    accent = VoiceText(language="de", voice="de", paragraphs=SPANISH.paragraphs)
    spanish, german_reading = synthesise_voices(tmp_path, (SPANISH, accent))
    assert voice_label(spanish) == "synthetic es (espeak-ng)"
    assert voice_label(german_reading) == "synthetic de (espeak-ng)"
    a, b = _read(spanish)[0], _read(german_reading)[0]
    assert a.size != b.size or not np.array_equal(a, b)


@needs_espeak
def test_cache_reuses_an_existing_line(tmp_path: Path) -> None:
    first = synthesise_voices(tmp_path, (GERMAN,))
    stamp = first[0].stat().st_mtime_ns
    again = synthesise_voices(tmp_path, (GERMAN,))
    assert again == first and again[0].stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == [first[0].name]  # no temporary file left


def test_without_espeak_there_are_no_voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert synthesise_voices(tmp_path) == []


def test_shared_speech_files_are_not_labelled_synthetic() -> None:
    assert all(voice_label(Path(name)) is None for name in DUB_AUDIO)
    assert {v.language for v in VOICES} == {"es", "de"}


# The rotation, on a stand-in media folder: names matter, and the audio files' lengths.

CLIPS = [f"clip{i}.mp4" for i in range(9)]
SHARED_S = {"jfk_inaugural_en_16k.wav": 11.0, "hdtf_radio31_en_16k.wav": 8.0, "gfpgan_kimk_speech_en_48k.mp3": 8.1,
            "retalking_audio1_en_44k.wav": 5.0, "iplap_lecture_en_44k.wav": 21.3}


def _silent_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.zeros(int(seconds * rate), np.int16).tobytes())
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """video/ with nine named (empty) clips; audio/ with the shared names at their real lengths.
    The mp3 is a WAV under that name: the decoder reads the content, not the suffix."""
    for name in CLIPS:
        (tmp_path / "video" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "video" / name).touch()
    for name, seconds in SHARED_S.items():
        _silent_wav(tmp_path / "audio" / name, seconds)
    return tmp_path


def _ctx(media: Path, clip: str, seconds: float, extras: tuple[Path, ...] = ()) -> ClipContext:
    info = ClipInfo(media / "video" / clip, Fraction(25), int(seconds * 25), 64, 64, "yuv420p", True)
    return ClipContext(info, FULL, None, media / "out", media, extras)  # type: ignore[arg-type]


def test_rotation_without_extras_is_unchanged(media: Path) -> None:
    """Today's rule: start at the clip's position, skip files shorter than the window."""
    picks = [pick_audio(_ctx(media, clip, 8.0)).name for clip in CLIPS]
    assert picks == [
        "jfk_inaugural_en_16k.wav", "hdtf_radio31_en_16k.wav", "gfpgan_kimk_speech_en_48k.mp3",
        "iplap_lecture_en_44k.wav", "iplap_lecture_en_44k.wav",  # retalking_audio1 is too short for 8 s
        "jfk_inaugural_en_16k.wav", "hdtf_radio31_en_16k.wav", "gfpgan_kimk_speech_en_48k.mp3",
        "iplap_lecture_en_44k.wav",
    ]
    assert pick_audio(_ctx(media, "clip0.mp4", 30.0)).name == "iplap_lecture_en_44k.wav"  # none long enough


def test_rotation_with_extras_places_each_voice_and_keeps_the_rest(media: Path) -> None:
    es = _silent_wav(media / "voices" / "synthetic-es-espeak-ng-000000000000.wav", 36.0, 22050)
    de = _silent_wav(media / "voices" / "synthetic-de-espeak-ng-000000000000.wav", 36.0, 22050)
    shared = [pick_audio(_ctx(media, clip, 8.0)) for clip in CLIPS]
    picks = [pick_audio(_ctx(media, clip, 8.0, (es, de))) for clip in CLIPS]
    assert picks == [es, de, *shared[2:7], es, de]
    assert picks == [pick_audio(_ctx(media, clip, 8.0, (es, de))) for clip in reversed(CLIPS)][::-1]
    # A voice covers even the longest window; a window longer than a voice falls back on the shared rule.
    assert pick_audio(_ctx(media, "clip0.mp4", 30.0, (es, de))) == es
    assert pick_audio(_ctx(media, "clip0.mp4", 40.0, (es, de))).name == "iplap_lecture_en_44k.wav"


TODAY_FULL = {
    "hdtf_wda_bobmenendez_512.mp4": "jfk_inaugural_en_16k.wav",
    "hdtf_wda_katiehill_512.mp4": "hdtf_radio31_en_16k.wav",
    "latentsync_demo2_man_vertical_hevc.mp4": "iplap_lecture_en_44k.wav",
    "retalking_face1_man_suit.mp4": "iplap_lecture_en_44k.wav",
    "retalking_face2_swalwell.mp4": "iplap_lecture_en_44k.wav",
    "retalking_face4_woman_bluebg.mp4": "jfk_inaugural_en_16k.wav",
    "retalking_face5_woman_glasses_eu.mp4": "hdtf_radio31_en_16k.wav",
    "voxceleb2_00104_man_tv_224.mp4": "iplap_lecture_en_44k.wav",
    "wav2lip_pr600_man_720p_cutaway.mov": "iplap_lecture_en_44k.wav",
}
"""The full setting's dub speech per shared clip before synthetic voices existed."""


@pytest.mark.media
def test_on_the_shared_clips_each_voice_lands_and_english_clips_keep_their_file(
    shared_media: Path, tmp_path: Path
) -> None:
    """Full setting, real media folder: without extras every clip gets today's file; with them,
    Spanish and German each drive at least one clip and every other clip keeps its English file."""
    es = _silent_wav(tmp_path / "synthetic-es-espeak-ng-000000000000.wav", 36.0, 22050)
    de = _silent_wav(tmp_path / "synthetic-de-espeak-ng-000000000000.wav", 36.0, 22050)
    plain: dict[str, str] = {}
    landed: dict[Path, list[str]] = {es: [], de: []}
    for video in shared_videos():
        info = probe_clip(video)
        ctx = ClipContext(info, FULL, None, tmp_path, shared_media)  # type: ignore[arg-type]
        plain[video.name] = pick_audio(ctx).name
        picked = pick_audio(ClipContext(info, FULL, None, tmp_path, shared_media, (es, de)))  # type: ignore[arg-type]
        if picked in landed:
            landed[picked].append(video.name)
        else:
            assert picked.name == plain[video.name], video.name
    if set(plain) == set(TODAY_FULL):
        assert plain == TODAY_FULL
    assert all(landed.values()), landed
