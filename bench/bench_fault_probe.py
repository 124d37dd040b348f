"""Can the faults judges punish be found in the lite features at all? A probe for the
occlusion check of ``bench/bench_explanations.py`` (``pamfn.fault_probe``): a logistic
regression on each 4-segment window's features, trained on the TRAINING split's windows
with the events as labels, scored once on the test split's windows (ROC AUC of a fault
kind against clean windows, as the occlusion check scores impacts). Then the probe
trained on routine numbers only (the score, the execution score, the number of drops):
can a fault's place be learnt from one number per routine, as a score model must?

    python bench/bench_fault_probe.py --data DIR       # DIR holds both splits (pamfn synth DIR --split train)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.errors import DatasetError
from pamfn.fault_probe import FEATURE_SETS, SCORE_FEATURES, dataset_probe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a data set with both splits' features and events.csv")
    args = ap.parse_args()
    try:
        table, scores = dataset_probe(args.data)
    except DatasetError as exc:
        raise SystemExit(str(exc)) from None
    wide = table.pivot(index="kind", columns="features", values="auc")[list(FEATURE_SETS)]
    counts = table.drop_duplicates("kind").set_index("kind")
    print(f"{'kind':16s} " + " ".join(f"{name:>7s}" for name in FEATURE_SETS) + "   (test ROC AUC, kind vs clean windows)")
    for kind, row in wide.iterrows():
        c = counts.loc[kind]
        print(f"{kind:16s} " + " ".join(f"{v:7.3f}" for v in row) +
              f"   ({c.train_windows} training windows; {c.test_windows} test vs {c.clean} clean)")
    print(f"\nthe {SCORE_FEATURES} detector trained on one number per routine: test ROC AUC, mean over apparatus "
          f"[its null: mean ± sd over fits with shuffled targets]; rho: how well it fits that number")
    for target, part in scores.groupby("trained_on", sort=False):
        cells = "  ".join(f"{r.kind} {r.auc:.3f} [{r.null_mean:.3f} ± {r.null_sd:.3f}]" for r in part.itertuples())
        print(f"{target:10s} {cells}  rho {part['rho'].iloc[0]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
