"""Checkpoints: a directory holding ``model.safetensors`` (weights, no pickles) and
``config.json`` (the model config: preset, dims, K, d, variant, feature extractors,
label_scale; plus free-form ``meta`` such as training metrics).

Which checkpoint serves an action (a set of them, ``index.json``) is the serving layer's
job: :class:`pamfn.serving.CheckpointSet`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pamfn.atomic import give_default_modes, owned_folder, replace_folder
from pamfn.errors import CheckpointError, ConfigError
from pamfn.model.config import PAMFNConfig

if TYPE_CHECKING:
    from pamfn.model import AQAModel
    from pamfn.routine import RoutineFeatures

FORMAT = "pamfn-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


@dataclass
class LoadedCheckpoint:
    """A model restored from a checkpoint directory, in eval mode."""

    model: AQAModel
    config: PAMFNConfig
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def label_scale(self) -> float:
        return self.config.label_scale


def save_checkpoint(directory: str | os.PathLike[str], model: AQAModel, cfg: PAMFNConfig, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` and ``cfg`` to ``directory`` atomically (temp dir, then rename).

    An existing checkpoint at ``directory`` is replaced only once the new one is complete;
    anything else there is refused (:func:`replaceable_checkpoint_dir`).
    """
    from safetensors.torch import save_file

    directory = replaceable_checkpoint_dir(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": cfg.to_dict(), "meta": meta or {}}
    text = json.dumps(doc, indent=2)  # a meta that is not JSON-able fails here, before anything is written
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".part", dir=directory.parent))
    try:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        (tmp / CONFIG).write_text(text, encoding="utf-8")
        give_default_modes(tmp)
        replace_folder(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def replaceable_checkpoint_dir(directory: str | os.PathLike[str]) -> Path:
    """Where a checkpoint saved to ``directory`` lands; OutputError unless it is absent, an
    empty folder or a checkpoint (:func:`pamfn.atomic.owned_folder`): a save replaces the
    whole folder."""
    return owned_folder(directory, "a PAMFN checkpoint", (CONFIG, WEIGHTS), CONFIG, lambda c: _format_of(c) == FORMAT)


def _format_of(config: Path) -> object:
    """The ``format`` a config.json declares (None when it is unreadable or declares none)."""
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc.get("format") if isinstance(doc, dict) else None


def read_config(directory: str | os.PathLike[str]) -> tuple[PAMFNConfig, dict[str, Any]]:
    """The config and meta of a checkpoint directory, without loading its weights."""
    path = Path(directory) / CONFIG
    if not path.is_file():
        from pamfn.serving.checkpoints import INDEX, read_index

        if (Path(directory) / INDEX).is_file():
            members = ", ".join(str(p) for p in read_index(directory).values())
            raise CheckpointError(f"{directory} is a checkpoint set ({INDEX}), not one checkpoint: name one of {members}")
        raise CheckpointError(f"{path}: checkpoint config not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a PAMFN checkpoint config (format {doc.get('format')!r})")
        if doc.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise CheckpointError(f"{path}: checkpoint format version {doc.get('format_version')!r}; this version of "
                                  f"PAMFN Studio reads version {FORMAT_VERSION}")
        return PAMFNConfig.from_dict(doc["config"]), dict(doc.get("meta") or {})
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint config ({exc})") from exc


def load_checkpoint(directory: str | os.PathLike[str], device: str = "cpu") -> LoadedCheckpoint:
    """Restore the model of a checkpoint directory on ``device``, in eval mode."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from pamfn.model import build_model
    from pamfn.serving.device import resolve_device

    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint directory not found")
    cfg, meta = read_config(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: checkpoint weights not found")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{weights}: corrupt or truncated weights file ({exc})") from exc
    with torch.device("meta"):  # the config's shapes, checked against the weights before any memory is taken
        check_state(build_model(cfg).state_dict(), state, str(weights))
    model = build_model(cfg)
    model.load_state_dict(state, strict=True)
    model.to(resolve_device(device)).eval()
    return LoadedCheckpoint(model=model, config=cfg, meta=meta, path=directory)


def load_state(model: AQAModel, state: dict[str, Any], source: str) -> None:
    """``model.load_state_dict(state)`` strictly, as a CheckpointError naming the bad keys."""
    check_state(model.state_dict(), state, source)
    model.load_state_dict(state, strict=True)


def check_state(expected: dict[str, Any], state: dict[str, Any], source: str) -> None:
    """CheckpointError naming what is wrong unless ``state`` has exactly the keys and shapes
    of ``expected`` (a model's state dict, on the meta device too), real numbers where it has
    them, and no NaN or infinite value."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing keys {_few(missing)}")
        if unexpected:
            details.append(f"unexpected keys {_few(unexpected)}")
        if wrong:
            details.append("wrong shapes " + _few([f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}" for k in wrong]))
        raise CheckpointError(f"{source}: weights do not match the config ({'; '.join(details)})")
    not_real = sorted(k for k in expected if expected[k].is_floating_point() and not state[k].is_floating_point())
    if not_real:
        raise CheckpointError(f"{source}: weights stored as integers or booleans where the model holds real numbers "
                              f"({_few(not_real)}); the file is not a trained checkpoint")
    broken = sorted(k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all())
    if broken:
        raise CheckpointError(f"{source}: the weights hold NaN or infinite values ({_few(broken)}); the checkpoint is "
                              "corrupt or its training diverged")


def _few(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def check_scale(loaded: LoadedCheckpoint, label_scale: float) -> LoadedCheckpoint:
    """``loaded``, or CheckpointError when it scores on another scale than a data set's
    ``label_scale`` (its scores and the judges' would not be comparable)."""
    if loaded.config.label_scale != label_scale:
        raise CheckpointError(f"{loaded.path}: trained on scores out of {loaded.config.label_scale:g}, the data set's "
                              f"are out of {label_scale:g}")
    return loaded


def check_compatible(cfg: PAMFNConfig, features: RoutineFeatures) -> None:
    """Raise CheckpointError if the features come from other extractors than the model was
    trained on (when both name theirs) or their dims differ from what it expects."""
    found = features.dims
    named = {m: (cfg.feature_extractors.get(m), features.extractors.get(m)) for m in cfg.modalities}
    other = {m: pair for m, pair in named.items() if all(pair) and pair[0] != pair[1]}
    if other:
        which = ", ".join(f"{m}: trained on {trained}, features from {used}" for m, (trained, used) in other.items())
        raise CheckpointError(f"{features.routine_id or 'routine'}: features from other extractors than the checkpoint was "
                              f"trained on ({which}); extract them again with its extractors")
    bad = [m for m in cfg.modalities if found.get(m) != cfg.input_dims[m]]
    if bad:
        expected = ", ".join(f"{m}={cfg.input_dims[m]}" for m in cfg.modalities)
        got = ", ".join(f"{m}={found.get(m, 'none')}" for m in cfg.modalities)
        raise CheckpointError(
            f"{features.routine_id or 'routine'}: feature dims do not match the checkpoint: expected {expected}, found {got} "
            f"(checkpoint trained on {_extractor_names(cfg.feature_extractors, cfg.modalities)}; features from "
            f"{_extractor_names(features.extractors, cfg.modalities)})"
        )


def _extractor_names(extractors: dict[str, str], modalities: tuple[str, ...] | list[str]) -> str:
    """``V lite-rgb@2, F ...`` in the modalities' order, or a phrase when none is named."""
    named = [f"{m} {extractors[m]}" for m in modalities if extractors.get(m)]
    return ", ".join(named) if named else "extractors it does not name"
