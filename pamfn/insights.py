"""Explanations a coach can read, each tied to a time window of the routine.

- **Moments that moved the score**: occlusion. A window of segments (by default one
  stage-2 step, 4 segments) is replaced by the routine's mean features (or zeros) in
  every modality and the routine is re-scored; the change in points is what that
  stretch contributed.
- **Where the model leaned on the music, the picture or the motion**: steps whose MSFD
  weight of a modality lies clearly above that modality's mean over the routine.
- **Where it fused many FusionNets**: steps where the PolicyNet enabled clearly more
  FusionNets than it does on average.

Pure library code: models and features in, tables and :class:`Insight` statements out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.explanation import Explanation, StageExplanation
from pamfn.routine import RoutineFeatures
from pamfn.viz.tables import occlusion_table

MODALITY_PLAIN: dict[str, str] = {"V": "the picture (RGB)", "F": "the motion (optical flow)", "A": "the music (audio)"}
BASELINES = ("mean", "zeros")


@dataclass(frozen=True)
class Insight:
    """One plain-language statement about the window [start_s, end_s) of a routine."""

    kind: str
    """``"moment"`` (occlusion), ``"modality"`` (MSFD reliance) or ``"fusion"`` (PolicyNet)."""
    start_s: float
    end_s: float
    text: str
    strength: float
    """How strong the evidence is, in the statement's own unit (points, weight, FusionNets)."""


def clock(seconds: float) -> str:
    """``m:ss`` as a coach reads it on a video player."""
    total = int(round(max(seconds, 0.0)))
    return f"{total // 60}:{total % 60:02d}"


def occlusion_scan(
    model,
    features: RoutineFeatures,
    label_scale: float,
    window: int = 4,
    baseline: str = "mean",
    device: str = "cpu",
    batch_size: int = 16,
) -> pd.DataFrame:
    """Mask each window of ``window`` segments in every modality and re-score.

    Returns the occlusion table (start_s, end_s, delta) where ``delta`` is the full
    score minus the masked score in the data set's units: positive when the stretch
    raised the score. ``baseline`` replaces the window with the routine's mean
    features (``"mean"``) or with zeros (``"zeros"``).
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {list(BASELINES)}, got {baseline!r}")
    if window < 1:
        raise ValueError(f"window must be at least one segment, got {window}")
    from pamfn.serving.scorer import model_modalities, score_batch

    modalities = model_modalities(model)
    T = features.T
    starts = np.arange(0, T, window)
    full = score_batch(model, {m: features.features[m][None] for m in modalities}, device)[0]
    masked = []
    for first in range(0, len(starts), batch_size):
        chunk = starts[first : first + batch_size]
        batch = {}
        for m in modalities:
            x = features.features[m].astype(np.float32)
            fill = x.mean(axis=0) if baseline == "mean" else np.zeros(x.shape[1], np.float32)
            stack = np.repeat(x[None], len(chunk), axis=0)
            for i, s in enumerate(chunk):
                stack[i, s : s + window] = fill
            batch[m] = stack
        masked.append(score_batch(model, batch, device))
    delta = (full - np.concatenate(masked)) * label_scale
    seg = features.segment_seconds
    return occlusion_table(starts * seg, np.minimum(starts + window, T) * seg, delta)


def moments(occlusion: pd.DataFrame, n: int = 3) -> list[Insight]:
    """The ``n`` windows whose masking changed the score most, as statements."""
    ranked = occlusion.reindex(occlusion["delta"].abs().sort_values(ascending=False).index).head(n)
    out = []
    for row in ranked.itertuples():
        if abs(row.delta) < 0.005:  # would read "0.00 points"
            continue
        verb = "raised" if row.delta > 0 else "lowered"
        text = f"**{clock(row.start_s)}–{clock(row.end_s)}**: this stretch {verb} the score by {abs(row.delta):.2f} points"
        out.append(Insight("moment", float(row.start_s), float(row.end_s), text, float(row.delta)))
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


def _insight_stage(expl: Explanation, field: str) -> StageExplanation | None:
    """The finest stage with at least two steps that has ``field`` (stage 2 first, as in the paper)."""
    candidates = [s for s in expl.stages if getattr(s, field) is not None and s.steps >= 2]
    candidates.sort(key=lambda s: (s.stage != 2, s.stage))
    return candidates[0] if candidates else None


def modality_reliance(expl: Explanation, n: int = 3, margin: float = 0.05) -> list[Insight]:
    """Stretches where the MSFD weight of a modality stayed more than ``margin`` above its
    routine mean: where the model leaned on the music, the picture or the motion."""
    stage = _insight_stage(expl, "msfd_weights")
    if stage is None:
        return []
    weights = np.asarray(stage.msfd_weights, dtype=np.float64)
    found = []
    for j, m in enumerate(MODALITIES):
        mean = weights[:, j].mean()
        for a, b in _runs(weights[:, j] > mean + margin):
            level = weights[a:b, j].mean()
            start, end = float(stage.start_s[a]), float(stage.end_s[b - 1])
            text = (f"**{clock(start)}–{clock(end)}**: the model leaned on {MODALITY_PLAIN[m]} "
                    f"(MSFD weight {level:.2f} against {mean:.2f} on average)")
            found.append(Insight("modality", start, end, text, float((level - mean) * (b - a))))
    return sorted(found, key=lambda i: -i.strength)[:n]


def fusion_peaks(expl: Explanation, n: int = 2) -> list[Insight]:
    """Stretches where the PolicyNet enabled at least one FusionNet more than its mean:
    the parts the model found worth fusing with more cross-modal strategies."""
    stage = _insight_stage(expl, "fusion_count")
    if stage is None:
        return []
    counts = np.asarray(stage.fusion_count, dtype=np.float64)
    mean = counts.mean()
    found = []
    for a, b in _runs(counts >= mean + 1):
        start, end = float(stage.start_s[a]), float(stage.end_s[b - 1])
        peak = int(counts[a:b].max())
        text = (f"**{clock(start)}–{clock(end)}**: the model fused many FusionNets "
                f"(up to {peak} of {expl.K}, {mean:.1f} on average)")
        found.append(Insight("fusion", start, end, text, float((counts[a:b] - mean).sum())))
    return sorted(found, key=lambda i: -i.strength)[:n]


def window_around(expl: Explanation, t: float, width_s: float = 5.12) -> tuple[float, float]:
    """The stage-2 step (about 5 s, the paper's unit in Figs. 7-9) whose window holds
    second ``t``; without stages, ``width_s`` seconds centred on ``t`` within the routine."""
    stage = next((s for s in expl.stages if s.stage == 2), expl.stages[0] if expl.stages else None)
    if stage is None or stage.steps == 0:
        start = min(max(t - width_s / 2, 0.0), max(expl.duration_s - width_s, 0.0))
        return start, min(start + width_s, expl.duration_s)
    for a, b in zip(stage.start_s, stage.end_s):
        if a <= t < b:
            return float(a), float(b)
    return (float(stage.start_s[0]), float(stage.end_s[0])) if t < stage.start_s[0] else (float(stage.start_s[-1]), float(stage.end_s[-1]))


def coach_insights(expl: Explanation, occlusion: pd.DataFrame | None = None) -> list[Insight]:
    """All statements for one routine: moments, modality reliance, fusion peaks."""
    found = moments(occlusion) if occlusion is not None and len(occlusion) else []
    return found + modality_reliance(expl) + fusion_peaks(expl)
