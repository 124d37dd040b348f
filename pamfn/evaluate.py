"""Evaluation on full-length routines: predictions, Spearman's rho per action, the
Fisher-z mean across actions, and MSE in the dataset's units."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pamfn.data.dataset import AQADataset
from pamfn.data.tensors import SplitTensors
from pamfn.metrics import fisher_z_mean, mse, spearman_rho
from pamfn.serving.scorer import Predictor, predictor


@dataclass
class SplitResult:
    """Scores of one action's split, in the dataset's units."""

    rho: float
    mse: float
    routine_ids: list[str]
    predicted: np.ndarray
    judged: np.ndarray

    def to_dict(self, with_predictions: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"rho": self.rho, "mse": self.mse, "n": len(self.routine_ids)}
        if with_predictions:
            out["predictions"] = [
                {"routine_id": r, "predicted": float(p), "judged": float(j)}
                for r, p, j in zip(self.routine_ids, self.predicted, self.judged)
            ]
        return out


@torch.inference_mode()
def predict(predictor: Predictor, split: SplitTensors, *, amp: bool = False) -> np.ndarray:
    """Normalised score of every routine of ``split``, each on all its segments (batch 1)."""
    out = []
    use_amp = amp and split.device.type == "cuda"
    for i in range(len(split)):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            out.append(predictor(split.routine(i)).float().reshape(()))
    return torch.stack(out).cpu().numpy().astype(np.float64) if out else np.zeros(0)


def score_split(predictor: Predictor, split: SplitTensors, *, amp: bool = False) -> SplitResult:
    """Predict ``split`` and compare with its judged scores (dataset units)."""
    predicted = predict(predictor, split, amp=amp) * split.label_scale
    judged = split.scores
    return SplitResult(spearman_rho(predicted, judged), mse(predicted, judged), [s.routine_id for s in split.samples], predicted, judged)


@dataclass
class Evaluation:
    """Per-action results and their Fisher-z mean."""

    split: str
    actions: dict[str, SplitResult]
    checkpoints: dict[str, str] = field(default_factory=dict)

    @property
    def avg_rho(self) -> float:
        return fisher_z_mean(r.rho for r in self.actions.values())

    def to_dict(self, with_predictions: bool = False) -> dict[str, Any]:
        return {
            "split": self.split,
            "actions": {a: r.to_dict(with_predictions) for a, r in self.actions.items()},
            "avg_rho_fisher_z": self.avg_rho,
            "checkpoints": self.checkpoints,
        }


def evaluate_checkpoints(
    data: AQADataset,
    checkpoint: str | os.PathLike[str],
    *,
    split: str = "test",
    actions: list[str] | None = None,
    device: str | torch.device = "cpu",
) -> Evaluation:
    """Evaluate a checkpoint or a checkpoint set (one per action) on ``split`` of ``data``."""
    from pamfn.errors import CheckpointError
    from pamfn.serving import CheckpointSet

    chosen = CheckpointSet(checkpoint, str(device)).for_actions(actions)
    results, used = {}, {}
    for action, loaded in chosen.items():
        cfg = loaded.config
        data.check_dims({m: cfg.input_dims[m] for m in cfg.modalities}, what=f"checkpoint {loaded.path}")
        if cfg.label_scale != data.label_scale:
            raise CheckpointError(f"{loaded.path}: trained with label_scale {cfg.label_scale}, the dataset uses {data.label_scale}")
        tensors = SplitTensors(data, data.select(action, split), device, modalities=cfg.modalities)
        results[action] = score_split(predictor(loaded.model), tensors)
        used[action] = str(loaded.path)
    return Evaluation(split, results, used)
