"""Baselines of Section IV-E/F: the unimodal model and the late-fusion models.

Late fusion (Table V) combines the outputs of the branches' last convolution block (e3)
with AVG, CAT (concatenation + one FC layer back to d), Weighted (learnable softmax
weights) or Attention (an FC layer on the concatenated features gives per-sample
softmax weights), then two FC layers regress the score. One-stage training trains the
branches jointly; two-stage training starts from pretrained branches and freezes V and F
like PAMFN's phase 2 (``config.training``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from pamfn.model.base import AQAModel, PAMFNOutput, make_branches
from pamfn.model.config import PAMFNConfig


class UnimodalModel(AQAModel):
    """One modality-specific branch alone; its regressor is the model's regressor."""

    def __init__(self, cfg: PAMFNConfig) -> None:
        super().__init__(cfg)
        self.branches = make_branches(cfg)

    @property
    def regressor(self) -> nn.Module:  # type: ignore[override]
        """The branch's own regressor (a property, so the state_dict holds it once)."""
        return self.branches[self.config.modalities[0]].regressor

    def forward(self, inputs: Mapping[str, Tensor], policy: str = "auto", generator: torch.Generator | None = None) -> PAMFNOutput:
        scores, _ = self.run_branches(inputs)
        return PAMFNOutput(score=scores[self.config.modalities[0]], branch_scores=scores)


class LateFusion(nn.Module):
    """Fuse n modality features (B, n, d) into one (B, d)."""

    def __init__(self, kind: str, n: int, d: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "cat":
            self.reduce = nn.Linear(n * d, d)
        elif kind == "weighted":
            self.logits = nn.Parameter(torch.zeros(n))
        elif kind == "attention":
            self.attention = nn.Linear(n * d, n)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "avg":
            return x.mean(dim=1)
        if self.kind == "cat":
            return self.reduce(x.flatten(1))
        weights = self.logits.softmax(dim=0).expand(x.shape[:2]) if self.kind == "weighted" else self.attention(x.flatten(1)).softmax(dim=1)
        return torch.einsum("bn,bnd->bd", weights, x)


class LateFusionModel(AQAModel):
    """Branches -> late fusion of their e3 features -> two-FC regressor."""

    def __init__(self, cfg: PAMFNConfig) -> None:
        super().__init__(cfg)
        self.branches = make_branches(cfg)
        self.fusion = LateFusion(cfg.fusion, len(cfg.modalities), cfg.d)
        half = cfg.d // 2
        self.regressor = nn.Sequential(
            nn.Linear(cfg.d, half), nn.ReLU(), nn.Dropout(cfg.regressor_dropout), nn.Linear(half, 1), nn.Sigmoid()
        )

    def forward(self, inputs: Mapping[str, Tensor], policy: str = "auto", generator: torch.Generator | None = None) -> PAMFNOutput:
        scores, feats = self.run_branches(inputs)
        frozen = self.config.frozen_modalities
        last = [feats[m][3].detach() if m in frozen else feats[m][3] for m in self.config.modalities]
        fused = self.fusion(torch.stack(last, dim=1).squeeze(-1))
        return PAMFNOutput(score=self.regressor(fused).reshape(-1), branch_scores=scores)
