"""The mytalk engine's parts with tiny random models on the CPU: noising, sampling, checkpoints, configs,
the log-mel, the crop geometry and the identity loss (the last on real landmarks of two clips)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import media_path
from mytalk.core.engines.mytalk.appearance import AppearanceGenerator
from mytalk.core.engines.mytalk.builders import (
    appearance_checkpoint_config,
    build_generator,
    motion_checkpoint_config,
)
from mytalk.core.engines.mytalk.checkpoint import load_state, prefixed, read_checkpoint, save_checkpoint
from mytalk.core.engines.mytalk.config import MotionModelConfig, config_hash, load_config
from mytalk.core.engines.mytalk.landmarks import (
    NUM_CONTENT,
    NUM_CONTEXT,
    NUM_POINTS,
    POINTS_INDEX,
    CropGeometry,
    canonical_points,
    content_mask,
    ellipse_mask,
)
from mytalk.core.engines.mytalk.losses import identity_loss, ms_ssim
from mytalk.core.engines.mytalk.motion import MotionModel
from mytalk.core.engines.mytalk.noising import partial_noise
from mytalk.core.engines.mytalk.pipeline import SpeechToLandmarkPipeline
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
from mytalk.core.engines.mytalk.seeding import seeded
from mytalk.core.errors import CheckpointError, ModelNotFoundError, UsageError


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """The CI machines are shared: one intra-op thread is faster than two fighting for a core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_motion(seed: int = 0) -> MotionModel:
    config = load_config("tiny").motion_model
    with seeded(seed):
        model = MotionModel(config)
        # A plausible normaliser and a non-zero output layer, so samples depend on the noise.
        torch.nn.init.normal_(model.denoiser.out.weight, std=0.05)
    model.shape_scale.fill_(0.05)
    return model.eval()


def _face(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Canonical-looking points (T, P, 2): a random mean face plus small motion."""
    base = rng.normal(0, 0.5, (NUM_POINTS, 2))
    return base + rng.normal(0, 0.02, (frames, NUM_POINTS, 2))


# --- partial noising ---------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [0, 500, 999])
def test_partial_noising_leaves_context_landmarks_bit_identical(step: int) -> None:
    scheduler = DDIMScheduler(load_config("tiny").scheduler)
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn((3, 16, NUM_POINTS, 2), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    xt = partial_noise(scheduler, x0, noise, torch.full((3,), step), torch.from_numpy(content_mask()))
    assert torch.equal(xt[:, :, NUM_CONTENT:], x0[:, :, NUM_CONTENT:])
    assert not torch.equal(xt[:, :, :NUM_CONTENT], x0[:, :, :NUM_CONTENT])
    a = scheduler.alphas_cumprod[step]
    expected = a.sqrt() * x0[:, :, :NUM_CONTENT] + (1 - a).sqrt() * noise[:, :, :NUM_CONTENT]
    assert torch.allclose(xt[:, :, :NUM_CONTENT], expected)


def test_content_is_mouth_and_jaw_and_context_the_rest() -> None:
    from mytalk.core.face.regions import JAW, LIPS, STABLE

    content = set(POINTS_INDEX[:NUM_CONTENT].tolist())
    assert content == set(LIPS) | set(JAW)
    assert set(STABLE) <= set(POINTS_INDEX[NUM_CONTENT:].tolist())
    assert NUM_CONTENT + NUM_CONTEXT == NUM_POINTS == len(set(POINTS_INDEX.tolist()))


# --- scheduler and sampling --------------------------------------------------------------------------


def test_ddim_with_a_perfect_x0_lands_on_it_and_allows_at_most_20_steps() -> None:
    scheduler = DDIMScheduler()
    steps = scheduler.set_timesteps(10)
    assert len(steps) == 10 and steps[0] == 999 and bool((steps[:-1] > steps[1:]).all())
    x0 = torch.randn(2, 5, 3)
    sample = torch.randn(2, 5, 3)
    for t in steps.tolist():
        sample = scheduler.step(x0, t, sample).prev_sample
    assert torch.allclose(sample, x0, atol=1e-5)
    model = _tiny_motion()
    pipe = SpeechToLandmarkPipeline(model, scheduler)
    with pytest.raises(ValueError, match="1..20"):
        pipe(np.zeros(16000, np.float32), fps=Fraction(25), context=np.zeros((4, NUM_CONTEXT, 2)),
             references=np.zeros((2, NUM_POINTS, 2)), num_inference_steps=21)


def _sample(model: MotionModel, seed: int, frames: int = 20, guidance: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(5)
    face = _face(frames, rng)
    audio = rng.normal(0, 0.1, int(frames / 25 * 16000)).astype(np.float32)
    pipe = SpeechToLandmarkPipeline(model, DDIMScheduler(load_config("tiny").scheduler))
    out = pipe(audio, fps=Fraction(25), context=face[:, NUM_CONTENT:], references=face[:6], num_inference_steps=6,
               guidance_scale=guidance, generator=torch.Generator().manual_seed(seed))
    assert out.landmarks.shape == (frames, NUM_POINTS, 2)
    assert np.array_equal(out.landmarks[:, NUM_CONTENT:], face[:, NUM_CONTENT:]), "context must come back untouched"
    return out.landmarks


def test_sampling_is_deterministic_for_a_seed() -> None:
    model = _tiny_motion()
    first, again, other = _sample(model, 7), _sample(model, 7), _sample(model, 8)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)
    guided = _sample(model, 7, guidance=2.0)
    assert np.array_equal(guided, _sample(model, 7, guidance=2.0)) and np.isfinite(guided).all()


def test_long_lines_are_sampled_in_overlapping_chunks() -> None:
    model = _tiny_motion()
    window = model.config.window
    landmarks = _sample(model, 3, frames=window * 3 + 5)
    assert np.isfinite(landmarks).all()
    steps = np.abs(np.diff(landmarks[:, :NUM_CONTENT], axis=0)).max()
    assert steps < 0.5, "chunks must be cross-faded, not cut"


# --- checkpoints -------------------------------------------------------------------------------------


def test_checkpoint_round_trips_and_records_its_config(tmp_path: Path) -> None:
    model = _tiny_motion(seed=4)
    cfg = load_config("tiny")
    ckpt_config = motion_checkpoint_config(cfg.motion_model, cfg.scheduler)
    path = save_checkpoint(tmp_path / "motion.safetensors", "motion", prefixed(model, ""), ckpt_config,
                           data_hash="abc123", step=17)
    tensors, info = read_checkpoint(path, "motion", ckpt_config)
    assert info.step == 17 and info.data_hash == "abc123" and info.config_hash == config_hash(ckpt_config)
    assert info.code_version.endswith("/mytalk-1.0")
    fresh = MotionModel(cfg.motion_model)
    load_state(fresh, tensors, path)
    for name, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[name]), name


def test_a_checkpoint_whose_header_length_ends_in_0x80_is_not_taken_for_a_pickle(tmp_path: Path) -> None:
    """A safetensors file starts with its header's length: when that ends in byte 0x80 (1 file in 256), the
    first byte looks like a pickle's protocol mark, and such a checkpoint was refused."""
    model = _tiny_motion(seed=4)
    cfg = load_config("tiny")
    ckpt_config = motion_checkpoint_config(cfg.motion_model, cfg.scheduler)
    for pad in range(256):  # the data hash is in the header: each character moves its length by one
        path = save_checkpoint(tmp_path / "motion.safetensors", "motion", prefixed(model, ""), ckpt_config,
                               data_hash="a" * pad, step=1)
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no header length ended in 0x80")
    _, info = read_checkpoint(path, "motion", ckpt_config)
    assert info.data_hash == "a" * pad


def test_checkpoint_with_another_config_is_refused(tmp_path: Path) -> None:
    cfg = load_config("tiny")
    ckpt_config = motion_checkpoint_config(cfg.motion_model, cfg.scheduler)
    path = save_checkpoint(tmp_path / "m.safetensors", "motion", prefixed(_tiny_motion(), ""), ckpt_config)
    other = motion_checkpoint_config(dataclasses.replace(cfg.motion_model, depth=3), cfg.scheduler)
    with pytest.raises(CheckpointError, match="depth: checkpoint 2, expected 3"):
        read_checkpoint(path, "motion", other)
    with pytest.raises(CheckpointError, match="'appearance' one is needed"):
        read_checkpoint(path, "appearance")
    bigger = MotionModel(dataclasses.replace(cfg.motion_model, dim=64))
    tensors, _ = read_checkpoint(path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_state(bigger, tensors, path)


def test_pickled_checkpoints_are_refused(tmp_path: Path) -> None:
    state = _tiny_motion().state_dict()
    pt = tmp_path / "motion.pt"
    torch.save(state, pt)
    with pytest.raises(CheckpointError, match="only from .safetensors"):
        read_checkpoint(pt)
    disguised = tmp_path / "motion.safetensors"
    torch.save(state, disguised)
    with pytest.raises(CheckpointError, match="pickle"):
        read_checkpoint(disguised)
    garbage = tmp_path / "junk.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all")
    with pytest.raises(CheckpointError):
        read_checkpoint(garbage)
    with pytest.raises(ModelNotFoundError):
        read_checkpoint(tmp_path / "missing.safetensors")


def test_an_edited_checkpoint_config_is_refused(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    cfg = load_config("tiny")
    path = save_checkpoint(tmp_path / "m.safetensors", "motion", prefixed(_tiny_motion(), ""),
                           motion_checkpoint_config(cfg.motion_model, cfg.scheduler))
    with safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata())
    meta["config"] = meta["config"].replace('"depth": 2', '"depth": 5')
    save_file(load_file(str(path)), str(path), metadata=meta)
    with pytest.raises(CheckpointError, match="config hash"):
        read_checkpoint(path)


# --- configs -----------------------------------------------------------------------------------------


def test_presets_load_and_toml_overrides_them(tmp_path: Path) -> None:
    tiny, small, base = (load_config(name) for name in ("tiny", "small", "base"))
    assert tiny.motion_model.dim < small.motion_model.dim < base.motion_model.dim
    assert small.appearance_model.image_size >= 128 and base.appearance_model.image_size >= 128
    assert all(c.sampling.steps <= 20 for c in (tiny, small, base))
    file = tmp_path / "mine.toml"
    file.write_text('preset = "tiny"\n[motion.model]\ndepth = 3\n[appearance.train]\nsteps = 7\n')
    mine = load_config(file)
    assert mine.motion_model.depth == 3 and mine.appearance_train.steps == 7
    assert mine.motion_model.dim == tiny.motion_model.dim


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[motion.model]\ndeepth = 3\n", "unknown key.*deepth"),
        ("[motion.modle]\ndepth = 3\n", r"unknown table.*motion\.modle"),
        ("[motion.model]\ndepth = 'three'\n", "expected an integer"),
        ("[appearance.model]\ncrop_box = [0, 1]\n", "list of 4 numbers"),
        ("preset = 'huge'\n", "unknown config preset"),
        ("[motion\n", "not valid TOML"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config(file)


# --- audio, geometry, appearance -------------------------------------------------------------------


def test_log_mel_from_torch_stft_matches_the_reference_features() -> None:
    from mytalk.core.audio.features import log_mel
    from mytalk.core.engines.mytalk.audio_encoder import LogMel

    rng = np.random.default_rng(0)
    audio = (rng.normal(0, 0.1, 24_000) * np.sin(np.linspace(0, 40, 24_000))).astype(np.float32)
    ours = LogMel(16_000)(torch.from_numpy(audio))[0].numpy()
    reference = log_mel(audio, 16_000)
    assert ours.shape == reference.shape == (24_000 // 200 + 1, 80)
    assert np.abs(ours - reference).max() < 1e-4


def test_crop_geometry_maps_frame_pixels_and_canonical_points_alike() -> None:
    rng = np.random.default_rng(2)
    geometry = CropGeometry((-0.85, 0.15, 0.85, 1.85), 64)
    angle, scale = 0.2, 180.0
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    transform = np.concatenate([rot, np.array([[-1.3], [0.4]])], axis=1)  # tracker px → canonical
    pixels = rng.uniform(100, 400, (10, 2))  # tracker pixels (centres at +0.5)
    canonical = pixels @ transform[:, :2].T + transform[:, 2]
    via_frame = (pixels - 0.5) @ geometry.frame_to_crop(transform)[:, :2].T + geometry.frame_to_crop(transform)[:, 2]
    assert np.allclose(via_frame, geometry.to_crop(canonical))
    mask = ellipse_mask(geometry, (0.0, 1.16), (0.62, 0.6), 0.06)
    assert mask[int(geometry.to_crop(np.array([0.0, 1.16]))[1]), 32] == 1.0 and mask[0, 0] == 0.0


def test_generator_output_is_the_input_exactly_outside_its_mask() -> None:
    cfg = load_config("tiny").appearance_model
    with seeded(0):
        generator = AppearanceGenerator(cfg.image_size, cfg.channels, cfg.levels, cfg.res_blocks, cfg.num_refs,
                                        cfg.detail_channels).eval()
    s, k = cfg.image_size, cfg.num_refs
    geometry = CropGeometry(cfg.crop_box, s)
    mask = torch.from_numpy(ellipse_mask(geometry, cfg.mask_center, cfg.mask_radii, cfg.mask_feather))[None, None]
    frame = torch.rand(2, 3, s, s)
    with torch.no_grad():
        out = generator(frame * (1 - mask), mask, torch.rand(2, 3, s, s), torch.rand(2, k, 3, s, s),
                        torch.rand(2, k, 3, s, s))
    assert out.shape == (2, 3, s, s) and float(out.min()) >= 0 and float(out.max()) <= 1
    outside = (mask == 0).expand_as(out)
    assert torch.equal(out[outside], frame[outside])


def test_ms_ssim_under_bf16_autocast_is_the_float32_value() -> None:
    """Training runs the losses inside bf16 autocast on CUDA, which runs convolutions (SSIM's blurs) in
    bf16: the variances E[x²] − E[x]² then cancel and the loss was -inf or garbage, which made the base
    preset diverge. The CPU's bf16 autocast runs the same convolutions in bf16, so it shows it here."""
    g = torch.Generator().manual_seed(4)
    target = torch.rand(4, 3, 128, 128, generator=g)
    fake = (target + 0.05 * torch.randn(4, 3, 128, 128, generator=g)).clamp(0, 1).requires_grad_(True)
    plain = ms_ssim(fake, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = ms_ssim(fake, target)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
    assert torch.allclose(mixed, plain, atol=1e-6)
    (1 - mixed).mean().backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all()


def test_fusion_norm_is_the_base_presets_and_older_checkpoints_keep_their_networks_and_config(tmp_path: Path) -> None:
    """`fusion_norm` adds group norms to the merged features of the base preset only; a generator without it
    has exactly the weights and checkpoint config it had before the option existed, so old checkpoints
    load and resume as they did."""
    from mytalk.core.engines.mytalk.models import load_generator

    assert load_config("base").appearance_model.fusion_norm is True
    tiny = load_config("tiny").appearance_model
    assert tiny.fusion_norm is False
    assert "fusion_norm" not in appearance_checkpoint_config(tiny)["model"]
    plain = build_generator(tiny).state_dict()
    assert not [k for k in plain if "norm" in k]
    normed_cfg = dataclasses.replace(tiny, fusion_norm=True)
    assert appearance_checkpoint_config(normed_cfg)["model"]["fusion_norm"] is True
    with seeded(0):
        normed = build_generator(normed_cfg)
    added = sorted(set(normed.state_dict()) - set(plain))
    assert added == ["bottleneck.3.bias", "bottleneck.3.weight", "fusion.norm.bias", "fusion.norm.weight",
                     "fusion_mid.norm.bias", "fusion_mid.norm.weight"], added
    # A checkpoint of the normed networks is loaded as normed networks, weights and all.
    path = tmp_path / "appearance.safetensors"
    save_checkpoint(path, "appearance", prefixed(normed, "gen."), appearance_checkpoint_config(normed_cfg))
    loaded, cfg, _ = load_generator(path)
    assert cfg.fusion_norm and all(torch.equal(v, normed.state_dict()[k]) for k, v in loaded.state_dict().items())


def _bottleneck_output(generator: AppearanceGenerator, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    hook = generator.bottleneck.register_forward_hook(lambda module, args, out: seen.append(out))
    generator(*inputs)
    hook.remove()
    return seen[0]


def test_fusion_norm_stops_growth_of_the_merged_features_at_the_bottleneck() -> None:
    """What diverged in bf16 at the base width: the fused features grew (0.2 → 17 → 784) and the bottleneck
    and decoder multiplied them. With `fusion_norm` the bottleneck's output keeps its scale however far
    the FusionNet's weights have grown."""
    cfg = load_config("tiny").appearance_model
    s, k = cfg.image_size, cfg.num_refs
    inputs = (torch.rand(2, 3, s, s), torch.ones(1, 1, s, s), torch.rand(2, 3, s, s), torch.rand(2, k, 3, s, s),
              torch.rand(2, k, 3, s, s))
    spread = {}
    for norm in (False, True):
        with seeded(0):
            generator = build_generator(dataclasses.replace(cfg, fusion_norm=norm)).eval()
        with torch.no_grad():
            before = float(_bottleneck_output(generator, inputs).std())
            for conv in generator.fusion.modules():
                if isinstance(conv, torch.nn.Conv2d):
                    conv.weight.mul_(20.0)  # the fused features grown, as in the diverging run
            spread[norm] = float(_bottleneck_output(generator, inputs).std()) / before
    assert spread[False] > 20.0, spread
    assert 0.5 < spread[True] < 2.0, spread


def test_ms_ssim_is_one_for_identical_images_and_lower_for_noise() -> None:
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-5)
    assert float(ms_ssim(x, (x + 0.3 * torch.randn_like(x)).clamp(0, 1)).max()) < 0.9


# --- identity loss on real faces ----------------------------------------------------------------------


def _clip_points(name: str, frames: int) -> np.ndarray:
    from mytalk.core.face.video_tracking import track_video

    observations = track_video(media_path("video", name), 0, frames)
    lm = np.stack([o.landmarks for o in observations if o.found]).astype(np.float64)
    return canonical_points(lm)[0]


@pytest.mark.media
def test_identity_loss_is_zero_for_the_same_landmarks_and_rises_for_another_face() -> None:
    bob = _clip_points("hdtf_wda_bobmenendez_512.mp4", 40)
    other = _clip_points("retalking_face2_swalwell.mp4", 40)
    model = _tiny_motion(seed=0)
    model.fit_normaliser(np.concatenate([bob, other]))

    def loss(a: np.ndarray, b: np.ndarray) -> float:
        ta = model.normalise(torch.from_numpy(a.astype(np.float32)))[None]
        tb = model.normalise(torch.from_numpy(b.astype(np.float32)))[None]
        return float(identity_loss(model.id_extractor, ta, tb))

    same = loss(bob[:20], bob[:20])
    same_person = loss(bob[:20], bob[20:40])
    another = loss(bob[:20], other[:20])
    assert abs(same) < 1e-5
    assert another > 1e-3
    assert another > 3 * same_person, f"another face {another:.4g} vs same face, other frames {same_person:.4g}"


def test_config_hash_is_stable_and_sensitive() -> None:
    a = MotionModelConfig()
    assert config_hash(a) == config_hash(MotionModelConfig())
    assert config_hash(a) != config_hash(dataclasses.replace(a, dim=a.dim + 8))


@pytest.mark.media
def test_reference_lips_can_come_from_a_classic_actor_profile() -> None:
    from mytalk.core.engines.base import ReferenceRange
    from mytalk.core.engines.classic.profile_builder import build_profile
    from mytalk.core.engines.mytalk.dataset import extract_clip
    from mytalk.core.engines.mytalk.references import ReferenceBank

    clip = media_path("video", "hdtf_wda_bobmenendez_512.mp4")
    profile = build_profile([ReferenceRange(clip, 0, 30)])
    geometry = CropGeometry((-0.85, 0.15, 0.85, 1.85), 64)
    index = profile.appearance
    bank = ReferenceBank.from_classic_index(index, geometry, limit=len(index))
    assert len(bank) >= 1 and bank.crops.shape[1:] == (64, 64, 3) and np.isfinite(bank.points).all()
    # The same frames cut by this engine directly: the re-aligned classic crops must match them around
    # the lips (beyond, the classic crops stop 0.3 IOD around the lower face and are edge-replicated).
    own = extract_clip(clip, 0, 30, geometry, with_audio=False)
    match = [int(np.flatnonzero((np.abs(own.points - p) < 1e-4).all(axis=(1, 2)))[0]) for p in bank.points]
    mouth = ellipse_mask(geometry, (0.0, 0.95), (0.4, 0.25), 0.0) > 0.5
    diff = np.abs(bank.crops.astype(np.float32) - own.crops[match].astype(np.float32))[:, mouth].mean()
    assert diff < 3, f"classic crops are misaligned by {diff:.1f} levels on average"
    assert (bank.retrieve(bank.points, 2)[:, 0] == np.arange(len(bank))).all()


@pytest.mark.media
def test_a_clip_extracted_with_phones_gets_its_phone_track() -> None:
    """`dataset build --phones` times each clip's phones; the progress callback once went in as the phone
    timer and the extraction failed."""
    from mytalk.core.engines.mytalk.dataset import extract_clip

    stages: list[str] = []
    clip = extract_clip(media_path("video", "hdtf_wda_bobmenendez_512.mp4"), 0, 50,
                        CropGeometry((-0.85, 0.15, 0.85, 1.85), 64), phones=True,
                        progress=lambda done, total, stage: stages.append(stage))
    assert clip.phones is not None and clip.phones.summary["path"] != "none" and len(clip.phones.phones) > 0
    assert stages, "the extraction reported no progress"

