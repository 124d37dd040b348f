"""How much must musicality weigh in the score before fusion pays? A counterfactual probe
on TRAINING routines only (the test split is never read, the frozen generator is not
touched).

The protocol's target (issue 12) asks PAMFN to beat its best single branch, the flow,
by 0.05. Musicality is the part of the total that needs the music. The probe trains
``bench_learning_curve.py``'s two ridges, on the flow summaries (F) and on every modality
with the cross-modal and local musicality statistics, on ``y_k = score + (k - 1) x
musicality``: the judged total with the musicality panel's score (as judged, with its
noise) counted ``k`` times. ``k = 1`` is the real total. Per apparatus, ``--eval``
training routines are held out and the ridges learn on ``--size`` others; Spearman's rho
on the held-out routines, Fisher-z mean over apparatus, then mean over ``--draws``.
``share``: ``k x musicality``'s share of ``y_k``'s variance (``variance_share``).

    python bench/bench_musicality_weight.py DATA [--more DIR ...] [--weights 1 2 3 5] [--size 300] [--eval 150]

A probe for a linear model: it selects nothing and changes no table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_learning_curve import RIDGES, ridge_rho, split_draw, training_pool, variance_share, weight_arguments

from pamfn.errors import DatasetError
from pamfn.metrics import fisher_z_mean


def weigh(routines: pd.DataFrame, summaries: dict[str, np.ndarray], weights: list[float], size: int, held_out: int,
          draws: int) -> pd.DataFrame:
    """One row per weight: musicality's share of the target's variance, each ridge's
    held-out rho (means over draws of the Fisher-z mean over apparatus) and their sd over draws."""
    if "musicality" not in routines.columns:
        raise DatasetError("the labels have no musicality column")
    actions = list(routines.groupby("action", sort=True))
    if not all(len(part) >= held_out + size for _, part in actions):
        raise DatasetError(f"every apparatus needs --eval {held_out} + --size {size} training routines")
    score, music = routines["score"].to_numpy(np.float64), routines["musicality"].to_numpy(np.float64)
    rows = []
    for k in weights:
        y = score + (k - 1) * music
        rhos = np.array([[fisher_z_mean([ridge_rho(summaries[name], y, *split_draw(part, draw, a, size, held_out))
                                          for a, (_, part) in enumerate(actions)]) for name in RIDGES]
                         for draw in range(draws)])
        sd = rhos.std(0, ddof=1) if draws > 1 else np.full(len(RIDGES), np.nan)
        rows.append((f"{k:g}", variance_share(k * music, y), *rhos.mean(0), *sd, (rhos[:, 1] - rhos[:, 0]).mean()))
    return pd.DataFrame(rows, columns=["weight", "share", *RIDGES, *(f"{n}_sd" for n in RIDGES), "gain"])


def main() -> int:
    args = weight_arguments("How much must musicality weigh for fusion to pass the flow?", "the musicality score")
    try:
        pool, _, summaries = training_pool([args.data, *args.more])
        table = weigh(pool.routines, summaries, args.weights, args.size, args.eval, args.draws)
    except DatasetError as exc:
        raise SystemExit(str(exc)) from None
    print(f"{args.size} training routines per apparatus, {args.eval} held out, {args.draws} draws "
          f"(rho: held-out Spearman, Fisher-z mean over apparatus; ± sd over draws)")
    print(f"{'weight':>7s} {'share':>6s} {'ridge F':>15s} {'ridge all':>15s} {'all - F':>8s}")
    for r in table.itertuples(index=False):
        f, f_sd, every, every_sd = r[2], r[4], r[3], r[5]
        print(f"{r.weight:>7s} {r.share:6.1%} {f:8.3f} ± {f_sd:.3f} {every:8.3f} ± {every_sd:.3f} {r.gain:+8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
