"""The motion model's phone input (`motion.model phone_features = "visemes"`): the switch, the checkpoints
with and without it, and, on 2 s of a real clip with the tiny config, that a phone-fed model trains,
saves, reloads, and that its output depends on the phones it is given."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_helpers import run_mytalk
from conftest import media_path
from mytalk.core.audio.phonemes import VISEMES, Phone
from mytalk.core.engines.mytalk.builders import motion_checkpoint_config
from mytalk.core.engines.mytalk.checkpoint import prefixed, read_checkpoint, save_checkpoint
from mytalk.core.engines.mytalk.config import MyTalkConfig, config_hash, load_config, validate
from mytalk.core.engines.mytalk.dataset import Dataset, build_dataset
from mytalk.core.engines.mytalk.landmarks import NUM_CONTENT
from mytalk.core.engines.mytalk.models import load_motion
from mytalk.core.engines.mytalk.motion import NUM_VISEMES, MotionModel
from mytalk.core.engines.mytalk.phones import LinePhones, frame_visemes, phones_from_json, track_json
from mytalk.core.engines.mytalk.pipeline import SpeechToLandmarkPipeline
from mytalk.core.engines.mytalk.seeding import seeded
from mytalk.core.engines.mytalk.train import train_appearance, train_motion
from mytalk.core.errors import CheckpointError, UsageError

BOB = "hdtf_wda_bobmenendez_512.mp4"
STEPS = 200


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _phone_config(tmp_path: Path) -> MyTalkConfig:
    toml = tmp_path / "phones.toml"
    toml.write_text('preset = "tiny"\n[motion.model]\nphone_features = "visemes"\n')
    return validate(load_config(toml))


# --- the switch and the checkpoints (no media) ---------------------------------------------------


def test_the_switch_is_a_model_key_that_old_checkpoints_do_not_need(tmp_path: Path) -> None:
    plain = load_config("tiny")
    phoned = _phone_config(tmp_path)
    assert plain.motion_model.phone_features == "none" and phoned.motion_model.phone_features == "visemes"
    assert NUM_VISEMES == len(VISEMES)
    # Without phones the stored config is exactly what it was before the key existed: same hash.
    legacy = {k: v for k, v in dataclasses.asdict(plain.motion_model).items() if k != "phone_features"}
    assert plain.motion_model.stored_dict() == legacy
    assert config_hash(motion_checkpoint_config(plain.motion_model, plain.scheduler)) == \
        config_hash({"model": legacy, "scheduler": dataclasses.asdict(plain.scheduler)})
    with_phones = motion_checkpoint_config(phoned.motion_model, phoned.scheduler)
    assert with_phones["model"]["phone_features"] == "visemes"
    bad = tmp_path / "bad.toml"
    bad.write_text('preset = "tiny"\n[motion.model]\nphone_features = "phonemes"\n')
    with pytest.raises(UsageError, match="phone_features 'phonemes'"):
        validate(load_config(bad))


def test_a_checkpoint_without_the_switch_still_loads(tmp_path: Path) -> None:
    plain = load_config("tiny")
    legacy = {"model": {k: v for k, v in dataclasses.asdict(plain.motion_model).items() if k != "phone_features"},
              "scheduler": dataclasses.asdict(plain.scheduler)}
    with seeded(0):
        model = MotionModel(plain.motion_model)
    path = save_checkpoint(tmp_path / "motion.safetensors", "motion", prefixed(model, ""), legacy)
    loaded, _, _, info = load_motion(path)
    assert loaded.config.phone_features == "none" and not loaded.uses_phones
    assert "phone_features" not in info.config["model"]
    # What training expects of a plain model (resume, fine-tune) is the legacy config, hash and all.
    read_checkpoint(path, "motion", motion_checkpoint_config(plain.motion_model, plain.scheduler))
    phoned = load_config("tiny")
    phoned = dataclasses.replace(phoned, motion_model=dataclasses.replace(phoned.motion_model, phone_features="visemes"))
    with pytest.raises(CheckpointError, match="phone_features: checkpoint '<missing>', expected 'visemes'"):
        read_checkpoint(path, "motion", motion_checkpoint_config(phoned.motion_model, phoned.scheduler))
    with pytest.raises(ValueError, match="no phone input"):
        loaded.encode_audio(torch.zeros(1, 20, 80), torch.zeros(1, 4, 4), visemes=torch.zeros(1, 4, NUM_VISEMES))


def test_a_phone_model_adds_the_phones_to_the_audio_tokens(tmp_path: Path) -> None:
    """Same seed: the same weights as the audio model plus the embedding; unknown phones (zeros) add nothing."""
    plain, phoned = load_config("tiny").motion_model, _phone_config(tmp_path).motion_model
    with seeded(3):
        a = MotionModel(plain)
    with seeded(3):
        b = MotionModel(phoned)
    assert b.uses_phones and set(b.state_dict()) - set(a.state_dict()) == {"phone_embed.weight", "phone_embed.bias"}
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
    rng = np.random.default_rng(0)
    mel, pos = torch.from_numpy(rng.normal(size=(2, 40, 80)).astype(np.float32)), torch.rand(2, 6, 4) * 30
    visemes = torch.from_numpy(rng.dirichlet(np.ones(NUM_VISEMES), size=(2, 6)).astype(np.float32))
    with torch.no_grad():
        audio_only = a.encode_audio(mel, pos)
        assert torch.equal(audio_only, b.encode_audio(mel, pos))
        assert torch.equal(audio_only, b.encode_audio(mel, pos, visemes=torch.zeros_like(visemes)))
        assert not torch.allclose(audio_only, b.encode_audio(mel, pos, visemes=visemes))


def test_phone_tracks_become_frame_visemes_and_round_trip() -> None:
    fps = Fraction(25)
    phones = LinePhones((Phone("SIL", 0.0, 0.1), Phone("M", 0.1, 0.2, "me"), Phone("IY", 0.2, 0.4, "me")),
                        {"path": "transcript", "confidence": 0.9})
    cover = frame_visemes(phones, fps, 12)
    assert cover.shape == (12, NUM_VISEMES) and np.allclose(cover.sum(axis=1), 1.0)
    assert cover[3, VISEMES.index("closed")] == pytest.approx(1.0)  # frame 3 is [0.12, 0.16) s: inside the M
    assert cover[7, VISEMES.index("spread")] == pytest.approx(1.0)
    # Unusable phones are "unknown" (zeros), not "rest": silence would be a claim about the mouth.
    assert not frame_visemes(LinePhones((), {"path": "none"}), fps, 12).any()
    assert not frame_visemes(None, fps, 12).any()
    again = phones_from_json(track_json(phones))
    assert again.phones == phones.phones and again.summary["path"] == "transcript"


# --- a phone-fed model on a real clip -------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2 s of a real clip built without phones, then a tiny phone-fed model trained on it (which times them),
    installed as the `base` model of a user folder with a barely trained appearance stage."""
    clip = media_path("video", BOB)
    root = tmp_path_factory.mktemp("neural_phones")
    config = _phone_config(root)
    home = root / "home"
    folder = home / "data" / "models" / "base"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(home))
        build_dataset([f"{clip}:0-50"], root / "data", crop_size=32)
        before = json.loads((root / "data" / "manifest.json").read_text())
        result = train_motion(Dataset(root / "data"), config, folder, steps=STEPS, device="cpu")
        train_appearance(Dataset(root / "data"), config, folder, steps=20, device="cpu")
    (root / "result.json").write_text(json.dumps({"first": result.first_eval, "last": result.last_eval,
                                                  "hash_before": before["data_hash"]}))
    return {"root": root, "home": home, "data": root / "data", "weights": result.weights,
            "result": root / "result.json"}


@pytest.mark.media
def test_a_phone_model_trains_saves_and_reloads(trained: dict[str, Path]) -> None:
    result = json.loads(trained["result"].read_text())
    print("phone model probe losses", result["first"], "->", result["last"])
    for name in ("reconstruction", "velocity"):
        ratio = result["first"][name] / max(result["last"][name], 1e-12)
        assert ratio >= 10, f"{name} fell only {ratio:.1f}x"
    # Training timed the clip's phones from its own sound and stored them with the shard.
    data = Dataset(trained["data"])
    entry = data.manifest["videos"][0]
    assert entry["phones"]["count"] > 5, entry["phones"]
    assert data.data_hash != result["hash_before"], "the phones are part of the data the model was trained on"
    clip = data.clip(0)
    assert clip.phones is not None and clip.phones.usable
    assert all(0 <= p.start_s < p.end_s <= 2.1 for p in clip.phones.phones)
    # The weights carry the switch in their config, and load into a phone-fed model.
    model, _, _, info = load_motion(trained["weights"])
    assert info.config["model"]["phone_features"] == "visemes" and model.uses_phones
    assert model.phone_embed is not None and float(model.phone_embed.weight.detach().abs().sum()) > 0


@pytest.mark.media
def test_the_phones_change_what_the_model_says(trained: dict[str, Path]) -> None:
    """Same audio, same seed, same face: other phones give another mouth. Fails if the input were ignored."""
    from mytalk.core.engines.mytalk.dataset import clip_audio

    model, scheduler, sampling, _ = load_motion(trained["weights"])
    clip = Dataset(trained["data"]).clip(0)
    audio = clip_audio(media_path("video", BOB), 0, clip.num_frames, clip.fps)
    assert audio is not None
    pipeline = SpeechToLandmarkPipeline(model, scheduler)
    own = frame_visemes(clip.phones, clip.fps, clip.num_frames)

    def mouth(visemes: np.ndarray | None) -> np.ndarray:
        out = pipeline(audio.samples[0], fps=clip.fps, context=clip.points[:, NUM_CONTENT:], references=clip.points,
                       num_inference_steps=sampling.steps, generator=torch.Generator().manual_seed(0),
                       visemes=visemes)
        return out.landmarks[:, :NUM_CONTENT]

    with_own = mouth(own)
    assert np.array_equal(with_own, mouth(own)), "seeded: the same phones give the same mouth"
    shut = np.zeros_like(own)
    shut[:, VISEMES.index("closed")] = 1.0
    motion = float(np.nanstd(clip.points[:, :NUM_CONTENT], axis=0).mean())
    # Ignored phones would give bit-identical mouths; 2 s of footage can be memorised from the audio
    # alone, so the tiny model leans on the phones only a little (about 2.5 % of the mouth's motion).
    for other in (shut, np.zeros_like(own)):
        change = float(np.abs(mouth(other) - with_own).mean())
        print(f"phones changed the mouth by {change:.3g} (motion {motion:.3g})")
        assert change > 0.01 * motion, f"the phones barely matter: {change:.2g} vs motion {motion:.2g}"


@pytest.mark.media
def test_sync_feeds_the_line_phones_and_reports_them(trained: dict[str, Path], tmp_path: Path) -> None:
    env = {"MYTALK_HOME": str(trained["home"]), "OMP_NUM_THREADS": "1"}
    out, report_path = tmp_path / "out.mkv", tmp_path / "out.json"
    result = run_mytalk("sync", media_path("video", BOB), "--audio", media_path("audio", "jfk_inaugural_en_16k.wav"),
                        "-o", out, "--in", "100", "--out", "150", "--engine", "mytalk", "--codec", "ffv1",
                        "--transcript", "and so my fellow americans", "--report", report_path, "--quiet", env=env)
    assert result.code == 0, result.stderr[-2000:]
    engine = json.loads(report_path.read_text())["engine_report"]
    phones = engine["phones"]
    assert phones["path"] in ("transcript", "words", "phone-loop"), phones
    assert phones["phones"] and all(len(p) == 4 for p in phones["phones"])
    assert "transcript" not in engine["ignored_settings"], "a phone-fed model uses the transcript"
