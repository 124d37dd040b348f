"""The Progressive Adaptive Multimodal Fusion Network (Section III).

Three modality-specific branches expose features e0..e3; the mixed-modality branch starts
from a zero feature and, in each of three stages i, refines it with a convolution block,
then takes in modality-specific information through the MSFD (from e_i), and cross-modal
information through the Adaptive Fusion Module (K FusionNets and the PolicyNet, from
e_{i-1}) and the CMFD. Stage 1 runs at max(T//2, 1) steps, stage 2 at max(T//4, 1), stage 3
at one step; the final regressor scores the last mixed feature. The highlight-detection
variant (Section IV-G, ``config.task == "highlight"``) removes every pooling layer and
applies the regressor per segment as a classification head.

As in the released implementation, the V and F branch features are detached before the
mixed branch in two-stage training (those branches are frozen), the audio features are
not (the audio branch is fine-tuned). See :mod:`pamfn.model.base` for the phase-2
BatchNorm choice.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from pamfn import MODALITIES
from pamfn.model.base import AQAModel, PAMFNOutput, StageTrace, make_branches
from pamfn.model.config import PAMFNConfig
from pamfn.model.decoders import CMFD, MSFD, WeightedCMFD, WeightedMSFD
from pamfn.model.fusion import AdaptiveFusionModule, resolve_policy
from pamfn.model.layers import Pool, conv_bn, global_pool, halve_time, identity_pool


def _full_modalities(x: Tensor, modalities: tuple[str, ...]) -> Tensor:
    """Spread a (..., n) tensor over the modalities used to (..., 3) in V, F, A order."""
    if len(modalities) == len(MODALITIES):
        return x
    out = x.new_zeros((*x.shape[:-1], len(MODALITIES)))
    out[..., [MODALITIES.index(m) for m in modalities]] = x
    return out


class MixedStage(nn.Module):
    """One stage of the mixed-modality branch.

    ``c <- conv block(c) + shortcut(c)``; with fusion, MSFD, AFM and CMFD follow and the
    stage outputs ``concat(c, MSFD output, CMFD output)``; without fusion it outputs ``c``.
    """

    def __init__(self, cfg: PAMFNConfig, index: int, c_in: int, fuse: bool) -> None:
        super().__init__()
        d, n = cfg.d, len(cfg.modalities)
        self.index, self.fuse, self.modalities = index, fuse, cfg.modalities
        self.pool: Pool = identity_pool if cfg.task == "highlight" else global_pool if index == 3 else halve_time
        self.conv = nn.Sequential(*conv_bn(c_in, d, 3, nn.ReLU()), *conv_bn(d, d, 3, nn.ReLU()))
        self.shortcut = conv_bn(c_in, d, 1, nn.ReLU())
        self.msfd: nn.Module | None = None
        self.cmfd: nn.Module | None = None
        self.afm: AdaptiveFusionModule | None = None
        if not fuse:
            return
        if cfg.msfd == "attention":
            self.msfd = MSFD(d, cfg.attn_dropout, cfg.msfd_heads)
        elif cfg.msfd == "weighted":
            self.msfd = WeightedMSFD(n)
        if cfg.cmfd != "none":
            self.afm = AdaptiveFusionModule(cfg.modalities, d, cfg.K, cfg.fusionnets, cfg.mask_value, cfg.fast_fusionnets)
            query_in = d * (1 + (self.msfd is not None))
            self.cmfd = CMFD(query_in, d, cfg.attn_dropout, cfg.cmfd_heads) if cfg.cmfd == "attention" else WeightedCMFD(cfg.K)

    @property
    def out_channels(self) -> int:
        return self.conv[3].out_channels * (1 + (self.msfd is not None) + (self.cmfd is not None))

    def forward(
        self,
        c: Tensor,
        prev: list[Tensor],
        current: list[Tensor],
        tau: Tensor,
        policy: str,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, StageTrace | None]:
        """c (B, C, T_i); prev: per modality e_{i-1} (B, d, T_{i-1}); current: e_i (B, d, T_i)."""
        c = self.conv(c) + self.shortcut(c)
        if not self.fuse:
            return c, None
        trace = StageTrace(stage=self.index)
        parts = [c]
        if self.msfd is not None:
            ms, weights = self.msfd(c, torch.stack(current, dim=1).permute(0, 3, 1, 2))
            parts.append(ms.transpose(1, 2))
            trace.msfd_weights = _full_modalities(weights, self.modalities)
        if self.cmfd is not None and self.afm is not None:
            afm = self.afm(prev, self.pool, tau, policy, generator)
            cs, attention = self.cmfd(torch.cat(parts, dim=1), afm["cross"], afm["mask"])
            parts.append(cs.transpose(1, 2))
            trace.policy_probs, trace.fusion_count, trace.enabled = afm["probs"], afm["count"], afm["enabled"]
            trace.fusion_weights = _full_modalities(afm["alpha"], self.modalities)
            trace.cmfd_attention = attention
        return torch.cat(parts, dim=1), trace


class PAMFN(AQAModel):
    """The full model: branches, three mixed stages, the regressor (at 0.1x lr in phase 2)."""

    def __init__(self, cfg: PAMFNConfig) -> None:
        super().__init__(cfg)
        self.branches = make_branches(cfg)
        self.tau = nn.Parameter(torch.tensor(float(cfg.tau_init)))
        self.init_mixed = nn.Parameter(torch.zeros(cfg.mixed_width), requires_grad=False)
        self.feat_dropout = nn.Dropout(cfg.feat_dropout)
        stages, c_in = [], cfg.mixed_width
        for i in (1, 2, 3):
            stage = MixedStage(cfg, i, c_in, fuse=i <= cfg.fusion_stages)
            stages.append(stage)
            c_in = stage.out_channels
        self.stages = nn.ModuleList(stages)
        pooled = cfg.task == "score"
        self.between: tuple[Pool, ...] = (halve_time, global_pool, identity_pool) if pooled else (identity_pool,) * 3
        hidden = cfg.d // cfg.regressor_ratio
        self.regressor = nn.Sequential(
            nn.Dropout(0.0),
            nn.Conv1d(c_in, hidden, 1),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(cfg.regressor_dropout),
            nn.Conv1d(hidden, 1, 1),
            nn.Sigmoid(),
        )

    def expose(self, m: str, e: Tensor) -> Tensor:
        """A branch feature as the mixed branch sees it: detached if frozen, then dropout."""
        return self.feat_dropout(e.detach() if m in self.config.frozen_modalities else e)

    def forward(
        self, inputs: Mapping[str, Tensor], policy: str = "auto", generator: torch.Generator | None = None
    ) -> PAMFNOutput:
        """inputs: modality -> (B, T, D_m) or (B, T, n, D_m). policy: see :func:`resolve_policy`."""
        policy = resolve_policy(policy, self.training)
        scores, feats = self.run_branches(inputs)
        exposed = [[self.expose(m, e) for e in feats[m]] for m in self.config.modalities]
        B, T1 = exposed[0][1].shape[0], exposed[0][1].shape[-1]
        c = self.init_mixed.view(1, -1, 1).expand(B, -1, T1)
        traces = []
        for i, (stage, between) in enumerate(zip(self.stages, self.between)):
            prev = [f[i] for f in exposed]
            current = [f[i + 1] for f in exposed]
            c, trace = stage(c, prev, current, self.tau, policy, generator)
            if trace is not None:
                traces.append(trace)
            c = between(c)
        score = self.regressor(c)[:, 0]  # (B, 1) for the pooled score, (B, T) per segment
        return PAMFNOutput(score=score.reshape(B) if self.config.task == "score" else score, branch_scores=scores, stages=traces)
