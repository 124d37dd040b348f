"""Tidy tables (one row per observation, seconds on the time axis) built from an
Explanation or an audio signal; the figures draw these (and :mod:`pamfn.occlusion`'s scans)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.decisions import expected_count
from pamfn.explanation import Explanation
from pamfn.insights import insight_stage
from pamfn.viz.colors import modality_label


def msfd_table(expl: Explanation) -> pd.DataFrame:
    """MSFD modality weights: columns stage, step, start_s, end_s, modality, weight.

    Stages whose MSFD is absent (ablations) are left out.
    """
    rows = []
    for st in expl.stages:
        if st.msfd_weights is None:
            continue
        weights = np.asarray(st.msfd_weights, dtype=np.float64)
        for step in range(st.steps):
            for j, m in enumerate(MODALITIES):
                rows.append((st.stage, step, float(st.start_s[step]), float(st.end_s[step]), m, float(weights[step, j])))
    return pd.DataFrame(rows, columns=["stage", "step", "start_s", "end_s", "modality", "weight"])


def fusion_count_table(expl: Explanation) -> pd.DataFrame:
    """PolicyNet decisions: columns stage, step, start_s, end_s, count (the explanation's
    decision, 1..K: argmax in deterministic mode), expected (the stochastic policy's
    expected count sum_k k P_k, the paper's test-time decisions; NaN without
    probabilities), K."""
    rows = []
    for st in expl.stages:
        if st.fusion_count is None:
            continue
        expected = expected_count(st.policy_probs) if st.policy_probs is not None else np.full(st.steps, np.nan)
        for step in range(st.steps):
            rows.append((st.stage, step, float(st.start_s[step]), float(st.end_s[step]), int(st.fusion_count[step]),
                         float(expected[step]), expl.K))
    return pd.DataFrame(rows, columns=["stage", "step", "start_s", "end_s", "count", "expected", "K"])


def readout_steps(expl: Explanation) -> list[dict[str, Any]]:
    """Per step of the stage the statements speak of (:func:`pamfn.insights.insight_stage`):
    window, MSFD weights and FusionNet count (the live readout): the stochastic policy's
    expected count when the PolicyNet's probabilities are there, else the explanation's decision."""
    stage = insight_stage(expl, "msfd_weights")
    if stage is None:
        return []
    if stage.policy_probs is not None:
        counts = [f"{c:.1f} expected" for c in expected_count(stage.policy_probs)]
    else:
        counts = None if stage.fusion_count is None else [str(int(c)) for c in stage.fusion_count]
    return [
        {"stage": stage.stage, "start": float(stage.start_s[i]), "end": float(stage.end_s[i]),
         "w": [float(x) for x in stage.msfd_weights[i]], "count": None if counts is None else counts[i]}
        for i in range(stage.steps)
    ]


def scores_table(expl: Explanation) -> pd.DataFrame:
    """Scores in the data set's units: columns label, kind (judged / predicted / branch),
    modality (V, F, A or empty), score. The judged row is present when known."""
    rows = []
    if expl.judged_score is not None:
        rows.append(("Judges", "judged", "", float(expl.judged_score)))
    rows.append(("PAMFN", "predicted", "", float(expl.score)))
    for m in MODALITIES:
        if m in expl.branch_scores:
            rows.append((f"{modality_label(m)} branch", "branch", m, float(expl.branch_scores[m])))
    return pd.DataFrame(rows, columns=["label", "kind", "modality", "score"])


def waveform_table(samples: np.ndarray, sample_rate: float, points: int = 1500) -> pd.DataFrame:
    """Min/max envelope of a mono signal in ``points`` bins: columns time_s, lo, hi."""
    samples = np.asarray(samples, dtype=np.float32).ravel()
    if samples.size == 0:
        return pd.DataFrame({"time_s": [], "lo": [], "hi": []})
    bins = max(1, min(points, samples.size))
    edges = np.linspace(0, samples.size, bins + 1).astype(int)
    lo = np.minimum.reduceat(samples, edges[:-1])
    hi = np.maximum.reduceat(samples, edges[:-1])
    time_s = (edges[:-1] + edges[1:]) / 2.0 / float(sample_rate)
    return pd.DataFrame({"time_s": time_s, "lo": lo, "hi": hi})


def media_waveform(path: str | os.PathLike[str], points: int = 1500, rate: int = 8000) -> pd.DataFrame | None:
    """:func:`waveform_table` of a media file's audio decoded at ``rate`` (None when it has
    no audio track); MediaError when the file cannot be decoded."""
    from pamfn.features.media import decode_audio

    samples = decode_audio(path, rate)
    return None if samples is None else waveform_table(samples, rate, points)
