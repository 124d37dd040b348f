"""The PAMFN model family: the paper's network, its ablation variants and baselines.

``build_model(cfg)`` returns PAMFN, the unimodal model (one modality) or a late-fusion
baseline (``cfg.model == "late_fusion"``); all take ``{"V": v, "F": f, "A": a}`` and
return a :class:`PAMFNOutput`.
"""

from __future__ import annotations

from pamfn.model.base import AQAModel, PAMFNOutput, StageTrace, validate_inputs
from pamfn.model.baselines import LateFusionModel, UnimodalModel
from pamfn.model.branch import ModalityBranch
from pamfn.model.config import PAMFNConfig
from pamfn.model.fusion import set_fast_fusionnets
from pamfn.model.pamfn import PAMFN


def build_model(cfg: PAMFNConfig) -> AQAModel:
    """The model ``cfg`` describes, freshly initialised, in training mode."""
    if cfg.model == "late_fusion":
        return LateFusionModel(cfg)
    if cfg.unimodal:
        return UnimodalModel(cfg)
    return PAMFN(cfg)


__all__ = [
    "PAMFN",
    "AQAModel",
    "LateFusionModel",
    "ModalityBranch",
    "PAMFNConfig",
    "PAMFNOutput",
    "StageTrace",
    "UnimodalModel",
    "build_model",
    "set_fast_fusionnets",
    "validate_inputs",
]
