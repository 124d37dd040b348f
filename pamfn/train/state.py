"""Resumable training state: model, optimiser, random generators and progress.

Tensors go to ``state-<epoch>.safetensors``, everything else to ``state.json``, which
names its tensor file and is written last: the JSON on disk always points at a complete
tensor file, so an interruption at any moment leaves the previous state usable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pamfn.atomic import atomic_path, write_text_atomic
from pamfn.errors import CheckpointError

STATE_JSON = "state.json"


@dataclass
class TrainState:
    """Where one training stage stands after ``epoch`` completed epochs."""

    epoch: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    best_model: dict[str, torch.Tensor] | None
    torch_rng: torch.Tensor
    data_rng: torch.Tensor
    cuda_rng: torch.Tensor | None
    progress: dict[str, Any]
    """JSON-able: best epoch and score, the per-epoch metric rows so far."""
    average: dict[str, torch.Tensor] | None = None
    """The weight average's state, when the recipe keeps one."""
    average_updates: int = 0


def _flatten_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, plain = {}, {}
    for idx, per_param in state_dict["state"].items():
        plain[str(idx)] = {}
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain[str(idx)][key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": plain}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in meta["scalars"].items()}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(folder: str | os.PathLike[str], state: TrainState) -> Path:
    """Write ``state`` into ``folder`` atomically; remove the tensor files it supersedes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    optim_tensors, optim_meta = _flatten_optimizer(state.optimizer)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state.model.items()}
    if state.best_model is not None:
        tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in state.best_model.items()})
    if state.average is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in state.average.items()})
    tensors.update(optim_tensors)
    tensors["rng.torch"] = state.torch_rng
    tensors["rng.data"] = state.data_rng
    if state.cuda_rng is not None:
        tensors["rng.cuda"] = state.cuda_rng
    name = f"state-{state.epoch:05d}.safetensors"
    with atomic_path(folder / name) as tmp:
        save_file(tensors, str(tmp))
    meta = {
        "epoch": state.epoch,
        "tensors": name,
        "optimizer": optim_meta,
        "progress": state.progress,
        "average_updates": state.average_updates,
    }
    write_text_atomic(folder / STATE_JSON, json.dumps(meta))
    for old in folder.glob("state-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return folder / STATE_JSON


def load_state(folder: str | os.PathLike[str]) -> TrainState | None:
    """The saved state in ``folder``, None if there is none; CheckpointError if it is damaged."""
    meta_path = Path(folder) / STATE_JSON
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        tensors = load_file(str(Path(folder) / meta["tensors"]))
    except (OSError, json.JSONDecodeError, KeyError, SafetensorError) as exc:
        raise CheckpointError(f"{folder}: training state is damaged and cannot be resumed ({exc})") from exc

    def prefixed(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    best, average = prefixed("best."), prefixed("ema.")
    return TrainState(
        epoch=int(meta["epoch"]),
        model=prefixed("model."),
        optimizer=_unflatten_optimizer(tensors, meta["optimizer"]),
        best_model=best or None,
        torch_rng=tensors["rng.torch"],
        data_rng=tensors["rng.data"],
        cuda_rng=tensors.get("rng.cuda"),
        progress=meta["progress"],
        average=average or None,
        average_updates=int(meta.get("average_updates", 0)),
    )
