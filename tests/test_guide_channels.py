"""A two-hander's camera file as the clip: the actor's microphone picked from the clip's own sound
(`--guide-channels`), checked against the clip, heard by the guide and by learning, kept apart in the profile
cache, and reported; without a pick, a clip of more than two channels is named in a warning."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from benchmarks.camera_take import write_camera_take
from benchmarks.poly_wav import ixml_chunk, write_poly_wav
from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.engines.classic.profile_cache import _reference_key
from mytalk.core.engines.default_reference import default_references, whole_clip_instead
from mytalk.core.errors import UsageError
from mytalk.core.jobs.request import SyncRequest, resolve_request
from mytalk.core.media.audio import decode_audio, decode_audio_span
from mytalk.core.media.channel_pick import ChannelPick, SoundChannel, pick_channels
from mytalk.core.media.clip_sound import ClipSound, PcmSpans
from mytalk.core.runtime.protocol import sync_request_from_json

CLIP = "hdtf_wda_katiehill_512.mp4"
OTHER_CLIP = "hdtf_wda_bobmenendez_512.mp4"
OTHER_VOICE = "hdtf_radio31_en_16k.wav"
NAMES = ("MIX L", "MIX R", "BOOM", "LAV B")
RATE = 48000


def _two_hander(tmp_path: Path) -> tuple[Path, Path]:
    """The clip's picture with a camera's four titled mono streams: the mix of both actors on 1 and 2, the
    actor's own voice on the boom (3, the other 10 dB down), the other actor's lavalier on 4; and the actor's
    own voice alone as a line (the same words, as an ADR line that matches the guide)."""
    own = decode_audio(media_path("video", CLIP), RATE).samples[0]
    other = np.resize(decode_audio(media_path("audio", OTHER_VOICE), RATE).samples[0], own.size)
    other *= np.sqrt(np.mean(own**2) / np.mean(other**2))
    channels = np.stack([(own + other) / 2, (own + other) / 2, own + 0.3 * other, other + 0.1 * own])
    scale = 0.9 / float(np.abs(channels).max())
    camera = write_camera_take(media_path("video", CLIP), channels * scale, RATE, NAMES, tmp_path / "two_hander.mov")
    line = write_poly_wav(tmp_path / "own_line.wav", (own * scale)[None], RATE)
    return camera, line


def test_a_pick_of_the_clips_sound_reads_only_those_channels_for_learning(tmp_path: Path) -> None:
    """`ClipSound` (what learning hears) and its span reader give the picked channels' samples, as the whole
    decode of those channels does."""
    t = np.arange(RATE * 2) / RATE
    tones = np.stack([0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0, 440.0, 550.0)])
    path = write_poly_wav(tmp_path / "take.wav", tones, RATE, before={b"iXML": ixml_chunk(NAMES)})
    pick = pick_channels("boom", path, what="--guide-channels")
    whole = decode_audio(path, 16000, channels=1, rows=pick.rows)
    sound = ClipSound.decode(path, 16000, tmp_path, pick)
    heard = sound.frames(0, 50, Fraction(25)).samples
    assert np.array_equal(heard, whole.samples[:, :32000])
    assert not np.array_equal(heard, ClipSound.decode(path, 16000, tmp_path).frames(0, 50, Fraction(25)).samples)
    spans = PcmSpans(path, 16000, pick.stream_index, pick.rows)
    assert np.array_equal(spans.read(8000, 24000), decode_audio_span(path, 16000, 8000, 16000, rows=pick.rows).samples)


def test_a_picked_reference_is_a_profile_of_its_own() -> None:
    """The profile cache keys a reference by its pick too (other sound, other phones); without one, by the key
    profiles had before picks existed, so the profiles already learned stay found."""
    plain = ReferenceRange(Path("clip.mov"), 0, 100)
    assert _reference_key(plain, "d1") == ["d1", 0, 100]
    boom = ChannelPick((SoundChannel(3, 3, 0, "BOOM"),))
    lav = ChannelPick((SoundChannel(4, 4, 0, "LAV B"),))
    keys = {json.dumps(_reference_key(ReferenceRange(Path("clip.mov"), 0, 100, pick), "d1"))
            for pick in (None, boom, lav)}
    assert len(keys) == 3
    # The whole clip, learned instead of a sample that shows no face, is heard through the same pick.
    default = tuple(ReferenceRange(r.path, r.start, r.stop, boom)
                    for r in default_references(Path("clip.mov"), 15000, Fraction(25)))
    instead = whole_clip_instead(default, Path("clip.mov"), 15000, Fraction(25))
    assert instead is not None and instead == (ReferenceRange(Path("clip.mov"), 0, 15000, boom),)


@pytest.mark.media
def test_the_pick_is_checked_against_the_clip_and_its_references_carry_it(tmp_path: Path) -> None:
    camera, line = _two_hander(tmp_path)
    request = SyncRequest(video=camera, audio=line, output=tmp_path / "out.mov", guide_channels="boom",
                          references=["0-100", f"{media_path('video', OTHER_CLIP)}:0-50"])
    resolved = resolve_request(request)
    assert resolved.guide_pick is not None and resolved.guide_pick.words == "3 BOOM"
    assert (resolved.guide_pick.stream_index, resolved.guide_pick.rows) == (3, (0,))
    own, other = resolved.references
    assert own.channels == resolved.guide_pick and own.to_dict()["channels"]["names"] == ["BOOM"]
    assert other.channels is None and "channels" not in other.to_dict()  # another file: its own sound
    # Over the runtime's wire, as the panel sends it.
    sent = sync_request_from_json({"video": str(camera), "audio": str(line), "output": str(tmp_path),
                                   "guide_channels": "3"})
    assert sent.guide_channels == "3" and sent.to_dict()["guide_channels"] == "3"
    with pytest.raises(UsageError, match=r"--guide-channels lav anna: no channel is named 'lav anna': "
                                         r"two_hander.mov has 4 channels \(1 MIX L, 2 MIX R, 3 BOOM, 4 LAV B\)"):
        resolve_request(SyncRequest(video=camera, audio=line, output=tmp_path / "o.mov", guide_channels="lav anna"))
    with pytest.raises(UsageError, match=r"--guide-channels 2-3: these channels are in different streams"):
        resolve_request(SyncRequest(video=camera, audio=line, output=tmp_path / "o.mov", guide_channels="2-3"))
    silent = write_camera_take(media_path("video", CLIP), np.zeros((0, 10)), RATE, (), tmp_path / "no_sound.mov")
    with pytest.raises(UsageError, match=r"--guide-channels 1: no_sound.mov has no sound to pick from"):
        resolve_request(SyncRequest(video=silent, audio=line, output=tmp_path / "o.mov", guide_channels="1"))


@pytest.mark.media
def test_a_two_handers_guide_follows_the_actors_microphone_when_picked(tmp_path: Path) -> None:
    """End to end through the command line: without a pick the guide hears the mix of both actors, and the job
    names the channels to pick from; with the boom picked the guide aligns the same words far more closely and
    is matched, and the report says what was heard. A bad pick is one line, exit 2, nothing written."""
    camera, line = _two_hander(tmp_path)

    def sync(name: str, *pick: str) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
        result = run_mytalk("sync", camera, "--audio", line, "-o", tmp_path / f"{name}.mov", "--in", "0",
                            "--out", "100", "--report", tmp_path / f"{name}.json", *pick)
        assert result.code == 0, result.stderr
        return json.loads((tmp_path / f"{name}.json").read_text()), result.stderr_lines

    heard_all, stderr = sync("all")
    # The line says the take's words: the warning names the channel they match, by the guide's own measure.
    assert any("the clip's own sound has 4 channels (1 MIX L, 2 MIX R, 3 BOOM, 4 LAV B); the guide and the actor's "
               "learning hear 1 MIX L; the line's words match channel 3 BOOM best (alignment cost 0." in line
               and "1 MIX L, which it heard: 0." in line and line.endswith("pick it with --guide-channels 3")
               for line in stderr), stderr
    assert "channels" not in heard_all["inputs"]["video"]
    picked, stderr = sync("boom", "--guide-channels", "BOOM")
    assert not any("--guide-channels" in line for line in stderr), stderr
    assert picked["inputs"]["video"]["channels"] == {"numbers": [3], "names": ["BOOM"], "stream": 3}
    assert picked["inputs"]["video"]["sound"]["stream"] == 3
    assert picked["inputs"]["references"][0]["channels"]["names"] == ["BOOM"]
    assert picked["engine_report"]["profile"]["sources"][0]["channels"]["names"] == ["BOOM"]
    assert "channels" not in heard_all["engine_report"]["profile"]["sources"][0]
    guide_all = heard_all["engine_report"]["motion"]["guide"]
    guide_boom = picked["engine_report"]["motion"]["guide"]
    assert guide_boom["matched"] and picked["engine_report"]["driver"] == "guide"
    assert guide_boom["cost"] < guide_all["cost"] - 0.1, (guide_boom, guide_all)

    bad = run_mytalk("sync", camera, "--audio", line, "--guide-channels", "5", "-o", tmp_path / "bad.mov",
                     "--in", "0", "--out", "10")
    assert bad.code == 2 and len(bad.stderr_lines) == 1, bad.stderr
    assert "--guide-channels 5: there is no channel 5: two_hander.mov has 4 channels" in bad.stderr_lines[0]
    assert not (tmp_path / "bad.mov").exists()


@pytest.mark.media
def test_a_stored_actor_is_learned_from_the_picked_microphone(tmp_path: Path) -> None:
    """`mytalk actor build --channels`: the profile says which channels each footage was learned from, and a
    channel a footage file lacks is refused, one line and exit 2, before anything is learned."""
    camera, _line = _two_hander(tmp_path)
    env = {"MYTALK_HOME": str(tmp_path / "home")}
    built = run_mytalk("actor", "build", "katie", f"{camera}:0-100", "--channels", "boom", "--quiet", env=env)
    assert built.code == 0, built.stderr
    listed = run_mytalk("actor", "list", "--json", env=env)
    (actor,) = json.loads(listed.stdout)["actors"]
    profile = json.loads((Path(json.loads(listed.stdout)["folder"]) / actor["name"] / "profile.json").read_text())
    assert [source["channels"]["names"] for source in profile["sources"]] == [["BOOM"]]
    bad = run_mytalk("actor", "build", "katie2", f"{camera}:0-100", "--channels", "7", env=env)
    assert bad.code == 2 and len(bad.stderr_lines) == 1, bad.stderr
    assert "--channels 7: there is no channel 7: two_hander.mov has 4 channels" in bad.stderr_lines[0]


@pytest.mark.media
def test_the_warning_names_only_what_hears_the_clips_sound(tmp_path: Path) -> None:
    """Without a pick, a clip of more than two channels is named; the warning says who hears its sound: the
    guide, the actor's learning (a reference of the clip, no stored actor), both, or nobody (no warning)."""
    from mytalk.core.jobs.sync import _many_guide_channels_warning

    camera, line = _two_hander(tmp_path)

    def warned(**fields: object) -> list[str]:
        return _many_guide_channels_warning(resolve_request(SyncRequest(video=camera, audio=line,
                                                                        output=tmp_path / "o.mov", **fields)))

    (both,) = warned()
    assert "; the guide and the actor's learning hear 1 MIX L: pick the actor's microphone" in both
    (learning,) = warned(guide="none")
    assert "; the actor's learning hears 1 MIX L:" in learning
    (guide,) = warned(actor="stored")
    assert "; the guide hears 1 MIX L:" in guide
    assert warned(guide="none", actor="stored") == []
    assert warned(guide_channels="boom") == []
    # Given the line, the channel its words match is named; a line of other words names none.
    from mytalk.core.media.audio import decode_placed

    resolved = resolve_request(SyncRequest(video=camera, audio=line, output=tmp_path / "o.mov", in_point="0",
                                           out_point="100"))
    own = decode_placed(line, 48000, num_frames=100, fps=resolved.fps)
    (named,) = _many_guide_channels_warning(resolved, own)
    assert "; the line's words match channel 3 BOOM best (alignment cost" in named
    assert named.endswith(": pick it with --guide-channels 3")
    other = decode_placed(media_path("audio", "jfk_inaugural_en_16k.wav"), 48000, num_frames=100, fps=resolved.fps)
    (unnamed,) = _many_guide_channels_warning(resolved, other)
    assert "match" not in unnamed and "such as 3 or 'BOOM'" in unnamed


def test_the_suggestion_is_the_best_match_under_the_threshold_and_not_what_was_heard() -> None:
    from mytalk.core.jobs.guide_suggestion import ChannelMatch, best_match, suggestion_words

    mix, boom, lav = (SoundChannel(n, n, 0, name) for n, name in ((1, "MIX"), (2, "BOOM"), (3, "LAV")))
    matches = [ChannelMatch(mix, 0.55), ChannelMatch(boom, 0.35), ChannelMatch(lav, float("nan"))]
    best = best_match(matches, [mix])
    assert best is not None and best.channel == boom
    assert suggestion_words(best, matches, [mix]) == ("the line's words match channel 2 BOOM best (alignment cost "
                                                      "0.35, under the 0.6 a match needs; 1 MIX, which it heard: 0.55)")
    assert best_match(matches, [boom]) is None  # the job heard it already
    assert best_match([ChannelMatch(mix, 0.7), ChannelMatch(boom, 0.65)], [mix]) is None  # no channel says the words
    assert best_match([ChannelMatch(mix, float("nan"))], [boom]) is None  # nothing voiced


def test_a_neural_actor_build_refuses_a_channel_pick(tmp_path: Path) -> None:
    """The mytalk engine's fine-tune learns from pictures: a pick would be silently unused, so it is refused."""
    result = run_mytalk("actor", "build", "someone", str(tmp_path / "take.mov"), "--engine", "mytalk",
                        "--channels", "3", env={"MYTALK_HOME": str(tmp_path / "home")})
    assert result.code == 2 and len(result.stderr_lines) == 1, result.stderr
    assert "--channels picks the sound the classic engine learns phones from" in result.stderr_lines[0]


def test_a_training_set_hears_the_picked_microphone_of_each_video(tmp_path: Path) -> None:
    """`mytalk dataset build --channels`: the motion stage learns a speaker's lips from the sound, so a camera
    file's mix of two actors would teach it the other actor's words. With a pick, each clip's stored sound is
    the picked channels' (the same mel as the picked sound decoded on its own); a video without them is
    rejected, and a dataset is extended only with the channels it was built from."""
    from mytalk.core.engines.mytalk.dataset import Dataset, build_dataset, clip_audio, placed_mel

    camera, _ = _two_hander(tmp_path)
    stereo = media_path("video", OTHER_CLIP)
    boom, mixed = tmp_path / "boom_set", tmp_path / "mixed_set"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(tmp_path / "home"))
        picked = build_dataset([f"{camera}:0-40", f"{stereo}:0-40"], boom, crop_size=32, channels="boom")
        build_dataset([f"{camera}:0-40"], mixed, crop_size=32)
        assert [r["kind"] for r in picked.rejected] == ["no such channels"]
        assert "--channels boom" in picked.rejected[0]["reason"] and OTHER_CLIP in picked.rejected[0]["reason"]
        (entry,) = Dataset(boom).entries
        assert entry["channels"]["names"] == ["BOOM"]
        fps = Fraction(25)
        expected = placed_mel(clip_audio(camera, 0, 40, fps, pick=pick_channels("boom", camera)))
        stored, heard_whole = Dataset(boom).clip(0).mel, Dataset(mixed).clip(0).mel
        assert stored.shape == expected.shape and np.allclose(stored, expected, atol=1e-4)
        assert not np.allclose(stored, heard_whole, atol=0.5)  # the mix of both actors sounds otherwise
        # Phones timed later for the clips built without them hear the same channels as their stored sound.
        build_dataset([f"{camera}:0-40"], boom, crop_size=32, channels="boom", phones=True)
        assert Dataset(boom).entries[0]["phones"]["count"] > 0
        with pytest.raises(UsageError, match="was built --channels boom; give --channels boom to extend it"):
            build_dataset([f"{camera}:40-80"], boom, crop_size=32, channels="3")
        with pytest.raises(UsageError, match="was built without --channels; give no --channels"):
            build_dataset([f"{camera}:40-80"], mixed, crop_size=32, channels="boom")
        with pytest.raises(UsageError, match="--channels: give the channels to pick"):
            build_dataset([f"{camera}:40-80"], tmp_path / "empty_pick", crop_size=32, channels=" ")
    result = run_mytalk("dataset", "build", f"{camera}:0-40", "-o", tmp_path / "cli_set", "--crop-size", "32",
                        "--channels", "7", "--quiet", env={"MYTALK_HOME": str(tmp_path / "home")})
    assert result.code == 0, result.stderr
    (rejected,) = json.loads((tmp_path / "cli_set" / "rejected.json").read_text())
    assert rejected["kind"] == "no such channels" and "1 MIX L, 2 MIX R, 3 BOOM, 4 LAV B" in rejected["reason"]
