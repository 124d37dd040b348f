"""Score impact of each stretch of a routine, by occlusion with a neutral baseline.

A window of ``window`` segments (all modalities) is replaced, ``draws`` times, by another
stretch of the same length from elsewhere in the same routine (chosen at random among
those that do not overlap it), and the routine is re-scored with each replacement. The
window's **impact** is the full score minus the mean replaced score, in points: what
this stretch adds compared with the routine's other stretches put in its place.

Why this baseline: it has to be neutral, i.e. impacts average to zero over all windows
when nothing in particular happens. A filler such as the routine's mean or zeros is not
(inputs the model never sees), and on the bundled checkpoint neither is content spliced
in from other routines; the routine's own stretches from other positions are
(``docs/explanations.md`` gives the figures).

**Noise and significance.** The replaced scores spread with what could be there; their
standard deviation ``sd`` is the window's noise. The impact's own uncertainty from the
finite draws is ``se = sd / sqrt(draws)``. If the window's content were typical of the
routine (exchangeable with the replacements), the full score would be one more draw, so
``z = impact / (sd * sqrt(1 + 1/draws))`` follows Student's t with ``draws - 1``
degrees of freedom. A window is ``significant`` when ``|z|`` exceeds the two-sided
t quantile at level ``alpha`` divided by the number of windows (Bonferroni over the
routine's windows): only then does a coach sentence speak of it.

The same replaced forward passes give, for the stage-2 step each window holds, the MSFD
modality weights with other content there (``baseline_*`` and ``spread_*``), against
which :mod:`pamfn.insights` judges whether a modality weight is more than noise.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.errors import ConfigError
from pamfn.routine import RoutineFeatures

DRAWS = 16
ALPHA = 0.05
WEIGHT_STAGE = 2
"""The stage whose MSFD weights the scan compares (one stage-2 step per 4-segment window)."""


def replacement_starts(start: int, window: int, T: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` first segments of stretches of ``window`` segments that do not overlap
    [start, start + window) (any other stretch when the routine is too short)."""
    candidates = np.arange(0, max(T - window, 0) + 1)
    apart = candidates[np.abs(candidates - start) >= window]
    pool = apart if len(apart) else candidates[candidates != start] if len(candidates) > 1 else candidates
    return rng.choice(pool, size=draws, replace=len(pool) < draws)


def _routine_rng(seed: int, routine_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(routine_id.encode())])


def occlusion_scan(
    model,
    features: RoutineFeatures,
    label_scale: float,
    *,
    window: int = 4,
    draws: int = DRAWS,
    alpha: float = ALPHA,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 64,
) -> pd.DataFrame:
    """Impact of each window of ``window`` segments on the score, against a neutral baseline
    (the routine's own stretches from elsewhere; see the module docstring).

    Columns: ``start_s, end_s, impact`` (points: full score minus the mean score with the
    window's content replaced), ``se`` (its uncertainty from the finite draws), ``noise``
    (the spread of the replaced scores, ``sd * sqrt(1 + 1/draws)``), ``z``,
    ``significant`` (``|z| > threshold_z``), ``draws``, and for the stage-2 step the window holds (when the model has MSFD)
    ``weight_<m>``, ``baseline_<m>``, ``spread_<m>`` for m in V, F, A: the weight with this
    content, its mean and standard deviation with the replacements.
    """
    import torch
    from scipy import stats

    from pamfn.serving.scorer import model_modalities, run_model

    if window < 1:
        raise ConfigError(f"the occlusion window must be at least one segment, got {window}")
    if draws < 2:
        raise ConfigError(f"the occlusion baseline needs at least 2 draws per window, got {draws}")
    modalities = model_modalities(model)
    T = features.T
    x = {m: np.asarray(features.features[m], np.float32) for m in modalities}
    starts = np.arange(0, T, window)
    rng = _routine_rng(seed, features.routine_id)
    plan = [(int(s), int(r)) for s in starts for r in replacement_starts(int(s), window, T, draws, rng)]

    def forward(batch: dict[str, np.ndarray]):
        inputs = {m: torch.as_tensor(a, device=device) for m, a in batch.items()}
        out = run_model(model, inputs)
        trace = next((t for t in out.stages if t.stage == WEIGHT_STAGE and t.msfd_weights is not None), None)
        weights = None if trace is None else trace.msfd_weights.float().cpu().numpy()
        return out.score.float().cpu().numpy().reshape(-1), weights

    full, full_weights = forward({m: a[None] for m, a in x.items()})
    scores = np.empty(len(plan))
    weights = None
    for first in range(0, len(plan), batch_size):
        chunk = plan[first : first + batch_size]
        batch = {m: np.repeat(a[None], len(chunk), axis=0) for m, a in x.items()}
        for i, (s, r) in enumerate(chunk):
            width = min(window, T - s, T - r)
            for m in modalities:
                batch[m][i, s : s + width] = x[m][r : r + width]
        score, w = forward(batch)
        scores[first : first + len(chunk)] = score
        if w is not None:
            weights = np.empty((len(plan), *w.shape[1:]), np.float32) if weights is None else weights
            weights[first : first + len(chunk)] = w
    scores = scores.reshape(len(starts), draws) * label_scale
    impact = full[0] * label_scale - scores.mean(axis=1)
    sd = scores.std(axis=1, ddof=1)
    noise = sd * np.sqrt(1 + 1 / draws)
    z = zscore(impact, noise)
    threshold = stats.t.ppf(1 - alpha / (2 * len(starts)), draws - 1)
    seg = features.segment_seconds
    table = pd.DataFrame({
        "start_s": starts * seg,
        "end_s": np.minimum(starts + window, T) * seg,
        "impact": impact,
        "se": sd / np.sqrt(draws),
        "noise": noise,
        "z": z,
        "significant": np.abs(z) > threshold,
        "threshold_z": threshold,
        "draws": draws,
    })
    if weights is not None and full_weights is not None:
        _add_weight_baselines(table, starts, window, full_weights[0], weights.reshape(len(starts), draws, *weights.shape[1:]))
    return table


def _add_weight_baselines(table: pd.DataFrame, starts: np.ndarray, window: int, full: np.ndarray, replaced: np.ndarray) -> None:
    """Stage-2 MSFD weights of the step in each window: with this content and with the replacements."""
    width = 2**WEIGHT_STAGE
    steps = np.minimum((starts + window // 2) // width, full.shape[0] - 1)
    for j, m in enumerate(MODALITIES):
        table[f"weight_{m}"] = full[steps, j]
        table[f"baseline_{m}"] = replaced[np.arange(len(starts)), :, steps, j].mean(axis=1)
        table[f"spread_{m}"] = replaced[np.arange(len(starts)), :, steps, j].std(axis=1, ddof=1)


def zscore(diff: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """``diff / noise``; +/-inf where there is a difference but no noise, 0 where neither."""
    diff, noise = np.asarray(diff, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    out = np.zeros_like(diff)
    noisy = noise > 0
    out[noisy] = diff[noisy] / noise[noisy]
    exact = ~noisy & (diff != 0)
    out[exact] = np.sign(diff[exact]) * np.inf
    return out


def scan_to_dict(scan: pd.DataFrame) -> dict[str, list]:
    """An occlusion scan as JSON-ready columns (saved with an explanation)."""
    return {c: [bool(v) if c == "significant" else float(v) for v in scan[c]] for c in scan.columns}


def scan_from_dict(data: dict[str, list] | None) -> pd.DataFrame:
    """A scan saved by :func:`scan_to_dict`; an empty one for scans of the earlier,
    non-neutral format (they had ``delta`` and no noise) or none."""
    if not data or "impact" not in data:
        return pd.DataFrame(columns=["start_s", "end_s", "impact", "se", "noise", "z", "significant", "threshold_z", "draws"])
    scan = pd.DataFrame(data)
    scan["significant"] = scan["significant"].astype(bool)
    return scan
