"""The stages a run trains: phase 1 (one branch alone, optionally with the autoencoding
term), phase 2 or one-stage training (:func:`joint_stage`), and phase 2's distillation
teacher."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from pamfn.data.tensors import SplitTensors
from pamfn.evaluate import score_split
from pamfn.model import AQAModel
from pamfn.train.loop import Stage
from pamfn.train.recipe import PhaseRecipe


def branch_stage(name: str, model: AQAModel, recipe: PhaseRecipe, epochs: int) -> Stage:
    """Phase 1: a unimodal ``model`` (its branch alone), every parameter at the recipe's lr.
    With ``recipe.recon``, the autoencoding term through a linear read-out trained beside
    it (saved and resumed with the stage, never shipped)."""
    trained: nn.Module = model
    training_forward = None
    if recipe.recon > 0:
        (m,) = model.config.modalities
        readout = nn.Conv1d(model.config.d, model.config.input_dims[m], 1).to(next(model.parameters()).device)
        trained = nn.ModuleDict({"model": model, "readout": readout})
        training_forward = autoencoding_forward(model, readout, m, recipe.recon)
    return Stage(
        name=name,
        model=trained,
        predictor=lambda feats: model(feats).score,
        param_groups=[{"params": list(trained.parameters()), "lr_scale": 1.0}],
        recipe=recipe,
        epochs=epochs,
        train_mode=trained.train,
        eval_mode=trained.eval,
        training_forward=training_forward,
    )


def joint_stage(name: str, model: AQAModel, recipe: PhaseRecipe, epochs: int) -> Stage:
    """Phase 2 of two-stage training (frozen V and F, see ``AQAModel.set_phase2_mode``), or
    one-stage training of everything; the final regressor at ``recipe.regressor_lr_scale``."""
    if model.config.training == "two_stage":
        model.set_phase2_mode()
        train_mode = model.set_phase2_mode
    else:
        train_mode = model.train
    head = {id(p) for p in model.regressor.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if id(p) not in head], "lr_scale": 1.0},
        {"params": [p for p in trainable if id(p) in head], "lr_scale": recipe.regressor_lr_scale},
    ]
    return Stage(
        name=name,
        model=model,
        predictor=lambda feats: model(feats).score,
        param_groups=[g for g in groups if g["params"]],
        recipe=recipe,
        epochs=epochs,
        train_mode=train_mode,
        eval_mode=model.eval,
    )


def pick_teacher(model: AQAModel, select: SplitTensors) -> tuple[str, float]:
    """Phase 2's distillation teacher: the frozen branch whose own score ranks the
    validation routines best, and that rho."""
    model.eval()
    rhos = {m: score_split(branch_predictor(model, m), select).rho for m in model.config.frozen_modalities}
    best = max(rhos, key=lambda m: -math.inf if math.isnan(rhos[m]) else rhos[m])
    return best, rhos[best]


def autoencoding_forward(
    model: AQAModel, readout: nn.Module, m: str, weight: float
) -> Callable[[dict[str, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]:
    """Phase 1's training pass with the autoencoding term (``PhaseRecipe.recon``): the
    branch's score, and ``weight`` times the mean squared error of the linear read-out of
    its embedding e0 against its own (standardised) input features."""

    def forward(feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        scores, embedded = model.run_branches(feats)
        x = feats[m].mean(dim=2) if feats[m].dim() == 4 else feats[m]
        return scores[m], weight * nn.functional.mse_loss(readout(embedded[m][0]), x.transpose(1, 2).to(embedded[m][0].dtype))

    return forward


def branch_predictor(model: AQAModel, m: str) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """Modality ``m``'s own branch score of (normalised) features."""
    return lambda feats: model.branches[m](feats[m])[0]
