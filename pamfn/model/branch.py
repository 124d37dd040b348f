"""The modality-specific branch (Section III-B1): embedding, three residual 1-D
convolution stages with pooling, and a sigmoid regressor."""

from __future__ import annotations

from torch import Tensor, nn

from pamfn.model.layers import conv_bn, global_pool, halve_time, identity_pool

_POOLS = {"global": global_pool, "halve": halve_time, "none": identity_pool}


class ResidualBlock(nn.Module):
    """x + g2(g1(x)) with g = conv(k=3) -> BatchNorm -> GELU, then the stage's pool."""

    def __init__(self, d: int, pool: str) -> None:
        super().__init__()
        self.conv1 = conv_bn(d, d, 3, nn.GELU())
        self.conv2 = conv_bn(d, d, 3, nn.GELU())
        self.pool = _POOLS[pool]

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(x + self.conv2(self.conv1(x)))


class ModalityBranch(nn.Module):
    """One modality's branch: (B, T, d_in) -> its own score and features [e0, e1, e2, e3].

    e0 is the embedding (length T), e1 and e2 follow blocks 1 and 2 with their halving
    pools (lengths max(T//2, 1), max(T//4, 1)), e3 follows block 3's global pool (length 1).
    Without pooling (``pooled=False``, highlight detection) every e_j has length T and the
    score is per segment, (B, T).
    """

    def __init__(self, d_in: int, d: int, dropout: float, embed_dropout: float = 0.3, pooled: bool = True) -> None:
        super().__init__()
        self.d_in = d_in
        self.embedding = nn.Sequential(
            nn.Conv1d(d_in, 512, 1),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Conv1d(512, d, 1),
            nn.BatchNorm1d(d),
            nn.ReLU(),
            nn.Dropout(embed_dropout),
        )
        self.pooled = pooled
        pools = ("halve", "halve", "global") if pooled else ("none", "none", "none")
        self.blocks = nn.ModuleList([ResidualBlock(d, pool) for pool in pools])
        self.regressor = nn.Sequential(nn.Dropout(dropout), nn.Conv1d(d, 1, 1), nn.Sigmoid())

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """x (B, T, d_in) or (B, T, n, d_in) (averaged over n) -> score (B,) or (B, T), [e0..e3] (B, d, T_j)."""
        if x.dim() == 4:
            x = x.mean(dim=2)
        e = self.embedding(x.transpose(1, 2))
        feats = [e]
        for block in self.blocks:
            e = block(e)
            feats.append(e)
        score = self.regressor(e)[:, 0]  # (B, T_last): T_last = 1 when pooled
        return (score.reshape(-1) if self.pooled else score), feats
