"""Can the faults judges punish be found in the features at all? A probe beside the
occlusion check (:mod:`pamfn.groundtruth`).

Every routine is cut into the occlusion scan's 4-segment windows; a window is described,
per modality, by the mean and standard deviation of its segment features, as a score
model sees them (not relative to the routine's: see the last paragraph). A logistic
regression (standardised inputs, C = 1, nothing tuned) learns on the TRAINING split's
windows to tell the windows holding a fault of one kind from clean windows, with the
labels of :func:`pamfn.groundtruth.label_windows`; it is scored once on the test split's
windows with the ROC AUC the occlusion check uses (fault kind against clean windows).

A high probe AUC beside a low one for the model's occlusion impacts says the evidence is
in the features and the score model does not use it; a low probe AUC says the features
do not carry it. The probe sees the events, which no score model does.

**A probe trained on routine numbers only** (:func:`fit_deduction_detector`) asks the
question in between: can a simple model learn *where* the faults are from one number
per routine, as a score model must? Per action, on the training split, it fits
``y_r = a + b . g_r - s * sum_w softplus(theta . x_w + c)``: the routine's mean features
``g_r`` for everything else, minus a deduction for every window its detector flags
(``x_w``: the window features above; inputs standardised, L2 penalty ``L2`` on ``b`` and
``theta``, ``STEPS`` full-batch Adam steps, seeded). Its detector ``theta . x_w`` ranks the
action's test windows with the same ROC AUC; the figure is the mean over actions (each
action's detector has its own scale). Targets (``SCORE_TARGETS``): the total score (what
PAMFN learns from), the execution panel score (where faults are deducted) and, as the
cleanest routine-level signal there is, the exact number of drops.

One fit's AUC strays far from 0.5 even when the target says nothing of the faults (the
direction it picks up is chance). So each figure comes with a **null**: the same fits
with the target shuffled among each action's training routines, ``NULL_SHUFFLES`` times
(mean and standard deviation of their AUCs). An AUC inside its null says the detector
did not learn where the faults are from that number at this data set's size; beside a
high AUC for the probe trained on events, that says the labels do not teach it.

Until 2026-12-07 the window features were taken relative to the routine's (minus its
mean and std). That hid the faults from the detector (trained on the number of drops,
drop windows of the test split: 0.416 relative against 0.672 absolute;
``docs/explanations.md``). The likely mechanism, not tested further: a drop then also
shifts every other window of its routine, and many slightly shifted windows carry the
count as well as the one that holds the drop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pamfn.errors import DatasetError
from pamfn.groundtruth import LOCAL_FAULTS, label_windows, read_events, roc_auc
from pamfn.metrics import fisher_z_mean, spearman_rho
from pamfn.occlusion import WINDOW
from pamfn.routine import RoutineFeatures

FEATURE_SETS = {"V": "V", "F": "F", "A": "A", "V+F+A": "VFA"}
"""Which modalities' window features each probe reads."""
SCORE_TARGETS = {"score": 1.0, "execution": 1.0, "n_drops": -1.0}
"""Routine-level numbers (``labels.csv`` columns) the detector probe learns from, when
present, with the sign that makes a fault lower them (a drop adds to the count)."""
SCORE_FEATURES = "V+F+A"
"""The window features the detector probe reads."""
L2, STEPS = 0.1, 500
"""The detector probe's penalty and optimiser steps (fixed, nothing tuned)."""
NULL_SHUFFLES = 5
"""Fits with shuffled targets behind each detector figure's null."""


def window_features(features: RoutineFeatures, window: int = WINDOW) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(starts, {m: (windows, 2 D)})``: each window's first segment and, per modality,
    the mean and std of its segment features."""
    starts = np.arange(0, features.T, window)
    out = {}
    for m, a in features.features.items():
        parts = [np.asarray(a, np.float64)[s : s + window] for s in starts]
        out[m] = np.stack([np.concatenate([p.mean(0), p.std(0)]) for p in parts])
    return starts, out


@dataclass
class SplitWindows:
    """Every window of a set of routines, with what the probes read."""

    table: pd.DataFrame
    """One row per window: ``routine_id, split, start_s, end_s``."""
    feats: dict[str, np.ndarray]
    """Per modality, ``(windows, 2 D)``: :func:`window_features`, stacked."""
    means: dict[str, np.ndarray]
    """Per modality, ``(routines, D)``: each routine's mean segment features, in ``routines`` order."""
    routines: pd.DataFrame
    """The labels rows of the routines, in order (index reset)."""

    @classmethod
    def concat(cls, parts: list[SplitWindows]) -> SplitWindows:
        """Several sets of routines as one (their routine ids must differ)."""
        return cls(pd.concat([p.table for p in parts], ignore_index=True),
                   {m: np.concatenate([p.feats[m] for p in parts]) for m in parts[0].feats},
                   {m: np.concatenate([p.means[m] for p in parts]) for m in parts[0].means},
                   pd.concat([p.routines for p in parts], ignore_index=True))

    def detector_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the detector probe reads (``SCORE_FEATURES``): the window features, the
        routines' mean features and each window's routine (its row in ``routines``)."""
        mods = FEATURE_SETS[SCORE_FEATURES]
        index = pd.Series(np.arange(len(self.routines)), index=self.routines["routine_id"].to_numpy())
        return (np.concatenate([self.feats[m] for m in mods], axis=1), np.concatenate([self.means[m] for m in mods], axis=1),
                index.loc[self.table["routine_id"]].to_numpy())


def with_features(root: str | os.PathLike[str], labels: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``labels`` whose features file is present under ``root`` (the training
    split is generated on demand)."""
    return labels[np.array([(Path(root) / rel).is_file() for rel in labels["features"]], bool)]


def split_windows(root: str | os.PathLike[str], labels: pd.DataFrame, progress: bool = True) -> SplitWindows:
    """Every window of the routines in ``labels`` (columns routine_id, split, features)."""
    rows, feats, means = [], {}, {}
    for r in tqdm(labels.itertuples(), total=len(labels), desc="windows", unit="routine", disable=not progress):
        f = RoutineFeatures.load(Path(root) / r.features)
        starts, per = window_features(f)
        seg = f.segment_seconds
        rows += [(r.routine_id, r.split, s * seg, min(s + WINDOW, f.T) * seg) for s in starts]
        for m, x in per.items():
            feats.setdefault(m, []).append(x)
            means.setdefault(m, []).append(np.asarray(f.features[m], np.float64).mean(0))
    table = pd.DataFrame(rows, columns=["routine_id", "split", "start_s", "end_s"])
    return SplitWindows(table, {m: np.concatenate(v) for m, v in feats.items()}, {m: np.stack(v) for m, v in means.items()},
                        labels.reset_index(drop=True))


def probe_auc(labelled: pd.DataFrame, feats: Mapping[str, np.ndarray], kinds: Iterable[str] = LOCAL_FAULTS,
              sets: Mapping[str, str] = FEATURE_SETS) -> pd.DataFrame:
    """Test AUC of a probe per fault kind and feature set, trained on the training windows.
    ``labelled``: :attr:`SplitWindows.table` labelled by ``label_windows``. Columns:
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


def fit_deduction_detector(windows: np.ndarray, owner: np.ndarray, routines: np.ndarray, target: np.ndarray,
                           train: np.ndarray, *, l2: float = L2, steps: int = STEPS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``y_r = a + b . g_r - s * sum_w softplus(theta . x_w + c)`` on the ``train``
    routines (module docstring). ``windows``: ``(W, P)`` window features; ``owner``: ``(W,)``
    index of each window's routine; ``routines``: ``(R, Q)`` routine features ``g_r``;
    ``target``: ``(R,)``; ``train``: ``(R,)`` bool. Returns each window's detector value
    ``theta . x_w`` (high: a deduction there) and each routine's fitted ``y``."""
    import torch

    def standardised(a: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((a - a[rows].mean(0)) / (a[rows].std(0) + 1e-6), dtype=torch.float32)

    x, g = standardised(windows, train[owner]), standardised(routines, train)
    y_mean, y_sd = target[train].mean(), target[train].std() + 1e-9
    y = torch.as_tensor((target - y_mean) / y_sd, dtype=torch.float32)
    own, fit = torch.as_tensor(np.array(owner), dtype=torch.long), torch.as_tensor(np.array(train))
    gen = torch.Generator().manual_seed(seed)
    theta = (0.01 * torch.randn(x.shape[1], generator=gen)).requires_grad_()
    b = torch.zeros(g.shape[1], requires_grad=True)
    a, c, s = (torch.tensor([v], requires_grad=True) for v in (0.0, -2.0, 0.0))
    optimiser = torch.optim.Adam([a, b, c, s, theta], lr=0.01)

    def predict() -> torch.Tensor:
        flagged = torch.nn.functional.softplus(x @ theta + c)
        deduction = torch.zeros(len(g)).index_add(0, own, flagged)
        return a + g @ b - torch.nn.functional.softplus(s) * deduction

    for _ in range(steps):
        optimiser.zero_grad()
        loss = ((predict()[fit] - y[fit]) ** 2).mean() + l2 * ((b**2).sum() + (theta**2).sum())
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return (x @ theta).numpy(), predict().numpy() * y_sd + y_mean


def fit_detector_on(windows: np.ndarray, owner: np.ndarray, routines: np.ndarray, rows: np.ndarray, target: np.ndarray,
                    train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_deduction_detector` (same first arguments) on the routines ``rows``
    (indices into ``routines`` and ``target``; ``train``: which of them it learns on) and
    their windows. Returns the windows' indices, their detector values and the routines'
    fitted ``y``."""
    at = np.flatnonzero(np.isin(owner, rows))
    local = pd.Series(np.arange(len(rows)), index=rows).loc[owner[at]].to_numpy()
    detector, fitted = fit_deduction_detector(windows[at], local, routines[rows], target[rows], train)
    return at, detector, fitted


def _detector_aucs(data: SplitWindows, labelled: pd.DataFrame, target: np.ndarray, kinds: tuple[str, ...],
                   shuffle: np.random.Generator | None = None) -> tuple[np.ndarray, list[float]]:
    """``(kinds,)`` mean over actions of the detector's test AUC per kind, and each fitted
    action's test rho with ``target``; with ``shuffle``, the target is first permuted among
    each action's training routines (one draw of the null). Actions without both training
    and test routines are left out."""
    x, g, owner = data.detector_inputs()
    test = (labelled["split"] == "test").to_numpy()
    clean = test & labelled["clean"].to_numpy()
    aucs, rhos = [], []
    for _, part in data.routines.groupby("action", sort=False):
        mine, train = part.index.to_numpy(), (part["split"] == "train").to_numpy()
        if train.sum() < 2 or train.all():
            continue
        y = target.copy()
        if shuffle is not None:
            y[mine[train]] = shuffle.permutation(y[mine[train]])
        at, detector, fitted = fit_detector_on(x, owner, g, mine, y, train)
        aucs.append([roc_auc(detector[(test & labelled[k].to_numpy())[at]], detector[clean[at]]) for k in kinds])
        rhos.append(spearman_rho(fitted[~train], y[mine][~train]))
    return (np.nanmean(np.array(aucs), axis=0) if aucs else np.full(len(kinds), np.nan)), rhos


def score_probe_auc(data: SplitWindows, labelled: pd.DataFrame, kinds: Iterable[str] = LOCAL_FAULTS,
                    targets: Mapping[str, float] = SCORE_TARGETS, shuffles: int = NULL_SHUFFLES) -> pd.DataFrame:
    """Test AUC of the detector probe per fault kind and target present in
    ``data.routines`` (``SCORE_TARGETS``'s sign applied, so that a fault lowers it): the
    mean over actions, with its null (module docstring). ``labelled``: ``data.table``
    labelled by ``label_windows``. Columns: kind, trained_on, test_windows, clean, auc,
    null_mean, null_sd, rho (Fisher-z mean over actions of the fit's Spearman rho with its
    target on the test split)."""
    kinds = tuple(kinds)
    test = (labelled["split"] == "test").to_numpy()
    rows = []
    for n, (target, sign) in enumerate((t, v) for t, v in targets.items() if t in data.routines.columns):
        y = sign * data.routines[target].to_numpy(np.float64)
        auc, rhos = _detector_aucs(data, labelled, y, kinds)
        rng = np.random.default_rng(n)
        null = np.array([_detector_aucs(data, labelled, y, kinds, rng)[0] for _ in range(shuffles)]).reshape(shuffles, len(kinds))
        for i, kind in enumerate(kinds):
            rows.append((kind, target, int((test & labelled[kind].to_numpy()).sum()), int((test & labelled["clean"].to_numpy()).sum()),
                         auc[i], null[:, i].mean() if shuffles else np.nan, null[:, i].std(ddof=1) if shuffles > 1 else np.nan,
                         fisher_z_mean(rhos) if rhos else np.nan))
    return pd.DataFrame(rows, columns=["kind", "trained_on", "test_windows", "clean", "auc", "null_mean", "null_sd", "rho"])


def dataset_probe(root: str | os.PathLike[str], progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The probe trained on events (:func:`probe_auc`) and the one trained on routine
    numbers (:func:`score_probe_auc`) on a data set folder with both splits' features and
    ``events.csv``; DatasetError when its training split has no features (it is generated
    on demand)."""
    from pamfn.data.dataset import read_labels

    root = Path(root)
    labels, _ = read_labels(root)
    have = with_features(root, labels)
    if not (have["split"] == "train").any():
        raise DatasetError(f"{root}: no training features for the fault probe; generate them first "
                           f"(pamfn synth {root} --split train)")
    data = split_windows(root, have, progress=progress)
    labelled = label_windows(data.table, read_events(root / "events.csv"))
    return probe_auc(labelled, data.feats), score_probe_auc(data, labelled)
