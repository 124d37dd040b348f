"""The paper's model presets as data (no torch import: the command line reads the names)."""

from __future__ import annotations

from typing import Any

PAPER_INPUT_DIMS: dict[str, int] = {"V": 1024, "F": 1024, "A": 768}
PAPER_EXTRACTORS: dict[str, str] = {"V": "VST", "F": "I3D", "A": "AST"}
PAPER_EXTRACTORS_2: dict[str, str] = {"V": "UMT", "F": "I3D", "A": "MAST"}

PRESETS: dict[str, dict[str, Any]] = {
    "rg": {"K": 10, "label_scale": 25.0, "feature_extractors": PAPER_EXTRACTORS},
    "fisv": {"K": 6, "label_scale": 45.0, "feature_extractors": PAPER_EXTRACTORS},
    "rg_feats2": {"K": 6, "label_scale": 25.0, "regressor_ratio": 1, "msfd_heads": 4, "cmfd_heads": 2,
                  "feature_extractors": PAPER_EXTRACTORS_2},
    "fisv_feats2": {"K": 8, "label_scale": 45.0, "regressor_ratio": 1, "msfd_heads": 2, "cmfd_heads": 4,
                    "feature_extractors": PAPER_EXTRACTORS_2},
}
"""Section IV-C: RG uses K=10 FusionNets and scores out of 25, Fis-V K=6 and 45 (features
VST / I3D / AST). The second feature set (Table III: UMT / I3D / MAST) comes with the
released configs ``RG_feats2`` / ``FISV_feats2``: K 6 / 8, regressor width ratio 1,
multi-head MSFD (4 / 2 heads) and CMFD (2 / 4 heads)."""

__all__ = ["PAPER_EXTRACTORS", "PAPER_EXTRACTORS_2", "PAPER_INPUT_DIMS", "PRESETS"]
