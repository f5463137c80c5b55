"""Configurations of both stages, loaded from TOML, with the presets "tiny", "small" and "base".

A model's configuration is the constructor arguments of its networks: it is saved next to the
weights (see `checkpoint`) together with a hash, so weights are never loaded into a network of
another shape or meaning. Training settings (steps, learning rates, loss weights) are part of the
same file but not of the model hash: fine-tuning a model with other training settings is fine,
loading it into another architecture is not.

A TOML file may start from a preset and override single keys; unknown keys are errors that name
the key and the allowed ones, so a typo never trains the wrong model silently:

    preset = "small"

    [motion.model]
    depth = 3

    [appearance.train]
    steps = 4000

Presets: "tiny" is for the CPU tests (seconds per run), "small" for per-actor fine-tuning and the
CPU comparison (minutes), "base" for a GPU (hours, a dataset of many speakers).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from mytalk.core.errors import UsageError

PRESETS: tuple[str, ...] = ("tiny", "small", "base")


@dataclass(frozen=True)
class MotionModelConfig:
    """Stage 1 networks (audio encoder, ID extractor, Conformer denoiser).

    window: frames per training window and per inference chunk (the denoiser sees this many
        frames at once; longer lines are cut into overlapping chunks of this length).
    dim: token width of the denoiser, the audio encoder and the identity tokens.
    depth: Conformer blocks. heads: attention heads. ff_mult: feed-forward width ÷ dim.
    conv_kernel: depthwise convolution kernel of the Conformer (frames).
    audio_layers, audio_kernel: 1-D convolutions of the audio encoder over 80 Hz mel frames.
    audio_subsamples: mel samples averaged per video frame (over the frame's display interval).
    audio_margin_s: seconds of audio before and after a window the encoder may see.
    audio_radius: a frame cross-attends to the audio tokens of frames within this many frames.
    id_hidden: width of the ID extractor's per-frame MLP. id_dim: identity embedding size.
    id_tokens: identity tokens each frame cross-attends to. num_refs: reference frames encoded.
    dropout: dropout inside the Conformer.
    sample_rate: audio rate the encoder expects (Hz). n_mels: mel bands (80, as IP_LAP).
    phone_features: "none" (speech enters as audio only) or "visemes": the line's phone track
        (forced alignment of a transcript, else recognition) also enters, as each video frame's
        viseme coverage (T, 11) added to its audio token (see `MotionModel.encode_audio`).
        Saved with the weights like every other key, but left out of the stored config while it
        is "none", so checkpoints made before the key existed keep their hash (`stored_dict`).
    """

    window: int = 32
    dim: int = 64
    depth: int = 2
    heads: int = 4
    ff_mult: int = 2
    conv_kernel: int = 7
    audio_layers: int = 2
    audio_kernel: int = 5
    audio_subsamples: int = 4
    audio_margin_s: float = 0.4
    audio_radius: int = 4
    id_hidden: int = 64
    id_dim: int = 64
    id_tokens: int = 2
    num_refs: int = 16
    dropout: float = 0.0
    sample_rate: int = 16_000
    n_mels: int = 80
    phone_features: str = "none"

    def stored_dict(self) -> dict[str, Any]:
        """What a checkpoint stores and hashes: `asdict` without keys still at their "absent" value.

        Keys added after checkpoints were first written (`ADDED_KEYS`) are omitted while they hold the
        value that means "not used", so an older checkpoint and a new one of the same network have the
        same config and hash, and each loads where the other would.
        """
        return {k: v for k, v in asdict(self).items() if ADDED_KEYS.get(k, _UNSET) != v}


_UNSET = object()
ADDED_KEYS: dict[str, Any] = {"phone_features": "none"}
"""Motion model keys newer than the first checkpoints, with the value that means "not used"."""

PHONE_FEATURES: tuple[str, ...] = ("none", "visemes")


@dataclass(frozen=True)
class SchedulerConfig:
    """Diffusion noise schedule: `num_train_timesteps` steps of a "cosine" or "linear" beta schedule."""

    num_train_timesteps: int = 1000
    beta_schedule: str = "cosine"
    beta_start: float = 1e-4
    beta_end: float = 0.02


@dataclass(frozen=True)
class SamplingConfig:
    """Inference defaults: DDIM steps (at most 20), audio guidance scale (1 = none), DDIM eta, seed."""

    steps: int = 10
    guidance_scale: float = 1.0
    eta: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class MotionTrainConfig:
    """Stage 1 training.

    steps, batch_size (windows), lr (AdamW), weight_decay, warmup (steps of linear LR warm-up),
    grad_clip (max grad norm), loss weights (reconstruction, velocity, identity), audio_dropout
    (share of windows trained without audio, for classifier-free guidance), phone_dropout (share
    of windows of a phone-fed model trained with the phone input zeroed, as when a line's phone
    track is missing or unusable: the model must still speak from the audio alone), log_every,
    eval_every, checkpoint_every (steps), seed, eval_windows (windows in the fixed probe batch),
    grad_accum (micro-batches per step: batch_size stays the windows of one optimizer step, summed
    over the ranks of a distributed run and its micro-batches, so it must divide by both).
    """

    steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    grad_clip: float = 1.0
    w_reconstruction: float = 1.0
    w_velocity: float = 1.0
    w_identity: float = 0.1
    audio_dropout: float = 0.1
    phone_dropout: float = 0.1
    log_every: int = 10
    eval_every: int = 200
    checkpoint_every: int = 500
    seed: int = 0
    eval_windows: int = 8
    grad_accum: int = 1


@dataclass(frozen=True)
class AppearanceModelConfig:
    """Stage 2 networks (generator and patch discriminator) and the aligned crop they work on.

    image_size: side of the generated mouth-region crop (px; at least 128 for real use).
    crop_box: (x0, y0, x1, y1) of the crop in canonical face units (inter-ocular distance = 1,
        origin between the outer eye corners, y down): the lower face from under the eyes to
        below the chin.
    mask_center, mask_radii: the ellipse (canonical units) that is blacked out for the non-lip
        encoder and generated; mask_feather: its soft edge (canonical units).
    channels: base width; levels: stride-2 stages of the encoders (bottleneck at
        image_size / 2**levels); res_blocks: residual blocks of the FusionNet and the decoder;
        detail_channels: width of the decoder's full-size stage (renders the fine detail).
    num_refs: K, reference lip crops per frame. disc_channels, disc_layers: PatchGAN width, depth.
    fusion_norm: group-normalise the FusionNets' and the bottleneck's outputs. Nothing else in the
        generator is normalised, and at the `base` width, under bf16 autocast at lr 2e-4, the fused
        features grew until the decoder blew up (loss 1e3 by step 84-117 of a CPU run; 1e12 at step 80
        on an H200). With it the same run trains on. Off by default so that checkpoints trained
        without it load as they were (`builders.appearance_checkpoint_config`).
    """

    image_size: int = 128
    crop_box: tuple[float, float, float, float] = (-0.85, 0.15, 0.85, 1.85)
    mask_center: tuple[float, float] = (0.0, 1.16)
    mask_radii: tuple[float, float] = (0.62, 0.6)
    mask_feather: float = 0.06
    channels: int = 16
    levels: int = 3
    res_blocks: int = 1
    detail_channels: int = 32
    num_refs: int = 3
    disc_channels: int = 16
    disc_layers: int = 2
    fusion_norm: bool = False


@dataclass(frozen=True)
class AppearanceTrainConfig:
    """Stage 2 training.

    steps, batch_size (frames), lr (generator, Adam), lr_disc, loss weights (L1, 1 - MS-SSIM,
    image gradients, adversarial; the gradient loss is numerically small, a tenth of the others on
    real crops, so it weighs 10 to count as much: it is what keeps lips and teeth sharp), adv_loss ("hinge" or "lsgan"), adv_start (step at which the
    adversarial term starts: the generator first learns the picture, then the texture),
    log_every, eval_every, checkpoint_every, seed, eval_frames (probe batch size),
    exclude_radius (reference lips are never taken within this many frames of the target, so the
    generator cannot learn to copy the answer), grad_accum (micro-batches per step, as in
    `MotionTrainConfig`).
    """

    steps: int = 4000
    batch_size: int = 8
    lr: float = 1e-3
    lr_disc: float = 1e-3
    w_l1: float = 1.0
    w_ssim: float = 1.0
    w_gradient: float = 10.0
    w_adversarial: float = 0.01
    adv_loss: str = "hinge"
    adv_start: int = 1000
    log_every: int = 10
    eval_every: int = 200
    checkpoint_every: int = 500
    seed: int = 0
    eval_frames: int = 8
    exclude_radius: int = 3
    grad_accum: int = 1


@dataclass(frozen=True)
class FinetuneConfig:
    """`mytalk actor build --engine mytalk`: steps of each stage, and how many reference frames to keep."""

    motion_steps: int = 300
    appearance_steps: int = 300
    max_references: int = 200


@dataclass(frozen=True)
class MyTalkConfig:
    """Everything one TOML file holds."""

    preset: str = "small"
    motion_model: MotionModelConfig = field(default_factory=MotionModelConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    motion_train: MotionTrainConfig = field(default_factory=MotionTrainConfig)
    appearance_model: AppearanceModelConfig = field(default_factory=AppearanceModelConfig)
    appearance_train: AppearanceTrainConfig = field(default_factory=AppearanceTrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# TOML table path -> MyTalkConfig attribute.
_SECTIONS: dict[tuple[str, ...], str] = {
    ("motion", "model"): "motion_model",
    ("motion", "scheduler"): "scheduler",
    ("motion", "sampling"): "sampling",
    ("motion", "train"): "motion_train",
    ("appearance", "model"): "appearance_model",
    ("appearance", "train"): "appearance_train",
    ("finetune",): "finetune",
}

T = TypeVar("T")


def _coerce(cls: type[T], values: dict[str, Any], where: str) -> T:
    """Build dataclass `cls` from a TOML table; unknown keys and wrong types are UsageErrors."""
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"config [{where}]: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(known)}")
    default = cls()
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        current = getattr(default, name)
        if isinstance(current, tuple):
            if not isinstance(value, list | tuple) or len(value) != len(current):
                raise UsageError(f"config [{where}] {name}: give a list of {len(current)} numbers, got {value!r}")
            value = tuple(float(v) for v in value)
        elif isinstance(current, bool) or isinstance(value, bool):
            if not isinstance(value, bool) or not isinstance(current, bool):
                raise UsageError(f"config [{where}] {name}: expected {type(current).__name__}, got {value!r}")
        elif isinstance(current, int) and not isinstance(value, int):
            raise UsageError(f"config [{where}] {name}: expected an integer, got {value!r}")
        elif isinstance(current, float):
            if not isinstance(value, int | float):
                raise UsageError(f"config [{where}] {name}: expected a number, got {value!r}")
            value = float(value)
        elif isinstance(current, str) and not isinstance(value, str):
            raise UsageError(f"config [{where}] {name}: expected a string, got {value!r}")
        kwargs[name] = value
    return replace(default, **kwargs)  # type: ignore[type-var]


def _merge(config: MyTalkConfig, data: dict[str, Any], origin: str) -> MyTalkConfig:
    """Apply the tables of a parsed TOML document on top of `config`."""
    updates: dict[str, Any] = {}
    top_known = {"preset", "motion", "appearance", "finetune"}
    unknown = sorted(set(data) - top_known)
    if unknown:
        raise UsageError(f"{origin}: unknown table(s) {', '.join(unknown)}; allowed: {', '.join(sorted(top_known))}")
    for path, attr in _SECTIONS.items():
        table: Any = data
        for key in path:
            table = table.get(key, {}) if isinstance(table, dict) else {}
        if not table:
            continue
        current = asdict(getattr(config, attr))
        current.update(table)
        updates[attr] = _coerce(type(getattr(config, attr)), current, ".".join(path))
    for group in ("motion", "appearance"):
        table = data.get(group, {})
        allowed = {p[1] for p in _SECTIONS if p[0] == group and len(p) == 2}
        extra = sorted(set(table) - allowed) if isinstance(table, dict) else []
        if extra:
            raise UsageError(f"{origin}: unknown table(s) [{group}.{extra[0]}]; allowed: "
                             f"{', '.join(f'[{group}.{a}]' for a in sorted(allowed))}")
    return replace(config, **updates)


def _preset_text(name: str) -> str:
    if name not in PRESETS:
        raise UsageError(f"unknown config preset {name!r}; choose one of {', '.join(PRESETS)} or give a .toml file")
    return resources.files("mytalk.core.engines.mytalk").joinpath("configs", f"{name}.toml").read_text()


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{origin}: not valid TOML ({error})") from None


def load_config(source: str | Path) -> MyTalkConfig:
    """A configuration from a preset name ("tiny", "small", "base") or a TOML file path.

    A file may name a `preset` to start from; the file's tables then override it key by key.
    Raises UsageError naming the file and key for unknown keys, wrong types or a missing file.
    """
    text_source = str(source)
    if text_source in PRESETS:
        data = _parse(_preset_text(text_source), f"preset {text_source}")
        return _merge(MyTalkConfig(preset=text_source), data, f"preset {text_source}")
    path = Path(source).expanduser()
    if not path.is_file():
        raise UsageError(f"config {path} not found; give a .toml file or one of the presets {', '.join(PRESETS)}")
    data = _parse(path.read_text(), str(path))
    preset = data.get("preset", "small")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise UsageError(f"{path}: unknown config preset {preset!r}; choose one of {', '.join(PRESETS)}")
    base = load_config(preset)
    return _merge(base, data, str(path))


def config_hash(section: Any) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of a config section (dataclass or dict)."""
    data = asdict(section) if not isinstance(section, dict) else section
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def motion_model_from_dict(data: dict[str, Any]) -> MotionModelConfig:
    """Inverse of `asdict` for a stored motion model config (checkpoint metadata)."""
    return _coerce(MotionModelConfig, data, "motion.model")


def scheduler_from_dict(data: dict[str, Any]) -> SchedulerConfig:
    return _coerce(SchedulerConfig, data, "motion.scheduler")


def appearance_model_from_dict(data: dict[str, Any]) -> AppearanceModelConfig:
    return _coerce(AppearanceModelConfig, data, "appearance.model")


def validate(config: MyTalkConfig) -> MyTalkConfig:
    """Reject settings that would fail later with an obscure tensor error; returns `config`."""
    m, a, s = config.motion_model, config.appearance_model, config.sampling
    checks = [
        (m.window >= 4, f"motion.model window {m.window}: use at least 4 frames"),
        (m.dim % m.heads == 0, f"motion.model dim {m.dim} must be a multiple of heads {m.heads}"),
        (m.conv_kernel % 2 == 1, f"motion.model conv_kernel {m.conv_kernel} must be odd"),
        (m.audio_kernel % 2 == 1, f"motion.model audio_kernel {m.audio_kernel} must be odd"),
        (m.n_mels == 80, "motion.model n_mels must be 80 (the audio features are 80-band log-mel)"),
        (m.phone_features in PHONE_FEATURES,
         f"motion.model phone_features {m.phone_features!r}: use {' or '.join(PHONE_FEATURES)}"),
        (1 <= s.steps <= 20, f"motion.sampling steps {s.steps}: use 1 to 20 DDIM steps"),
        (config.scheduler.beta_schedule in ("cosine", "linear"),
         f"motion.scheduler beta_schedule {config.scheduler.beta_schedule!r}: use cosine or linear"),
        (a.image_size % (2 ** a.levels) == 0, f"appearance.model image_size {a.image_size} must divide by 2**levels"),
        (a.image_size >= 32, f"appearance.model image_size {a.image_size}: use at least 32 px"),
        (a.num_refs >= 1, "appearance.model num_refs must be at least 1"),
        (config.motion_train.grad_accum >= 1, f"motion.train grad_accum {config.motion_train.grad_accum}: use 1 or more"),
        (config.appearance_train.grad_accum >= 1,
         f"appearance.train grad_accum {config.appearance_train.grad_accum}: use 1 or more"),
        (config.appearance_train.adv_loss in ("hinge", "lsgan"),
         f"appearance.train adv_loss {config.appearance_train.adv_loss!r}: use hinge or lsgan"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(f"config: {message}")
    return config
