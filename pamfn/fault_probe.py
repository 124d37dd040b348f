"""Can the faults judges punish be found in the features at all? A probe beside the
occlusion check (:mod:`pamfn.groundtruth`).

Every routine is cut into the occlusion scan's 4-segment windows; a window is described,
per modality, by the mean and standard deviation of its segment features, each minus the
same statistic of the whole routine (what is particular to the window). A logistic
regression (standardised inputs, C = 1, nothing tuned) learns on the TRAINING split's
windows to tell the windows holding a fault of one kind from clean windows, with the
labels of :func:`pamfn.groundtruth.label_windows`; it is scored once on the test split's
windows with the ROC AUC the occlusion check uses (fault kind against clean windows).

A high probe AUC beside a low one for the model's occlusion impacts says the evidence is
in the features and the score model does not use it; a low probe AUC says the features
do not carry it. The probe sees the events, which no score model does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pamfn.errors import DatasetError
from pamfn.groundtruth import LOCAL_FAULTS, label_windows, read_events, roc_auc
from pamfn.occlusion import WINDOW
from pamfn.routine import RoutineFeatures

FEATURE_SETS = {"V": "V", "F": "F", "A": "A", "V+F+A": "VFA"}
"""Which modalities' window features each probe reads."""


def window_features(features: RoutineFeatures, window: int = WINDOW) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(starts, {m: (windows, 2 D)})``: each window's first segment and, per modality,
    its mean and std minus the routine's."""
    starts = np.arange(0, features.T, window)
    out = {}
    for m, a in features.features.items():
        a = np.asarray(a, np.float64)
        parts = [a[s : s + window] for s in starts]
        out[m] = np.stack([np.concatenate([p.mean(0) - a.mean(0), p.std(0) - a.std(0)]) for p in parts])
    return starts, out


def split_windows(root: str | os.PathLike[str], labels: pd.DataFrame, progress: bool = True) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every window of the routines in ``labels`` (columns routine_id, split, features):
    a table ``routine_id, split, start_s, end_s`` and the stacked window features."""
    rows, feats = [], {}
    for r in tqdm(labels.itertuples(), total=len(labels), desc="windows", unit="routine", disable=not progress):
        f = RoutineFeatures.load(Path(root) / r.features)
        starts, per = window_features(f)
        seg = f.segment_seconds
        rows += [(r.routine_id, r.split, s * seg, min(s + WINDOW, f.T) * seg) for s in starts]
        for m, x in per.items():
            feats.setdefault(m, []).append(x)
    table = pd.DataFrame(rows, columns=["routine_id", "split", "start_s", "end_s"])
    return table, {m: np.concatenate(v) for m, v in feats.items()}


def probe_auc(labelled: pd.DataFrame, feats: Mapping[str, np.ndarray], kinds: Iterable[str] = LOCAL_FAULTS,
              sets: Mapping[str, str] = FEATURE_SETS) -> pd.DataFrame:
    """Test AUC of a probe per fault kind and feature set, trained on the training windows.
    ``labelled``: :func:`split_windows`'s table labelled by ``label_windows``. Columns:
    kind, features, train_windows (the kind's, for fitting), test_windows, clean, auc."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = (labelled["split"] == "train").to_numpy(), (labelled["split"] == "test").to_numpy()
    clean = labelled["clean"].to_numpy()
    rows = []
    for kind in kinds:
        has = labelled[kind].to_numpy()
        fit_rows = train & (has | clean)
        for name, mods in sets.items():
            x = np.concatenate([feats[m] for m in mods], axis=1)
            auc = float("nan")
            if has[fit_rows].any() and (~has[fit_rows]).any():
                probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
                probe.fit(x[fit_rows], has[fit_rows])
                p = probe.decision_function(x[test])
                auc = roc_auc(p[has[test]], p[clean[test]])
            rows.append((kind, name, int((train & has).sum()), int((test & has).sum()), int((test & clean).sum()), auc))
    return pd.DataFrame(rows, columns=["kind", "features", "train_windows", "test_windows", "clean", "auc"])


def dataset_probe(root: str | os.PathLike[str], progress: bool = True) -> pd.DataFrame:
    """:func:`probe_auc` on a data set folder with both splits' features and ``events.csv``;
    DatasetError when its training split has no features (it is generated on demand)."""
    from pamfn.data.dataset import read_labels

    root = Path(root)
    labels, _ = read_labels(root)
    have = labels[labels["features"].map(lambda p: (root / p).is_file())]
    if not (have["split"] == "train").any():
        raise DatasetError(f"{root}: no training features for the fault probe; generate them first "
                           f"(pamfn synth {root} --split train)")
    windows, feats = split_windows(root, have, progress=progress)
    return probe_auc(label_windows(windows, read_events(root / "events.csv")), feats)
