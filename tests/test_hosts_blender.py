"""Blender's video sequence editor as a host, proven by Blender itself (`bpy` from PyPI, headless).

`mytalk blender install` puts the extension into a Blender config folder; a Blender process
(`.venv-blender`, which `.ci/blender_venv.sh` creates: bpy pins its own numpy, so it cannot share
`.venv`) enables it as a user would, builds a sequencer scene from a real clip and line, runs the
add-on's Commit through the real MyTalk runtime (classic engine, FFV1 so the fix is lossless),
then renders the sequencer. The findings (`tests/blender_session.py`) are judged here: channels,
frames and custom properties of the placed strips, and Blender's rendered pixels against the fix
file's and the source's own frames, decoded with PyAV.

The frame arithmetic of the add-on (`plugin/hosts/blender/marks.py`, plain Python) is also tested
directly, loaded from its file, since its package imports bpy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import av
import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT, media_path

BLENDER_PYTHON = REPO_ROOT / ".venv-blender" / "bin" / "python"
SESSION = Path(__file__).with_name("blender_session.py")
MYTALK = [sys.executable, "-m", "mytalk.plugin.cli"]

# The scene of the session (scene frames; see blender_session.movie_scene).
SPEC: dict[str, Any] = {"clip_frame_start": 11, "clip_trim": 10, "line_frame_start": 30, "mark_in": 40, "mark_out_inclusive": 79,
        "engine": "classic", "codec": "ffv1", "render_first": 36, "render_last": 83,
        "line_channels": "1", "guide_channels": "1", "graded_first": 45, "graded_last": 47}
SOURCE_START = SPEC["mark_in"] - SPEC["clip_frame_start"]  # 29: scene frame 40 shows source frame 29
FRAMES = SPEC["mark_out_inclusive"] + 1 - SPEC["mark_in"]  # 40 frames, 1.6 s at 25 fps

MAX_LEVELS = 4
"""Largest per-channel difference (8-bit levels) allowed between Blender's render and PyAV's decode of
the same frame. Blender converts YUV to RGB with its own code; with view transform Standard (no
tone mapping) it differs from PyAV's by at most 3 levels on this clip (measured: mean 1.24-1.27,
max 3 on every frame). A neighbouring frame differs by far more (mean >= 4.8 within the range)."""
MAX_MEAN_LEVELS = 2.0
"""Mean difference allowed over a frame; an off-by-one frame of the fix is at least 4.8 on this clip."""


def _skip_without_bpy() -> None:
    if not BLENDER_PYTHON.is_file():
        pytest.skip("Blender as a module is not installed: run 'bash .ci/blender_venv.sh' (creates .venv-blender "
                    "with PyPI bpy 5.0.1) to run the Blender host tests")


def _mytalk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MYTALK, *args], capture_output=True, text=True, env=env, timeout=120)


def _load_addon_module(name: str) -> ModuleType:
    """A plain-Python module of the add-on (`marks`: its frame arithmetic; `notes`: its wording of a commit's
    notes), loaded from its file: its package imports bpy, which .venv lacks."""
    spec = importlib.util.spec_from_file_location(f"blender_addon_{name}", REPO_ROOT / f"plugin/hosts/blender/{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


marks = _load_addon_module("marks")


# -- the Blender session ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Install with `mytalk blender install`, then run the whole user path in Blender; returns the findings."""
    _skip_without_bpy()
    video = media_path("video", "hdtf_wda_katiehill_512.mp4")
    line = media_path("audio", "jfk_inaugural_en_16k.wav")
    root = tmp_path_factory.mktemp("blender")
    config = root / "config"
    for version in ("4.1", "4.2", "5.0"):  # Blenders that have run for this user; 5.0 is the newest
        (config / "blender" / version).mkdir(parents=True)
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "MYTALK_HOME": str(root / "mytalk_home")}
    env.pop("BLENDER_USER_RESOURCES", None)
    installed = _mytalk("blender", "install", env=env)
    assert installed.returncode == 0, installed.stderr
    spec = {**SPEC, "video": str(video), "line": str(line), "render_folder": str(root / "renders"),
            "frames": str(root / "frames"), "findings": str(root / "findings.json"),
            "graded_frames": str(root / "graded")}
    (root / "frames").mkdir()
    (root / "spec.json").write_text(json.dumps(spec))
    run = subprocess.run([str(BLENDER_PYTHON), str(SESSION), str(root / "spec.json")], capture_output=True, text=True,
                         env=env, timeout=600, cwd=root)
    assert (root / "findings.json").is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    findings = json.loads((root / "findings.json").read_text())
    assert "exception" not in findings, findings["exception"]
    return {**findings, "installed": installed.stdout.strip(), "config": config, "root": root, "video": video,
            "line": line}


def _placed(session: dict[str, Any], kind: str) -> dict[str, Any]:
    (strip,) = [s for s in session["placed"] if s["type"] == kind]
    return strip


def test_install_goes_to_the_newest_blender_with_this_mytalk_written_in(session: dict[str, Any]) -> None:
    folder = session["config"] / "blender" / "5.0" / "extensions" / "user_default" / "mytalk"
    assert session["installed"] == str(folder)
    assert (folder / "blender_manifest.toml").is_file()
    record = json.loads((folder / "mytalk_install.json").read_text())
    assert record["mytalk"] == str(Path(sys.executable).with_name("mytalk"))
    assert session["default_executable"] == record["mytalk"]  # the add-on's preference default, read in Blender
    assert not (session["config"] / "blender" / "4.2" / "extensions").exists()


def test_commit_places_the_fix_on_the_first_free_channels_at_the_marks(session: dict[str, Any]) -> None:
    assert session["commit"]["result"] == ["FINISHED"], session["commit"]
    # A clean commit has nothing for the Info log beside it (`notes.result_notes`).
    assert session["commit"]["status"].startswith("MyTalk: placed ") and "Info log" not in session["commit"]["status"]
    movie, sound = _placed(session, "MOVIE"), _placed(session, "SOUND")
    # Channel 2 holds the shot, 3 the line (over the marks): the fix goes to 4, its sound to 5 (the
    # colour strip on 5 ends before the marks).
    assert (movie["channel"], sound["channel"]) == (4, 5)
    for strip in (movie, sound):
        assert (strip["frame_final_start"], strip["frame_final_end"]) == (SPEC["mark_in"], SPEC["mark_in"] + FRAMES)
        assert strip["frame_final_duration"] == FRAMES
    output = Path(movie["filepath"])
    assert output == Path(sound["filepath"])
    assert output.parent == session["root"] / "renders"
    assert output.name == f"hdtf_wda_katiehill_512_{SOURCE_START}-{SOURCE_START + FRAMES}_v001.mkv"
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == "ffv1"
        assert sum(1 for _ in container.decode(video=0)) == FRAMES


def _mono(path: str) -> np.ndarray:
    import wave
    with wave.open(path) as sound:
        assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == (48000, 1, 2)
        return np.frombuffer(sound.readframes(sound.getnframes()), dtype="<i2").astype(np.float64)


def test_the_line_is_heard_once_over_the_marks(session: dict[str, Any]) -> None:
    """The line's own strip already plays the line where the fix's sound would: the fix's sound strip is placed
    muted, and Blender's own mix over the marks is what it was before the commit. Unmuted, the line plays twice."""
    movie, sound = _placed(session, "MOVIE"), _placed(session, "SOUND")
    assert sound["mute"] and not movie["mute"]
    assert f"its sound muted on {sound['channel']} (the line's strip plays it)" in session["commit"]["status"]
    before, after, unmuted = (_mono(session[key]) for key in ("mix_before", "mix_after", "mix_unmuted"))
    assert len(before) == len(after) == len(unmuted) >= FRAMES * 48000 // 25
    rms = {name: float(np.sqrt(np.mean(samples ** 2))) for name, samples in
           (("before", before), ("after", after), ("unmuted", unmuted))}
    assert np.abs(after - before).max() <= 1, "the commit changed what is heard over the marks"
    # The copy unmuted: the line twice, on top of the shot's own sound.
    doubled = unmuted - before
    line_again = float(np.corrcoef(doubled, before)[0, 1])
    print(f"mix over the marks, RMS: before {rms['before']:.0f}, after {rms['after']:.0f}, with the fix's sound "
          f"unmuted {rms['unmuted']:.0f}; what unmuting adds correlates {line_again:.2f} with the mix before")
    assert rms["unmuted"] > 1.3 * rms["before"] and line_again > 0.5
    # The second commit was made with the line's strip muted: its fix's sound strip plays.
    (graded_sound,) = [s for s in session["graded_placed"] if s["type"] == "SOUND"]
    assert not graded_sound["mute"]


def test_a_strip_the_fix_is_drawn_over_is_named(session: dict[str, Any]) -> None:
    """The second commit found a lower third on the first free channel over the range: the fix goes above it (no
    strip is moved), and the status line names it; the earlier fix it also covers is not named."""
    (movie,) = [s for s in session["graded_placed"] if s["type"] == "MOVIE"]
    assert movie["channel"] > session["lower_third_channel"]
    status = session["graded_commit"]["status"]
    assert (f"the fix is drawn over 'lower third' there: move it above channel {movie['channel']} to show it over the "
            "fix") in status, status
    assert "_v001" not in status.split("drawn over")[1], status


def test_the_new_strips_carry_their_provenance(session: dict[str, Any]) -> None:
    movie, sound = _placed(session, "MOVIE"), _placed(session, "SOUND")
    report = Path(movie["properties"]["mytalk_report"])
    expected = {
        "mytalk_source_file": str(session["video"]),
        "mytalk_source_start": SOURCE_START,
        "mytalk_source_stop": SOURCE_START + FRAMES,
        "mytalk_line_file": str(session["line"]),
        "mytalk_line_offset_s": pytest.approx((SPEC["mark_in"] - SPEC["line_frame_start"]) / 25),
        "mytalk_engine": "classic",
        "mytalk_version": "0.1.0",
        "mytalk_render_version": 1,
        "mytalk_report": str(report),
        "mytalk_codec": "ffv1",
        "mytalk_line_channels": "1",
        "mytalk_guide_channels": "1",
    }
    assert movie["properties"] == expected
    assert sound["properties"] == movie["properties"]
    sidecar = json.loads(report.read_text())
    assert sidecar["engine"]["name"] == "classic" and sidecar["mytalk_version"] == "0.1.0"
    assert json.dumps(sidecar["range"]).replace(" ", "").count(str(SOURCE_START)) >= 1
    # The channels picked in the sidebar reached the job (the line's one channel, the first of the clip's two).
    assert sidecar["inputs"]["audio"]["channels"]["numbers"] == [1]
    assert sidecar["inputs"]["video"]["channels"]["numbers"] == [1]


def test_a_channel_the_clip_lacks_is_refused_and_places_nothing(session: dict[str, Any]) -> None:
    refused = session["refused_channels"]
    assert refused["result"] == ["ERROR"], refused
    assert "--guide-channels 7: there is no channel 7: hdtf_wda_katiehill_512.mp4 has 2 channels" in refused["raised"]
    assert session["strips_added_by_channels_refused"] == 0


def test_preview_opens_the_panel_on_the_marks_and_the_slip(session: dict[str, Any]) -> None:
    assert session["preview_exit"] == -15  # still running when the session closed it (SIGTERM)
    command = session["preview_command"]
    assert command[:2] == [sys.executable, str(Path(sys.executable).with_name("mytalk"))]  # the script's interpreter
    assert command[2:] == ["blender", "panel", str(session["video"]), "--audio", str(session["line"]), "--in",
                           str(SOURCE_START), "--out", str(SOURCE_START + FRAMES), "--audio-in", "10",
                           "--render-folder", str(session["root"] / "renders"), "--audio-channels", "1",
                           "--guide-channels", "1"]


def test_refusals_say_why_and_place_nothing(session: dict[str, Any]) -> None:
    expected = {"refused_fps": "25.000 fps in a 24.000 fps scene", "refused_no_movie": "no movie strip is active",
                "refused_outside": "does not overlap the active strip"}
    for key, words in expected.items():
        assert session[key]["result"] == ["ERROR"], (key, session[key])
        assert words in session[key]["raised"], (key, session[key])
    assert session["strips_added_by_refusals"] == 0


def _rendered(session: dict[str, Any], frame: int) -> np.ndarray:
    image = cv2.imread(str(session["root"] / "frames" / f"frame_{frame:04d}.png"), cv2.IMREAD_COLOR)
    assert image is not None, f"Blender rendered no frame {frame}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.int16)


def _decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


def _difference(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    delta = np.abs(a - b)
    return float(delta.mean()), int(delta.max())


def test_blender_renders_the_fix_inside_the_marks_and_the_original_outside(session: dict[str, Any]) -> None:
    fix = _decoded(Path(_placed(session, "MOVIE")["filepath"]))
    source = _decoded(session["video"])
    assert len(session["rendered"]) == SPEC["render_last"] - SPEC["render_first"] + 1
    changed = 0
    for frame in range(SPEC["render_first"], SPEC["render_last"] + 1):
        rendered = _rendered(session, frame)
        original = source[frame - SPEC["clip_frame_start"]]
        if not SPEC["mark_in"] <= frame < SPEC["mark_in"] + FRAMES:
            mean, peak = _difference(rendered, original)
            assert mean <= MAX_MEAN_LEVELS and peak <= MAX_LEVELS, (frame, mean, peak)
            continue
        k = frame - SPEC["mark_in"]
        mean, peak = _difference(rendered, fix[k])
        assert mean <= MAX_MEAN_LEVELS and peak <= MAX_LEVELS, (frame, mean, peak)
        # An off-by-one placement would show the neighbouring fix frame: that must fail the tolerance.
        for neighbour in (k - 1, k + 1):
            if 0 <= neighbour < FRAMES:
                other_mean, other_peak = _difference(rendered, fix[neighbour])
                assert other_mean > MAX_MEAN_LEVELS and other_peak > MAX_LEVELS, (frame, neighbour, other_mean)
        changed += _difference(rendered, original)[1] > MAX_LEVELS  # the mouth differs from the source's
    assert changed >= FRAMES // 2, f"only {changed} of {FRAMES} rendered frames differ from the source"


GRADE_TOLERANCE = 1.0
"""Mean difference (8-bit levels) allowed between Blender's render of the fix and of the graded shot itself, where
the fix left the source's pixels as they were: the same colour settings on the same pixels, up to the fix's codec
(FFV1, lossless) and Blender's rounding."""


def test_the_fix_is_seen_through_the_shots_colour_settings(session: dict[str, Any]) -> None:
    assert session["graded_commit"]["result"] == ["FINISHED"], session["graded_commit"]
    settings = session["graded_settings"]
    assert (settings["saturation"], settings["multiply"]) == pytest.approx((0.5, 1.15))
    fix, source = _decoded(Path(session["graded_fix_file"])), _decoded(session["video"])
    folder = session["root"] / "graded"
    for frame in range(SPEC["graded_first"], SPEC["graded_last"] + 1):
        shown = {}
        for kind in ("fix", "shot"):
            image = cv2.imread(str(folder / kind / f"frame_{frame:04d}.png"), cv2.IMREAD_COLOR)
            assert image is not None, (kind, frame)
            shown[kind] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.int16)
        k, original = frame - SPEC["mark_in"], source[frame - SPEC["clip_frame_start"]]
        kept = np.abs(fix[k] - original).max(axis=2) <= 2  # where the fix is the source: away from the mouth
        same = float(np.abs(shown["fix"] - shown["shot"])[kept].mean())
        ungraded = float(np.abs(shown["shot"] - original)[kept].mean())
        assert same <= GRADE_TOLERANCE < 10 * GRADE_TOLERANCE <= ungraded, (frame, same, ungraded)
        print(f"frame {frame}: the fix's render is the graded shot's within {same:.2f} levels away from the mouth "
              f"(the grade moves the shot by {ungraded:.1f})")


def test_the_installed_extension_passes_blenders_own_validation(session: dict[str, Any]) -> None:
    (validator,) = sorted((REPO_ROOT / ".venv-blender").glob("lib/python3*/site-packages/bpy/*/scripts/addons_core/"
                                                            "bl_pkg/cli/blender_ext.py"))
    folder = Path(session["installed"])
    env = {**os.environ, "MYTALK_HOME": str(session["root"] / "mytalk_home")}
    printed = _mytalk("blender", "install", "--print", env=env)
    assert printed.returncode == 0, printed.stderr
    archive = Path(printed.stdout.strip())
    for source in (folder, archive):
        result = subprocess.run([str(BLENDER_PYTHON), str(validator), "validate", str(source)], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


# -- without Blender -------------------------------------------------------------------------------


def test_print_builds_a_zip_for_install_from_disk(tmp_path: Path) -> None:
    env = {**os.environ, "MYTALK_HOME": str(tmp_path)}
    result = _mytalk("blender", "install", "--print", env=env)
    assert result.returncode == 0, result.stderr
    archive = Path(result.stdout.strip())
    assert archive.parent == tmp_path / "data" / "blender" and archive.name == "mytalk-0.1.0.zip"
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        record = json.loads(bundle.read("mytalk_install.json"))
    assert {"blender_manifest.toml", "__init__.py", "marks.py", "mytalk_install.json"} <= names
    assert not any("__pycache__" in name for name in names)
    assert record["mytalk"] == str(Path(sys.executable).with_name("mytalk"))
    assert "Install from Disk" in result.stderr


@pytest.mark.parametrize(("args", "config_versions", "words"), [
    (["--target", "/nonexistent/extensions"], (), "is not a folder"),
    ([], (), "no Blender 4.2 or newer has run"),
    ([], ("3.6", "4.1"), "no Blender 4.2 or newer has run"),
], ids=["missing-target", "no-blender", "only-old-blenders"])
def test_bad_targets_exit_2_with_one_line(tmp_path: Path, args: list[str], config_versions: tuple[str, ...],
                                          words: str) -> None:
    for version in config_versions:
        (tmp_path / "config" / "blender" / version).mkdir(parents=True)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "MYTALK_HOME": str(tmp_path / "home")}
    env.pop("BLENDER_USER_RESOURCES", None)
    result = _mytalk("blender", "install", *args, env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr


def test_a_file_as_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "not_a_folder"
    target.write_text("")
    result = _mytalk("blender", "install", "--target", str(target), env={**os.environ, "MYTALK_HOME": str(tmp_path)})
    assert result.returncode == 2 and "is not a folder" in result.stderr


def test_extension_path_is_the_shipped_extension() -> None:
    from mytalk.plugin.hosts.blender_install import extension_manifest, extension_path

    assert (extension_path() / "blender_manifest.toml").is_file()
    manifest = extension_manifest()
    from mytalk.core import __version__

    assert manifest["schema_version"] == "1.0.0" and manifest["version"] == __version__
    assert manifest["blender_version_min"] == "4.2.0" and manifest["type"] == "add-on"


# -- the add-on's frame arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(("preview", "markers", "expected"), [
    ((True, 40, 79), [10, 90], (40, 80, "preview range")),
    ((False, 40, 79), [90, 30, 200], (30, 91, "markers")),
    ((False, 40, 79), [50], (21, 211, "strip")),
    ((True, 0, 30), [], (21, 31, "preview range")),  # clipped to the strip's visible part
], ids=["preview-range-first", "two-markers-inclusive", "strip-when-unmarked", "clipped-to-strip"])
def test_marks_precedence(preview: tuple[bool, int, int], markers: list[int], expected: tuple[int, int, str]) -> None:
    use, start, end = preview
    found = marks.marked_range(use_preview_range=use, preview_start=start, preview_end=end, marker_frames=markers,
                               strip_start=21, strip_stop=211)
    assert (found.start, found.stop, found.source) == expected


def test_scene_frames_map_to_source_frames_through_both_trims() -> None:
    scene = marks.SceneRange(40, 80, "preview range")
    # Soft trims do not move the content; a hard trim (animation_offset_start) does.
    assert marks.source_range(scene, frame_start=11, animation_offset_start=0, frame_count=200, clip_name="c") \
        == marks.SourceRange(29, 69)
    assert marks.source_range(scene, frame_start=11, animation_offset_start=7, frame_count=200, clip_name="c") \
        == marks.SourceRange(36, 76)
    with pytest.raises(marks.Refused, match="has 60"):
        marks.source_range(scene, frame_start=11, animation_offset_start=0, frame_count=60, clip_name="c")


def test_line_offset_is_exact_frames_or_seconds() -> None:
    scene = marks.SceneRange(40, 80, "preview range")
    offset = marks.line_offset_frames(scene, sound_frame_start=30, sound_animation_offset_start=0)
    assert offset == 10 and marks.audio_in_argument(offset, 0.0, marks.scene_rate(25, 1.0)) == "10"
    assert marks.line_offset_frames(scene, sound_frame_start=50, sound_animation_offset_start=0) == -10
    assert marks.audio_in_argument(10, 0.25, marks.scene_rate(25, 1.0)) == "0.650000s"


def test_rates() -> None:
    ntsc = marks.scene_rate(24, 1.001)
    assert ntsc.numerator == 24000 and ntsc.denominator == 1001
    marks.check_rates(ntsc, 23.976023976, "c")
    with pytest.raises(marks.Refused, match="25.000 fps in a 24.000 fps scene"):
        marks.check_rates(marks.scene_rate(24, 1.0), 25.0, "c")
    with pytest.raises(marks.Refused, match="between two frames"):
        marks.whole_frame(10.5, "strip")


def test_free_channel_skips_busy_locked_and_muted_channels() -> None:
    occupied = [(2, 21, 211), (3, 30, 300), (5, 1, 11)]
    assert marks.free_channel(occupied, above=2, start=40, stop=80) == 4
    assert marks.free_channel(occupied, above=4, start=40, stop=80) == 5
    assert marks.free_channel(occupied, above=2, start=40, stop=80, unusable=[4, 5]) == 6
    with pytest.raises(marks.Refused, match="no free channel"):
        marks.free_channel(occupied, above=2, start=40, stop=80, highest=3)


# -- Preview: the panel the add-on opens -------------------------------------------------------------


def test_the_preview_panel_opens_on_blenders_marks_and_slip(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What the add-on's Preview runs (`mytalk blender panel ... --in 29 --out 69 --audio-in 10`), without
    the event loop: the clip, the marks (out exclusive), the line slipped by 10 frames, the render folder."""
    from fractions import Fraction

    from mytalk.plugin.hosts.blender_panel import open_window

    video, line = media_path("video", "hdtf_wda_katiehill_512.mp4"), media_path("audio", "jfk_inaugural_en_16k.wav")
    window = open_window(video, line, 29, 69, "10", tmp_path / "renders", start_runtime=False)
    qtbot.addWidget(window)
    try:
        panel = window.panel
        assert panel.clip == video and panel.line == line
        assert panel.marked_range() == (29, 69)
        assert panel.audio_in == Fraction(10, 25)
        assert panel.render_folder == tmp_path / "renders"
    finally:
        window.panel.shutdown()


def test_the_preview_panel_takes_the_channels_picked_in_blenders_sidebar(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--guide-channels` and `--audio-channels` from the add-on's sidebar preselect the panel's two boxes (by
    number or by track name), so its preview hears what the add-on's Commit renders; a pick the file does not
    hold, or one a box cannot show, is said in the banner and leaves the box on its default."""
    from benchmarks.camera_take import write_camera_take
    from benchmarks.poly_wav import ixml_chunk, write_poly_wav
    from mytalk.plugin.hosts.blender_panel import open_window

    t = np.arange(48000) / 48000
    tones = np.stack([0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0, 440.0)])
    video = write_camera_take(media_path("video", "hdtf_wda_katiehill_512.mp4"), tones, 48000, ("MIX", "BOOM", "LAV"),
                              tmp_path / "camera.mov")
    line = write_poly_wav(tmp_path / "take.wav", tones, before={b"iXML": ixml_chunk(("MIX", "BOOM", "LAV"))})
    window = open_window(video, line, 0, 25, None, tmp_path / "renders", start_runtime=False,
                         line_channels="lav", guide_channels="2")
    qtbot.addWidget(window)
    try:
        panel = window.panel
        assert (panel.model.guide_channels, panel.model.line_channels) == ("2", "3")
        assert panel.guide_channels_box.currentText() == "Guide: Ch 2 BOOM"
        panel.settings.set_engines(["copy"])  # no runtime here to list them
        request = panel.build_request(kind="preview")
        assert (request.guide_channels, request.audio_channels) == ("2", "3")
    finally:
        panel.shutdown()
    # Every channel of a one-stream file, in order, is what no pick hears: the box's first choice.
    window = open_window(video, line, 0, 25, None, tmp_path / "renders", start_runtime=False,
                         line_channels="1-3", guide_channels="2")
    qtbot.addWidget(window)
    try:
        assert window.panel.model.line_channels is None and window.panel.banner.text == ""
    finally:
        window.panel.shutdown()
    # Other files (the panel remembers a file's last pick): nothing to fall back on but the default.
    import shutil

    video, line = Path(shutil.copy(video, tmp_path / "camera2.mov")), Path(shutil.copy(line, tmp_path / "take2.wav"))
    window = open_window(video, line, 0, 25, None, tmp_path / "renders", start_runtime=False,
                         line_channels="3,1", guide_channels="7")
    qtbot.addWidget(window)
    try:
        panel = window.panel
        assert (panel.model.guide_channels, panel.model.line_channels) == (None, None)
        shown = panel.banner.text
        assert "--guide-channels 7: there is no channel 7: camera2.mov has 3 channels (1 MIX, 2 BOOM, 3 LAV)" in shown
        assert "--audio-channels 3,1: the panel offers one channel, or a stereo stream's pair, of take2.wav" in shown
    finally:
        panel.shutdown()


def test_a_commits_faceless_frames_and_warnings_are_told_in_blenders_words() -> None:
    """What the command line prints after "wrote ..." goes to Blender's Info log, the remedies named as the
    add-on's fields (which take the same values) and preferences."""
    notes = _load_addon_module("notes")
    told = notes.result_notes({"output": "/r/a_v001.mkv", "faceless": [[318, 328], [331, 332]], "warnings": [
        "the clip's own sound has 4 channels (1 MIX L, 2 MIX R, 3 BOOM, 4 LAV B); the guide hears 1 MIX L; the "
        "line's words match channel 3 BOOM best (alignment cost 0.38, under the 0.6 a match needs): pick it with "
        "--guide-channels 3",
        "the replacement line has 4 channels; the mouth follows them all, mixed, and the render carries their "
        "stereo downmix: pick the channels to use with --audio-channels (numbers or track names, such as 3 or 1-2)",
        "the replacement line is silent over the whole range (audio-in 0s); the mouth will stay closed - check "
        "--audio-in if that is not intended",
        "the clip has an alpha channel (matte) and prores cannot carry it: the render is opaque; use --codec "
        "prores4444 (.mov) or ffv1 (.mkv) to keep it"]})
    assert told[0] == "11 frames without the actor's face passed through unchanged (source frames 318-327, 331)"
    assert told[1].endswith("pick it in Guide Channels 3")
    assert "pick the channels to use in Line Channels (numbers or track names" in told[2]
    assert "check the Line Offset if that is not intended" in told[3]
    assert told[4].endswith("pick ProRes 4444 or FFV1 as the Codec in MyTalk's preferences to keep it")
    assert not [note for note in told if "--" in note]
    assert notes.result_notes({"output": "/r/a_v001.mkv", "warnings": [], "faceless": []}) == []
    assert notes.result_notes({"output": "/r/a_v001.mkv"}) == []  # an older runtime's result
