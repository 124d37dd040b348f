"""What every model of the family shares: outputs with traces, input validation at the
model boundary, modality branches, and the phase-2 mode.

Phase 2 and BatchNorm (a deliberate choice): the released implementation puts the whole
model in training mode in phase 2, so the frozen V and F branches keep updating their
BatchNorm running statistics and apply their dropout although no gradient reaches their
weights. Here :meth:`AQAModel.set_phase2_mode` puts the model in training mode but holds
the frozen branches in evaluation mode (running statistics fixed, dropout off) and stops
their gradients: a frozen branch then computes exactly the features it was pretrained to
compute, identical between training and test. The mixed branch's own feature dropout on
the exposed branch features (``feat_dropout``) stays active in training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from pamfn.errors import FeatureError
from pamfn.model.branch import ModalityBranch
from pamfn.model.config import PAMFNConfig


@dataclass
class StageTrace:
    """What one fusion stage did, per sample and step. Fields of absent modules are None.

    msfd_weights (B, T_i, 3): MSFD modality weights in V, F, A order (0 for a modality
    the model does not use), rows sum to 1. policy_probs (B, T_i, K): PolicyNet
    probabilities. fusion_count (B, T_i) int64 in 1..K: the decision a; for ranked
    FusionNets the number enabled, for unranked ones the rank of the single enabled one.
    fusion_weights (B, T_i, K, 3): each FusionNet's modality weights, averaged over the
    step's segments. cmfd_attention (B, T_i, K): CMFD weights over the FusionNets.
    enabled (B, T_i, K) bool: which FusionNets the mask let through.
    """

    stage: int
    msfd_weights: Tensor | None = None
    policy_probs: Tensor | None = None
    fusion_count: Tensor | None = None
    fusion_weights: Tensor | None = None
    cmfd_attention: Tensor | None = None
    enabled: Tensor | None = None


@dataclass
class PAMFNOutput:
    """score (B,) normalised to [0, 1] (highlight task: (B, T), each segment's highlight
    probability); branch_scores: per used modality, same shape; stage traces."""

    score: Tensor
    branch_scores: dict[str, Tensor]
    stages: list[StageTrace] = field(default_factory=list)


def validate_inputs(inputs: Mapping[str, Tensor], cfg: PAMFNConfig) -> dict[str, Tensor]:
    """Check the features of the modalities ``cfg`` uses; return them as (B, T, D_m).

    A (B, T, n, D) input is averaged over n. Raises FeatureError naming the modality and
    expected vs found shape, for missing modalities, wrong dims, mismatched T or batch,
    and NaN/Inf values.
    """
    if not isinstance(inputs, Mapping):
        raise FeatureError(f"model input must be a dict of modality -> tensor, got {type(inputs).__name__}")
    missing = [m for m in cfg.modalities if m not in inputs]
    if missing:
        raise FeatureError(f"model input lacks modalities {missing} (this model uses {list(cfg.modalities)})")
    out: dict[str, Tensor] = {}
    for m in cfg.modalities:
        x = inputs[m]
        if not isinstance(x, Tensor):
            raise FeatureError(f"modality {m}: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() not in (3, 4):
            raise FeatureError(f"modality {m}: expected shape (B, T, {cfg.input_dims[m]}) or (B, T, n, D), got {tuple(x.shape)}")
        if x.shape[-1] != cfg.input_dims[m]:
            raise FeatureError(f"modality {m}: expected feature dim {cfg.input_dims[m]}, got {x.shape[-1]} (shape {tuple(x.shape)})")
        if x.shape[1] == 0 or x.shape[0] == 0 or (x.dim() == 4 and x.shape[2] == 0):
            raise FeatureError(f"modality {m}: empty input of shape {tuple(x.shape)}")
        if not torch.is_floating_point(x):
            raise FeatureError(f"modality {m}: expected a float tensor, got {x.dtype}")
        if not torch.isfinite(x).all():
            raise FeatureError(f"modality {m}: features contain NaN or infinite values")
        out[m] = x.mean(dim=2) if x.dim() == 4 else x
    shapes = {m: tuple(x.shape[:2]) for m, x in out.items()}
    if len(set(shapes.values())) > 1:
        raise FeatureError(f"modalities differ in (batch, segments): {shapes}; all must have the same T")
    return out


def make_branches(cfg: PAMFNConfig) -> nn.ModuleDict:
    return nn.ModuleDict(
        {m: ModalityBranch(cfg.input_dims[m], cfg.d, cfg.branch_dropout, cfg.embed_dropout, pooled=cfg.task == "score")
         for m in cfg.modalities}
    )


class AQAModel(nn.Module):
    """Base of PAMFN and the baselines: ``branches``, ``regressor``, ``config``, phase-2 mode."""

    branches: nn.ModuleDict
    regressor: nn.Module

    def __init__(self, cfg: PAMFNConfig) -> None:
        super().__init__()
        self.config = cfg
        self.phase2 = False

    def run_branches(self, inputs: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, list[Tensor]]]:
        """Validate the inputs and run every branch: scores (B,) and features [e0..e3]."""
        x = validate_inputs(inputs, self.config)
        scores, feats = {}, {}
        for m in self.config.modalities:
            scores[m], feats[m] = self.branches[m](x[m])
        return scores, feats

    def set_phase2_mode(self, enabled: bool = True) -> AQAModel:
        """Train mode for the whole model, frozen branches (``config.frozen_modalities``)
        held in eval mode with their gradients off. Sticky across later ``train()`` calls."""
        self.phase2 = enabled
        for m in self.config.frozen_modalities:
            self.branches[m].requires_grad_(not enabled)
        return self.train()

    def train(self, mode: bool = True) -> AQAModel:
        super().train(mode)
        if mode and self.phase2:
            for m in self.config.frozen_modalities:
                self.branches[m].eval()
        return self
