"""The one eval-mode inference path: every score the serving side shows (explanations,
occlusion, predictions, evaluation) comes from :func:`run_model`.

The model runs in evaluation mode (dropout off) with the deterministic PolicyNet
(argmax) unless a policy is named, without gradients; its previous mode is restored
afterwards, so a model in training stays in training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from pamfn import MODALITIES

if TYPE_CHECKING:
    from pamfn.model import AQAModel
    from pamfn.model.base import PAMFNOutput
    from pamfn.routine import RoutineFeatures

Predictor = Callable[[dict[str, Tensor]], Tensor]
"""Features of a batch -> normalised scores (B,)."""


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Evaluation mode inside the block, the previous mode after it."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def run_model(
    model: AQAModel, inputs: Mapping[str, Tensor], policy: str = "argmax", generator: torch.Generator | None = None
) -> PAMFNOutput:
    """The model's output on ``inputs`` (modality -> (B, T, D)) in evaluation mode, without
    gradients; ``policy="sample"`` with ``generator`` draws Gumbel-sampled decisions."""
    with eval_mode(model), torch.inference_mode():
        return model(inputs, policy=policy, generator=generator)


def routine_inputs(model: AQAModel, features: RoutineFeatures) -> dict[str, Tensor]:
    """One routine as the model's input: a batch of one (1, T, D) float32 per modality the
    model reads, on the model's device."""
    device = next(model.parameters()).device
    return {m: torch.as_tensor(features.features[m], dtype=torch.float32, device=device).unsqueeze(0)
            for m in model.config.modalities}


def predictor(model: AQAModel) -> Predictor:
    """The model's final score as a :data:`Predictor` (evaluation of a split)."""
    return lambda feats: run_model(model, feats).score


def score_batch(model: AQAModel, batch: Mapping[str, np.ndarray], device: str = "cpu") -> np.ndarray:
    """Normalised scores (B,) of a batch of routines ``{modality: (B, T, D)}``."""
    inputs = {m: torch.as_tensor(a, dtype=torch.float32, device=device) for m, a in batch.items()}
    return run_model(model, inputs).score.detach().float().cpu().numpy().reshape(-1)


def predict_scores(
    model: AQAModel, routines: Sequence[RoutineFeatures], label_scale: float, device: str = "cpu", batch_size: int = 16,
    keys: Sequence[str] | None = None,
) -> dict[str, float]:
    """Predicted score of each routine in the data set's units, keyed by ``keys`` (by
    default the routine ids the files store; a data set names its routines in labels.csv,
    which may differ, and two of its files may store one id).

    Routines with the same number of segments are scored together in batches of up to
    ``batch_size`` (no padding, so each score equals the routine scored alone)."""
    keys = [f.routine_id for f in routines] if keys is None else list(keys)
    if len(keys) != len(routines):
        raise ValueError(f"{len(keys)} keys for {len(routines)} routines")
    modalities = model_modalities(model)
    by_length: dict[int, list[int]] = {}
    for i, f in enumerate(routines):
        by_length.setdefault(f.T, []).append(i)
    out: dict[int, float] = {}
    for group in by_length.values():
        for first in range(0, len(group), batch_size):
            chunk = group[first : first + batch_size]
            batch = {m: np.stack([routines[i].features[m] for i in chunk]) for m in modalities}
            for i, score in zip(chunk, score_batch(model, batch, device)):
                out[i] = float(score) * label_scale
    return {keys[i]: out[i] for i in range(len(routines))}


def model_modalities(model: AQAModel) -> tuple[str, ...]:
    """The modalities a model reads (all three for a model without a config)."""
    config = getattr(model, "config", None)
    return tuple(getattr(config, "modalities", MODALITIES))
