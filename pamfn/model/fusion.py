"""The Adaptive Fusion Module (Section III-D): K FusionNets, the PolicyNet, and the
decision -> mask logic of ranked (and unranked / free) FusionNets.

The K FusionNets' convolution blocks are stored packed, as grouped convolutions with
``groups=K`` (FusionNet k owns channels ``k*d:(k+1)*d``). The fast path runs them in one
call; the reference path loops over k with slices of the same weights. Both read the same
parameters, so the state_dict is the same whichever path runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pamfn.model.layers import Pool

POLICIES = ("auto", "argmax", "sample", "gumbel")
GROUPED_CPU_MAX_POSITIONS = 512
"""Measured crossover (bench/bench_model.py, 1 thread): grouped wins at B*T <= ~300-500."""


class FusionNets(nn.Module):
    """K FusionNets sharing no weights (eqs. 5-6).

    Per modality a small attention net (1x1 conv, BN, ReLU, 1x1 conv to K logits); a
    softmax across the modalities gives alpha[m, k]. FusionNet k mixes
    ``sum_m alpha[m, k] f_m``, refines it with its residual block (conv3, BN, ReLU, conv3,
    BN, ReLU) and pools it to the stage's resolution.
    """

    def __init__(self, modalities: tuple[str, ...], d: int, K: int, fast: bool = True) -> None:
        super().__init__()
        self.modalities, self.d, self.K, self.fast = modalities, d, K, fast
        self.modality_attention = nn.ModuleDict(
            {m: nn.Sequential(nn.Conv1d(d, d, 1), nn.BatchNorm1d(d), nn.ReLU(), nn.Conv1d(d, K, 1)) for m in modalities}
        )
        self.conv1 = nn.Conv1d(K * d, K * d, 3, padding=1, groups=K)
        self.bn1 = nn.BatchNorm1d(K * d)
        self.conv2 = nn.Conv1d(K * d, K * d, 3, padding=1, groups=K)
        self.bn2 = nn.BatchNorm1d(K * d)

    def forward(self, prev: list[Tensor], pool: Pool, active: int | None = None) -> tuple[Tensor, Tensor]:
        """prev: per modality (B, d, T) -> cross-modal features (B, T_i, K, d), alpha (B, T_i, K, n).

        ``active``: compute only FusionNets 0..active-1 and return zeros for the others
        (used in eval when no step enables them: their CMFD weight is exactly 0).
        """
        B, _, T = prev[0].shape
        n = self.K if active is None else active
        logits = torch.stack([self.modality_attention[m](f) for m, f in zip(self.modalities, prev)], dim=1)
        alpha = logits.softmax(dim=1)  # (B, n_modalities, K, T): softmax across modalities
        mixed = torch.einsum("bmkt,bmdt->bkdt", alpha[:, :, :n], torch.stack(prev, dim=1)).reshape(B, n * self.d, T)
        refined = self._blocks_fast(mixed, n) if self.fast else self._blocks_reference(mixed, n)
        out = pool(mixed + refined)
        T_i = out.shape[-1]
        out = out.reshape(B, n, self.d, T_i).permute(0, 3, 1, 2)
        if n < self.K:
            out = torch.cat([out, out.new_zeros(B, T_i, self.K - n, self.d)], dim=2)
        alpha = pool(alpha.reshape(B, -1, T)).reshape(B, len(self.modalities), self.K, T_i).permute(0, 3, 2, 1)
        return out, alpha

    def _blocks_fast(self, x: Tensor, n: int) -> Tensor:
        """Blocks of FusionNets 0..n-1 as grouped convolutions (one call each).

        On CPU, oneDNN's grouped kernel beats separate convolutions only for short
        inputs; above ``GROUPED_CPU_MAX_POSITIONS`` batch x time positions (e.g. training
        batches of 32 x 70) the per-FusionNet convolutions are faster, so they are used.
        """
        if x.device.type == "cpu" and x.shape[0] * x.shape[-1] > GROUPED_CPU_MAX_POSITIONS:
            return self._blocks_reference(x, n)
        sl = slice(0, n * self.d)
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            x = F.conv1d(x, conv.weight[sl], conv.bias[sl], padding=1, groups=n)
            x = F.relu(_batch_norm_slice(bn, x, sl))
        return x

    def _blocks_reference(self, x: Tensor, n: int) -> Tensor:
        """FusionNet by FusionNet, each with its own slice of the packed weights."""
        outs = []
        for k in range(n):
            sl = slice(k * self.d, (k + 1) * self.d)
            y = x[:, sl]
            for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
                y = F.conv1d(y, conv.weight[sl], conv.bias[sl], padding=1)
                y = F.relu(_batch_norm_slice(bn, y, sl))
            outs.append(y)
        return torch.cat(outs, dim=1)


def set_fast_fusionnets(model: nn.Module, fast: bool) -> None:
    """Switch every FusionNets module of ``model`` to the fast (grouped) or reference path."""
    for module in model.modules():
        if isinstance(module, FusionNets):
            module.fast = fast


def _batch_norm_slice(bn: nn.BatchNorm1d, x: Tensor, sl: slice) -> Tensor:
    """BatchNorm over channels ``sl`` of ``bn``; in training, running statistics are
    updated in place (the slices are views) and the batch counter once per forward."""
    if bn.training and sl.start == 0:
        bn.num_batches_tracked += 1
    return F.batch_norm(
        x, bn.running_mean[sl], bn.running_var[sl], bn.weight[sl], bn.bias[sl],
        training=bn.training, momentum=bn.momentum, eps=bn.eps,
    )


class PolicyNet(nn.Module):
    """A 1x1 conv from the concatenated previous-stage features to K logits, then the stage's pool."""

    def __init__(self, n_modalities: int, d: int, K: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(n_modalities * d, K, 1)

    def forward(self, prev: list[Tensor], pool: Pool) -> Tensor:
        """-> logits (B, T_i, K)."""
        return pool(self.conv(torch.cat(prev, dim=1))).transpose(1, 2)


def decide(logits: Tensor, tau: Tensor, policy: str, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The PolicyNet's decision: a choice index (B, T) and its one-hot vector (B, T, K).

    ``argmax``: noiseless argmax of the logits, no gradient. ``sample``: a draw with
    Gumbel noise G (eq. 9), no gradient. ``gumbel``: the same draw with the
    straight-through estimator: the one-hot carries the gradient of
    y = softmax((logits + G) / tau) (eq. 10). As in ``F.gumbel_softmax`` (which the
    released code uses) the draw is argmax of y. Adding the noise to the logits or to
    log P = log softmax(logits) gives the same draw and the same y.
    """
    if policy == "argmax":
        index = logits.argmax(dim=-1)
        return index, F.one_hot(index, logits.shape[-1]).to(logits.dtype)
    gumbel = -torch.empty(logits.shape, dtype=logits.dtype, device=logits.device).exponential_(generator=generator).log()
    soft = ((logits + gumbel) / tau).softmax(dim=-1)
    index = soft.argmax(dim=-1)
    hard = F.one_hot(index, logits.shape[-1]).to(logits.dtype)
    if policy == "sample":
        return index, hard
    return index, hard - soft.detach() + soft


def decision_mask(index: Tensor, one_hot: Tensor, kind: str, mask_value: float) -> tuple[Tensor, Tensor]:
    """Additive mask (B, T, K) and the enabled FusionNets (B, T, K) bool for a decision.

    Ranked: choice j enables FusionNets 0..j (eq. 12's preprocessed mask). Unranked: only
    FusionNet j. Disabled ones get ``mask_value``; ``one_hot - one_hot.detach()`` (zero in
    value) passes the straight-through gradient to the PolicyNet.
    """
    ranks = torch.arange(one_hot.shape[-1], device=index.device)
    enabled = ranks <= index.unsqueeze(-1) if kind == "ranked" else ranks == index.unsqueeze(-1)
    base = torch.zeros_like(one_hot).masked_fill(~enabled, mask_value)
    return base + (one_hot - one_hot.detach()), enabled


def resolve_policy(policy: str, training: bool) -> str:
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    if policy == "auto":
        return "gumbel" if training else "argmax"
    return policy


class AdaptiveFusionModule(nn.Module):
    """FusionNets plus (unless ``free``) the PolicyNet deciding which of them are enabled."""

    def __init__(self, modalities: tuple[str, ...], d: int, K: int, kind: str, mask_value: float, fast: bool) -> None:
        super().__init__()
        self.kind, self.mask_value = kind, mask_value
        self.fusion_nets = FusionNets(modalities, d, K, fast)
        self.policy_net = PolicyNet(len(modalities), d, K) if kind != "free" else None
        self.skip_disabled = True

    def forward(
        self, prev: list[Tensor], pool: Pool, tau: Tensor, policy: str, generator: torch.Generator | None
    ) -> dict[str, Tensor | None]:
        """-> cross-modal features (B, T_i, K, d), mask, enabled, probs, count, alpha.

        In eval mode FusionNets that no step enables are not computed (``skip_disabled``):
        the mask gives them a CMFD weight of exactly 0, so the outputs are unchanged.
        """
        out: dict[str, Tensor | None] = {"mask": None, "probs": None, "count": None}
        active = None
        if self.policy_net is not None:
            logits = self.policy_net(prev, pool)
            index, one_hot = decide(logits, tau, policy, generator)
            out["mask"], out["enabled"] = decision_mask(index, one_hot, self.kind, self.mask_value)
            out["probs"] = logits.softmax(dim=-1)
            out["count"] = index + 1
            if self.skip_disabled and not self.training:
                active = int(out["enabled"].flatten(0, 1).any(dim=0).nonzero().max()) + 1
        out["cross"], out["alpha"] = self.fusion_nets(prev, pool, active)
        if self.policy_net is None:
            out["enabled"] = torch.ones(out["cross"].shape[:3], dtype=torch.bool, device=out["cross"].device)
        return out
