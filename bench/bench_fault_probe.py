"""Can the faults judges punish be found in the lite features at all? A probe for the
occlusion check of ``bench/bench_explanations.py``.

Every routine is cut into the scan's 4-segment windows; each window is described by the
mean and standard deviation of its segment features, each minus the same statistics of
the whole routine (what is particular to the window), per modality. A logistic
regression (standardised inputs, C = 1, no tuning) learns, on the TRAINING split's
windows, to tell the windows holding a fault of one kind from clean windows (the labels
of ``pamfn.groundtruth.label_windows``, from ``events.csv``). It is scored once on the
test split's windows with the same ROC AUC the occlusion check uses (fault kind against
clean windows). A high AUC here and a low one for the model's occlusion impacts means
the evidence is in the features and the score model does not use it; a low one here
means the features do not carry it.

    python bench/bench_fault_probe.py --data DIR       # DIR holds both splits (pamfn synth DIR --split train)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.data.dataset import read_labels
from pamfn.groundtruth import LOCAL_FAULTS, label_windows, read_events, roc_auc
from pamfn.routine import RoutineFeatures

WINDOW = 4
SETS = {"V": "V", "F": "F", "A": "A", "V+F+A": "VFA"}


def window_table(data: Path, labels: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per window (routine_id, split, start_s, end_s) and, per modality, its
    features: window mean and std minus the routine's."""
    rows, feats = [], {m: [] for m in "VFA"}
    for r in tqdm(labels.itertuples(), total=len(labels), desc="windows", unit="routine"):
        f = RoutineFeatures.load(data / r.features)
        for start in range(0, f.T, WINDOW):
            rows.append((r.routine_id, r.split, start * f.segment_seconds, min(start + WINDOW, f.T) * f.segment_seconds))
            for m in "VFA":
                a = f.features[m]
                part = a[start : start + WINDOW]
                feats[m].append(np.concatenate([part.mean(0) - a.mean(0), part.std(0) - a.std(0)]))
    return pd.DataFrame(rows, columns=["routine_id", "split", "start_s", "end_s"]), {m: np.asarray(v) for m, v in feats.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a data set with both splits' features and events.csv")
    args = ap.parse_args()
    labels, _ = read_labels(args.data)
    have = labels["features"].map(lambda p: (args.data / p).is_file())
    if not have[labels["split"] == "train"].any():
        raise SystemExit(f"{args.data}: no training features; generate them first (pamfn synth {args.data} --split train)")
    windows, feats = window_table(args.data, labels[have])
    labelled = label_windows(windows, read_events(args.data / "events.csv"))
    train, test = (labelled["split"] == "train").to_numpy(), (labelled["split"] == "test").to_numpy()
    print(f"windows: {train.sum()} training, {test.sum()} test; clean test windows {int(labelled.loc[test, 'clean'].sum())}")
    print(f"{'kind':16s} " + " ".join(f"{name:>7s}" for name in SETS) + "   (test ROC AUC, kind vs clean windows)")
    for kind in LOCAL_FAULTS:
        cells = []
        for mods in SETS.values():
            x = np.concatenate([feats[m] for m in mods], axis=1)
            fit_rows = train & (labelled[kind] | labelled["clean"]).to_numpy()
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
            probe.fit(x[fit_rows], labelled.loc[fit_rows, kind].to_numpy())
            p = probe.decision_function(x[test])
            pos, neg = labelled.loc[test, kind].to_numpy(), labelled.loc[test, "clean"].to_numpy()
            cells.append(roc_auc(p[pos], p[neg]))
        print(f"{kind:16s} " + " ".join(f"{c:7.3f}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
