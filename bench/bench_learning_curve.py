"""How many routines would fusion and fault finding need? A learning curve on TRAINING
routines only (the test split is never read).

Per apparatus, the training routines of DATA (and of ``--more`` folders: extra training
routines from the same frozen generator with another master seed, e.g. ``pamfn synth
DIR --seed 7 --per-action-test 0 --showcase 0``) are shuffled; ``--eval`` of them are held
out, and models learn on the first n of the rest for each n of ``--sizes``, ``--draws``
shuffles each:

- ridge on the flow summaries (F) and on every modality with the cross-modal and local
  musicality statistics (``bench_synth.py``'s V+F+A+cross+local), penalty chosen inside
  the training routines (RidgeCV); Spearman's rho on the held-out routines, Fisher-z
  mean over apparatus. Fusion pays once the second passes the first.
- the fault detector trained on the total score (``pamfn.fault_probe.fit_deduction_detector``):
  ROC AUC of the held-out windows holding a drop / a loss of balance against clean windows
  (the folders' ``events.csv``), mean over apparatus.

A size is measured only when every apparatus has ``--eval`` + n training routines.

    python bench/bench_learning_curve.py DATA [--more DIR ...] [--sizes 75 150 300 450]

Figures are means over the draws. A probe: it selects nothing and changes no table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_synth import ALPHAS, SETS, routine_summary

from pamfn.data.dataset import read_labels
from pamfn.errors import DatasetError
from pamfn.fault_probe import SplitWindows, fit_detector_on, split_windows, with_features
from pamfn.groundtruth import label_windows, read_events, roc_auc
from pamfn.metrics import fisher_z_mean, spearman_rho
from pamfn.routine import RoutineFeatures

RIDGES = ("F", "V+F+A+cross+local")
KINDS = ("drop", "loss_of_balance")


def training_pool(folders: list[Path], ridges: tuple[str, ...] = RIDGES) -> tuple[SplitWindows, pd.DataFrame, dict[str, np.ndarray]]:
    """The training routines of every folder (ids prefixed with the folder's index), their
    windows, the windows labelled with the folders' events, and per ridge set of
    ``ridges`` the routines' summaries (rows in ``windows.routines`` order)."""
    parts, labelled, summaries = [], [], {name: [] for name in ridges}
    for k, root in enumerate(folders):
        labels, _ = read_labels(root)
        have = with_features(root, labels[labels["split"] == "train"])
        if have.empty:
            raise DatasetError(f"{root}: no training features (pamfn synth {root} --split train)")
        data = split_windows(root, have)
        lab = label_windows(data.table, read_events(root / "events.csv"))
        for frame in (data.table, lab, data.routines):
            frame["routine_id"] = f"{k}:" + frame["routine_id"].astype(str)
        parts.append(data)
        labelled.append(lab)
        for r in tqdm(have.itertuples(), total=len(have), desc="summaries", unit="routine") if ridges else ():
            feats = RoutineFeatures.load(root / r.features)
            for name in ridges:
                summaries[name].append(routine_summary(feats, SETS[name]))
    return SplitWindows.concat(parts), pd.concat(labelled, ignore_index=True), {k: np.stack(v) for k, v in summaries.items()}


def ridge_rho(x: np.ndarray, y: np.ndarray, train: np.ndarray, held: np.ndarray) -> float:
    """Spearman's rho on ``held`` of a ridge fitted on ``train`` (penalty by RidgeCV among ALPHAS)."""
    from sklearn.linear_model import RidgeCV

    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    model = RidgeCV(alphas=ALPHAS).fit((x[train] - mu) / sd, y[train])
    return spearman_rho(model.predict((x[held] - mu) / sd), y[held])


def variance_share(part: np.ndarray, total: np.ndarray) -> float:
    """The part's share of the total's variance, ``cov(part, total) / var(total)``: the
    shares of a total's additive parts sum to 1 (one may exceed 1 when others cancel it)."""
    return float(np.cov(part, total)[0, 1] / np.var(total, ddof=1))


def split_draw(part: pd.DataFrame, draw: int, a: int, n: int, held_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held)``: rows of one apparatus' routines (``part``), shuffled by draw and
    apparatus; the first ``held_out`` are held out, the next ``n`` learnt from."""
    order = np.random.default_rng([draw, a]).permutation(part.index.to_numpy())
    return order[held_out : held_out + n], order[:held_out]


def held_out_aucs(inputs: tuple[np.ndarray, np.ndarray, np.ndarray], labelled: pd.DataFrame, y: np.ndarray, train: np.ndarray,
                  held: np.ndarray) -> list[float]:
    """Per kind of ``KINDS``, the ROC AUC of the detector trained on ``y`` of the ``train``
    routines (rows of the pool's routines), ranking the ``held`` routines' windows of that
    kind above their clean windows. ``inputs``: the pool's ``detector_inputs()``."""
    x, g, owner = inputs
    at, detector, _ = fit_detector_on(x, owner, g, np.concatenate([train, held]), y, np.arange(len(train) + len(held)) < len(train))
    scored = np.isin(owner[at], held)
    clean = scored & labelled["clean"].to_numpy()[at]
    return [roc_auc(detector[scored & labelled[k].to_numpy()[at]], detector[clean]) for k in KINDS]


def curve(pool: SplitWindows, labelled: pd.DataFrame, summaries: dict[str, np.ndarray], sizes: list[int], held_out: int,
          draws: int) -> pd.DataFrame:
    """One row per training size that every apparatus has routines for: the ridges' rho
    (Fisher-z mean over apparatus) and the detector's AUCs (mean over apparatus), each the
    mean over draws."""
    y, inputs = pool.routines["score"].to_numpy(np.float64), pool.detector_inputs()
    actions = list(pool.routines.groupby("action", sort=True))
    rows = []
    for n in (n for n in sizes if all(len(part) >= held_out + n for _, part in actions)):
        for draw in range(draws):
            rhos, aucs = {name: [] for name in RIDGES}, []
            for a, (_, part) in enumerate(actions):
                train, held = split_draw(part, draw, a, n, held_out)
                for name in RIDGES:
                    rhos[name].append(ridge_rho(summaries[name], y, train, held))
                aucs.append(held_out_aucs(inputs, labelled, y, train, held))
            rows.append((n, draw, *(fisher_z_mean(rhos[name]) for name in RIDGES), *np.mean(aucs, axis=0)))
    table = pd.DataFrame(rows, columns=["n", "draw", *RIDGES, *KINDS])
    return table.groupby("n").mean().drop(columns="draw")


def pool_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of the benches that learn on pooled training routines and hold some out."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("data", type=Path)
    ap.add_argument("--more", type=Path, nargs="*", default=[], help="folders of extra training routines")
    ap.add_argument("--eval", type=int, default=150, help="held-out training routines per apparatus")
    ap.add_argument("--draws", type=int, default=3)
    return ap


def weight_arguments(description: str, unit: str) -> argparse.Namespace:
    """:func:`pool_parser`'s arguments with the counterfactual benches' ``--weights``
    (multiples of ``unit``, refused below 0) and ``--size``."""
    ap = pool_parser(description)
    ap.add_argument("--weights", type=float, nargs="+", default=[1, 2, 3, 5], help=f"multiples of {unit}")
    ap.add_argument("--size", type=int, default=300, help="training routines per apparatus")
    args = ap.parse_args()
    if min(args.weights) < 0:
        raise SystemExit(f"--weights are multiples of {unit}, 0 or more")
    return args


def main() -> int:
    ap = pool_parser("A learning curve of ridge probes and the fault detector on training routines.")
    ap.add_argument("--sizes", type=int, nargs="+", default=[75, 150, 300, 450], help="training routines per apparatus")
    args = ap.parse_args()
    try:
        pool, labelled, summaries = training_pool([args.data, *args.more])
    except DatasetError as exc:
        raise SystemExit(str(exc)) from None
    counts = pool.routines["action"].value_counts().sort_index()
    print(f"training routines per apparatus: {', '.join(f'{a} {c}' for a, c in counts.items())}; "
          f"held out {args.eval} each; shuffles: {args.draws}")
    table = curve(pool, labelled, summaries, args.sizes, args.eval, args.draws)
    if table.empty:
        raise SystemExit(f"no size fits: every apparatus needs --eval {args.eval} + n routines")
    table["gain"] = table[RIDGES[1]] - table[RIDGES[0]]
    print("\nper apparatus, means over draws (rho: Fisher-z mean over apparatus on held-out training routines;")
    print("AUC: the detector trained on the total score, held-out drop / loss-of-balance windows vs clean, mean over apparatus)")
    print(f"{'n':>5s} {'ridge F':>9s} {'ridge all':>10s} {'all - F':>8s} {'AUC drop':>9s} {'AUC LOB':>8s}")
    for n, r in table.iterrows():
        print(f"{n:5d} {r[RIDGES[0]]:9.3f} {r[RIDGES[1]]:10.3f} {r['gain']:+8.3f} {r['drop']:9.3f} {r['loss_of_balance']:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
