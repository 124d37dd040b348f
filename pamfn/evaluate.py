"""Evaluation on full-length routines: predictions, Spearman's rho per action, the
Fisher-z mean across actions, and MSE in the dataset's units."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pamfn.checkpoint import check_scale
from pamfn.data.dataset import AQADataset
from pamfn.data.tensors import SplitTensors
from pamfn.errors import CheckpointError
from pamfn.metrics import fisher_z_mean, mse, spearman_rho
from pamfn.ood import TrainingDistribution, clipped_end, from_meta, length_unlike
from pamfn.serving.scorer import Predictor, predictor

if TYPE_CHECKING:
    from pamfn.engines import Engine


@dataclass
class SplitResult:
    """Scores of one action's split, in the dataset's units."""

    rho: float
    mse: float
    routine_ids: list[str]
    predicted: np.ndarray
    judged: np.ndarray
    ood_distance: np.ndarray | None = None
    """Each routine's distance from the checkpoint's training distribution (:mod:`pamfn.ood`)."""
    ood_threshold: float | None = None
    label_scale: float = 1.0
    length_unlike: list[str | None] | None = None
    """Per routine, ``"short"`` or ``"long"`` when its length lies beyond the training routines'
    (:func:`pamfn.ood.length_unlike`), else None; None when the checkpoint does not say."""

    @property
    def out_of_distribution(self) -> np.ndarray:
        if self.ood_distance is None or self.ood_threshold is None:
            return np.zeros(len(self.routine_ids), dtype=bool)
        return self.ood_distance > self.ood_threshold

    @property
    def clipped(self) -> np.ndarray:
        """Predictions at an end of the score scale (:func:`pamfn.ood.clipped_end`)."""
        return np.array([clipped_end(p / self.label_scale) is not None for p in self.predicted], dtype=bool)

    @property
    def unlike_length(self) -> list[str | None]:
        """Per routine: ``"short"``, ``"long"`` or None (:attr:`length_unlike`, None everywhere when unknown)."""
        return self.length_unlike if self.length_unlike is not None else [None] * len(self.routine_ids)

    def to_dict(self, with_predictions: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"rho": self.rho, "mse": self.mse, "n": len(self.routine_ids),
                               "out_of_distribution": int(self.out_of_distribution.sum()), "ood_threshold": self.ood_threshold,
                               "clipped": int(self.clipped.sum()),
                               "length_unlike": sum(u is not None for u in self.unlike_length)}
        if with_predictions:
            dist = self.ood_distance if self.ood_distance is not None else [None] * len(self.routine_ids)
            out["predictions"] = [
                {"routine_id": r, "predicted": float(p), "judged": float(j), "ood_distance": None if d is None else float(d),
                 "out_of_distribution": bool(o), "clipped": bool(c), "length_unlike": u}
                for r, p, j, d, o, c, u in zip(self.routine_ids, self.predicted, self.judged, dist, self.out_of_distribution,
                                               self.clipped, self.unlike_length)
            ]
        return out


@torch.inference_mode()
def predict(predictor: Predictor, split: SplitTensors, *, amp: bool = False,
            done: Callable[[int], object] | None = None) -> np.ndarray:
    """Normalised score of every routine of ``split``, each on all its segments (batch 1);
    ``done(1)`` is called after each routine (a progress bar's ``update``)."""
    out = []
    use_amp = amp and split.device.type == "cuda"
    for i in range(len(split)):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            out.append(predictor(split.routine(i)).float().reshape(()))
        if done is not None:
            done(1)
    return torch.stack(out).cpu().numpy().astype(np.float64) if out else np.zeros(0)


def score_split(predictor: Predictor, split: SplitTensors, *, amp: bool = False) -> SplitResult:
    """Predict ``split`` and compare with its judged scores (dataset units)."""
    return split_result(predict(predictor, split, amp=amp), split.samples, split.label_scale)


def split_result(predicted_norm: np.ndarray, samples: list, label_scale: float) -> SplitResult:
    """Normalised predictions of ``samples`` against their judged scores, in dataset units."""
    predicted = predicted_norm * label_scale
    judged = np.array([s.score for s in samples], dtype=np.float64)
    return SplitResult(spearman_rho(predicted, judged), mse(predicted, judged), [s.routine_id for s in samples], predicted, judged,
                       label_scale=label_scale)


def with_ood(result: SplitResult, dist: TrainingDistribution | None, data: AQADataset, samples: list) -> SplitResult:
    """``result`` with each routine's distance from the checkpoint's training distribution
    and whether its length lies beyond the training routines'."""
    if dist is None:
        return result
    feats = [data.features[s.features] for s in samples]
    distances = np.array([dist.distance(f) for f in feats])
    unlike = [length_unlike(len(next(iter(f.values()))), dist.segments, dist.margin) for f in feats]
    return replace(result, ood_distance=distances, ood_threshold=dist.threshold,
                   length_unlike=unlike if dist.segments is not None else None)


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


@dataclass(frozen=True)
class PredictJob:
    """Routines ``[first, stop)`` of one action's split, scored on an engine's worker."""

    data_dir: str
    checkpoint: str
    action: str
    split: str
    first: int
    stop: int
    device: str
    threads: int


@functools.lru_cache(maxsize=2)
def _dataset(data_dir: str) -> AQADataset:
    from pamfn.data import load_dataset

    return load_dataset(data_dir)


@functools.lru_cache(maxsize=8)
def _checkpoint(path: str, action: str, device: str):
    from pamfn.serving import CheckpointSet

    return CheckpointSet(path, device).for_actions([action])[action]


def predict_job(job: PredictJob) -> np.ndarray:
    """Normalised scores of a job's routines (the data set and checkpoint are loaded once
    per worker process), with the torch threads of the process that planned it."""
    torch.set_num_threads(job.threads)
    data, loaded = _dataset(job.data_dir), _checkpoint(job.checkpoint, job.action, job.device)
    samples = data.select(job.action, job.split)[job.first : job.stop]
    return predict(predictor(loaded.model), SplitTensors(data, samples, job.device, modalities=loaded.config.modalities))


def predict_on(engine: Engine, data: AQADataset, checkpoint: str, action: str, split: str, device: str,
               chunk: int = 32, done: Callable[[int], object] | None = None) -> np.ndarray:
    """Normalised scores of one action's split, ``chunk`` routines per task, in split order;
    ``done(n)`` is called as each task's ``n`` routines come back."""
    from pamfn.engines import Failure

    n = len(data.select(action, split))
    jobs = [PredictJob(str(data.root), checkpoint, action, split, first, min(first + chunk, n), device,
                       torch.get_num_threads()) for first in range(0, n, chunk)]
    parts: dict[int, np.ndarray] = {}
    for i, result in engine.map(predict_job, jobs):
        if isinstance(result, Failure):
            raise CheckpointError(f"scoring {action} routines {jobs[i].first}-{jobs[i].stop - 1}: {result.reason}")
        parts[i] = result
        if done is not None:
            done(len(result))
    return np.concatenate([parts[i] for i in range(len(jobs))])


def evaluate_checkpoints(
    data: AQADataset,
    checkpoint: str | os.PathLike[str],
    *,
    split: str = "test",
    actions: list[str] | None = None,
    device: str | torch.device = "cpu",
    engine: Engine | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate a checkpoint or a checkpoint set (one per action) on ``split`` of ``data``;
    with an ``engine``, the routines are scored in its tasks (the same numbers); ``progress``
    shows a bar of the routines scored (on stderr)."""
    from tqdm.auto import tqdm

    from pamfn.serving import CheckpointSet

    chosen = CheckpointSet(checkpoint, str(device)).for_actions(actions)
    for loaded in chosen.values():  # every checkpoint fits the data before any routine is scored
        cfg = loaded.config
        data.check_dims({m: cfg.input_dims[m] for m in cfg.modalities}, what=f"checkpoint {loaded.path}")
        check_scale(loaded, data.label_scale)
    results, used = {}, {}
    total = sum(len(data.select(action, split)) for action in chosen)
    with tqdm(total=total, desc=f"scoring the {split} split", unit="routine", disable=not progress, leave=False) as bar:
        for action, loaded in chosen.items():
            cfg = loaded.config
            samples = data.select(action, split)
            bar.set_postfix_str(action)
            if engine is None:
                tensors = SplitTensors(data, samples, device, modalities=cfg.modalities)
                predicted = predict(predictor(loaded.model), tensors, done=bar.update)
            else:
                predicted = predict_on(engine, data, str(loaded.path), action, split, str(device), done=bar.update)
            results[action] = with_ood(split_result(predicted, samples, data.label_scale), from_meta(loaded.meta), data, samples)
            used[action] = str(loaded.path)
    return Evaluation(split, results, used)
