"""Sanity analysis of a generated set, on its TRAINING split only.

Prints the correlation of each sub-score with the total, and how well simple statistics
of each modality rank the routines: a ridge regression on the per-routine mean and std
of the segment features, scored by Spearman's rho of out-of-fold predictions (5 folds
of the training split; the test split is never read).

    python bench/bench_synth.py [sample_data]

It then prints the headroom of fusion: the same ridge on the flow summaries with one
ORACLE column added (a true sub-score from labels.csv, never a model input), or a
stand-in musicality estimate whose correlation with the truth is r (the truth plus
independent noise). It says how good a musicality estimate must be for a model that
reads the flow as well as the F probe to gain a given amount.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.metrics import fisher_z_mean
from pamfn.routine import RoutineFeatures
from pamfn.synth.dataset import read_labels

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
SETS = {
    "V": "V", "F": "F", "A": "A", "V+F": "VF", "V+F+A": "VFA", "V+F+A+cross": "VFA+",
    "V+F+A+cross+local": "VFA+*", "cross+local": "+*",
}
"""Modalities' mean+std summaries; ``+`` adds the routine-level cross-modal statistics,
``*`` the per-segment (local) musicality statistics."""
F_PROFILE = slice(38, 70)
"""Motion-energy profile at 40 ms, 32 steps per segment (lite F layout, version 2)."""
A_ONSET, A_BEATS, A_RMS = slice(68, 100), slice(100, 132), 144
"""Onset-strength profile and beat phase at the same 40-ms steps, mean RMS level (lite A layout, version 2)."""


def _cross(feats: RoutineFeatures) -> np.ndarray:
    """Looking and listening together: do movement accents line up with onsets and beats
    inside segments, and does motion energy follow loudness across segments?"""
    f, a = feats.features["F"], feats.features["A"]
    motion = f[:, F_PROFILE] - f[:, F_PROFILE].mean(1, keepdims=True)
    out = []
    for prof in (a[:, A_ONSET], a[:, A_BEATS]):
        prof = prof - prof.mean(1, keepdims=True)
        norm = np.linalg.norm(motion, axis=1) * np.linalg.norm(prof, axis=1) + 1e-6
        out.append(float(np.mean((motion * prof).sum(1) / norm)))
    energy, loud = f[:, 0], a[:, A_RMS]
    ok = energy.std() > 1e-9 and loud.std() > 1e-9
    out.append(float(np.corrcoef(energy, loud)[0, 1]) if ok else 0.0)
    return np.array(out)


def _accent_phase(motion: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Per segment, the beat phase (cos, 1 on a beat) where movement accents fall: at
    the 40-ms steps where motion energy exceeds its segment's median, weighted by the excess."""
    w = np.clip(motion - np.median(motion, axis=1, keepdims=True), 0.0, None)
    return (w * beats).sum(1) / (w.sum(1) + 1e-9)


def _local(feats: RoutineFeatures) -> np.ndarray:
    """Musicality judged locally, as version 2 judges it: do accents fall on the beat
    segment by segment, and does each segment's movement energy match the music's in
    absolute terms (the moments whose linear combinations give the mean squared mismatch)?"""
    f, a = feats.features["F"], feats.features["A"]
    beats = a[:, A_BEATS]
    with_beats = np.abs(beats).sum(1) > 0
    phase = _accent_phase(f[:, F_PROFILE], beats)[with_beats] if with_beats.any() else np.zeros(1)
    energy, loud = f[:, 0], a[:, A_RMS]
    moments = [energy.mean(), loud.mean(), (energy**2).mean(), (loud**2).mean(), (energy * loud).mean()]
    return np.array([*moments, phase.mean(), phase.std(), (phase > 0.5).mean(), with_beats.mean()])


def routine_summary(feats: RoutineFeatures, modalities: str) -> np.ndarray:
    """Per-routine mean and std of each named modality's segment features, with the
    cross-modal (``+``) and local musicality (``*``) statistics when named (``SETS``)."""
    parts = [np.r_[feats.features[m].mean(0), feats.features[m].std(0)] for m in modalities if m not in "+*"]
    if "+" in modalities:
        parts.append(_cross(feats))
    if "*" in modalities:
        parts.append(_local(feats))
    return np.concatenate(parts)


def _ridge_oof(X: np.ndarray, y: np.ndarray, alpha: float, folds: np.ndarray) -> np.ndarray:
    pred = np.empty_like(y)
    for k in np.unique(folds):
        tr, te = folds != k, folds == k
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
        A, b = (X[tr] - mu) / sd, y[tr] - y[tr].mean()
        w = np.linalg.solve(A.T @ A + alpha * np.eye(A.shape[1]), A.T @ b)
        pred[te] = ((X[te] - mu) / sd) @ w + y[tr].mean()
    return pred


def _best_ridge(X: np.ndarray, y: np.ndarray, folds: np.ndarray) -> tuple[float, float]:
    """The out-of-fold Spearman rho of the best ridge penalty in ``ALPHAS``, and that penalty."""
    return max((spearmanr(_ridge_oof(X, y, a, folds), y)[0], a) for a in ALPHAS)


def main(data_dir: str = "sample_data") -> None:
    data = Path(data_dir)
    rows = [r for r in read_labels(data) if r["split"] == "train" and (data / r["features"]).is_file()]
    if not rows:
        raise SystemExit(f"{data}: no training routine with its features (the bundled set carries its test split "
                         f"only: python -m pamfn synth {data} --split train makes it)")
    y = np.array([float(r["score"]) for r in rows])
    subs = {k: np.array([float(r[k]) for r in rows]) for k in ("difficulty", "execution", "musicality")}
    print(
        f"training routines: {len(rows)}; score mean {y.mean():.2f} sd {y.std():.2f} range {y.min():.2f}-{y.max():.2f}"
    )
    for k, v in subs.items():
        print(f"  {k:11s} mean {v.mean():.2f} sd {v.std():.2f}  Spearman with total {spearmanr(v, y)[0]:.3f}")
    feats = [RoutineFeatures.load(data / r["features"]) for r in rows]
    folds = np.random.default_rng(0).permutation(len(rows)) % 5
    print("\nridge on per-routine mean+std of segment features, 5-fold out-of-fold Spearman (train split)")
    print(f"{'modalities':18s} {'total':>7s} {'D':>7s} {'E':>7s} {'M':>7s}  alpha")
    for name, mods in SETS.items():
        X = np.stack([routine_summary(f, mods) for f in feats])
        total, best = _best_ridge(X, y, folds)
        cells = [total]
        cells += [spearmanr(_ridge_oof(X, v, best, folds), v)[0] for v in subs.values()]
        print(f"{name:18s} " + " ".join(f"{c:7.3f}" for c in cells) + f"  {best:g}")
    _per_apparatus(feats, y, np.array([r["action"] for r in rows]))
    _headroom(np.stack([routine_summary(f, "F") for f in feats]), y, subs, folds)


def _per_apparatus(feats: list[RoutineFeatures], y: np.ndarray, action: np.ndarray) -> None:
    """The same probes with one model per apparatus, as the protocol trains (Fisher-z mean)."""
    print("\nper apparatus (one ridge each, 5-fold out-of-fold Spearman of the total, Fisher-z mean)")
    for name in ("V", "F", "A", "V+F", "V+F+A+cross+local"):
        X = np.stack([routine_summary(f, SETS[name]) for f in feats])
        rhos = []
        for a in sorted(set(action)):
            Xa, ya = X[action == a], y[action == a]
            rhos.append(_best_ridge(Xa, ya, np.random.default_rng(0).permutation(len(ya)) % 5)[0])
        print(f"  {name:18s} {fisher_z_mean(rhos):7.3f}  ({', '.join(f'{r:.3f}' for r in rhos)})")


def _headroom(flow: np.ndarray, y: np.ndarray, subs: dict[str, np.ndarray], folds: np.ndarray) -> None:
    """F summaries plus an oracle column: how far fusion could lift the flow probe."""
    m = subs["musicality"]
    z = (m - m.mean()) / m.std()
    noise = np.random.default_rng(1).standard_normal(len(z))
    extra = {"(none)": None, "true M": m, "true D": subs["difficulty"], "true E": subs["execution"]}
    extra |= {f"M estimate, r={r}": r * z + np.sqrt(1 - r * r) * noise for r in (0.4, 0.6, 0.8)}
    print("\nheadroom: ridge on F summaries + one ORACLE column, 5-fold out-of-fold Spearman of the total (train split)")
    for name, column in extra.items():
        X = flow if column is None else np.c_[flow, column]
        rho, best = _best_ridge(X, y, folds)
        print(f"  F + {name:18s} {rho:7.3f}  alpha {best:g}")


if __name__ == "__main__":
    main(*sys.argv[1:])
