"""How much must the faults weigh in the score before a detector trained on totals finds
where they are? A counterfactual probe on TRAINING routines only (the test split is never
read, the frozen generator is not touched).

The generator's execution panel deducts ``E_DROP`` per drop and ``E_STUMBLE_BASE +
E_STUMBLE_PER_SEVERITY x severity`` per loss of balance (``pamfn.synth.scoring``). From
the counts in ``labels.csv`` the probe rebuilds those deductions and trains the fault
detector of ``pamfn.fault_probe`` on ``y_k = score - (k - 1) x deductions``: the judged
total with every drop and loss-of-balance deduction ``k`` times as heavy, the judges'
noise and everything else as they are (execution's clipping at 0 is ignored). ``k = 1``
is the real total.

Per apparatus, ``--eval`` training routines are held out and the detector learns on
``--size`` others (``bench_learning_curve.py``'s draws); the AUC ranks the held-out drop /
loss-of-balance windows above their clean windows, mean over apparatus, then over
``--draws``. The null: the detector trained on the real total shuffled among its
training routines (one fit per draw and apparatus). ``share``: the deductions' share of
``y_k``'s variance (``variance_share``, all routines of the pool).

    python bench/bench_fault_weight.py DATA [--more DIR ...] [--weights 1 2 3 5] [--size 300] [--eval 150]

A probe: it selects nothing and changes no table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_learning_curve import KINDS, held_out_aucs, split_draw, training_pool, variance_share, weight_arguments

from pamfn.errors import DatasetError
from pamfn.fault_probe import SplitWindows
from pamfn.synth.scoring import E_DROP, E_STUMBLE_BASE, E_STUMBLE_PER_SEVERITY

COUNTS = ("n_drops", "n_stumbles", "stumble_severity")
"""The labels' columns the deductions are rebuilt from (sample benchmark version 2)."""


def deductions(routines: pd.DataFrame) -> np.ndarray:
    """Each routine's execution deduction for its drops and losses of balance, in points
    (``pamfn.synth.scoring.formula``'s terms); DatasetError when the labels lack the counts."""
    missing = [c for c in COUNTS if c not in routines.columns]
    if missing:
        raise DatasetError(f"the labels have no {', '.join(missing)} (the fault counts come with sample benchmark version 2)")
    return (E_DROP * routines["n_drops"] + E_STUMBLE_BASE * routines["n_stumbles"]
            + E_STUMBLE_PER_SEVERITY * routines["stumble_severity"]).to_numpy(np.float64)


def weigh(pool: SplitWindows, labelled: pd.DataFrame, weights: list[float], size: int, held_out: int,
          draws: int) -> pd.DataFrame:
    """One row per weight, then ``null``: the detector's held-out AUC per kind (means over
    apparatus and draws) and the deductions' share of the target's variance."""
    score, cost = pool.routines["score"].to_numpy(np.float64), deductions(pool.routines)
    inputs, actions = pool.detector_inputs(), list(pool.routines.groupby("action", sort=True))
    if not all(len(part) >= held_out + size for _, part in actions):
        raise DatasetError(f"every apparatus needs --eval {held_out} + --size {size} training routines")
    targets = {f"{k:g}": score - (k - 1) * cost for k in weights}
    aucs = {name: [] for name in [*targets, "null"]}
    for draw in range(draws):
        per = {name: [] for name in aucs}
        for a, (_, part) in enumerate(actions):
            train, held = split_draw(part, draw, a, size, held_out)
            for name, y in targets.items():
                per[name].append(held_out_aucs(inputs, labelled, y, train, held))
            shuffled = score.copy()
            shuffled[train] = np.random.default_rng([draw, a, 1]).permutation(score[train])
            per["null"].append(held_out_aucs(inputs, labelled, shuffled, train, held))
        for name, v in per.items():
            aucs[name].append(np.mean(v, axis=0))
    rows = []
    for name, v in aucs.items():
        k = float(name) if name != "null" else 1.0
        share = variance_share(-k * cost, score - (k - 1) * cost) if name != "null" else np.nan
        rows.append((name, share, *np.mean(v, axis=0), *(np.std(v, axis=0, ddof=1) if draws > 1 else [np.nan] * len(KINDS))))
    return pd.DataFrame(rows, columns=["weight", "share", *KINDS, *(f"{k}_sd" for k in KINDS)])


def main() -> int:
    args = weight_arguments("How much must faults weigh for a detector trained on totals to find them?", "the fault deductions")
    try:
        pool, labelled, _ = training_pool([args.data, *args.more], ridges=())
        table = weigh(pool, labelled, args.weights, args.size, args.eval, args.draws)
    except DatasetError as exc:
        raise SystemExit(str(exc)) from None
    print(f"{args.size} training routines per apparatus, {args.eval} held out, {args.draws} draws "
          f"(AUC: held-out drop / loss-of-balance windows vs clean, mean over apparatus; ± sd over draws)")
    print(f"{'weight':>7s} {'share':>6s} {'AUC drop':>15s} {'AUC LOB':>15s}")
    for r in table.itertuples():
        share = f"{r.share:6.1%}" if np.isfinite(r.share) else f"{'':6s}"
        print(f"{r.weight:>7s} {share} {r.drop:8.3f} ± {r.drop_sd:.3f} {r.loss_of_balance:8.3f} ± {r.loss_of_balance_sd:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
