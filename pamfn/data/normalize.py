"""Per-dimension standardisation of the input features, folded into the first layer.

Hand-made features span very different scales (some dimensions vary by 0.01, others by
2), which slows and destabilises training. Training therefore sees standardised inputs
``(x - mean) / std`` (statistics of the training routines only). The first layer of every
modality-specific branch is a 1x1 convolution, i.e. linear, so the standardisation folds
exactly into its weights: a saved checkpoint takes the raw features like any other, and
the statistics travel in its metadata so training can unfold and continue from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from pamfn import MODALITIES
from pamfn.data.dataset import AQADataset, Sample
from pamfn.ood import segment_statistics

@dataclass(frozen=True)
class InputNorm:
    """Mean and standard deviation per modality and feature dimension."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    @classmethod
    def from_samples(cls, data: AQADataset, samples: Sequence[Sample]) -> InputNorm:
        """Statistics over every segment of ``samples`` (use training routines only)."""
        return cls(*segment_statistics([{m: data.features[s.features][m] for m in MODALITIES} for s in samples]))

    def apply(self, m: str, x: np.ndarray) -> np.ndarray:
        return (x - self.mean[m]) / self.std[m]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": {m: v.tolist() for m, v in self.mean.items()}, "std": {m: v.tolist() for m, v in self.std.items()}}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> InputNorm:
        return cls(
            {m: np.asarray(v, dtype=np.float32) for m, v in doc["mean"].items()},
            {m: np.asarray(v, dtype=np.float32) for m, v in doc["std"].items()},
        )

    @torch.no_grad()
    def fold(self, model: nn.Module) -> None:
        """Rewrite each branch's first convolution to take raw features (in place)."""
        for m, branch in model.branches.items():
            conv = branch.embedding[0]
            mean, std = self._tensors(m, conv.weight)
            conv.weight.div_(std)
            conv.bias.sub_((conv.weight * mean).sum(dim=(1, 2)))

    @torch.no_grad()
    def unfold(self, model: nn.Module) -> None:
        """Inverse of :meth:`fold`: make a raw-feature model take standardised features."""
        for m, branch in model.branches.items():
            conv = branch.embedding[0]
            mean, std = self._tensors(m, conv.weight)
            conv.bias.add_((conv.weight * mean).sum(dim=(1, 2)))
            conv.weight.mul_(std)

    def _tensors(self, m: str, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1, 1)
        mean = torch.as_tensor(self.mean[m], dtype=like.dtype, device=like.device).view(shape)
        std = torch.as_tensor(self.std[m], dtype=like.dtype, device=like.device).view(shape)
        return mean, std
