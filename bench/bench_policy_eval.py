"""Does the PolicyNet's evaluation mode matter? Spearman's rho on each run's VALIDATION
routines (the run's seed and 15% split) of PAMFN checkpoints scored with the argmax
policy, with one Gumbel-sampled policy, and with the mean over ``--draws`` sampled
policies. The test split is never read.

    python bench/bench_policy_eval.py --data DATA --run 0=runs/a2/s0/pamfn [--run 1=...] [--draws 32]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.checkpoint import load_checkpoint
from pamfn.data import SplitTensors, load_dataset, validation_split
from pamfn.serving.scorer import run_model

MODES = ("argmax", "one sample", "sampled mean")


def validation_scores(model, split: SplitTensors, draws: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {m: [] for m in MODES}
    for i in range(len(split)):
        x = split.routine(i)
        generator = torch.Generator().manual_seed(i)
        sampled = [float(run_model(model, x, "sample", generator).score) for _ in range(draws)]
        out["argmax"].append(float(run_model(model, x, "argmax").score))
        out["one sample"].append(sampled[0])
        out["sampled mean"].append(float(np.mean(sampled)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", action="append", required=True, help="SEED=RUN (a phase-2 run folder of --action all)")
    ap.add_argument("--draws", type=int, default=32)
    ap.add_argument("--val-fraction", type=float, default=0.15)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.data)
    for spec in args.run:
        seed, run = spec.split("=", 1)
        rhos: dict[str, list[float]] = {m: [] for m in MODES}
        for action in data.actions:
            model = load_checkpoint(Path(run) / action / "checkpoint").model
            _, val = validation_split(data.select(action, "train"), args.val_fraction, int(seed))
            split = SplitTensors(data, val, modalities=model.config.modalities)
            for mode, pred in validation_scores(model, split, args.draws).items():
                rhos[mode].append(float(spearmanr(pred, split.scores)[0]))
        for mode, values in rhos.items():
            fz = math.tanh(float(np.mean([math.atanh(r) for r in values])))
            cells = " ".join(f"{a} {r:.3f}" for a, r in zip(data.actions, values))
            print(f"seed {seed} {mode:12s} {cells}  Fisher-z {fz:.3f}", flush=True)


if __name__ == "__main__":
    main()
