"""The detector probe trained on one number per routine (pamfn.fault_probe): it finds
windows that cost points when the routine-level number follows them, and stays inside
its shuffled-target null when the number does not."""

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
    assert roc_auc(detector[test & fault], detector[test & ~fault]) > 0.95
    assert np.corrcoef(fitted[~train], score[~train])[0, 1] > 0.8


def probe_table(seed: int, deduction: float) -> pd.DataFrame:
    """score_probe_auc on planted routines of two actions whose score loses ``deduction`` per fault."""
    rng, x, fault, owner, g, count, train = planted(seed)
    rid = np.array([f"r{i}" for i in range(ROUTINES)])
    routines = pd.DataFrame({"routine_id": rid, "action": np.where(np.arange(ROUTINES) % 2, "ball", "hoop"),
                             "split": np.where(train, "train", "test"),
                             "score": 10 + g @ np.array([1.0, -0.5, 0.3, 0.0]) - deduction * count + 0.3 * rng.normal(size=ROUTINES),
                             "n_drops": count})
    table = pd.DataFrame({"routine_id": rid[owner], "split": routines["split"].to_numpy()[owner],
                          "start_s": np.tile(np.arange(WINDOWS) * 5.12, ROUTINES)})
    table["end_s"] = table["start_s"] + 5.12
    events = table.loc[fault, ["routine_id", "start_s", "end_s"]].assign(kind="drop", detail="")
    events["start_s"] += 1.0
    events["end_s"] = events["start_s"] + 1.0
    data = SplitWindows(table, {m: x[:, i::3] for i, m in enumerate("VFA")}, {m: g for m in "VFA"}, routines)
    result = score_probe_auc(data, label_windows(table, events), kinds=("drop",)).set_index("trained_on")
    assert list(result.index) == ["score", "n_drops"]  # execution is not a column here
    assert (result["test_windows"] == (fault & ~train[owner]).sum()).all()
    return result


def test_planted_deductions_stand_far_above_the_null():
    result = probe_table(2, deduction=1.0)
    assert (result["auc"] > 0.95).all() and (result["rho"] > 0.6).all(), result
    assert (result["auc"] > result["null_mean"] + 3 * result["null_sd"]).all(), result


def test_a_score_that_ignores_the_faults_stays_inside_the_null():
    """The fault feature carries the most variance, so single fits stray both ways: the
    null's spread is wide and the unrelated score's AUC lies within it."""
    score = probe_table(3, deduction=0.0).loc["score"]
    assert score["null_sd"] > 0.02
    assert abs(score["auc"] - score["null_mean"]) < 3 * score["null_sd"], score
