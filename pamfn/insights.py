"""Explanations a coach can read, each naming the stretch of the routine it rests on.

- **Moments that moved the score**: occlusion with a neutral baseline
  (:mod:`pamfn.occlusion`); only windows whose impact clearly exceeds their noise.
- **Where the model leaned on the music, the picture or the motion**: windows whose
  content raised a modality's stage-2 MSFD weight beyond that weight's own noise (the
  same occlusion scan).
- **Where it fused more FusionNets**: stretches where the PolicyNet's expected
  FusionNet count is at least one above its mean, named with the stretch those decisions
  depend on (:mod:`pamfn.dependence`).

Pure library code: explanations and occlusion tables in, :class:`Insight` statements out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.decisions import expected_count, normalised_entropy
from pamfn.explanation import Explanation, StageExplanation
from pamfn.occlusion import WEIGHT_STAGE, WINDOW, zscore

MODALITY_PLAIN: dict[str, str] = {"V": "the picture (RGB)", "F": "the motion (optical flow)", "A": "the music (audio)"}


@dataclass(frozen=True)
class Insight:
    """One plain-language statement about the window [start_s, end_s) of a routine."""

    kind: str
    """``"moment"`` (occlusion), ``"modality"`` (MSFD reliance) or ``"fusion"`` (PolicyNet)."""
    start_s: float
    end_s: float
    text: str
    strength: float
    """How strong the evidence is: points (moment), z of the weight (modality), FusionNets (fusion)."""


def clock(seconds: float) -> str:
    """``m:ss`` as a coach reads it on a video player."""
    total = int(round(max(seconds, 0.0)))
    return f"{total // 60}:{total % 60:02d}"


def moments(occlusion: pd.DataFrame, n: int = 3) -> list[Insight]:
    """The ``n`` windows whose content moved the score beyond its noise (``significant`` in
    :func:`pamfn.occlusion.occlusion_scan`), strongest first, as statements."""
    if occlusion is None or "significant" not in occlusion or not occlusion["significant"].any():
        return []
    found = occlusion[occlusion["significant"]]
    ranked = found.reindex(found["z"].abs().sort_values(ascending=False).index).head(n)
    out = []
    for row in ranked.itertuples():
        verb = "raised" if row.impact > 0 else "lowered"
        text = (f"**{clock(row.start_s)}–{clock(row.end_s)}**: this stretch {verb} the score by {abs(row.impact):.2f} points "
                f"(noise ± {row.noise:.2f}: swapped with the routine's other stretches)")
        out.append(Insight("moment", float(row.start_s), float(row.end_s), text, float(row.impact)))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [i, j) of consecutive True values."""
    runs, start = [], None
    for i, flag in enumerate(np.append(mask, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def insight_stage(expl: Explanation, field: str) -> StageExplanation | None:
    """The stage the statements and the player's readout speak of: the finest with at least
    two steps that has ``field``, stage 2 first (as in the paper's Figs. 7 and 8, and as the
    occlusion scan's weights, :data:`pamfn.occlusion.WEIGHT_STAGE`)."""
    candidates = [s for s in expl.stages if getattr(s, field) is not None and s.steps >= 2]
    candidates.sort(key=lambda s: (s.stage != WEIGHT_STAGE, s.stage))
    return candidates[0] if candidates else None


MIN_WEIGHT_SHIFT = 0.05
"""A modality sentence also needs the weight to move by this much (of weights near 1/3):
a shift of 0.02 can be beyond a weight's tiny noise and still mean nothing to a coach."""


def modality_reliance(occlusion: pd.DataFrame | None, n: int = 3, min_shift: float = MIN_WEIGHT_SHIFT) -> list[Insight]:
    """Windows whose content raised a modality's stage-2 MSFD weight beyond its own noise
    and by at least ``min_shift``: where the model leaned on the music, the picture or the
    motion because of what happens there. The noise is the spread of that weight when the
    routine's other stretches take the window's place (:func:`pamfn.occlusion.occlusion_scan`);
    the threshold is the scan's (Student's t, Bonferroni over the windows)."""
    if occlusion is None or not len(occlusion) or "baseline_V" not in occlusion:
        return []
    draws, threshold = float(occlusion["draws"].iloc[0]), float(occlusion["threshold_z"].iloc[0])
    found = []
    for m in MODALITIES:
        noise = occlusion[f"spread_{m}"].to_numpy() * np.sqrt(1 + 1 / draws)
        diff = (occlusion[f"weight_{m}"] - occlusion[f"baseline_{m}"]).to_numpy()
        z = zscore(diff, noise)
        for i in np.flatnonzero((z > threshold) & (diff >= min_shift)):
            row = occlusion.iloc[i]
            text = (f"**{clock(row.start_s)}–{clock(row.end_s)}**: what happens here made the model lean on {MODALITY_PLAIN[m]} "
                    f"(stage-2 MSFD weight {row[f'weight_{m}']:.2f} against {row[f'baseline_{m}']:.2f} ± {noise[i]:.3f} "
                    "with the routine's other stretches in its place)")
            found.append(Insight("modality", float(row.start_s), float(row.end_s), text, float(z[i])))
    return sorted(found, key=lambda i: -i.strength)[:n]


def fusion_peaks(expl: Explanation, n: int = 2, margin: float = 1.0) -> list[Insight]:
    """Stretches where the PolicyNet's expected FusionNet count (the stochastic
    policy of the paper's eq. 9: sum_k k P_k) is at least ``margin`` FusionNets above its routine mean. The
    statement names the stretch those decisions depend on (the steps' measured support)."""
    stage = insight_stage(expl, "policy_probs")
    if stage is None:
        return []
    expected = expected_count(stage.policy_probs)
    entropy = normalised_entropy(stage.policy_probs)
    mean = expected.mean()
    found = []
    for a, b in _runs(expected >= mean + margin):
        start, end = stage.stretch(a)[0], stage.stretch(b - 1)[1]
        text = (f"**{clock(start)}–{clock(end)}**: the stage-{stage.stage} PolicyNet tends to fuse more FusionNets here "
                f"(expected count up to {expected[a:b].max():.1f} of {expl.K}, {mean:.1f} on average; "
                f"policy entropy {entropy[a:b].mean():.2f}), a decision that depends on this whole stretch")
        found.append(Insight("fusion", start, end, text, float((expected[a:b] - mean).sum())))
    return sorted(found, key=lambda i: -i.strength)[:n]


def window_around(expl: Explanation, t: float, width_s: float | None = None) -> tuple[float, float]:
    """The stretch the stage-2 step under second ``t`` depends on (its measured support;
    its own window when not measured); without stages, ``width_s`` seconds centred on ``t``
    (default: one occlusion window)."""
    stage = next((s for s in expl.stages if s.stage == WEIGHT_STAGE), expl.stages[0] if expl.stages else None)
    if stage is None or stage.steps == 0:
        width_s = WINDOW * expl.segment_seconds if width_s is None else width_s
        start = min(max(t - width_s / 2, 0.0), max(expl.duration_s - width_s, 0.0))
        return start, min(start + width_s, expl.duration_s)
    step = int(np.clip(np.searchsorted(stage.start_s, t, side="right") - 1, 0, stage.steps - 1))
    return stage.stretch(step)


def coach_insights(expl: Explanation, occlusion: pd.DataFrame | None = None) -> list[Insight]:
    """All statements for one routine: moments and modality reliance (both need the
    occlusion scan, which gives their noise), fusion peaks."""
    return moments(occlusion) + modality_reliance(occlusion) + fusion_peaks(expl)
