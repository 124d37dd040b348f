"""The sample benchmark's table as its protocol defines it (docs/sample-benchmark.md,
"Version 2 protocol"): per row and seed, Spearman's rho per apparatus on the test split
and their Fisher-z mean; per row, the mean over seeds; a 95% percentile bootstrap over
test routines (resampled within each apparatus, the same resamples for every row and
seed) of that seed-mean; and the target row (PAMFN) minus every other row, paired over
the same resamples.

    python bench/bench_sample_table.py --data sample_data \\
        --run PAMFN:0=runs/v2/s0/pamfn --run PAMFN:1=runs/v2/s1/pamfn --run F:0=... [--replicates 1000]

Each ``--run ROW:SEED=CHECKPOINT`` is a checkpoint set scored with ``pamfn evaluate``'s code
(every test routine on all its segments).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.data import load_dataset
from pamfn.evaluate import evaluate_checkpoints
from pamfn.intervals import spearman_rows


def fisher_mean(values: np.ndarray, axis: int) -> np.ndarray:
    return np.tanh(np.arctanh(np.clip(values, -1 + 1e-7, 1 - 1e-7)).mean(axis=axis))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "sample_data")
    p.add_argument("--run", action="append", required=True, help="ROW:SEED=CHECKPOINT (repeatable)")
    p.add_argument("--replicates", type=int, default=1000)
    p.add_argument("--target", default="PAMFN", help="the row compared with every other (default PAMFN)")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.data)
    runs: dict[str, dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]] = defaultdict(dict)
    for spec in args.run:
        key, _, path = spec.partition("=")
        row, _, seed = key.partition(":")
        result = evaluate_checkpoints(data, path, split="test")
        runs[row][int(seed)] = {a: (r.predicted, r.judged) for a, r in result.actions.items()}
    rng = np.random.default_rng(0)
    first = next(iter(next(iter(runs.values())).values()))
    actions = sorted(first)
    draws = {a: rng.integers(0, len(first[a][1]), size=(args.replicates, len(first[a][1]))) for a in actions}
    print(f"| row | seeds | {' | '.join(actions)} | Avg. per seed | mean over seeds [95% CI] |")
    print("|---" * (len(actions) + 4) + "|")
    means: dict[str, float] = {}
    boots: dict[str, np.ndarray] = {}
    for row, seeds in runs.items():
        per_seed, boot = [], []
        cells = {a: [] for a in actions}
        for seed in sorted(seeds):
            rhos, reps = [], []
            for a in actions:
                pred, judged = seeds[seed][a]
                rho = float(spearman_rows(pred[None], judged[None])[0])
                rhos.append(rho)
                cells[a].append(rho)
                reps.append(spearman_rows(pred[draws[a]], judged[draws[a]]))
            per_seed.append(float(fisher_mean(np.array(rhos), 0)))
            boot.append(fisher_mean(np.stack(reps), 0))
        mean = float(np.mean(per_seed))
        means[row], boots[row] = mean, np.mean(np.stack(boot), 0)
        lo, hi = np.nanpercentile(boots[row], [2.5, 97.5])
        cols = " | ".join(f"{np.mean(cells[a]):.3f}" for a in actions)
        print(f"| {row} | {','.join(map(str, sorted(seeds)))} | {cols} | {', '.join(f'{v:.3f}' for v in per_seed)} "
              f"| **{mean:.3f}** [{lo:.3f}, {hi:.3f}] |")
    if args.target in means:
        print(f"\n{args.target} minus each other row (mean over seeds; paired bootstrap, the same resamples):")
        for row in means:
            if row != args.target:
                lo, hi = np.nanpercentile(boots[args.target] - boots[row], [2.5, 97.5])
                print(f"- {row}: {means[args.target] - means[row]:+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()
