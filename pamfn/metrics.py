"""Evaluation metrics of the paper (Section IV-B): Spearman's rank correlation per action,
its Fisher-z mean across actions, and the mean squared error in the dataset's score units."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy.stats import spearmanr

_RHO_CLIP = 1.0 - 1e-7
"""|rho| = 1 has an infinite Fisher z; clip just inside so the mean stays finite."""


def spearman_rho(predicted: Sequence[float] | np.ndarray, judged: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation (Eq. 13) between predicted and judged scores.

    Returns NaN when it is undefined: fewer than two routines, or either side constant.
    """
    x = np.asarray(predicted, dtype=np.float64).ravel()
    y = np.asarray(judged, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"predicted ({x.size}) and judged ({y.size}) scores differ in length")
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def fisher_z_mean(rhos: Iterable[float]) -> float:
    """Average correlations through Fisher's z: ``tanh(mean(arctanh(rho)))``.

    NaN correlations (undefined) make the mean NaN: an average must not silently
    drop an action.
    """
    values = np.asarray(list(rhos), dtype=np.float64)
    if values.size == 0:
        return float("nan")
    if np.isnan(values).any():
        return float("nan")
    z = np.arctanh(np.clip(values, -_RHO_CLIP, _RHO_CLIP))
    return float(np.tanh(z.mean()))


def mse(predicted: Sequence[float] | np.ndarray, judged: Sequence[float] | np.ndarray) -> float:
    """Mean squared error, in the units the scores are given in."""
    x = np.asarray(predicted, dtype=np.float64).ravel()
    y = np.asarray(judged, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"need two equally long non-empty score lists, got {x.size} and {y.size}")
    return float(np.mean((x - y) ** 2))


def summarize(per_action: Mapping[str, float]) -> dict[str, float]:
    """Per-action correlations plus their Fisher-z mean under the key ``"avg"``."""
    out = {action: float(rho) for action, rho in per_action.items()}
    out["avg"] = fisher_z_mean(per_action.values())
    return out


def fmt_rho(value: float | None) -> str:
    """Three decimals like the paper's tables; a dash for a missing or undefined value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}"
