"""Small building blocks shared by the branches and the mixed-modality branch."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Pool = Callable[[Tensor], Tensor]


def halve_time(x: Tensor) -> Tensor:
    """Average pool (kernel 2, stride 2) over the last axis; a trailing odd step is dropped.

    A length-1 sequence is returned unchanged instead of pooled to length 0, so routines
    of 1, 2 or 3 segments still run: the lengths are ``max(T // 2, 1)`` and
    ``max(T // 4, 1)``, as :func:`pamfn.explanation.stage_spans` assumes.
    """
    if x.shape[-1] < 2:
        return x
    return F.avg_pool1d(x, kernel_size=2, stride=2)


def global_pool(x: Tensor) -> Tensor:
    """Average over the whole time axis, keeping it as length 1."""
    return x.mean(dim=-1, keepdim=True)


def identity_pool(x: Tensor) -> Tensor:
    return x


def conv_bn(c_in: int, c_out: int, kernel: int, act: nn.Module) -> nn.Sequential:
    """Conv1d (same padding) -> BatchNorm -> activation."""
    return nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm1d(c_out), act)


class NegatedAttention(nn.Module):
    """One-head cross-attention with the NEGATED scaled dot product (paper eqs. 4 and 11).

    ``softmax(-(Q K^T) / sqrt(d) + mask) V`` over N items per time step; no output
    projection, residual or norm. Returns the attended features and the weights.
    """

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, query: Tensor, items: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """query (B, T, d), items (B, T, N, d), mask (B, T, N) additive -> (B, T, d), (B, T, N)."""
        q = self.query(query)
        k = self.key(items)
        v = self.value(items)
        scores = -torch.einsum("btd,btnd->btn", q, k) * self.scale
        if mask is not None:
            scores = scores + mask
        weights = scores.softmax(dim=-1)
        out = torch.einsum("btn,btnd->btd", self.dropout(weights), v)
        return out, weights


class WeightedFusion(nn.Module):
    """Weighted Fusion [62]: learnable weights, softmax-normalised, one per fused item."""

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_items))

    def forward(self, items: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """items (B, T, N, d), mask (B, T, N) additive -> (B, T, d), weights (B, T, N)."""
        scores = self.logits.expand(items.shape[:-1])
        if mask is not None:
            scores = scores + mask
        weights = scores.softmax(dim=-1)
        return torch.einsum("btn,btnd->btd", weights, items), weights
