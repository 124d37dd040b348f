"""The detector probe trained on one number per routine (pamfn.fault_probe): it finds
windows that cost points when the routine-level number follows them, and nothing when
the number does not."""

import numpy as np
import pandas as pd

from pamfn.fault_probe import SplitWindows, fit_deduction_detector, score_probe_auc
from pamfn.groundtruth import label_windows, roc_auc

ROUTINES, WINDOWS, DIMS = 300, 12, 10


def planted(seed: int = 0):
    """Windows with a fault (10%) carry +3 in feature 0; the routine features ``g`` carry the rest of the score."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROUTINES * WINDOWS, DIMS))
    fault = rng.random(ROUTINES * WINDOWS) < 0.1
    x[fault, 0] += 3.0
    owner = np.repeat(np.arange(ROUTINES), WINDOWS)
    g = rng.normal(size=(ROUTINES, 4))
    count = np.bincount(owner, weights=fault, minlength=ROUTINES)
    train = np.arange(ROUTINES) < 200
    return rng, x, fault, owner, g, count, train


def test_the_detector_finds_windows_the_score_deducts():
    rng, x, fault, owner, g, count, train = planted()
    score = 10 + g @ np.array([1.0, -0.5, 0.3, 0.0]) - 1.0 * count + 0.3 * rng.normal(size=ROUTINES)
    detector, fitted = fit_deduction_detector(x, owner, g, score, train)
    test = ~train[owner]
    assert roc_auc(detector[test & fault], detector[test & ~fault]) > 0.9
    assert np.corrcoef(fitted[~train], score[~train])[0, 1] > 0.8


def test_the_detector_finds_nothing_when_the_score_ignores_the_faults():
    """With nothing to learn the detector's direction is chance (the fault feature has the
    most variance, so single fits stray both ways): never near the planted case's AUC,
    centred on 0.5 over fits."""
    aucs = []
    for seed in range(4):
        rng, x, fault, owner, g, _, train = planted(seed)
        score = 10 + g @ np.array([1.0, -0.5, 0.3, 0.0]) + 0.3 * rng.normal(size=ROUTINES)
        detector, _ = fit_deduction_detector(x, owner, g, score, train)
        test = ~train[owner]
        aucs.append(roc_auc(detector[test & fault], detector[test & ~fault]))
    assert max(aucs) < 0.85 and abs(np.mean(aucs) - 0.5) < 0.15, aucs


def test_score_probe_auc_learns_per_action_from_the_targets_present():
    rng, x, fault, owner, g, count, train = planted(2)
    rid = np.array([f"r{i}" for i in range(ROUTINES)])
    routines = pd.DataFrame({"routine_id": rid, "action": np.where(np.arange(ROUTINES) % 2, "ball", "hoop"),
                             "split": np.where(train, "train", "test"), "score": 10 - 1.0 * count + 0.2 * rng.normal(size=ROUTINES),
                             "n_drops": count})
    table = pd.DataFrame({"routine_id": rid[owner], "split": routines["split"].to_numpy()[owner],
                          "start_s": np.tile(np.arange(WINDOWS) * 5.12, ROUTINES)})
    table["end_s"] = table["start_s"] + 5.12
    events = table.loc[fault, ["routine_id", "start_s", "end_s"]].assign(kind="drop", detail="")
    events["start_s"] += 1.0
    events["end_s"] = events["start_s"] + 1.0
    data = SplitWindows(table, {m: x[:, i::3] for i, m in enumerate("VFA")}, {m: g for m in "VFA"}, routines)
    result = score_probe_auc(data, label_windows(table, events), kinds=("drop",))
    assert list(result["trained_on"]) == ["score", "n_drops"]  # execution is not a column here
    assert (result["test_windows"] == (fault & ~train[owner]).sum()).all()
    assert (result["auc"] > 0.9).all() and (result["rho"] > 0.6).all(), result
