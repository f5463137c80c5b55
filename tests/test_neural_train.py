"""Training the mytalk engine on a short real clip with the tiny config: each loss of each stage falls at
least tenfold when overfitting, runs log and plot, resume continues, and the dataset build resumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import media_path
from mytalk.core.engines.mytalk.checkpoint import read_checkpoint
from mytalk.core.engines.mytalk.config import load_config
from mytalk.core.engines.mytalk.dataset import Dataset, build_dataset
from mytalk.core.engines.mytalk.train import train_appearance, train_motion
from mytalk.core.errors import JobCancelledError, UsageError

pytestmark = pytest.mark.media

BOB = "hdtf_wda_bobmenendez_512.mp4"
MOTION_STEPS = 200
APPEARANCE_STEPS = 500


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2 s (motion) and 0.5 s (appearance) of a 512 px HDTF clip, built once for the module."""
    clip = media_path("video", BOB)
    root = tmp_path_factory.mktemp("neural_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(root / "home"))
        build_dataset([f"{clip}:0-50"], root / "two_seconds", crop_size=64)
        build_dataset([f"{clip}:0-12"], root / "half_second", crop_size=64)
    return {"motion": root / "two_seconds", "appearance": root / "half_second"}


def _ratios(first: dict[str, float], last: dict[str, float]) -> dict[str, float]:
    return {name: first[name] / max(last[name], 1e-12) for name in first}


def test_motion_overfits_a_short_clip(datasets: dict[str, Path], tmp_path: Path) -> None:
    config = load_config("tiny")
    result = train_motion(Dataset(datasets["motion"]), config, tmp_path, steps=MOTION_STEPS, device="cpu")
    ratios = _ratios(result.first_eval, result.last_eval)
    print("motion probe losses", result.first_eval, "->", result.last_eval)
    assert set(ratios) == {"reconstruction", "velocity", "identity"}
    for name, ratio in ratios.items():
        assert ratio >= 10, f"{name} fell only {ratio:.1f}x ({result.first_eval[name]:.4g} -> {result.last_eval[name]:.4g})"
    assert (result.run_dir / "loss.png").stat().st_size > 1000
    records = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "train" for r in records) and records[-1]["kind"] == "eval"
    _, info = read_checkpoint(result.weights, "motion")
    assert info.step == MOTION_STEPS and info.data_hash == Dataset(datasets["motion"]).data_hash


def test_appearance_overfits_a_short_clip(datasets: dict[str, Path], tmp_path: Path) -> None:
    config = load_config("tiny")
    result = train_appearance(Dataset(datasets["appearance"]), config, tmp_path, steps=APPEARANCE_STEPS, device="cpu")
    ratios = _ratios(result.first_eval, result.last_eval)
    print("appearance probe losses", result.first_eval, "->", result.last_eval)
    assert set(ratios) == {"l1", "ssim", "gradient"}
    for name, ratio in ratios.items():
        assert ratio >= 10, f"{name} fell only {ratio:.1f}x ({result.first_eval[name]:.4g} -> {result.last_eval[name]:.4g})"
    records = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    assert any("adversarial" in r.get("losses", {}) for r in records if r["kind"] == "train"), \
        "the patch adversarial loss never ran"
    assert (result.run_dir / "loss.png").is_file()


def test_training_resumes_where_it_stopped(datasets: dict[str, Path], tmp_path: Path) -> None:
    config = load_config("tiny")
    data = Dataset(datasets["motion"])
    calls = {"n": 0}

    def cancel_after_ten() -> bool:
        calls["n"] += 1
        return calls["n"] > 10

    with pytest.raises(JobCancelledError, match="--resume"):
        train_motion(data, config, tmp_path, steps=20, device="cpu", is_cancelled=cancel_after_ten)
    _, state = read_checkpoint(tmp_path / "runs" / "motion" / "state.safetensors", "motion-state")
    assert state.step == 10
    with pytest.raises(UsageError, match="--resume"):
        train_motion(data, config, tmp_path, steps=20, device="cpu")
    resumed = train_motion(data, config, tmp_path, steps=20, device="cpu", resume=True)
    assert resumed.steps == 20
    uninterrupted = train_motion(data, config, tmp_path / "straight", steps=20, device="cpu")
    # Per-step randomness is seeded by (seed, step): the resumed run ends where a straight one does.
    for name, value in uninterrupted.last_eval.items():
        assert resumed.last_eval[name] == pytest.approx(value, rel=1e-3), name


def test_dataset_build_skips_finished_videos(datasets: dict[str, Path]) -> None:
    clip = media_path("video", BOB)
    manifest = json.loads((datasets["motion"] / "manifest.json").read_text())
    assert manifest["videos"][0]["frames"] == 50 and manifest["videos"][0]["has_audio"]
    again = build_dataset([f"{clip}:0-50"], datasets["motion"], crop_size=64)
    assert again.built == [] and again.skipped == [str(clip)]
    with pytest.raises(UsageError, match="crop-size"):
        build_dataset([f"{clip}:0-50"], datasets["motion"], crop_size=96)
    data = Dataset(datasets["motion"])
    shard = data.clip(0)
    assert shard.points.shape == (50, 100, 2) and shard.crops.shape == (50, 64, 64, 3)
    assert shard.mel.shape[1] == 80 and abs(shard.mel.shape[0] - 2 * 80) <= 1


def test_a_diverging_run_stops_before_it_saves_anything_of_it(datasets: dict[str, Path], tmp_path: Path) -> None:
    """A learning rate far too high makes the loss blow up; the run stops at the next check and keeps the
    last good checkpoint instead of training on (and saving) NaN weights."""
    import dataclasses

    from mytalk.core.engines.mytalk.checkpoint import read_checkpoint

    config = load_config("tiny")
    fine = dataclasses.replace(config.motion_train, checkpoint_every=10, log_every=10, warmup=1)
    train_motion(Dataset(datasets["motion"]), dataclasses.replace(config, motion_train=fine), tmp_path, steps=10,
                 device="cpu")
    wild = dataclasses.replace(fine, lr=1e9)
    with pytest.raises(UsageError, match=r"diverged: the loss is .* at step \d+; the weights and state of step 10 are kept"):
        train_motion(Dataset(datasets["motion"]), dataclasses.replace(config, motion_train=wild), tmp_path, steps=200,
                     device="cpu", resume=True)
    tensors, info = read_checkpoint(tmp_path / "motion.safetensors", "motion")
    assert info.step == 10 and all(bool(torch.isfinite(t).all()) for t in tensors.values())
