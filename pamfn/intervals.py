"""Seeds and 95% intervals for results tables: a two-level bootstrap over test routines and
training seeds, paired across the rows of a table.

Each replicate draws, per action, the test routines with replacement, and once for the
whole table the seeds with replacement; a cell's replicate value is the mean, over the
drawn seeds, of Spearman's rho on the drawn routines (the Avg. column: the Fisher-z mean
of the actions' replicate values). The interval is the 2.5 and 97.5 percentiles of the
replicates. Every row uses the same draws, so the difference of two rows has its own
paired interval: a difference whose interval holds 0 is inside the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from pamfn.metrics import fisher_z_mean

BOOTSTRAP = "bootstrap over test routines and training seeds (percentile, 95%, paired across rows)"
DEFAULT_REPLICATES = 2000
AVG = "Avg."


@dataclass(frozen=True)
class SeedPredictions:
    """One row's test predictions for one action: ``predicted`` (seeds, routines) and
    ``judged`` (routines,), routines in the same order for every seed and row."""

    predicted: np.ndarray
    judged: np.ndarray


def spearman_rows(predicted: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of ``predicted`` (..., n) against ``judged`` (..., n),
    as Pearson's correlation of average ranks (ties as in ``scipy.stats.spearmanr``);
    NaN where either side is constant."""
    x = rankdata(predicted, axis=-1)
    y = rankdata(np.broadcast_to(judged, predicted.shape), axis=-1)
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    denom = np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (x * y).sum(-1) / np.where(denom > 0, denom, 1.0), np.nan)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the defined values (a resample of tied routines has no rho); NaN if none is."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _fisher_z_mean_axis(values: np.ndarray, axis: int) -> np.ndarray:
    z = np.arctanh(np.clip(values, -1 + 1e-7, 1 - 1e-7))
    return np.tanh(z.mean(axis=axis))


def bootstrap_table(
    cells: dict[str, dict[str, SeedPredictions]], replicates: int = DEFAULT_REPLICATES, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Replicate values per row and column (the actions and ``Avg.``), each (replicates,).

    ``cells``: row -> action -> predictions; every row has the same actions and seeds.
    """
    rows = list(cells)
    if not rows:
        return {}
    actions = list(cells[rows[0]])
    n_seeds = {cells[r][a].predicted.shape[0] for r in rows for a in actions}
    if len(n_seeds) != 1:
        raise ValueError(f"every cell needs the same number of seeds, got {sorted(n_seeds)}")
    S = n_seeds.pop()
    rng = np.random.default_rng(seed)
    seed_draw = rng.integers(0, S, size=(replicates, S))
    out: dict[str, dict[str, np.ndarray]] = {r: {} for r in rows}
    for action in actions:
        n = cells[rows[0]][action].judged.shape[0]
        routine_draw = rng.integers(0, n, size=(replicates, n))
        for r in rows:
            cell = cells[r][action]
            if cell.judged.shape[0] != n:
                raise ValueError(f"row {r}, action {action}: {cell.judged.shape[0]} test routines, other rows have {n}")
            judged = cell.judged[routine_draw]  # (B, n)
            predicted = cell.predicted[:, routine_draw]  # (S, B, n)
            rho = spearman_rows(predicted, judged[None])  # (S, B)
            out[r][action] = _nanmean(np.take_along_axis(rho, seed_draw.T, axis=0), axis=0)
    for r in rows:
        out[r][AVG] = _fisher_z_mean_axis(np.stack([out[r][a] for a in actions]), axis=0)
    return out


def point_estimates(cells: dict[str, dict[str, SeedPredictions]]) -> dict[str, dict[str, float]]:
    """Per row and column: the mean over seeds of rho on all test routines (Avg.: Fisher-z
    mean of the actions' means)."""
    out: dict[str, dict[str, float]] = {}
    for r, per_action in cells.items():
        out[r] = {a: float(_nanmean(spearman_rows(c.predicted, c.judged[None]), axis=0)) for a, c in per_action.items()}
        out[r][AVG] = fisher_z_mean(out[r].values())
    return out


def interval(replicates: np.ndarray) -> tuple[float, float]:
    """The 95% percentile interval; NaN when the replicates are all undefined."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return float(lo), float(hi)


def inside(value: float, bounds: tuple[float, float]) -> bool:
    return bool(bounds[0] <= value <= bounds[1])
