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
    """Cross-attention with the NEGATED scaled dot product (paper eqs. 4 and 11), ``heads`` heads.

    Per head h: ``softmax(-(Q_h K_h^T) / sqrt(d / heads) + mask) V_h`` over N items per time
    step; the heads' outputs are concatenated (d wide), with no output projection, residual
    or norm. One head is the paper's decoder. The returned weights are the heads' mean (rows
    still sum to 1): the per-step modality (MSFD) or FusionNet (CMFD) weight.
    """

    def __init__(self, d: int, dropout: float, heads: int = 1) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"attention width {d} is not divisible by {heads} heads")
        self.heads = heads
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(d // heads)

    def forward(self, query: Tensor, items: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """query (B, T, d), items (B, T, N, d), mask (B, T, N) additive -> (B, T, d), (B, T, N)."""
        h = self.heads
        q = self.query(query).unflatten(-1, (h, -1))  # (B, T, h, d_h)
        k = self.key(items).unflatten(-1, (h, -1))  # (B, T, N, h, d_h)
        v = self.value(items).unflatten(-1, (h, -1))
        scores = -torch.einsum("bthd,btnhd->bthn", q, k) * self.scale
        if mask is not None:
            scores = scores + mask.unsqueeze(2)
        weights = scores.softmax(dim=-1)
        out = torch.einsum("bthn,btnhd->bthd", self.dropout(weights), v).flatten(2)
        return out, weights.mean(dim=2)


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
