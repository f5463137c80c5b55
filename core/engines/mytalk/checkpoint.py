"""Checkpoints: safetensors files that carry their configuration, its hash, the data hash and the code version.

Why safetensors only: a pickle (`torch.save`, .pt, .pkl, .ckpt) can run arbitrary code when it is
loaded, and users will exchange models. A safetensors file is a JSON header plus raw tensor bytes;
loading one executes nothing. Any other file is refused with a `CheckpointError` saying so —
including a `torch.save` file renamed to .safetensors (detected by its zip or pickle magic).

Metadata (string → string, in the safetensors header):
- format = "mytalk-checkpoint", kind = "motion" | "appearance" | "motion-state" | "appearance-state";
- config: JSON of the networks' constructor arguments, config_hash: 16 hex of its SHA-256;
- data_hash: hash of the dataset manifest the weights were trained on ("" when none);
- code_version: MyTalk's version and this engine's version; step: training steps done; created.

Loading checks the kind, recomputes the config hash (a hand-edited header is refused) and, when
the caller says which configuration it expects, refuses a different one with the differing keys
named. Writes are atomic (temporary file, then rename), so an interrupted save never leaves a
truncated checkpoint under the real name.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mytalk.core.atomic import AtomicFile
from mytalk.core.engines.mytalk.config import config_hash
from mytalk.core.errors import CheckpointError, ModelNotFoundError

FORMAT = "mytalk-checkpoint"
ENGINE_VERSION = "1.0"
SUFFIX = ".safetensors"
_MAX_HEADER = 100 * 1024 * 1024


def code_version() -> str:
    """MyTalk's package version and the neural engine's version, e.g. "0.1.0/mytalk-1.0"."""
    from mytalk.core import __version__

    return f"{__version__}/mytalk-{ENGINE_VERSION}"


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself (see the module docstring)."""

    kind: str
    config: dict[str, Any]
    config_hash: str
    data_hash: str = ""
    code_version: str = ""
    step: int = 0
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _as_dict(config: Any) -> dict[str, Any]:
    if is_dataclass(config) and not isinstance(config, type):
        return asdict(config)
    return json.loads(json.dumps(dict(config)))


def _check_file(path: Path) -> None:
    """Refuse anything that is not a safetensors file before any parser sees it."""
    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint {path} does not exist")
    if path.suffix != SUFFIX:
        raise CheckpointError(
            f"{path}: MyTalk loads weights only from {SUFFIX} files; a {path.suffix or 'suffix-less'} file may be a "
            "pickle that runs code when loaded, so it is refused (convert it with safetensors.torch.save_file)"
        )
    with open(path, "rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    # A safetensors file starts with its header's length (u64, little-endian) and then the JSON header, so
    # its first byte is 0x80 whenever that length ends in 0x80: only a file without the "{" at byte 8 is a
    # pickle (protocol 2+ starts with 0x80 and the protocol number) or a zip (torch.save's format).
    if head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[8:9] != b"{"):
        raise CheckpointError(
            f"{path}: is a pickle (torch.save) renamed to {SUFFIX}; pickles can run code when loaded and are "
            "refused. Re-save the weights with safetensors.torch.save_file"
        )
    if len(head) < 9:
        raise CheckpointError(f"{path}: is empty or truncated, not a safetensors checkpoint; train or copy it again")
    (length,) = struct.unpack("<Q", head[:8])
    if length > min(size - 8, _MAX_HEADER) or head[8:9] != b"{":
        raise CheckpointError(f"{path}: is not a safetensors file (bad header); train or copy the checkpoint again")


def save_checkpoint(
    path: Path,
    kind: str,
    tensors: Mapping[str, torch.Tensor],
    config: Any,
    *,
    data_hash: str = "",
    step: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write tensors + metadata atomically to `path` (must end in .safetensors); returns the path."""
    path = Path(path)
    if path.suffix != SUFFIX:
        raise CheckpointError(f"{path}: checkpoints are written as {SUFFIX} files")
    cfg = _as_dict(config)
    metadata = {
        "format": FORMAT,
        "kind": kind,
        "config": json.dumps(cfg, sort_keys=True),
        "config_hash": config_hash(cfg),
        "data_hash": data_hash,
        "code_version": code_version(),
        "step": str(int(step)),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "extra": json.dumps(dict(extra or {}), sort_keys=True),
    }
    # safetensors refuses shared or non-contiguous storage; copies are cheap next to the disk write.
    flat = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(path) as temp:
        save_file(flat, str(temp), metadata=metadata)
    return path


def _differences(expected: Mapping[str, Any], stored: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(expected) | set(stored)):
        a, b = expected.get(key, "<missing>"), stored.get(key, "<missing>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint {b!r}, expected {a!r}")
    return out


def read_checkpoint(
    path: Path,
    kind: str | None = None,
    expected_config: Any | None = None,
) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """Load tensors (on the CPU) and metadata; CheckpointError for pickles, damage, wrong kind or config."""
    path = Path(path)
    _check_file(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot be read as a safetensors checkpoint ({error}); train or copy it again") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: is a safetensors file but not a MyTalk checkpoint (no '{FORMAT}' metadata)")
    try:
        config = json.loads(metadata["config"])
        info = CheckpointInfo(
            kind=metadata["kind"], config=config, config_hash=metadata["config_hash"],
            data_hash=metadata.get("data_hash", ""), code_version=metadata.get("code_version", ""),
            step=int(metadata.get("step", "0")), created=metadata.get("created", ""),
            extra=json.loads(metadata.get("extra", "{}")),
        )
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({error}); train or copy it again") from None
    if config_hash(info.config) != info.config_hash:
        raise CheckpointError(f"{path}: its config does not match its config hash (edited or damaged); "
                              "train or copy it again")
    if kind is not None and info.kind != kind:
        raise CheckpointError(f"{path}: is a {info.kind!r} checkpoint, a {kind!r} one is needed here")
    if expected_config is not None:
        expected = _as_dict(expected_config)
        if config_hash(expected) != info.config_hash:
            diff = "; ".join(_differences(expected, info.config)[:6])
            raise CheckpointError(f"{path}: was trained with another configuration ({diff}); use a config that "
                                  "matches the checkpoint or train a new model")
    return tensors, info


def load_state(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], path: Path, prefix: str = "") -> None:
    """Load `prefix`-ed tensors into `module` strictly; CheckpointError names missing or extra weights."""
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:3])}")
        if wrong:
            parts.append(f"wrong shape {', '.join(wrong[:3])}")
        raise CheckpointError(f"{path}: weights do not fit the network of its config ({'; '.join(parts)})")
    module.load_state_dict(state, strict=True)


def prefixed(module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """`module.state_dict()` with every key prefixed (several modules in one file)."""
    return {f"{prefix}{k}": v for k, v in module.state_dict().items()}


# --- optimizer state (for resuming), flattened into tensors + JSON ----------------------------


def optimizer_tensors(optimizer: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON-able groups of an optimizer's state dict (no pickling)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"{prefix}{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, {"param_groups": state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], groups: dict[str, Any],
                      prefix: str) -> None:
    """Inverse of `optimizer_tensors`."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if not name.startswith(prefix):
            continue
        index, key = name[len(prefix):].split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups["param_groups"]})
