"""The Modality-specific Feature Decoder (MSFD, Section III-C) and the Cross-modal Feature
Decoder (CMFD, Section III-E), each with its Weighted Fusion replacement (Table VI)."""

from __future__ import annotations

from torch import Tensor, nn

from pamfn.model.layers import NegatedAttention, WeightedFusion


class MSFD(nn.Module):
    """Cross-attention from the mixed feature to the current modality-specific features.

    query = attention.query(1x1 conv(c)); keys and values: the modalities' features at the
    same time step. The softmax row is the per-step modality weight.
    """

    def __init__(self, d: int, dropout: float, heads: int = 1) -> None:
        super().__init__()
        self.query_proj = nn.Conv1d(d, d, 1)
        self.attention = NegatedAttention(d, dropout, heads)

    def forward(self, c: Tensor, current: Tensor) -> tuple[Tensor, Tensor]:
        """c (B, d, T), current (B, T, n, d) -> (B, T, d), weights (B, T, n)."""
        return self.attention(self.query_proj(c).transpose(1, 2), current)


class WeightedMSFD(nn.Module):
    """MSFD replaced by Weighted Fusion: learnable softmax weights over the modalities."""

    def __init__(self, n_modalities: int) -> None:
        super().__init__()
        self.fusion = WeightedFusion(n_modalities)

    def forward(self, c: Tensor, current: Tensor) -> tuple[Tensor, Tensor]:
        return self.fusion(current)


class CMFD(nn.Module):
    """Cross-attention from the mixed feature to the K cross-modal features, masked by the decision.

    query = attention.query(-(1x1 conv(concat(c, MSFD output)))): the released
    implementation negates the projected query before the attention's own linear map.
    """

    def __init__(self, query_in: int, d: int, dropout: float, heads: int = 1) -> None:
        super().__init__()
        self.query_proj = nn.Conv1d(query_in, d, 1)
        self.attention = NegatedAttention(d, dropout, heads)

    def forward(self, query_in: Tensor, cross: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """query_in (B, C, T), cross (B, T, K, d), mask (B, T, K) -> (B, T, d), attention (B, T, K)."""
        return self.attention(-self.query_proj(query_in).transpose(1, 2), cross, mask)


class WeightedCMFD(nn.Module):
    """CMFD replaced by Weighted Fusion: learnable softmax weights over the enabled FusionNets."""

    def __init__(self, K: int) -> None:
        super().__init__()
        self.fusion = WeightedFusion(K)

    def forward(self, query_in: Tensor, cross: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.fusion(cross, mask)
