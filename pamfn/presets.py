"""The paper's tasks, released data sets and feature sets, model presets and variants as data (no torch
import: the command line reads the names)."""

from __future__ import annotations

from typing import Any

TASKS: tuple[str, str] = ("score", "highlight")
"""What the model outputs: one score per routine (AQA) or a highlight probability per segment (Section IV-G)."""

PAPER_INPUT_DIMS: dict[str, int] = {"V": 1024, "F": 1024, "A": 768}
PAPER_EXTRACTORS: dict[str, str] = {"V": "VST", "F": "I3D", "A": "AST"}
PAPER_EXTRACTORS_2: dict[str, str] = {"V": "UMT", "F": "I3D", "A": "MAST"}
FEATURE_SETS: dict[str, dict[str, str]] = {"/".join(e.values()): e for e in (PAPER_EXTRACTORS, PAPER_EXTRACTORS_2)}
"""The released feature sets by name (``VST/I3D/AST``, ``UMT/I3D/MAST``): the paper's main one, and the second (Table III)."""
LABEL_SCALES: dict[str, float] = {"rg": 25.0, "fisv": 45.0}
"""The released data sets (RG, Fis-V) and the score a normalised 1 stands for in each."""
RG_ACTIONS: tuple[str, str, str, str] = ("ball", "clubs", "hoop", "ribbon")
"""The four apparatus of rhythmic gymnastics, the actions of RG (and of the generated sample benchmark)."""

PRESETS: dict[str, dict[str, Any]] = {
    "rg": {"K": 10, "label_scale": LABEL_SCALES["rg"], "feature_extractors": PAPER_EXTRACTORS},
    "fisv": {"K": 6, "label_scale": LABEL_SCALES["fisv"], "feature_extractors": PAPER_EXTRACTORS},
    "rg_feats2": {"K": 6, "label_scale": LABEL_SCALES["rg"], "regressor_ratio": 1, "msfd_heads": 4, "cmfd_heads": 2,
                  "feature_extractors": PAPER_EXTRACTORS_2},
    "fisv_feats2": {"K": 8, "label_scale": LABEL_SCALES["fisv"], "regressor_ratio": 1, "msfd_heads": 2, "cmfd_heads": 4,
                    "feature_extractors": PAPER_EXTRACTORS_2},
}
"""Section IV-C: RG uses K=10 FusionNets and scores out of 25, Fis-V K=6 and 45 (features
VST / I3D / AST). The second feature set (Table III: UMT / I3D / MAST) comes with the
released configs ``RG_feats2`` / ``FISV_feats2``: K 6 / 8, regressor width ratio 1,
multi-head MSFD (4 / 2 heads) and CMFD (2 / 4 heads)."""

VARIANTS: dict[str, tuple[Any, ...]] = {
    "model": ("pamfn", "late_fusion"),
    "fusionnets": ("ranked", "unranked", "free"),
    "msfd": ("attention", "none", "weighted"),
    "cmfd": ("attention", "none", "weighted"),
    "fusion_stages": (1, 2, 3),
    "fusion": ("avg", "cat", "weighted", "attention"),
    "training": ("two_stage", "one_stage"),
}
"""The model variants of Tables IV-VIII: each variant field of PAMFNConfig and its
choices. The config validates against it, ``pamfn train`` offers it
as options, the tests cover every choice; a new variant value is one entry here plus
its branch in the model."""

VARIANT_HELP: dict[str, str] = {
    "model": "pamfn, or the late-fusion baselines of Table V",
    "fusionnets": "ranked (the paper), unranked or free FusionNets (Table VII)",
    "msfd": "the MSFD decoder: attention (the paper), none, or Weighted Fusion (Table VI)",
    "cmfd": "the CMFD decoder: attention (the paper), none, or Weighted Fusion (Table VI)",
    "fusion_stages": "fuse in the first 1, 2 or all 3 stages (Table VIII)",
    "fusion": "late-fusion kind (Table V)",
    "training": "two_stage (the paper) or one_stage (Table V)",
}

__all__ = ["FEATURE_SETS", "LABEL_SCALES", "PAPER_EXTRACTORS", "PAPER_EXTRACTORS_2", "PAPER_INPUT_DIMS", "PRESETS", "RG_ACTIONS",
           "TASKS", "VARIANTS", "VARIANT_HELP"]
