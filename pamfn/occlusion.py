"""Score impact of each stretch of a routine, by swapping it with the routine's other stretches.

The routine is cut into windows of ``window`` segments (all modalities). For a window
``w`` and a partner window ``r`` elsewhere in the routine, the routine is re-scored twice
(a *swap* here is this pair of copies, not an exchange in one pass): with ``r``'s content
copied over ``w``'s place, and with ``w``'s content copied over ``r``'s place. Half the
difference is what ``w``'s content is worth against ``r``'s; the window's **impact** is
its mean over the partners, in points. Every other window is a partner when there are
at most ``draws + 1`` windows; a longer routine pairs each window with ``draws`` others
(rounded down to even) at random offsets, taken both ways (``partners``). A window
shorter than the others (the routine's last) swaps only as many segments as it has.

For a score that adds up over time the impact equals the one-sided estimate (the full
score minus the score with ``r`` in ``w``'s place). Unlike it, when both windows lie
inside the routine, both re-scored routines carry two splice points, so what the model
makes of a seam cancels. A copy over the routine's first or last window has one seam
only, so in pairs with an edge window the seam's cost does not cancel: it lands on the
edge window. Each swap counts for both its windows with opposite signs, so the impacts
of a routine sum to zero: an ordinary stretch adds nothing compared with the routine's
other stretches.

Why this baseline: it has to be neutral, i.e. impacts average to zero over all windows
when nothing in particular happens. A filler such as the routine's mean or zeros is not
(inputs the model never sees); content spliced in from other routines is not on the
bundled checkpoint; the one-sided estimate with the routine's own stretches is nearly
neutral but carries the seam's cost (``docs/explanations.md`` gives the figures).
Swapping windows of one grid keeps the comparison inside the routine and within its
own content; it needs at least three windows.

**Noise and significance.** The values against each of the ``n`` partners spread with
what could be there; their standard deviation ``sd`` is the window's noise.
``se = sd / sqrt(n)`` is the impact's uncertainty as a mean over a sample of the
routine's stretches (when every other window is a partner, the partners are all of
them and ``se`` only says how much the mean would move with other stretches of the same
kind). If the
window's content were typical of the routine (exchangeable with its partners), its
value against their mean would be one more draw, so ``z = impact / (sd * sqrt(1 + 1/n))``
follows Student's t with ``n - 1`` degrees of freedom. A window is ``significant`` when ``|z|``
exceeds the two-sided t quantile at level ``alpha`` divided by the number of windows
(Bonferroni over the routine's windows): only then does a coach sentence speak of it.

The forward passes with a partner's content in the window give, for the stage-2 step it holds,
the MSFD modality weights with other content there (``baseline_*`` and ``spread_*``),
against which :mod:`pamfn.insights` judges whether a modality weight is more than noise.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.errors import ConfigError
from pamfn.explanation import Explanation
from pamfn.routine import RoutineFeatures

WINDOW = 4
"""Segments per window of the scans the dashboard, the batch explanations and the checks use."""
METHOD = "swap"
"""How impacts are estimated; saved scans of another method (the one-sided scan before
2026-12-04 saved none) are recomputed, not shown."""
DRAWS = 24
"""At most this many partners per window: every other window in routines of up to 25 windows (128 s)."""
ALPHA = 0.05
MIN_WINDOWS = 3
"""Fewer windows leave nothing to swap with: the scan of such a routine is empty."""
WEIGHT_STAGE = 2
"""The stage whose MSFD weights the scan compares (one stage-2 step per 4-segment window)."""
LONGEST_SCAN_S = 600.0
"""Uploads longer than this (10 min) get no scan on the dashboard: its cost grows with the
length squared (about 3 min for 8.5 min on 2 loaded cores); ``pamfn explain --occlusion``
scans any length, with a progress bar."""


def partners(n: int, most: int, rng: np.random.Generator) -> np.ndarray:
    """Partner windows of each of ``n`` windows, a symmetric relation: an ``(n, k)`` array,
    every other window when ``n - 1 <= most``, else ``most`` (rounded down to even) at
    offsets ``+/-o`` (mod ``n``) for ``most // 2`` distinct random offsets ``o``."""
    if n < MIN_WINDOWS:
        raise ConfigError(f"an occlusion scan needs at least {MIN_WINDOWS} windows to swap, the routine has {n}")
    if n - 1 <= most:
        return np.array([[r for r in range(n) if r != w] for w in range(n)])
    offsets = rng.choice(np.arange(1, (n - 1) // 2 + 1), size=min(most // 2, (n - 1) // 2), replace=False)
    steps = np.concatenate([offsets, -offsets])
    return (np.arange(n)[:, None] + steps[None, :]) % n


def _routine_rng(seed: int, routine_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(routine_id.encode())])


@dataclass
class Swaps:
    """The forward passes of a scan: the routine as it is and with pairs of windows swapped."""

    starts: np.ndarray
    """First segment of each window."""
    pairs: np.ndarray
    """``(windows, partners)``: each window's partners (:func:`partners`)."""
    full: float
    """The routine's score, in points."""
    scores: np.ndarray
    """``(windows, windows)``, points: ``[p, s]`` is the score with window ``s``'s content
    in window ``p``'s place; NaN for pairs that are not partners."""
    full_weights: np.ndarray | None
    """``(windows, 3)``: the stage-2 MSFD weights of the step each window holds, the routine
    as it is; None without MSFD."""
    weights: np.ndarray | None
    """``(windows, windows, 3)``: ``[p, s]`` the same weights of window ``p``'s step with
    window ``s``'s content in ``p``'s place; NaN for pairs that are not partners."""

    def values(self) -> np.ndarray:
        """``(windows, partners)``: half the score with the window's content in the partner's
        place minus the score with the partner's content in the window's place."""
        windows = np.arange(len(self.starts))[:, None]
        return (self.scores[self.pairs, windows] - self.scores[windows, self.pairs]) / 2


def swap_scores(model, features: RoutineFeatures, label_scale: float, *, window: int, draws: int, seed: int,
                device: str, batch_size: int, on_batch: Callable[[int, int], None] | None = None) -> Swaps:
    """Score the routine and every swap of a window with one of its partners, batched
    (``on_batch(done, total)`` after each batch of swapped copies)."""
    import torch

    from pamfn.serving.scorer import model_modalities, run_model

    modalities = model_modalities(model)
    T = features.T
    x = {m: np.asarray(features.features[m], np.float32) for m in modalities}
    starts = np.arange(0, T, window)
    pairs = partners(len(starts), draws, _routine_rng(seed, features.routine_id))

    def forward(batch: dict[str, np.ndarray]):
        inputs = {m: torch.as_tensor(a, device=device) for m, a in batch.items()}
        out = run_model(model, inputs)
        trace = next((t for t in out.stages if t.stage == WEIGHT_STAGE and t.msfd_weights is not None), None)
        weights = None if trace is None else trace.msfd_weights.float().cpu().numpy()
        return out.score.float().cpu().numpy().reshape(-1) * label_scale, weights

    full, full_steps = forward({m: a[None] for m, a in x.items()})
    step_of = None if full_steps is None else np.minimum((starts + window // 2) // 2**WEIGHT_STAGE, full_steps.shape[1] - 1)
    needed = sorted({(w, int(r)) for w in range(len(starts)) for r in pairs[w]})
    scores = np.full((len(starts), len(starts)), np.nan)
    weights = None if step_of is None else np.full((len(starts), len(starts), len(MODALITIES)), np.nan, np.float32)
    for first in range(0, len(needed), batch_size):
        chunk = needed[first : first + batch_size]
        batch = {m: np.repeat(a[None], len(chunk), axis=0) for m, a in x.items()}
        for i, (place, source) in enumerate(chunk):
            p, q = starts[place], starts[source]
            width = min(window, T - p, T - q)
            for m in modalities:
                batch[m][i, p : p + width] = x[m][q : q + width]
        score, w = forward(batch)
        rows, cols = (np.array(v) for v in zip(*chunk))
        scores[rows, cols] = score
        if weights is not None and w is not None:
            weights[rows, cols] = w[np.arange(len(chunk)), step_of[rows]]
        if on_batch is not None:
            on_batch(first + len(chunk), len(needed))
    full_weights = None if step_of is None else full_steps[0][step_of]
    return Swaps(starts, pairs, float(full[0]), scores, full_weights, weights)


def significance(values: np.ndarray, alpha: float = ALPHA) -> dict[str, np.ndarray | float]:
    """From ``(windows, n)`` per-partner values: each window's ``impact`` (their mean), ``se``,
    ``noise``, ``z``, ``significant`` and the routine's ``threshold_z`` (module docstring)."""
    from scipy import stats

    windows, n = values.shape
    impact = values.mean(axis=1)
    sd = values.std(axis=1, ddof=1)
    noise = sd * np.sqrt(1 + 1 / n)
    z = zscore(impact, noise)
    threshold = float(stats.t.ppf(1 - alpha / (2 * windows), n - 1))
    return {"impact": impact, "se": sd / np.sqrt(n), "noise": noise, "z": z, "significant": np.abs(z) > threshold,
            "threshold_z": threshold}


def occlusion_scan(
    model,
    features: RoutineFeatures,
    label_scale: float,
    *,
    window: int = WINDOW,
    draws: int = DRAWS,
    alpha: float = ALPHA,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 64,
    on_batch: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Impact of each window of ``window`` segments on the score, against a neutral baseline
    (swaps with the routine's other windows; see the module docstring). Empty for a
    routine of fewer than ``MIN_WINDOWS`` windows. ``on_batch(done, total)`` reports progress.

    Columns: ``start_s, end_s, impact`` (points: the mean over partners of half the score
    with the window's content in the partner's place minus the score with the partner's
    content in the window's place), ``se`` (its uncertainty from the finite partners),
    ``noise`` (the spread of the per-partner values, ``sd * sqrt(1 + 1/n)``), ``z``,
    ``significant`` (``|z| > threshold_z``), ``draws`` (partners per window, ``n``), and for
    the stage-2 step the window holds (when the model has MSFD) ``weight_<m>``,
    ``baseline_<m>``, ``spread_<m>`` for m in V, F, A: the weight with this content, its
    mean and standard deviation with the partners' content.
    """
    if window < 1:
        raise ConfigError(f"the occlusion window must be at least one segment, got {window}")
    if draws < 2:
        raise ConfigError(f"the occlusion baseline needs at least 2 partners per window, got draws={draws}")
    if -(-features.T // window) < MIN_WINDOWS:
        return scan_from_dict(None)
    swaps = swap_scores(model, features, label_scale, window=window, draws=draws, seed=seed, device=device,
                        batch_size=batch_size, on_batch=on_batch)
    starts = swaps.starts
    table = pd.DataFrame({
        "start_s": starts * features.segment_seconds,
        "end_s": np.minimum(starts + window, features.T) * features.segment_seconds,
        **significance(swaps.values(), alpha),
        "draws": swaps.pairs.shape[1],
    })
    if swaps.weights is not None:
        _add_weight_baselines(table, swaps.full_weights, swaps.weights[np.arange(len(starts))[:, None], swaps.pairs])
    return table


def _add_weight_baselines(table: pd.DataFrame, full: np.ndarray, replaced: np.ndarray) -> None:
    """Stage-2 MSFD weights of the step in each window: with this content (``full``:
    windows x 3) and with each partner's (``replaced``: windows x partners x 3)."""
    for j, m in enumerate(MODALITIES):
        table[f"weight_{m}"] = full[:, j]
        table[f"baseline_{m}"] = replaced[:, :, j].mean(axis=1)
        table[f"spread_{m}"] = replaced[:, :, j].std(axis=1, ddof=1)


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


def scan_records(scan: pd.DataFrame) -> list[dict[str, float | bool]]:
    """An occlusion scan as a JSON-ready list of windows (``pamfn explain --occlusion --json``)."""
    columns = scan_to_dict(scan[["start_s", "end_s", "impact", "se", "noise", "significant"]])
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def attach_scan(expl: Explanation, scan: pd.DataFrame) -> Explanation:
    """``expl`` carrying ``scan`` and the method that made it in ``extra`` (how a saved
    explanation keeps its scan)."""
    return replace(expl, extra={**expl.extra, "occlusion": scan_to_dict(scan), "occlusion_method": METHOD})


def attached_scan(expl: Explanation) -> pd.DataFrame:
    """The scan :func:`attach_scan` saved with ``expl``; empty when there is none or it was
    made by another method (such a scan is recomputed, not shown)."""
    return scan_from_dict(expl.extra.get("occlusion") if expl.extra.get("occlusion_method") == METHOD else None)


def scan_from_dict(data: dict[str, list] | None) -> pd.DataFrame:
    """A scan saved by :func:`scan_to_dict`; an empty one for scans of the earlier,
    non-neutral format (they had ``delta`` and no noise) or none."""
    if not data or "impact" not in data:
        columns = ["start_s", "end_s", "impact", "se", "noise", "z", "significant", "threshold_z", "draws"]
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "significant" else float) for c in columns})
    scan = pd.DataFrame(data)
    scan["significant"] = scan["significant"].astype(bool)
    return scan
